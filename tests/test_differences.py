"""Differences of error consistency (ddd.analysis.differences): known answers, rates over simulated studies."""
import numpy as np
import pandas as pd
import pytest

from ddd.analysis.differences import (condition_differences, holm, kappa_differences, study_differences)
from ddd.analysis.kappa import error_consistency


def _copy(rng, ref, copy, acc, size=None):
    """Copy model: each image takes ``ref``'s correctness with probability ``copy``, else is right with ``acc``."""
    shape = ref.shape if size is None else (size, *ref.shape)
    return np.where(rng.random(shape) < copy, ref, rng.random(shape) < acc)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 (K = 3): 0.03, 0.06, 0.06 after the running maximum
    np.testing.assert_allclose(holm([0.04, 0.01, 0.03, np.nan]), [0.06, 0.03, 0.06, np.nan])
    assert np.isnan(holm([np.nan])).all() and holm([0.9, 0.8]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([1.5])


def test_point_estimates_equal_kappa_of_the_data_and_subsets():
    rng = np.random.default_rng(0)
    n = 600
    r = rng.random(n) < 0.7
    c = np.stack([r, _copy(rng, r, 0.6, 0.7), _copy(rng, r, 0.2, 0.7)])
    mask = rng.random(n) < 0.4
    d = kappa_differences(c, [(0, 1), (1, 2)], [(0, 2), (1, 2)], first_subset=["all", "x"],
                          second_subset=["all", "all"], subsets={"x": mask}, n_boot=200, n_perm=200, seed=1)
    assert d.delta[0] == pytest.approx(error_consistency(r, c[1]) - error_consistency(r, c[2]), abs=1e-12)
    assert d.delta[1] == pytest.approx(error_consistency(c[1][mask], c[2][mask]) - error_consistency(c[1], c[2]),
                                       abs=1e-12)
    assert d.n_first.tolist() == [n, int(mask.sum())] and d.n_second.tolist() == [n, n]
    assert (d.ci_low <= d.delta).all() and (d.delta <= d.ci_high).all()
    assert np.isfinite(d.p_swap[0]) and np.isnan(d.p_swap[1])  # no swap test for all vs a subset
    again = kappa_differences(c, [(0, 1), (1, 2)], [(0, 2), (1, 2)], first_subset=["all", "x"],
                              second_subset=["all", "all"], subsets={"x": mask}, n_boot=200, n_perm=200, seed=1)
    pd.testing.assert_frame_equal(d, again)  # seeded


def test_identical_comparisons_have_delta_zero_and_p_one():
    rng = np.random.default_rng(2)
    r = rng.random(300) < 0.6
    a = _copy(rng, r, 0.5, 0.6)
    c = np.stack([r, a, a.copy()])
    d = kappa_differences(c, [(0, 1)], [(0, 2)], n_boot=100, n_perm=100)
    assert d.delta[0] == 0 and d.ci_low[0] == 0 and d.ci_high[0] == 0
    assert d.p_bootstrap[0] == 1.0 and d.p_swap[0] == 1.0


def test_bad_input_is_named():
    c = np.ones((3, 10), bool)
    with pytest.raises(ValueError, match="outside"):
        kappa_differences(c, [(0, 5)], [(0, 1)])
    with pytest.raises(ValueError, match="two different"):
        kappa_differences(c, [(1, 1)], [(0, 1)])
    with pytest.raises(ValueError, match="unknown subsets"):
        kappa_differences(c, [(0, 1)], [(0, 2)], first_subset=["in_between"])
    with pytest.raises(ValueError, match="n_boot"):
        kappa_differences(c, [(0, 1)], [(0, 2)], n_boot=1)
    with pytest.raises(ValueError, match="bool mask"):
        kappa_differences(c, [(0, 1)], [(0, 2)], subsets={"x": np.ones(3, bool)})
    with pytest.raises(ValueError, match="unknown condition"):
        condition_differences(c, {"a": [(0, 1)]}, compare=[(("a", "all"), ("b", "all"))])


def test_runs_that_disagree_widen_the_condition_interval():
    """Two conditions with the same mean κ over images: the one whose runs disagree has the wider
    interval, because the two-stage bootstrap draws runs as well as images."""
    rng = np.random.default_rng(3)
    n = 4000
    r = rng.random(n) < 0.7
    steady = [_copy(rng, r, 0.5, 0.7) for _ in range(5)]
    spread = [_copy(rng, r, c, 0.7) for c in (0.1, 0.3, 0.5, 0.7, 0.9)]
    c = np.stack([r, *steady, *spread])
    per, _ = condition_differences(c, {"steady": [(0, k) for k in range(1, 6)],
                                       "spread": [(0, k) for k in range(6, 11)]}, n_boot=300, seed=0)
    width = (per.ci_high - per.ci_low).to_numpy()
    assert per.n_runs.tolist() == [5, 5]
    assert width[1] > 4 * width[0]


def _study(rng, n, copy_a, copy_b, acc=0.7):
    r = rng.random(n) < acc
    return np.stack([r, _copy(rng, r, copy_a, acc), _copy(rng, r, copy_b, acc)])


@pytest.mark.parametrize("copy_b, expect", [(0.4, "null"), (0.25, "differ")])
def test_rates_over_200_simulated_studies(copy_b, expect):
    """Copy-model studies (base R; A and B copy R's correctness with probabilities 0.4 and copy_b,
    accuracy 0.7, 1,000 images): equal copy probabilities must be found different at no more than
    the nominal 5 % (up to Monte-Carlo error), 0.4 against 0.25 (Δκ ≈ 0.15) nearly always."""
    rng = np.random.default_rng(2025)
    hits_boot = hits_swap = 0
    studies = 200
    for s in range(studies):
        c = _study(rng, 1000, 0.4, copy_b)
        d = kappa_differences(c, [(0, 1)], [(0, 2)], n_boot=200, n_perm=200, seed=s)
        hits_boot += d.p_bootstrap[0] < 0.05
        hits_swap += d.p_swap[0] < 0.05
    rate_boot, rate_swap = hits_boot / studies, hits_swap / studies
    print(f"\ncopy 0.4 vs {copy_b}: found different in {rate_boot:.3f} (bootstrap), {rate_swap:.3f} (swap)")
    if expect == "null":
        assert rate_boot <= 0.09 and rate_swap <= 0.09  # 0.05 + 2.8 binomial SE at 200 studies
    else:
        assert rate_boot >= 0.9 and rate_swap >= 0.9


def _toy_study(rng, n=3000):
    """A base, five init runs, two of one-run conditions, the two halves of different data."""
    r = rng.random(n) < 0.75
    rows, names = [r], ["base"]
    conds = {"init": [0.55] * 5, "optimizer": [0.5], "architecture": [0.2], "different_data": [0.3, 0.3]}
    comparisons = [("base", "base", "base")]
    for cond, copies in conds.items():
        for k, cp in enumerate(copies, start=1):
            rows.append(_copy(rng, r, cp, 0.75))
            names.append(f"{cond}/{k}")
            if cond != "different_data":
                comparisons.append((cond, f"{cond}/{k}", "base"))
            else:
                comparisons.append(("half_data", f"{cond}/{k}", "base"))
    comparisons.append(("different_data", "different_data/1", "different_data/2"))
    return np.stack(rows), names, pd.DataFrame(comparisons, columns=["condition", "name", "other"])


def test_study_differences_rows_families_and_holm():
    rng = np.random.default_rng(5)
    c, names, comparisons = _toy_study(rng)
    counts = c.sum(axis=0)
    in_between = (counts > 1) & (counts < len(names) - 1)
    d, per = study_differences(c, names, comparisons, in_between=in_between, n_boot=200, n_perm=200)
    runs = len(comparisons) - 1  # 10 run comparisons (the base against itself left out)
    by = d.groupby(["level", "comparison"]).size().to_dict()
    assert by[("decision_maker", "vs_base")] == 2 * runs * (runs - 1) // 2
    assert by[("decision_maker", "in_between_vs_all")] == len(names) * (len(names) - 1) // 2
    conds = per.condition.unique().tolist()
    assert conds == ["init", "optimizer", "architecture", "half_data", "different_data"]
    assert by[("condition", "vs_base")] == 2 * 10 and by[("condition", "in_between_vs_all")] == 5
    for fam, block in d.groupby("holm_family"):
        np.testing.assert_allclose(block.p_holm, holm(block.p_value.to_numpy()))
    assert (d.significant == (d.p_holm < 0.05)).all()
    swap = d[(d.level == "decision_maker") & d.p_swap.notna()]
    assert (swap.p_method == "swap permutation").all() and (swap.p_value == swap.p_swap).all()
    init = per[(per.condition == "init") & (per.subset == "all")].iloc[0]
    base_k = [error_consistency(c[0], c[names.index(f"init/{k}")]) for k in range(1, 6)]
    assert init.kappa == pytest.approx(np.mean(base_k)) and init.ci_over == "images and runs"
    row = d[(d.level == "condition") & (d["first"] == "init") & (d["second"] == "architecture")
            & (d.first_subset == "all")].iloc[0]
    assert row.significant and row.delta > 0.2  # copy 0.55 against 0.2 on 3,000 images


def test_study_without_base_compares_every_pair_on_subsets_only():
    rng = np.random.default_rng(6)
    c = rng.random((4, 500)) < 0.6
    d, per = study_differences(c, ["a", "b", "c", "d"], None, in_between=rng.random(500) < 0.5, n_boot=50,
                               n_perm=50)
    assert set(d.comparison) == {"in_between_vs_all"} and len(d) == 6 and per.empty
    d, _ = study_differences(c, ["a", "b", "c", "d"], None, in_between=None, n_boot=50)
    assert d.empty


def test_scope_all_focused_and_auto(monkeypatch, caplog):
    """scope: every pair, or focused rows (vs_base within a condition, in_between_vs_all for the compared
    pairs) that equal those rows of "all"; "auto" switches at AUTO_ALL_MAX decision makers with a log line;
    studies without comparisons get no focused in_between_vs_all rows (logged); bad values are refused."""
    import ddd.analysis.differences as differences

    rng = np.random.default_rng(7)
    c, names, comparisons = _toy_study(rng)
    counts = c.sum(axis=0)
    in_between = (counts > 1) & (counts < len(names) - 1)
    kw = dict(in_between=in_between, n_boot=60, n_perm=40)
    every, _ = study_differences(c, names, comparisons, scope="all", **kw)
    some, per = study_differences(c, names, comparisons, scope="focused", **kw)
    ib = lambda d: d[(d.level == "decision_maker") & (d.comparison == "in_between_vs_all")]
    vs = lambda d: d[(d.level == "decision_maker") & (d.comparison == "vs_base")]
    pairs = {tuple(sorted((a, b))) for a, b in zip(comparisons["name"], comparisons["other"]) if a != b}
    assert len(ib(every)) == len(names) * (len(names) - 1) // 2 == 45 and len(ib(some)) == len(pairs) == 10
    # runs per condition: init 5, optimizer 1, architecture 1, half_data 2, different_data 1 -> C(5,2) + C(2,2)
    assert len(vs(every)) == 2 * 45 and len(vs(some)) == 2 * (10 + 1)
    cond = {f"{n} vs {o}": k for k, n, o in zip(comparisons["condition"], comparisons["name"], comparisons["other"])}
    assert all(cond[a] == cond[b] for a, b in zip(vs(some)["first"], vs(some)["second"]))
    key = ["comparison", "first", "first_subset", "second", "second_subset"]
    want = every.set_index(key).loc[some[some.level == "decision_maker"].set_index(key).index]
    got = some[some.level == "decision_maker"]
    for col in ("kappa_first", "kappa_second", "delta", "ci_low", "ci_high", "p_bootstrap"):  # the same resamples
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy())
    assert got["p_swap"].notna().sum() == want["p_swap"].notna().sum() > 0  # its own draws: fewer groups
    cond_rows = lambda d: d[d.level == "condition"].drop(columns=["p_holm", "significant"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(cond_rows(every), cond_rows(some))  # conditions: always all
    auto, _ = study_differences(c, names, comparisons, **kw)
    assert len(auto) == len(every)  # 10 decision makers: all
    monkeypatch.setattr(differences, "AUTO_ALL_MAX", 5)
    with caplog.at_level("WARNING", logger="ddd.analysis.differences"):
        auto, _ = study_differences(c, names, comparisons, **kw)
    assert len(auto) == len(some) and "10 decision makers (more than 5)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="ddd.analysis.differences"):
        none, _ = study_differences(c, names, None, in_between=in_between, n_boot=20, scope="focused")
    assert none.empty and "compares none" in caplog.text
    with pytest.raises(ValueError, match=r"scope must be one of \('auto', 'all', 'focused'\)"):
        study_differences(c, names, comparisons, scope="some", **kw)
