"""Types and checks shared by the writer and the readers of decisions files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


FORMAT = "ddd-decisions"


FORMAT_VERSION = 4
"""Version written. 4: version 3 plus ``correct_bits``, every evaluation's correctness bit-packed
(one row per chunk, uncompressed, each row checksummed), so that one epoch's correctness costs
N / 8 bytes per file to read instead of a decompression of its predictions; 3: version 2 plus the
optional per-epoch ``margins`` (each row checksummed like a row of predictions) and one evaluation
per chunk of ``predictions`` and ``margins``; 2: checksummed (see the package docstring); 1: files
written before checksums. All four are read."""


READABLE_VERSIONS = (1, 2, 3, 4)


MARGINS_SINCE = 3
"""First format version that can hold ``margins``; older files have none (readers say so: None)."""


BITS_SINCE = 4
"""First format version that holds ``correct_bits``; readers of older files compare predictions with targets."""


def pack_correct(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``correct_bits`` of predictions (E+1, N) and targets (N,): uint8 (E+1, ceil(N / 8)),
    ``np.packbits(predictions == targets, axis=1)`` (big-endian bit order, the last byte padded with 0)."""
    return np.packbits(np.asarray(predictions) == np.asarray(targets)[None, :], axis=1)


ROW_CHUNK = 65536
"""Columns (images) per chunk of ``predictions`` and ``margins`` (version 3): a chunk holds one
evaluation, so reading one epoch decompresses that epoch only."""


FLOAT16_MAX = float(np.finfo(np.float16).max)


HDF5_LIBVER = ("v110", "v110")
"""HDF5 file-format bounds of version-2 files: the 1.10 format, whose metadata (superblock, object
headers with the attributes and links, chunk indexes) carries checksums that HDF5 verifies on load."""


NO_ANSWER = -1
"""A prediction that is no class: the decision maker gave no answer (model-vs-human's ``na``); wrong."""


CHECKSUM = "sha256"


_RESERVED = ("format", "format_version", "recipe", "json_attrs", "n_classes", "checksums")


_INT16_MAX = np.iinfo(np.int16).max


class DecisionsFormatError(ValueError):
    """A file is not a complete, readable, intact decisions file; the message names it."""


class _CallerError(ValueError):
    """A request a sound file cannot answer (an epoch it does not store, an ``out`` of the wrong
    shape): passed on as it is, never reported as a corrupt file."""


def _canonical(a: np.ndarray, what: str) -> tuple[bytes, np.ndarray]:
    """Header (dtype, shape) and C-contiguous data (numbers little-endian) of an array, for the digests below."""
    a = np.asarray(a)
    if a.dtype.kind not in "iufbS":
        raise TypeError(f"cannot checksum {what} of dtype {a.dtype}")
    if a.dtype.kind in "iuf":
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return f"{a.dtype.str}{tuple(a.shape)}:".encode(), np.ascontiguousarray(a)


def array_digest(a: np.ndarray) -> str:
    """SHA-256 (hex) of an array's dtype, shape and bytes, as stored in and verified against a
    version-2 file's ``checksums`` attribute."""
    header, data = _canonical(a, "an array")
    h = hashlib.sha256(header)
    h.update(data.view(np.uint8).reshape(-1) if data.size else b"")
    return h.hexdigest()


def row_digests(a: np.ndarray) -> list[str]:
    """:func:`array_digest` of every row of a 2-D array (``[array_digest(row) for row in a]``),
    the header built once: what the per-epoch readers verify a band of rows against."""
    header, data = _canonical(a, "an array")
    if data.ndim != 2:
        raise ValueError(f"row_digests needs a 2-D array, got shape {data.shape}")
    header = f"{data.dtype.str}{(data.shape[1],)}:".encode()
    raw = data.view(np.uint8).reshape(data.shape[0], -1) if data.size else [b""] * data.shape[0]
    out = []
    for row in raw:
        h = hashlib.sha256(header)
        h.update(row)
        out.append(h.hexdigest())
    return out


def attrs_digest(items) -> str:
    """SHA-256 (hex) of file attributes ``(name, value)`` as h5py reads them (``checksums`` itself
    left out): names, kinds and values, in name order."""
    h = hashlib.sha256()
    for key, value in sorted(items, key=lambda kv: kv[0]):
        if key == "checksums":
            continue
        if isinstance(value, str):
            token = b"str:" + value.encode("utf-8", "surrogatepass")
        elif isinstance(value, bytes):
            token = b"bytes:" + value
        else:
            header, data = _canonical(value, f"attribute {key!r}")
            token = header + data.tobytes()
        name = key.encode("utf-8", "surrogatepass")
        h.update(len(name).to_bytes(8, "little") + name + len(token).to_bytes(8, "little") + token)
    return h.hexdigest()


@dataclass(frozen=True)
class Decisions:
    """Contents of one decisions file; see the module docstring for shapes and dtypes.

    ``margins`` is None for files without them (format versions 1 and 2, imported decisions, or
    read with ``load_margins=False``).
    """

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
    margins: np.ndarray | None = None

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
        raise _CallerError(f"epoch {epoch} not in {path or 'decisions'}; available epochs: {list(map(int, epochs))}")
    return int(rows[0])


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
