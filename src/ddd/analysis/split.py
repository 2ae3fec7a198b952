"""Dichotomous data difficulty: split images into trivial, impossible and in-between.

Given the correctness of M decision makers on N images, an image is *trivial* if at least
``trivial_at`` of them get it right, *impossible* if at most ``impossible_at`` do, and
*in_between* otherwise. Two rules fix the thresholds from M (:data:`RULES`): ``"strict"`` (all right /
none right) and ``"all_but_one"`` (all but one right / at most one right). The all-but-one rule needs
M >= 4: with 3 decision makers trivial (>= 2 right) and impossible (<= 1 right) cover every image and
no image can be in-between (:data:`MIN_DECISION_MAKERS`).

To judge how surprising the observed split is, :func:`expected_fractions` gives the split expected
if the decision makers erred independently, from the exact Poisson-binomial distribution of the
number right (:func:`poisson_binomial`; ``summary.json``'s ``poisson_binomial_split``).
:func:`binomial_expectation` is Figure 2's equal-accuracy version, the binomial(n, mean accuracy)
pmf of the number right (``summary.json``'s ``binomial_expectation_pmf``).
:func:`merge_identical` merges decision makers whose rows are identical before counting.

Uncertainty of the split (:func:`split_uncertainty`)
----------------------------------------------------
Two sources, reported separately:

*Over images* (:func:`bootstrap_split`): the decision makers are held fixed and the N images are
resampled with replacement (percentile bootstrap, seeded). The category counts of such a resample
are multinomial(N, observed fractions), so they are drawn directly: the same distribution as
resampling image indices, at a cost independent of N.

*Over decision makers* (:func:`jackknife_split`): leave-one-out jackknife over the M distinct
decision makers. Leaving decision maker j out gives M - 1 decision makers, and the split of the
N images is recomputed with the thresholds of M - 1 under the same rule (strict: all M - 1 right /
none; all-but-one: >= M - 2 / <= 1). The jackknife standard error is
``se = sqrt((M - 1) / M * sum_j (f_j - mean_j f_j) ** 2)`` and the interval
``f +- t_{M-1, (1 + ci) / 2} * se`` around the observed fraction f (with all M), clipped to [0, 1];
the leave-one-out range (min, max of the f_j) is reported beside it. Not bias-corrected: the
fractions depend on M by definition (fewer decision makers, more trivial and impossible images),
and the estimate is the split of these M. Why the jackknife and not a bootstrap over decision
makers: a bootstrap resample draws decision makers with replacement, so it holds copies, and copies
are exactly what the split merges (:func:`merge_identical`): counting them would shift images into
trivial / impossible, merging them would make n (and the thresholds) random. The jackknife never
duplicates anyone, is deterministic and costs M splits, natural for the paper's M of 11 to 31; by
the Efron-Stein inequality its variance estimate is, in expectation, conservative (too large)
rather than too small. It needs M - 1 decision makers the rule applies to (strict M >= 2,
all-but-one M >= 5).

*Images that change category* (:func:`leave_one_out_split`): for each left-out decision maker, the
number of images whose category with M - 1 (their thresholds) differs from that with all M; under
the strict rule these are the images on which the left-out one was the only one right or the only
one wrong. Duplicates are merged first, so leaving out a distinct decision maker leaves out its
copies too (leaving out one copy would change nothing after merging).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

CATEGORIES = ("trivial", "impossible", "in_between")
#: rule -> (k, i): trivial_at = n - k, impossible_at = i, for n decision makers.
RULES = {"strict": (0, 0), "all_but_one": (1, 1)}
#: rule -> (fewest decision makers it applies to, why).
MIN_DECISION_MAKERS = {
    "strict": (1, "with none there is nothing to count"),
    "all_but_one": (4, "with 3 no image can be in-between (trivial: >= 2 right, impossible: <= 1 right)"),
}


def _as_correct(correct) -> np.ndarray:
    c = np.asarray(correct)
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise ValueError(f"correct must be a non-empty 2-D (M decision makers, N images) array, got shape {c.shape}")
    if c.dtype != bool:
        if not np.issubdtype(c.dtype, np.integer) or not np.isin(c, (0, 1)).all():
            raise ValueError(f"correct must be boolean or 0/1 integers, got dtype {c.dtype}")
        c = c.astype(bool)
    return c


def n_correct(correct) -> np.ndarray:
    """Number of decision makers right on each image: bool (M, N) -> int64 (N,)."""
    return _as_correct(correct).sum(axis=0, dtype=np.int64)


def thresholds(n: int, rule: str) -> tuple[int, int]:
    """``(trivial_at, impossible_at)`` for ``n`` decision makers under ``rule`` (a key of :data:`RULES`)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; allowed: {sorted(RULES)}")
    k, i = RULES[rule]
    minimum, why = MIN_DECISION_MAKERS[rule]
    if isinstance(n, (bool, np.bool_)) or int(n) != n:
        raise ValueError(f"n must be an integer number of decision makers, got {n!r}")
    if n < minimum:
        raise ValueError(f"rule {rule!r} needs at least {minimum} decision makers: {why}; got n={n}")
    return int(n) - k, i


def _check_thresholds(n: int, trivial_at: int, impossible_at: int) -> None:
    if not 0 <= impossible_at < trivial_at <= n:
        raise ValueError(f"need 0 <= impossible_at < trivial_at <= n, got impossible_at={impossible_at}, "
                         f"trivial_at={trivial_at}, n={n}")


def categorize(counts, *, n: int, trivial_at: int, impossible_at: int) -> np.ndarray:
    """Category of each image from its number right.

    Parameters
    ----------
    counts : int array (N,), values in [0, n]
    n : number of decision makers
    trivial_at, impossible_at : int, ``0 <= impossible_at < trivial_at <= n``

    Returns
    -------
    str array (N,) with values in :data:`CATEGORIES`
    """
    _check_thresholds(n, trivial_at, impossible_at)
    counts = np.asarray(counts)
    if counts.ndim != 1 or not np.issubdtype(counts.dtype, np.integer):
        raise ValueError(f"counts must be a 1-D integer array, got {counts.dtype} shape {counts.shape}")
    if counts.size and (counts.min() < 0 or counts.max() > n):
        raise ValueError(f"counts must lie in [0, n={n}], got range [{counts.min()}, {counts.max()}]")
    out = np.full(counts.shape, "in_between", dtype="<U10")
    out[counts >= trivial_at] = "trivial"
    out[counts <= impossible_at] = "impossible"
    return out


def split_fractions(categories) -> dict:
    """Fractions ``{"trivial": f, "impossible": f, "in_between": f}`` (floats summing to 1) of a category array (N,)."""
    categories = np.asarray(categories)
    if categories.ndim != 1 or categories.size == 0:
        raise ValueError(f"categories must be a non-empty 1-D array, got shape {categories.shape}")
    unknown = set(np.unique(categories).tolist()) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}; allowed: {list(CATEGORIES)}")
    return {c: float(np.mean(categories == c)) for c in CATEGORIES}


def _check_prob(p, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"{name} must lie in [0, 1] (NaN not allowed)")
    return p


def binomial_expectation(n: int, mean_accuracy: float) -> np.ndarray:
    """Exact pmf, float64 (n+1,), of the number right among n independent decision makers of equal accuracy."""
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    p = float(_check_prob(mean_accuracy, "mean_accuracy"))
    return stats.binom.pmf(np.arange(int(n) + 1), int(n), p)


def poisson_binomial(accuracies) -> np.ndarray:
    """Exact pmf, float64 (M+1,), of the number right among independent decision makers with these accuracies (M,)."""
    acc = _check_prob(accuracies, "accuracies")
    if acc.ndim != 1 or acc.size == 0:
        raise ValueError(f"accuracies must be a non-empty 1-D array, got shape {acc.shape}")
    pmf = np.zeros(acc.size + 1)
    pmf[0] = 1.0
    for k, p in enumerate(acc, start=1):
        pmf[1:k + 1] = pmf[1:k + 1] * (1 - p) + pmf[:k] * p
        pmf[0] *= 1 - p
    return pmf


def expected_fractions(accuracies, *, trivial_at: int, impossible_at: int) -> dict:
    """Split fractions expected if decision makers with these accuracies (M,) erred independently."""
    pmf = poisson_binomial(accuracies)
    n = pmf.size - 1
    _check_thresholds(n, trivial_at, impossible_at)
    return {"trivial": float(pmf[trivial_at:].sum()), "impossible": float(pmf[:impossible_at + 1].sum()),
            "in_between": float(pmf[impossible_at + 1:trivial_at].sum())}


def merge_identical(correct_or_predictions, names) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """Merge decision makers whose rows are exactly identical, keeping the first of each group.

    Parameters
    ----------
    correct_or_predictions : bool or integer array (M, N)
    names : sequence of M unique names

    Returns
    -------
    rows : array (M', N) of the kept rows, in original order
    kept : list of M' kept names
    merged : ``{kept_name: [names merged into it]}``, only for kept names that absorbed others
    """
    x = np.asarray(correct_or_predictions)
    if x.ndim != 2 or not (x.dtype == bool or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"correct_or_predictions must be a 2-D bool or integer array, got {x.dtype} shape {x.shape}")
    names = [str(s) for s in names]
    if len(names) != x.shape[0] or len(set(names)) != len(names):
        raise ValueError(f"names must be {x.shape[0]} unique names (one per row), got {len(names)} "
                         f"with {len(set(names))} distinct")
    first: dict[bytes, int] = {}
    merged: dict[str, list[str]] = {}
    for i, row in enumerate(np.ascontiguousarray(x)):
        j = first.setdefault(row.tobytes(), i)
        if j != i:
            merged.setdefault(names[j], []).append(names[i])
    keep = sorted(first.values())
    return x[keep], [names[i] for i in keep], merged


def _check_n(n) -> int:
    if isinstance(n, (bool, np.bool_)) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def _check_counts(counts, n: int) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim != 1:
        raise ValueError(f"counts must be 1-D (one count per image), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("counts is empty: no images")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError("counts must be integers (numbers of decision makers)")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"counts must be integers (numbers of decision makers), got dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > n:
        raise ValueError(f"counts must lie in [0, n = {n}], got values in [{lo}, {hi}]")
    return arr.astype(np.int64)


def correct_histogram(counts, *, n: int) -> np.ndarray:
    """Fraction of images correctly classified by exactly k of n decision makers.

    Parameters
    ----------
    counts : int array (N,), per image the number of decision makers (0..n) that are right.
    n : number of decision makers.

    Returns
    -------
    float64 array (n+1,); entry k is the fraction of the N images right for exactly k. Sums to 1.
    """
    n = _check_n(n)
    arr = _check_counts(counts, n)
    return np.bincount(arr, minlength=n + 1).astype(np.float64) / arr.size


# ---------------------------------------------------------------------------------------------
# The split of a set of images under every rule, and its uncertainty (module docstring)


def category_codes(counts, *, trivial_at: int, impossible_at: int) -> np.ndarray:
    """Index into :data:`CATEGORIES` (0 trivial, 1 impossible, 2 in-between) of each count.

    Parameters
    ----------
    counts : int array of any shape, numbers right
    trivial_at, impossible_at : int, ``0 <= impossible_at < trivial_at``

    Returns
    -------
    int8 array of the shape of ``counts``
    """
    if not 0 <= impossible_at < trivial_at:
        raise ValueError(f"need 0 <= impossible_at < trivial_at, got impossible_at={impossible_at}, "
                         f"trivial_at={trivial_at}")
    c = np.asarray(counts)
    out = np.full(c.shape, 2, dtype=np.int8)
    out[c >= trivial_at] = 0
    out[c <= impossible_at] = 1
    return out


def _code_fractions(codes: np.ndarray) -> np.ndarray:
    """Fractions of each category along the last axis: int8 (..., N) -> float64 (..., 3)."""
    return np.stack([(codes == k).mean(axis=-1) for k in range(len(CATEGORIES))], axis=-1)


def rule_splits(counts, *, n: int, rules=tuple(RULES)) -> dict:
    """The split of these images under every rule, as ``summary.json`` writes it.

    Parameters
    ----------
    counts : int array (N,), the number right of each image (N may be 0)
    n : number of decision makers; rules : keys of :data:`RULES`

    Returns
    -------
    ``{rule: {"trivial": f, "impossible": f, "in_between": f, "trivial_at": t, "impossible_at": i,
    "n_images": N}}``; a rule that does not apply to n, or no image, gives ``{"note": why}``.
    """
    n = _check_n(n)
    counts = np.asarray(counts)
    out = {}
    for rule in rules:
        try:
            t, i = thresholds(n, rule)
        except ValueError as err:
            out[rule] = {"note": str(err)}
            continue
        if counts.size == 0:
            out[rule] = {"note": "no images", "n_images": 0}
            continue
        cats = categorize(_check_counts(counts, n), n=n, trivial_at=t, impossible_at=i)
        out[rule] = {**split_fractions(cats), "trivial_at": t, "impossible_at": i, "n_images": int(counts.size)}
    return out


def leave_one_out_split(correct, *, rule: str) -> dict:
    """The split with each decision maker left out in turn, thresholds recomputed for n - 1.

    Parameters
    ----------
    correct : bool (M, N), the distinct decision makers (after :func:`merge_identical`)
    rule : key of :data:`RULES`; M - 1 must be a number of decision makers it applies to

    Returns
    -------
    dict with ``trivial_at``, ``impossible_at`` (the thresholds for M, int), ``loo_trivial_at``,
    ``loo_impossible_at`` (for M - 1), ``fractions`` float64 (M, 3) (row j: the split of the N images
    without decision maker j, columns in :data:`CATEGORIES` order) and ``n_changed`` int64 (M,)
    (images whose category without j differs from their category with all M).
    """
    c = _as_correct(correct)
    m = c.shape[0]
    t, i = thresholds(m, rule)
    try:
        lt, li = thresholds(m - 1, rule)
    except ValueError as err:
        raise ValueError(f"leaving one of {m} decision makers out leaves {m - 1}: {err}") from None
    counts = c.sum(axis=0, dtype=np.int64)                      # (N,)
    loo = counts[None, :] - c                                    # (M, N): the count without row j
    full = category_codes(counts, trivial_at=t, impossible_at=i)
    codes = category_codes(loo, trivial_at=lt, impossible_at=li)
    return {"trivial_at": t, "impossible_at": i, "loo_trivial_at": lt, "loo_impossible_at": li,
            "fractions": _code_fractions(codes), "n_changed": (codes != full[None, :]).sum(axis=1, dtype=np.int64)}


def _check_ci(ci) -> float:
    if isinstance(ci, (bool, np.bool_)) or not 0 < float(ci) < 1:
        raise ValueError(f"ci must be a confidence level in (0, 1), got {ci!r}")
    return float(ci)


def jackknife_split(correct, *, rule: str, ci: float = 0.95) -> dict:
    """Leave-one-out jackknife interval over decision makers of the split fractions (module docstring).

    Parameters
    ----------
    correct : bool (M, N), the distinct decision makers; rule : key of :data:`RULES` (needs M - 1
        decision makers it applies to); ci : confidence level.

    Returns
    -------
    :func:`leave_one_out_split`'s dict plus, each float64 (3,) in :data:`CATEGORIES` order:
    ``value`` (the fractions with all M), ``se`` (jackknife standard error), ``ci_low``, ``ci_high``
    (``value -+ t_{M-1} se``, clipped to [0, 1]).
    """
    ci = _check_ci(ci)
    c = _as_correct(correct)
    m = c.shape[0]
    loo = leave_one_out_split(c, rule=rule)
    value = _code_fractions(category_codes(c.sum(axis=0, dtype=np.int64), trivial_at=loo["trivial_at"],
                                           impossible_at=loo["impossible_at"]))
    f = loo["fractions"]
    se = np.sqrt((m - 1) / m * ((f - f.mean(axis=0)) ** 2).sum(axis=0))
    half = stats.t.ppf((1 + ci) / 2, m - 1) * se
    return {**loo, "value": value, "se": se, "ci_low": np.clip(value - half, 0, 1),
            "ci_high": np.clip(value + half, 0, 1)}


def bootstrap_split(categories, *, ci: float = 0.95, n_boot: int = 1000, seed=1312) -> dict:
    """Percentile bootstrap over images of the split fractions, decision makers fixed (module docstring).

    Parameters
    ----------
    categories : str array (N,) with values in :data:`CATEGORIES` (:func:`categorize`)
    ci : confidence level; n_boot : resamples; seed : of ``numpy.random.default_rng``

    Returns
    -------
    dict ``value``, ``ci_low``, ``ci_high``: float64 (3,) in :data:`CATEGORIES` order (the
    ``(1 -+ ci) / 2`` percentiles of the resampled fractions).
    """
    ci = _check_ci(ci)
    if isinstance(n_boot, (bool, np.bool_)) or int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    split_fractions(categories)  # checks the categories
    cats = np.asarray(categories)
    n = cats.size
    counts = np.array([(cats == c).sum() for c in CATEGORIES], dtype=np.int64)
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=int(n_boot)) / n   # (n_boot, 3)
    lo, hi = np.percentile(draws, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
    return {"value": counts / n, "ci_low": lo, "ci_high": hi}


def split_uncertainty(correct, *, names=None, rules=tuple(RULES), ci: float = 0.95, n_boot: int = 1000,
                      seed=1312) -> dict:
    """The split under every rule with its intervals over images and over decision makers and the
    images that change category when one decision maker is left out, as ``summary.json`` writes it.

    Parameters
    ----------
    correct : bool (M, N), the distinct decision makers (after :func:`merge_identical`)
    names : M names (default ``"0"``, ``"1"``, ...); rules : keys of :data:`RULES`
    ci : confidence level of both intervals; n_boot, seed : the bootstrap over images

    Returns
    -------
    ``{rule: entry}``; ``entry`` is ``{"note": why}`` when the rule does not apply to M, otherwise:
    ``trivial_at``, ``impossible_at``, ``n_decision_makers``, ``n_images``, ``ci``, ``n_boot``,
    ``seed``, ``images_method``, ``decision_makers_method`` (text) and, per category of
    :data:`CATEGORIES`, ``{"value", "images_low", "images_high", "decision_makers_se",
    "decision_makers_low", "decision_makers_high", "leave_one_out_min", "leave_one_out_max"}``, and
    ``leave_one_out``: ``{"trivial_at", "impossible_at" (for M - 1), "n_changed": {name: images},
    "n_changed_mean", "n_changed_max", "most_changed": name}``. When M - 1 decision makers are too
    few for the rule, the decision-maker entries are None, ``leave_one_out`` is None and
    ``decision_makers_note`` says why.
    """
    c = _as_correct(correct)
    m, n_img = c.shape
    names = [str(i) for i in range(m)] if names is None else [str(s) for s in names]
    if len(names) != m:
        raise ValueError(f"names must name the {m} decision makers (rows of correct), got {len(names)}")
    ci = _check_ci(ci)
    counts = c.sum(axis=0, dtype=np.int64)
    out = {}
    for rule in rules:
        try:
            t, i = thresholds(m, rule)
        except ValueError as err:
            out[rule] = {"note": str(err)}
            continue
        boot = bootstrap_split(categorize(counts, n=m, trivial_at=t, impossible_at=i), ci=ci, n_boot=n_boot,
                               seed=seed)
        entry = {"trivial_at": t, "impossible_at": i, "n_decision_makers": m, "n_images": n_img, "ci": ci,
                 "n_boot": int(n_boot), "seed": seed,
                 "images_method": f"{ci:.0%} percentile bootstrap over images, {int(n_boot)} resamples, seed {seed}"}
        try:
            jk = jackknife_split(c, rule=rule, ci=ci)
        except ValueError as err:
            jk, entry["decision_makers_note"] = None, str(err)
            entry["decision_makers_method"] = None
        else:
            entry["decision_makers_method"] = (
                f"{ci:.0%} leave-one-out jackknife over the {m} distinct decision makers (t, {m - 1} df), "
                f"thresholds recomputed for n - 1 = {m - 1} (trivial >= {jk['loo_trivial_at']}, "
                f"impossible <= {jk['loo_impossible_at']} right)")
        for k, cat in enumerate(CATEGORIES):
            entry[cat] = {"value": float(boot["value"][k]), "images_low": float(boot["ci_low"][k]),
                          "images_high": float(boot["ci_high"][k])}
            entry[cat].update({"decision_makers_se": None, "decision_makers_low": None, "decision_makers_high": None,
                               "leave_one_out_min": None, "leave_one_out_max": None} if jk is None else {
                "decision_makers_se": float(jk["se"][k]), "decision_makers_low": float(jk["ci_low"][k]),
                "decision_makers_high": float(jk["ci_high"][k]),
                "leave_one_out_min": float(jk["fractions"][:, k].min()),
                "leave_one_out_max": float(jk["fractions"][:, k].max())})
        if jk is None:
            entry["leave_one_out"] = None
        else:
            changed = jk["n_changed"]
            entry["leave_one_out"] = {"trivial_at": jk["loo_trivial_at"], "impossible_at": jk["loo_impossible_at"],
                                      "n_changed": {nm: int(v) for nm, v in zip(names, changed)},
                                      "n_changed_mean": float(changed.mean()), "n_changed_max": int(changed.max()),
                                      "most_changed": names[int(changed.argmax())]}
        out[rule] = entry
    return out
