"""Planning an experiment: the copy model of error consistency, interval widths, power and sample sizes.

After Klein, Meyen, Brendel, Wichmann & Meding (NeurIPS 2025, "Quantifying uncertainty in error
consistency"; code: github.com/wichmann-lab/error_consistency, ``src/utils.py``). Numbers and
formulas carry over; the code is this project's.

The copy model
--------------
Two observers answer the same N trials (images). Observer A is right on each trial with
probability ``p_a``, independently across trials. Observer B, on each trial, *copies* A with
probability ``|c|`` and otherwise answers on its own, right with probability ``u`` independently
of A. For ``c >= 0`` copying means B is right exactly when A is right; for ``c < 0`` (negative
error consistency) B is right exactly when A is wrong. ``u`` is chosen so that B's accuracy is
``p_b``:

    u = (p_b - c p_a) / (1 - c)                 for c >= 0
    u = (p_b - |c| (1 - p_a)) / (1 - |c|)       for c < 0      (u = p_b when |c| = 1)

The covariance of the two correctness indicators is ``c p_a (1 - p_a)`` (either sign), so with
``c_exp = p_a p_b + (1 - p_a)(1 - p_b)``

    kappa = c * 2 p_a (1 - p_a) / (1 - c_exp)        copy_from_kappa:  c = kappa (1 - c_exp) / (2 p_a (1 - p_a))

(Klein et al.'s ``estimate_copy_model_parameters``: ``pcopy = ec * f`` with
``f = (1 - c_exp) / (1 - (acc1**2 + (1 - acc1)**2))``, the same formula; their observer 1 is the one
copied from, observer 2 copies). κ is linear in c, and ``u`` stays in [0, 1] exactly for
``c`` in :func:`copy_bounds` ``= [-min(p_b / (1 - p_a), (1 - p_b) / p_a), min(p_b / p_a, (1 - p_b) / (1 - p_a))]``,
which maps onto exactly the reachable range ``[kappa_min, kappa_max]`` of
:func:`ddd.analysis.kappa.kappa_bounds`: every κ two observers with these accuracies can have has
one copy probability. The model is directional (B copies A); swapping the observers gives another
c for the same κ (``p_b`` in place of ``p_a`` in the denominator). Both accuracies must lie
strictly between 0 and 1.

Simulation (:func:`simulate_copy_model`): every trial is copied independently with probability
``|c|`` (``copies="random"``, the model above). Klein et al.'s simulator
(``simulate_trials_from_copy_model``) copies exactly ``round(|c| N)`` trials instead
(``copies="fixed"`` here; copied trials at random positions), which gives slightly narrower
sampling distributions of κ; both have the target κ and accuracies in expectation. One observer A
can be copied by several observers B_1..B_J (``p_b``, ``kappa``/``copy`` as length-J sequences),
each independently given A: that is the paired design "κ(A, B_1) against κ(A, B_2)" with a shared
decision maker.

Planning (closed form, ``method="normal"``)
-------------------------------------------
(p_a, p_b, κ) fix the 2x2 table of cell probabilities of one trial, ``pi_11 = p_a p_b + κ (1 - c_exp) / 2``
(both right), ``pi_10 = p_a - pi_11``, ``pi_01 = p_b - pi_11``, ``pi_00 = 1 - p_a - p_b + pi_11``,
whatever model generated it. With N independent trials the counts are multinomial and the delta
method gives the asymptotic variance ``Var(kappa_hat) ~ v / N`` with
``v = sum_k pi_k g_k**2 - (sum_k pi_k g_k)**2`` and ``g`` the gradient of κ with respect to the
four cell probabilities (:func:`kappa_variance`; the same number as the large-sample formula of
Fleiss, Cohen & Everitt 1969). Everything below is this *normal approximation*, stated as such:

- :func:`half_width`: ``z_{(1+ci)/2} sqrt(v / N)``; :func:`trials_for_half_width`: the smallest N
  with half-width <= the target, ``ceil(z**2 v / h**2)``.
- :func:`power`: a Wald test of Δκ = 0 at level ``alpha`` with the standard error at the true
  values: ``design="one-pair"`` tests one pair whose κ is ``kappa + delta`` against the value
  ``kappa`` (``sigma**2 = v(kappa + delta) / N``); ``design="two-pairs"`` compares two independent
  pairs (different observers, or independent sets of trials) at ``kappa`` and ``kappa + delta``,
  N trials each (``sigma**2 = (v(kappa) + v(kappa + delta)) / N``). Two-sided:
  ``Phi(|delta| / sigma - z_{1-alpha/2}) + Phi(-|delta| / sigma - z_{1-alpha/2})``; one-sided
  ("greater": pair 2 / the pair above the value) ``Phi(delta / sigma - z_{1-alpha})``. Pairs that
  share an observer and the same trials are positively correlated, so the independent-pairs
  power is conservative for them.
- :func:`trials_for_power`: ``ceil((z_{1-alpha/2} + z_power)**2 sigma_1**2 / delta**2)``
  (``sigma_1**2 = N sigma**2``; the opposite tail is neglected, so the power at that N is at least
  the target); :func:`detectable_difference`: the smallest |Δκ| (bisection, within the reachable
  range) whose power reaches the target.

Planning by seeded simulation (``method="simulation"``)
-------------------------------------------------------
``n_sim`` studies are simulated from the copy model (counts drawn exactly, see
:func:`simulate_copy_model`; ``numpy.random.default_rng(seed)``). The half-width is half the width
of the central ``ci`` range of the simulated κ's (the interval Klein et al. show as the CI size,
and the one a percentile bootstrap targets); studies with an undefined κ are left out. Power is
the fraction of simulated studies in which the Wald test above, with each study's own plug-in
standard error (:func:`kappa_se`), rejects (an undefined κ never rejects); it captures the
small-N skew of κ and the error of the estimated standard error. Sample sizes are searched by
doubling and bisection on N (Monte-Carlo error of a power: ``sqrt(p (1 - p) / n_sim)``, about
0.009 at 0.8 with 2,000 studies). Vectorised: 2,000 studies of N = 1,000 take milliseconds.

Python API
----------
>>> from ddd.analysis.power import kappa_from_copy, copy_from_kappa, simulate_copy_model
>>> from ddd.analysis.power import half_width, trials_for_half_width, power, trials_for_power
>>> from ddd.analysis.power import detectable_difference, power_table
>>> copy_from_kappa(0.4, 0.8, 0.8)                   # 0.4 (equal accuracies: c = kappa)
>>> simulate_copy_model(149, p_a=0.8, p_b=0.8, kappa=0.4, size=2000, seed=0)   # bool (2000, 2, 149)
>>> half_width(149, kappa=0.4, p_a=0.8, p_b=0.8)     # 95 % half-width, normal approximation
>>> trials_for_power(0.2, kappa=0.4, p_a=0.8, p_b=0.8, design="two-pairs", power=0.8)
>>> power_table(149, p_a=0.81, p_b=0.81)            # what 149 trials can and cannot resolve
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
from scipy import stats

from ddd.analysis.kappa import kappa_bounds, pair_table

__all__ = ["METHODS", "DESIGNS", "ALTERNATIVES", "COPIES", "copy_bounds", "kappa_from_copy", "copy_from_kappa",
           "independent_rate", "simulate_copy_model", "kappa_variance", "kappa_se", "half_width",
           "trials_for_half_width", "power", "trials_for_power", "detectable_difference", "power_table"]

METHODS = ("normal", "simulation")
DESIGNS = ("one-pair", "two-pairs")
ALTERNATIVES = ("two-sided", "greater", "less")
COPIES = ("random", "fixed")
_TOL = 1e-12
_MAX_N = 10 ** 9


# --- validation ------------------------------------------------------------------------------------

def _choice(value, allowed, name):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _floats(x, name) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {x!r}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {x!r}")
    return a


def _accuracy(x, name) -> np.ndarray:
    a = _floats(x, name)
    if not np.all((a > 0) & (a < 1)):
        raise ValueError(f"{name} must lie strictly between 0 and 1 (an observer always right or always wrong "
                         f"has no error consistency to plan for), got {x!r}")
    return a


def _level(x, name, what="a probability") -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0 < x < 1:
        raise ValueError(f"{name} must be {what} in (0, 1), got {x!r}")
    return float(x)


def _count(x, name, minimum=1) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer)
                               or (np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a))
                                   and np.all(a == np.round(a)))):
        raise ValueError(f"{name} must be a whole number (or array of them), got {x!r}")
    a = a.astype(np.int64)
    if np.any(a < minimum):
        raise ValueError(f"{name} must be >= {minimum}, got {x!r}")
    return a


def _sims(n_sim) -> int:
    if isinstance(n_sim, bool) or not isinstance(n_sim, numbers.Integral) or n_sim < 2:
        raise ValueError(f"n_sim must be an integer >= 2, got {n_sim!r}")
    return int(n_sim)


def _show(a) -> str:
    a = np.asarray(a)
    return f"{float(a):.6g}" if a.ndim == 0 else np.array2string(a, precision=6)


def _check_reachable(kappa, p_a, p_b, name="kappa") -> None:
    """ValueError naming the allowed range when ``kappa`` is outside ``kappa_bounds(p_a, p_b)``."""
    kappa, p_a, p_b = np.broadcast_arrays(kappa, p_a, p_b)
    lo, hi = kappa_bounds(p_a, p_b)
    bad = (kappa < lo - 1e-9) | (kappa > hi + 1e-9)
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        k, a, b, l, h = (float(v.ravel()[i]) for v in (kappa, p_a, p_b, lo, hi))
        raise ValueError(f"{name} = {k:.6g} is not reachable with accuracies p_a = {a:.6g}, p_b = {b:.6g}: "
                         f"the allowed range is [{l:.6g}, {h:.6g}] (kappa_min, kappa_max)"
                         + (f" ({int(bad.sum())} of {bad.size} entries)" if bad.size > 1 else ""))


def _out(x, integer=False):
    x = np.asarray(x)
    if x.ndim == 0:
        v = x.item()
        return int(v) if integer and math.isfinite(v) else float(v)
    return x


# --- the copy model ----------------------------------------------------------------------------------

def _c_exp(p_a, p_b):
    return p_a * p_b + (1 - p_a) * (1 - p_b)


def copy_bounds(p_a, p_b) -> tuple:
    """``(c_min, c_max)``: the copy probabilities the model allows (module docstring), broadcast.

    Parameters
    ----------
    p_a, p_b : float array-likes in (0, 1): accuracy of the observer copied from (A) and of the copier (B)

    Returns
    -------
    c_min, c_max : floats (or arrays of the broadcast shape); ``kappa_from_copy`` maps them to
        ``kappa_min``, ``kappa_max`` of :func:`ddd.analysis.kappa.kappa_bounds`
    """
    p_a, p_b = np.broadcast_arrays(_accuracy(p_a, "p_a"), _accuracy(p_b, "p_b"))
    c_max = np.minimum(p_b / p_a, (1 - p_b) / (1 - p_a))
    c_min = -np.minimum(p_b / (1 - p_a), (1 - p_b) / p_a)
    return _out(c_min), _out(c_max)


def kappa_from_copy(copy, p_a, p_b):
    """κ of the copy model: ``copy * 2 p_a (1 - p_a) / (1 - c_exp)``, elementwise with broadcasting.

    Parameters
    ----------
    copy : float array-like, the probability that B copies A's correctness (negative: B is right
        exactly when A is wrong), within :func:`copy_bounds`
    p_a, p_b : float array-likes in (0, 1), accuracies of A (copied from) and B (copier)

    Returns
    -------
    kappa : float, or float64 array of the broadcast shape
    """
    c = _floats(copy, "copy")
    c, p_a, p_b = np.broadcast_arrays(c, _accuracy(p_a, "p_a"), _accuracy(p_b, "p_b"))
    lo, hi = copy_bounds(p_a, p_b)
    bad = (c < np.asarray(lo) - 1e-9) | (c > np.asarray(hi) + 1e-9)
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        raise ValueError(f"copy = {c.ravel()[i]:.6g} is not possible with p_a = {p_a.ravel()[i]:.6g}, "
                         f"p_b = {p_b.ravel()[i]:.6g}: the allowed range is [{np.ravel(lo)[i]:.6g}, "
                         f"{np.ravel(hi)[i]:.6g}] (the copier's own rate would leave [0, 1])")
    return _out(c * 2 * p_a * (1 - p_a) / (1 - _c_exp(p_a, p_b)))


def copy_from_kappa(kappa, p_a, p_b):
    """The copy probability giving error consistency ``kappa``: ``kappa (1 - c_exp) / (2 p_a (1 - p_a))``.

    Parameters
    ----------
    kappa : float array-like within ``kappa_bounds(p_a, p_b)`` (ValueError naming the range otherwise)
    p_a, p_b : float array-likes in (0, 1), accuracies of A (copied from) and B (copier)

    Returns
    -------
    copy : float, or float64 array of the broadcast shape (negative for negative κ)
    """
    k = _floats(kappa, "kappa")
    k, p_a, p_b = np.broadcast_arrays(k, _accuracy(p_a, "p_a"), _accuracy(p_b, "p_b"))
    _check_reachable(k, p_a, p_b)
    lo, hi = copy_bounds(p_a, p_b)
    return _out(np.clip(k * (1 - _c_exp(p_a, p_b)) / (2 * p_a * (1 - p_a)), lo, hi))


def independent_rate(copy, p_a, p_b):
    """``u``: the copier's accuracy on the trials it does not copy (module docstring), broadcast."""
    kappa_from_copy(copy, p_a, p_b)  # validates
    c, p_a, p_b = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (copy, p_a, p_b)))
    a = np.abs(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(c >= 0, (p_b - a * p_a) / (1 - a), (p_b - a * (1 - p_a)) / (1 - a))
    return _out(np.clip(np.where(a >= 1 - _TOL, p_b, u), 0.0, 1.0))


def simulate_copy_model(n, *, p_a, p_b, kappa=None, copy=None, size=None, seed=None, counts: bool = False,
                        copies: str = "random"):
    """Seeded studies of the copy model: A answers, B_1..B_J copy A (module docstring).

    Parameters
    ----------
    n : int >= 1, trials (images) per study
    p_a : float in (0, 1), accuracy of A (the observer copied from)
    p_b : float in (0, 1), or a 1-D sequence of J accuracies (one per copier)
    kappa, copy : exactly one: the error consistency κ(A, B_j), or the copy probability; a float
        or a length-J sequence (broadcast with ``p_b``); κ must be reachable (ValueError naming
        the range)
    size : None, int or tuple of ints: the number of independent studies (leading dimensions)
    seed : int, None or numpy Generator (``numpy.random.default_rng(seed)``)
    counts : False: per-trial correctness; True: only the counts of each pair (A, B_j), drawn
        exactly (equal in distribution to counting the trials, not draw for draw), in O(studies)
        time and memory whatever n
    copies : "random" (each trial copied with probability |c|) or "fixed" (exactly round(|c| n)
        trials copied, Klein et al.'s simulator)

    Returns
    -------
    counts=False: bool array ``(*size, 1 + J, n)``: row 0 is A, row j is B_j; ``(*size, 2, n)``
        for one copier.
    counts=True: int64 array ``(*size, J, 3)`` of ``(k_a, k_b, k_ab)`` (A right, B_j right, both
        right) per copier, ``(*size, 3)`` when ``p_b`` is a scalar; give them to
        :func:`ddd.analysis.kappa.pair_table` with ``n``. The J pairs share A's trials, so their
        joint distribution (hence that of κ(A, B_1), ..., κ(A, B_J)) is exact.
    """
    if np.ndim(n) or np.ndim(p_a):
        raise ValueError("n and p_a must be scalars (use size for many studies)")
    n = int(_count(n, "n"))
    _choice(copies, COPIES, "copies")
    if (kappa is None) == (copy is None):
        raise ValueError("give exactly one of kappa and copy")
    scalar = np.ndim(p_b) == 0 and np.ndim(kappa if copy is None else copy) == 0
    p_a = float(_accuracy(p_a, "p_a"))
    p_b = _accuracy(p_b, "p_b")
    if p_b.ndim > 1:
        raise ValueError(f"p_b must be a float or a 1-D sequence (one per copier), got shape {p_b.shape}")
    if kappa is not None:
        c = np.atleast_1d(np.asarray(copy_from_kappa(kappa, p_a, p_b), dtype=np.float64))
    else:
        c = np.atleast_1d(np.asarray(copy, dtype=np.float64))
        kappa_from_copy(c, p_a, p_b)  # validates the range
    if c.ndim > 1:
        raise ValueError(f"kappa / copy must be a float or a 1-D sequence, got shape {c.shape}")
    c, p_b = np.broadcast_arrays(c, np.atleast_1d(p_b))
    u = np.atleast_1d(independent_rate(c, p_a, p_b))
    shape = () if size is None else ((int(size),) if isinstance(size, numbers.Integral) else tuple(map(int, size)))
    if any(s < 0 for s in shape):
        raise ValueError(f"size must be non-negative, got {size!r}")
    rng = np.random.default_rng(seed)
    j = c.size
    neg = c < 0
    a = np.abs(c)
    if counts:
        k_a = rng.binomial(n, p_a, size=shape + (1,))
        if copies == "random":
            h1 = rng.binomial(k_a, a, size=shape + (j,))          # copied trials among A right
            h0 = rng.binomial(n - k_a, a, size=shape + (j,))      # copied trials among A wrong
        else:
            m = np.rint(a * n).astype(np.int64)
            k_a_j = np.broadcast_to(k_a, shape + (j,))
            h1 = rng.hypergeometric(k_a_j, n - k_a_j, np.broadcast_to(m, shape + (j,)))
            h0 = m - h1
        right_among_right = rng.binomial(k_a - h1, u)            # own answers, A right
        right_among_wrong = rng.binomial(n - k_a - h0, u)        # own answers, A wrong
        k_ab = np.where(neg, right_among_right, h1 + right_among_right)
        k_b = k_ab + np.where(neg, h0, 0) + right_among_wrong
        out = np.stack([np.broadcast_to(k_a, k_b.shape), k_b, k_ab], axis=-1).astype(np.int64)
        return out[..., 0, :] if scalar else out
    A = rng.random(shape + (1, n)) < p_a
    if copies == "random":
        copied = rng.random(shape + (j, n)) < a[:, None]
    else:
        m = np.rint(a * n).astype(np.int64)
        ranks = np.argsort(np.argsort(rng.random(shape + (j, n)), axis=-1), axis=-1)
        copied = ranks < m[:, None]
    own = rng.random(shape + (j, n)) < u[:, None]
    B = np.where(copied, A ^ neg[:, None], own)
    return np.concatenate([A, B], axis=-2)


# --- the closed form -----------------------------------------------------------------------------------

def _cells(kappa, p_a, p_b):
    """Cell probabilities ``(pi_11, pi_10, pi_01, pi_00)`` of one trial, stacked on a last axis of 4."""
    p11 = p_a * p_b + kappa * (1 - _c_exp(p_a, p_b)) / 2
    cells = np.stack([p11, p_a - p11, p_b - p11, 1 - p_a - p_b + p11], axis=-1)
    return np.clip(cells, 0.0, 1.0)


def _variance_from_cells(cells):
    """Per-trial delta-method variance of κ from cell probabilities (..., 4); NaN where κ is undefined."""
    p11, p10, p01, p00 = np.moveaxis(cells, -1, 0)
    p_a, p_b, q_a, q_b = p11 + p10, p11 + p01, p01 + p00, p10 + p00
    o = p11 + p00
    e = p_a * p_b + q_a * q_b
    with np.errstate(divide="ignore", invalid="ignore"):
        d1, d2 = 1 / (1 - e), (1 - o) / (1 - e) ** 2
        g = np.stack([d1 - (p_a + p_b) * d2, -(p_b + q_a) * d2, -(p_a + q_b) * d2, d1 - (q_a + q_b) * d2], axis=-1)
        mean = np.sum(cells * g, axis=-1)
        v = np.sum(cells * g ** 2, axis=-1) - mean ** 2
    return np.where(e < 1 - _TOL, np.maximum(v, 0.0), np.nan)


def kappa_variance(*, kappa, p_a, p_b):
    """Asymptotic variance of κ per trial: ``Var(kappa_hat) ~ v / N`` (module docstring), broadcast.

    Parameters
    ----------
    kappa : float array-like, reachable for the accuracies (ValueError naming the range otherwise)
    p_a, p_b : float array-likes in (0, 1)

    Returns
    -------
    v : float, or float64 array of the broadcast shape
    """
    k, p_a, p_b = np.broadcast_arrays(_floats(kappa, "kappa"), _accuracy(p_a, "p_a"), _accuracy(p_b, "p_b"))
    _check_reachable(k, p_a, p_b)
    return _out(_variance_from_cells(_cells(k, p_a, p_b)))


def kappa_se(n, k_a, k_b, k_ab):
    """Plug-in (delta-method) standard error of κ from a pair's counts, elementwise with broadcasting.

    Parameters
    ----------
    n, k_a, k_b, k_ab : int array-likes: trials, right for A, right for B, right for both

    Returns
    -------
    se : float64 array of the broadcast shape (float for scalars); NaN where κ is undefined
        (both observers 100 % right or 100 % wrong); 0 where one observer is at 0 % or 100 %
    """
    n, k_a, k_b, k_ab = np.broadcast_arrays(*(_count(v, name, 0) for v, name in
                                              ((n, "n"), (k_a, "k_a"), (k_b, "k_b"), (k_ab, "k_ab"))))
    if np.any(n < 1):
        raise ValueError("n must be >= 1")
    pair_table(n, k_a, k_b, k_ab)  # validates the counts
    return _out(_se_counts(n, k_a, k_b, k_ab))


def _se_counts(n, k_a, k_b, k_ab):
    cells = np.stack([k_ab, k_a - k_ab, k_b - k_ab, n - k_a - k_b + k_ab], axis=-1) / np.asarray(n)[..., None]
    return np.sqrt(_variance_from_cells(cells) / n)


# --- planning ----------------------------------------------------------------------------------------------

def _kappa_hat(n, k):
    """κ of simulated counts ``k`` (..., 3) and its plug-in standard error."""
    k_a, k_b, k_ab = np.moveaxis(k, -1, 0)
    kap = pair_table(n, k_a, k_b, k_ab)["kappa"]
    return kap, _se_counts(n, k_a, k_b, k_ab)


def _z(ci):
    return stats.norm.ppf(0.5 + ci / 2)


def _setup(kappa, p_a, p_b):
    k, a, b = np.broadcast_arrays(_floats(kappa, "kappa"), _accuracy(p_a, "p_a"), _accuracy(p_b, "p_b"))
    _check_reachable(k, a, b)
    return k, a, b


def _simulated_half_width(n, kappa, p_a, p_b, ci, n_sim, seed, copies):
    k = simulate_copy_model(int(n), p_a=float(p_a), p_b=float(p_b), kappa=float(kappa), size=n_sim, seed=seed,
                            counts=True, copies=copies)
    kap, _ = _kappa_hat(int(n), k)
    kap = kap[np.isfinite(kap)]
    if kap.size < 2:
        return np.nan
    lo, hi = np.percentile(kap, [50 * (1 - ci), 50 * (1 + ci)])
    return (hi - lo) / 2


def half_width(n, *, kappa, p_a, p_b, ci: float = 0.95, method: str = "normal", n_sim: int = 2000, seed=0,
               copies: str = "random"):
    """Expected half-width of the ``ci`` interval of κ with ``n`` trials (module docstring).

    Parameters
    ----------
    n : int array-like >= 1, trials
    kappa, p_a, p_b : float array-likes (broadcast with ``n``): true κ and the two accuracies
    ci : confidence level; method : "normal" (closed form) or "simulation" (``n_sim`` studies, ``seed``,
        ``copies`` as in :func:`simulate_copy_model`)

    Returns
    -------
    float, or float64 array of the broadcast shape
    """
    n = _count(n, "n")
    ci = _level(ci, "ci", "a confidence level")
    _choice(method, METHODS, "method")
    k, a, b = _setup(kappa, p_a, p_b)
    n, k, a, b = np.broadcast_arrays(n, k, a, b)
    if method == "normal":
        return _out(_z(ci) * np.sqrt(_variance_from_cells(_cells(k, a, b)) / n))
    n_sim = _sims(n_sim)
    _choice(copies, COPIES, "copies")
    out = np.array([_simulated_half_width(*args, ci, n_sim, seed, copies)
                    for args in zip(n.ravel(), k.ravel(), a.ravel(), b.ravel())]).reshape(n.shape)
    return _out(out)


def _smallest_n(ok, start: int, max_n: int, what: str) -> int:
    """Smallest n >= 2 with ``ok(n)``, assuming ``ok`` is monotone (doubling, then bisection)."""
    hi = max(2, int(start))
    while not ok(hi):
        if hi >= max_n:
            raise ValueError(f"{what} needs more than max_n = {max_n} trials")
        hi = min(2 * hi, max_n)
    lo = hi // 2
    while lo >= 2 and ok(lo):
        hi, lo = lo, lo // 2
    lo = max(lo, 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def trials_for_half_width(target, *, kappa, p_a, p_b, ci: float = 0.95, method: str = "normal",
                          n_sim: int = 2000, seed=0, copies: str = "random", max_n: int = 10 ** 7):
    """Smallest number of trials whose ``ci`` interval of κ has half-width <= ``target``.

    Parameters
    ----------
    target : float array-like > 0, the half-width wanted (e.g. 0.05)
    kappa, p_a, p_b : float array-likes (broadcast): the κ expected and the two accuracies
    ci, method, n_sim, seed, copies : as in :func:`half_width`
    max_n : the simulation's search gives up (ValueError) beyond this many trials

    Returns
    -------
    int, or int64 array of the broadcast shape
    """
    h = _floats(target, "target")
    if np.any(h <= 0):
        raise ValueError(f"target half-width must be > 0, got {target!r}")
    ci = _level(ci, "ci", "a confidence level")
    _choice(method, METHODS, "method")
    k, a, b = _setup(kappa, p_a, p_b)
    h, k, a, b = np.broadcast_arrays(h, k, a, b)
    v = _variance_from_cells(_cells(k, a, b))
    n0 = np.maximum(1, np.ceil(_z(ci) ** 2 * v / h ** 2 - 1e-9))
    if method == "normal":
        return _out(n0.astype(np.int64), integer=True)
    n_sim = _sims(n_sim)
    _choice(copies, COPIES, "copies")
    out = [_smallest_n(lambda n, kk=kk, aa=aa, bb=bb, hh=hh: _simulated_half_width(n, kk, aa, bb, ci, n_sim, seed,
                                                                                     copies) <= hh,
                       int(s), max_n, f"a half-width of {hh:g}")
           for hh, kk, aa, bb, s in zip(h.ravel(), k.ravel(), a.ravel(), b.ravel(), n0.ravel())]
    return _out(np.array(out, dtype=np.int64).reshape(h.shape), integer=True)


def _pairs(kappa, delta, p_a, p_b, p_a2, p_b2, design):
    """Validated, broadcast (kappa, kappa + delta, p_a, p_b, p_a2, p_b2) for a design."""
    _choice(design, DESIGNS, "design")
    if design == "one-pair" and (p_a2 is not None or p_b2 is not None):
        raise ValueError('p_a2 / p_b2 describe the second pair of design="two-pairs"; one pair has none')
    k, d = _floats(kappa, "kappa"), _floats(delta, "delta")
    a, b = _accuracy(p_a, "p_a"), _accuracy(p_b, "p_b")
    a2 = a if p_a2 is None else _accuracy(p_a2, "p_a2")
    b2 = b if p_b2 is None else _accuracy(p_b2, "p_b2")
    k, d, a, b, a2, b2 = np.broadcast_arrays(k, d, a, b, a2, b2)
    if design == "two-pairs":
        _check_reachable(k, a, b, "kappa (of the first pair)")
    _check_reachable(k + d, a2, b2, "kappa + delta")
    return k, k + d, a, b, a2, b2


def _power_normal(n, k1, k2, a, b, a2, b2, design, alpha, alternative):
    var = _variance_from_cells(_cells(k2, a2, b2))
    if design == "two-pairs":
        var = var + _variance_from_cells(_cells(k1, a, b))
    d = k2 - k1
    with np.errstate(divide="ignore", invalid="ignore"):
        s = d / np.sqrt(var / n)
        s = np.where(var == 0, np.where(d == 0, 0.0, np.sign(d) * np.inf), s)
    if alternative == "two-sided":
        z = stats.norm.ppf(1 - alpha / 2)
        p = stats.norm.cdf(s - z) + stats.norm.cdf(-s - z)
    else:
        z = stats.norm.ppf(1 - alpha)
        p = stats.norm.cdf((s if alternative == "greater" else -s) - z)
    return np.where(np.isnan(var), np.nan, p)


def _power_sim(n, k1, k2, a, b, a2, b2, design, alpha, alternative, n_sim, seed, copies):
    n = int(n)
    rng = np.random.default_rng(seed)
    kap2, se2 = _kappa_hat(n, simulate_copy_model(n, p_a=a2, p_b=b2, kappa=k2, size=n_sim, seed=rng, counts=True,
                                                  copies=copies))
    if design == "two-pairs":
        kap1, se1 = _kappa_hat(n, simulate_copy_model(n, p_a=a, p_b=b, kappa=k1, size=n_sim, seed=rng, counts=True,
                                                      copies=copies))
        diff, se = kap2 - kap1, np.sqrt(se1 ** 2 + se2 ** 2)
    else:
        diff, se = kap2 - k1, se2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
        z = np.where(se == 0, np.where(diff == 0, np.nan, np.sign(diff) * np.inf), z)
    if alternative == "two-sided":
        reject = np.abs(z) > stats.norm.ppf(1 - alpha / 2)
    else:
        reject = (z if alternative == "greater" else -z) > stats.norm.ppf(1 - alpha)
    return float(np.mean(reject & np.isfinite(diff)))


def _test_options(alpha, alternative, method, n_sim, copies):
    alpha = _level(alpha, "alpha", "a significance level")
    _choice(alternative, ALTERNATIVES, "alternative")
    _choice(method, METHODS, "method")
    if method == "simulation":
        n_sim = _sims(n_sim)
        _choice(copies, COPIES, "copies")
    return alpha, n_sim


def power(n, *, delta, kappa, p_a, p_b, design: str = "two-pairs", alpha: float = 0.05,
          alternative: str = "two-sided", p_a2=None, p_b2=None, method: str = "normal", n_sim: int = 2000, seed=0,
          copies: str = "random"):
    """Power to detect a difference ``delta`` of κ with ``n`` trials (module docstring).

    Parameters
    ----------
    n : int array-like >= 1, trials (per pair)
    delta : float array-like, the difference to detect (pair 2 minus pair 1, or the pair minus ``kappa``)
    kappa : float array-like: the first pair's κ (``"two-pairs"``) or the value tested against
        (``"one-pair"``, whose pair has ``kappa + delta``)
    p_a, p_b : accuracies of the (first) pair; p_a2, p_b2 : of the second pair (default: the same)
    design : "two-pairs" (two independent pairs) or "one-pair" (one pair against a value)
    alpha, alternative : level and alternative ("two-sided", "greater", "less") of the Wald test
    method : "normal" (closed form) or "simulation" (``n_sim`` studies per pair, ``seed``, ``copies``)

    Returns
    -------
    float in [0, 1], or float64 array of the broadcast shape
    """
    n = _count(n, "n")
    alpha, n_sim = _test_options(alpha, alternative, method, n_sim, copies)
    n, *arrs = np.broadcast_arrays(n, *_pairs(kappa, delta, p_a, p_b, p_a2, p_b2, design))
    if method == "normal":
        return _out(_power_normal(n, *arrs, design, alpha, alternative))
    out = [_power_sim(*vals, design, alpha, alternative, n_sim, seed, copies)
           for vals in zip(n.ravel(), *(x.ravel() for x in arrs))]
    return _out(np.array(out).reshape(n.shape))


def _target_power(x) -> float:
    return _level(x, "power", "a target power")


def trials_for_power(delta, *, kappa, p_a, p_b, power: float = 0.8, design: str = "two-pairs", alpha: float = 0.05,
                     alternative: str = "two-sided", p_a2=None, p_b2=None, method: str = "normal", n_sim: int = 2000,
                     seed=0, copies: str = "random", max_n: int = 10 ** 7):
    """Smallest number of trials (per pair) that detects ``delta`` with the target ``power``.

    Parameters
    ----------
    delta : float array-like != 0; kappa, p_a, p_b, p_a2, p_b2, design, alpha, alternative, method,
        n_sim, seed, copies : as in :func:`power`
    power : the target power, e.g. 0.8
    max_n : the simulation's search gives up (ValueError) beyond this many trials

    Returns
    -------
    int, or int64 array of the broadcast shape. Closed form: ``ceil((z_alpha + z_power)**2 sigma_1**2 / delta**2)``
    with ``z_alpha = z_{1-alpha/2}`` (two-sided) or ``z_{1-alpha}``; a one-sided test in the
    direction opposite to ``delta`` can never reach the power (ValueError).
    """
    target = _target_power(power)
    alpha, n_sim = _test_options(alpha, alternative, method, n_sim, copies)
    k1, k2, a, b, a2, b2 = _pairs(kappa, delta, p_a, p_b, p_a2, p_b2, design)
    d = k2 - k1
    if np.any(d == 0):
        raise ValueError("delta must be non-zero (no number of trials detects a difference of 0)")
    if alternative != "two-sided" and np.any(np.sign(d) != (1 if alternative == "greater" else -1)):
        raise ValueError(f'alternative="{alternative}" cannot detect a delta of the other sign')
    var1 = _variance_from_cells(_cells(k2, a2, b2))
    if design == "two-pairs":
        var1 = var1 + _variance_from_cells(_cells(k1, a, b))
    za = stats.norm.ppf(1 - alpha / 2) if alternative == "two-sided" else stats.norm.ppf(1 - alpha)
    n0 = np.maximum(1, np.ceil((za + stats.norm.ppf(target)) ** 2 * var1 / d ** 2 - 1e-9))
    if method == "normal":
        return _out(n0.astype(np.int64), integer=True)
    out = []
    for vals in zip(n0.ravel(), k1.ravel(), k2.ravel(), a.ravel(), b.ravel(), a2.ravel(), b2.ravel()):
        s, rest = vals[0], vals[1:]
        out.append(_smallest_n(lambda n, rest=rest: _power_sim(n, *rest, design, alpha, alternative, n_sim, seed,
                                                                copies) >= target,
                               int(s), max_n, f"a power of {target:g} for delta = {rest[1] - rest[0]:g}"))
    return _out(np.array(out, dtype=np.int64).reshape(k1.shape), integer=True)


def detectable_difference(n, *, kappa, p_a, p_b, power: float = 0.8, design: str = "two-pairs", alpha: float = 0.05,
                          alternative: str = "two-sided", direction: str = "increase", p_a2=None, p_b2=None,
                          method: str = "normal", n_sim: int = 2000, seed=0, copies: str = "random",
                          tol: float = 1e-4):
    """Smallest difference of κ that ``n`` trials detect with the target ``power`` (bisection).

    Parameters
    ----------
    n : int array-like >= 1, trials (per pair)
    kappa, p_a, p_b, p_a2, p_b2, design, alpha, alternative, method, n_sim, seed, copies : as in :func:`power`
    power : the target power, e.g. 0.8
    direction : "increase" (pair 2 / the pair above ``kappa``) or "decrease"
    tol : precision of the bisection (the simulation's own Monte-Carlo error is larger)

    Returns
    -------
    Δκ (signed: negative for "decrease"), float or float64 array of the broadcast shape; NaN where
    even the largest reachable difference (up to ``kappa_max`` / down to ``kappa_min`` of the
    second pair's accuracies) does not reach the power.
    """
    target = _target_power(power)
    _choice(direction, ("increase", "decrease"), "direction")
    alpha, n_sim = _test_options(alpha, alternative, method, n_sim, copies)
    n = _count(n, "n")
    sign = 1.0 if direction == "increase" else -1.0
    n, k1, _, a, b, a2, b2 = np.broadcast_arrays(n, *_pairs(kappa, 0.0, p_a, p_b, p_a2, p_b2, design))
    lo_k, hi_k = kappa_bounds(a2, b2)
    limit = np.where(sign > 0, hi_k - k1, k1 - lo_k)  # the largest reachable |delta|

    def pw(mag):
        k2 = np.clip(k1 + sign * mag, lo_k, hi_k)
        if method == "normal":
            return _power_normal(n, k1, k2, a, b, a2, b2, design, alpha, alternative)
        return np.array([_power_sim(*v, design, alpha, alternative, n_sim, seed, copies) for v in
                         zip(n.ravel(), k1.ravel(), k2.ravel(), a.ravel(), b.ravel(), a2.ravel(), b2.ravel())]
                        ).reshape(n.shape)

    lo, hi = np.zeros(n.shape), limit.astype(np.float64)
    reachable = (limit > 0) & (pw(hi) >= target)
    while np.any(reachable & (hi - lo > tol)):
        mid = (lo + hi) / 2
        ok = pw(mid) >= target
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return _out(np.where(reachable, sign * hi, np.nan))


def power_table(n, *, p_a, p_b=None, kappas=(0.0, 0.2, 0.4, 0.6), ci: float = 0.95, power: float = 0.8,
                alpha: float = 0.05, half_widths=(0.1, 0.05), n_sim: int = 2000, seed=0) -> pd.DataFrame:
    """What ``n`` trials can and cannot resolve, one row per κ in ``kappas`` (normal approximation,
    with a simulated half-width beside it).

    Parameters
    ----------
    n : int >= 1, trials per pair of observers
    p_a, p_b : floats in (0, 1), the two accuracies (``p_b`` defaults to ``p_a``)
    kappas : the κ's to plan for; one not reachable with these accuracies gets a row of NaN
    ci : level of the intervals; power, alpha : target power and level of the two-sided tests
    half_widths : the half-widths for which the trials needed are given
    n_sim, seed : the simulated half-width (``copies="random"``)

    Returns
    -------
    DataFrame, one row per κ: ``kappa, n, p_a, p_b, kappa_min, kappa_max, copy, se, half_width``
    (normal approximation), ``half_width_simulated`` (seeded simulation), ``delta_one_pair``
    (smallest increase of κ detectable against the value ``kappa``), ``delta_two_pairs`` (smallest
    difference detectable between two independent pairs; NaN where none within ``kappa_max``), and
    ``trials_for_half_width_<h>`` for each h in ``half_widths``.
    """
    if np.ndim(n) or np.ndim(p_a) or np.ndim(p_b):
        raise ValueError("n, p_a and p_b must be scalars")
    n = int(_count(n, "n"))
    p_a = float(_accuracy(p_a, "p_a"))
    p_b = p_a if p_b is None else float(_accuracy(p_b, "p_b"))
    kappas = _floats(kappas, "kappas").ravel()
    hws = _floats(half_widths, "half_widths").ravel()
    lo, hi = kappa_bounds(p_a, p_b)
    lo, hi = float(lo), float(hi)
    rows = []
    for k in kappas:
        row = {"kappa": float(k), "n": n, "p_a": p_a, "p_b": p_b, "kappa_min": lo, "kappa_max": hi}
        ok = lo - 1e-9 <= k <= hi + 1e-9
        opts = dict(kappa=k, p_a=p_a, p_b=p_b)
        row["copy"] = copy_from_kappa(k, p_a, p_b) if ok else np.nan
        row["se"] = math.sqrt(kappa_variance(**opts) / n) if ok else np.nan
        row["half_width"] = half_width(n, ci=ci, **opts) if ok else np.nan
        row["half_width_simulated"] = (half_width(n, ci=ci, method="simulation", n_sim=n_sim, seed=seed, **opts)
                                       if ok else np.nan)
        for design in DESIGNS:
            row[f"delta_{design.replace('-', '_')}"] = (detectable_difference(n, power=power, alpha=alpha,
                                                                              design=design, **opts)
                                                        if ok else np.nan)
        for h in hws:
            row[f"trials_for_half_width_{h:g}"] = (trials_for_half_width(h, ci=ci, **opts) if ok else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)
