"""Read and write *decisions* files: what one decision maker answered for every evaluation image.

This is the only module that knows the on-disk format. One HDF5 file per run holds

``predictions``   int16 (int32 if a class index exceeds int16) ``(E+1, N)``: top-1 class of every
                  evaluation image at every evaluation epoch (row 0 = before training; one row for
                  pretrained models), gzip-compressed.
``targets``       int ``(N,)``; ``image_ids``: UTF-8 strings ``(N,)``; ``epochs``: int ``(E+1,)``.
``probabilities`` optional float16 ``(N, C)``: class probabilities of the final row.
``features``      optional float16 ``(K, D)`` with ``feature_ids`` ``(K,)``: penultimate activations
                  on a subset of the images.
``image_info/*``  optional per-image columns ``(N,)`` (strings or numbers) in the group
                  ``image_info``, e.g. ``condition`` for imported model-vs-human data.

File attributes: ``format = "ddd-decisions"``, ``format_version = 1``, ``recipe`` (JSON of the
resolved recipe) and whatever the writer adds. Scalars and strings are stored as they are; dicts,
lists, tuples and None as JSON strings whose names are listed in the ``json_attrs`` attribute, so
reading decodes exactly those. Files are written to ``path + ".tmp"`` and renamed into place, so an
interrupted write never leaves a file that looks complete.

Reading many files one epoch at a time (the all-pairs engine, ``ddd.analysis.engine``): :func:`read_ids_epochs`
reads only ids and epochs, :func:`read_correct_rows` only one row of ``predictions`` per file, and
:class:`EpochReader` does the same for epoch after epoch while decompressing every chunk only once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import h5py
import numpy as np

FORMAT = "ddd-decisions"
FORMAT_VERSION = 1
_RESERVED = ("format", "format_version", "recipe", "json_attrs")
_INT16_MAX = np.iinfo(np.int16).max


class DecisionsFormatError(ValueError):
    """A file is not a complete, readable decisions file."""


@dataclass(frozen=True)
class Decisions:
    """Contents of one decisions file; see the module docstring for shapes and dtypes."""

    predictions: np.ndarray
    targets: np.ndarray
    image_ids: np.ndarray
    epochs: np.ndarray
    attrs: dict
    probabilities: np.ndarray | None = None
    features: np.ndarray | None = None
    feature_ids: np.ndarray | None = None
    path: str | None = None
    image_info: dict | None = None

    @property
    def n_images(self) -> int:
        return int(self.predictions.shape[1])

    @property
    def n_epochs(self) -> int:
        """Number of prediction rows (evaluation epochs including epoch 0)."""
        return int(self.predictions.shape[0])

    @property
    def final_epoch(self) -> int:
        return int(self.epochs[-1])

    def correct(self, epoch: int | None = None) -> np.ndarray:
        """Correctness, bool ``(E+1, N)`` if ``epoch`` is None, else bool ``(N,)`` at epoch *number* ``epoch``."""
        if epoch is None:
            return self.predictions == self.targets[None, :]
        return self.predictions[_row_of(self.epochs, epoch, self.path)] == self.targets


def _row_of(epochs: np.ndarray, epoch: int, path) -> int:
    rows = np.flatnonzero(np.asarray(epochs) == epoch)
    if rows.size == 0:
        raise ValueError(f"epoch {epoch} not in {path or 'decisions'}; available epochs: {list(map(int, epochs))}")
    return int(rows[0])


def _json_default(obj):
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _ids(ids, name: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {ids.shape}")
    ids = ids.astype(str)
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name} contains duplicates, e.g. {uniq[counts > 1][:5].tolist()}")
    return ids


def _int_array(x, name: str, ndim: int) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != ndim or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} must be a {ndim}-D integer array, got {x.dtype} shape {x.shape}")
    return x


def write_decisions(path, predictions, targets, image_ids, *, epochs=None, recipe: dict,
                    probabilities=None, features=None, feature_ids=None, attrs: dict | None = None,
                    image_info: dict | None = None) -> None:
    """Validate and atomically write one decisions file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``path + ".tmp"`` in the same directory is used while writing.
    predictions : int array (E+1, N)
    targets : int array (N,)
    image_ids : array-like of str (N,), unique
    epochs : int array (E+1,), strictly increasing; default ``0..E``
    recipe : dict, fully resolved recipe, stored as JSON
    probabilities : float array (N, C), optional; then every prediction must lie in ``[0, C)``
    features : float array (K, D), optional, together with unique ``feature_ids`` (K,) drawn from ``image_ids``
    attrs : dict, optional further file attributes (str/int/float/bool or JSON-serialisable)
    image_info : dict, optional ``{column: array (N,)}`` of per-image strings or numbers (same order as
        ``image_ids``), stored in the group ``image_info``
    """
    path = os.fspath(path)
    predictions = _int_array(predictions, "predictions", 2)
    rows, n = predictions.shape
    if n == 0 or rows == 0:
        raise ValueError(f"predictions must have at least one row and one image, got shape {predictions.shape}")
    targets = _int_array(targets, "targets", 1)
    image_ids = _ids(image_ids, "image_ids")
    if len(targets) != n or len(image_ids) != n:
        raise ValueError(f"predictions has N={n} columns but targets has {len(targets)} and image_ids {len(image_ids)}")
    epochs = np.arange(rows) if epochs is None else _int_array(epochs, "epochs", 1)
    if len(epochs) != rows:
        raise ValueError(f"epochs has {len(epochs)} entries but predictions has {rows} rows")
    if (np.diff(epochs) <= 0).any():
        raise ValueError(f"epochs must be strictly increasing, got {epochs.tolist()}")
    if not isinstance(recipe, dict):
        raise ValueError(f"recipe must be a dict, got {type(recipe).__name__}")
    if probabilities is not None:
        probabilities = np.asarray(probabilities)
        if probabilities.ndim != 2 or probabilities.shape[0] != n:
            raise ValueError(f"probabilities must have shape (N={n}, C), got {probabilities.shape}")
        n_classes = probabilities.shape[1]
        bad = (predictions < 0) | (predictions >= n_classes)
        if bad.any():
            raise ValueError(f"predictions must lie in [0, {n_classes}) (C from probabilities); "
                             f"found {predictions[bad][:5].tolist()}")
    if (features is None) != (feature_ids is None):
        raise ValueError("features and feature_ids must be given together")
    if features is not None:
        features = np.asarray(features)
        feature_ids = _ids(feature_ids, "feature_ids")
        if features.ndim != 2 or features.shape[0] != len(feature_ids):
            raise ValueError(f"features must have shape (K={len(feature_ids)}, D), got {features.shape}")
        unknown = np.setdiff1d(feature_ids, image_ids)
        if unknown.size:
            raise ValueError(f"feature_ids not among image_ids: {unknown[:5].tolist()}")
    info = {}
    for key, col in (image_info or {}).items():
        col = np.asarray(col)
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"image_info keys must be non-empty strings without '/', got {key!r}")
        if col.shape != (n,) or col.dtype.kind not in "USbiuf":
            raise ValueError(f"image_info[{key!r}] must be a 1-D array of N={n} strings or numbers, "
                             f"got {col.dtype} shape {col.shape}")
        info[key] = col
    attrs = dict(attrs or {})
    clash = sorted(set(attrs) & set(_RESERVED))
    if clash:
        raise ValueError(f"attrs may not set reserved attributes {clash}")

    big = max(np.abs(predictions).max(), np.abs(targets).max()) > _INT16_MAX
    dtype = np.int32 if big else np.int16
    tmp = path + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("predictions", data=predictions.astype(dtype), compression="gzip")
            f.create_dataset("targets", data=targets.astype(dtype))
            f.create_dataset("image_ids", data=image_ids.tolist(), dtype=h5py.string_dtype())
            f.create_dataset("epochs", data=epochs.astype(np.int64))
            if probabilities is not None:
                f.create_dataset("probabilities", data=probabilities.astype(np.float16), compression="gzip")
            if features is not None:
                f.create_dataset("features", data=features.astype(np.float16), compression="gzip")
                f.create_dataset("feature_ids", data=feature_ids.tolist(), dtype=h5py.string_dtype())
            for key, col in info.items():
                if col.dtype.kind in "US":
                    f.create_dataset(f"image_info/{key}", data=col.astype(str).tolist(),
                                     dtype=h5py.string_dtype())
                else:
                    f.create_dataset(f"image_info/{key}", data=col)
            json_attrs = ["recipe"]
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["recipe"] = json.dumps(recipe, sort_keys=True, default=_json_default)
            for key, value in attrs.items():
                if isinstance(value, np.generic):
                    value = value.item()  # numpy scalars (np.str_ has no HDF5 conversion)
                if isinstance(value, str):
                    f.attrs[key] = str(value)  # str subclasses (torch.__version__) too
                elif isinstance(value, (bool, int, float)):
                    f.attrs[key] = value
                else:
                    f.attrs[key] = json.dumps(value, sort_keys=True, default=_json_default)
                    json_attrs.append(key)
            f.attrs["json_attrs"] = json.dumps(json_attrs)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _open(path, **h5_options) -> h5py.File:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"decisions file {path} does not exist")
    try:
        f = h5py.File(path, "r", **h5_options)
    except OSError as e:
        raise DecisionsFormatError(f"{path} is not a readable HDF5 file (truncated or corrupt?): {e}") from e
    try:
        fmt, version = f.attrs.get("format"), f.attrs.get("format_version")
        missing = [k for k in ("predictions", "targets", "image_ids", "epochs") if k not in f]
    except OSError as e:
        f.close()
        raise DecisionsFormatError(f"{path}: cannot read attributes (truncated or corrupt?): {e}") from e
    version = version.item() if isinstance(version, np.generic) else version
    problem = (f"attribute format={fmt!r}, expected {FORMAT!r}" if fmt != FORMAT
               else f"unsupported format_version {version!r}" if version != FORMAT_VERSION
               else f"missing datasets {missing}" if missing else None)
    if problem:
        f.close()
        raise DecisionsFormatError(f"{path} is not a decisions file: {problem}")
    return f


def _strings(dset) -> np.ndarray:
    return np.asarray(dset.asstr()[()], dtype=str)


def _read_ids(f, path: str) -> np.ndarray:
    ids = _strings(f["image_ids"])
    if len(ids) != f["predictions"].shape[1] or len(f["targets"]) != len(ids) \
            or len(f["epochs"]) != f["predictions"].shape[0]:
        raise DecisionsFormatError(f"{path}: inconsistent dataset shapes")
    return ids


def read_decisions(path, *, load_probabilities: bool = True) -> Decisions:
    """Read a whole decisions file; raises :class:`DecisionsFormatError` if it is not a complete one."""
    path = os.fspath(path)
    with _open(path) as f:
        try:
            ids = _read_ids(f, path)
            attrs = {}
            json_attrs = set(json.loads(f.attrs.get("json_attrs", '["recipe"]')))
            for key, value in f.attrs.items():
                if key == "json_attrs":
                    continue
                if isinstance(value, np.generic):
                    value = value.item()
                attrs[key] = json.loads(value) if key in json_attrs else value
            optional = {}
            if load_probabilities and "probabilities" in f:
                optional["probabilities"] = f["probabilities"][()]
            if "features" in f:
                optional["features"] = f["features"][()]
                optional["feature_ids"] = _strings(f["feature_ids"])
            if "image_info" in f:
                optional["image_info"] = _read_info(f)
            return Decisions(predictions=f["predictions"][()], targets=f["targets"][()].astype(np.int64),
                             image_ids=ids, epochs=f["epochs"][()].astype(np.int64), attrs=attrs,
                             path=path, **optional)
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise DecisionsFormatError(f"{path}: cannot read contents (truncated or corrupt?): {e}") from e


def read_correct(path, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(image_ids, correct)``: str ``(N,)`` and bool ``(N,)`` at epoch number ``epoch`` (default: final row).

    Only the needed row of ``predictions`` is read.
    """
    path = os.fspath(path)
    with _open(path) as f:
        try:
            ids = _read_ids(f, path)
            epochs = f["epochs"][()]
            row = len(epochs) - 1 if epoch is None else _row_of(epochs, epoch, path)
            return ids, f["predictions"][row] == f["targets"][()]
        except (OSError, KeyError) as e:
            raise DecisionsFormatError(f"{path}: cannot read contents (truncated or corrupt?): {e}") from e


def check_same_images(ids_a, ids_b, *, names: tuple[str, str] = ("a", "b")) -> None:
    """Raise ValueError unless ``ids_a`` and ``ids_b`` (1-D, str-like) list the same images in the same order."""
    a, b = np.asarray(ids_a).astype(str), np.asarray(ids_b).astype(str)
    for ids, name in ((a, names[0]), (b, names[1])):
        if ids.ndim != 1:
            raise ValueError(f"image ids of {name} must be 1-D, got shape {ids.shape}")
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"image ids of {name} contain duplicates, e.g. {uniq[counts > 1][:5].tolist()}")
    missing, extra = np.setdiff1d(a, b), np.setdiff1d(b, a)
    if missing.size:
        raise ValueError(f"{missing.size} image ids of {names[0]} are missing from {names[1]}, e.g. {missing[:5].tolist()}")
    if extra.size:
        raise ValueError(f"{extra.size} image ids of {names[1]} are not in {names[0]}, e.g. {extra[:5].tolist()}")
    differ = np.flatnonzero(a != b)
    if differ.size:
        i = int(differ[0])
        raise ValueError(f"image ids of {names[0]} and {names[1]} are in different order: first at position {i} "
                         f"({a[i]!r} vs {b[i]!r}), {differ.size} positions differ")


def check_same_study(ref: "Decisions", other: "Decisions") -> None:
    """Raise ValueError unless two decisions files hold the same images, in the same order, with the
    same targets (what every consumer checks before comparing decision makers)."""
    check_same_images(ref.image_ids, other.image_ids, names=(ref.path, other.path))
    if not np.array_equal(ref.targets, other.targets):
        raise ValueError(f"{other.path} has other targets than {ref.path} for the same images")


def _read_info(f) -> dict:
    return {k: (_strings(d) if h5py.check_string_dtype(d.dtype) else d[()]) for k, d in f["image_info"].items()}


def read_image_info(path) -> dict:
    """Per-image columns ``{name: array (N,)}`` stored with ``image_info`` (empty dict if none)."""
    path = os.fspath(path)
    with _open(path) as f:
        try:
            return _read_info(f) if "image_info" in f else {}
        except (OSError, KeyError) as e:
            raise DecisionsFormatError(f"{path}: cannot read image_info (truncated or corrupt?): {e}") from e


def read_ids_epochs(path, *, decode: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(image_ids, epochs)``: str ``(N,)`` and int64 ``(E+1,)`` of a decisions file, without reading predictions.

    ``decode=False`` returns the ids as UTF-8 bytes (dtype ``S``), about 1.5x faster to read and to
    compare with ``np.array_equal`` against ``np.char.encode(ids, "utf-8")``.
    """
    path = os.fspath(path)
    with _open(path) as f:
        try:
            if not decode:
                ids = f["image_ids"][()].astype("S")
                if len(ids) != f["predictions"].shape[1]:
                    raise DecisionsFormatError(f"{path}: inconsistent dataset shapes")
                return ids, f["epochs"][()].astype(np.int64)
            return _read_ids(f, path), f["epochs"][()].astype(np.int64)
        except (OSError, KeyError) as e:
            raise DecisionsFormatError(f"{path}: cannot read contents (truncated or corrupt?): {e}") from e


def read_correct_rows(paths, epochs, *, out=None) -> np.ndarray:
    """Correctness of many decisions files at one epoch each, reading only that row of each file.

    Image ids are *not* read; check them once beforehand (:func:`read_ids_epochs`, :func:`check_same_images`).

    Parameters
    ----------
    paths : sequence of M paths, files over the same N images
    epochs : sequence of M epoch numbers (``epochs[i]`` is read from ``paths[i]``)
    out : bool array (M, N), optional, filled in place (no allocation)

    Returns
    -------
    bool (M, N): ``correct[i] = predictions[row of epochs[i]] == targets`` of ``paths[i]``
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("read_correct_rows needs at least one path")
    if len(epochs) != len(paths):
        raise ValueError(f"got {len(paths)} paths but {len(epochs)} epochs")
    for i, (path, epoch) in enumerate(zip(paths, epochs)):
        with _open(path) as f:
            try:
                pred, n = f["predictions"], f["predictions"].shape[1]
                if out is None:
                    out = np.empty((len(paths), n), dtype=bool)
                if out.shape != (len(paths), n) or out.dtype != bool:
                    raise ValueError(f"out must be bool ({len(paths)}, {n}), got {out.dtype} {out.shape}; "
                                     f"{path} has N={n} images")
                row = _row_of(f["epochs"][()], int(epoch), path)
                np.equal(pred[row], f["targets"][()], out=out[i])
            except (OSError, KeyError) as e:
                raise DecisionsFormatError(f"{path}: cannot read contents (truncated or corrupt?): {e}") from e
    return out


class EpochReader:
    """Correctness of many decisions files, one epoch at a time, decompressing every chunk once.

    ``predictions`` is stored in gzip chunks of several rows (epochs), so reading one row decompresses
    the rows around it too. The reader keeps, per file, the correctness of the last band of rows it
    decompressed (the rows of one chunk, at most 8), bit-packed: at most N bytes per file, i.e. all
    files together never hold more than one epoch's (M, N) bool matrix. Reading epochs in increasing
    order then costs one decompression per chunk instead of one per row (about 4x faster).
    """

    BAND = 8

    def __init__(self):
        self._bands: dict = {}  # path -> (first row, packed correctness (rows, ceil(N / 8)), N)
        self._epochs: dict = {}  # path -> stored epochs

    def read(self, paths, epochs, *, out=None) -> np.ndarray:
        """Like :func:`read_correct_rows`: bool (M, N), ``out[i]`` = correctness of ``paths[i]`` at ``epochs[i]``."""
        paths = [os.fspath(p) for p in paths]
        if not paths or len(epochs) != len(paths):
            raise ValueError(f"need as many epochs as paths (>= 1), got {len(paths)} paths and {len(epochs)} epochs")
        for i, (path, epoch) in enumerate(zip(paths, epochs)):
            band = self._bands.get(path)
            row = None if band is None else self._row(path, epoch)
            if band is None or not band[0] <= row < band[0] + len(band[1]):
                band = self._bands[path] = self._load(path, epoch)
                row = self._row(path, epoch)
            first, packed, n = band
            if out is None:
                out = np.empty((len(paths), n), dtype=bool)
            if out.shape != (len(paths), n) or out.dtype != bool:
                raise ValueError(f"out must be bool ({len(paths)}, {n}), got {out.dtype} {out.shape}; "
                                 f"{path} has N={n} images")
            out[i] = np.unpackbits(packed[row - first], count=n).view(bool)
        return out

    def _row(self, path: str, epoch: int) -> int:
        return _row_of(self._epochs[path], int(epoch), path)

    def _load(self, path: str, epoch: int):
        with _open(path) as f:
            try:
                pred = f["predictions"]
                self._epochs[path] = f["epochs"][()]
                row = self._row(path, epoch)
                size = min(pred.chunks[0] if pred.chunks else 1, self.BAND)
                first = row - row % size
                correct = pred[first:first + size] == f["targets"][()][None, :]
                return first, np.packbits(correct, axis=1), pred.shape[1]
            except (OSError, KeyError) as e:
                raise DecisionsFormatError(f"{path}: cannot read contents (truncated or corrupt?): {e}") from e
