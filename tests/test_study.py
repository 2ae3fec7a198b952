"""ddd.analysis.summary and the study tables (ddd.results.study) on synthetic decisions files with known answers."""
import json

import numpy as np
import pandas as pd
import pytest

from ddd.analysis.summary import summarize, summarize_study
from ddd.experiment.makers import DecisionMaker
from ddd.results.decisions import read_final, write_decisions
from ddd.results.study import (StudyTableError, read_kappas, read_split, read_summary, write_kappas,
                               write_label_issues, write_split, write_summary)

N_CLASSES = 4


def _write(path, rows, targets, ids=None):
    rows = np.atleast_2d(np.asarray(rows))
    ids = np.array([str(i) for i in range(len(targets))]) if ids is None else ids
    write_decisions(str(path), rows, np.asarray(targets), ids, recipe={"test": True},
                    attrs={"class_names": [f"c{i}" for i in range(N_CLASSES)]})
    return str(path)


@pytest.fixture
def study(tmp_path):
    """12 images; the base is right on 0..7; identical hardware run; a flipped-epoch plus run."""
    targets = np.repeat(np.arange(N_CLASSES), 3)
    wrong = (targets + 1) % N_CLASSES

    def pred(right_mask):
        return np.where(right_mask, targets, wrong)

    base_right = np.arange(12) < 8
    other_right = np.isin(np.arange(12), [0, 1, 2, 3, 4, 5, 8, 9])  # 6 of base's 8, plus 2 others
    plus_right = np.arange(12) < 7
    base = _write(tmp_path / "base.h5", [pred(base_right), pred(plus_right)], targets)  # epochs 0, 1
    hw = _write(tmp_path / "hw.h5", [pred(base_right)], targets)
    o1 = _write(tmp_path / "o1.h5", [pred(other_right)], targets)
    entries = [DecisionMaker("base", "base", base, 0), DecisionMaker("plus_1_epoch", "plus_1_epoch", base, 1, 1),
               DecisionMaker("hardware/1", "hardware", hw, 0), DecisionMaker("data_order/1", "data_order", o1, 0)]
    return entries, base_right, other_right, plus_right


def _kappa(a, b):
    po = np.mean(a == b)
    pe = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return (po - pe) / (1 - pe)


def test_summary_known_answers(study, tmp_path):
    entries, base_right, other_right, plus_right = study
    summary, split, kappas = summarize(entries, study="s")
    assert summary["n_images"] == 12
    # hardware/1 equals the base: merged, so 3 distinct decision makers enter the split
    assert summary["n_decision_makers"] == 3
    assert summary["merged"] == {"base": ["hardware/1"]}
    assert set(summary["accuracy"]) == {"base", "plus_1_epoch", "data_order/1"}
    assert summary["identical_to_compared"] == ["hardware/1"]
    k = _kappa(base_right, other_right)
    assert summary["kappa_vs_base"]["hardware"] == pytest.approx(1.0)
    assert summary["kappa_vs_base"]["data_order"] == pytest.approx(k)
    assert summary["kappa_vs_base"]["plus_1_epoch"] == pytest.approx(_kappa(base_right, plus_right))
    counts = base_right.astype(int) + plus_right.astype(int) + other_right.astype(int)
    assert split["n_correct"].tolist() == counts.tolist()
    strict = np.where(counts == 3, "trivial", np.where(counts == 0, "impossible", "in_between"))
    assert split["strict"].tolist() == strict.tolist()
    fr = summary["split"]["strict"]
    assert fr["trivial"] == pytest.approx(np.mean(counts == 3))
    assert fr["impossible"] == pytest.approx(np.mean(counts == 0))
    # all-but-one needs 4 distinct decision makers (with 3 no image can be in-between): a note, no column
    assert "with 3 no image can be in-between" in summary["split"]["all_but_one"]["note"]
    assert "all_but_one" not in split.columns
    assert "at least 4" in summary["split_uncertainty"]["all_but_one"]["note"]
    assert summary["summary_version"] == 2
    assert sum(summary["binomial_expectation_pmf"]) == pytest.approx(1)
    assert set(summary["poisson_binomial_split"]) == {"strict"}
    assert "binomial_expectation" not in summary and "expected_independent" not in summary
    # the split's uncertainty runs over the 3 distinct decision makers (hardware/1 merged into base).
    # Strict with 3: T = images 0-5, I = 10, 11, B = 6-9. Left out, strict with 2 (thresholds 2 / 0):
    # base -> image 7 (right for base only) becomes impossible; plus_1_epoch -> nothing changes;
    # data_order/1 -> image 6 (wrong for it only) trivial, images 8, 9 (right for it only) impossible.
    u = summary["split_uncertainty"]["strict"]
    assert u["leave_one_out"]["n_changed"] == {"base": 1, "plus_1_epoch": 0, "data_order/1": 3}
    assert u["leave_one_out"]["n_changed_mean"] == pytest.approx(4 / 3)
    assert (u["leave_one_out"]["n_changed_max"], u["leave_one_out"]["most_changed"]) == (3, "data_order/1")
    loo_trivial = np.array([6, 6, 7]) / 12
    assert u["trivial"]["value"] == pytest.approx(fr["trivial"])
    se = np.sqrt(2 / 3 * ((loo_trivial - loo_trivial.mean()) ** 2).sum())
    assert u["trivial"]["decision_makers_se"] == pytest.approx(se)
    assert (u["trivial"]["leave_one_out_min"], u["trivial"]["leave_one_out_max"]) == pytest.approx((0.5, 7 / 12))
    assert u["trivial"]["images_low"] <= fr["trivial"] <= u["trivial"]["images_high"]

    paths = {k: str(tmp_path / f"out.{k}") for k in ("json", "tsv", "k.tsv")}
    write_summary(summary, paths["json"])
    write_split(split, paths["tsv"])
    write_kappas(kappas, paths["k.tsv"])
    assert json.load(open(paths["json"]))["n_decision_makers"] == 3
    assert len(pd.read_csv(paths["tsv"], sep="\t")) == 12
    assert read_summary(paths["json"]) == json.loads(json.dumps(summary))
    back = read_split(paths["tsv"])
    assert back["image_id"].tolist() == split["image_id"].tolist() and back["strict"].tolist() == split["strict"].tolist()
    k = read_kappas(paths["k.tsv"])
    assert k["kappa"].tolist() == pytest.approx(kappas["kappa"].tolist())
    # one call does the same, atomically, leaving no temporary files
    out = {k: tmp_path / "again" / f"x.{k}" for k in ("json", "tsv", "k.tsv")}
    summarize_study(study[0], study="s", summary_path=out["json"], split_path=out["tsv"], kappa_path=out["k.tsv"])
    for k in out:
        assert out[k].read_bytes() == open(paths[k], "rb").read()
    assert not list((tmp_path / "again").glob("*.tmp*"))


def test_different_data_pairs(tmp_path):
    targets = np.arange(8) % N_CLASSES
    right = lambda mask: np.where(mask, targets, (targets + 1) % N_CLASSES)  # noqa: E731
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    b = np.array([1, 1, 1, 0, 1, 0, 0, 0], bool)
    c = np.array([1, 1, 0, 0, 0, 0, 1, 1], bool)
    entries = [DecisionMaker("base", "base", _write(tmp_path / "b.h5", [right(a)], targets), 0),
               DecisionMaker("different_data/1", "different_data", _write(tmp_path / "d1.h5", [right(b)], targets), 0),
               DecisionMaker("different_data/2", "different_data", _write(tmp_path / "d2.h5", [right(c)], targets), 0)]
    s, _, k = summarize(entries, study="s")
    assert s["kappa_vs_base"]["different_data"] == pytest.approx(_kappa(b, c))
    assert s["kappa_vs_base"]["half_data"] == pytest.approx((_kappa(a, b) + _kappa(a, c)) / 2)
    assert set(k["condition"]) == {"base", "half_data", "different_data"}


def test_mismatched_images_are_refused(tmp_path):
    targets = np.arange(4)
    a = _write(tmp_path / "a.h5", [targets], targets)
    b = _write(tmp_path / "b.h5", [targets], targets, ids=np.array(["0", "1", "2", "9"]))
    with pytest.raises(ValueError, match="missing from x.*'3'"):
        read_final([DecisionMaker("base", "base", a, 0), DecisionMaker("x", "init", b, 0)])


def test_missing_epoch_is_refused(tmp_path):
    targets = np.arange(4)
    a = _write(tmp_path / "a.h5", [targets], targets)
    with pytest.raises(ValueError, match="epoch 5"):
        read_final([DecisionMaker("base", "base", a, 5)])


def test_undefined_kappa_is_nan_not_one(tmp_path):
    targets = np.arange(4)
    a = _write(tmp_path / "a.h5", [targets], targets)  # 100 % right
    b = _write(tmp_path / "b.h5", [targets], targets)
    s, _, _ = summarize([DecisionMaker("base", "base", a, 0), DecisionMaker("init/1", "init", b, 0)], study="s")
    assert s["kappa_vs_base"]["init"] is None  # NaN, written as null in JSON
    s, _, _ = summarize([DecisionMaker("base", "base", a, 0), DecisionMaker("init/1", "init", b, 0)], study="s",
                        undefined="mvh")
    assert s["kappa_vs_base"]["init"] == 1.0


def test_study_tables_refuse_bad_files(tmp_path):
    bad = tmp_path / "split.tsv"
    bad.write_text("image_id\ttarget\n1\t0\n")
    with pytest.raises(StudyTableError, match=r"split.tsv: missing columns \['n_correct'\]"):
        read_split(bad)
    bad.write_text("image_id\ttarget\tn_correct\tlabel_issue\n1\t0\t2\tmaybe\n")
    with pytest.raises(StudyTableError, match="label_issue must be boolean.*maybe"):
        read_split(bad)
    js = tmp_path / "summary.json"
    js.write_text('{"n_images": 3')
    with pytest.raises(StudyTableError, match="summary.json is not valid JSON"):
        read_summary(js)
    with pytest.raises(FileNotFoundError, match="nope.tsv does not exist"):
        read_kappas(tmp_path / "nope.tsv")
    assert read_split_ids_as_strings(tmp_path)


def read_split_ids_as_strings(tmp_path):
    """Ids such as "NA" or "007" stay the strings they are."""
    p = tmp_path / "ids.tsv"
    p.write_text("image_id\ttarget\tn_correct\nNA\t0\t1\n007\t1\t0\n")
    return read_split(p)["image_id"].tolist() == ["NA", "007"]


def test_summary_with_label_issues(study, tmp_path):
    """The split over all images and over the images without label issues, both rules (4 distinct
    decision makers here), and of the label-issue images alone."""
    entries = study[0]
    targets = np.repeat(np.arange(N_CLASSES), 3)
    fourth = np.isin(np.arange(12), [0, 1, 2, 3, 4, 6, 7, 8])
    entries = entries + [DecisionMaker("init/1", "init", _write(tmp_path / "i1.h5", [np.where(
        fourth, targets, (targets + 2) % N_CLASSES)], targets), 0)]
    issues = pd.DataFrame({"image_id": [str(i) for i in range(12)], "label_issue": np.isin(np.arange(12), [7, 10, 11]),
                           "source": "cleanlab"})
    write_label_issues(issues, tmp_path / "label_issues.tsv")
    out = {k: tmp_path / f"s.{k}" for k in ("json", "tsv", "k.tsv")}
    summary = summarize_study(entries, study="s", summary_path=out["json"], split_path=out["tsv"],
                              kappa_path=out["k.tsv"], label_issues_tsv=tmp_path / "label_issues.tsv")
    _, base_right, other_right, plus_right = study
    counts = base_right.astype(int) + plus_right.astype(int) + other_right.astype(int) + fourth.astype(int)
    split = read_split(out["tsv"])
    np.testing.assert_array_equal(split["n_correct"], counts)
    assert split["label_issue"].tolist() == issues["label_issue"].tolist()
    assert summary["n_decision_makers"] == 4 and summary["n_label_issues"] == 3
    assert summary["label_issue_source"] == "cleanlab"
    assert any("only an independent list" in n for n in summary["notes"])
    keep = ~issues["label_issue"].to_numpy()
    for rule, (t, i) in {"strict": (4, 0), "all_but_one": (3, 1)}.items():
        for name, mask in (("split", np.ones(12, bool)), ("split_without_label_issues", keep),
                           ("split_label_issue_images", ~keep)):
            s = summary[name][rule]
            c = counts[mask]
            assert (s["trivial_at"], s["impossible_at"]) == (t, i)
            assert s["trivial"] == pytest.approx(np.mean(c >= t)), (name, rule)
            assert s["impossible"] == pytest.approx(np.mean(c <= i)), (name, rule)
            assert s["in_between"] == pytest.approx(np.mean((c > i) & (c < t))), (name, rule)
        assert summary["split_without_label_issues"][rule]["n_images"] == 9
        assert summary["split_uncertainty_without_label_issues"][rule]["n_images"] == 9
    # hand check: counts are 4 4 4 4 4 3 3 2 2 1 0 0; issues 7 (2), 10, 11 (0)
    assert counts.tolist() == [4, 4, 4, 4, 4, 3, 3, 2, 2, 1, 0, 0]
    assert summary["split_without_label_issues"]["strict"]["impossible"] == 0.0
    assert summary["split_label_issue_images"]["strict"] == {"trivial": 0.0, "impossible": pytest.approx(2 / 3),
                                                             "in_between": pytest.approx(1 / 3), "trivial_at": 4,
                                                             "impossible_at": 0, "n_images": 3}
    assert read_summary(out["json"]) == json.loads(json.dumps(summary))


def test_label_issues_must_be_the_study_images(study, tmp_path):
    issues = pd.DataFrame({"image_id": ["0", "99"], "label_issue": [True, True], "source": "list"})
    with pytest.raises(ValueError, match="1 of 2 label-issue image ids are not in the split table"):
        summarize(study[0], study="s", label_issues=issues)
    with pytest.raises(ValueError, match="columns image_id, label_issue"):
        summarize(study[0], study="s", label_issues=pd.DataFrame({"image_id": ["0"]}))


def test_old_summary_json_is_read_under_the_new_names(tmp_path):
    """summary.json of version 1 (no summary_version) named the binomial pmf binomial_expectation and
    the Poisson-binomial split expected_independent: read under the new names, never misread."""
    old = {"study": "s", "n_decision_makers": 2, "binomial_expectation": [0.25, 0.5, 0.25],
           "expected_independent": {"strict": {"trivial": 0.25, "impossible": 0.25, "in_between": 0.5}}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(old))
    s = read_summary(path)
    assert s["binomial_expectation_pmf"] == [0.25, 0.5, 0.25]
    assert s["poisson_binomial_split"]["strict"]["in_between"] == 0.5
    assert "binomial_expectation" not in s and "expected_independent" not in s and s["summary_version"] == 1
    path.write_text(json.dumps({**old, "binomial_expectation_pmf": [1.0]}))
    with pytest.raises(StudyTableError, match="both 'binomial_expectation'"):
        read_summary(path)
    for version in (3, "2", True):
        path.write_text(json.dumps({"summary_version": version}))
        with pytest.raises(StudyTableError, match="summary_version .* is not one this ddd reads"):
            read_summary(path)


def test_a_table_cut_off_mid_row_or_empty_is_an_error_naming_it(tmp_path):
    """A partial last row would otherwise be read with its missing fields as empty values."""
    from ddd.results.files import ResultsFileError, read_tsv

    whole = tmp_path / "t.tsv"
    whole.write_text("image_id\tn_correct\ta\t3\nb\t4\n".replace("\ta\t", "\na\t"))
    assert len(read_tsv(whole, ("image_id", "n_correct"))) == 2
    cut = tmp_path / "cut.tsv"
    cut.write_bytes(whole.read_bytes()[:-3])
    with pytest.raises(ResultsFileError, match=r"cut\.tsv ends in the middle of a row"):
        read_tsv(cut, ("image_id", "n_correct"))
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(ResultsFileError, match=r"empty\.tsv is empty"):
        read_tsv(empty, ("image_id",))
