"""Writing a decisions file: validation, then an atomic write (``.tmp`` renamed into place)."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

from ddd.results.decisions.core import _INT16_MAX, _RESERVED, FORMAT, FORMAT_VERSION
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
        Destination; a sibling ``<path>.tmp<pid>`` is written and renamed into place.
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
    arrays = _check_arrays(predictions, targets, image_ids, epochs, probabilities)
    arrays.update(_check_features(features, feature_ids, arrays["image_ids"]))
    arrays["image_info"] = _check_image_info(image_info, arrays["predictions"].shape[1])
    if not isinstance(recipe, dict):
        raise ValueError(f"recipe must be a dict, got {type(recipe).__name__}")
    attrs = dict(attrs or {})
    clash = sorted(set(attrs) & set(_RESERVED))
    if clash:
        raise ValueError(f"attrs may not set reserved attributes {clash}")

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            _write_arrays(f, arrays)
            _write_attrs(f, recipe, attrs)
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


def _write_arrays(f: h5py.File, a: dict) -> None:
    big = max(np.abs(a["predictions"]).max(), np.abs(a["targets"]).max()) > _INT16_MAX
    dtype = np.int32 if big else np.int16
    f.create_dataset("predictions", data=a["predictions"].astype(dtype), compression="gzip")
    f.create_dataset("targets", data=a["targets"].astype(dtype))
    f.create_dataset("image_ids", data=a["image_ids"].tolist(), dtype=h5py.string_dtype())
    f.create_dataset("epochs", data=a["epochs"].astype(np.int64))
    if a["probabilities"] is not None:
        f.create_dataset("probabilities", data=a["probabilities"].astype(np.float16), compression="gzip")
    if a["features"] is not None:
        f.create_dataset("features", data=a["features"].astype(np.float16), compression="gzip")
        f.create_dataset("feature_ids", data=a["feature_ids"].tolist(), dtype=h5py.string_dtype())
    for key, col in a["image_info"].items():
        if col.dtype.kind in "US":
            f.create_dataset(f"image_info/{key}", data=col.astype(str).tolist(), dtype=h5py.string_dtype())
        else:
            f.create_dataset(f"image_info/{key}", data=col)


def _write_attrs(f: h5py.File, recipe: dict, attrs: dict) -> None:
    """Scalars and strings as they are; anything else as JSON, named in ``json_attrs``."""
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
