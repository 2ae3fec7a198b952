"""FROZEN REFERENCE (issue 19, before the 1,000-decision-maker rewrite): do not edit; oracle for tests.

Do two error consistencies differ? Differences of κ with intervals, p-values and Holm's adjustment.

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
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ddd.analysis.kappa import _F32_EXACT, _as_correct, _check_undefined, pair_table
from ddd.analysis.uncertainty import resample_weights
from ddd.results.pairs import CONDITION_COLUMNS, DIFFERENCE_COLUMNS

__all__ = ["holm", "kappa_differences", "condition_differences", "study_differences", "DIFFERENCE_COLUMNS",
           "CONDITION_COLUMNS", "ALPHA"]

ALPHA = 0.05
_CHUNK_CELLS = 2 ** 23  # resample weights held at once: <= 32 MiB float32


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


class _Counts:
    """κ of many (pair, subset) comparisons under resample weights, all at once.

    ``keys``: list of ``(i, j, subset)``. :meth:`kappas` takes image weights (r, N) and returns κ
    (r, len(keys)); :meth:`point` the κ of the data (weights 1).
    """

    def __init__(self, c: np.ndarray, keys, masks: dict, undefined: str):
        self.c, self.keys, self.undefined = c, list(keys), undefined
        self.by_subset = {}
        for col, (i, j, s) in enumerate(self.keys):
            self.by_subset.setdefault(s, []).append((col, i, j))
        self.cols = {}
        for s, items in self.by_subset.items():
            mask = masks[s]
            cols = None if mask is None else np.flatnonzero(mask)
            sel = (lambda x: x) if cols is None else (lambda x, cols=cols: x[..., cols])
            used = np.unique([x for _, i, j in items for x in (i, j)])
            pos = np.searchsorted(used, [i for _, i, _ in items]), np.searchsorted(used, [j for _, _, j in items])
            both = np.stack([sel(c[i] & c[j]) for _, i, j in items]).astype(np.float32)
            self.cols[s] = (cols, sel(c[used]).astype(np.float32), both, pos, np.array([k for k, _, _ in items]))

    def kappas(self, w: np.ndarray) -> np.ndarray:
        out = np.empty((w.shape[0], len(self.keys)))
        for s, (cols, single, both, (pi, pj), where) in self.cols.items():
            ws = w if cols is None else w[:, cols]
            n = np.rint(ws.sum(axis=1, dtype=np.float64)).astype(np.int64)[:, None]
            k = np.rint(ws @ single.T).astype(np.int64)
            kab = np.rint(ws @ both.T).astype(np.int64)
            out[:, where] = pair_table(n, k[:, pi], k[:, pj], kab, undefined=self.undefined)["kappa"]
        return out

    def point(self) -> tuple[np.ndarray, np.ndarray]:
        """κ and number of images of every key on the data."""
        w = np.ones((1, self.c.shape[1]), dtype=np.float32)
        n = np.array([self.c.shape[1] if self.cols[s][0] is None else self.cols[s][0].size for _, _, s in self.keys])
        return self.kappas(w)[0], n


def _resampled(counts: _Counts, n_boot: int, rng):
    """Yield ``(first resample, κ (r, keys))`` for ``n_boot`` bootstrap resamples of the images, in chunks."""
    n = counts.c.shape[1]
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        lo, hi = np.nanpercentile(boot, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
    return lo, hi


def _swap_p(c, first, second, subsets_of, masks, delta, *, n_perm, rng, undefined) -> np.ndarray:
    """p of the response-swap test for rows (R, A) vs (R, B) on one subset; NaN for other rows."""
    p = np.full(len(first), np.nan)
    if n_perm == 0:
        return p
    rows = []
    for k, ((a1, b1), (a2, b2), s) in enumerate(zip(first, second, subsets_of)):
        if s[0] != s[1]:
            continue
        shared = {a1, b1} & {a2, b2}
        if len(shared) != 1 or {a1, b1} == {a2, b2}:
            continue
        (r,) = shared
        rows.append((k, r, a1 if b1 == r else b1, a2 if b2 == r else b2, s[0]))
    groups: dict = {}
    for row in rows:
        groups.setdefault((row[1], row[4]), []).append(row)
    n_all = c.shape[1]
    for (r, s), items in groups.items():
        mask = masks[s]
        cols = np.arange(n_all) if mask is None else np.flatnonzero(mask)
        n = cols.size
        ref = c[r, cols]
        others = np.unique([x for _, _, a, b, _ in items for x in (a, b)])
        x = c[others][:, cols]
        xf, rxf = x.astype(np.float32), (x & ref).astype(np.float32)
        k_x, k_rx, k_r = x.sum(axis=1), (x & ref).sum(axis=1), int(ref.sum())
        ia = np.searchsorted(others, [a for _, _, a, _, _ in items])
        ib = np.searchsorted(others, [b for _, _, _, b, _ in items])
        null = np.empty((int(n_perm), len(items)))
        done = 0
        chunk = max(1, _CHUNK_CELLS // max(n, 1))
        while done < n_perm:
            m = min(chunk, n_perm - done)
            s_ = rng.integers(0, 2, size=(m, n), dtype=np.int8).astype(np.float32)
            sx = np.rint(s_ @ xf.T).astype(np.int64)    # (m, others): swapped-in part of each
            srx = np.rint(s_ @ rxf.T).astype(np.int64)
            # A' = A + s (B - A), B' = B - s (B - A), elementwise over images.
            ka = k_x[ia] + sx[:, ib] - sx[:, ia]
            kb = k_x[ib] - sx[:, ib] + sx[:, ia]
            kra = k_rx[ia] + srx[:, ib] - srx[:, ia]
            krb = k_rx[ib] - srx[:, ib] + srx[:, ia]
            d = (pair_table(n, k_r, ka, kra, undefined=undefined)["kappa"]
                 - pair_table(n, k_r, kb, krb, undefined=undefined)["kappa"])
            null[done:done + m] = d
            done += m
        where = [k for k, *_ in items]
        p[where] = _normal_p(delta[where], null)
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
    keys = list(dict.fromkeys([(min(i, j), max(i, j), s) for (i, j), s in
                               zip(np.vstack([first, second]).tolist(), fs + ss)]))
    col = {k: x for x, k in enumerate(keys)}
    kf = np.array([col[(min(i, j), max(i, j), s)] for (i, j), s in zip(first.tolist(), fs)], dtype=np.int64)
    ks = np.array([col[(min(i, j), max(i, j), s)] for (i, j), s in zip(second.tolist(), ss)], dtype=np.int64)
    counts = _Counts(c, keys, masks, undefined)
    point, n_images = counts.point()
    delta = point[kf] - point[ks]
    rng = np.random.default_rng(seed)
    boot = np.empty((int(n_boot), len(first)))
    for s, kap in _resampled(counts, int(n_boot), rng):
        boot[s:s + len(kap)] = kap[:, kf] - kap[:, ks]
    lo, hi = _percentiles(boot, ci)
    p_swap = _swap_p(c, first.tolist(), second.tolist(), list(zip(fs, ss)), masks, delta, n_perm=int(n_perm),
                     rng=rng, undefined=undefined)
    return pd.DataFrame({"kappa_first": point[kf], "kappa_second": point[ks], "delta": delta, "ci_low": lo,
                         "ci_high": hi, "p_bootstrap": _normal_p(delta, boot),
                         "p_swap": p_swap, "n_first": n_images[kf], "n_second": n_images[ks],
                         "n_boot_undefined": np.isnan(boot).sum(axis=0)})


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
    counts = _Counts(c, keys, masks, undefined)
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
                      epoch="final") -> tuple[pd.DataFrame, pd.DataFrame]:
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
    idx = {nm: k for k, nm in enumerate(names)}
    subsets = {} if in_between is None else {"in_between": np.asarray(in_between, dtype=bool)}
    subset_names = ["all", *subsets]
    rows, per = [], pd.DataFrame(columns=list(CONDITION_COLUMNS))
    comparisons = comparisons if comparisons is not None else pd.DataFrame(columns=["condition", "name", "other"])
    missing = sorted({x for x in [*comparisons["name"], *comparisons["other"]] if x not in idx})
    if missing:
        raise ValueError(f"comparisons name decision makers not in names: {missing}")
    # Decision makers: every run's comparison against every other's (distinct pairs), per subset.
    runs = [(idx[a], idx[b]) for a, b in zip(comparisons["name"], comparisons["other"]) if a != b]
    runs = list(dict.fromkeys(runs))
    f, s, fs, ss, kind = [], [], [], [], []
    for sub in subset_names:
        for x, p in enumerate(runs):
            for q in runs[x + 1:]:
                f.append(p), s.append(q), fs.append(sub), ss.append(sub), kind.append("vs_base")
    if subsets:
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                f.append((i, j)), s.append((i, j)), fs.append("in_between"), ss.append("all")
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
