import numpy as np
import pytest
from scipy import stats

from ddd.analysis.split import (RULES, binomial_expectation, categorize, expected_fractions, merge_identical, n_correct,
                       poisson_binomial, split_fractions, thresholds)

# 4 decision makers x 6 images; number right per image: 4, 3, 2, 1, 0, 4
C = np.array([
    [1, 1, 1, 0, 0, 1],
    [1, 1, 0, 1, 0, 1],
    [1, 1, 1, 0, 0, 1],
    [1, 0, 0, 0, 0, 1],
], bool)


def test_n_correct():
    counts = n_correct(C)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, [4, 3, 2, 1, 0, 4])
    np.testing.assert_array_equal(n_correct(C.astype(int)), counts)
    with pytest.raises(ValueError, match="boolean or 0/1"):
        n_correct(C * 2)
    with pytest.raises(ValueError, match="2-D"):
        n_correct(C[0])


def test_thresholds():
    assert set(RULES) == {"strict", "all_but_one"}
    assert thresholds(4, "strict") == (4, 0)
    assert thresholds(4, "all_but_one") == (3, 1)
    assert thresholds(1, "strict") == (1, 0)
    with pytest.raises(ValueError, match="allowed: \\['all_but_one', 'strict'\\]"):
        thresholds(4, "majority")
    with pytest.raises(ValueError, match="at least 3"):
        thresholds(2, "all_but_one")
    with pytest.raises(ValueError, match="at least 1"):
        thresholds(0, "strict")


def test_categorize_both_rules():
    counts = n_correct(C)
    strict = categorize(counts, n=4, trivial_at=4, impossible_at=0)
    assert strict.tolist() == ["trivial", "in_between", "in_between", "in_between", "impossible", "trivial"]
    t, i = thresholds(4, "all_but_one")
    loose = categorize(counts, n=4, trivial_at=t, impossible_at=i)
    assert loose.tolist() == ["trivial", "trivial", "in_between", "impossible", "impossible", "trivial"]
    f = split_fractions(loose)
    assert f == {"trivial": 0.5, "impossible": pytest.approx(2 / 6), "in_between": pytest.approx(1 / 6)}
    assert sum(split_fractions(strict).values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="impossible_at < trivial_at"):
        categorize(counts, n=4, trivial_at=2, impossible_at=2)
    with pytest.raises(ValueError, match="trivial_at <= n"):
        categorize(counts, n=4, trivial_at=5, impossible_at=0)
    with pytest.raises(ValueError, match="lie in \\[0, n=3\\]"):
        categorize(counts, n=3, trivial_at=3, impossible_at=0)
    with pytest.raises(ValueError, match="unknown categories"):
        split_fractions(np.array(["trivial", "easy"]))


def test_binomial():
    pmf = binomial_expectation(4, 0.5)
    assert pmf.shape == (5,) and pmf.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(pmf, np.array([1, 4, 6, 4, 1]) / 16)
    assert binomial_expectation(3, 0.9)[3] == pytest.approx(0.729)
    with pytest.raises(ValueError, match="mean_accuracy"):
        binomial_expectation(3, 1.2)
    with pytest.raises(ValueError, match="positive integer"):
        binomial_expectation(0, 0.5)


def test_poisson_binomial():
    np.testing.assert_allclose(poisson_binomial(np.full(6, 0.3)), stats.binom.pmf(np.arange(7), 6, 0.3), atol=1e-15)
    np.testing.assert_allclose(poisson_binomial([0.5, 1.0]), [0.0, 0.5, 0.5])
    # hand value: P(both) = .2*.6, P(none) = .8*.4
    np.testing.assert_allclose(poisson_binomial([0.2, 0.6]), [0.32, 0.2 * 0.4 + 0.8 * 0.6, 0.12])
    acc = np.random.default_rng(0).random(30)
    assert poisson_binomial(acc).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        poisson_binomial([])


def test_expected_fractions():
    f = expected_fractions([0.5, 0.5, 0.5, 0.5], trivial_at=4, impossible_at=0)
    assert f == {"trivial": pytest.approx(1 / 16), "impossible": pytest.approx(1 / 16),
                 "in_between": pytest.approx(14 / 16)}
    f = expected_fractions([0.9, 0.8, 0.7], trivial_at=2, impossible_at=1)
    assert sum(f.values()) == pytest.approx(1.0) and f["in_between"] == 0.0
    with pytest.raises(ValueError, match="trivial_at <= n"):
        expected_fractions([0.5, 0.5], trivial_at=3, impossible_at=0)


def test_merge_identical():
    x = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1], [1, 1, 1], [1, 0, 1]])
    rows, kept, merged = merge_identical(x, ["a", "b", "c", "d", "e", "f"])
    np.testing.assert_array_equal(rows, x[[0, 1, 4]])
    assert kept == ["a", "b", "e"]
    assert merged == {"a": ["c", "f"], "b": ["d"]}
    rows, kept, merged = merge_identical(x[:2].astype(bool), ["a", "b"])
    assert kept == ["a", "b"] and merged == {} and rows.dtype == bool
    with pytest.raises(ValueError, match="unique names"):
        merge_identical(x, ["a"] * 6)
    with pytest.raises(ValueError, match="bool or integer"):
        merge_identical(x.astype(float), list("abcdef"))
