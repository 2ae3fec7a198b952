"""Planning an experiment (ddd.analysis.power): the copy model, the closed form against simulation,
monotonicity, Klein et al.'s published unit-test values, and bad input."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ddd.analysis import power as P
from ddd.analysis.kappa import error_consistency, kappa_bounds, kappa_from_rates, pair_table
from ddd.analysis.uncertainty import kappa_p_value

ACCS = [(0.5, 0.5), (0.8, 0.6), (0.6, 0.7), (0.95, 0.7), (0.3, 0.9)]


def kappas_of(trials: np.ndarray) -> np.ndarray:
    """κ(A, B) of simulated trials (..., 2, n)."""
    a, b = trials[..., 0, :], trials[..., 1, :]
    return pair_table(a.shape[-1], a.sum(-1), b.sum(-1), (a & b).sum(-1))["kappa"]


def fleiss_variance(kappa, p_a, p_b):
    """Large-sample variance of κ (x N) of Fleiss, Cohen & Everitt (1969), written out for a 2x2 table."""
    e = p_a * p_b + (1 - p_a) * (1 - p_b)
    p11 = p_a * p_b + kappa * (1 - e) / 2
    pi = np.array([[p11, p_a - p11], [p_b - p11, 1 - p_a - p_b + p11]])
    row, col = pi.sum(1), pi.sum(0)
    a = sum(pi[i, i] * (1 - (row[i] + col[i]) * (1 - kappa)) ** 2 for i in range(2))
    b = (1 - kappa) ** 2 * sum(pi[i, j] * (col[i] + row[j]) ** 2 for i in range(2) for j in range(2) if i != j)
    c = (kappa - e * (1 - kappa)) ** 2
    return (a + b - c) / (1 - e) ** 2


# --- the copy model -----------------------------------------------------------------------------------

@pytest.mark.parametrize("p_a, p_b", ACCS)
def test_kappa_copy_round_trip_and_range(p_a, p_b):
    lo, hi = kappa_bounds(p_a, p_b)
    kappas = np.linspace(float(lo), float(hi), 11)
    c = P.copy_from_kappa(kappas, p_a, p_b)
    np.testing.assert_allclose(P.kappa_from_copy(c, p_a, p_b), kappas, atol=1e-12)
    c_min, c_max = P.copy_bounds(p_a, p_b)
    # the allowed copy probabilities map exactly onto [kappa_min, kappa_max]
    assert P.kappa_from_copy(c_min, p_a, p_b) == pytest.approx(float(lo))
    assert P.kappa_from_copy(c_max, p_a, p_b) == pytest.approx(float(hi))
    assert c[0] == pytest.approx(c_min) and c[-1] == pytest.approx(c_max)
    u = P.independent_rate(c, p_a, p_b)
    assert np.all((u >= 0) & (u <= 1))
    # B's accuracy is p_b: c p_a + (1 - c) u for c >= 0, |c| (1 - p_a) + (1 - |c|) u for c < 0
    acc_b = np.where(c >= 0, c * p_a + (1 - c) * u, -c * (1 - p_a) + (1 + c) * u)
    np.testing.assert_allclose(acc_b, p_b, atol=1e-12)


def test_copy_model_known_values():
    assert P.copy_from_kappa(0.4, 0.8, 0.8) == pytest.approx(0.4)  # equal accuracies: c = kappa
    assert P.kappa_from_copy(0.0, 0.3, 0.9) == 0.0
    # p_a = 0.6, p_b = 0.7: c_exp = 0.54, kappa 0.2 -> c = 0.2 * 0.46 / 0.48
    assert P.copy_from_kappa(0.2, 0.6, 0.7) == pytest.approx(0.2 * 0.46 / 0.48)
    # directional: B copying A differs from A copying B for unequal accuracies
    assert P.copy_from_kappa(0.2, 0.7, 0.6) == pytest.approx(0.2 * 0.46 / 0.42)
    # Klein et al.'s estimate_copy_model_parameters (src/utils.py): pcopy = ec * f,
    # f = (1 - c_exp) / (1 - (acc1**2 + (1 - acc1)**2)), uacc2 = (acc2 - pcopy acc1) / (1 - pcopy)
    # or (acc2 - |pcopy| (1 - acc1)) / (1 - |pcopy|) for negative pcopy
    for ec, a1, a2 in [(0.3, 0.8, 0.7), (-0.2, 0.75, 0.65), (0.5, 0.9, 0.8)]:
        f = (1 - (a1 * a2 + (1 - a1) * (1 - a2))) / (1 - (a1 ** 2 + (1 - a1) ** 2))
        pc = ec * f
        u2 = (a2 - pc * a1) / (1 - pc) if pc >= 0 else (a2 - abs(pc) * (1 - a1)) / (1 - abs(pc))
        assert P.copy_from_kappa(ec, a1, a2) == pytest.approx(pc)
        assert P.independent_rate(pc, a1, a2) == pytest.approx(u2)


@pytest.mark.parametrize("copies", P.COPIES)
@pytest.mark.parametrize("kappa, p_a, p_b", [(0.3, 0.8, 0.6), (-0.2, 0.7, 0.6), (0.9, 0.85, 0.85)])
def test_simulator_converges_to_the_target(kappa, p_a, p_b, copies):
    big = P.simulate_copy_model(1_000_000, p_a=p_a, p_b=p_b, kappa=kappa, seed=3, copies=copies)
    assert big.shape == (2, 1_000_000) and big.dtype == bool
    assert error_consistency(big[0], big[1]) == pytest.approx(kappa, abs=0.005)
    assert big[0].mean() == pytest.approx(p_a, abs=0.002) and big[1].mean() == pytest.approx(p_b, abs=0.002)
    # many small studies: the trials and the counts draw the same distribution
    trials = P.simulate_copy_model(200, p_a=p_a, p_b=p_b, kappa=kappa, size=4000, seed=4, copies=copies)
    counts = P.simulate_copy_model(200, p_a=p_a, p_b=p_b, kappa=kappa, size=40000, seed=5, counts=True,
                                   copies=copies)
    assert trials.shape == (4000, 2, 200) and counts.shape == (40000, 3)
    kt, kc = kappas_of(trials), pair_table(200, *counts.T)["kappa"]
    assert np.nanmean(kc) == pytest.approx(kappa, abs=0.01) and np.nanmean(kt) == pytest.approx(kappa, abs=0.02)
    assert np.nanstd(kt) == pytest.approx(np.nanstd(kc), rel=0.08)
    np.testing.assert_array_equal(counts[:, 2] <= np.minimum(counts[:, 0], counts[:, 1]), True)


def test_fixed_copies_are_narrower_than_random():
    """Klein et al.'s simulator copies exactly round(|c| n) trials: less spread than copying at random."""
    sd = {c: np.std(pair_table(300, *P.simulate_copy_model(300, p_a=0.8, p_b=0.8, kappa=0.6, size=20000, seed=0,
                                                           counts=True, copies=c).T)["kappa"]) for c in P.COPIES}
    assert sd["fixed"] < 0.9 * sd["random"]
    # the closed form describes independent trials (copies="random")
    assert sd["random"] == pytest.approx(np.sqrt(P.kappa_variance(kappa=0.6, p_a=0.8, p_b=0.8) / 300), rel=0.03)


def test_simulator_several_copiers_share_the_observer_copied_from():
    k = [0.1, 0.5]
    trials = P.simulate_copy_model(500, p_a=0.7, p_b=[0.7, 0.6], kappa=k, size=3000, seed=1)
    assert trials.shape == (3000, 3, 500)
    counts = P.simulate_copy_model(500, p_a=0.7, p_b=[0.7, 0.6], kappa=k, size=30000, seed=2, counts=True)
    assert counts.shape == (30000, 2, 3)
    np.testing.assert_array_equal(counts[:, 0, 0], counts[:, 1, 0])  # the same A in both pairs
    a = trials[:, 0]
    for j in range(2):
        b = trials[:, 1 + j]
        kt = pair_table(500, a.sum(-1), b.sum(-1), (a & b).sum(-1))["kappa"]
        kc = pair_table(500, *np.moveaxis(counts[:, j], -1, 0))["kappa"]
        assert kt.mean() == pytest.approx(k[j], abs=0.01) and kc.mean() == pytest.approx(k[j], abs=0.005)
    # the two kappas are correlated through A (the paired design); the counts keep that correlation
    kt = [pair_table(500, a.sum(-1), trials[:, 1 + j].sum(-1), (a & trials[:, 1 + j]).sum(-1))["kappa"]
          for j in range(2)]
    kc = [pair_table(500, *np.moveaxis(counts[:, j], -1, 0))["kappa"] for j in range(2)]
    assert np.corrcoef(kc)[0, 1] == pytest.approx(np.corrcoef(kt)[0, 1], abs=0.06)
    # copy probabilities instead of kappas; several studies as a tuple of sizes
    out = P.simulate_copy_model(50, p_a=0.6, p_b=0.6, copy=0.5, size=(4, 5), seed=0)
    assert out.shape == (4, 5, 2, 50)
    assert P.simulate_copy_model(50, p_a=0.6, p_b=0.6, copy=0.5, size=(4, 5), seed=0, counts=True).shape == (4, 5, 3)


def test_simulator_is_seeded():
    one = P.simulate_copy_model(100, p_a=0.7, p_b=0.8, kappa=0.3, size=10, seed=7)
    np.testing.assert_array_equal(one, P.simulate_copy_model(100, p_a=0.7, p_b=0.8, kappa=0.3, size=10, seed=7))
    assert not np.array_equal(one, P.simulate_copy_model(100, p_a=0.7, p_b=0.8, kappa=0.3, size=10, seed=8))
    c = P.simulate_copy_model(100, p_a=0.7, p_b=0.8, kappa=0.3, size=10, seed=7, counts=True)
    np.testing.assert_array_equal(c, P.simulate_copy_model(100, p_a=0.7, p_b=0.8, kappa=0.3, size=10, seed=7,
                                                           counts=True))


def test_negative_copy_is_the_opposite_answer():
    t = P.simulate_copy_model(10_000, p_a=0.6, p_b=0.4, copy=-1.0, seed=0)  # kappa_min: B always the opposite
    np.testing.assert_array_equal(t[1], ~t[0])
    assert P.kappa_from_copy(-1.0, 0.6, 0.4) == pytest.approx(float(kappa_bounds(0.6, 0.4)[0]))  # -0.48 / 0.52


# --- closed form against known formulas and simulation -------------------------------------------

@pytest.mark.parametrize("p_a, p_b", ACCS)
def test_variance_is_the_fleiss_cohen_everitt_formula(p_a, p_b):
    lo, hi = (float(x) for x in kappa_bounds(p_a, p_b))
    for k in np.linspace(lo, hi, 7)[1:-1]:
        assert P.kappa_variance(kappa=k, p_a=p_a, p_b=p_b) == pytest.approx(fleiss_variance(k, p_a, p_b), rel=1e-9)


@pytest.mark.parametrize("p_a, p_b", ACCS)
def test_variance_under_independence(p_a, p_b):
    """At κ = 0 the variance is the null variance of Fleiss et al.: (p_e + p_e² - Σ p_i. p_.i (p_i. + p_.i)) / (1 - p_e)²;
    for equal accuracies exactly 1 / N."""
    e = p_a * p_b + (1 - p_a) * (1 - p_b)
    s = p_a * p_b * (p_a + p_b) + (1 - p_a) * (1 - p_b) * (2 - p_a - p_b)
    assert P.kappa_variance(kappa=0, p_a=p_a, p_b=p_b) == pytest.approx((e + e ** 2 - s) / (1 - e) ** 2)
    if p_a == p_b:
        assert P.kappa_variance(kappa=0, p_a=p_a, p_b=p_b) == pytest.approx(1.0)
        assert P.half_width(149, kappa=0, p_a=p_a, p_b=p_b) == pytest.approx(1.959964 / np.sqrt(149), rel=1e-6)


def test_plug_in_standard_error_from_counts():
    # counts with exactly the cell probabilities of (kappa 0.4, 0.8, 0.7): pi_11 = 0.56 + 0.4 * 0.38 / 2 = 0.636
    n = 1000
    se = P.kappa_se(n, 800, 700, 636)
    assert se == pytest.approx(np.sqrt(P.kappa_variance(kappa=0.4, p_a=0.8, p_b=0.7) / n))
    assert np.isnan(P.kappa_se(10, 10, 10, 10))  # both 100 % right: undefined
    np.testing.assert_allclose(P.kappa_se(n, [800, 800], 700, [636, 560]),
                               [se, np.sqrt(P.kappa_variance(kappa=0, p_a=0.8, p_b=0.7) / n)])


@pytest.mark.parametrize("kappa, p_a, p_b", [(0.0, 0.8, 0.8), (0.5, 0.7, 0.6), (0.3, 0.9, 0.8)])
def test_closed_form_half_width_agrees_with_simulation(kappa, p_a, p_b):
    n = 2000
    normal = P.half_width(n, kappa=kappa, p_a=p_a, p_b=p_b)
    sim = P.half_width(n, kappa=kappa, p_a=p_a, p_b=p_b, method="simulation", n_sim=20000, seed=1)
    assert sim == pytest.approx(normal, rel=0.04)
    # and the standard deviation of simulated kappas is the closed-form standard error
    k = pair_table(n, *P.simulate_copy_model(n, p_a=p_a, p_b=p_b, kappa=kappa, size=20000, seed=2, counts=True).T)
    assert np.std(k["kappa"]) == pytest.approx(np.sqrt(P.kappa_variance(kappa=kappa, p_a=p_a, p_b=p_b) / n), rel=0.03)
    # the planner inverts it: the n for this half-width is n (up to rounding)
    assert P.trials_for_half_width(normal, kappa=kappa, p_a=p_a, p_b=p_b) == n
    n_sim = P.trials_for_half_width(normal, kappa=kappa, p_a=p_a, p_b=p_b, method="simulation", n_sim=4000, seed=0)
    assert n_sim == pytest.approx(n, rel=0.06)


def test_closed_form_power_agrees_with_simulated_wald_test():
    opts = dict(kappa=0.3, p_a=0.8, p_b=0.7)
    for design, delta in (("one-pair", 0.08), ("two-pairs", 0.12)):
        normal = P.power(1000, delta=delta, design=design, **opts)
        sim = P.power(1000, delta=delta, design=design, method="simulation", n_sim=10000, seed=0, **opts)
        assert 0.4 < normal < 0.95
        assert sim == pytest.approx(normal, abs=0.03)
    # no difference: the test rejects at its level (normal exactly, simulation within Monte-Carlo error)
    assert P.power(1000, delta=0, **opts) == pytest.approx(0.05)
    assert P.power(1000, delta=0, method="simulation", n_sim=10000, seed=1, **opts) == pytest.approx(0.05, abs=0.012)
    assert P.power(1000, delta=0, alternative="greater", **opts) == pytest.approx(0.05)


def test_power_formula_by_hand():
    v1 = P.kappa_variance(kappa=0.4, p_a=0.8, p_b=0.8)
    v2 = P.kappa_variance(kappa=0.6, p_a=0.8, p_b=0.8)
    s = 0.2 / np.sqrt((v1 + v2) / 300)
    from scipy.stats import norm
    want = norm.cdf(s - norm.ppf(0.975)) + norm.cdf(-s - norm.ppf(0.975))
    assert P.power(300, delta=0.2, kappa=0.4, p_a=0.8, p_b=0.8) == pytest.approx(want)
    n = P.trials_for_power(0.2, kappa=0.4, p_a=0.8, p_b=0.8)
    assert n == int(np.ceil((norm.ppf(0.975) + norm.ppf(0.8)) ** 2 * (v1 + v2) / 0.04))
    s1 = 0.2 / np.sqrt(v2 / 300)
    assert P.power(300, delta=0.2, kappa=0.4, p_a=0.8, p_b=0.8, design="one-pair", alternative="greater") == \
        pytest.approx(norm.cdf(s1 - norm.ppf(0.95)))


def test_planners_invert_each_other():
    opts = dict(kappa=0.4, p_a=0.81, p_b=0.81)
    for design in P.DESIGNS:
        n = P.trials_for_power(0.15, design=design, **opts)
        assert P.power(n, delta=0.15, design=design, **opts) >= 0.8
        assert P.power(n - 2, delta=0.15, design=design, **opts) < 0.8
        d = P.detectable_difference(n, design=design, **opts)
        assert 0.14 < d <= 0.15 + 1e-3
        assert P.power(n, delta=d, design=design, **opts) == pytest.approx(0.8, abs=1e-3)
        down = P.detectable_difference(n, design=design, direction="decrease", **opts)
        assert down < 0 and P.power(n, delta=down, design=design, **opts) == pytest.approx(0.8, abs=1e-3)
    n = P.trials_for_half_width(0.05, **opts)
    assert P.half_width(n, **opts) <= 0.05 < P.half_width(n - 1, **opts)


def test_simulated_planners_match_the_closed_form_at_large_n():
    opts = dict(kappa=0.3, p_a=0.8, p_b=0.7, design="two-pairs")
    n_normal = P.trials_for_power(0.1, **opts)
    n_sim = P.trials_for_power(0.1, method="simulation", n_sim=4000, seed=0, **opts)
    assert n_sim == pytest.approx(n_normal, rel=0.06)
    d_normal = P.detectable_difference(1500, **opts)
    d_sim = P.detectable_difference(1500, method="simulation", n_sim=4000, seed=0, tol=1e-3, **opts)
    assert d_sim == pytest.approx(d_normal, abs=0.01)


def test_monotone():
    opts = dict(kappa=0.4, p_a=0.8, p_b=0.75)
    ns = np.array([50, 100, 149, 300, 1000, 5000])
    hw = P.half_width(ns, **opts)
    assert np.all(np.diff(hw) < 0)
    pw = P.power(ns, delta=0.1, **opts)
    assert np.all(np.diff(pw) > 0)
    assert np.all(np.diff(P.power(500, delta=[0.02, 0.05, 0.1, 0.2], **opts)) > 0)
    d = P.detectable_difference(ns, **opts)
    assert np.isnan(d[0]) and np.all(np.diff(d[1:]) < 0)  # 50 trials: not even kappa_max - kappa = 0.457
    need = P.trials_for_half_width([0.2, 0.1, 0.05, 0.02], **opts)
    assert need.dtype == np.int64 and np.all(np.diff(need) > 0)
    assert np.all(np.diff(P.trials_for_power([0.3, 0.2, 0.1], **opts)) > 0)
    for p in (0.5, 0.8, 0.9):  # higher power needs more trials; a stricter level too
        assert P.trials_for_power(0.1, power=p, **opts) < P.trials_for_power(0.1, power=p + 0.05, **opts)
    assert P.trials_for_power(0.1, alpha=0.05, **opts) < P.trials_for_power(0.1, alpha=0.01, **opts)
    # one pair against a known value needs fewer trials than comparing two estimated pairs
    assert P.trials_for_power(0.1, design="one-pair", **opts) < P.trials_for_power(0.1, **opts) / 1.5
    # the simulated half-width shrinks with n too
    sim = P.half_width([100, 400, 1600], method="simulation", n_sim=3000, seed=0, **opts)
    assert np.all(np.diff(sim) < 0)


def test_simulated_power_is_fast():
    opts = dict(kappa=0.3, p_a=0.8, p_b=0.7, method="simulation", n_sim=2000, seed=0)
    P.power(1000, delta=0.1, **opts)  # warm-up
    t = time.perf_counter()
    P.power(1000, delta=0.1, **opts)
    P.power(1000, delta=0.1, design="one-pair", **opts)
    assert time.perf_counter() - t < 0.5
    t = time.perf_counter()
    trials = P.simulate_copy_model(1000, p_a=0.8, p_b=0.7, kappa=0.3, size=2000, seed=0)
    kappas_of(trials)
    assert time.perf_counter() - t < 1.0


def test_power_table():
    t = P.power_table(149, p_a=0.8136)
    assert list(t["kappa"]) == [0.0, 0.2, 0.4, 0.6] and (t["n"] == 149).all() and (t["p_b"] == 0.8136).all()
    assert t.loc[0, "half_width"] == pytest.approx(1.959964 / np.sqrt(149), rel=1e-6)  # κ = 0, equal accuracies
    np.testing.assert_allclose(t["half_width_simulated"], t["half_width"], rtol=0.1)
    assert (t["delta_two_pairs"] > t["delta_one_pair"]).all()
    assert (t["trials_for_half_width_0.05"] > 3.9 * t["trials_for_half_width_0.1"]).all()
    for r in t.itertuples():
        assert P.power(149, delta=r.delta_one_pair, kappa=r.kappa, p_a=0.8136, p_b=0.8136,
                       design="one-pair") == pytest.approx(0.8, abs=1e-3)
    # unreachable kappas get NaN rows, not an error
    t = P.power_table(100, p_a=0.9, p_b=0.5, kappas=[0.1, 0.9])
    assert np.isfinite(t.loc[0, "half_width"]) and np.isnan(t.loc[1, "half_width"])


# --- Klein et al.'s published unit-test values (wichmann-lab/error_consistency, tests/test_utils.py) ----------

def test_klein_kappa_max():
    # test_kappa_max: kappa_max(0.8, 0.6) == 0.54545454545454
    assert float(kappa_bounds(0.8, 0.6)[1]) == pytest.approx(0.54545454545454)
    assert P.kappa_from_copy(P.copy_bounds(0.8, 0.6)[1], 0.8, 0.6) == pytest.approx(0.54545454545454)


def test_klein_calculate_kappa():
    # test_calculate_kappa: (obs 0.8, exp 0.5) -> 0.6; (0.3, 0.3) -> 0; exp 1 -> NaN. Here c_exp comes from
    # the accuracies: 0.5 and 0.5 give 0.5; 0.5 +- sqrt(0.1) give 0.3. (Their (obs 0.4, exp 0.6) -> -0.5
    # is not reachable by two binary observers, kappa_min > -0.5 whenever c_exp = 0.6, so it is left out.)
    assert float(kappa_from_rates(0.8, 0.5, 0.5)) == pytest.approx(0.6)
    r = np.sqrt(0.1)
    assert float(kappa_from_rates(0.3, 0.5 + r, 0.5 - r)) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(kappa_from_rates(1.0, 1.0, 1.0)) and np.isnan(kappa_from_rates(1.0, 0.0, 0.0))


def test_klein_fast_cohen():
    # test_fast_cohen
    c, d, e = np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]), np.array([0, 1, 0, 1])
    assert np.isnan(error_consistency(np.ones(5, int), np.ones(5, int)))
    assert np.isnan(error_consistency(np.zeros(5, int), np.zeros(5, int)))
    assert error_consistency(c, d) == pytest.approx(-1)
    assert error_consistency(c, c) == pytest.approx(1)
    assert error_consistency(c, e) == pytest.approx(0)
    # unbiased=True: kappa' = n kappa / ((n - 1) + kappa) = -0.25 (kappa itself is -6/29)
    k = error_consistency(np.array([0, 1, 0, 1, 1, 1, 1]), np.array([0, 1, 1, 0, 0, 0, 0]))
    assert k == pytest.approx(-6 / 29)
    assert 7 * k / (6 + k) == pytest.approx(-0.25)
    with pytest.raises(ValueError):  # test_is_binary: [0, 1, 2, 4] is not correctness
        error_consistency(np.array([0, 1, 2, 4]), np.array([0, 1, 1, 0]))


@pytest.mark.parametrize("copies", P.COPIES)
@pytest.mark.parametrize("kappa, acc1, acc2", [(0.0, 0.5, 0.5), (0.2, 0.6, 0.7), (-0.6, 0.5, 0.5)])
def test_klein_simulate_trials_from_copy_model(kappa, acc1, acc2, copies):
    # test_simulate_trials_from_copy_model: 1,000 studies of 1,000 trials: mean accuracies and mean kappa
    # within 0.01 of the targets
    t = P.simulate_copy_model(1000, p_a=acc1, p_b=acc2, kappa=kappa, size=1000, seed=0, copies=copies)
    assert t.shape == (1000, 2, 1000)
    assert t[:, 0].mean() == pytest.approx(acc1, abs=0.01) and t[:, 1].mean() == pytest.approx(acc2, abs=0.01)
    assert np.mean(kappas_of(t)) == pytest.approx(kappa, abs=0.01)


def test_klein_simulate_refuses_what_their_asserts_refuse():
    # the impossible requests of test_simulate_trials_from_copy_model
    with pytest.raises(ValueError, match=r"kappa = 0.9 is not reachable .*allowed range is \[-0.219512, 0.0243902\]"):
        P.simulate_copy_model(1000, p_a=0.9, p_b=0.1, kappa=0.9)
    with pytest.raises(ValueError, match=r"allowed range is \[-0.25, 1\]"):
        P.simulate_copy_model(1000, p_a=0.8, p_b=0.8, kappa=-0.9)
    for p_a, p_b in ((-0.5, 0.5), (0.5, -0.5), (1.5, 0.5), (0.5, 1.5)):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            P.simulate_copy_model(100, p_a=p_a, p_b=p_b, kappa=0)
    for n in (0, -100):
        with pytest.raises(ValueError, match="n must be >= 1"):
            P.simulate_copy_model(n, p_a=0.5, p_b=0.5, kappa=0)


def test_klein_accuracy_bounds():
    # src/minimal_examples/kappaBoundsAccuracy.py, values in its comments: with a1 = 0.9 and kappa = 0.5
    # the second accuracy lies in [0.75, 0.96]; with a1 = 0.5 in [0.25, 0.75]
    for a1, lo, hi in ((0.9, 0.75, 0.9 * 1.5 / 1.4), (0.5, 0.25, 0.75)):
        assert float(kappa_bounds(a1, lo)[1]) == pytest.approx(0.5)
        assert float(kappa_bounds(a1, hi)[1]) == pytest.approx(0.5)
        P.copy_from_kappa(0.5, a1, lo + 1e-6)
        with pytest.raises(ValueError, match="not reachable"):
            P.copy_from_kappa(0.5, a1, lo - 0.01)
        with pytest.raises(ValueError, match="not reachable"):
            P.copy_from_kappa(0.5, a1, hi + 0.01)


def test_klein_error_consistency_and_p_values():
    # test_error_consistency: [1,1,1,0,0,0] vs [1,1,0,0,0,0]: kappa 0.6667, p < 0.05
    a, b = np.array([1, 1, 1, 0, 0, 0], bool), np.array([1, 1, 0, 0, 0, 0], bool)
    assert error_consistency(a, b) == pytest.approx(0.6666666)
    assert kappa_p_value(a, b, alternative="two-sided", method="klein2025", n_sim=1000, seed=0) < 0.05
    # test_calculate_ec_pvalue: (kappa 0.5, 50 and 50 right of 100) p < 1e-5; (kappa 0.001, 70 and 70) p > 0.95.
    # Counts reach kappa 0.48 (37 both right) and kappa 0 (49 both right) there, the nearest values.
    a = np.arange(100) < 50
    b = np.isin(np.arange(100), np.r_[0:37, 50:63])
    assert error_consistency(a, b) == pytest.approx(0.48)
    assert kappa_p_value(a, b, alternative="two-sided", method="klein2025", n_sim=1000, seed=0) < 1e-5
    a = np.arange(100) < 70
    b = np.isin(np.arange(100), np.r_[0:49, 70:91])
    assert error_consistency(a, b) == pytest.approx(0.0, abs=1e-12)
    assert kappa_p_value(a, b, alternative="two-sided", method="klein2025", n_sim=1000, seed=0) > 0.95


# --- bad input ----------------------------------------------------------------------------------------

def test_bad_input_is_refused_with_specific_errors():
    with pytest.raises(ValueError, match="give exactly one of kappa and copy"):
        P.simulate_copy_model(10, p_a=0.5, p_b=0.5)
    with pytest.raises(ValueError, match="give exactly one of kappa and copy"):
        P.simulate_copy_model(10, p_a=0.5, p_b=0.5, kappa=0.1, copy=0.1)
    with pytest.raises(ValueError, match=r"copy = 0.9 is not possible .*allowed range is \[-0.5, 0.75\]"):
        P.kappa_from_copy(0.9, 0.8, 0.6)
    with pytest.raises(ValueError, match="copies must be one of"):
        P.simulate_copy_model(10, p_a=0.5, p_b=0.5, kappa=0.1, copies="some")
    with pytest.raises(ValueError, match="n must be a whole number"):
        P.half_width(10.5, kappa=0, p_a=0.5, p_b=0.5)
    with pytest.raises(ValueError, match="finite"):
        P.copy_from_kappa(np.nan, 0.5, 0.5)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        P.copy_from_kappa(0.0, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"kappa \+ delta = 1.1 is not reachable"):
        P.power(100, delta=0.5, kappa=0.6, p_a=0.8, p_b=0.8)
    with pytest.raises(ValueError, match="method must be one of"):
        P.half_width(100, kappa=0, p_a=0.5, p_b=0.5, method="bootstrap")
    with pytest.raises(ValueError, match="ci must be a confidence level"):
        P.half_width(100, kappa=0, p_a=0.5, p_b=0.5, ci=95)
    with pytest.raises(ValueError, match="alpha must be a significance level"):
        P.power(100, delta=0.1, kappa=0, p_a=0.5, p_b=0.5, alpha=0)
    with pytest.raises(ValueError, match="power must be a target power"):
        P.trials_for_power(0.1, kappa=0, p_a=0.5, p_b=0.5, power=80)
    with pytest.raises(ValueError, match="design must be one of"):
        P.power(100, delta=0.1, kappa=0, p_a=0.5, p_b=0.5, design="paired")
    with pytest.raises(ValueError, match="delta must be non-zero"):
        P.trials_for_power(0.0, kappa=0, p_a=0.5, p_b=0.5)
    with pytest.raises(ValueError, match="cannot detect a delta of the other sign"):
        P.trials_for_power(-0.1, kappa=0.3, p_a=0.5, p_b=0.5, alternative="greater")
    with pytest.raises(ValueError, match="one pair has none"):
        P.power(100, delta=0.1, kappa=0, p_a=0.5, p_b=0.5, design="one-pair", p_b2=0.6)
    with pytest.raises(ValueError, match="target half-width must be > 0"):
        P.trials_for_half_width(0, kappa=0, p_a=0.5, p_b=0.5)
    with pytest.raises(ValueError, match="n_sim must be an integer >= 2"):
        P.half_width(100, kappa=0, p_a=0.5, p_b=0.5, method="simulation", n_sim=1)
    with pytest.raises(ValueError, match="needs more than max_n = 1000 trials"):
        P.trials_for_half_width(0.01, kappa=0, p_a=0.5, p_b=0.5, method="simulation", n_sim=200, max_n=1000)
    with pytest.raises(ValueError, match="direction must be one of"):
        P.detectable_difference(100, kappa=0, p_a=0.5, p_b=0.5, direction="up")
    with pytest.raises(ValueError, match="impossible counts"):
        P.kappa_se(10, 5, 5, 6)
    # nothing detectable within the reachable range: NaN, not an error
    assert np.isnan(P.detectable_difference(20, kappa=0.9, p_a=0.8, p_b=0.8))
    assert np.isnan(P.detectable_difference(100, kappa=1.0, p_a=0.8, p_b=0.8))
