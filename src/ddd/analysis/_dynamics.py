"""The compiled kernels of :mod:`ddd.analysis.images`' learning dynamics (imports numba: import it only
when computing them). Each does exactly what the numpy expressions in their docstrings do, cell by
cell, in one pass instead of several (parallel over blocks of images, so no two threads write one cell).
"""

import numpy as np
from numba import njit, prange

_BLOCK = 4096  # images per parallel task


@njit(parallel=True, cache=True, boundscheck=False, nogil=True)
def step(bits, who, epoch, right, since, forget, ever):
    """One evaluation of the networks ``who`` (int64 (K,)), their correctness ``c`` in ``bits`` (uint8 (K, >= N / 8),
    ``np.packbits`` order, row r = network who[r]), applied to the state of all networks::

        run = since[who]
        forget += ((run >= 0) & ~c).sum(axis=0)        # right at the previous evaluation, wrong now
        since[who] = np.where(c, np.where(run >= 0, run, epoch), -1)
        right[who] += c
        ever |= c.any(axis=0)

    right : unsigned (networks, N); since : signed (networks, N); forget : int64 (N,); ever : bool (N,)
    """
    n = right.shape[1]
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        j0 = b * _BLOCK  # a multiple of 8: whole bytes
        j1 = min(n, j0 + _BLOCK)
        for r in range(who.shape[0]):
            i = who[r]
            for j in range(j0, j1):  # branch-free: the bits are as good as random
                c = (bits[r, j >> 3] >> (7 - (j & 7))) & 1
                run = since[i, j]
                was = run >= 0
                right[i, j] += c
                forget[j] += was & (c == 0)
                ever[j] |= c == 1
                since[i, j] = (run if was else epoch) if c else -1


@njit(parallel=True, cache=True, boundscheck=False, nogil=True)
def first_learned_quantiles(since, top, q25, med, q75):
    """Per image, ``np.nanpercentile(np.where(since >= 0, since, np.nan), [25, 50, 75], axis=0)`` (NaN where no
    network has ``since >= 0``) from a count of each value 0..top: the epochs are small integers, so the
    order statistics come from cumulative counts, and numpy's linear interpolation between them is
    exact (its fractions are multiples of 1/4).

    since : signed (networks, N), values -1 (not learned) or 0..top; q25, med, q75 : float64 (N,) filled
    """
    k, n = since.shape
    qs = (0.25, 0.5, 0.75)
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        j0 = b * _BLOCK
        j1 = min(n, j0 + _BLOCK)
        hist = np.zeros((j1 - j0, top + 1), np.int64)
        for i in range(k):
            for j in range(j0, j1):
                v = since[i, j]
                if v >= 0:
                    hist[j - j0, v] += 1
        for j in range(j0, j1):
            h = hist[j - j0]
            cnt = 0
            for e in range(top + 1):
                cnt += h[e]
            for qi in range(3):
                if cnt == 0:
                    val = np.nan
                else:
                    virtual = qs[qi] * (cnt - 1)
                    lo = int(np.floor(virtual))
                    hi = min(lo + 1, cnt - 1)
                    gamma = virtual - lo
                    a = _order_statistic(h, lo)
                    bb = _order_statistic(h, hi)
                    diff = bb - a
                    val = a + diff * gamma if gamma < 0.5 else bb - diff * (1.0 - gamma)
                if qi == 0:
                    q25[j] = val
                elif qi == 1:
                    med[j] = val
                else:
                    q75[j] = val


@njit(cache=True, boundscheck=False, nogil=True)
def _order_statistic(hist, rank):
    """The value at 0-based ``rank`` of the sorted values counted in ``hist`` (float64)."""
    seen = 0
    for e in range(hist.shape[0]):
        seen += hist[e]
        if seen > rank:
            return float(e)
    return np.nan
