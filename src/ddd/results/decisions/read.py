"""Reading decisions files: whole, or only what a consumer needs (ids, one row, one epoch of many files)."""

from __future__ import annotations

import json
import os
from typing import NamedTuple

import h5py
import numpy as np

from ddd.results.decisions.core import (FORMAT, FORMAT_VERSION, Decisions, DecisionsFormatError, _row_of,
                                        check_same_images, check_same_study)


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


def read_final(makers) -> FinalDecisions:
    """Every decision maker's decisions at its epoch, reading one row per decision maker.

    ``makers``: :class:`ddd.experiment.makers.DecisionMaker` objects (or their dicts). Every file's
    image ids and targets are checked against the first file's; an epoch a file does not store is
    refused, naming the decision maker, the file and the epochs it has.
    """
    from ddd.experiment.makers import as_decision_makers

    makers = as_decision_makers(makers)
    rows, seen = [], {}
    ref = None
    for m in makers:
        if m.path not in seen:
            seen[m.path] = _read_header(m.path)
            if ref is None:
                ref = (m.name, seen[m.path])
            else:
                _check_header(ref, m, seen[m.path])
        header = seen[m.path]
        if m.epoch not in set(header["epochs"].tolist()):
            raise ValueError(f"{m.name}: epoch {m.epoch} is not in {m.path} (epochs "
                             f"{header['epochs'].min()}..{header['epochs'].max()})")
        rows.append(_read_row(m.path, _row_of(header["epochs"], m.epoch, m.path)))
    first = ref[1]
    return FinalDecisions(np.stack(rows), first["targets"], first["ids"], first["class_names"])


def _read_header(path: str) -> dict:
    """Ids, targets, epochs and class names of a file, without its predictions."""
    with _open(path) as f:
        try:
            names = f.attrs.get("class_names")
            json_attrs = set(json.loads(f.attrs.get("json_attrs", '["recipe"]')))
            return {"ids": _read_ids(f, path), "targets": f["targets"][()].astype(np.int64),
                    "epochs": f["epochs"][()].astype(np.int64),
                    "class_names": json.loads(names) if names is not None and "class_names" in json_attrs else names}
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise DecisionsFormatError(f"{path}: cannot read contents (truncated or corrupt?): {e}") from e


def _check_header(ref, maker, header) -> None:
    name, first = ref
    check_same_images(first["ids"], header["ids"], names=(name, maker.name))
    if not np.array_equal(first["targets"], header["targets"]):
        raise ValueError(f"{maker.name} ({maker.path}) has other targets than {name} for the same images")


def _read_row(path: str, row: int) -> np.ndarray:
    with _open(path) as f:
        try:
            return f["predictions"][row].astype(np.int64)
        except (OSError, KeyError) as e:
            raise DecisionsFormatError(f"{path}: cannot read contents (truncated or corrupt?): {e}") from e
