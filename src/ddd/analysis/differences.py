"""Do two error consistencies differ? Differences of κ with intervals, p-values and Holm's adjustment.

A *comparison* is κ of one pair of decision makers on one subset of images; a *difference* is
Δκ = κ(first) − κ(second) of two comparisons that share a decision maker or a pair:
κ(base, A) against κ(base, B) on the same images, or κ(A, B) on the in-between images against
κ(A, B) on all images.

Methods (README "Do they differ?")
----------------------------
*Paired bootstrap over images* (:func:`kappa_differences`): resample the N images with replacement
(``numpy.random.default_rng(seed)``); each resample gives both κ from the same images, so their
correlation is kept. The interval is the percentile interval of the resampled Δκ; the p-value is
two-sided, ``2 Φ(−|Δ| / sd*)`` with sd* the standard deviation of the resampled Δκ (a Wald test
with the bootstrap's standard error). Counting resamples beyond zero cannot give p below
about 1 / B. Holm's adjustment multiplies the smallest p by the number of comparisons, so with
hundreds of comparisons per study nothing could ever pass. Resamples in which either κ is
undefined are left out and counted. A subset (the in-between images) is fixed by the full data; its size
varies with the resample.

*Response-swap permutation test* (Klein, Meyen, Brendel, Wichmann & Meding 2025): for κ(R, A)
against κ(R, B) on the same images, the null hypothesis is that A and B are exchangeable with
respect to R. Each permutation swaps A's and B's responses on every image independently with
probability 1/2 and recomputes Δκ. Swapping makes the null distribution symmetric about 0. It is
a sum of independent per-image contributions, so it is close to normal, and the p-value is
``2 Φ(−|Δ| / sd_perm)`` from the permutations' standard deviation, for the same reason as above
(the rate tests in ``tests/test_differences.py`` check its level). Klein et al.'s code also
resamples the images in each draw, which only widens the null distribution; ddd keeps the images. Comparisons that do not share
exactly one decision maker on the same subset (all against in-between images) have no swap test.

*Conditions* (:func:`condition_differences`): a condition's κ is the mean over its comparisons
(one per run, e.g. each of five initialisations against the base). Its interval takes both
sources of variation: each resample draws the images *and*, within every condition, its runs with
replacement (a two-stage bootstrap), so a condition whose runs disagree gets a wide interval even
on many images. A condition of one run has the image spread only (``n_runs`` says so).

*Multiple comparisons*: :func:`holm` adjusts the p-values of one family (Holm 1979, step-down,
controls the family-wise error rate). :func:`study_differences` forms two families per study, the
decision-maker comparisons and the condition comparisons, named in the ``holm_family`` column.

All arrays: ``correct`` bool (M, N), decision makers x images. Counts come from float32 matrix
products of resample weights (exact below 2^24 images), all comparisons of a resample at once.

Cost and memory (issue 19)
--------------------------
The images are split into disjoint parts by the subsets (with one subset: inside and outside), so
each image is multiplied once however many subsets hold it. All ``n_boot`` resample weights are
drawn once (the same random stream as drawing them chunk by chunk) and held as float32 (n_boot x N;
200 MB at 1,000 x 50,000). A *key* is a pair of decision makers on a subset; its counts under every
resample are one product of the weights with the pair's joint correctness ``c_i & c_j``, built for a
block of pairs at a time (<= 32 MiB) and shared by the pair's subsets: O(n_boot N) multiply-adds per
pair. κ of a batch of keys (<= 16 MiB of float64) is computed for every resample and its comparisons
summarised block by block (percentiles, standard deviation, undefined count), so memory does not
grow with the number of comparisons. The swap test of a group (R, subset) keeps only the swapped-in
counts of its decision makers (n_perm x decision makers) and evaluates its rows in blocks.

What a study compares (:func:`study_differences`) with R runs compared with the base and M decision
makers: ``vs_base`` R (R − 1) comparisons (every two runs, on all and in-between images: pairs of
pairs, quadratic in R, but their counts need only R keys per subset); ``in_between_vs_all``
M (M − 1) / 2 comparisons, whose counts are n_boot weighted Gram matrices: n_boot N M² / 2
multiply-adds, 2.5e13 at 1,000 x 50,000 x 1,000 resamples, which dominates at that size (it is
the arithmetic of 1,000 epochs of the all-pairs engine). Above :data:`AUTO_ALL_MAX` decision makers
``scope="auto"`` therefore focuses both families (``vs_base`` within a condition, ``in_between_vs_all``
for the compared pairs): 26,551 rows for 1,000 decision makers in 40 conditions, 11 s with 1,000
resamples and permutations. Every number equals the implementation
before this rewrite (``tests/test_scale_equality.py`` against a frozen copy): the same random
draws, exact integer counts, κ by the same operations, and column reductions in the same order.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ddd.analysis.kappa import _F32_EXACT, _as_correct, _check_undefined
from ddd.analysis.uncertainty import resample_weights
from ddd.results.pairs import CONDITION_COLUMNS, DIFFERENCE_COLUMNS

__all__ = ["holm", "is_focused", "kappa_differences", "condition_differences", "study_differences", "DIFFERENCE_COLUMNS",
           "CONDITION_COLUMNS", "ALPHA"]

log = logging.getLogger(__name__)
ALPHA = 0.05
SCOPES = ("auto", "all", "focused")
AUTO_ALL_MAX = 100
"""``scope="auto"`` of :func:`study_differences` is ``"all"`` up to this many decision makers, ``"focused"`` above."""


def is_focused(scope: str, n_makers: int) -> bool:
    """Whether per-pair resampling of ``n_makers`` decision makers is focused (``scope`` one of :data:`SCOPES`)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    return scope == "focused" or (scope == "auto" and n_makers > AUTO_ALL_MAX)
_CHUNK_CELLS = 2 ** 23  # resample weights held at once: <= 32 MiB float32
_BLOCK_CELLS = 2 ** 21  # resampled or permuted κ (or Δκ) held at once per block: <= 16 MiB float64
_JOINT_CELLS = 2 ** 23  # joint correctness of a block of pairs as float32: <= 32 MiB


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family, float (K,) -> float (K,).

    NaN entries (no test) are left NaN and do not count towards the family's size.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(ok)
    if idx.size:
        order = idx[np.argsort(p[idx], kind="stable")]
        k = order.size
        adjusted = np.maximum.accumulate(p[order] * (k - np.arange(k)))
        out[order] = np.minimum(1.0, adjusted)
    return out


def _check_options(ci, n_boot, n_perm) -> None:
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci!r}")
    if int(n_boot) != n_boot or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    if int(n_perm) != n_perm or n_perm < 0:
        raise ValueError(f"n_perm must be an integer >= 0, got {n_perm!r}")


def _masks(subsets, n: int) -> dict:
    masks = {"all": None}
    for name, mask in (subsets or {}).items():
        mask = np.asarray(mask)
        if mask.shape != (n,) or mask.dtype != bool:
            raise ValueError(f"subset {name!r} must be a bool mask of shape ({n},), got {mask.dtype} {mask.shape}")
        if name == "all":
            raise ValueError("the subset name 'all' is reserved for every image")
        masks[str(name)] = mask
    return masks


def _pairs(pairs, m: int, what: str) -> np.ndarray:
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if p.size and (p.min() < 0 or p.max() >= m):
        raise ValueError(f"{what} index decision makers outside [0, {m})")
    if np.any(p[:, 0] == p[:, 1]):
        raise ValueError(f"{what} must pair two different decision makers")
    return p


class _Parts:
    """The images split into disjoint parts by the subsets (every image in exactly one part), so that a
    subset's counts are sums over its parts and "all" the sum over every part: each image is
    multiplied once however many subsets hold it. ``cb``: each part's correctness, bool (M, n_part)."""

    def __init__(self, c: np.ndarray, masks: dict):
        self.c, self.masks = c, masks
        names = [s for s in masks if masks[s] is not None]
        code = np.zeros(c.shape[1], dtype=np.int64)
        for b, s in enumerate(names):
            code |= masks[s].astype(np.int64) << b
        atoms, inverse = np.unique(code, return_inverse=True)
        self.cols = [np.flatnonzero(inverse == a) for a in range(len(atoms))]
        self.whole = len(self.cols) == 1
        self.cb = [c if self.whole else np.ascontiguousarray(c[:, cols]) for cols in self.cols]
        self.of_subset = {"all": list(range(len(atoms)))}
        for b, s in enumerate(names):
            self.of_subset[s] = [a for a, x in enumerate(atoms) if (x >> b) & 1]

    def split(self, w: np.ndarray) -> list:
        """Weights (r, N) -> one float32 (r, n_part) array per part."""
        if self.whole:
            return [w.astype(np.float32, copy=False)]
        return [w[:, cols].astype(np.float32) for cols in self.cols]  # no full-size float32 copy

    def sizes(self, wp: list) -> np.ndarray:
        """float64 (r, parts): images drawn per part (exact integers)."""
        return np.stack([x.sum(axis=1, dtype=np.float64) for x in wp], axis=1)

    def singles(self, wp: list) -> np.ndarray:
        """float64 (r, parts, M): images right per decision maker and part (exact integers)."""
        m = self.c.shape[0]
        out = np.empty((wp[0].shape[0], len(wp), m))
        for a, (x, cb) in enumerate(zip(wp, self.cb)):
            step = max(1, _JOINT_CELLS // max(1, cb.shape[1]))
            for r0 in range(0, m, step):
                out[:, a, r0:r0 + step] = np.rint(x @ cb[r0:r0 + step].astype(np.float32).T)
        return out


def _kappa(n, k_a, k_b, k_ab, undefined: str) -> np.ndarray:
    """κ of :func:`ddd.analysis.kappa.pair_table` from exact counts (float64 integers, broadcast), the same
    operations in the same order (so the same bits) without its other columns and checks; the counts
    come from exact products, so they are always possible."""
    ok = n > 0
    nn = np.where(ok, n, 1.0)
    p_a, p_b = k_a / nn, k_b / nn
    c_obs = (n - k_a - k_b + 2 * k_ab) / nn
    c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)
    extreme_a, extreme_b = (p_a == 0) | (p_a == 1), (p_b == 0) | (p_b == 1)
    undef = extreme_a & extreme_b & (p_a == p_b)
    if undefined == "raise" and np.any(undef & ok):
        raise ValueError(f"kappa undefined (both decision makers 100 % right or both 100 % wrong) "
                         f"at {int((undef & ok).sum())} of {undef.size} entries")
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (c_obs - c_exp) / (1 - c_exp)
    kappa = np.where(extreme_a != extreme_b, 0.0, kappa)
    kappa = np.where(undef, np.nan, kappa)
    if undefined == "mvh":
        kappa = np.where(c_obs == 1, 1.0, kappa)
    return np.where(ok, kappa, np.nan)


class _Counts:
    """κ of many (pair, subset) comparisons under resample weights, all at once.

    ``keys``: int (K, 3) rows ``(i, j, subset index)``. The joint correctness ``c_i & c_j`` of a block
    of keys (at most ``_JOINT_CELLS`` cells) is built on the parts of the key's subset only and
    multiplied by the weights: O(r N K) multiply-adds for K keys and r resamples, with no (K, N)
    matrix held. :meth:`kappas` takes image weights (r, N) and returns κ (r, K).
    """

    def __init__(self, parts: _Parts, keys: np.ndarray, subset_names: list, undefined: str):
        self.parts, self.undefined = parts, undefined
        self.keys = np.asarray(keys, dtype=np.int64).reshape(-1, 3)
        self.subset_parts = [parts.of_subset[s] for s in subset_names]

    def kappas(self, w, *, singles=None, sizes=None) -> np.ndarray:
        """κ (r, K) under weights ``w`` (r, N) (or their :meth:`_Parts.split`); ``singles``/``sizes``:
        :meth:`_Parts.singles` / :meth:`_Parts.sizes` of the same weights when already computed."""
        parts = self.parts
        wp = parts.split(w) if isinstance(w, np.ndarray) else w
        if sizes is None:
            sizes = parts.sizes(wp)
        if singles is None:
            singles = parts.singles(wp)
        r, keys, m = wp[0].shape[0], self.keys, parts.c.shape[0]
        out = np.empty((r, len(keys)))
        # Each pair's product on each part is made once and shared by its keys (e.g. the in-between
        # part serves both "in_between" and "all").
        pairs, pair_of = np.unique(keys[:, 0] * m + keys[:, 1], return_inverse=True)
        need = np.zeros((len(pairs), len(parts.cb)), dtype=bool)
        for s, pa in enumerate(self.subset_parts):
            for a in pa:
                need[pair_of[keys[:, 2] == s], a] = True
        by_pair = np.argsort(pair_of, kind="stable")
        bounds = np.searchsorted(pair_of[by_pair], np.arange(len(pairs) + 1))
        one = [singles[:, pa].sum(axis=1) for pa in self.subset_parts]  # (r, M) per subset
        n_s = [sizes[:, pa].sum(axis=1)[:, None] for pa in self.subset_parts]
        step = max(1, _JOINT_CELLS // max(cb.shape[1] for cb in parts.cb))
        for p0 in range(0, len(pairs), step):  # a block of pairs: its products and κ, small temporaries
            blk = slice(p0, min(p0 + step, len(pairs)))
            i, j = pairs[blk] // m, pairs[blk] % m
            prod = np.zeros((r, len(parts.cb), len(i)))
            for a, cb in enumerate(parts.cb):
                sel = np.flatnonzero(need[blk, a])
                if sel.size:
                    joint = (cb[i[sel]] & cb[j[sel]]).astype(np.float32)
                    prod[:, a, sel] = np.rint(wp[a] @ joint.T)
            at = by_pair[bounds[blk.start]:bounds[blk.stop]]
            for s, pa in enumerate(self.subset_parts):
                ks = at[keys[at, 2] == s]
                if ks.size:
                    local = pair_of[ks] - blk.start
                    kab = prod[:, pa][:, :, local].sum(axis=1)
                    out[:, ks] = _kappa(n_s[s], one[s][:, keys[ks, 0]], one[s][:, keys[ks, 1]], kab, self.undefined)
        return out

    def point(self) -> tuple[np.ndarray, np.ndarray]:
        """κ and number of images of every key on the data."""
        w = np.ones((1, self.parts.c.shape[1]), dtype=np.float32)
        sizes = self.parts.sizes(self.parts.split(w))
        n = np.array([sizes[0, pa].sum() for pa in self.subset_parts], dtype=np.int64)[self.keys[:, 2]]
        return self.kappas(w, sizes=sizes)[0], n


def _resampled(counts: _Counts, n_boot: int, rng):
    """Yield ``(first resample, κ (r, keys))`` for ``n_boot`` bootstrap resamples of the images, in chunks."""
    n = counts.parts.c.shape[1]
    chunk = max(1, _CHUNK_CELLS // n)
    for s in range(0, n_boot, chunk):
        yield s, counts.kappas(resample_weights(rng, min(chunk, n_boot - s), n))


def _normal_p(delta: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Two-sided p of Δ = 0 from the standard deviation of resampled or permuted Δ (B, K): 2 Φ(−|Δ| / sd).

    NaN draws are left out; NaN where fewer than two draws are defined. A zero sd gives 1 for
    Δ = 0 and 0 otherwise.
    """
    from scipy.stats import norm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(draws, axis=0, ddof=1)
        z = np.where(sd > 0, np.abs(delta) / np.where(sd > 0, sd, 1.0), np.where(delta == 0, 0.0, np.inf))
    p = 2 * norm.sf(z)
    return np.where(np.isfinite(delta) & (np.isfinite(draws).sum(axis=0) >= 2), p, np.nan)


def _percentiles(boot: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of every column of ``boot`` (B, K), NaN draws left out (``numpy.nanpercentile``).

    Columns without NaN go through ``numpy.percentile`` at once (the same order statistics and
    interpolation, column by column, as ``nanpercentile``, which loops over columns in Python).
    """
    q = [50 * (1 - ci), 50 * (1 + ci)]
    lo, hi = np.empty(boot.shape[1]), np.empty(boot.shape[1])
    bad = np.isnan(boot).any(axis=0)
    if not bad.all():
        lo[~bad], hi[~bad] = np.percentile(boot[:, ~bad], q, axis=0)
    if bad.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
            lo[bad], hi[bad] = np.nanpercentile(boot[:, bad], q, axis=0)
    return lo, hi


def _blocks(total: int, size: int) -> list:
    """Slices of ``range(total)`` of about ``size``; none of length 1 unless ``total`` is 1 (a column
    reduction over a single column sums in another order, so blocks keep the sums of the whole)."""
    size = max(2, int(size))
    out = [slice(a, min(a + size, total)) for a in range(0, total, size)]
    if len(out) > 1 and out[-1].stop - out[-1].start == 1:
        out[-2:] = [slice(out[-2].start, total)]
    return out


def _summarise(draws: np.ndarray, delta: np.ndarray, ci: float, wide: bool):
    """Interval, p and undefined count of a block of Δ draws (B, k); ``wide``: the whole has >= 2
    columns, so a single column is summarised beside a copy of itself (see :func:`_blocks`)."""
    k = draws.shape[1]
    if wide and k == 1:
        draws, delta = np.repeat(draws, 2, axis=1), np.repeat(delta, 2)
    lo, hi = _percentiles(draws, ci)
    p = _normal_p(delta, draws)
    return lo[:k], hi[:k], p[:k], np.isnan(draws[:, :k]).sum(axis=0)


def _draw_weights(rng, n_boot: int, n: int) -> np.ndarray:
    """All bootstrap resample weights (n_boot, N) as small integers (uint8, uint16 if needed), drawn in
    the chunks of :func:`_resampled` so that the random stream is the same."""
    chunk = max(1, _CHUNK_CELLS // n)
    out = np.empty((n_boot, n), dtype=np.uint8)
    for s in range(0, n_boot, chunk):
        w = resample_weights(rng, min(chunk, n_boot - s), n)
        if w.max() > np.iinfo(out.dtype).max:
            out = out.astype(np.uint16)
        out[s:s + len(w)] = w
    return out


def _bootstrap(parts: _Parts, keys, subset_names, kf, ks, delta, weights, *, ci, undefined):
    """Percentile interval, bootstrap p and undefined resamples of Δ = κ(keys[kf]) − κ(keys[ks]).

    Keys are taken in batches of at most ``_BLOCK_CELLS / n_boot`` in the order of their pairs (a
    pair's subsets side by side, the base's pairs first), κ of a batch computed for every resample, then its
    comparisons summarised in blocks. Comparisons whose keys fall in two batches are done at the end
    in batches of their own keys. Memory: a few blocks of ``_BLOCK_CELLS`` float64 plus the weights.
    """
    n_boot, n = weights.shape
    wp = parts.split(weights)  # float32, all resamples (1,000 x 50,000: 200 MB)
    sizes, singles = parts.sizes(wp), parts.singles(wp)
    budget = max(2, _BLOCK_CELLS // n_boot)
    batch_of = np.arange(len(keys)) // budget  # keys are in order of their pair: a pair's subsets together
    batches = [np.arange(a, min(a + budget, len(keys))) for a in range(0, len(keys), budget)]
    lo, hi, p = (np.full(len(kf), np.nan) for _ in range(3))
    n_undef = np.zeros(len(kf), dtype=np.int64)
    wide = len(kf) >= 2
    inside = batch_of[kf] == batch_of[ks]
    by_batch = np.argsort(np.where(inside, batch_of[kf], len(batches)), kind="stable")
    bounds = np.searchsorted(np.where(inside, batch_of[kf], len(batches))[by_batch], np.arange(len(batches) + 1))
    jobs = [(batches[b], by_batch[bounds[b]:bounds[b + 1]]) for b in range(len(batches))]
    cross = by_batch[bounds[-1]:]
    for piece in _blocks(len(cross), budget // 2) if len(cross) else []:
        cmp = cross[piece]
        jobs.append((np.unique(np.concatenate([kf[cmp], ks[cmp]])), cmp))
    for ids, cmp in jobs:
        if not len(cmp):
            continue
        kap = _Counts(parts, keys[ids], subset_names, undefined).kappas(wp, singles=singles, sizes=sizes)
        local = np.full(len(keys), -1, dtype=np.int64)
        local[ids] = np.arange(len(ids))
        for blk in _blocks(len(cmp), budget):
            c_ = cmp[blk]
            d = np.ascontiguousarray(kap[:, local[kf[c_]]] - kap[:, local[ks[c_]]])  # C order: sums as before
            lo[c_], hi[c_], p[c_], n_undef[c_] = _summarise(d, delta[c_], ci, wide)
    return lo, hi, p, n_undef


def _swap_p(c, first, second, fs, ss, masks, delta, *, n_perm, rng, undefined) -> np.ndarray:
    """p of the response-swap test for rows (R, A) vs (R, B) on one subset; NaN for other rows.

    Rows are grouped by (R, subset); each group draws its swaps in chunks (the same draws whatever the
    group's size), keeps only the swapped-in counts (n_perm, decision makers of the group) and then
    evaluates its rows in blocks, so memory is bounded by the block, not by the number of rows.
    """
    p = np.full(len(first), np.nan)
    if n_perm == 0 or not len(first):
        return p
    a1, b1, a2, b2 = first[:, 0], first[:, 1], second[:, 0], second[:, 1]
    same_sub = np.array([x == y for x, y in zip(fs, ss)])
    same_pair = ((a1 == a2) & (b1 == b2)) | ((a1 == b2) & (b1 == a2))
    # the one shared decision maker R, or -1
    shared = np.full(len(first), -1, dtype=np.int64)
    for x, y in ((a1, a2), (a1, b2), (b1, a2), (b1, b2)):
        hit = (x == y) & (shared == -1)
        shared[hit] = x[hit]
    ok = same_sub & ~same_pair & (shared >= 0)
    rows = np.flatnonzero(ok)
    r = shared[rows]
    oa = np.where(b1[rows] == r, a1[rows], b1[rows])
    ob = np.where(b2[rows] == r, a2[rows], b2[rows])
    groups: dict = {}
    for k, rr, s_ in zip(rows.tolist(), r.tolist(), [fs[x] for x in rows.tolist()]):
        groups.setdefault((rr, s_), []).append(k)
    at = {k: x for x, k in enumerate(rows.tolist())}
    n_all = c.shape[1]
    for (r, s), items in groups.items():
        mask = masks[s]
        cols = np.arange(n_all) if mask is None else np.flatnonzero(mask)
        n = cols.size
        ref = c[r, cols]
        pos = np.array([at[k] for k in items])
        ia_m, ib_m = oa[pos], ob[pos]
        others = np.unique(np.concatenate([ia_m, ib_m]))
        x = c[others][:, cols]
        rx = x & ref
        k_x, k_rx, k_r = x.sum(axis=1), rx.sum(axis=1), int(ref.sum())
        ia, ib = np.searchsorted(others, ia_m), np.searchsorted(others, ib_m)
        sx = np.empty((int(n_perm), len(others)), dtype=np.float64)
        srx = np.empty_like(sx)
        done = 0
        chunk = max(1, _CHUNK_CELLS // max(n, 1))
        rows = max(1, _JOINT_CELLS // max(n, 1))
        while done < n_perm:
            mm = min(chunk, n_perm - done)
            s_ = rng.integers(0, 2, size=(mm, n), dtype=np.int8).astype(np.float32)
            for r0 in range(0, len(others), rows):  # swapped-in part of each decision maker (m, others)
                sx[done:done + mm, r0:r0 + rows] = np.rint(s_ @ x[r0:r0 + rows].astype(np.float32).T)
                srx[done:done + mm, r0:r0 + rows] = np.rint(s_ @ rx[r0:r0 + rows].astype(np.float32).T)
            done += mm
        del x, rx
        items = np.array(items)
        kx, krx = k_x.astype(np.float64), k_rx.astype(np.float64)
        for blk in _blocks(len(items), _BLOCK_CELLS // int(n_perm)):
            ja, jb = ia[blk], ib[blk]
            # A' = A + s (B - A), B' = B - s (B - A), elementwise over images.
            swap = sx[:, jb] - sx[:, ja]
            ka, kb = kx[ja] + swap, kx[jb] - swap
            swap = srx[:, jb] - srx[:, ja]
            kra, krb = krx[ja] + swap, krx[jb] - swap
            null = np.ascontiguousarray(_kappa(float(n), float(k_r), ka, kra, undefined)
                                        - _kappa(float(n), float(k_r), kb, krb, undefined))  # C order: sums as before
            p[items[blk]] = _normal_p(delta[items[blk]], null)
    return p


def kappa_differences(correct, first, second, *, first_subset=None, second_subset=None, subsets=None,
                      ci: float = 0.95, n_boot: int = 1000, n_perm: int = 1000, seed=0,
                      undefined: str = "nan") -> pd.DataFrame:
    """Δκ = κ(first) − κ(second) of pairs of comparisons, with a paired bootstrap and the swap test.

    Parameters
    ----------
    correct : bool (M, N), decision makers x images.
    first, second : int (P, 2), the pair of decision makers (row indices) of each comparison.
    first_subset, second_subset : P subset names (default ``"all"``), keys of ``subsets``.
    subsets : ``{name: bool (N,)}``, images of each named subset (``"all"`` is every image).
    ci, n_boot : confidence level and bootstrap resamples; n_perm : permutations of the swap test (0: none).
    seed : seed of ``numpy.random.default_rng``; undefined : κ where undefined (:mod:`ddd.analysis.kappa`).

    Returns
    -------
    DataFrame, one row per comparison: kappa_first, kappa_second, delta, ci_low, ci_high (percentile
    interval over images), p_bootstrap, p_swap (NaN where the swap test does not apply), n_first,
    n_second (images), n_boot_undefined (resamples with an undefined κ, left out).
    """
    _check_undefined(undefined)
    _check_options(ci, n_boot, n_perm)
    c = _as_correct(correct, "correct", 2)
    m, n = c.shape
    if n >= _F32_EXACT:
        raise ValueError(f"at most {_F32_EXACT - 1} images (float32 counts), got {n}")
    first, second = _pairs(first, m, "first"), _pairs(second, m, "second")
    if len(first) != len(second):
        raise ValueError(f"{len(first)} first comparisons but {len(second)} second ones")
    masks = _masks(subsets, n)
    fs = ["all"] * len(first) if first_subset is None else [str(s) for s in first_subset]
    ss = ["all"] * len(first) if second_subset is None else [str(s) for s in second_subset]
    if len(fs) != len(first) or len(ss) != len(first):
        raise ValueError("first_subset and second_subset need one name per comparison")
    unknown = sorted(set(fs + ss) - set(masks))
    if unknown:
        raise ValueError(f"unknown subsets {unknown}; given: {sorted(masks)}")
    subset_names = list(masks)
    at_subset = {x: k for k, x in enumerate(subset_names)}
    lo = np.minimum(np.vstack([first, second])[:, 0], np.vstack([first, second])[:, 1])
    hi = np.maximum(np.vstack([first, second])[:, 0], np.vstack([first, second])[:, 1])
    sub = np.array([at_subset[x] for x in fs + ss], dtype=np.int64)
    code = (lo * m + hi) * len(subset_names) + sub  # keys in order of their pair, a pair's subsets together
    uniq, first_at, inverse = np.unique(code, return_index=True, return_inverse=True)
    keys = np.stack([lo[first_at], hi[first_at], sub[first_at]], axis=1)
    kf, ks = inverse[:len(first)], inverse[len(first):]
    parts = _Parts(c, masks)
    point, n_images = _Counts(parts, keys, subset_names, undefined).point()
    delta = point[kf] - point[ks]
    rng = np.random.default_rng(seed)
    weights = _draw_weights(rng, int(n_boot), n)
    lo_ci, hi_ci, p_boot, n_undef = _bootstrap(parts, keys, subset_names, kf, ks, delta, weights, ci=ci,
                                               undefined=undefined)
    del weights
    p_swap = _swap_p(c, first, second, fs, ss, masks, delta, n_perm=int(n_perm), rng=rng, undefined=undefined)
    return pd.DataFrame({"kappa_first": point[kf], "kappa_second": point[ks], "delta": delta, "ci_low": lo_ci,
                         "ci_high": hi_ci, "p_bootstrap": p_boot,
                         "p_swap": p_swap, "n_first": n_images[kf], "n_second": n_images[ks],
                         "n_boot_undefined": n_undef})


def condition_differences(correct, conditions: Mapping[str, Sequence], *, subsets=None, compare=None,
                          ci: float = 0.95, n_boot: int = 1000, seed=0,
                          undefined: str = "nan") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean κ of conditions with a two-stage bootstrap (images and runs), and their differences.

    Parameters
    ----------
    correct : bool (M, N).
    conditions : ``{condition: [(i, j), ...]}``, the comparisons (index pairs) whose mean is the
        condition's κ, one per run (e.g. ``[(base, init_1), ..., (base, init_5)]``).
    subsets : ``{name: bool (N,)}``; every condition is measured on ``"all"`` and on each subset.
    compare : sequence of ``((condition, subset), (condition, subset))`` differences to test
        (Δ = first − second); default: every pair of conditions on each subset, and every condition
        on each subset against itself on all images.
    ci, n_boot, seed, undefined : as in :func:`kappa_differences`.

    Returns
    -------
    per_condition : DataFrame, one row per condition and subset: kappa (mean over its runs), ci_low,
        ci_high (percentile interval of the two-stage bootstrap), n_runs, n_images, n_boot_undefined.
    differences : DataFrame, one row per entry of ``compare``: first, first_subset, second,
        second_subset, kappa_first, kappa_second, delta, ci_low, ci_high, p_bootstrap, n_runs_first,
        n_runs_second, n_first, n_second, n_boot_undefined.
    """
    _check_undefined(undefined)
    _check_options(ci, n_boot, 0)
    c = _as_correct(correct, "correct", 2)
    m, n = c.shape
    masks = _masks(subsets, n)
    if not conditions:
        raise ValueError("no conditions given")
    runs = {str(k): _pairs(v, m, f"condition {k!r}") for k, v in conditions.items()}
    empty = [k for k, v in runs.items() if len(v) == 0]
    if empty:
        raise ValueError(f"conditions without comparisons: {empty}")
    names = list(runs)
    if compare is None:
        compare = [((a, s), (b, s)) for s in masks for x, a in enumerate(names) for b in names[x + 1:]]
        compare += [((a, s), (a, "all")) for s in masks if s != "all" for a in names]
    compare = [((str(a), str(sa)), (str(b), str(sb))) for (a, sa), (b, sb) in compare]
    for (a, sa), (b, sb) in compare:
        for cond, sub in ((a, sa), (b, sb)):
            if cond not in runs or sub not in masks:
                raise ValueError(f"unknown condition {cond!r} or subset {sub!r}; conditions: {names}, "
                                 f"subsets: {sorted(masks)}")
    keys = list(dict.fromkeys((min(i, j), max(i, j), s) for s in masks for v in runs.values()
                              for i, j in v.tolist()))
    col = {k: x for x, k in enumerate(keys)}
    cells = [(cond, s) for cond in names for s in masks]
    member = {(cond, s): np.array([col[(min(i, j), max(i, j), s)] for i, j in runs[cond].tolist()])
              for cond, s in cells}
    subset_names = list(masks)
    at_subset = {x: k for k, x in enumerate(subset_names)}
    counts = _Counts(_Parts(c, masks), [(i, j, at_subset[x]) for i, j, x in keys], subset_names, undefined)
    point_k, n_images = counts.point()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        point = {cell: float(np.nanmean(point_k[member[cell]])) for cell in cells}
    rng = np.random.default_rng(seed)
    boot = np.empty((int(n_boot), len(cells)))
    for s, kap in _resampled(counts, int(n_boot), rng):
        r = len(kap)
        draws = {cond: rng.integers(0, len(runs[cond]), size=(r, len(runs[cond]))) for cond in names}
        for x, (cond, sub) in enumerate(cells):
            picked = np.take_along_axis(kap[:, member[(cond, sub)]], draws[cond], axis=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                boot[s:s + r, x] = np.nanmean(picked, axis=1)
    lo, hi = _percentiles(boot, ci)
    at = {cell: x for x, cell in enumerate(cells)}
    per = pd.DataFrame({"condition": [a for a, _ in cells], "subset": [s for _, s in cells],
                        "kappa": [point[cell] for cell in cells], "ci_low": lo, "ci_high": hi,
                        "n_runs": [len(runs[a]) for a, _ in cells],
                        "n_images": [int(n_images[member[cell][0]]) for cell in cells],
                        "n_boot_undefined": np.isnan(boot).sum(axis=0)})
    if compare:
        fi, si = np.array([at[a] for a, _ in compare]), np.array([at[b] for _, b in compare])
        d_boot = boot[:, fi] - boot[:, si]
        d_lo, d_hi = _percentiles(d_boot, ci)
        delta = np.array([point[a] - point[b] for a, b in compare])
        p = _normal_p(delta, d_boot)
    else:
        d_boot = np.empty((int(n_boot), 0))
        delta = d_lo = d_hi = p = np.empty(0)
    diffs = pd.DataFrame({"first": [a for (a, _), _ in compare], "first_subset": [s for (_, s), _ in compare],
                          "second": [b for _, (b, _) in compare], "second_subset": [s for _, (_, s) in compare],
                          "kappa_first": [point[a] for a, _ in compare],
                          "kappa_second": [point[b] for _, b in compare], "delta": delta, "ci_low": d_lo,
                          "ci_high": d_hi, "p_bootstrap": p,
                          "n_runs_first": [len(runs[a]) for (a, _), _ in compare],
                          "n_runs_second": [len(runs[b]) for _, (b, _) in compare],
                          "n_first": [int(per["n_images"][at[a]]) for a, _ in compare],
                          "n_second": [int(per["n_images"][at[b]]) for _, b in compare],
                          "n_boot_undefined": np.isnan(d_boot).sum(axis=0)})
    return per, diffs


def study_differences(correct, names: Sequence[str], comparisons: pd.DataFrame, *, in_between=None,
                      base: str = "base", ci: float = 0.95, n_boot: int = 1000, n_perm: int = 1000,
                      seed: int = 1312, alpha: float = ALPHA, undefined: str = "nan",
                      epoch="final", scope: str = "auto") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every difference of a study at its final epoch (the rows of ``differences.tsv``).

    Parameters
    ----------
    correct : bool (M, N), row k = decision maker ``names[k]`` at its final epoch.
    names : M unique names.
    comparisons : the study's κ comparisons, one row per run: columns condition, name, other (as
        ``kappa_vs_base.tsv``: each run against the base; different data: its two networks).
        Empty for studies without a base.
    in_between : bool (N,), the in-between images (all-but-one rule), or None.
    alpha : level of ``significant`` (Holm-adjusted p < alpha).
    scope : the decision-maker rows. ``"all"``: ``vs_base`` for every two runs (R (R − 1) / 2 per
        subset) and ``in_between_vs_all`` for every pair of decision makers (M (M − 1) / 2, whose
        resampled counts cost n_boot N M² / 2 multiply-adds). ``"focused"``: ``vs_base`` for every two
        runs of the same condition, ``in_between_vs_all`` for the pairs of ``comparisons`` (each run and
        its reference; none in studies without comparisons, which the log says). ``"auto"`` (default): ``"all"`` up to
        :data:`AUTO_ALL_MAX` decision makers, ``"focused"`` above, with a log line. The condition rows
        always compare every two conditions.

    Returns
    -------
    differences : DataFrame with :data:`DIFFERENCE_COLUMNS`, rows:

        - level ``decision_maker``, comparison ``vs_base``: κ(base, A) − κ(base, B) for every two
          decision makers compared with the base, on all images and on the in-between images
          (paired bootstrap; swap test, whose p is the one adjusted);
        - level ``decision_maker``, comparison ``in_between_vs_all``: κ(A, B) on the in-between
          images − on all images for every pair of decision makers (paired bootstrap);
        - level ``condition``, comparison ``vs_base``: mean κ with the base of one condition −
          of another, on all and on the in-between images; ``in_between_vs_all`` per condition
          (two-stage bootstrap over images and runs).

        Holm's adjustment within each ``holm_family`` (``decision_maker``, ``condition``).
    per_condition : DataFrame with :data:`CONDITION_COLUMNS`.
    """
    c = _as_correct(correct, "correct", 2)
    names = [str(x) for x in names]
    if len(names) != c.shape[0] or len(set(names)) != len(names):
        raise ValueError(f"names must be {c.shape[0]} unique names, got {len(names)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    focused = is_focused(scope, len(names))
    idx = {nm: k for k, nm in enumerate(names)}
    subsets = {} if in_between is None else {"in_between": np.asarray(in_between, dtype=bool)}
    subset_names = ["all", *subsets]
    rows, per = [], pd.DataFrame(columns=list(CONDITION_COLUMNS))
    comparisons = comparisons if comparisons is not None else pd.DataFrame(columns=["condition", "name", "other"])
    missing = sorted({x for x in [*comparisons["name"], *comparisons["other"]] if x not in idx})
    if missing:
        raise ValueError(f"comparisons name decision makers not in names: {missing}")
    # Decision makers: every run's comparison against every other's (distinct pairs), per subset.
    of_run = {}
    for cond, a, b in zip(comparisons["condition"], comparisons["name"], comparisons["other"]):
        if a != b:
            of_run.setdefault((idx[a], idx[b]), str(cond))
    runs = list(of_run)
    if focused and scope == "auto":
        log.warning("%d decision makers (more than %d): decision-maker differences are focused "
                    "(analysis.pair_resampling: all gives every pair): vs_base between runs of the "
                    "same condition, in_between_vs_all for each run and its reference", len(names), AUTO_ALL_MAX)
    f, s, fs, ss, kind = [], [], [], [], []
    for sub in subset_names:
        for x, p in enumerate(runs):
            for q in runs[x + 1:]:
                if not focused or of_run[p] == of_run[q]:
                    f.append(p), s.append(q), fs.append(sub), ss.append(sub), kind.append("vs_base")
    if subsets and focused and not runs:
        log.warning("no decision-maker in_between_vs_all rows: focused differences compare each run with its "
                    "reference, and this study compares none (analysis.pair_resampling: all gives "
                    "every pair of its %d decision makers)", len(names))
    if subsets:
        pairs = (tuple(sorted(p)) for p in runs) if focused else \
            ((i, j) for i in range(len(names)) for j in range(i + 1, len(names)))
        for p in dict.fromkeys(pairs):
            f.append(p), s.append(p), fs.append("in_between"), ss.append("all")
            kind.append("in_between_vs_all")
    if f:
        d = kappa_differences(c, f, s, first_subset=fs, second_subset=ss, subsets=subsets, ci=ci, n_boot=n_boot,
                              n_perm=n_perm, seed=seed, undefined=undefined)
        label = lambda p: f"{names[p[0]]} vs {names[p[1]]}"  # noqa: E731
        swap = d["p_swap"].notna()
        rows.append(d.assign(level="decision_maker", comparison=kind, first=[label(p) for p in f], first_subset=fs,
                             second=[label(p) for p in s], second_subset=ss, ci_over="images",
                             p_value=np.where(swap, d["p_swap"], d["p_bootstrap"]),
                             p_method=np.where(swap, "swap permutation", "paired bootstrap"),
                             n_runs_first=1, n_runs_second=1, n_perm=np.where(swap, int(n_perm), 0)))
    # Conditions: mean over runs, two-stage bootstrap.
    groups: dict[str, list] = {}
    for cond, a, b in zip(comparisons["condition"], comparisons["name"], comparisons["other"]):
        if a != b:
            groups.setdefault(str(cond), []).append((idx[a], idx[b]))
    if groups:
        per, cd = condition_differences(c, groups, subsets=subsets, ci=ci, n_boot=n_boot, seed=seed + 1,
                                        undefined=undefined)
        per = per.assign(ci=ci, ci_over=np.where(per["n_runs"] > 1, "images and runs", "images"), n_boot=int(n_boot),
                         epoch=epoch)[list(CONDITION_COLUMNS)]
        kinds = np.where(cd["first"] == cd["second"], "in_between_vs_all", "vs_base")
        over = np.where((cd["n_runs_first"] > 1) | (cd["n_runs_second"] > 1), "images and runs", "images")
        rows.append(cd.assign(level="condition", comparison=kinds, ci_over=over, p_swap=np.nan,
                              p_value=cd["p_bootstrap"], p_method="two-stage bootstrap", n_perm=0))
    if not rows:
        return pd.DataFrame(columns=list(DIFFERENCE_COLUMNS)), per
    out = pd.concat(rows, ignore_index=True)
    out["holm_family"] = out["level"]
    out["p_holm"] = np.nan
    for fam, ix in out.groupby("holm_family").groups.items():
        out.loc[ix, "p_holm"] = holm(out.loc[ix, "p_value"].to_numpy(float))
    out["significant"] = out["p_holm"] < alpha
    out = out.assign(ci=ci, n_boot=int(n_boot), epoch=epoch)
    return out[list(DIFFERENCE_COLUMNS)], per
