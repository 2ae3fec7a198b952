"""Reading decisions files: whole, or only what a consumer needs (ids, one row, one epoch of many files)."""

from __future__ import annotations

import json
import logging
import os
import re
from typing import NamedTuple

import h5py
import numpy as np

from ddd.results.decisions.core import (BITS_SINCE, CHECKSUM, FORMAT, MARGINS_SINCE, NO_ANSWER, READABLE_VERSIONS,
                                        Decisions, DecisionsFormatError, _CallerError, _row_of, array_digest,
                                        attrs_digest, check_same_images, check_same_study, pack_correct,
                                        row_digests)

log = logging.getLogger(__name__)

_REQUIRED = ("predictions", "targets", "image_ids", "epochs")
_PASS = (DecisionsFormatError, FileNotFoundError, _CallerError)
_HEX = re.compile(r"[0-9a-f]{64}")
_unverified_seen: set = set()


class _File:
    """An open decisions file, checked when opened; its reads verify what they read.

    At open: format and version, the datasets present (versions 2 to 4: exactly those its ``checksums``
    list; ``margins`` only from version 3; ``correct_bits`` in and only in version 4), the shape of
    ``predictions``; each other dataset's shape and dtype when it is first opened (metadata only, so
    a corrupt header never makes a reader allocate or decode data). Reads (versions 2 to 4): a whole
    dataset is verified against its SHA-256, a row of ``predictions``, ``correct_bits`` or ``margins``
    against the row's, attributes against theirs;
    under these, HDF5 verifies the fletcher32 checksum of every chunk it reads (before decompressing
    it) and the checksums of its metadata. Version 1 has none of these. Every prediction and target
    read is checked against the class range when the number of classes is known. Use as a context manager: any failure inside is re-raised as
    :class:`DecisionsFormatError` naming the file (missing epochs and other :class:`_CallerError` as they are).
    """

    def __init__(self, path: str, f: h5py.File):
        self.path, self.f = path, f
        fmt, version = _text(f.attrs.get("format")), f.attrs.get("format_version")
        version = version.item() if isinstance(version, np.generic) else version
        version_ok = isinstance(version, int) and not isinstance(version, bool) and version in READABLE_VERSIONS
        self._datasets: dict = {}
        self._root = list(f)  # member names; image_info's columns are listed on demand (names)
        self._names = None
        missing = [k for k in _REQUIRED if k not in self._root]
        problem = (f"attribute format={fmt!r}, expected {FORMAT!r}" if fmt != FORMAT
                   else f"unsupported format_version {version!r} (this ddd reads versions "
                        f"{', '.join(map(str, READABLE_VERSIONS))}; a newer ddd wrote it?)" if not version_ok
                   else f"missing datasets {missing}" if missing else None)
        if problem:
            raise DecisionsFormatError(f"{path} is not a decisions file: {problem}")
        self.version = version
        self.sums = self._checksums() if version >= 2 else None
        if self.sums is None:
            if "checksums" in f.attrs:
                raise DecisionsFormatError(f"{path}: format_version {version} but a checksums attribute (corrupt?)")
            if path not in _unverified_seen:
                _unverified_seen.add(path)
                log.info("%s: decisions format version %s (written before checksums); read without "
                         "integrity verification", path, version)
        self._check_layout()
        self._n_classes = False  # not looked up yet

    # -- checks at open -------------------------------------------------------------------------
    def _checksums(self) -> dict:
        raw = self.f.attrs.get("checksums")
        if raw is None:
            raise DecisionsFormatError(f"{self.path}: format_version {self.version} file without its checksums "
                                       "attribute (corrupt?)")
        sums = json.loads(_text(raw))
        rows = sums.get("rows") if isinstance(sums, dict) else None
        if not (isinstance(sums, dict) and sums.get("algorithm") == CHECKSUM and isinstance(sums.get("attrs"), str)
                and isinstance(sums.get("datasets"), dict) and isinstance(rows, dict)
                and isinstance(rows.get("predictions"), list)
                and set(rows) == {"predictions"} | ({"margins", "correct_bits"} & set(sums["datasets"]))
                and all(isinstance(r, list) for r in rows.values())
                and all(isinstance(v, str) and _HEX.fullmatch(v)
                        for v in [sums["attrs"], *sums["datasets"].values(), *(h for r in rows.values() for h in r)])):
            raise DecisionsFormatError(f"{self.path}: malformed checksums attribute (corrupt?)")
        listed = {name.split("/", 1)[0] for name in sums["datasets"]}
        if set(self._root) != listed:
            raise DecisionsFormatError(f"{self.path}: holds datasets {sorted(self._root)} but its checksums list "
                                       f"{sorted(listed)} (corrupt?)")
        return sums

    def _check_layout(self) -> None:
        """Shape of ``predictions`` and the datasets present; each other dataset is checked when opened."""
        pred = self.dataset("predictions")
        if pred.ndim != 2 or 0 in pred.shape or pred.dtype.kind != "i":
            raise DecisionsFormatError(f"{self.path}: predictions is {pred.dtype} of shape {pred.shape}, expected "
                                       "integers of shape (E+1 > 0, N > 0)")
        self.rows, self.n = pred.shape
        for name, hashes in (self.sums or {"rows": {}})["rows"].items():
            if len(hashes) != self.rows:
                raise DecisionsFormatError(f"{self.path}: checksums of {len(hashes)} rows of {name}, but predictions "
                                           f"has {self.rows} (corrupt?)")
        if "margins" in self._root and self.version < MARGINS_SINCE:
            raise DecisionsFormatError(f"{self.path}: margins in a format_version {self.version} file, which "
                                       "cannot hold them (corrupt?)")
        if ("correct_bits" in self._root) != (self.version >= BITS_SINCE):
            raise DecisionsFormatError(f"{self.path}: format_version {self.version} file "
                                       + ("without its correct_bits" if self.version >= BITS_SINCE
                                          else "with correct_bits, which it cannot hold") + " (corrupt?)")
        if ("features" in self._root) != ("feature_ids" in self._root):
            raise DecisionsFormatError(f"{self.path}: features and feature_ids must be stored together")

    def _check_dataset(self, name: str, d: h5py.Dataset) -> None:
        """Shape and dtype of a dataset against ``predictions``, from the metadata alone."""
        shape = {"targets": (self.n,), "image_ids": (self.n,), "epochs": (self.rows,),
                 "margins": (self.rows, self.n), "correct_bits": (self.rows, -(-self.n // 8))}.get(name)
        if name.startswith("image_info/"):
            shape = (self.n,)
        elif name == "probabilities" and (d.ndim != 2 or d.shape[0] != self.n):
            shape = (self.n, "C")
        elif name == "features" and d.ndim != 2:
            shape = ("K", "D")
        elif name == "feature_ids" and "features" in self._root:
            shape = self.dataset("features").shape[:1]
        if shape is not None and d.shape != shape:
            raise DecisionsFormatError(f"{self.path}: inconsistent dataset shapes: {name} has shape {d.shape}, "
                                       f"expected {shape} (predictions has {(self.rows, self.n)})")
        kind = {"targets": "i", "epochs": "i", "probabilities": "f", "features": "f", "image_ids": "S",
                "feature_ids": "S", "margins": "f", "correct_bits": "u"}.get(name)
        if kind is not None and (h5py.check_string_dtype(d.dtype) is None if kind == "S" else d.dtype.kind != kind):
            raise DecisionsFormatError(f"{self.path}: {name} has dtype {d.dtype}, expected "
                                       + ("strings" if kind == "S" else f"kind {kind!r}"))

    def _stored_n_classes(self):
        value = self.f.attrs.get("n_classes")
        if value is None:
            return None
        value = value.item() if isinstance(value, np.generic) else value
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DecisionsFormatError(f"{self.path}: attribute n_classes={value!r} is not a positive integer")
        return value

    # -- reads ----------------------------------------------------------------------------------
    def dataset(self, name: str) -> h5py.Dataset:
        """A dataset, its shape and dtype checked when first opened."""
        d = self._datasets.get(name)
        if d is None:
            d = self.f[name]
            if not isinstance(d, h5py.Dataset):
                raise DecisionsFormatError(f"{self.path}: {name} is not a dataset")
            if name != "predictions":
                self._check_dataset(name, d)
            self._datasets[name] = d
        return d

    @property
    def n_images(self) -> int:
        return self.n

    @property
    def n_classes(self) -> int | None:
        """Classes C stored (version 2) or implied by probabilities / class_names (version 1); None if unknown."""
        if self._n_classes is False:
            if self.sums is not None:
                self._n_classes = self._stored_n_classes()
            elif "probabilities" in self._root:
                self._n_classes = int(self.dataset("probabilities").shape[1])
            else:
                names = self.f.attrs.get("class_names")
                names = json.loads(_text(names)) if names is not None and "class_names" in self._json_attrs() else None
                self._n_classes = len(names) if isinstance(names, list) else None
        return self._n_classes

    def whole(self, name: str) -> np.ndarray:
        """A whole dataset, verified against its checksum (version 2)."""
        a = self.dataset(name)[()]
        if self.sums is not None and array_digest(a) != self.sums["datasets"][name]:
            raise DecisionsFormatError(f"{self.path}: dataset {name} does not match its checksum: the file is corrupt")
        return a

    def shared(self, name: str, cache: dict) -> np.ndarray:
        """:meth:`whole`, or the array already read under the same checksum from another (or this)
        file (``cache``: digest -> array, at most 16 kept); version 1 (no checksums) always reads.
        Never modify what it returns."""
        digest = None if self.sums is None else self.sums["datasets"][name]
        if digest is not None and digest in cache:  # the digest covers dtype and shape too
            return cache[digest]
        a = self.whole(name)
        if digest is not None:
            if len(cache) >= 16:
                cache.pop(next(iter(cache)))
            a.setflags(write=False)
            cache[digest] = a
        return a

    def strings(self, name: str) -> np.ndarray:
        """A whole string dataset as str ``(n,)``."""
        if self.sums is None:  # version 1: variable-length strings
            return np.asarray(self.dataset(name).asstr()[()], dtype=str)
        return np.char.decode(self.whole(name), "utf-8").astype(str)

    def raw_ids(self) -> np.ndarray:
        """image_ids as UTF-8 bytes (dtype ``S``)."""
        return self.whole("image_ids").astype("S")

    def epochs(self, cache: dict | None = None) -> np.ndarray:
        epochs = (self.whole("epochs") if cache is None else self.shared("epochs", cache)).astype(np.int64)
        if (np.diff(epochs) <= 0).any():
            raise DecisionsFormatError(f"{self.path}: epochs {epochs.tolist()[:20]} are not strictly increasing "
                                       "(corrupt?)")
        return epochs

    def targets(self, cache: dict | None = None) -> np.ndarray:
        """Targets, int64 (a read-only array shared between files of identical targets with ``cache``,
        :meth:`shared`)."""
        targets = self.whole("targets") if cache is None else self.shared("targets", cache)
        self.check_classes(targets, "targets", low=0)
        return targets.astype(np.int64, copy=cache is None)

    def _rows(self, name: str, rows: slice | None) -> np.ndarray:
        """All of dataset ``name`` or ``rows`` of it, verified against the checksum of the whole or of each row."""
        if rows is None:
            return self.whole(name)
        data = self.dataset(name)[rows]
        if self.sums is not None:
            hashes = self.sums["rows"][name]
            for i, digest in zip(range(*rows.indices(len(hashes))), row_digests(data)):
                if digest != hashes[i]:
                    raise DecisionsFormatError(f"{self.path}: row {i} of {name} does not match its checksum: "
                                               "the file is corrupt")
        return data

    def predictions(self, rows: slice | None = None) -> np.ndarray:
        """All of ``predictions`` or ``rows`` of it, verified against the checksum of the whole or of each row."""
        pred = self._rows("predictions", rows)
        self.check_classes(pred, "predictions", low=NO_ANSWER)
        return pred

    @property
    def has_bits(self) -> bool:
        """The file stores ``correct_bits`` (format version 4)."""
        return "correct_bits" in self._root

    def correct_bits(self, rows: slice | None = None) -> np.ndarray:
        """uint8 ``correct_bits`` (all or ``rows``; (rows, ceil(N / 8))), verified like :meth:`predictions`
        (version 4 only)."""
        bits = self._rows("correct_bits", rows)
        if bits.dtype != np.uint8:
            raise DecisionsFormatError(f"{self.path}: correct_bits has dtype {bits.dtype}, expected uint8")
        return bits

    def correct(self, rows: slice) -> np.ndarray:
        """bool (rows, N): correctness of ``rows``, from ``correct_bits`` where stored, else from
        predictions and targets."""
        if self.has_bits:
            return np.unpackbits(self.correct_bits(rows), axis=1, count=self.n).view(bool)
        return self.predictions(rows) == self.targets()[None, :]

    @property
    def has_margins(self) -> bool:
        return "margins" in self._root

    def margins(self, rows: slice | None = None) -> np.ndarray | None:
        """float16 ``margins`` (all or ``rows``), verified like :meth:`predictions`; None if the file has none."""
        if not self.has_margins:
            return None
        margins = self._rows("margins", rows)
        if margins.dtype != np.float16:
            raise DecisionsFormatError(f"{self.path}: margins has dtype {margins.dtype}, expected float16")
        return margins

    def check_classes(self, values: np.ndarray, name: str, *, low: int) -> None:
        c = self.n_classes
        if c is not None and values.size and (values.min() < low or values.max() >= c):
            bad = values[(values < low) | (values >= c)]
            allowed = f"[0, {c})" + (f" or {NO_ANSWER} (no answer)" if low < 0 else "")
            raise DecisionsFormatError(f"{self.path}: {name} outside the class range {allowed} of its {c} classes, "
                                       f"e.g. {bad[:5].tolist()} (corrupt?)")

    def _json_attrs(self) -> set:
        return set(json.loads(_text(self.f.attrs.get("json_attrs", '["recipe"]'))))

    def attrs(self) -> dict:
        """File attributes, decoded (JSON ones parsed), verified against their checksum (version 2)."""
        items = list(self.f.attrs.items())
        if self.sums is not None and attrs_digest(items) != self.sums["attrs"]:
            raise DecisionsFormatError(f"{self.path}: attributes do not match their checksum: the file is corrupt")
        json_attrs = self._json_attrs()
        attrs = {}
        for key, value in items:
            if key in ("json_attrs", "checksums"):
                continue
            value = _text(value)  # fixed-length strings (version 2) come as bytes
            if isinstance(value, np.generic):
                value = value.item()
            attrs[key] = json.loads(value) if key in json_attrs else value
        return attrs

    @property
    def names(self) -> list:
        """Its datasets (those of ``image_info`` as ``image_info/<column>``); version 2: exactly
        those its checksums list."""
        if self._names is None:
            names = _dataset_names(self.f)
            if self.sums is not None and set(names) != set(self.sums["datasets"]):
                raise DecisionsFormatError(f"{self.path}: holds datasets {sorted(names)} but its checksums list "
                                           f"{sorted(self.sums['datasets'])} (corrupt?)")
            self._names = names
        return self._names

    @property
    def info_names(self) -> list:
        return [n for n in self.names if n.startswith("image_info/")]

    def info(self) -> dict:
        return {name.split("/", 1)[1]: (self.strings(name) if h5py.check_string_dtype(self.dataset(name).dtype)
                                        else self.whole(name)) for name in self.info_names}

    # -- context --------------------------------------------------------------------------------
    def __enter__(self) -> "_File":
        return self

    def __exit__(self, kind, exc, tb):
        try:
            self.f.close()
        except Exception:  # noqa: BLE001 (a file that cannot even close is reported below, or was read)
            pass
        if isinstance(exc, Exception) and not isinstance(exc, _PASS):
            raise DecisionsFormatError(f"{self.path}: cannot read contents (truncated or corrupt?): "
                                       f"{type(exc).__name__}: {exc}") from exc
        return False


def _text(value):
    """An attribute string as str (h5py gives str for variable-length strings, bytes for fixed-length ones)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, np.bytes_ | bytes):
        return bytes(value).decode("utf-8")
    return value


def _dataset_names(f: h5py.File) -> list:
    """Names of the file's datasets: its members, and those of its group ``image_info``."""
    names = []
    for key in f:
        if key == "image_info":
            group = f[key]
            if not isinstance(group, h5py.Group):
                raise DecisionsFormatError(f"{f.filename}: image_info is not a group")
            names += [f"{key}/{k}" for k in group]
        else:
            names.append(key)
    return names


def _open(path) -> _File:
    """Open and check a decisions file (:class:`_File`); FileNotFoundError or DecisionsFormatError naming it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"decisions file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except Exception as e:  # noqa: BLE001 (whatever HDF5 makes of it)
        raise DecisionsFormatError(f"{path} is not a readable HDF5 file (truncated or corrupt?): {e}") from e
    try:
        return _File(path, f)
    except BaseException as e:
        try:
            f.close()
        except Exception:  # noqa: BLE001
            pass
        if isinstance(e, Exception) and not isinstance(e, _PASS):
            raise DecisionsFormatError(f"{path}: cannot read its header (truncated or corrupt?): "
                                       f"{type(e).__name__}: {e}") from e
        raise


def read_decisions(path, *, load_probabilities: bool = True, load_margins: bool = True) -> Decisions:
    """Read a whole decisions file; raises :class:`DecisionsFormatError` (naming it) if it is not a
    complete, intact one: every dataset read is verified against its checksum (versions 2 to 4;
    version-1 files, written before checksums, are read unverified), predictions and targets against
    the class range, and ``correct_bits`` (version 4) against predictions and targets. ``margins`` is
    None for files without them (versions 1 and 2, imports) or with ``load_margins=False``."""
    path = os.fspath(path)
    with _open(path) as r:
        ids = r.strings("image_ids")
        attrs = r.attrs()
        optional = {}
        if load_probabilities and "probabilities" in r.names:
            optional["probabilities"] = r.whole("probabilities")
            if r.n_classes is not None and optional["probabilities"].shape[1] != r.n_classes:
                raise DecisionsFormatError(f"{path}: probabilities of {optional['probabilities'].shape[1]} classes "
                                           f"but n_classes={r.n_classes}")
        if "features" in r.names:
            optional["features"] = r.whole("features")
            optional["feature_ids"] = r.strings("feature_ids")
        if r.info_names:
            optional["image_info"] = r.info()
        if load_margins and r.has_margins:
            optional["margins"] = r.margins()
        predictions, targets = r.predictions(), r.targets()
        if r.has_bits and not np.array_equal(r.correct_bits(), pack_correct(predictions, targets)):
            raise DecisionsFormatError(f"{path}: correct_bits disagree with predictions and targets (corrupt?)")
        return Decisions(predictions=predictions, targets=targets, image_ids=ids, epochs=r.epochs(),
                         attrs=attrs, path=path, **optional)


def read_correct(path, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(image_ids, correct)``: str ``(N,)`` and bool ``(N,)`` at epoch number ``epoch`` (default: final row).

    Only the needed row of ``predictions`` is read (its chunk checked by fletcher32; ids, targets and
    epochs against their checksums).
    """
    path = os.fspath(path)
    with _open(path) as r:
        ids, epochs = r.strings("image_ids"), r.epochs()
        row = len(epochs) - 1 if epoch is None else _row_of(epochs, epoch, path)
        return ids, r.correct(slice(row, row + 1))[0]


def read_margins(path, epoch: int | None = None) -> np.ndarray | None:
    """Decision margins float16 ``(N,)`` at epoch number ``epoch`` (default: final row), reading only
    that row (verified against its checksum); None if the file stores none (format versions 1 and
    2, imported decisions)."""
    path = os.fspath(path)
    with _open(path) as r:
        if not r.has_margins:
            return None
        epochs = r.epochs()
        row = len(epochs) - 1 if epoch is None else _row_of(epochs, epoch, path)
        return r.margins(slice(row, row + 1))[0]


def read_image_info(path) -> dict:
    """Per-image columns ``{name: array (N,)}`` stored with ``image_info`` (empty dict if none), verified."""
    path = os.fspath(path)
    with _open(path) as r:
        return r.info()


def read_ids_epochs(path, *, decode: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(image_ids, epochs)``: str ``(N,)`` and int64 ``(E+1,)`` of a decisions file, without reading predictions.

    ``decode=False`` returns the ids as UTF-8 bytes (dtype ``S``), about 1.5x faster to read and to
    compare with ``np.array_equal`` against ``np.char.encode(ids, "utf-8")``.
    """
    path = os.fspath(path)
    with _open(path) as r:
        return (r.strings("image_ids") if decode else r.raw_ids()), r.epochs()


def read_ids_digest(path) -> tuple[str | None, np.ndarray]:
    """``(digest, epochs)``: the stored SHA-256 of a file's image ids (None for version-1 files, which
    store none) and its int64 epochs (verified), without reading the ids. Two files whose digests
    are equal hold the same ids in the same order (the digest covers dtype, shape and bytes)."""
    path = os.fspath(path)
    with _open(path) as r:
        return (None if r.sums is None else r.sums["datasets"]["image_ids"]), r.epochs()


class FileInfo(NamedTuple):
    """What a decisions file holds, from its header (:func:`read_file_info`)."""
    format_version: int
    n_images: int
    epochs: np.ndarray        #: int64 (E+1,)
    n_classes: int | None     #: C when known (stored, or from probabilities / class_names in version 1)
    has_margins: bool         #: stores per-epoch decision margins (format version 3 and a source with logits)


def read_file_info(path) -> FileInfo:
    """Format version, number of images, epochs, number of classes and whether margins are stored,
    without reading predictions (epochs verified against their checksum)."""
    path = os.fspath(path)
    with _open(path) as r:
        return FileInfo(int(r.version), r.n_images, r.epochs(), r.n_classes, r.has_margins)


def read_many(paths, *, load_probabilities: bool = False) -> dict[str, Decisions]:
    """:func:`read_decisions` of every distinct path, in order, each checked to hold the first file's
    images (same ids, same order) and targets."""
    out: dict[str, Decisions] = {}
    ref = None
    for p in paths:
        p = os.fspath(p)
        if p in out:
            continue
        d = read_decisions(p, load_probabilities=load_probabilities)
        if ref is None:
            ref = d
        else:
            check_same_study(ref, d)
        out[p] = d
    return out


class FinalDecisions(NamedTuple):
    """The final decisions of a study's decision makers (:func:`read_final`)."""
    predictions: np.ndarray  #: int64 (M, N), row i = decision maker i at its epoch
    targets: np.ndarray      #: int64 (N,)
    image_ids: np.ndarray    #: str (N,)
    class_names: list | None

    @property
    def correct(self) -> np.ndarray:
        """bool (M, N)."""
        return self.predictions == self.targets[None, :]


def read_final(makers, *, stored_dtype: bool = False) -> FinalDecisions:
    """Every decision maker's decisions at its epoch, reading one row per decision maker.

    ``predictions`` are int64 (M, N), or with ``stored_dtype=True`` the files' own integer type
    (int16 as ddd writes them; the widest of the files' types when they differ): 1,000 x 50,000 in
    100 MB instead of 400.

    ``makers``: :class:`ddd.experiment.makers.DecisionMaker` objects (or their dicts). Every file's
    image ids and targets are checked against the first file's (by their stored SHA-256 where both
    files have one and they agree, else by reading them); an epoch a file does not store is
    refused, naming the decision maker, the file and the epochs it has. Every file is opened once
    per decision maker; only the first file's ids are kept (1,000 files of 50,000 images: the
    (M, N) result and one file's ids in memory).
    """
    from ddd.experiment.makers import as_decision_makers

    makers = as_decision_makers(makers)
    ref, checked, out = None, set(), None
    for k, m in enumerate(makers):
        with _open(m.path) as r:
            if ref is None:
                ref = {"name": m.name, "ids": r.strings("image_ids"), "targets": r.targets(),
                       "class_names": r.attrs().get("class_names"), "sums": r.sums}
            elif m.path not in checked:
                _check_same_header(ref, m, r)
            checked.add(m.path)
            epochs = r.epochs()
            if m.epoch not in set(epochs.tolist()):
                raise ValueError(f"{m.name}: epoch {m.epoch} is not in {m.path} (epochs "
                                 f"{epochs.min()}..{epochs.max()})")
            row = _row_of(epochs, m.epoch, m.path)
            pred = r.predictions(slice(row, row + 1))[0]
            dtype = np.result_type(pred.dtype, out.dtype if out is not None else pred.dtype) if stored_dtype \
                else np.int64
            if out is None:
                out = np.empty((len(makers), r.n_images), dtype=dtype)
            if r.n_images != out.shape[1]:
                raise ValueError(f"{m.path} holds {r.n_images} images, the first file {out.shape[1]}")
            if dtype != out.dtype:  # a file with a wider type than the ones before
                out = out.astype(dtype)
            out[k] = pred
    return FinalDecisions(out, ref["targets"], ref["ids"], ref["class_names"])


def _check_same_header(ref: dict, maker, r: "_File") -> None:
    """The file of ``maker`` (open as ``r``) holds the first file's ids and targets."""
    same = {name: ref["sums"] is not None and r.sums is not None
            and r.sums["datasets"][name] == ref["sums"]["datasets"][name] for name in ("image_ids", "targets")}
    if not same["image_ids"]:
        check_same_images(ref["ids"], r.strings("image_ids"), names=(ref["name"], maker.name))
    if not same["targets"] and not np.array_equal(ref["targets"], r.targets()):
        raise ValueError(f"{maker.name} ({maker.path}) has other targets than {ref['name']} for the same images")
