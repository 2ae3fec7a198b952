"""Dichotomous data difficulty: split images into trivial, impossible and in-between.

Given the correctness of M decision makers on N images, an image is *trivial* if at least
``trivial_at`` of them get it right, *impossible* if at most ``impossible_at`` do, and
*in_between* otherwise. Two rules fix the thresholds from M (:data:`RULES`): ``"strict"`` (all right /
none right) and ``"all_but_one"`` (all but one right / at most one right).

To judge how surprising the observed split is, :func:`expected_fractions` gives the split expected
if the decision makers erred independently, from the exact Poisson-binomial distribution of the
number right (:func:`poisson_binomial`; :func:`binomial_expectation` for equal accuracies).
:func:`merge_identical` merges decision makers whose rows are identical before counting.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

CATEGORIES = ("trivial", "impossible", "in_between")
#: rule -> (k, i): trivial_at = n - k, impossible_at = i, for n decision makers.
RULES = {"strict": (0, 0), "all_but_one": (1, 1)}


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
    minimum = k + i + 1
    if int(n) != n or n < minimum:
        raise ValueError(f"rule {rule!r} needs at least {minimum} decision makers so that trivial "
                         f"(>= n-{k} right) and impossible (<= {i} right) are disjoint, got n={n}")
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
