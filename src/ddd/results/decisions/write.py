"""Writing a decisions file: validation, then an atomic write (``.tmp`` renamed into place) of a
checksummed version-4 file that is read back and verified before it is renamed."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

from ddd.results.decisions.core import (_INT16_MAX, _RESERVED, CHECKSUM, FLOAT16_MAX, FORMAT, FORMAT_VERSION,
                                        HDF5_LIBVER, NO_ANSWER, ROW_CHUNK, array_digest, attrs_digest,
                                        pack_correct)
from ddd.results.decisions.read import read_decisions
from ddd.results.files import replace_atomically


def _json_default(obj):
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _ids(ids, name: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {ids.shape}")
    ids = ids.astype(str)
    if any("\0" in s for s in ids.tolist()):
        raise ValueError(f"{name} may not contain NUL characters")
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
                    image_info: dict | None = None, margins=None) -> None:
    """Validate and atomically write one decisions file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; a sibling ``<path>.tmp<pid>`` is written and renamed into place.
    predictions : int array (E+1, N)
    targets : int array (N,)
    image_ids : array-like of str (N,), unique
    epochs : int array (E+1,), strictly increasing; default ``0..E``
    recipe : dict, fully resolved recipe, stored as JSON
    probabilities : float array (N, C), optional; then every prediction must lie in ``[0, C)``
        and every target too
    features : float array (K, D), optional, together with unique ``feature_ids`` (K,) drawn from ``image_ids``
    attrs : dict, optional further file attributes (str/int/float/bool or JSON-serialisable). A
        ``class_names`` list gives the number of classes C (equal to that of ``probabilities``);
        then targets must lie in ``[0, C)`` and predictions too, or be ``-1`` (no answer,
        :data:`~ddd.results.decisions.core.NO_ANSWER`), unless ``probabilities`` are given. C is stored
        as the attribute ``n_classes``, and readers check every prediction and target against it.
    image_info : dict, optional ``{column: array (N,)}`` of per-image strings or numbers (same order as
        ``image_ids``), stored in the group ``image_info``
    margins : float array (E+1, N), optional: every image's decision margin at every evaluation
        (true-class logit minus the largest other logit; > 0 where the prediction is right), stored
        as float16 (values beyond float16's range clipped to +-65504; NaN = no margin, e.g. epochs
        resumed from a checkpoint written before margins were kept), each row checksummed
    """
    path = os.fspath(path)
    arrays = _check_arrays(predictions, targets, image_ids, epochs, probabilities)
    arrays["margins"] = _check_margins(margins, arrays["predictions"].shape)
    arrays.update(_check_features(features, feature_ids, arrays["image_ids"]))
    arrays["image_info"] = _check_image_info(image_info, arrays["predictions"].shape[1])
    if not isinstance(recipe, dict):
        raise ValueError(f"recipe must be a dict, got {type(recipe).__name__}")
    attrs = dict(attrs or {})
    clash = sorted(set(attrs) & set(_RESERVED))
    if clash:
        raise ValueError(f"attrs may not set reserved attributes {clash}")
    n_classes = _check_classes(arrays, attrs.get("class_names"))

    def write(tmp):
        with h5py.File(tmp, "w", libver=HDF5_LIBVER) as f:
            sums, rows = _write_arrays(f, arrays)
            _write_attrs(f, recipe, attrs, n_classes)
            _set(f, "checksums", json.dumps({"algorithm": CHECKSUM, "datasets": sums, "rows": rows,
                                             "attrs": attrs_digest(f.attrs.items())}, sort_keys=True))
        read_decisions(tmp)  # every checksum verified before the file appears under its name
    replace_atomically(path, write)


def _check_arrays(predictions, targets, image_ids, epochs, probabilities) -> dict:
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
    if probabilities is not None:
        probabilities = np.asarray(probabilities)
        if probabilities.ndim != 2 or probabilities.shape[0] != n:
            raise ValueError(f"probabilities must have shape (N={n}, C), got {probabilities.shape}")
        n_classes = probabilities.shape[1]
        bad = (predictions < 0) | (predictions >= n_classes)
        if bad.any():
            raise ValueError(f"predictions must lie in [0, {n_classes}) (C from probabilities); "
                             f"found {predictions[bad][:5].tolist()}")
    return {"predictions": predictions, "targets": targets, "image_ids": image_ids, "epochs": epochs,
            "probabilities": probabilities}


def _check_margins(margins, shape) -> np.ndarray | None:
    """float16 margins of the predictions' shape (NaN kept, beyond float16's range clipped), or None."""
    if margins is None:
        return None
    margins = np.asarray(margins)
    if margins.shape != shape or margins.dtype.kind != "f":
        raise ValueError(f"margins must be a float array of the predictions' shape {shape}, got "
                         f"{margins.dtype} shape {margins.shape}")
    return np.clip(margins, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)


def _check_classes(arrays: dict, class_names) -> int | None:
    """The number of classes C (from probabilities and/or ``class_names``; None if neither), with
    targets checked to lie in ``[0, C)`` and predictions in ``[0, C)`` or :data:`NO_ANSWER`."""
    probs = arrays["probabilities"]
    n_classes = None if probs is None else int(probs.shape[1])
    if isinstance(class_names, (list, tuple)):
        if n_classes is not None and len(class_names) != n_classes:
            raise ValueError(f"class_names lists {len(class_names)} classes but probabilities have {n_classes}")
        n_classes = len(class_names)
    if n_classes is None:
        return None
    targets, preds = arrays["targets"], arrays["predictions"]
    bad = (targets < 0) | (targets >= n_classes)
    if bad.any():
        raise ValueError(f"targets must lie in [0, {n_classes}) ({n_classes} classes); found {targets[bad][:5].tolist()}")
    bad = ((preds < 0) & (preds != NO_ANSWER)) | (preds >= n_classes)
    if bad.any():
        raise ValueError(f"predictions must lie in [0, {n_classes}) ({n_classes} classes) or be {NO_ANSWER} "
                         f"(no answer); found {preds[bad][:5].tolist()}")
    return n_classes


def _check_features(features, feature_ids, image_ids) -> dict:
    if (features is None) != (feature_ids is None):
        raise ValueError("features and feature_ids must be given together")
    if features is None:
        return {"features": None, "feature_ids": None}
    features = np.asarray(features)
    feature_ids = _ids(feature_ids, "feature_ids")
    if features.ndim != 2 or features.shape[0] != len(feature_ids):
        raise ValueError(f"features must have shape (K={len(feature_ids)}, D), got {features.shape}")
    unknown = np.setdiff1d(feature_ids, image_ids)
    if unknown.size:
        raise ValueError(f"feature_ids not among image_ids: {unknown[:5].tolist()}")
    return {"features": features, "feature_ids": feature_ids}


def _check_image_info(image_info, n: int) -> dict:
    info = {}
    for key, col in (image_info or {}).items():
        col = np.asarray(col)
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"image_info keys must be non-empty strings without '/', got {key!r}")
        if col.shape != (n,) or col.dtype.kind not in "USbiuf":
            raise ValueError(f"image_info[{key!r}] must be a 1-D array of N={n} strings or numbers, "
                             f"got {col.dtype} shape {col.shape}")
        info[key] = col
    return info


def _utf8(strings: np.ndarray) -> np.ndarray:
    """Fixed-length UTF-8 strings: stored in the dataset's own (checksummed) chunks, not in HDF5's
    unchecked global heap as variable-length strings are."""
    raw = np.char.encode(np.asarray(strings).astype(str), "utf-8")
    return raw.astype(h5py.string_dtype("utf-8", max(1, raw.dtype.itemsize)))


def _write_arrays(f: h5py.File, a: dict) -> tuple[dict, dict]:
    """Every dataset chunked with HDF5's fletcher32 filter, ``predictions``, ``correct_bits`` and
    ``margins`` one evaluation per chunk; returns ``{name: array_digest}`` and ``{"predictions":
    [array_digest of each row], "correct_bits": [...], "margins": [...] (if stored)}``."""
    big = max(np.abs(a["predictions"]).max(), np.abs(a["targets"]).max()) > _INT16_MAX
    dtype = np.int32 if big else np.int16
    data = {"predictions": a["predictions"].astype(dtype), "targets": a["targets"].astype(dtype),
            "image_ids": _utf8(a["image_ids"]), "epochs": a["epochs"].astype(np.int64),
            "correct_bits": pack_correct(a["predictions"], a["targets"])}
    if a["margins"] is not None:
        data["margins"] = a["margins"]
    if a["probabilities"] is not None:
        data["probabilities"] = a["probabilities"].astype(np.float16)
    if a["features"] is not None:
        data["features"] = a["features"].astype(np.float16)
        data["feature_ids"] = _utf8(a["feature_ids"])
    for key, col in a["image_info"].items():
        data[f"image_info/{key}"] = _utf8(col) if col.dtype.kind in "US" else col
    sums = {}
    for name, array in data.items():
        compress = "gzip" if name in ("predictions", "margins", "probabilities", "features") else None
        rows = name in _ROWS  # one evaluation per chunk: an epoch reads only its own
        f.create_dataset(name, data=array, compression=compress, fletcher32=True, shuffle=name == "margins",
                         chunks=(1, min(array.shape[1], ROW_CHUNK)) if rows else None,
                         maxshape=tuple(None if d == 0 else d for d in array.shape))
        sums[name] = array_digest(array)
    return sums, {name: [array_digest(row) for row in data[name]] for name in _ROWS if name in data}


_ROWS = ("predictions", "correct_bits", "margins")
"""Datasets with one row per evaluation, each row checksummed and chunked on its own."""


def _write_attrs(f: h5py.File, recipe: dict, attrs: dict, n_classes: int | None) -> None:
    """Scalars and strings as they are; anything else as JSON, named in ``json_attrs``."""
    json_attrs = ["recipe"]
    _set(f, "format", FORMAT)
    f.attrs["format_version"] = FORMAT_VERSION
    _set(f, "recipe", json.dumps(recipe, sort_keys=True, default=_json_default))
    if n_classes is not None:
        f.attrs["n_classes"] = n_classes
    for key, value in attrs.items():
        if isinstance(value, np.generic):
            value = value.item()  # numpy scalars (np.str_ has no HDF5 conversion)
        if isinstance(value, str) and "\0" not in value:
            _set(f, key, str(value))  # str subclasses (torch.__version__) too
        elif isinstance(value, (bool, int, float)):
            f.attrs[key] = value
        else:
            _set(f, key, json.dumps(value, sort_keys=True, default=_json_default))
            json_attrs.append(key)
    _set(f, "json_attrs", json.dumps(json_attrs))


def _set(f: h5py.File, key: str, value: str) -> None:
    """A string attribute as fixed-length UTF-8: kept in the (checksummed) attribute message itself,
    not in HDF5's unchecked global heap as variable-length strings are."""
    raw = value.encode("utf-8")
    f.attrs.create(key, data=raw, dtype=h5py.string_dtype("utf-8", max(1, len(raw))))
