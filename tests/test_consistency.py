import math

import numpy as np
import pytest

from ddd.analysis.kappa import error_consistency, kappa_bounds, kappa_from_rates, kappa_matrix
from ddd.analysis.uncertainty import pairwise


def test_hand_values():
    assert error_consistency([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.0, abs=1e-15)
    # c_obs = .75, p_a = .75, p_b = .5, c_exp = .5 -> kappa = .5
    assert error_consistency([True, True, True, False], [True, True, False, False]) == pytest.approx(0.5)
    a = np.array([1, 0, 1, 1, 0], bool)
    assert error_consistency(a, a) == 1.0
    # complementary: c_obs = 0, p_a = .6, p_b = .4, c_exp = .48 -> -.48 / .52 = -12/13
    assert error_consistency(a, ~a) == pytest.approx(-12 / 13)
    assert error_consistency([1, 1, 0, 0], [0, 0, 1, 1]) == pytest.approx(-1.0)
    # partially complementary: c_obs = .25, p_a = .75, p_b = .5, c_exp = .5 -> -.5
    assert error_consistency([1, 1, 1, 0], [0, 0, 1, 1]) == pytest.approx(-0.5)


def test_undefined_cases():
    ones, zeros = np.ones(5, bool), np.zeros(5, bool)
    for x in (ones, zeros):
        assert math.isnan(error_consistency(x, x))
        assert error_consistency(x, x, undefined="mvh") == 1.0
        with pytest.raises(ValueError, match="undefined"):
            error_consistency(x, x, undefined="raise")
    # both at extremes but opposite: c_exp = 0, defined: kappa = (0 - 0) / 1 = 0
    assert error_consistency(ones, zeros) == 0.0
    with pytest.raises(ValueError, match="undefined must be one of"):
        error_consistency(ones, zeros, undefined="zero")


def test_one_extreme_gives_exact_zero():
    rng = np.random.default_rng(3)
    b = rng.random(1000) < 0.37
    for x in (np.ones(1000, bool), np.zeros(1000, bool)):
        for und in ("nan", "mvh", "raise"):
            assert error_consistency(x, b, undefined=und) == 0.0
            assert error_consistency(b, x, undefined=und) == 0.0
    assert kappa_from_rates(0.3, 1.0, 0.3) == 0.0


def test_kappa_from_rates_vectorised_and_validation():
    k = kappa_from_rates([0.75, 0.5], [0.75, 0.5], [[0.5], [0.5]])
    assert k.shape == (2, 2)
    np.testing.assert_allclose(k, [[0.5, 0.0], [0.5, 0.0]])
    with pytest.raises(ValueError, match="c_obs is impossible"):
        kappa_from_rates(0.9, 0.5, 0.3)
    with pytest.raises(ValueError, match="p_a must lie"):
        kappa_from_rates(0.5, 1.5, 0.5)
    with pytest.raises(ValueError, match="c_obs must lie"):
        kappa_from_rates(np.nan, 0.5, 0.5)


def test_bounds():
    lo, hi = kappa_bounds(0.5, 0.5)
    assert (lo, hi) == (-1.0, 1.0)
    lo, hi = kappa_bounds(0.75, 0.5)
    # c_obs_max = .75 -> .5 ; c_obs_min = .25 -> -.5
    assert lo == pytest.approx(-0.5) and hi == pytest.approx(0.5)
    lo, hi = kappa_bounds([1.0, 0.0, 1.0], [1.0, 0.0, 0.4])
    assert np.isnan(lo[:2]).all() and np.isnan(hi[:2]).all()
    assert lo[2] == 0.0 and hi[2] == 0.0
    # every observed kappa lies within its bounds
    rng = np.random.default_rng(5)
    c = rng.random((6, 50)) < rng.random((6, 1))
    df = pairwise(c)
    assert ((df.kappa >= df.kappa_min - 1e-12) & (df.kappa <= df.kappa_max + 1e-12)).all()


def test_pairwise_matches_loop():
    rng = np.random.default_rng(0)
    c = rng.random((7, 200)) < rng.uniform(0.2, 0.9, size=(7, 1))
    c[2] = True  # one perfect observer
    c[5] = c[4]
    names = [f"m{i}" for i in range(7)]
    df = pairwise(c, names=names)
    assert len(df) == 21
    assert list(df.columns) == ["a", "b", "n", "p_a", "p_b", "c_obs", "c_exp", "kappa", "kappa_undefined",
                                "kappa_min", "kappa_max", "kappa_over_max"]
    for row in df.itertuples():
        i, j = names.index(row.a), names.index(row.b)
        assert i < j and row.n == 200
        assert row.kappa == pytest.approx(error_consistency(c[i], c[j]), abs=1e-12)
        assert row.c_obs == pytest.approx(np.mean(c[i] == c[j]), abs=1e-12)
    assert not df.kappa_undefined.any()
    assert df.set_index(["a", "b"]).loc[("m4", "m5"), "kappa"] == pytest.approx(1.0)


def test_pairwise_undefined_flag_and_validation():
    c = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 1]], bool)
    df = pairwise(c, undefined="mvh")
    assert df.kappa_undefined.tolist() == [True, False, False]
    assert df.kappa.tolist() == [1.0, 0.0, 0.0]
    assert np.isnan(pairwise(c).kappa[0])
    with pytest.raises(ValueError, match="unique names"):
        pairwise(c, names=["a", "a", "b"])
    with pytest.raises(ValueError, match="unique names"):
        pairwise(c, names=["a", "b"])
    with pytest.raises(ValueError, match="at least 2"):
        pairwise(c[:1])
    with pytest.raises(ValueError, match="boolean or 0/1"):
        pairwise(c * 2)
    with pytest.raises(ValueError, match="boolean or 0/1"):
        pairwise(c.astype(float))
    with pytest.raises(ValueError, match="N = 0"):
        pairwise(np.zeros((3, 0), bool))
    with pytest.raises(ValueError, match="2-D"):
        pairwise(c[0])
    with pytest.raises(ValueError, match="same images"):
        error_consistency([1, 0], [1, 0, 1])


def test_kappa_matrix():
    rng = np.random.default_rng(1)
    c = rng.random((5, 100)) < 0.6
    c[3] = False
    k = kappa_matrix(c)
    assert k.shape == (5, 5) and k.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(k), np.isnan(k.T))
    np.testing.assert_array_equal(np.nan_to_num(k), np.nan_to_num(k.T))
    assert np.isnan(k[3, 3]) and (np.delete(np.diag(k), 3) == 1.0).all()
    assert (k[3, [0, 1, 2, 4]] == 0.0).all()
    assert k[0, 1] == pytest.approx(error_consistency(c[0], c[1]), abs=1e-12)
    assert kappa_matrix(c, undefined="mvh")[3, 3] == 1.0


def test_independent_observers_near_zero():
    rng = np.random.default_rng(42)
    a, b = rng.random(20000) < 0.7, rng.random(20000) < 0.7
    assert abs(error_consistency(a, b)) < 0.03


# --- counts, bootstrap, p-values, spread -------------------------------------------------------

from scipy import stats  # noqa: E402

from ddd.analysis.kappa import pair_counts, pair_table  # noqa: E402
from ddd.analysis.uncertainty import bootstrap_kappa, condition_spread, kappa_p_value, p_values_from_counts  # noqa: E402


def test_pair_counts_and_table_exact():
    rng = np.random.default_rng(7)
    c = rng.random((5, 301)) < rng.uniform(0.1, 0.9, size=(5, 1))
    mask = rng.random(301) < 0.4
    n, both = pair_counts(c, mask=mask)
    assert n == mask.sum() and both.dtype == np.int64
    np.testing.assert_array_equal(both, (c[:, mask][:, None] & c[:, mask][None]).sum(-1))
    t = pair_table(n, both[0, 0], both[1, 1], both[0, 1])
    assert t["kappa"] == error_consistency(c[0, mask], c[1, mask])
    empty = pair_table(0, 0, 0, 0)
    assert empty["n"] == 0 and empty["kappa_undefined"] and np.isnan(empty["kappa"]) and np.isnan(empty["p_a"])
    with pytest.raises(ValueError, match="impossible counts"):
        pair_table(10, 3, 4, 5)


def test_bootstrap_matches_explicit_index_resampling():
    rng = np.random.default_rng(11)
    a = rng.random(200) < 0.7
    b = np.where(rng.random(200) < 0.4, a, rng.random(200) < 0.6)
    res = bootstrap_kappa(a, b, n_boot=300, ci=0.9, seed=5)
    idx = np.random.default_rng(5).integers(0, 200, size=(300, 200))  # one chunk: 2**22 // 200 >= 300
    ks = np.array([error_consistency(a[i], b[i]) for i in idx])
    assert res["kappa"] == error_consistency(a, b)
    assert res["ci_low"] == pytest.approx(np.percentile(ks, 5), abs=1e-12)
    assert res["ci_high"] == pytest.approx(np.percentile(ks, 95), abs=1e-12)
    assert res["sd"] == pytest.approx(ks.std(ddof=1), abs=1e-12)
    assert res == bootstrap_kappa(a, b, n_boot=300, ci=0.9, seed=5)  # seeded
    # the same pair inside a larger set gets the same interval
    c = np.stack([rng.random(200) < 0.5, a, b])
    row = pairwise(c, ci=0.9, n_boot=300, seed=5).iloc[2]
    assert (row.a, row.b) == (1, 2)
    np.testing.assert_allclose([row.kappa_ci_low, row.kappa_ci_high, row.kappa_sd],
                               [res["ci_low"], res["ci_high"], res["sd"]], rtol=0, atol=1e-14)


def test_bootstrap_sd_matches_sampling_sd():
    # known answer: the bootstrap sd of one data set estimates the sd of kappa over fresh data sets
    rng = np.random.default_rng(3)
    n = 2000

    def draw():
        a = rng.random(n) < 0.75
        return a, np.where(rng.random(n) < 0.3, a, rng.random(n) < 0.75)  # copy 30 %: kappa ~ 0.3

    true_sd = np.std([error_consistency(*draw()) for _ in range(300)], ddof=1)
    res = bootstrap_kappa(*draw(), n_boot=1000, seed=0)
    assert 0.75 < res["sd"] / true_sd < 1.33
    assert res["ci_low"] < 0.3 < res["ci_high"] and res["n_boot_undefined"] == 0


def test_bootstrap_undefined_resamples_and_validation():
    a = np.zeros(20, bool)
    a[0] = True  # most resamples miss image 0 -> both 0 % right -> undefined
    res = bootstrap_kappa(a, a, n_boot=200, seed=1)
    assert res["kappa"] == 1.0 and 0 < res["n_boot_undefined"] < 200
    with pytest.raises(ValueError, match="ci must be"):
        bootstrap_kappa(a, a, ci=95)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_kappa(a, a, n_boot=1)


def test_p_value_known_answers():
    rng = np.random.default_rng(0)
    a = rng.random(500) < 0.7
    assert kappa_p_value(a, a) < 1e-50
    assert kappa_p_value(a, ~a, alternative="less") < 1e-50 and kappa_p_value(a, ~a) == pytest.approx(1.0)
    # independent observers: p roughly uniform (discrete, hence slightly conservative)
    c = rng.random((25, 1000)) < 0.7
    p = pairwise(c, p_value=True)["p_value"].to_numpy()
    assert len(p) == 300 and 0.4 < p.mean() < 0.6 and 0.02 <= (p < 0.05).mean() <= 0.09
    assert stats.kstest(p, "uniform").pvalue > 0.01
    # one observer perfect: kappa exactly 0, p = 1; both perfect: undefined, p NaN
    ones = np.ones(500, bool)
    assert kappa_p_value(ones, a) == 1.0 and math.isnan(kappa_p_value(ones, ones))
    with pytest.raises(ValueError, match="alternative"):
        kappa_p_value(a, a, alternative="bigger")


def test_p_value_matches_permutation_estimate():
    rng = np.random.default_rng(4)
    a = rng.random(60) < 0.6
    b = np.where(rng.random(60) < 0.25, a, rng.random(60) < 0.6)
    perms = np.argsort(rng.random((20000, 60)), axis=1)
    k_obs = (a & b).sum()
    k_null = (a[None, :] & b[perms]).sum(axis=1)
    for alt, hit in (("greater", k_null >= k_obs), ("less", k_null <= k_obs)):
        p_mc = hit.mean()
        assert abs(kappa_p_value(a, b, alternative=alt) - p_mc) < 4 * math.sqrt(p_mc * (1 - p_mc) / 20000) + 1e-3
    greater, less = kappa_p_value(a, b), kappa_p_value(a, b, alternative="less")
    pmf = stats.hypergeom.pmf(k_obs, 60, a.sum(), b.sum())
    assert greater + less - pmf == pytest.approx(1.0)
    assert kappa_p_value(a, b, alternative="two-sided") == pytest.approx(min(1, 2 * min(greater, less)))
    np.testing.assert_allclose(p_values_from_counts([60, 60], a.sum(), b.sum(), [k_obs, k_obs]), greater)


def test_klein2025_method():
    rng = np.random.default_rng(2)
    a = rng.random(400) < 0.7
    b = rng.random(400) < 0.7
    p_ind = kappa_p_value(a, b, method="klein2025", alternative="two-sided", n_sim=4000, seed=1)
    assert p_ind == kappa_p_value(a, b, method="klein2025", alternative="two-sided", n_sim=4000, seed=1)
    assert abs(p_ind - kappa_p_value(a, b, alternative="two-sided")) < 0.15
    assert kappa_p_value(a, a, method="klein2025", alternative="two-sided", n_sim=2000) == 0.0
    with pytest.raises(ValueError, match="two-sided"):
        kappa_p_value(a, b, method="klein2025")
    with pytest.raises(ValueError, match="method"):
        kappa_p_value(a, b, method="bootstrap")


def test_pairwise_optional_columns():
    rng = np.random.default_rng(9)
    c = rng.random((4, 300)) < 0.6
    base = pairwise(c)
    full = pairwise(c, ci=0.95, n_boot=200, seed=0, p_value=True, alternative="two-sided")
    assert list(full.columns[:len(base.columns)]) == list(base.columns)
    assert list(full.columns[len(base.columns):]) == ["kappa_ci_low", "kappa_ci_high", "kappa_sd",
                                                      "kappa_boot_undefined", "p_value", "p_alternative"]
    assert base.equals(full[base.columns])
    assert ((full.kappa_ci_low <= full.kappa) & (full.kappa <= full.kappa_ci_high)).all()


def test_condition_spread_separates_runs_from_images():
    rng = np.random.default_rng(12)
    n = 3000
    base = rng.random(n) < 0.7

    def run(copy):
        return np.where(rng.random(n) < copy, base, rng.random(n) < 0.7)

    # runs that differ only by sampling noise: sd over runs ~ sd over images
    same, per_run = condition_spread(np.stack([run(0.4) for _ in range(30)]), reference=base, n_boot=300)
    assert len(per_run) == 30 and (per_run.a == "reference").all()
    assert 0.6 < same["sd_over_runs"] / same["sd_over_images"] < 1.6
    assert same["kappa_mean"] == pytest.approx(0.4, abs=0.03)
    assert same["ci_width_over_images"] == pytest.approx(2 * 1.96 * same["sd_over_images"], rel=0.15)
    # runs that really differ: spread over runs far larger than over images
    differ, _ = condition_spread(np.stack([run(p) for p in np.linspace(0.1, 0.7, 10)]), reference=base,
                                 n_boot=200)
    assert differ["sd_over_runs"] > 5 * differ["sd_over_images"]
    # without a reference: distinct pairs of runs
    s, pairs = condition_spread(np.stack([run(0.5) for _ in range(4)]), n_boot=100)
    assert s["n_kappas"] == 6 == len(pairs)
    with pytest.raises(ValueError, match="at least 2 runs"):
        condition_spread(base[None], n_boot=100)


def test_kappa_over_max_and_bias_corrected_kappa_by_hand():
    # 10 images: a right on 7, b right on 5, both on 5 -> c_obs = 0.8, c_exp = 0.5, kappa = 0.6;
    # the largest c_obs these accuracies allow is 1 - |0.7 - 0.5| = 0.8, so kappa_max = 0.6 too.
    a = np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], bool)
    b = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    row = pairwise(np.stack([a, b]), bias_corrected=True).iloc[0]
    assert row.kappa == pytest.approx(0.6) and row.kappa_max == pytest.approx(0.6)
    assert row.kappa_over_max == pytest.approx(1.0)
    assert row.kappa_bias_corrected == pytest.approx(10 * 0.6 / (9 + 0.6))  # Klein et al.'s kappa'
    b2 = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 1], bool)  # both right on 3: c_obs 0.4, kappa -0.2
    row = pairwise(np.stack([a, b2])).iloc[0]
    assert row.kappa == pytest.approx(-0.2) and row.kappa_over_max == pytest.approx(-0.2 / 0.6)
    perfect = pairwise(np.stack([np.ones(5, bool), np.ones(5, bool)])).iloc[0]
    assert np.isnan(perfect.kappa_over_max)
    assert "kappa_bias_corrected" not in pairwise(np.stack([a, b])).columns


def test_uncertainty_intervals_focused_on_the_compared_pairs(tmp_path, caplog):
    """scope="focused": every pair keeps κ and its exact p-value, only the compared pairs (each run and its
    reference) get intervals, equal to those of scope="all"; the log says so."""
    from synthetic_study import make_study

    import pandas as pd

    from ddd.analysis.consistency import uncertainty_table

    study = make_study(tmp_path)
    kw = dict(n_boot=80, seed=3)
    every = uncertainty_table(study["entries"], scope="all", **kw)
    with caplog.at_level("WARNING", logger="ddd.analysis.consistency"):
        some = uncertainty_table(study["entries"], scope="focused", **kw)
    assert "compared pairs only" in caplog.text
    assert list(some.columns) == list(every.columns) and len(some) == len(every)
    pairs_all, pairs_some = every[every.kind == "pair"], some[some.kind == "pair"]
    for col in ("a", "b", "kappa", "p_value", "kappa_min", "kappa_max"):
        pd.testing.assert_series_equal(pairs_all[col], pairs_some[col])
    with_ci = pairs_some.kappa_ci_low.notna() | pairs_some.kappa_boot_undefined.notna()
    compared = {tuple(sorted(p)) for p in [("init/1", "base"), ("init/2", "base"), ("architecture", "base"),
                                            ("different_data/1", "base"), ("different_data/2", "base"),
                                            ("different_data/1", "different_data/2"), ("plus_1_epoch", "base"),
                                            ("plus_10_epochs", "base")]}
    got = {tuple(sorted((a, b))) for a, b in zip(pairs_some.a[with_ci], pairs_some.b[with_ci])}
    assert got and got <= compared
    for col in ("kappa_ci_low", "kappa_ci_high", "kappa_sd"):
        np.testing.assert_array_equal(pairs_some[col][with_ci].to_numpy(), pairs_all[col][with_ci].to_numpy())
    assert pairs_some.kappa_ci_low[~with_ci].isna().all()
    pd.testing.assert_frame_equal(every[every.kind == "spread"], some[some.kind == "spread"])
    with pytest.raises(ValueError, match="scope must be one of"):
        uncertainty_table(study["entries"], scope="pairs", **kw)
