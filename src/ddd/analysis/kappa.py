"""Error consistency: Cohen's κ between the correctness of two decision makers (docs/reproduction.md#error-consistency).

For boolean correctness vectors ``a``, ``b`` over the same N images: ``p_a = mean(a)``,
``p_b = mean(b)``, ``c_obs = mean(a == b)``, ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)`` and
``kappa = (c_obs - c_exp) / (1 - c_exp)``.

Kappa is undefined when ``c_exp == 1``, i.e. both decision makers are 100 % right or both 100 %
wrong. What happens then is chosen with ``undefined``:

``"nan"`` (default)  NaN, never a silent 1 or 0 (tables also carry a ``kappa_undefined`` flag).
``"mvh"``            model-vs-human's rule: ``kappa = 1`` whenever ``c_obs == 1`` (which covers every
                     undefined case).
``"raise"``          ValueError.

If exactly one decision maker is at 0 % or 100 %, kappa is exactly 0.0 (set explicitly, not left
to floating point). Negative kappa is kept. Given the two accuracies, ``c_obs`` can only lie in
``[|p_a + p_b - 1|, 1 - |p_a - p_b|]``; :func:`kappa_bounds` maps those to ``(kappa_min, kappa_max)``.

Python API
----------
>>> from ddd.analysis.kappa import error_consistency, kappa_matrix
>>> from ddd.analysis.uncertainty import pairwise, bootstrap_kappa, kappa_p_value, condition_spread
>>> error_consistency(a, b)                      # a, b: bool (N,) correctness; float
>>> kappa_matrix(correct)                        # correct: bool (M, N); float (M, M)
>>> pairwise(correct, names=names)               # tidy DataFrame, one row per pair
>>> pairwise(correct, ci=0.95, n_boot=1000, seed=0, p_value=True)   # + kappa_ci_low/high, kappa_sd, p_value
>>> bootstrap_kappa(a, b, ci=0.95, n_boot=1000, seed=0)             # dict: kappa, ci_low, ci_high, sd, ...
>>> kappa_p_value(a, b)                          # exact one-sided p against independent observers
>>> condition_spread(runs, reference=base)       # spread over runs vs spread over images

All pairs of many decision makers stored in decisions files, at every epoch and on subsets of images:
``ddd.analysis.engine.all_pairs``.
"""

from __future__ import annotations


import numpy as np

UNDEFINED = ("nan", "mvh", "raise")
_TOL = 1e-9
_F32_EXACT = 2 ** 24  # float32 sums of 0/1 products are exact up to this many terms


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
    parts = _Parts(p_a, p_b)
    if undefined == "raise" and parts.undef.any():
        raise ValueError(f"kappa undefined (both decision makers 100 % right or both 100 % wrong) "
                         f"at {int(parts.undef.sum())} of {parts.undef.size} entries")
    return parts.kappa(c_obs, undefined)


class _Parts:
    """What κ of given accuracies shares between observed agreements (``c_obs``, the bounds): no checks.

    Every value is computed by the same floating-point operations whatever the caller, so κ, κ_min
    and κ_max of :func:`pair_table` equal those of :func:`kappa_from_rates` and :func:`kappa_bounds` bit for bit.
    """

    def __init__(self, p_a: np.ndarray, p_b: np.ndarray):
        self.p_a, self.p_b = p_a, p_b
        self.c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)
        self.one_minus = 1 - self.c_exp
        extreme_a, extreme_b = (p_a == 0) | (p_a == 1), (p_b == 0) | (p_b == 1)
        self.one_extreme = extreme_a != extreme_b
        self.undef = extreme_a & extreme_b & (p_a == p_b)
        self.any_one, self.any_undef = bool(self.one_extreme.any()), bool(self.undef.any())

    def kappa(self, c_obs: np.ndarray, undefined: str = "nan") -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = np.asarray((c_obs - self.c_exp) / self.one_minus)
        if self.any_one or kappa.ndim == 0:
            kappa = np.where(self.one_extreme, 0.0, kappa)
        if self.any_undef or kappa.ndim == 0:
            kappa = np.where(self.undef, np.nan, kappa)
        if undefined == "mvh":
            kappa = np.where(c_obs == 1, 1.0, kappa)
        return kappa

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.abs(self.p_a + self.p_b - 1), 1 - np.abs(self.p_a - self.p_b)
        return self.kappa(lo), self.kappa(hi)


def error_consistency(a, b, *, undefined: str = "nan") -> float:
    """Error consistency (kappa) of two bool correctness vectors ``a``, ``b`` of shape (N,)."""
    a, b = _pair_vectors(a, b)
    return float(kappa_from_rates(np.mean(a == b), np.mean(a), np.mean(b), undefined=undefined))


def _pair_vectors(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_correct(a, "a", 1), _as_correct(b, "b", 1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must cover the same images, got lengths {a.size} and {b.size}")
    return a, b


def kappa_bounds(p_a, p_b) -> tuple[np.ndarray, np.ndarray]:
    """``(kappa_min, kappa_max)`` reachable given accuracies ``p_a``, ``p_b`` (broadcast; NaN where undefined)."""
    p_a, p_b = np.broadcast_arrays(np.asarray(p_a, dtype=np.float64), np.asarray(p_b, dtype=np.float64))
    lo, hi = np.abs(p_a + p_b - 1), 1 - np.abs(p_a - p_b)
    return kappa_from_rates(lo, p_a, p_b), kappa_from_rates(hi, p_a, p_b)


def pair_counts(correct, *, mask=None) -> tuple[int, np.ndarray]:
    """Exact counts for all pairs: ``(n, both)``, by population count over bit-packed rows
    (:func:`ddd.analysis.bitcount.both_counts`; integers throughout, no rounding).

    Parameters
    ----------
    correct : bool array (M, N)
    mask : bool array (N,), optional: count only these images

    Returns
    -------
    n : number of images counted
    both : int64 (M, M), ``both[i, j]`` = images right for i and j; the diagonal is each one's number right
    """
    from ddd.analysis.bitcount import both_counts, pack

    c = np.asarray(correct)
    if c.ndim != 2 or c.dtype != bool:
        raise ValueError(f"correct must be a bool (M, N) array, got {c.dtype} shape {c.shape}")
    m, n_all = c.shape
    if mask is None:
        return n_all, both_counts(pack(c))
    mask = np.asarray(mask)
    if mask.shape != (n_all,) or mask.dtype != bool:
        raise ValueError(f"mask must be bool ({n_all},), got {mask.dtype} shape {mask.shape}")
    return int(np.count_nonzero(mask)), both_counts(pack(c), mask=pack(mask))


def pair_table(n, k_a, k_b, k_ab, *, undefined: str = "nan", bias_corrected: bool = False,
               bounds: bool = True) -> dict:
    """The tidy columns of :func:`pairwise` from exact counts, elementwise with broadcasting.

    Parameters
    ----------
    n : int array-like, images (0 gives NaN rates and ``kappa_undefined = True``)
    k_a, k_b, k_ab : int array-likes, images right for a, for b, for both
    undefined : {"nan", "mvh", "raise"}
    bias_corrected : add ``kappa_bias_corrected``, Klein et al.'s κ′ = nκ / ((n − 1) + κ)
    bounds : include ``kappa_min, kappa_max, kappa_over_max`` (default); ``False`` leaves them out
        (what a summary of κ alone needs, about half the work)

    Returns
    -------
    dict of arrays ``n, p_a, p_b, c_obs, c_exp, kappa, kappa_undefined, kappa_min, kappa_max,
    kappa_over_max`` (κ / κ_max: the share of the largest κ the two accuracies allow; NaN where
    κ_max is not positive), then ``kappa_bias_corrected`` on request
    """
    _check_undefined(undefined)
    n, k_a, k_b, k_ab = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (n, k_a, k_b, k_ab)))
    if np.any((k_ab < 0) | (k_ab > np.minimum(k_a, k_b)) | (k_a + k_b - k_ab > n)):
        raise ValueError("impossible counts: need 0 <= k_ab <= min(k_a, k_b) and k_a + k_b - k_ab <= n")
    ok = n > 0
    everywhere = bool(ok.all())
    nn = n if everywhere else np.where(ok, n, 1)
    p_a, p_b = k_a / nn, k_b / nn
    c_obs = (n - k_a - k_b + 2 * k_ab) / nn
    if not everywhere:
        p_a, p_b, c_obs = (np.where(ok, v, np.nan) for v in (p_a, p_b, c_obs))
    # counts within these bounds give rates in [0, 1] with c_obs feasible: κ without kappa_from_rates' checks
    if everywhere:
        parts = _Parts(p_a, p_b)
        if undefined == "raise" and parts.undef.any():
            kappa_from_rates(c_obs, p_a, p_b, undefined="raise")  # raises, with its message
        kappa, c_exp = parts.kappa(c_obs, undefined), parts.c_exp
        if bounds:
            kappa_min, kappa_max = parts.bounds()
    else:
        kappa = np.full(n.shape, np.nan)
        kappa[ok] = kappa_from_rates(c_obs[ok], p_a[ok], p_b[ok], undefined=undefined)
        if bounds:
            kappa_min, kappa_max = np.full(n.shape, np.nan), np.full(n.shape, np.nan)
            kappa_min[ok], kappa_max[ok] = kappa_bounds(p_a[ok], p_b[ok])
        c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)
    out = {"n": n, "p_a": p_a, "p_b": p_b, "c_obs": c_obs, "c_exp": c_exp, "kappa": kappa,
           "kappa_undefined": ~ok | ((k_a == k_b) & ((k_a == 0) | (k_a == n)))}
    if bounds:
        with np.errstate(divide="ignore", invalid="ignore"):
            over = np.where(kappa_max > 0, kappa / np.where(kappa_max > 0, kappa_max, 1.0), np.nan)
        out.update(kappa_min=kappa_min, kappa_max=kappa_max, kappa_over_max=over)
    if bias_corrected:
        with np.errstate(divide="ignore", invalid="ignore"):
            out["kappa_bias_corrected"] = np.where(ok, n * kappa / ((n - 1) + kappa), np.nan)
    return out


def kappa_matrix(correct, *, undefined: str = "nan") -> np.ndarray:
    """Symmetric float64 (M, M) kappa matrix of bool correctness (M, N).

    The diagonal is 1 where defined and follows ``undefined`` for decision makers at 0 % or 100 %.
    """
    n, both = pair_counts(_as_correct(correct, "correct", 2))
    k = np.diag(both)
    return pair_table(n, k[:, None], k[None, :], both, undefined=undefined)["kappa"]


