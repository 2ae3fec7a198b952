"""Many decisions files at one epoch: one row per file (correctness; or predictions, correctness and
margins together), each gzip chunk decompressed once."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ddd.results.decisions.core import _CallerError, _row_of
from ddd.results.decisions.read import _open


def read_correct_rows(paths, epochs, *, out=None) -> np.ndarray:
    """Correctness of many decisions files at one epoch each, reading only that row of each file.

    Image ids are *not* read; check them once beforehand (:func:`read_ids_epochs`, :func:`check_same_images`).
    Version 4 reads the row of ``correct_bits`` (N / 8 bytes), older versions the row of predictions
    (checked against the class range) and the targets; rows, targets and epochs are verified against
    their checksums and the chunks by fletcher32; a failure is a DecisionsFormatError naming the file.

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
            out[i] = r.correct(slice(row, row + 1))[0]
    return out


def _check_out(out, m: int, n: int, path: str) -> None:
    if out.shape != (m, n) or out.dtype != bool:
        raise _CallerError(f"out must be bool ({m}, {n}), got {out.dtype} {out.shape}; {path} has N={n} images")


class EpochRows(NamedTuple):
    """One epoch of M decisions files (:meth:`EpochReader.rows`); row ``i`` is ``paths[i]`` at ``epochs[i]``."""
    correct: np.ndarray      #: bool (M, N)
    predictions: np.ndarray  #: int16 (int32 if a file needs it) (M, N); -1 = no answer
    margins: np.ndarray | None  #: float16 (M, N), NaN rows for files without margins; None if not asked for
    has_margins: np.ndarray  #: bool (M,): the file stores margins (its row may still be NaN, e.g. resumed epochs)


class _RowBand(NamedTuple):
    """Consecutive rows of one file read by :meth:`EpochReader.rows`."""
    epochs: np.ndarray
    first: int
    predictions: np.ndarray
    correct: np.ndarray
    margins: np.ndarray | None
    has_margins: bool
    margins_read: bool
    n: int

    def holds(self, epoch) -> bool:
        rows = np.flatnonzero(self.epochs == int(epoch))
        return rows.size > 0 and self.first <= rows[0] < self.first + len(self.predictions)

    def index(self, epoch, path) -> int:
        return _row_of(self.epochs, int(epoch), path) - self.first


class EpochReader:
    """Correctness of many decisions files, one epoch at a time, reading every chunk once.

    :meth:`read` keeps, per file, the bit-packed correctness of a band of rows (epochs) read ahead.
    Format version 4 stores it (``correct_bits``, N / 8 bytes per evaluation): a band starts at the
    row asked for and holds as many rows (at most :attr:`BITS_BAND`) as keep all M files' bands
    within :attr:`BITS_CACHE_BYTES` (1,000 files of 50,000 images: 53 rows), so reading epochs in
    increasing order opens each file once per band, and an epoch of M files costs M N / 8 bytes.
    Older versions store ``predictions`` in gzip chunks (versions 1 and 2: several rows per chunk;
    version 3: one evaluation per chunk); their band is the rows of one chunk, at most 8 (8 chunks
    of version 3), compared with the targets and packed: at most N bytes per file, one decompression
    per chunk instead of one per row. Every band is checked as in :func:`read_correct_rows`.

    :meth:`rows` reads predictions (and margins) with the correctness: what the all-pairs engine
    needs for agreement on predicted classes and margin consistency (:mod:`ddd.analysis.agreement`).
    """

    BAND = 8
    BITS_BAND = 64
    ROW_CACHE_BYTES = 256 * 2 ** 20
    """:meth:`rows` keeps at most this many bytes of read-ahead rows (all files together)."""
    BITS_CACHE_BYTES = 320 * 2 ** 20
    """:meth:`read` keeps at most this many bytes of read-ahead ``correct_bits`` (version 4, all files together)."""

    def __init__(self):
        self._bands: dict = {}  # path -> (first row, packed correctness (rows, ceil(N / 8)), N)
        self._epochs: dict = {}  # path -> stored epochs
        self._buffers = None  # EpochRows reused by rows()
        self._rows: dict = {}  # path -> _RowBand read ahead by rows()
        self._shared: dict = {}  # checksum -> targets or epochs read (files of one study share them)

    def rows(self, paths, epochs, *, margins: bool = True) -> EpochRows:
        """Predictions, correctness and (``margins=True``) margins of ``paths[i]`` at ``epochs[i]``.

        Each file's rows of ``predictions`` and of ``margins`` are verified against their checksums
        (and their chunks' fletcher32), predictions against the class range, targets and epochs
        against theirs; failures are DecisionsFormatError naming the file.

        Memory: one epoch of M files (5 bytes per decision) returned, plus rows read ahead: a file is
        opened once for a band of up to :attr:`BAND` consecutive rows (one decompression per chunk
        of format version 3, which holds one evaluation; versions 1 and 2 keep several per chunk),
        as many as keep all files' bands within :attr:`ROW_CACHE_BYTES` (for 1,000 files of 50,000
        images: one row, i.e. no read-ahead). Reading epochs in increasing order uses each band whole.

        The arrays returned are buffers of this reader, overwritten by its next call of :meth:`rows`.
        """
        paths = [os.fspath(p) for p in paths]
        if not paths or len(epochs) != len(paths):
            raise ValueError(f"need as many epochs as paths (>= 1), got {len(paths)} paths and {len(epochs)} epochs")
        for gone in set(self._rows) - set(paths):
            del self._rows[gone]
        out = None
        for i, (path, epoch) in enumerate(zip(paths, epochs)):
            band = self._rows.get(path)
            if band is None or band.margins_read < margins or not band.holds(epoch):
                band = self._rows[path] = self._read_band(path, epoch, len(paths), margins)
            k = band.index(epoch, path)
            if out is None:
                out = self._buffer(len(paths), band.n, margins)
            if band.n != out.correct.shape[1]:
                raise _CallerError(f"{path} holds {band.n} images, {paths[0]} {out.correct.shape[1]}: "
                                   "the files of one study hold the same images")
            if band.predictions.dtype.itemsize > out.predictions.dtype.itemsize:
                out = out._replace(predictions=out.predictions.astype(band.predictions.dtype))
                self._buffers = out
            out.predictions[i] = band.predictions[k]
            out.correct[i] = band.correct[k]
            out.has_margins[i] = band.has_margins
            if margins:
                out.margins[i] = band.margins[k] if band.has_margins else np.nan
        return out

    def _read_band(self, path: str, epoch, m: int, margins: bool) -> "_RowBand":
        with _open(path) as r:
            stored = r.epochs(self._shared)
            row = _row_of(stored, int(epoch), path)
            per_row = r.n_images * (1 + r.dataset("predictions").dtype.itemsize + 2 * margins)
            size = int(max(1, min(self.BAND, self.ROW_CACHE_BYTES // max(1, m * per_row))))
            rows = slice(row, min(row + size, r.rows))
            pred = r.predictions(rows)
            correct = pred == r.targets(self._shared)[None, :]
            mar = r.margins(rows) if margins else None
            return _RowBand(stored, row, pred, correct, mar, r.has_margins, margins, r.n_images)

    def _buffer(self, m: int, n: int, margins: bool) -> EpochRows:
        b = self._buffers
        if b is None or b.correct.shape != (m, n) or (b.margins is None) == margins:
            b = self._buffers = EpochRows(np.empty((m, n), bool), np.empty((m, n), np.int16),
                                          np.empty((m, n), np.float16) if margins else None, np.empty(m, bool))
        return b

    def read(self, paths, epochs, *, out=None) -> np.ndarray:
        """Like :func:`read_correct_rows`: bool (M, N), ``out[i]`` = correctness of ``paths[i]`` at ``epochs[i]``."""
        paths = [os.fspath(p) for p in paths]
        if not paths or len(epochs) != len(paths):
            raise ValueError(f"need as many epochs as paths (>= 1), got {len(paths)} paths and {len(epochs)} epochs")
        for i, (path, epoch) in enumerate(zip(paths, epochs)):
            first, packed, n, row = self._band(path, epoch, len(paths))
            if out is None:
                out = np.empty((len(paths), n), dtype=bool)
            _check_out(out, len(paths), n, path)
            out[i] = np.unpackbits(packed[row - first], count=n).view(bool)
        return out

    def words(self, paths, epochs, *, out=None) -> np.ndarray:
        """Like :meth:`read`, bit-packed: uint64 (M, ceil(N / 64)), row ``i`` the correctness of ``paths[i]``
        at ``epochs[i]`` as ``np.packbits`` bytes (big-endian bits, ``correct_bits`` of format 4) padded
        with zeros to whole words (:func:`ddd.analysis.bitcount.pad_words`): M N / 8 bytes, no unpacking.
        ``out`` (optional) is filled in place."""
        paths = [os.fspath(p) for p in paths]
        if not paths or len(epochs) != len(paths):
            raise ValueError(f"need as many epochs as paths (>= 1), got {len(paths)} paths and {len(epochs)} epochs")
        view, n0 = None, None
        for i, (path, epoch) in enumerate(zip(paths, epochs)):
            first, packed, n, row = self._band(path, epoch, len(paths))
            if view is None:
                n0, w = n, -(-n // 64)
                if out is None:
                    out = np.empty((len(paths), w), dtype=np.uint64)
                if out.shape != (len(paths), w) or out.dtype != np.uint64:
                    raise _CallerError(f"out must be uint64 ({len(paths)}, {w}), got {out.dtype} {out.shape}; "
                                       f"{path} has N={n} images")
                view = out.view(np.uint8)
                view[:, packed.shape[1]:] = 0
            elif n != n0:
                raise _CallerError(f"{path} holds {n} images, {paths[0]} {n0}: the files of one study hold the "
                                   "same images")
            view[i, :packed.shape[1]] = packed[row - first]
        if n0 % 8:  # bits past N are 0 in every file written by ddd; enforced, so that they are never counted
            view[:, n0 // 8] &= np.uint8((0xFF << (8 - n0 % 8)) & 0xFF)
        return out

    def _band(self, path: str, epoch, m: int):
        """``(first row, packed rows, N, row of epoch)`` of ``path``'s band holding ``epoch`` (read if needed)."""
        band = self._bands.get(path)
        row = None if band is None else self._row(path, epoch)
        if band is None or not band[0] <= row < band[0] + len(band[1]):
            band = self._bands[path] = self._load(path, epoch, m)
            row = self._row(path, epoch)
        return (*band, row)

    def _row(self, path: str, epoch: int) -> int:
        return _row_of(self._epochs[path], int(epoch), path)

    def _load(self, path: str, epoch: int, m: int):
        with _open(path) as r:
            self._epochs[path] = r.epochs(self._shared)
            row = self._row(path, epoch)
            if r.has_bits:
                width = -(-r.n_images // 8)
                size = int(max(1, min(self.BITS_BAND, self.BITS_CACHE_BYTES // max(1, m * width))))
                return row, r.correct_bits(slice(row, min(row + size, r.rows))), r.n_images
            chunks = r.dataset("predictions").chunks
            rows = chunks[0] if chunks else 1
            size = min(rows if rows > 1 else self.BAND, self.BAND)  # a chunk's rows, or 8 of one-row chunks
            first = row - row % size
            correct = r.predictions(slice(first, first + size)) == r.targets()[None, :]
            return first, np.packbits(correct, axis=1), r.n_images
