"""Per-epoch checkpoints of a training run: written atomically, the newest valid one resumed,
the older ones rotated out, all removed once the run's outputs are written.

A checkpoint ``epoch_NNNN.pt`` holds ``epoch``, ``model``, ``optimizer`` (state dicts), the
``predictions`` of epochs 0..epoch and the ``recipe`` (JSON, sorted keys); past the nominal final
epoch E of a run with extra epochs also ``nominal_model``, the weights after epoch E.
"""

from __future__ import annotations

import glob
import json
import logging
import os

import numpy as np
import torch

from ddd.results.files import replace_atomically

log = logging.getLogger(__name__)


def atomic_save(obj, path: str) -> None:
    """``torch.save`` to a temporary file, then rename: a killed job leaves no partial ``path``."""
    replace_atomically(path, lambda tmp: torch.save(obj, tmp))


def has_nominal(recipe: dict, epoch: int) -> bool:
    """Whether a checkpoint after ``epoch`` must carry the weights of the nominal final epoch E.

    Only runs with extra epochs have them apart from ``model``, and only once past E.
    """
    return recipe["extra_epochs"] > 0 and epoch > recipe["epochs"]


def _paths(checkpoint_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(checkpoint_dir, "epoch_*.pt")))


_KEYS = {"epoch", "model", "optimizer", "predictions", "recipe"}


def _check_keys(ckpt) -> None:
    if not isinstance(ckpt, dict) or not _KEYS <= set(ckpt):
        raise ValueError(f"missing keys {sorted(_KEYS - set(ckpt))}")


def _check_epochs(ckpt: dict, recipe: dict) -> None:
    """Raise ValueError unless the predictions and (past E) the weights of E fit the epoch."""
    if len(ckpt["predictions"]) != ckpt["epoch"] + 1:
        raise ValueError("predictions do not match the epoch")
    if has_nominal(recipe, ckpt["epoch"]):
        nominal = ckpt.get("nominal_model")
        if not isinstance(nominal, dict):
            raise ValueError(f"no weights of the nominal final epoch {recipe['epochs']}")
        shapes = {k: tuple(v.shape) for k, v in ckpt["model"].items()}
        if {k: tuple(getattr(v, "shape", ())) for k, v in nominal.items()} != shapes:
            raise ValueError(f"the weights of epoch {recipe['epochs']} do not match the model's")


def load_checkpoint(checkpoint_dir: str, recipe: dict):
    """The newest checkpoint that loads and matches the recipe, or None. Bad ones are logged.

    A checkpoint past the nominal final epoch E of a run with extra epochs must also hold the
    weights at E (``nominal_model``, the same tensors' names and shapes as ``model``).
    """
    for path in reversed(_paths(checkpoint_dir)):
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
            _check_keys(ckpt)
            if ckpt["recipe"] != json.dumps(recipe, sort_keys=True):
                log.warning("checkpoint %s belongs to another recipe; ignoring it", path)
                continue
            _check_epochs(ckpt, recipe)
            return ckpt
        except Exception as err:  # a corrupt or partial file: fall back to the previous one
            log.warning("checkpoint %s is unusable (%s); trying the previous one", path, err)
    return None


def save_checkpoint(checkpoint_dir: str, *, epoch: int, model, optimizer, predictions: list, recipe: dict,
                    nominal: dict | None, keep: int) -> None:
    """Write the checkpoint after ``epoch`` and remove all but the ``keep`` newest."""
    state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "predictions": np.stack(predictions), "recipe": json.dumps(recipe, sort_keys=True)}
    if has_nominal(recipe, epoch):
        state["nominal_model"] = nominal
    atomic_save(state, os.path.join(checkpoint_dir, f"epoch_{epoch:04d}.pt"))
    for old in _paths(checkpoint_dir)[:-keep]:
        os.remove(old)


def remove_checkpoints(checkpoint_dir: str) -> None:
    """Remove every checkpoint and the folder itself (if then empty)."""
    for path in glob.glob(os.path.join(checkpoint_dir, "epoch_*.pt")):
        os.remove(path)
    try:
        os.rmdir(checkpoint_dir)
    except OSError:
        pass
