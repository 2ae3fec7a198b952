"""Exact pair counts of right/wrong decisions by population count over bit-packed rows.

Every pair statistic of error consistency needs, per pair of decision makers ``(a, b)``, the number
of images both got right: ``both = C @ C.T`` for the 0/1 correctness ``C`` (M, N). With each row
packed into 64-bit words (bit ``k`` of a row: image ``k``), ``both[a, b]`` is the number of set bits
of ``words[a] & words[b]``: one AND and one POPCNT per 64 images instead of 64 multiply-adds. The
counts are integers, exact for any N, with no rounding anywhere.

The packing is numpy's ``np.packbits(correct, axis=1)`` (big-endian bit order inside each byte,
the last byte padded with zeros), the same as ``correct_bits`` of decisions format 4, so stored
rows are counted without unpacking; the rows are padded with zero bytes to whole 64-bit words.
Bit order does not matter for the counts as long as rows and masks are packed alike.

The kernel (:func:`ddd.analysis._popcount.gram`) is compiled with numba on first use (cached on disk next to this module or
in numba's user cache) and runs on numba's threads (``NUMBA_NUM_THREADS``, default: every CPU).
It keeps 4 rows ``a`` in registers against each row ``b``, the upper triangle only (the matrix is
symmetric), with the blocks of rows handed out so that both ends of the triangle are mixed.
Cost: M (M + 1) / 2 x ceil(N / 64) AND + POPCNT, about 0.04 s on one core for 1,000 x 50,000
(float32 ``x @ x.T`` of the same matrix: about 0.5 s).

Importing this module does not import numba; the first call does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pack", "pad_words", "both_counts"]


def pack(correct) -> np.ndarray:
    """Bit-pack 0/1 rows into 64-bit words.

    Parameters
    ----------
    correct : bool (M, N) or (N,)

    Returns
    -------
    uint64 (M, ceil(N / 64)) (or (ceil(N / 64),) for one row); bits past N are 0
    """
    c = np.asarray(correct)
    if c.dtype != bool or c.ndim not in (1, 2):
        raise ValueError(f"correct must be a bool (M, N) or (N,) array, got {c.dtype} shape {c.shape}")
    rows = c.reshape(1, -1) if c.ndim == 1 else c
    words = pad_words(np.packbits(rows, axis=1), rows.shape[1])
    return words[0] if c.ndim == 1 else words


def pad_words(packed, n: int, *, out=None) -> np.ndarray:
    """Rows of ``np.packbits`` bytes (e.g. stored ``correct_bits``) as whole 64-bit words.

    Parameters
    ----------
    packed : uint8 (M, ceil(n / 8)), big-endian bit order, the last byte's unused bits 0
    n : number of images (bits) per row
    out : uint64 (M, ceil(n / 64)), optional, filled in place

    Returns
    -------
    uint64 (M, ceil(n / 64))
    """
    p = np.asarray(packed)
    width = -(-int(n) // 8)
    if p.dtype != np.uint8 or p.ndim != 2 or p.shape[1] != width:
        raise ValueError(f"packed must be uint8 (M, {width}) for {n} images, got {p.dtype} shape {p.shape}")
    w = -(-int(n) // 64)
    if out is None:
        out = np.empty((p.shape[0], w), dtype=np.uint64)
    elif out.dtype != np.uint64 or out.shape != (p.shape[0], w):
        raise ValueError(f"out must be uint64 ({p.shape[0]}, {w}), got {out.dtype} shape {out.shape}")
    b = out.view(np.uint8).reshape(p.shape[0], 8 * w)
    b[:, :width] = p
    b[:, width:] = 0
    return out


def both_counts(words, *, mask=None) -> np.ndarray:
    """``both[a, b]``: the images right for both ``a`` and ``b`` (the diagonal: each one's number right).

    Parameters
    ----------
    words : uint64 (M, W), rows of :func:`pack` or :func:`pad_words`
    mask : uint64 (W,), optional: count only the images whose bit is set (:func:`pack` of a bool (N,) mask)

    Returns
    -------
    int64 (M, M), symmetric; equal to ``C[:, mask] @ C[:, mask].T`` in exact integers
    """
    x = np.asarray(words)
    if x.dtype != np.uint64 or x.ndim != 2:
        raise ValueError(f"words must be a uint64 (M, W) array, got {x.dtype} shape {x.shape}")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.uint64 or mask.shape != (x.shape[1],):
            raise ValueError(f"mask must be uint64 ({x.shape[1]},), got {mask.dtype} shape {mask.shape}")
        x = x & mask[None, :]
    x = np.ascontiguousarray(x)
    m = x.shape[0]
    out = np.zeros((m, m), dtype=np.int64)
    if m and x.shape[1]:
        from ddd.analysis._popcount import gram  # numba: imported (and the kernel compiled or loaded) on first use

        gram(x, out)
    upper = np.triu(out)
    return upper + np.triu(out, 1).T

