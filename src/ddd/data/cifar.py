"""The CIFAR-100 python-pickle release, read without running any code stored in it."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ddd.data.folders import (_SHOW, CIFAR_PICKLE_FILES, DatasetFormatError, _check_split, _layout_error,
                      cifar100_source)

_NUMPY_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a dataset file cannot run code."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_GLOBALS and not (module == "numpy.dtypes" and name.endswith("DType")):
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core."):  # pickles written with numpy 1.x
            module = "numpy._core." + module[len("numpy.core."):]
        return super().find_class(module, name)


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _ArrayUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated, not a pickle, foreign objects, ...
        raise DatasetFormatError(f"{path} is not a readable CIFAR-100 pickle file: "
                                 f"{type(e).__name__}: {e}") from e
    if not isinstance(obj, dict):
        raise DatasetFormatError(f"{path}: expected a dict, found {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _field(d: dict, key: str, path: Path):
    if key not in d:
        raise DatasetFormatError(f"{path} lacks the key {key!r} (found: {', '.join(map(str, d))})")
    return d[key]


def _decode(s) -> str:
    return s.decode("utf-8", errors="replace") if isinstance(s, bytes) else str(s)


def _pickle_folder(root: str | os.PathLike) -> Path:
    source = cifar100_source(root)
    if source.kind != "pickle":
        raise _layout_error("cifar100", root, f"{root} holds an ImageFolder export, not the "
                            "python-pickle release (use ImageFolderSplit(..., name='cifar100'))")
    return source.path


def load_cifar100_pickle(root: str | os.PathLike, split: str):
    """Read one split of the CIFAR-100 python-pickle release.

    Parameters
    ----------
    root : the folder holding ``cifar-100-python/``, or that folder itself.
    split : ``"train"`` (file ``train``) or ``"val"`` (file ``test``).

    Returns
    -------
    images : uint8 array (N, 3, 32, 32) (the release's rows are R, G, B planes of 32 x 32).
    targets : int64 array (N,), the fine labels.
    image_ids : str array (N,), the stored file names.
    class_names : list of the fine label names (100).

    Raises
    ------
    DatasetLayoutError if a file is missing; DatasetFormatError naming the file if its content
    is corrupted or mis-shaped, or its file names are not unique.
    """
    _check_split(split)
    folder = _pickle_folder(root)
    path, meta_path = folder / CIFAR_PICKLE_FILES[split], folder / "meta"
    for p in (path, meta_path):
        if not p.is_file():
            raise _layout_error("cifar100", root, f"{p} is missing")
    d, meta = _read_pickle(path), _read_pickle(meta_path)
    class_names = [_decode(s) for s in _field(meta, "fine_label_names", meta_path)]
    data = _field(d, "data", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise DatasetFormatError(f"{path}: 'data' must be a uint8 array (N, 3072), found "
                                 f"{type(data).__name__} {getattr(data, 'dtype', '')} {shape}")
    n = len(data)
    targets = np.asarray(_field(d, "fine_labels", path))
    file_names = _field(d, "filenames", path)
    if targets.shape != (n,) or not np.issubdtype(targets.dtype, np.integer):
        raise DatasetFormatError(f"{path}: 'fine_labels' must be {n} integers, found shape {targets.shape}")
    if len(file_names) != n:
        raise DatasetFormatError(f"{path}: 'filenames' has {len(file_names)} entries for {n} images")
    if n and (targets.min() < 0 or targets.max() >= len(class_names)):
        raise DatasetFormatError(f"{path}: fine labels outside [0, {len(class_names)}) "
                                 f"({meta_path} names {len(class_names)} classes)")
    image_ids = np.array([_decode(s) for s in file_names], dtype=str)
    unique, counts = np.unique(image_ids, return_counts=True)
    if len(unique) != n:
        raise DatasetFormatError(f"{path}: file names are not unique, so they cannot serve as image "
                                 f"ids (e.g. {', '.join(unique[counts > 1][:_SHOW])})")
    images = np.require(data.reshape(n, 3, 32, 32), dtype=np.uint8, requirements=["C", "W"])
    return images, targets.astype(np.int64), image_ids, class_names

