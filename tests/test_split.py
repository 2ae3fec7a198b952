import json

import numpy as np
import pytest
from scipy import stats

from ddd.analysis.split import (CATEGORIES, RULES, binomial_expectation, bootstrap_split, categorize, category_codes,
                                expected_fractions, jackknife_split, leave_one_out_split, merge_identical, n_correct,
                                poisson_binomial, rule_splits, split_fractions, split_uncertainty, thresholds)

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
    # all-but-one with 3: trivial (>= 2) and impossible (<= 1) cover every image, none is in-between
    for n in (2, 3):
        with pytest.raises(ValueError, match="at least 4 decision makers: with 3 no image can be in-between"):
            thresholds(n, "all_but_one")
    with pytest.raises(ValueError, match="at least 1"):
        thresholds(0, "strict")
    with pytest.raises(ValueError, match="integer"):
        thresholds(4.5, "strict")


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


# ---------------------------------------------------------------------------------------------
# The split's uncertainty (ddd.analysis.split, "Uncertainty of the split")


def test_category_codes_and_rule_splits():
    np.testing.assert_array_equal(category_codes(n_correct(C), trivial_at=4, impossible_at=0), [0, 2, 2, 2, 1, 0])
    np.testing.assert_array_equal(category_codes(np.array([[3, 1], [2, 0]]), trivial_at=3, impossible_at=1),
                                  [[0, 1], [2, 1]])
    with pytest.raises(ValueError, match="impossible_at < trivial_at"):
        category_codes([1], trivial_at=1, impossible_at=1)
    s = rule_splits(n_correct(C), n=4)
    assert s["strict"] == {"trivial": pytest.approx(2 / 6), "impossible": pytest.approx(1 / 6),
                           "in_between": pytest.approx(3 / 6), "trivial_at": 4, "impossible_at": 0, "n_images": 6}
    assert s["all_but_one"]["in_between"] == pytest.approx(1 / 6)
    assert "at least 4" in rule_splits([0, 3], n=3)["all_but_one"]["note"]
    assert rule_splits(np.array([], dtype=int), n=4)["strict"] == {"note": "no images", "n_images": 0}


def test_leave_one_out_by_hand():
    """C's counts are 4, 3, 2, 1, 0, 4; strict with 4: T B B B I T. Without a row, strict with 3:
    row 0 (= row 2) [3,2,1,1,0,3]: T B B B I T, nothing changes; row 1 [3,2,2,0,0,3]: image 3 becomes
    impossible; row 3 [3,3,2,1,0,3]: image 1 becomes trivial."""
    loo = leave_one_out_split(C, rule="strict")
    assert (loo["trivial_at"], loo["impossible_at"], loo["loo_trivial_at"], loo["loo_impossible_at"]) == (4, 0, 3, 0)
    np.testing.assert_allclose(loo["fractions"], np.array([[2, 1, 3], [2, 2, 2], [2, 1, 3], [3, 1, 2]]) / 6)
    np.testing.assert_array_equal(loo["n_changed"], [0, 1, 0, 1])
    assert loo["n_changed"].dtype == np.int64
    # the same by a loop over left-out rows (thresholds for n - 1)
    full = categorize(n_correct(C), n=4, trivial_at=4, impossible_at=0)
    for j in range(4):
        cats = categorize(n_correct(np.delete(C, j, axis=0)), n=3, trivial_at=3, impossible_at=0)
        assert loo["n_changed"][j] == (cats != full).sum()
        assert list(loo["fractions"][j]) == pytest.approx([split_fractions(cats)[c] for c in CATEGORIES])
    # all-but-one with 4: leaving one out leaves 3, too few for the rule
    with pytest.raises(ValueError, match="leaving one of 4 decision makers out leaves 3: .*at least 4"):
        leave_one_out_split(C, rule="all_but_one")


def test_jackknife_by_hand():
    """Leave-one-out trivial fractions 2, 2, 2, 3 (/6): mean 3/8, sum of squares 1/48, var 3/4 * 1/48 =
    1/64, se 1/8; impossible 1, 2, 1, 1 (/6): se 1/8; in-between 3, 2, 3, 2 (/6): se sqrt(3/4 * 4/144)."""
    jk = jackknife_split(C, rule="strict", ci=0.95)
    np.testing.assert_allclose(jk["value"], [2 / 6, 1 / 6, 3 / 6])
    np.testing.assert_allclose(jk["se"], [1 / 8, 1 / 8, np.sqrt(3 / 4 * 4 / 144)])
    t = stats.t.ppf(0.975, 3)
    np.testing.assert_allclose(jk["ci_high"], np.clip(jk["value"] + t * jk["se"], 0, 1))
    np.testing.assert_allclose(jk["ci_low"], [0.0, 0.0, 0.5 - t * np.sqrt(1 / 48)])   # clipped at 0
    # decision makers that agree on every image: every leave-one-out split is the full one, se 0
    same = np.repeat(C[:1], 5, axis=0)
    jk = jackknife_split(same, rule="all_but_one")
    np.testing.assert_allclose(jk["se"], 0)
    np.testing.assert_array_equal(jk["ci_low"], jk["ci_high"])
    np.testing.assert_array_equal(jk["n_changed"], 0)
    with pytest.raises(ValueError, match="ci must be"):
        jackknife_split(C, rule="strict", ci=95)


def test_bootstrap_over_images():
    cats = np.array(["trivial"] * 200 + ["impossible"] * 100 + ["in_between"] * 100)
    b = bootstrap_split(cats, n_boot=4000, seed=3)
    np.testing.assert_allclose(b["value"], [0.5, 0.25, 0.25])
    # binomial standard errors over 400 images: sqrt(p (1 - p) / 400)
    se = np.sqrt(b["value"] * (1 - b["value"]) / 400)
    np.testing.assert_allclose(b["ci_high"] - b["ci_low"], 2 * 1.96 * se, rtol=0.08)
    assert np.all(b["ci_low"] < b["value"]) and np.all(b["value"] < b["ci_high"])
    again = bootstrap_split(cats, n_boot=4000, seed=3)
    np.testing.assert_array_equal(b["ci_low"], again["ci_low"])
    # the multinomial draw is the distribution of resampling image indices: the same percentiles
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 400, size=(4000, 400))
    direct = np.stack([(cats[idx] == c).mean(axis=1) for c in CATEGORIES], axis=1)
    np.testing.assert_allclose(np.percentile(direct, [2.5, 97.5], axis=0), [b["ci_low"], b["ci_high"]], atol=0.012)
    one = bootstrap_split(np.array(["trivial"] * 10), n_boot=50)
    np.testing.assert_array_equal(one["ci_low"], [1, 0, 0])
    np.testing.assert_array_equal(one["ci_high"], [1, 0, 0])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_split(cats, n_boot=0)
    with pytest.raises(ValueError, match="unknown categories"):
        bootstrap_split(np.array(["easy"]))


def test_split_uncertainty_entries():
    u = split_uncertainty(C, names=["a", "b", "c", "d"], n_boot=200, seed=1)
    s = u["strict"]
    assert s["trivial"]["value"] == pytest.approx(2 / 6) and s["trivial"]["decision_makers_se"] == pytest.approx(1 / 8)
    assert s["trivial"]["leave_one_out_min"] == pytest.approx(2 / 6) and s["trivial"]["leave_one_out_max"] == 0.5
    assert s["leave_one_out"] == {"trivial_at": 3, "impossible_at": 0, "n_changed": {"a": 0, "b": 1, "c": 0, "d": 1},
                                  "n_changed_mean": 0.5, "n_changed_max": 1, "most_changed": "b"}
    assert "jackknife" in s["decision_makers_method"] and "n - 1 = 3" in s["decision_makers_method"]
    assert "percentile bootstrap over images, 200 resamples, seed 1" == s["images_method"][4:]
    # all-but-one applies to 4 (images interval) but not to the 3 left after leaving one out
    a = u["all_but_one"]
    assert a["leave_one_out"] is None and a["trivial"]["decision_makers_low"] is None
    assert "leaves 3" in a["decision_makers_note"] and a["trivial"]["images_high"] >= a["trivial"]["value"]
    # with 3 decision makers the rule does not apply at all
    assert "at least 4" in split_uncertainty(C[:3])["all_but_one"]["note"]
    json.dumps(u)  # JSON-ready: Python numbers only
    with pytest.raises(ValueError, match="names must name the 4"):
        split_uncertainty(C, names=["a"])


def test_split_uncertainty_after_merging_identical():
    """Identical decision makers are merged before the split: the jackknife runs over the distinct ones,
    so a duplicate changes nothing (leaving out one copy alone would change nothing either)."""
    rng = np.random.default_rng(7)
    c = rng.random((6, 300)) < 0.7
    with_copies = np.concatenate([c, c[[0, 0, 3]]])
    rows, kept, merged = merge_identical(with_copies, [f"m{i}" for i in range(9)])
    assert kept == [f"m{i}" for i in range(6)] and merged == {"m0": ["m6", "m7"], "m3": ["m8"]}
    a = split_uncertainty(rows, names=kept, n_boot=100)
    b = split_uncertainty(c, names=kept, n_boot=100)
    assert a == b
    # strict: leaving one out changes exactly the images on which it was the only one right or wrong
    counts = c.sum(axis=0)
    lone = [int(((counts == 5) & ~c[j]).sum() + ((counts == 1) & c[j]).sum()) for j in range(6)]
    assert list(a["strict"]["leave_one_out"]["n_changed"].values()) == lone
