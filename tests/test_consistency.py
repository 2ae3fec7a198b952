import math

import numpy as np
import pytest

from ddd.consistency import error_consistency, kappa_bounds, kappa_from_rates, kappa_matrix, pairwise


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
                                "kappa_min", "kappa_max"]
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
