"""Correctness of many decisions files at one epoch: one row per file, each gzip chunk decompressed once."""

from __future__ import annotations

import os

import numpy as np

from ddd.results.decisions.core import _CallerError, _row_of
from ddd.results.decisions.read import _open


def read_correct_rows(paths, epochs, *, out=None) -> np.ndarray:
    """Correctness of many decisions files at one epoch each, reading only that row of each file.

    Image ids are *not* read; check them once beforehand (:func:`read_ids_epochs`, :func:`check_same_images`).
    Targets and epochs are verified against their checksums, the row by the fletcher32 checksum of
    its chunk, and its predictions against the class range; a failure is a DecisionsFormatError naming the file.

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
        with _open(path) as r:
            n = r.n_images
            if out is None:
                out = np.empty((len(paths), n), dtype=bool)
            _check_out(out, len(paths), n, path)
            row = _row_of(r.epochs(), int(epoch), path)
            np.equal(r.predictions(slice(row, row + 1))[0], r.targets(), out=out[i])
    return out


def _check_out(out, m: int, n: int, path: str) -> None:
    if out.shape != (m, n) or out.dtype != bool:
        raise _CallerError(f"out must be bool ({m}, {n}), got {out.dtype} {out.shape}; {path} has N={n} images")


class EpochReader:
    """Correctness of many decisions files, one epoch at a time, decompressing every chunk once.

    ``predictions`` is stored in gzip chunks of several rows (epochs), so reading one row decompresses
    the rows around it too. The reader keeps, per file, the correctness of the last band of rows it
    decompressed (the rows of one chunk, at most 8), bit-packed: at most N bytes per file, i.e. all
    files together never hold more than one epoch's (M, N) bool matrix. Reading epochs in increasing
    order then costs one decompression per chunk instead of one per row (about 4x faster).
    Every band is checked as in :func:`read_correct_rows`.
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
            _check_out(out, len(paths), n, path)
            out[i] = np.unpackbits(packed[row - first], count=n).view(bool)
        return out

    def _row(self, path: str, epoch: int) -> int:
        return _row_of(self._epochs[path], int(epoch), path)

    def _load(self, path: str, epoch: int):
        with _open(path) as r:
            chunks = r.dataset("predictions").chunks
            self._epochs[path] = r.epochs()
            row = self._row(path, epoch)
            size = min(chunks[0] if chunks else 1, self.BAND)
            first = row - row % size
            correct = r.predictions(slice(first, first + size)) == r.targets()[None, :]
            return first, np.packbits(correct, axis=1), r.n_images
