"""ddd.analysis.summary and the study tables (ddd.results.study) on synthetic decisions files with known answers."""
import json

import numpy as np
import pandas as pd
import pytest

from ddd.analysis.summary import summarize, summarize_study
from ddd.experiment.makers import DecisionMaker
from ddd.results.decisions import read_final, write_decisions
from ddd.results.study import StudyTableError, read_kappas, read_split, read_summary, write_kappas, write_split, write_summary

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
    # all-but-one: t = 2, i = 1
    assert summary["split"]["all_but_one"]["trivial"] == pytest.approx(np.mean(counts >= 2))
    assert sum(summary["binomial_expectation"]) == pytest.approx(1)

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
