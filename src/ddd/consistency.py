"""Error consistency: Cohen's kappa between the correctness of two decision makers.

For boolean correctness vectors ``a``, ``b`` over the same N images (SPEC): ``p_a = mean(a)``,
``p_b = mean(b)``, ``c_obs = mean(a == b)``, ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)`` and
``kappa = (c_obs - c_exp) / (1 - c_exp)``.

Kappa is undefined when ``c_exp == 1``, i.e. both decision makers are 100 % right or both 100 %
wrong. What happens then is chosen with ``undefined``:

``"nan"`` (default)  NaN, never a silent 1 or 0.
``"mvh"``            model-vs-human's rule: ``kappa = 1`` whenever ``c_obs == 1`` (which covers every
                     undefined case).
``"raise"``          ValueError.

If exactly one decision maker is at 0 % or 100 %, kappa is exactly 0.0 (set explicitly, not left
to floating point). Negative kappa is kept. Given the two accuracies, ``c_obs`` can only lie in
``[|p_a + p_b - 1|, 1 - |p_a - p_b|]``; :func:`kappa_bounds` maps those to ``(kappa_min, kappa_max)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

UNDEFINED = ("nan", "mvh", "raise")
_TOL = 1e-9


def _as_correct(x, name: str, ndim: int) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D correctness, got shape {x.shape}")
    if x.dtype != bool:
        if not np.issubdtype(x.dtype, np.integer) or not np.isin(x, (0, 1)).all():
            raise ValueError(f"{name} must be boolean or 0/1 integers, got dtype {x.dtype}")
        x = x.astype(bool)
    if x.shape[-1] == 0:
        raise ValueError(f"{name} covers no images (N = 0)")
    return x


def _check_undefined(undefined: str) -> None:
    if undefined not in UNDEFINED:
        raise ValueError(f"undefined must be one of {UNDEFINED}, got {undefined!r}")


def kappa_from_rates(c_obs, p_a, p_b, *, undefined: str = "nan") -> np.ndarray:
    """Cohen's kappa from observed agreement and the two accuracies, elementwise with broadcasting.

    Parameters
    ----------
    c_obs, p_a, p_b : float array-likes in [0, 1], broadcastable
        ``c_obs`` must be feasible given the accuracies (within ``[|p_a+p_b-1|, 1-|p_a-p_b|]``).
    undefined : {"nan", "mvh", "raise"}

    Returns
    -------
    kappa : float64 ndarray of the broadcast shape (0-d for scalar inputs)
    """
    _check_undefined(undefined)
    c_obs, p_a, p_b = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (c_obs, p_a, p_b)))
    for v, name in ((c_obs, "c_obs"), (p_a, "p_a"), (p_b, "p_b")):
        if not np.all((v >= 0) & (v <= 1)):
            raise ValueError(f"{name} must lie in [0, 1] (NaN not allowed)")
    lo, hi = np.abs(p_a + p_b - 1), 1 - np.abs(p_a - p_b)
    if np.any((c_obs < lo - _TOL) | (c_obs > hi + _TOL)):
        raise ValueError("c_obs is impossible given p_a and p_b (must lie in [|p_a+p_b-1|, 1-|p_a-p_b|])")
    c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)
    extreme_a, extreme_b = (p_a == 0) | (p_a == 1), (p_b == 0) | (p_b == 1)
    undef = extreme_a & extreme_b & (p_a == p_b)
    if undefined == "raise" and undef.any():
        raise ValueError(f"kappa undefined (both decision makers 100 % right or both 100 % wrong) "
                         f"at {int(undef.sum())} of {undef.size} entries")
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (c_obs - c_exp) / (1 - c_exp)
    kappa = np.where(extreme_a != extreme_b, 0.0, kappa)
    kappa = np.where(undef, np.nan, kappa)
    if undefined == "mvh":
        kappa = np.where(c_obs == 1, 1.0, kappa)
    return kappa


def error_consistency(a, b, *, undefined: str = "nan") -> float:
    """Error consistency (kappa) of two bool correctness vectors ``a``, ``b`` of shape (N,)."""
    a, b = _as_correct(a, "a", 1), _as_correct(b, "b", 1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must cover the same images, got lengths {a.size} and {b.size}")
    return float(kappa_from_rates(np.mean(a == b), np.mean(a), np.mean(b), undefined=undefined))


def kappa_bounds(p_a, p_b) -> tuple[np.ndarray, np.ndarray]:
    """``(kappa_min, kappa_max)`` reachable given accuracies ``p_a``, ``p_b`` (broadcast; NaN where undefined)."""
    p_a, p_b = np.broadcast_arrays(np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64))
    lo, hi = np.abs(p_a + p_b - 1), 1 - np.abs(p_a - p_b)
    return kappa_from_rates(lo, p_a, p_b), kappa_from_rates(hi, p_a, p_b)


def _rates(correct) -> tuple[np.ndarray, np.ndarray, int]:
    c = _as_correct(correct, "correct", 2).astype(np.float64)
    n = c.shape[1]
    agree = (c @ c.T + (1 - c) @ (1 - c).T) / n
    return agree, c.mean(axis=1), n


def pairwise(correct, *, names=None, undefined: str = "nan") -> pd.DataFrame:
    """Error consistency of all pairs ``i < j`` of decision makers.

    Parameters
    ----------
    correct : bool (or 0/1 int) array (M, N), decision makers x images, M >= 2
    names : sequence of M unique names, optional (default: row indices 0..M-1)
    undefined : {"nan", "mvh", "raise"}

    Returns
    -------
    DataFrame with one row per pair and columns ``a, b, n, p_a, p_b, c_obs, c_exp, kappa,
    kappa_undefined, kappa_min, kappa_max`` (rates and kappas float64).
    """
    _check_undefined(undefined)
    agree, p, n = _rates(correct)
    m = len(p)
    if m < 2:
        raise ValueError(f"pairwise needs at least 2 decision makers, got {m}")
    names = list(range(m)) if names is None else list(names)
    if len(names) != m or len(set(names)) != m:
        raise ValueError(f"names must be {m} unique names (one per row of correct), got {len(names)} "
                         f"with {len(set(names))} distinct")
    i, j = np.triu_indices(m, k=1)
    p_a, p_b, c_obs = p[i], p[j], agree[i, j]
    kappa_min, kappa_max = kappa_bounds(p_a, p_b)
    return pd.DataFrame({
        "a": [names[k] for k in i], "b": [names[k] for k in j], "n": n,
        "p_a": p_a, "p_b": p_b, "c_obs": c_obs, "c_exp": p_a * p_b + (1 - p_a) * (1 - p_b),
        "kappa": kappa_from_rates(c_obs, p_a, p_b, undefined=undefined),
        "kappa_undefined": (p_a == p_b) & ((p_a == 0) | (p_a == 1)),
        "kappa_min": kappa_min, "kappa_max": kappa_max,
    })


def kappa_matrix(correct, *, undefined: str = "nan") -> np.ndarray:
    """Symmetric float64 (M, M) kappa matrix of bool correctness (M, N).

    The diagonal is 1 where defined and follows ``undefined`` for decision makers at 0 % or 100 %.
    """
    agree, p, _ = _rates(correct)
    kappa = kappa_from_rates(agree, p[:, None], p[None, :], undefined=undefined)
    upper = np.triu(np.ones_like(kappa, dtype=bool))
    return np.where(upper, kappa, kappa.T)
