"""Label issues: averaging out-of-sample probabilities, cleanlab on a seeded case with known flipped
labels, reading published lists, the split table's column and Figure 2's overlay."""

import inspect
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import ddd.report.figures.histogram as hist
from ddd.analysis.label_issues import (CLEANLAB_MISSING, add_label_issue_column, find_label_issues,
                                       find_study_label_issues, label_issue_table, mean_probabilities,
                                       read_label_issue_list, study_probabilities)
from ddd.analysis.split import binomial_expectation, correct_histogram
from ddd.analysis.summary import summarize_study
from ddd.experiment.makers import DecisionMaker
from ddd.report.figures.histogram import LABEL_ISSUES, figure_02, plot_correct_histogram
from ddd.results.decisions import write_decisions
from ddd.results.study import read_split, read_summary, write_label_issues, write_split


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def synthetic(seed=0, n=600, c=4, m=3, flip=0.05):
    """M decision makers confident about the *true* class; a seeded 5 % of the given labels flipped.

    Returns probabilities (M, N, C), given labels (N,), the flipped mask (N,)."""
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(c), n // c)
    flipped = rng.random(n) < flip
    given = true.copy()
    given[flipped] = (true[flipped] + rng.integers(1, c, flipped.sum())) % c
    alpha = np.full((m, n, c), 0.5)
    alpha[:, np.arange(n), true] = 12.0
    probs = rng.gamma(alpha)
    return probs / probs.sum(-1, keepdims=True), given, flipped


# mean_probabilities -------------------------------------------------------------------------------

def test_mean_probabilities_shapes():
    p, _, _ = synthetic(n=40)
    mean = mean_probabilities(p)
    assert mean.shape == (40, 4) and mean.dtype == np.float64
    np.testing.assert_allclose(mean, p.mean(0))
    np.testing.assert_allclose(mean.sum(1), 1)
    np.testing.assert_allclose(mean_probabilities(list(p)), mean)
    np.testing.assert_allclose(mean_probabilities(p[0]), p[0])
    np.testing.assert_allclose(mean_probabilities(p.astype(np.float16)), mean, atol=2e-3)  # as stored


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 3, 4)), "sum to 1"),
    (np.full((2, 3, 4), 0.25) * [1, 1, 1, -1], r"\[0, 1\]"),
    (np.random.default_rng(0).normal(size=(3, 4)), r"\[0, 1\]|sum to 1"),
    (np.full((2, 3, 1), 1.0), "at least 2 classes"),
    (np.ones((4,)), "shape"),
    (np.ones((0, 3, 4)), "empty|shape"),
    ([], "no decision makers"),
    ([np.full((3, 2), 0.5), np.full((4, 2), 0.5)], "same shape"),
])
def test_mean_probabilities_validates(bad, match):
    with pytest.raises(ValueError, match=match):
        mean_probabilities(bad)


# cleanlab -----------------------------------------------------------------------------------------

def test_find_label_issues_finds_the_flipped_labels():
    pytest.importorskip("cleanlab", reason="cleanlab (AGPL, the optional extra ddd[labels]) is not installed")
    probs, given, flipped = synthetic()
    issues = find_label_issues(probs, given)
    assert issues.dtype == bool and issues.shape == given.shape
    hits = int((issues & flipped).sum())
    assert hits / flipped.sum() >= 0.75  # recall (19 of 23 here)
    assert hits / issues.sum() >= 0.95  # precision (all 19 flagged are flipped)
    # one decision maker alone, (N, C), works too
    assert find_label_issues(probs[0], given).shape == given.shape


def test_find_label_issues_validates_targets():
    probs, given, _ = synthetic(n=40)
    with pytest.raises(ValueError, match="targets"):
        find_label_issues(probs, given[:-1])
    with pytest.raises(ValueError, match=r"\[0, C = 4\)"):
        find_label_issues(probs, given + 4)
    with pytest.raises(ValueError, match="frac_noise"):
        find_label_issues(probs, given, frac_noise=0)


def test_without_cleanlab_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cleanlab", None)
    monkeypatch.setitem(sys.modules, "cleanlab.filter", None)
    probs, given, _ = synthetic(n=40)
    with pytest.raises(ImportError, match=r"ddd\[labels\]") as err:
        find_label_issues(probs, given)
    assert str(err.value) == CLEANLAB_MISSING


def test_core_modules_never_import_cleanlab():
    code = ("import sys, ddd.analysis.label_issues, ddd.report.figures.histogram, ddd.report.catalog, "
            "ddd.analysis.summary, ddd.results.study, ddd.analysis.rsa, ddd.analysis.representations; "
            "assert 'cleanlab' not in sys.modules, 'cleanlab imported'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _write(path, probs, given, ids=None):
    n = len(given)
    ids = [str(i) for i in range(n)] if ids is None else ids
    write_decisions(path, np.stack([probs.argmax(1)]) if probs is not None else given[None], given, ids,
                    recipe={"arch": "x"}, probabilities=probs)
    return path


def test_study_probabilities_and_issues(tmp_path):
    probs, given, flipped = synthetic(n=200)
    paths = [_write(tmp_path / f"{k}.h5", probs[k], given) for k in range(3)]
    stacked, targets, ids = study_probabilities(paths + [paths[0]])  # a path twice counts once
    assert stacked.shape == (3, 200, 4) and stacked.dtype == np.float32
    np.testing.assert_array_equal(targets, given)
    assert ids.tolist() == [str(i) for i in range(200)]
    if _has_cleanlab():
        df = find_study_label_issues(paths)
        assert list(df.columns) == ["image_id", "target", "label_issue", "given_label_probability"]
        assert df["label_issue"].to_numpy()[flipped].mean() >= 0.7


def _has_cleanlab() -> bool:
    try:
        import cleanlab  # noqa: F401
        return True
    except ImportError:
        return False


def test_study_probabilities_refuses_missing_probabilities_and_other_images(tmp_path):
    probs, given, _ = synthetic(n=20)
    good = _write(tmp_path / "a.h5", probs[0], given)
    bare = _write(tmp_path / "b.h5", None, given)
    with pytest.raises(ValueError, match="store no class probabilities"):
        study_probabilities([good, bare])
    other = _write(tmp_path / "c.h5", probs[1], given, ids=[f"x{i}" for i in range(20)])
    with pytest.raises(ValueError, match="missing"):
        study_probabilities([good, other])
    with pytest.raises(ValueError, match="no decisions files"):
        study_probabilities([])


# published lists ----------------------------------------------------------------------------------

IDS = np.array([f"n0{k}/img_{i}.JPEG" for k in range(3) for i in range(4)])


@pytest.mark.parametrize("text, expected", [
    ("n00/img_1.JPEG\nn01/img_2.JPEG\n", ["n00/img_1.JPEG", "n01/img_2.JPEG"]),
    ("# label errors\n\nn00/img_1.JPEG  # wrong class\n\n  n02/img_0.JPEG\n", ["n00/img_1.JPEG", "n02/img_0.JPEG"]),
    ("image_id\nn00/img_3.JPEG\n", ["n00/img_3.JPEG"]),
    ("n00/img_3.JPEG\nn00/img_3.JPEG\nn01/img_0.JPEG\n", ["n00/img_3.JPEG", "n01/img_0.JPEG"]),
    ("# csv\nindex,id,given,guess\n3,n01/img_1.JPEG,4,5\n9,n02/img_2.JPEG,1,0\n", ["n01/img_1.JPEG", "n02/img_2.JPEG"]),
    ("Image_ID\tgiven\nn02/img_3.JPEG\t7\n", ["n02/img_3.JPEG"]),
])
def test_read_label_issue_list_formats(tmp_path, text, expected):
    path = tmp_path / "issues.txt"
    path.write_text(text)
    ids = read_label_issue_list(path, image_ids=IDS)
    assert ids.tolist() == expected
    assert read_label_issue_list(str(path)).tolist() == expected  # without validation


def test_read_label_issue_list_column_and_basename(tmp_path):
    path = tmp_path / "issues.csv"
    path.write_text("file,other_id\nimg_1.JPEG,n00/img_2.JPEG\n")
    assert read_label_issue_list(path, image_ids=IDS, column="other_id").tolist() == ["n00/img_2.JPEG"]
    with pytest.raises(ValueError, match="no column 'nope'"):
        read_label_issue_list(path, column="nope")
    short = tmp_path / "short.txt"
    short.write_text("img_1.JPEG\n")
    with pytest.raises(ValueError, match="occur in several folders"):  # img_1 is in n00, n01 and n02
        read_label_issue_list(short, image_ids=IDS, match="basename")
    unique = np.array(["a/x1.png", "b/x2.png"])
    short.write_text("x2.png\n")
    assert read_label_issue_list(short, image_ids=unique, match="basename").tolist() == ["b/x2.png"]
    with pytest.raises(ValueError, match="needs the study's image_ids"):
        read_label_issue_list(short, match="basename")


def test_read_label_issue_list_refuses_unknown_ids(tmp_path):
    path = tmp_path / "issues.txt"
    path.write_text("\n".join(["n00/img_1.JPEG"] + [f"ghost_{i}" for i in range(7)]) + "\n")
    with pytest.raises(ValueError, match=r"7 of 8 image ids are not among") as err:
        read_label_issue_list(path, image_ids=IDS)
    assert "ghost_0" in str(err.value) and "ghost_6" not in str(err.value)  # names a few, not all


@pytest.mark.parametrize("text, match", [
    ("# nothing\n\n", "no image ids"),
    ("given,guess\n1,2\n", "id column"),
    ("id,given\n", "no image ids"),
])
def test_read_label_issue_list_bad_files(tmp_path, text, match):
    path = tmp_path / "issues.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_label_issue_list(path)


def test_read_label_issue_list_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_label_issue_list(tmp_path / "none.txt")


def test_add_label_issue_column():
    split = pd.DataFrame({"image_id": ["a", "b", "c"], "n_correct": [0, 3, 1]})
    out = add_label_issue_column(split, ["c", "a", "a"])
    assert out["label_issue"].tolist() == [True, False, True]
    assert "label_issue" not in split.columns  # a copy
    assert add_label_issue_column(split, [])["label_issue"].tolist() == [False] * 3
    with pytest.raises(ValueError, match="1 of 2 label-issue image ids are not in the split"):
        add_label_issue_column(split, ["a", "zz"])
    with pytest.raises(ValueError, match="image_id"):
        add_label_issue_column(pd.DataFrame({"x": [1]}), [])


def test_label_issue_table(tmp_path):
    probs, given, flipped = synthetic(n=200)
    files = [_write(tmp_path / f"{k}.h5", probs[k], given) for k in range(3)]
    path = tmp_path / "issues.txt"
    path.write_text("2\n7\n")
    t = label_issue_table(files, list_path=path)
    assert list(t.columns) == ["image_id", "label_issue", "source"] and len(t) == 200
    assert t.loc[t["label_issue"], "image_id"].tolist() == ["2", "7"] and set(t["source"]) == {"list"}
    with pytest.raises(ValueError, match="do not apply"):
        label_issue_table(files, list_path=path, frac_noise=0.5)
    with pytest.raises(ValueError, match="no decisions files"):
        label_issue_table([], list_path=path)
    path.write_text("2\n999\n")
    with pytest.raises(ValueError, match="1 of 2 image ids are not among"):
        label_issue_table(files, list_path=path)
    if _has_cleanlab():
        t = label_issue_table(files)
        assert set(t["source"]) == {"cleanlab"} and t["label_issue"].to_numpy()[flipped].mean() >= 0.7
        assert "given_label_probability" in t.columns


# Figure 2's overlay -------------------------------------------------------------------------------

TOY_COUNTS = np.array([5] * 30 + [0] * 10 + [2] * 10)  # per image: how many of the 5 decision makers are right


def write_study(tmp_path, *, label_issue=None, source="list"):
    """A toy study: 5 distinct decision makers, 50 images right for all of them, none or 2 (mean accuracy
    0.68), summarised by ddd.analysis.summary into split.tsv and summary.json; ``label_issue`` (bool per
    image) becomes the study's label_issues.tsv, which marks the split's ``label_issue`` column."""
    n_classes = 4
    targets = np.arange(TOY_COUNTS.size) % n_classes
    ids = [f"im{i}" for i in range(TOY_COUNTS.size)]
    makers = []
    for j in range(5):
        right = TOY_COUNTS > j  # all 5 right on the first 30 images, makers 0 and 1 on the last 10
        preds = np.where(right, targets, (targets + 1 + j % 3) % n_classes)  # distinct wrong answers: no merging
        path = tmp_path / "runs" / f"m{j}.h5"
        write_decisions(path, preds[None], targets, ids, recipe={"arch": "x"})
        makers.append(DecisionMaker(name=f"m{j}", condition=f"m{j}", path=str(path), epoch=0))
    issues_tsv = None
    if label_issue is not None:
        issues_tsv = tmp_path / "label_issues.tsv"
        write_label_issues(pd.DataFrame({"image_id": ids, "label_issue": label_issue, "source": source}), issues_tsv)
    summary = summarize_study(makers, study="toy", summary_path=tmp_path / "summary.json",
                              split_path=tmp_path / "split.tsv", kappa_path=tmp_path / "kappa_vs_base.tsv",
                              label_issues_tsv=issues_tsv)
    assert summary["n_decision_makers"] == 5 and summary["mean_accuracy"] == pytest.approx(0.68)
    np.testing.assert_array_equal(read_split(tmp_path / "split.tsv")["n_correct"], TOY_COUNTS)
    return summary


@pytest.fixture
def spy(monkeypatch):
    seen = {}
    signature = inspect.signature(plot_correct_histogram)

    def fake(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        seen.update(bound.arguments)
        return plot_correct_histogram(*args, **kwargs)

    monkeypatch.setattr(hist, "plot_correct_histogram", fake)
    return seen


def test_figure_02_overlays_the_split_column(tmp_path, spy):
    flags = np.zeros(50, bool)
    flags[[30, 31, 45]] = True  # two impossible images and one right for 2
    summary = write_study(tmp_path, label_issue=flags)
    assert summary["n_label_issues"] == 3
    figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "a.png", pdf=tmp_path / "a.pdf")
    # the issue images' counts are 0, 0 and 2: fractions of the 3 images right for k = 0..5
    np.testing.assert_allclose(spy["issues"], np.array([2, 0, 1, 0, 0, 0]) / 3)
    np.testing.assert_allclose(spy["observed"], correct_histogram(TOY_COUNTS, n=5))
    # the binomial expectation is the summary's (n = 5, mean accuracy 0.68), not recomputed
    np.testing.assert_array_equal(spy["expected"], read_summary(tmp_path / "summary.json")["binomial_expectation_pmf"])
    np.testing.assert_allclose(spy["expected"], binomial_expectation(5, 0.68))
    assert "3 label issues" in spy["title"]
    assert (tmp_path / "a.png").stat().st_size > 0


def test_split_without_label_issues_known_answer(tmp_path):
    """TOY_COUNTS: 30 images right for all 5, 10 for none, 10 for 2. Issues: images 30, 31 (none right)
    and 45 (2 right). Without them 47 images: 30 trivial, 8 impossible, 9 in-between under both rules
    (thresholds 5 / 0 and 4 / 1 cut the same, no image has 1, 3 or 4 right)."""
    flags = np.zeros(50, bool)
    flags[[30, 31, 45]] = True
    summary = write_study(tmp_path, label_issue=flags)
    for rule in ("strict", "all_but_one"):
        assert summary["split"][rule]["trivial"] == pytest.approx(30 / 50)
        without = summary["split_without_label_issues"][rule]
        assert (without["trivial"], without["impossible"], without["in_between"], without["n_images"]) == \
            pytest.approx((30 / 47, 8 / 47, 9 / 47, 47))
        issues = summary["split_label_issue_images"][rule]
        assert (issues["trivial"], issues["impossible"], issues["in_between"]) == pytest.approx((0, 2 / 3, 1 / 3))
    assert summary["label_issue_source"] == "list"
    assert not any("cleanlab" in n for n in summary["notes"])
    # found by cleanlab: said to be the networks' own errors
    summary = write_study(tmp_path, label_issue=flags, source="cleanlab")
    assert any("by construction, images those networks get wrong" in n for n in summary["notes"])


def test_figure_02_says_cleanlab_issues_are_the_networks_errors(tmp_path, monkeypatch):
    flags = np.zeros(50, bool)
    flags[[30, 31, 45]] = True
    write_study(tmp_path, label_issue=flags, source="cleanlab")
    notes = []
    monkeypatch.setattr(hist._style, "note", lambda fig, text: notes.append(text))
    figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "a.png", pdf=tmp_path / "a.pdf")
    assert notes and "by construction images they get wrong" in notes[0]


def test_figure_02_list_file_wins_over_the_column(tmp_path, spy):
    write_study(tmp_path, label_issue=np.zeros(50, bool))
    (tmp_path / "list.txt").write_text("# published\nim0\nim1\n")
    figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "a.png", pdf=tmp_path / "a.pdf",
              label_issues=tmp_path / "list.txt")
    np.testing.assert_allclose(spy["issues"], [0, 0, 0, 0, 0, 1])  # both listed images are right for all 5
    assert "2 label issues" in spy["title"]
    (tmp_path / "list.txt").write_text("im0\nghost\n")
    with pytest.raises(ValueError, match="1 of 2 image ids are not among"):
        figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "b.png",
                  pdf=tmp_path / "b.pdf", label_issues=tmp_path / "list.txt")
    with pytest.raises(ValueError, match="1 of 2 label-issue image ids are not in"):
        figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "b.png",
                  pdf=tmp_path / "b.pdf", label_issues=["im0", "ghost"])


def test_figure_02_without_issues_is_unchanged(tmp_path, spy):
    write_study(tmp_path)
    figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "a.png", pdf=tmp_path / "a.pdf")
    assert spy["issues"] is None and "label issues" not in spy["title"]
    write_study(tmp_path, label_issue=np.zeros(50, bool))  # a column without any issue: no red bars
    assert "label_issue" in read_split(tmp_path / "split.tsv").columns
    figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "b.png", pdf=tmp_path / "b.pdf")
    assert spy["issues"] is None


def test_figure_02_bad_column(tmp_path):
    write_study(tmp_path)
    split = read_split(tmp_path / "split.tsv")
    write_split(split.assign(label_issue=["maybe"] * 50), tmp_path / "split.tsv")
    with pytest.raises(ValueError, match="must be boolean"):
        figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "a.png", pdf=tmp_path / "a.pdf")


def test_overlay_bars_are_drawn(tmp_path):
    fig = plot_correct_histogram(correct_histogram(TOY_COUNTS, n=5), binomial_expectation(5, 0.68),
                                 issues=correct_histogram(np.array([2] * 10), n=5))
    labels = [c.get_label() for c in fig.axes[0].containers]
    assert LABEL_ISSUES in labels
