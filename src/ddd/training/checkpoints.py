"""Per-epoch checkpoints of a training run: written atomically with a checksum, verified before
they are loaded, the newest valid one resumed, the older ones rotated out, all removed once the
run's outputs are written; the folder locked by the one process that trains into it.

A checkpoint ``epoch_NNNN.pt`` holds ``epoch``, ``model``, ``optimizer`` (state dicts), the
``predictions`` of epochs 0..epoch, their decision ``margins`` (float16; absent from checkpoints
written before margins were kept, which are still resumed from, those epochs' margins then NaN) and
the ``recipe`` (JSON, sorted keys); past the nominal final epoch E of a run with extra epochs also
``nominal_model``, the weights after epoch E.

Next to it, written (atomically) once the checkpoint is in place, ``epoch_NNNN.pt.json`` records
its size and SHA-256, its epoch and the SHA-256 of its recipe. A checkpoint is loaded only from
bytes whose size, zip CRCs (every record; torch checkpoints are zip archives) and SHA-256 match;
``torch.load`` itself checks none of them, so one changed byte of a tensor would otherwise be
trained on. On start (:func:`load_checkpoint`) every checkpoint that cannot be resumed from (of
another recipe, failing verification, without a checksum file) is moved to ``set_aside/`` with a
warning naming it and why, so that rotation, which counts by epoch number, never weighs a stale
file against the run's own; a run loses at most the epoch it was in.

The folder is locked (:func:`folder_lock`, ``flock`` on ``trainer.lock``, which names the
holder) for as long as a run trains into it: a second trainer, e.g. one started after an
orphaned job of a killed workflow, refuses with :class:`CheckpointFolderInUse` instead of
writing the same checkpoints. The kernel releases the lock when its process ends, SIGKILL
included.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import io
import json
import logging
import os
import re
import shutil
import socket
import time
import zipfile

import numpy as np
import torch

from ddd.experiment.recipes import identity
from ddd.results.files import replace_atomically

log = logging.getLogger(__name__)

LOCK_NAME = "trainer.lock"
SET_ASIDE = "set_aside"
_CHECKSUM = ".json"  # the checksum file of ``epoch_NNNN.pt`` is ``epoch_NNNN.pt.json``
_NAME = re.compile(r"epoch_(\d{4,})\.pt")


class CheckpointFolderInUse(RuntimeError):
    """Another process holds the lock of a checkpoint folder."""


def atomic_save(obj, path: str) -> None:
    """``torch.save`` to a temporary file, then rename: a killed job leaves no partial ``path``."""
    replace_atomically(path, lambda tmp: torch.save(obj, tmp))


def has_nominal(recipe: dict, epoch: int) -> bool:
    """Whether a checkpoint after ``epoch`` must carry the weights of the nominal final epoch E.

    Only runs with extra epochs have them apart from ``model``, and only once past E.
    """
    return recipe["extra_epochs"] > 0 and epoch > recipe["epochs"]


def _recipe_json(recipe: dict) -> str:
    """The recipe's identity (:func:`ddd.experiment.recipes.identity`: neutral keys left out), so a
    release that adds a key at its neutral value keeps the checkpoints of runs in progress."""
    return json.dumps(identity(recipe), sort_keys=True)


def _recipe_digest(recipe: dict) -> str:
    return hashlib.sha256(_recipe_json(recipe).encode()).hexdigest()


def _paths(checkpoint_dir: str) -> list[str]:
    """The checkpoints in the folder, by epoch."""
    paths = [p for p in glob.glob(os.path.join(checkpoint_dir, "epoch_*.pt")) if _NAME.fullmatch(os.path.basename(p))]
    return sorted(paths, key=_epoch_of)


def _epoch_of(path: str) -> int:
    return int(_NAME.fullmatch(os.path.basename(path)).group(1))


# ----------------------------------------------------------------------------------- verification

class _Foreign(Exception):
    """A checkpoint of another recipe."""


def _read_checksum(path: str) -> dict:
    """The checksum record of checkpoint ``path``; ValueError if it is missing or malformed."""
    side = path + _CHECKSUM
    try:
        with open(side, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise ValueError(f"its checksum file {os.path.basename(side)} is missing") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"its checksum file {os.path.basename(side)} is unreadable ({err})") from None
    ok = (isinstance(meta, dict) and meta.get("file") == os.path.basename(path)
          and all(isinstance(meta.get(k), int) and not isinstance(meta.get(k), bool) for k in ("epoch", "size"))
          and all(isinstance(meta.get(k), str) and re.fullmatch(r"[0-9a-f]{64}", meta[k])
                  for k in ("sha256", "recipe_sha256")))
    if not ok:
        raise ValueError(f"its checksum file {os.path.basename(side)} is malformed")
    return meta


def _verified_bytes(path: str, meta: dict) -> bytes:
    """The bytes of checkpoint ``path``, once their size, every zip record's CRC and their SHA-256
    match; ValueError naming what does not."""
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) != meta["size"]:
        raise ValueError(f"it has {len(data)} bytes, not the {meta['size']} written")
    try:
        bad = zipfile.ZipFile(io.BytesIO(data)).testzip()
    except Exception as err:  # BadZipFile, or whatever a damaged header makes zipfile raise
        raise ValueError(f"it is not a readable zip archive ({type(err).__name__}: {err})") from None
    if bad is not None:
        raise ValueError(f"its record {bad!r} fails its zip CRC")
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise ValueError("its SHA-256 differs from the one recorded when it was written")
    return data


_KEYS = {"epoch", "model", "optimizer", "predictions", "recipe"}


def _check_keys(ckpt) -> None:
    if not isinstance(ckpt, dict) or not _KEYS <= set(ckpt):
        raise ValueError(f"missing keys {sorted(_KEYS - set(ckpt if isinstance(ckpt, dict) else ()))}")


def _check_epochs(ckpt: dict, recipe: dict) -> None:
    """Raise ValueError unless the predictions and (past E) the weights of E fit the epoch."""
    if len(ckpt["predictions"]) != ckpt["epoch"] + 1:
        raise ValueError("predictions do not match the epoch")
    margins = ckpt.get("margins")
    if margins is not None and np.shape(margins) != np.shape(ckpt["predictions"]):
        raise ValueError(f"margins of shape {np.shape(margins)} do not match the predictions' "
                         f"{np.shape(ckpt['predictions'])}")
    if has_nominal(recipe, ckpt["epoch"]):
        nominal = ckpt.get("nominal_model")
        if not isinstance(nominal, dict):
            raise ValueError(f"no weights of the nominal final epoch {recipe['epochs']}")
        shapes = {k: tuple(v.shape) for k, v in ckpt["model"].items()}
        if {k: tuple(getattr(v, "shape", ())) for k, v in nominal.items()} != shapes:
            raise ValueError(f"the weights of epoch {recipe['epochs']} do not match the model's")


def _load_verified(path: str, recipe: dict):
    """Checkpoint ``path`` if it verifies and fits ``recipe``; _Foreign if it is of another recipe,
    ValueError (or what torch.load raises) if it is unusable."""
    meta = _read_checksum(path)
    if meta["recipe_sha256"] != _recipe_digest(recipe):
        raise _Foreign()
    data = _verified_bytes(path, meta)
    ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)  # the verified bytes only
    _check_keys(ckpt)
    if ckpt["recipe"] != _recipe_json(recipe):
        raise _Foreign()
    if not (ckpt["epoch"] == meta["epoch"] == _epoch_of(path)):
        raise ValueError(f"it holds epoch {ckpt['epoch']}, not the {_epoch_of(path)} of its name")
    _check_epochs(ckpt, recipe)
    return ckpt


def _set_aside(path: str, why: str, then: str = "") -> None:
    """Move checkpoint ``path`` (and its checksum file) to ``set_aside/``, with a warning."""
    folder = os.path.join(os.path.dirname(path), SET_ASIDE)
    os.makedirs(folder, exist_ok=True)
    for p in (path, path + _CHECKSUM):
        if os.path.exists(p):
            os.replace(p, os.path.join(folder, os.path.basename(p)))
    log.warning("checkpoint %s %s; moved to %s%s", path, why, folder, f"; {then}" if then else "")


def _clear_leftovers(checkpoint_dir: str) -> None:
    """Remove partial files of a killed write and checksum files whose checkpoint is gone."""
    for p in glob.glob(os.path.join(checkpoint_dir, "epoch_*.tmp*")):
        log.info("removing %s, the partial file of an interrupted write", p)
        os.remove(p)
    for side in glob.glob(os.path.join(checkpoint_dir, "epoch_*.pt" + _CHECKSUM)):
        if not os.path.exists(side[:-len(_CHECKSUM)]):
            os.remove(side)


def load_checkpoint(checkpoint_dir: str, recipe: dict):
    """The newest checkpoint that verifies and matches the recipe, or None.

    Call it holding the folder's lock (:func:`folder_lock`). Every checkpoint newer than the one
    returned, and every one of another recipe or without a valid checksum file, is moved to
    ``set_aside/`` with a warning naming the file and why; so the folder then holds the run's own
    checkpoints only, up to the one resumed, and rotation cannot remove them for stale ones. A
    checkpoint past the nominal final epoch E of a run with extra epochs must also hold the weights
    at E (``nominal_model``, the same tensors' names and shapes as ``model``).
    """
    _clear_leftovers(checkpoint_dir)
    chosen, digest = None, _recipe_digest(recipe)
    for path in reversed(_paths(checkpoint_dir)):
        if chosen is not None:  # older than the one resumed: keep the run's own, for rotation
            try:
                if _read_checksum(path)["recipe_sha256"] == digest:
                    continue
                _set_aside(path, "belongs to another recipe")
            except ValueError as err:
                _set_aside(path, f"cannot be verified ({err})")
            continue
        try:
            chosen = _load_verified(path, recipe)
            log.info("checkpoint %s verified", path)
        except _Foreign:
            _set_aside(path, "belongs to another recipe")
        except Exception as err:  # damaged, partial, unverifiable: fall back to the previous one
            _set_aside(path, f"is unusable ({err})", then="trying the previous one")
    return chosen


# ----------------------------------------------------------------------------------------- writing

def _write(path: str, state: dict, *, epoch: int, recipe: dict) -> None:
    """Write checkpoint ``path``, then its checksum file (each atomically)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    side = path + _CHECKSUM
    if os.path.exists(side):  # never a checksum file next to a checkpoint it does not describe
        os.remove(side)

    def write_bytes(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)

    replace_atomically(path, write_bytes)
    meta = {"file": os.path.basename(path), "epoch": epoch, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "recipe_sha256": _recipe_digest(recipe)}
    replace_atomically(side, lambda tmp: _write_json(tmp, meta))


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, sort_keys=True)
        fh.write("\n")


def save_checkpoint(checkpoint_dir: str, *, epoch: int, model, optimizer, predictions: list, recipe: dict,
                    nominal: dict | None, keep: int, margins: list | None = None) -> None:
    """Write the checkpoint after ``epoch`` and remove all but the ``keep`` newest up to it.

    Only checkpoints up to ``epoch`` are counted (after :func:`load_checkpoint` the folder holds no
    others), so a stale checkpoint with a higher number never pushes out the run's own.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "predictions": np.stack(predictions), "recipe": _recipe_json(recipe)}
    if margins is not None:
        state["margins"] = np.stack(margins).astype(np.float16)
    if has_nominal(recipe, epoch):
        state["nominal_model"] = nominal
    _write(os.path.join(checkpoint_dir, f"epoch_{epoch:04d}.pt"), state, epoch=epoch, recipe=recipe)
    upto = [p for p in _paths(checkpoint_dir) if _epoch_of(p) <= epoch]
    for old in upto[:-keep]:
        os.remove(old)
        if os.path.exists(old + _CHECKSUM):
            os.remove(old + _CHECKSUM)


def remove_checkpoints(checkpoint_dir: str) -> None:
    """Remove every checkpoint (those set aside too), their checksum files, the lock file and the
    folder itself (if then empty). Call it holding the folder's lock, at the end of the run."""
    patterns = ("epoch_*.pt", "epoch_*.pt" + _CHECKSUM, "epoch_*.tmp*", LOCK_NAME)
    for pattern in patterns:
        for path in glob.glob(os.path.join(checkpoint_dir, pattern)):
            os.remove(path)
    shutil.rmtree(os.path.join(checkpoint_dir, SET_ASIDE), ignore_errors=True)
    try:
        os.rmdir(checkpoint_dir)
    except OSError:
        log.info("kept %s: it holds files other than checkpoints", checkpoint_dir)


# ------------------------------------------------------------------------------------------ locking

_NO_LOCKS = {errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP}  # e.g. Lustre without -o flock, NFS with nolock


@contextlib.contextmanager
def folder_lock(checkpoint_dir: str):
    """Hold an exclusive lock on ``checkpoint_dir`` (created if missing) while the block runs.

    ``flock`` on ``<checkpoint_dir>/trainer.lock``, which names the holder (pid, host, start). If
    another process (or another call in this one) holds it, raise :class:`CheckpointFolderInUse`
    naming the folder and the holder, at once: no waiting. Released when the block ends, and by the
    kernel when the process dies (SIGKILL included). The lock file may be removed inside the block
    (:func:`remove_checkpoints`). On a file system without ``flock`` a warning is logged and the
    block runs unlocked.
    """
    fd = _acquire(checkpoint_dir)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _acquire(checkpoint_dir: str) -> int | None:
    path = os.path.join(checkpoint_dir, LOCK_NAME)
    for _ in range(100):
        os.makedirs(checkpoint_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "which has not yet named itself"
            os.close(fd)
            raise CheckpointFolderInUse(
                f"checkpoint folder {checkpoint_dir} is in use by another training process ({holder}); two "
                "trainers must not write one folder. If that process is left over from a killed workflow, "
                "end it (or let it finish), then run this job again.") from None
        except OSError as err:
            os.close(fd)
            if err.errno not in _NO_LOCKS:
                raise
            log.warning("the file system of %s does not support locks (%s): nothing stops a second trainer "
                        "from writing the same checkpoints", checkpoint_dir, err)
            return None
        try:  # the file locked is still the one at `path`, not one a finishing holder just removed
            st, now = os.fstat(fd), os.stat(path)
            current = (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)
        except FileNotFoundError:
            current = False
        if current:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()} since "
                          f"{time.strftime('%Y-%m-%d %H:%M:%S %z')}\n".encode(), 0)
            return fd
        os.close(fd)
    raise CheckpointFolderInUse(f"could not lock checkpoint folder {checkpoint_dir}: its lock file keeps changing")
