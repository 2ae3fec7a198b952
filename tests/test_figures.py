import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import Collection
from scipy import stats

from ddd.analysis.split import binomial_expectation, correct_histogram
from ddd.analysis.summary import summarize
from ddd.experiment.conditions import CONDITIONS, DISPLAY_NAMES
from ddd.experiment.makers import DecisionMaker
from ddd.report import style
from ddd.report.figures.histogram import (LABEL_EXPECTATION, LABEL_ISSUES, LABEL_OBSERVED, XLABEL, YLABEL,
                                          figure_02, plot_correct_histogram)
from ddd.report.figures.kappa import (GID_IDENTICAL, GID_MEAN, GID_RUNS, LABEL_IDENTICAL, figure_03,
                                      plot_kappa_vs_base)
from ddd.results.decisions import write_decisions
from ddd.results.study import write_kappas, write_split, write_summary

# 5 decision makers: 30 images right for all, 10 right for none, 10 right for exactly 2.
COUNTS = np.array([5] * 30 + [0] * 10 + [2] * 10)
HIST = np.array([0.2, 0, 0.2, 0, 0, 0.6])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def bars(ax):
    """Bar heights and centres of each labelled bar series of an axes."""
    out = {}
    for c in ax.containers:
        out[c.get_label()] = (np.array([p.get_height() for p in c.patches]),
                              np.array([p.get_x() + p.get_width() / 2 for p in c.patches]))
    return out


def histogram(counts, *, n, mean_accuracy, label_issue_counts=None, title=None):
    """Figure 2 from per-image counts: the histograms (:mod:`ddd.analysis.split`) drawn by
    :func:`plot_correct_histogram`."""
    issues = None if label_issue_counts is None else correct_histogram(label_issue_counts, n=n)
    return plot_correct_histogram(correct_histogram(counts, n=n), binomial_expectation(n, mean_accuracy),
                                  issues=issues, title=title)


def collection(ax, gid):
    """The points drawn with ``gid`` as an (n, 2) array, None if no artist has it: seaborn's strip
    plot makes one scatter collection per condition (their offsets, concatenated), its point plot a
    Line2D (its data)."""
    found = [a for a in (*ax.collections, *ax.lines) if a.get_gid() == gid]
    if not found:
        return None
    assert len({type(a) for a in found}) == 1
    return np.concatenate([np.asarray(a.get_offsets() if isinstance(a, Collection) else a.get_xydata(),
                                      float).reshape(-1, 2) for a in found])


def test_backend_is_agg():
    assert matplotlib.get_backend().lower() == "agg"


def test_correct_histogram_known_mixture():
    h = correct_histogram(COUNTS, n=5)
    assert h.shape == (6,) and h.dtype == np.float64
    np.testing.assert_allclose(h, HIST)
    np.testing.assert_allclose(correct_histogram(COUNTS.astype(float), n=5), HIST)
    np.testing.assert_allclose(correct_histogram([0, 1, 1, 1], n=1), [0.25, 0.75])


@pytest.mark.parametrize("counts, n, match", [
    ([0, 6], 5, r"\[0, n = 5\]"),
    ([-1, 2], 5, r"\[0, n = 5\]"),
    ([1.5, 2], 5, "integers"),
    (["a"], 5, "integers"),
    ([], 5, "empty"),
    ([[1, 2]], 5, "1-D"),
    ([1, 2], 0, "positive integer"),
    ([1, 2], 2.5, "positive integer"),
])
def test_correct_histogram_validates(counts, n, match):
    with pytest.raises(ValueError, match=match):
        correct_histogram(counts, n=n)


def test_plot_correct_histogram_bars():
    fig = histogram(COUNTS, n=5, mean_accuracy=0.68, title="t")
    (ax,) = fig.axes
    b = bars(ax)
    assert set(b) == {LABEL_OBSERVED, LABEL_EXPECTATION}
    heights, centres = b[LABEL_OBSERVED]
    np.testing.assert_allclose(heights, HIST)
    np.testing.assert_allclose(centres, np.arange(6))
    heights, centres = b[LABEL_EXPECTATION]
    np.testing.assert_allclose(heights, stats.binom.pmf(np.arange(6), 5, 0.68))
    np.testing.assert_allclose(centres, np.arange(6))
    exp_patch = ax.containers[[c.get_label() for c in ax.containers].index(LABEL_EXPECTATION)].patches[0]
    assert exp_patch.get_alpha() == pytest.approx(0.5)
    np.testing.assert_array_equal(ax.get_xticks(), np.arange(6))
    assert ax.get_xlabel() == XLABEL and ax.get_ylabel() == YLABEL
    assert ax.get_title() == "t"
    # headroom above the highest bar, not a fixed limit
    assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] > 0.6
    # the legend sits outside the axes, so it cannot cover a bar
    (legend,) = fig.legends
    fig.canvas.draw()
    assert not legend.get_window_extent().overlaps(ax.get_window_extent())
    assert [t.get_text() for t in legend.get_texts()] == [LABEL_OBSERVED, LABEL_EXPECTATION]


def test_plot_correct_histogram_high_fraction_fits():
    fig = histogram([3] * 95 + [0] * 5, n=3, mean_accuracy=0.95)
    (ax,) = fig.axes
    assert ax.get_ylim()[1] > 0.95  # above the paper's fixed 0.7


def test_plot_correct_histogram_label_issues():
    issues = np.array([0, 0, 0, 1])
    fig = histogram(COUNTS, n=5, mean_accuracy=0.68, label_issue_counts=issues)
    b = bars(fig.axes[0])
    np.testing.assert_allclose(b[LABEL_ISSUES][0], [0.75, 0.25, 0, 0, 0, 0])
    np.testing.assert_allclose(b[LABEL_ISSUES][1], np.arange(6))
    assert fig.axes[0].containers[1].patches[0].get_facecolor()[:3] == pytest.approx(
        matplotlib.colors.to_rgb(style.COLORS["label_issues"]))


def test_plot_correct_histogram_single_decision_maker_and_no_in_between(tmp_path):
    fig = histogram([0, 1, 1, 1], n=1, mean_accuracy=0.75)
    b = bars(fig.axes[0])
    np.testing.assert_allclose(b[LABEL_OBSERVED][0], [0.25, 0.75])
    np.testing.assert_allclose(b[LABEL_EXPECTATION][0], [0.25, 0.75])
    style.save(fig, tmp_path / "n1.png", tmp_path / "n1.pdf")
    # only trivial and impossible images
    fig = histogram([0] * 3 + [4] * 7, n=4, mean_accuracy=0.7)
    np.testing.assert_allclose(bars(fig.axes[0])[LABEL_OBSERVED][0], [0.3, 0, 0, 0, 0.7])
    style.save(fig, tmp_path / "x.png", tmp_path / "x.pdf")
    assert (tmp_path / "x.png").stat().st_size > 0


def test_plot_does_not_change_global_rcparams():
    before = dict(matplotlib.rcParams)
    histogram(COUNTS, n=5, mean_accuracy=0.6)
    assert matplotlib.rcParams["font.size"] == before["font.size"]
    assert matplotlib.rcParams["axes.spines.top"] == before["axes.spines.top"]


def write_study(tmp_path, counts, *, n, acc, study="toy"):
    """A study of n decision makers whose per-image numbers right are ``counts``: decisions files,
    then summary.json and split.tsv as the pipeline makes them (summarize, ddd.results.study)."""
    counts = np.asarray(counts)
    ids = [f"im{i}" for i in range(len(counts))]
    # image j is right for the decision makers j, j + 1, ..., j + counts[j] - 1 (mod n): distinct rows
    correct = np.zeros((n, len(counts)), dtype=bool)
    for j, c in enumerate(counts):
        correct[(j + np.arange(c)) % n, j] = True
    targets = np.zeros(len(counts), dtype=np.int64)
    makers = []
    for i in range(n):
        path = tmp_path / "runs" / f"m{i}.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_decisions(path, np.where(correct[i], 0, 1)[None, :], targets, ids, recipe={"synthetic": True})
        makers.append(DecisionMaker(f"m{i}", "imported", str(path), 0))
    summary, split, _ = summarize(makers, study=study)
    assert summary["n_decision_makers"] == n and summary["mean_accuracy"] == pytest.approx(acc)
    np.testing.assert_array_equal(split["n_correct"], counts)
    write_split(split, tmp_path / "split.tsv")
    write_summary(summary, tmp_path / "summary.json")
    return ids


def test_figure_02_writes_files(tmp_path):
    write_study(tmp_path, COUNTS, n=5, acc=0.68)
    png, pdf = tmp_path / "out" / "fig02.png", tmp_path / "out" / "fig02.pdf"
    figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=png, pdf=pdf)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert plt.get_fignums() == []  # saved figures are closed


def test_figure_02_label_issues(tmp_path, monkeypatch):
    ids = write_study(tmp_path, COUNTS, n=5, acc=0.68)
    (tmp_path / "issues.txt").write_text("image_id\n" + "\n".join(ids[30:34]) + "\n")
    seen = {}
    import ddd.report.figures.histogram as hist

    def spy(*args, **kwargs):
        seen.update(kwargs, args=args)
        return plot_correct_histogram(*args, **kwargs)

    monkeypatch.setattr(hist, "plot_correct_histogram", spy)
    figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "a.png",
              pdf=tmp_path / "a.pdf", label_issues=tmp_path / "issues.txt")
    observed, expected = seen["args"]
    np.testing.assert_allclose(observed, HIST)
    np.testing.assert_allclose(expected, stats.binom.pmf(np.arange(6), 5, 0.68))
    # the four label-issue images are right for none of the 5 decision makers
    np.testing.assert_array_equal(seen["issues"], correct_histogram([0, 0, 0, 0], n=5))
    assert "toy" in seen["title"] and "n = 5" in seen["title"]
    with pytest.raises(ValueError, match="none of the"):
        figure_02(tmp_path / "split.tsv", tmp_path / "summary.json", png=tmp_path / "b.png",
                  pdf=tmp_path / "b.pdf", label_issues=["nope"])


def test_figure_02_reads_old_and_refuses_broken_summaries(tmp_path, monkeypatch):
    """Figure 2 draws summary.json's binomial_expectation_pmf; a version-1 file (key binomial_expectation)
    is read under the new name, a pmf of the wrong length or a missing one is refused, naming the file."""
    import json
    import ddd.report.figures.histogram as hist

    write_study(tmp_path, COUNTS, n=5, acc=0.68)
    seen = {}
    monkeypatch.setattr(hist, "plot_correct_histogram", lambda *a, **k: (seen.update(args=a),
                                                                          plot_correct_histogram(*a, **k))[1])
    summary = json.loads((tmp_path / "summary.json").read_text())
    pmf = summary.pop("binomial_expectation_pmf")
    summary.pop("summary_version")
    (tmp_path / "old.json").write_text(json.dumps({**summary, "binomial_expectation": pmf}))
    figure_02(tmp_path / "split.tsv", tmp_path / "old.json", png=tmp_path / "a.png", pdf=tmp_path / "a.pdf")
    np.testing.assert_allclose(seen["args"][1], binomial_expectation(5, 0.68))
    (tmp_path / "bad.json").write_text(json.dumps({**summary, "binomial_expectation_pmf": pmf[:3]}))
    with pytest.raises(ValueError, match="bad.json: binomial_expectation_pmf has 3 entries"):
        figure_02(tmp_path / "split.tsv", tmp_path / "bad.json", png=tmp_path / "b.png", pdf=tmp_path / "b.pdf")
    (tmp_path / "none.json").write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=r"none.json: summary.json lacks \['binomial_expectation_pmf'\]"):
        figure_02(tmp_path / "split.tsv", tmp_path / "none.json", png=tmp_path / "b.png", pdf=tmp_path / "b.pdf")


# kappa ------------------------------------------------------------------------------------------

def kappa_frame():
    rows = [
        ("base", "base", "base", 1.0, True),  # self-comparison: not drawn as "identical"
        ("init", "init/1", "base", 0.6, False),
        ("init", "init/2", "base", 0.8, False),
        ("init", "init/3", "base", np.nan, False),
        ("hardware", "hardware/1", "base", 1.0, True),
        ("hardware", "hardware/2", "base", 0.7, False),
        ("architecture", "architecture", "base", -0.2, False),
        ("batch_size", "batch_size", "base", np.nan, False),  # only NaN: undefined
        ("plus_1_epoch", "plus_1_epoch", "base", 0.9, False),
    ]
    # deliberately not in figure order
    return pd.DataFrame(rows, columns=["condition", "name", "other", "kappa", "identical"]).sample(
        frac=1, random_state=0).reset_index(drop=True)


ORDER = ["base", "plus_1_epoch", "batch_size", "init", "hardware", "architecture"]  # CONDITIONS order


def test_plot_kappa_order_and_means():
    assert [c for c in CONDITIONS if c in ORDER] == ORDER
    fig = plot_kappa_vs_base(kappa_frame(), title="t")
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [DISPLAY_NAMES[c] for c in ORDER]
    np.testing.assert_array_equal(ax.get_xticks(), np.arange(len(ORDER)))
    assert all(t.get_rotation() == 45 and t.get_horizontalalignment() == "right"
               for t in ax.get_xticklabels())
    x = {c: i for i, c in enumerate(ORDER)}
    expected = {"base": 1.0, "plus_1_epoch": 0.9, "init": 0.7, "hardware": 0.85, "architecture": -0.2}
    means = collection(ax, GID_MEAN)
    assert len(means) == len(expected)
    got = {ORDER[int(round(px))]: py for px, py in means}
    assert got == pytest.approx(expected)
    # individual runs: NaN skipped, identical rows hollow and separate
    runs = sorted(map(tuple, collection(ax, GID_RUNS)))
    assert runs == sorted([(x["base"], 1.0), (x["init"], 0.6), (x["init"], 0.8), (x["hardware"], 0.7),
                           (x["architecture"], -0.2), (x["plus_1_epoch"], 0.9)])
    ident = collection(ax, GID_IDENTICAL)
    np.testing.assert_allclose(ident, [[x["hardware"], 1.0]])
    for hollow in (c for c in ax.collections if c.get_gid() == GID_IDENTICAL):
        assert hollow.get_facecolor().size == 0 or hollow.get_facecolor()[0][3] == 0
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert LABEL_IDENTICAL in legend_texts
    # NaN-only condition annotated at its position
    undefined = [t for t in ax.texts if t.get_text() == "undefined"]
    assert len(undefined) == 1 and undefined[0].get_position()[0] == x["batch_size"]
    # negative kappa visible, top at 1.05, dashed zero line
    lo, hi = ax.get_ylim()
    assert lo < -0.2 and hi == pytest.approx(1.05)
    assert any(np.allclose(line.get_ydata(), 0) and line.get_linestyle() == "--" for line in ax.lines)
    assert ax.get_ylabel() == "Error consistency (κ) with the base"


def test_plot_kappa_without_identical_has_no_identical_legend():
    df = kappa_frame()
    df["identical"] = df["name"] == df["other"]
    fig = plot_kappa_vs_base(df)
    ax = fig.axes[0]
    assert collection(ax, GID_IDENTICAL) is None
    assert LABEL_IDENTICAL not in [t.get_text() for t in fig.legends[0].get_texts()]
    assert ax.get_ylim()[1] == pytest.approx(1.05)


def test_plot_kappa_custom_order_and_nonnegative_limits():
    df = pd.DataFrame({"condition": ["init", "base", "init", "mystery_cond"], "name": ["a", "base", "b", "m"],
                       "other": "base", "kappa": [0.5, 1.0, 0.7, 0.2], "identical": False})
    fig = plot_kappa_vs_base(df, order=("init", "base"))
    ax = fig.axes[0]
    # unknown conditions are appended, with a readable fallback name
    assert [t.get_text() for t in ax.get_xticklabels()] == [DISPLAY_NAMES["init"], "Base", "mystery cond"]
    np.testing.assert_allclose(collection(ax, GID_MEAN), [[0, 0.6], [1, 1.0], [2, 0.2]])
    assert ax.get_ylim() == pytest.approx((0, 1.05))
    with pytest.raises(ValueError, match="lacks columns"):
        plot_kappa_vs_base(df.drop(columns="kappa"))


def test_figure_03_reads_nan_and_writes_files(tmp_path):
    write_kappas(kappa_frame(), tmp_path / "kappa_vs_base.tsv")
    assert "\tNaN\t" in (tmp_path / "kappa_vs_base.tsv").read_text()
    write_summary({"study": "toy", "n_decision_makers": 5, "mean_accuracy": 0.7}, tmp_path / "summary.json")
    png, pdf = tmp_path / "figs" / "fig03.png", tmp_path / "figs" / "fig03.pdf"
    figure_03(tmp_path / "kappa_vs_base.tsv", tmp_path / "summary.json", png=png, pdf=pdf)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert plt.get_fignums() == []


# style ------------------------------------------------------------------------------------------

def test_display_name_and_palette():
    assert style.display_name("base") == DISPLAY_NAMES["base"]
    assert style.display_name("some_new_thing") == "some new thing"
    assert style.CONDITIONS == CONDITIONS
    assert style.ALPHA["expectation"] == 0.5
    for c in style.COLORS.values():
        matplotlib.colors.to_rgba(c)


def test_apply_and_style_context():
    old = matplotlib.rcParams["axes.spines.right"]
    with style.style():
        assert matplotlib.rcParams["axes.spines.right"] is False
    assert matplotlib.rcParams["axes.spines.right"] == old
    with matplotlib.rc_context():
        style.apply()
        assert matplotlib.rcParams["savefig.dpi"] == style.PNG_DPI
