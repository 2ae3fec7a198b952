"""Table 1 and the headline table, from synthetic studies with known answers."""

import numpy as np
import pandas as pd
import pytest

from ddd.analysis.accuracy import class_accuracy_table
from ddd.analysis.headline import HEADLINE_COLUMNS, headline_rows
from ddd.analysis.kappa import error_consistency
from ddd.analysis.uncertainty import bootstrap_kappa, condition_kappa_ci
from ddd.experiment.paper import PAPER
from ddd.report.tables import headline, table_1
from ddd.results.study import read_kappas, read_summary
from synthetic_study import E, RUNS, final_correct, make_study, trajectory, write_run, write_study

# A synthetic study with a known answer: tests/synthetic_study.py.


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("tables_study"))


def test_class_accuracy_table_ties_by_index():
    acc = np.array([0.5, 0.9, 0.5, 0.1, np.nan, 0.9, 0.1, 0.5])
    t = class_accuracy_table(acc, [f"c{i}" for i in range(8)], k=3)
    assert t["highest_index"].tolist() == [1, 5, 0]          # 0.9, 0.9 (by index), then 0.5 (lowest index)
    assert t["lowest_index"].tolist() == [3, 6, 0]           # worst first, ties by index
    assert t["highest_class"].tolist() == ["c1", "c5", "c0"]
    assert t["rank"].tolist() == [1, 2, 3]
    # fewer than 2k classes with images: k shrinks so that the columns do not overlap
    small = class_accuracy_table(np.array([0.2, 0.8, 0.5]), k=10)
    assert len(small) == 1 and small["highest_class"][0] == "class 1" and small["lowest_class"][0] == "class 0"
    with pytest.raises(ValueError):
        class_accuracy_table(np.array([np.nan, np.nan]))


def test_table_1_files(study, tmp_path):
    out = {k: str(tmp_path / f"table1.{k}") for k in ("csv", "tex", "md")}
    t = table_1(study["entries"], **out, study="synthetic")
    acc = [final_correct(0)[k * 25:(k + 1) * 25].mean() for k in range(4)]   # base run, 4 classes of 25
    assert t["highest_accuracy"][0] == pytest.approx(max(acc))
    assert len(t) == 2
    back = pd.read_csv(out["csv"])
    assert back["highest_class"].tolist() == t["highest_class"].tolist()
    tex = open(out["tex"]).read()
    assert r"\begin{tabular}" in tex and "sigma=" in tex
    assert open(out["md"]).read().startswith("| Rank |")


def test_condition_kappa_ci_point_and_interval():
    rng = np.random.default_rng(3)
    c = rng.random((4, 300)) < 0.6
    c[3] = c[0]                                    # identical to the base: kappa 1, zero-width interval
    pairs = [(0, 1), (0, 2), (0, 3)]
    res = condition_kappa_ci(c, pairs, ["a", "a", "ident"], n_boot=200, seed=5)
    a = res.set_index("group").loc["a"]
    assert a["kappa"] == pytest.approx((error_consistency(c[0], c[1]) + error_consistency(c[0], c[2])) / 2)
    assert a["ci_low"] < a["kappa"] < a["ci_high"] and a["n_pairs"] == 2
    ident = res.set_index("group").loc["ident"]
    assert ident["kappa"] == ident["ci_low"] == ident["ci_high"] == 1.0
    again = condition_kappa_ci(c, pairs, ["a", "a", "ident"], n_boot=200, seed=5)
    pd.testing.assert_frame_equal(res, again)
    # one pair: the same resamples as ddd.analysis.uncertainty's bootstrap give the same interval
    one = condition_kappa_ci(c, [(0, 1)], ["x"], n_boot=200, seed=5).iloc[0]
    ref = bootstrap_kappa(c[0], c[1], n_boot=200, seed=5)
    assert one["ci_low"] == pytest.approx(ref["ci_low"]) and one["ci_high"] == pytest.approx(ref["ci_high"])
    # undefined everywhere: NaN, counted
    allright = np.ones((2, 50), dtype=bool)
    u = condition_kappa_ci(allright, [(0, 1)], ["u"], n_boot=20).iloc[0]
    assert np.isnan(u["kappa"]) and u["n_boot_undefined"] == 20


def test_headline_numbers(study, tmp_path):
    out = {"csv": str(tmp_path / "headline.csv"), "md": str(tmp_path / "headline.md")}
    df = headline(study["entries"], study["summary"], study["kappas"], **out, paper="imagenet-resnet18",
                  n_boot=100)
    assert tuple(df.columns) == HEADLINE_COLUMNS
    v = df.set_index("key")
    summary = read_summary(study["summary"])
    for rule in ("strict", "all_but_one"):
        for cat in ("trivial", "impossible", "in_between"):
            assert v.loc[f"split.{rule}.{cat}", "value"] == pytest.approx(summary["split"][rule][cat])
    # the trivial images (40 of 100) are trivial under both rules, at least
    assert v.loc["split.strict.trivial", "value"] >= 0.4
    assert v.loc["split.strict.trivial", "paper"] == pytest.approx(0.482)
    assert v.loc["accuracy.mean", "value"] == pytest.approx(summary["mean_accuracy"])
    # every run changes only at 0 -> 1 (all wrong -> final): the base's mean over E transitions
    assert v.loc["changes.label_change.base", "value"] == pytest.approx(final_correct(0).mean() / E)
    assert v.loc["changes.correctness_flip.base", "paper"] != v.loc["changes.correctness_flip.base", "paper"]  # NaN
    assert v.loc["changes.label_change.base", "paper"] == pytest.approx(0.1237)
    c = {i: final_correct(i) for i in range(len(RUNS))}
    assert v.loc["kappa.init", "value"] == pytest.approx((error_consistency(c[0], c[1])
                                                          + error_consistency(c[0], c[2])) / 2)
    assert v.loc["kappa.different_data", "value"] == pytest.approx(error_consistency(c[4], c[5]))
    assert v.loc["kappa.half_data", "n"] == 2
    assert v.loc["kappa.init", "ci_low"] < v.loc["kappa.init", "value"] < v.loc["kappa.init", "ci_high"]
    assert v.loc["kappa.base", "paper"] == pytest.approx(1.0)
    # the split's intervals: over images (bootstrap) on the split rows, over decision makers (jackknife)
    u = summary["split_uncertainty"]
    for rule in ("strict", "all_but_one"):
        for cat in ("trivial", "impossible", "in_between"):
            r, d = v.loc[f"split.{rule}.{cat}"], v.loc[f"split.{rule}.{cat}.over_decision_makers"]
            assert r["ci_low"] == pytest.approx(u[rule][cat]["images_low"])
            assert r["ci_low"] <= r["value"] <= r["ci_high"] and r["ci_high"] > r["ci_low"]
            assert r["ci_method"] == "95% percentile bootstrap over images, 1000 resamples, seed 1312"
            assert d["value"] == r["value"] and d["n"] == 6
            assert (d["ci_low"], d["ci_high"]) == pytest.approx((u[rule][cat]["decision_makers_low"],
                                                                 u[rule][cat]["decision_makers_high"]))
            assert d["ci_method"].startswith("95% leave-one-out jackknife over the 6 distinct decision makers")
            assert "leave-one-out range" in d["note"]
        changed = v.loc[f"split.{rule}.n_images_changed_leave_one_out"]
        assert changed["value"] == pytest.approx(u[rule]["leave_one_out"]["n_changed_mean"])
    # strict: leaving a run out changes the images on which it alone was right or alone wrong
    c = np.stack([final_correct(i) for i in range(len(RUNS))])
    counts = c.sum(axis=0)
    lone = [((counts == 5) & ~c[j]).sum() + ((counts == 1) & c[j]).sum() for j in range(len(RUNS))]
    assert v.loc["split.strict.n_images_changed_leave_one_out", "value"] == pytest.approx(np.mean(lone))
    # the swap rates with and without the transition 0 -> 1 (the only one that changes anything here)
    for key in ("label_change", "correctness_flip"):
        assert v.loc[f"changes.{key}.base.without_0_to_1", "value"] == 0.0
        assert v.loc[f"changes.{key}.all_runs.without_0_to_1", "value"] == 0.0
        assert v.loc[f"changes.{key}.all_runs", "value"] == pytest.approx(c.mean() / E)
        assert v.loc[f"changes.{key}.base.without_0_to_1", "n"] == E - 1
    assert "without the 0 -> 1 transition" in v.loc["changes.label_change.base.without_0_to_1", "quantity"]
    assert "with the 0 -> 1 transition" in v.loc["changes.label_change.base", "quantity"]
    back = pd.read_csv(out["csv"])
    assert back["key"].tolist() == df["key"].tolist()
    # the table written is ddd.analysis.headline's, from the study tables
    rows = headline_rows(study["entries"], read_summary(study["summary"]), read_kappas(study["kappas"]),
                         paper="imagenet-resnet18", n_boot=100)
    pd.testing.assert_frame_equal(df, rows)
    md = open(out["md"]).read()
    assert "| Paper |" in md and "48.2 %" in md and "[1]" in md
    changed = _fmt_count(v.loc["split.strict.n_images_changed_leave_one_out", "value"])
    assert f"| {changed} |" in md and "leave-one-out jackknife" in md


def _fmt_count(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.1f}"


def test_headline_split_without_label_issues(study, tmp_path):
    """A study with label issues: the split over all images and over the images without them, both rules."""
    from ddd.analysis.summary import summarize_study
    from ddd.experiment.makers import DecisionMaker
    from ddd.results.study import write_label_issues

    flagged = np.zeros(100, bool)
    flagged[[40, 41, 42, 60, 61, 62, 63, 64]] = True        # three impossible images and five random ones
    write_label_issues(pd.DataFrame({"image_id": [str(i) for i in range(100)], "label_issue": flagged,
                                     "source": "cleanlab"}), tmp_path / "label_issues.tsv")
    paths = {"summary_path": tmp_path / "summary.json", "split_path": tmp_path / "split.tsv",
             "kappa_path": tmp_path / "kappa_vs_base.tsv"}
    summarize_study([DecisionMaker(**e) for e in study["entries"]], study="synthetic", **paths,
                    label_issues_tsv=tmp_path / "label_issues.tsv", n_boot=200)
    df = headline(study["entries"], paths["summary_path"], paths["kappa_path"], csv=str(tmp_path / "h.csv"),
                  md=str(tmp_path / "h.md"), n_boot=20)
    v = df.set_index("key")
    counts = np.stack([final_correct(i) for i in range(len(RUNS))]).sum(axis=0)
    keep = ~flagged
    for rule, (t, i) in {"strict": (6, 0), "all_but_one": (5, 1)}.items():
        for cat, sel in (("trivial", counts >= t), ("impossible", counts <= i),
                         ("in_between", (counts > i) & (counts < t))):
            assert v.loc[f"split.{rule}.{cat}", "value"] == pytest.approx(sel.mean())
            r = v.loc[f"split.{rule}.{cat}.without_label_issues"]
            assert r["value"] == pytest.approx(sel[keep].mean()) and r["n"] == 92
            assert r["ci_low"] <= r["value"] <= r["ci_high"] and "bootstrap over images" in r["ci_method"]
            assert "8 label issues (cleanlab) left out of 100 images" in r["note"]
            assert "by construction images they get wrong" in r["note"]
    assert v.loc["split.strict.impossible.without_label_issues", "value"] == pytest.approx(17 / 92)


def test_headline_from_an_old_summary(study, tmp_path):
    """summary.json of version 1 (old key names, no split_uncertainty): values, no intervals, and a note."""
    import json
    old = json.loads(open(study["summary"]).read())
    for k in ("summary_version", "split_uncertainty"):
        old.pop(k)
    old["binomial_expectation"] = old.pop("binomial_expectation_pmf")
    old["expected_independent"] = old.pop("poisson_binomial_split")
    (tmp_path / "summary.json").write_text(json.dumps(old))
    df = headline(study["entries"], tmp_path / "summary.json", study["kappas"], csv=str(tmp_path / "h.csv"),
                  md=str(tmp_path / "h.md"), n_boot=20)
    v = df.set_index("key")
    assert v.loc["split.strict.trivial", "value"] == pytest.approx(old["split"]["strict"]["trivial"])
    assert np.isnan(v.loc["split.strict.trivial", "ci_low"])
    assert "no split_uncertainty (written by an earlier ddd)" in v.loc["split.strict.trivial", "note"]
    assert "no split_uncertainty" in v.loc["split.strict.n_images_changed_leave_one_out", "note"]


def test_headline_without_paper_and_unknown_preset(single_study, tmp_path):
    out = {"csv": str(tmp_path / "h.csv"), "md": str(tmp_path / "h.md")}
    df = headline(single_study["entries"], single_study["summary"], single_study["kappas"], **out, n_boot=20)
    assert df["paper"].isna().all()
    v = df.set_index("key")
    assert v.loc["split.strict.trivial", "value"] == pytest.approx(final_correct(0).mean())
    assert np.isnan(v.loc["split.all_but_one.trivial", "value"])  # the rule needs 4 decision makers
    assert "at least 4" in v.loc["split.all_but_one.trivial", "note"]
    assert "| Paper |" not in open(out["md"]).read()
    with pytest.raises(ValueError, match="unknown paper preset"):
        headline(single_study["entries"], single_study["summary"], single_study["kappas"], **out, paper="nope")
    assert set(PAPER) >= {"imagenet-resnet18", "imagenet-sota", "gaussian-resnet18"}


@pytest.fixture(scope="module")
def single_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables_single")
    write_run(root / "base.h5", trajectory(final_correct(0), E + 1))
    return write_study(root, [{"name": "base", "condition": "base", "path": str(root / "base.h5"), "epoch": E}],
                       "single")


def test_paper_preset():
    from ddd.experiment.paper import paper_preset
    assert paper_preset("imagenet", "resnet18") == "imagenet-resnet18"
    assert paper_preset("gaussian", "resnet18") == "gaussian-resnet18"
    assert paper_preset("imagefolder", "resnet18") is None
