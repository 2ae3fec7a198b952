"""Uncertainty of error consistency: p-values, bootstrap intervals, all pairs in memory, spread over runs.

:func:`pairwise` gives κ of all pairs of a (M, N) correctness matrix with, on request, a bootstrap
interval over images and a p-value; :func:`bootstrap_kappa` and :func:`kappa_p_value` do the same
for one pair; :func:`condition_spread` separates the spread of κ over a condition's runs from its
spread over images; :func:`condition_kappa_ci` bootstraps the mean κ of groups of pairs. κ itself:
:mod:`ddd.analysis.kappa`.

Uncertainty (after Klein, Meyen, Brendel, Wichmann & Meding, NeurIPS 2025, "Quantifying uncertainty
in error consistency")
--------------------------------------------------------------------------------------------------
*Confidence interval*: percentile bootstrap over images. Resample the N images with replacement
``n_boot`` times (indices drawn once from ``numpy.random.default_rng(seed)``, in chunks whose size
depends only on N, so a pair gets the same interval whether computed alone or among other decision
makers); each resample's kappa comes from the 2x2 counts, computed for all pairs at once with matrix
products of the resample weights. Resamples in which kappa is undefined are left out of the
percentiles and counted (``kappa_boot_undefined``).

*p-value* (``method="exact"``, default): the null hypothesis is two independent observers with the
observed accuracies. Conditional on the N images and the numbers right ``k_a``, ``k_b``, the number
both right K is hypergeometric(N, k_a, k_b) under independence (Fisher's exact test on the 2x2
table), and ``c_obs = (N - k_a - k_b + 2K) / N`` increases with K, so ``alternative="greater"``
(more consistent than chance, the default) is ``P(K >= k_obs)``; ``"less"`` is ``P(K <= k_obs)``;
``"two-sided"`` is ``min(1, 2 min(greater, less))``. Exact, no simulation, vectorised over pairs.
``method="klein2025"`` reproduces the Monte-Carlo test of the authors' code
(wichmann-lab/error_consistency, ``src/utils.py``, ``calculate_ec_pvalue``): accuracies drawn from
Beta(k, N - k), independent observers simulated (here exactly, through their 2x2 table), p = fraction
of null kappas with ``|kappa_null| > |kappa|``; two-sided only. p is NaN where kappa is undefined
and 1 where one observer is at 0 % or 100 % (kappa is then exactly 0).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ddd.analysis.kappa import (_F32_EXACT, _as_correct, _check_undefined, _pair_vectors, error_consistency,
                                pair_counts, pair_table)

ALTERNATIVES = ("greater", "less", "two-sided")
P_METHODS = ("exact", "klein2025")


def p_values_from_counts(n, k_a, k_b, k_ab, *, alternative: str = "greater") -> np.ndarray:
    """Exact p-values against two independent observers with these accuracies (see module docstring).

    Parameters
    ----------
    n, k_a, k_b, k_ab : int array-likes (broadcast): images, right for a, right for b, right for both
    alternative : {"greater", "less", "two-sided"}

    Returns
    -------
    float64 array of the broadcast shape; NaN where ``n == 0`` or kappa is undefined
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    n, k_a, k_b, k_ab = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (n, k_a, k_b, k_ab)))
    greater = stats.hypergeom.sf(k_ab - 1, n, k_a, k_b) if alternative != "less" else None  # only the tails asked
    less = stats.hypergeom.cdf(k_ab, n, k_a, k_b) if alternative != "greater" else None     # for (each ~0.1 ms)
    p = {"greater": greater, "less": less,
         "two-sided": None if greater is None or less is None else np.minimum(1.0, 2 * np.minimum(greater, less))
         }[alternative]
    undefined = (n == 0) | ((k_a == k_b) & ((k_a == 0) | (k_a == n)))
    return np.where(undefined, np.nan, np.clip(p, 0.0, 1.0))


def resample_weights(rng, r: int, n: int) -> np.ndarray:
    """float32 (r, N): how often each of N images is drawn in each of r bootstrap resamples (with replacement)."""
    idx = rng.integers(0, n, size=(r, n))
    return np.bincount((idx + n * np.arange(r)[:, None]).ravel(), minlength=r * n).reshape(r, n).astype(np.float32)


def _klein_p_values(n, k_a, k_b, kappa, *, n_sim: int, seed) -> np.ndarray:
    """Monte-Carlo p-values of Klein et al.'s code, vectorised over pairs (1-D arrays)."""
    rng = np.random.default_rng(seed)
    out = np.full(len(kappa), np.nan)
    ok = (k_a > 0) & (k_a < n) & (k_b > 0) & (k_b < n) & np.isfinite(kappa)
    if ok.any():
        nn, ka, kb = n[ok], k_a[ok], k_b[ok]
        shape = (n_sim, int(ok.sum()))
        na = rng.binomial(nn, rng.beta(ka, nn - ka, size=shape))
        nb = rng.binomial(nn, rng.beta(kb, nn - kb, size=shape))
        kab = rng.hypergeometric(na, nn - na, nb)
        null = pair_table(nn, na, nb, kab)["kappa"]
        with np.errstate(invalid="ignore"):
            out[ok] = (np.abs(null) > np.abs(kappa[ok])).mean(axis=0)
    return np.where((k_a == 0) | (k_a == n) | (k_b == 0) | (k_b == n), np.where(np.isfinite(kappa), 1.0, np.nan),
                    out)


def kappa_p_value(a, b, *, alternative: str = "greater", method: str = "exact", n_sim: int = 10000,
                  seed=0) -> float:
    """p-value of the error consistency of ``a`` and ``b`` (bool (N,)) against independent observers.

    ``method="exact"`` (hypergeometric, conditional on both accuracies) or ``"klein2025"`` (Monte
    Carlo with ``n_sim`` draws, two-sided only); see the module docstring.
    """
    a, b = _pair_vectors(a, b)
    k = np.array([[a.sum()], [b.sum()], [(a & b).sum()]], dtype=np.int64)
    return float(_p_values(a.size, k[0], k[1], k[2], alternative=alternative, method=method, n_sim=n_sim,
                           seed=seed)[0])


def _p_values(n, k_a, k_b, k_ab, *, alternative, method, n_sim, seed) -> np.ndarray:
    if method not in P_METHODS:
        raise ValueError(f"method must be one of {P_METHODS}, got {method!r}")
    if method == "exact":
        return p_values_from_counts(n, k_a, k_b, k_ab, alternative=alternative)
    if alternative != "two-sided":
        raise ValueError('method="klein2025" is two-sided (|kappa_null| > |kappa|); pass alternative="two-sided"')
    if int(n_sim) != n_sim or n_sim < 1:
        raise ValueError(f"n_sim must be a positive integer, got {n_sim}")
    n, k_a, k_b, k_ab = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.int64))
                                              for v in (n, k_a, k_b, k_ab)))
    kappa = pair_table(n, k_a, k_b, k_ab)["kappa"]
    return _klein_p_values(n, k_a, k_b, kappa, n_sim=int(n_sim), seed=seed)


def _check_boot(ci, n_boot) -> None:
    if not (isinstance(ci, (int, float)) and 0 < ci < 1):
        raise ValueError(f"ci must be a confidence level in (0, 1), e.g. 0.95, got {ci!r}")
    if int(n_boot) != n_boot or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")


_BOOT_CELLS = 2 ** 22      # resampled kappas of one block of pairs (n_boot x pairs float64): <= 32 MiB
_JOINT_BOOT_CELLS = 2 ** 25  # joint correctness of one block of pairs as float32 (pairs x N): <= 128 MiB


def _bootstrap_summary(c: np.ndarray, i: np.ndarray, j: np.ndarray, *, n_boot: int, seed, undefined: str,
                       ci: float) -> dict:
    """:func:`_summarise_boot` of the κ of pairs ``(i[p], j[p])`` of bool ``c`` (M, N) on ``n_boot`` image
    resamples, a block of pairs at a time: dict of (P,) arrays.

    The resamples are drawn as always (``numpy.random.default_rng(seed)``, chunks of ``2^22 // N``
    resamples: the same draws for any set of pairs) and kept as small integers (n_boot x N bytes); each
    block of pairs builds its joint correctness once and multiplies it with every resample's weights
    (exact integer counts from float32 products), then summarises its columns. Memory: the weights, one
    block's joint correctness (<= 128 MiB) and its resampled κ (<= 32 MiB), whatever the number of pairs
    (1,000 decision makers: 499,500 pairs). The numbers are those of summarising all resampled κ at once
    (every statistic is per column; no block is a single column unless there is only one pair).
    """
    m, n = c.shape
    if n > _F32_EXACT:
        raise ValueError(f"bootstrap supports at most {_F32_EXACT} images, got {n}")
    undefined = "nan" if undefined == "raise" else undefined
    rng = np.random.default_rng(seed)
    chunk = max(1, 2 ** 22 // n)  # resamples per draw: depends on N only (same draws for any set of pairs)
    used = np.unique(np.concatenate([i, j]))
    cf = c[used].astype(np.float32)
    pos = np.searchsorted(used, np.arange(m))
    k = np.empty((n_boot, len(used)), dtype=np.int64)  # images right for each decision maker in each resample
    weights = []
    for s in range(0, n_boot, chunk):
        w = resample_weights(rng, min(chunk, n_boot - s), n)
        k[s:s + len(w)] = np.rint(w @ cf.T)
        weights.append(w.astype(np.uint8 if w.max() < 256 else np.uint16 if w.max() < 2 ** 16 else np.uint32))
    del cf
    step = int(max(2, min(_BOOT_CELLS // n_boot, _JOINT_BOOT_CELLS // max(n, 1))))
    starts = list(range(0, len(i), step))
    if len(starts) > 1 and len(i) - starts[-1] == 1:  # no block of one pair: its columns reduce as in a wide block
        starts.pop()
    out = {key: np.empty(len(i)) for key in ("kappa_ci_low", "kappa_ci_high", "kappa_sd")}
    out["kappa_boot_undefined"] = np.empty(len(i), dtype=np.int64)
    for a, b in zip(starts, [*starts[1:], len(i)]):
        ii, jj = i[a:b], j[a:b]
        joint = (c[ii] & c[jj]).astype(np.float32)  # (pairs, N)
        kappas = np.empty((n_boot, b - a))
        s = 0
        for w in weights:
            kab = np.rint(w.astype(np.float32) @ joint.T).astype(np.int64)
            kappas[s:s + len(w)] = pair_table(n, k[s:s + len(w), pos[ii]], k[s:s + len(w), pos[jj]], kab,
                                              undefined=undefined, bounds=False)["kappa"]
            s += len(w)
        del joint
        for key, value in _summarise_boot(kappas, ci).items():
            out[key][a:b] = value
    return out


def _summarise_boot(kappas: np.ndarray, ci: float) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, counted below
        lo, hi = np.nanpercentile(kappas, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
        sd = np.nanstd(kappas, axis=0, ddof=1)
    return {"kappa_ci_low": lo, "kappa_ci_high": hi, "kappa_sd": sd,
            "kappa_boot_undefined": np.isnan(kappas).sum(axis=0)}


def bootstrap_kappa(a, b, *, ci: float = 0.95, n_boot: int = 1000, seed=0, undefined: str = "nan") -> dict:
    """Percentile bootstrap (over images) of the error consistency of ``a`` and ``b`` (bool (N,)).

    Returns
    -------
    dict ``kappa`` (of the data), ``ci_low``, ``ci_high`` (percentiles ``(1 -+ ci) / 2`` of the
    resampled kappas), ``sd`` (their standard deviation), ``n_boot``, ``n_boot_undefined`` (resamples
    in which kappa was undefined, left out). Same numbers as ``pairwise(..., ci=ci, n_boot=n_boot,
    seed=seed)`` gives for this pair.
    """
    _check_boot(ci, n_boot)
    a, b = _pair_vectors(a, b)
    s = _bootstrap_summary(np.stack([a, b]), np.array([0]), np.array([1]), n_boot=int(n_boot), seed=seed,
                           undefined=undefined, ci=ci)
    return {"kappa": error_consistency(a, b, undefined=undefined), "ci_low": float(s["kappa_ci_low"][0]),
            "ci_high": float(s["kappa_ci_high"][0]), "sd": float(s["kappa_sd"][0]), "n_boot": int(n_boot),
            "n_boot_undefined": int(s["kappa_boot_undefined"][0])}


def _names(names, m: int) -> list:
    names = list(range(m)) if names is None else list(names)
    if len(names) != m or len(set(names)) != m:
        raise ValueError(f"names must be {m} unique names (one per row of correct), got {len(names)} "
                         f"with {len(set(names))} distinct")
    return names


def _pair_frame(c, i, j, names, *, undefined, ci, n_boot, seed, p_value, alternative,
                bias_corrected=False) -> pd.DataFrame:
    if ci is not None:
        _check_boot(ci, n_boot)
    n, both = pair_counts(c)
    k = np.diag(both)
    cols = pair_table(n, k[i], k[j], both[i, j], undefined=undefined, bias_corrected=bias_corrected)
    frame = pd.DataFrame({"a": [names[x] for x in i], "b": [names[x] for x in j], **cols})
    if ci is not None:
        frame = frame.assign(**_bootstrap_summary(c, i, j, n_boot=int(n_boot), seed=seed, undefined=undefined,
                                                  ci=ci))
    if p_value:
        frame["p_value"] = _p_values(n, k[i], k[j], both[i, j], alternative=alternative, method="exact",
                                     n_sim=1, seed=None)
        frame["p_alternative"] = alternative
    return frame


def pairwise(correct, *, names=None, undefined: str = "nan", ci: float | None = None, n_boot: int = 1000,
             seed=0, p_value: bool = False, alternative: str = "greater",
             bias_corrected: bool = False) -> pd.DataFrame:
    """Error consistency of all pairs ``i < j`` of decision makers.

    Parameters
    ----------
    correct : bool (or 0/1 int) array (M, N), decision makers x images, M >= 2
    names : sequence of M unique names, optional (default: row indices 0..M-1)
    undefined : {"nan", "mvh", "raise"}
    ci : confidence level, optional, e.g. 0.95: add a percentile bootstrap over images (columns
        ``kappa_ci_low, kappa_ci_high, kappa_sd, kappa_boot_undefined``); costs about
        ``n_boot x N x M^2 / 2`` multiply-adds
    n_boot : number of bootstrap resamples; seed : seed of ``numpy.random.default_rng``
    p_value : add the exact ``p_value`` against independent observers (module docstring) and
        ``p_alternative``, its alternative
    alternative : {"greater", "less", "two-sided"} of that p-value
    bias_corrected : add ``kappa_bias_corrected``, Klein et al.'s κ′ = nκ / ((n − 1) + κ)

    Returns
    -------
    DataFrame with one row per pair and columns ``a, b, n, p_a, p_b, c_obs, c_exp, kappa,
    kappa_undefined, kappa_min, kappa_max, kappa_over_max`` (rates and kappas float64), then the
    optional ones.
    """
    _check_undefined(undefined)
    c = _as_correct(correct, "correct", 2)
    m = c.shape[0]
    if m < 2:
        raise ValueError(f"pairwise needs at least 2 decision makers, got {m}")
    i, j = np.triu_indices(m, k=1)
    return _pair_frame(c, i, j, _names(names, m), undefined=undefined, ci=ci, n_boot=n_boot, seed=seed,
                       p_value=p_value, alternative=alternative, bias_corrected=bias_corrected)


def condition_spread(correct, *, reference=None, names=None, ci: float = 0.95, n_boot: int = 1000, seed=0,
                     undefined: str = "nan") -> tuple[dict, pd.DataFrame]:
    """Spread of kappa over the instances (runs) of one condition, separately from the spread over images.

    Parameters
    ----------
    correct : bool array (R, N), the R runs of one condition
    reference : bool array (N,), optional: kappa of every run against it (e.g. the base run);
        default: kappa of every distinct pair of runs (R >= 2)
    names : R unique run names, optional
    ci, n_boot, seed, undefined : as in :func:`pairwise`

    Returns
    -------
    summary : dict ``n_kappas``, ``kappa_mean``, ``sd_over_runs`` (sd, ddof=1, of the per-run kappas:
        how much runs differ), ``sd_over_images`` (mean bootstrap sd of each run's kappa: how much one
        kappa moves when other images are drawn), ``ci_width_over_images`` (mean bootstrap CI width)
    per_run : DataFrame from :func:`pairwise` with bootstrap columns, one row per kappa
    """
    _check_undefined(undefined)
    c = _as_correct(correct, "correct", 2)
    names = _names(names, c.shape[0])
    if reference is None:
        if c.shape[0] < 2:
            raise ValueError("condition_spread without a reference needs at least 2 runs")
        i, j = np.triu_indices(c.shape[0], k=1)
    else:
        ref = _as_correct(reference, "reference", 1)
        if ref.shape[0] != c.shape[1]:
            raise ValueError(f"reference covers {ref.shape[0]} images, correct {c.shape[1]}")
        c, names = np.vstack([ref[None], c]), ["reference", *names]
        i, j = np.zeros(c.shape[0] - 1, dtype=np.int64), np.arange(1, c.shape[0])
    frame = _pair_frame(c, i, j, names, undefined=undefined, ci=ci, n_boot=n_boot, seed=seed, p_value=False,
                        alternative="greater")
    kap = frame["kappa"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = {"n_kappas": int(len(kap)), "kappa_mean": float(np.nanmean(kap)),
                   "sd_over_runs": float(np.nanstd(kap, ddof=1)) if np.isfinite(kap).sum() > 1 else float("nan"),
                   "sd_over_images": float(np.nanmean(frame["kappa_sd"])),
                   "ci_width_over_images": float(np.nanmean(frame["kappa_ci_high"] - frame["kappa_ci_low"])),
                   "ci": ci, "n_boot": int(n_boot)}
    return summary, frame


def condition_kappa_ci(correct, pairs, groups, *, ci: float = 0.95, n_boot: int = 1000, seed=1312,
                       undefined: str = "nan") -> pd.DataFrame:
    """Mean kappa per group of pairs with a percentile bootstrap interval over images (module docstring).

    Parameters
    ----------
    correct : bool (M, N).
    pairs : sequence of P index pairs (i, j) into the rows of ``correct``.
    groups : sequence of P group names (one per pair).
    ci, n_boot, seed : confidence level, resamples, seed of ``numpy.random.default_rng``.
    undefined : kappa of undefined pairs (``ddd.analysis.kappa``).

    Returns
    -------
    DataFrame, one row per group in first-seen order: group, kappa (nanmean over its pairs on all
    images), ci_low, ci_high, n_pairs, n_boot_undefined.
    """
    c = np.asarray(correct)
    if c.ndim != 2 or c.dtype != bool or c.shape[1] == 0:
        raise ValueError(f"correct must be bool (M, N >= 1), got {c.dtype} shape {c.shape}")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    groups = list(groups)
    if len(groups) != len(pairs):
        raise ValueError(f"{len(groups)} groups for {len(pairs)} pairs")
    if not (0 < ci < 1) or int(n_boot) != n_boot or n_boot < 2:
        raise ValueError(f"need 0 < ci < 1 and n_boot >= 2, got {ci!r}, {n_boot!r}")
    names = list(dict.fromkeys(groups))
    member = np.array([[g == h for g in groups] for h in names], dtype=bool).reshape(len(names), len(pairs))
    m, n = c.shape
    i, j = pairs[:, 0], pairs[:, 1]
    both = (c[i] & c[j])

    def group_means(kap):  # kap (r, P) -> (r, G)
        out = np.full((kap.shape[0], len(names)), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for g in range(len(names)):
                out[:, g] = np.nanmean(kap[:, member[g]], axis=1)
        return out

    k_all = c.sum(axis=1)
    point = group_means(pair_table(n, k_all[i], k_all[j], both.sum(axis=1), undefined=undefined)["kappa"][None, :])[0]
    rng = np.random.default_rng(seed)
    chunk = max(1, 2 ** 22 // n)
    cf, bf = c.astype(np.float32), both.astype(np.float32)
    boots = np.empty((int(n_boot), len(names)))
    for s in range(0, int(n_boot), chunk):
        r = min(chunk, int(n_boot) - s)
        w = resample_weights(rng, r, n)
        k = np.rint(w @ cf.T).astype(np.int64)
        kab = np.rint(w @ bf.T).astype(np.int64)
        boots[s:s + r] = group_means(pair_table(n, k[:, i], k[:, j], kab, undefined=undefined)["kappa"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(boots, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
    return pd.DataFrame({"group": names, "kappa": point, "ci_low": lo, "ci_high": hi,
                         "n_pairs": member.sum(axis=1), "n_boot_undefined": np.isnan(boots).sum(axis=0)})
