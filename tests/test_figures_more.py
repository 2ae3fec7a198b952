"""Figures 4, 5, 6, 8, 9, 12, 13 and 15: the numbers feeding each figure, from synthetic studies
whose answer is known, and that every figure renders (or refuses with FigureNotApplicable)."""

import json
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ddd.analysis.accuracy import class_accuracy, condition_accuracy, sorted_class_accuracy
from ddd.analysis.changes import condition_changes, decision_changes, per_run_changes
from ddd.analysis.correctness import (bin_rows, mean_correctness, run_correctness, run_mean, shared_epochs,
                                      sort_by_final)
from ddd.analysis.examples import choose_examples
from ddd.analysis.gaussian import gaussian_kl_data, kl_neighbours
from ddd.analysis.kappa import error_consistency
from ddd.analysis.matrices import MATRIX_ORDER, condition_groups, condition_kappa_matrix
from ddd.analysis.summary import summarize
from ddd.data.gaussian import GaussianSpec, gaussian_image
from ddd.experiment.conditions import CONDITIONS
from ddd.experiment.makers import DecisionMaker, one_per_file
from ddd.report import style
from ddd.report.catalog import FigureNotApplicable, examples_available
from ddd.report.figures.accuracy import GID_MEAN, GID_RUNS, figure_09, figure_15, plot_condition_accuracy
from ddd.report.figures.changes import figure_12, plot_decision_changes
from ddd.report.figures.correctness import GID_IMAGE, figure_04, figure_05, plot_correctness_image
from ddd.report.figures.examples import figure_13, load_image
from ddd.report.figures.gaussian import figure_08
from ddd.report.figures.matrix import GID_MATRIX, TITLE_ALL, TITLE_IN_BETWEEN, figure_06
from ddd.results import study as study_tables
from synthetic_study import (C, E, GAUSS, IMPOSSIBLE, K, N, RUNS, TRIVIAL, final_correct, make_study, trajectory,
                             write_run)

# ---------------------------------------------------------------------------------------------
# A synthetic study with a known answer (tests/synthetic_study.py).


def write_summary(summary, split, kappas, *, summary_path, split_path, kappa_path):
    """The study tables, written by their owner (:mod:`ddd.results.study`)."""
    study_tables.write_summary(summary, summary_path)
    study_tables.write_split(split, split_path)
    study_tables.write_kappas(kappas, kappa_path)


def _run_mean(entries):
    """Figure 5's numbers: the runs' shared epochs, then the mean over the distinct runs there."""
    epochs = shared_epochs(entries)
    mean, names, merged = run_mean(entries, epochs)
    return mean, epochs, names, merged


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One decision maker only (the base run, no plus-epoch entries)."""
    root = tmp_path_factory.mktemp("single")
    write_run(root / "runs" / "base" / "1.h5", trajectory(final_correct(0), E + 1))
    entries = [{"name": "base", "condition": "base", "path": str(root / "runs/base/1.h5"), "epoch": E}]
    s, sp, k = summarize([DecisionMaker(**e) for e in entries], study="single")
    out = {"entries": entries, "summary": str(root / "summary.json"), "split": str(root / "split.tsv"),
           "kappas": str(root / "kappa_vs_base.tsv"), "root": root}
    write_summary(s, sp, k, summary_path=out["summary"], split_path=out["split"], kappa_path=out["kappas"])
    return out


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    monkeypatch.setattr(style, "PNG_DPI", 50)   # tests check numbers, not pixels: keep rendering cheap
    yield
    plt.close("all")


def outputs(tmp_path, name):
    return {"png": str(tmp_path / f"{name}.png"), "pdf": str(tmp_path / f"{name}.pdf")}


def assert_written(paths):
    for p in paths.values():
        with open(p, "rb") as fh:
            assert len(fh.read(8)) == 8


# ---------------------------------------------------------------------------------------------
# Figures 4 and 5


def test_bin_rows_rule():
    x = np.arange(10, dtype=float).reshape(5, 2)
    binned, b = bin_rows(x, max_rows=2)                 # b = ceil(5 / 2) = 3: rows 0-2 and 3-4
    assert b == 3
    np.testing.assert_allclose(binned, [[2, 3], [7, 8]])
    same, b1 = bin_rows(x, max_rows=5)
    assert b1 == 1 and np.array_equal(same, x)
    with pytest.raises(ValueError):
        bin_rows(np.zeros((0, 3)))


def test_run_correctness_sorted_by_mean_stably():
    targets = np.zeros(4, dtype=int)
    preds = np.array([[1, 0, 1, 0],
                      [1, 0, 0, 0],
                      [1, 1, 0, 0]])  # mean correctness: image 0: 0, 1: 2/3, 2: 1/3, 3: 1
    matrix, order = run_correctness(preds, targets)
    assert order.tolist() == [3, 1, 2, 0]
    assert matrix.shape == (4, 3) and matrix[0].all() and not matrix[-1].any()
    # ties keep evaluation order
    _, order = run_correctness(np.zeros((2, 3), dtype=int), np.zeros(3, dtype=int))
    assert order.tolist() == [0, 1, 2]


def test_mean_correctness_sorted_by_final_then_mean():
    c = np.zeros((2, 3, 3), dtype=bool)     # 2 runs, 3 epochs, 3 images
    c[:, 2, 0] = True                       # image 0: final 1, mean 1/3
    c[:, :, 1] = True                       # image 1: final 1, mean 1
    c[0, 2, 2] = True                       # image 2: final 1/2
    matrix, order = mean_correctness(c)
    assert order.tolist() == [1, 0, 2]
    np.testing.assert_allclose(matrix[:, -1], [1, 1, 0.5])
    assert sort_by_final(np.array([[0.0, 1.0], [1.0, 1.0]])).tolist() == [1, 0]


def test_correctness_image_at_imagenet_scale_is_one_binned_raster(tmp_path):
    rng = np.random.default_rng(0)
    correct = rng.random((50_000, 91)) < 0.6
    t = time.perf_counter()
    fig = plot_correctness_image(correct, np.arange(91), cmap="Blues_r", ylabel="images", colorbar_label="c")
    style.save(fig, tmp_path / "big.png", tmp_path / "big.pdf")
    assert time.perf_counter() - t < 10
    (ax, _cb) = fig.axes
    # a seaborn heat map: one QuadMesh holding the binned rows, one cell per value, rasterised
    (mesh,) = [a for a in ax.collections if a.get_gid() == GID_IMAGE]
    assert mesh.get_array().shape == (2000, 91) and fig.ddd_bin_size == 25
    np.testing.assert_allclose(mesh.get_array(), bin_rows(correct.astype(float), 2000)[0])
    assert "mean of 25 consecutive sorted images" in ax.get_ylabel()
    assert mesh.get_rasterized()
    # ticks in data units: epochs at the column centres, image numbers 0..50,000 over the 2,000 rows
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(e) for e in range(0, 91, 10)]
    np.testing.assert_allclose(ax.get_xticks(), np.arange(0, 91, 10) + 0.5)
    labels = [int(t.get_text()) for t in ax.get_yticklabels()]
    assert labels[0] == 0 and labels[-1] == 50_000
    np.testing.assert_allclose(ax.get_yticks(), np.array(labels) * 2000 / 50_000)


def test_figure_04_and_05_render(study, tmp_path):
    for fn, name in ((figure_04, "fig04"), (figure_05, "fig05")):
        paths = outputs(tmp_path, name)
        fn(study["entries"], **paths, study="synthetic")
        assert_written(paths)


def test_figure_05_averages_distinct_runs_at_shared_epochs(study):
    mean, epochs, names, merged = _run_mean(study["entries"])
    assert epochs.tolist() == list(range(E + 1))          # the base's extra epochs are not used
    # plus-epoch makers are the base run, not rows of their own
    assert names == ["base", "init/1", "init/2", "architecture", "different_data/1", "different_data/2"]
    assert merged == {}
    expected = np.mean([final_correct(i) for i in range(len(RUNS))], axis=0)
    np.testing.assert_allclose(mean[-1], expected)
    np.testing.assert_allclose(mean[0], 0)
    np.testing.assert_allclose(mean[-1, TRIVIAL], 1)
    np.testing.assert_allclose(mean[-1, IMPOSSIBLE], 0)


def test_figure_05_merges_identical_runs(tmp_path):
    root = tmp_path / "ident"
    rows = trajectory(final_correct(0), E + 1)
    for cond in ("base", "hardware"):
        write_run(root / f"{cond}.h5", rows)
    entries = [{"name": c, "condition": c, "path": str(root / f"{c}.h5"), "epoch": E} for c in ("base", "hardware")]
    _, _, names, merged = _run_mean(entries)
    assert names == ["base"] and merged == {"base": ["hardware"]}


def test_figure_04_needs_a_base(study, tmp_path):
    entries = [e for e in study["entries"] if e["condition"] != "base"]
    with pytest.raises(FigureNotApplicable, match="base"):
        figure_04(entries, **outputs(tmp_path, "x"))


# ---------------------------------------------------------------------------------------------
# Figure 6


def test_condition_groups_map_different_data_to_half_data():
    groups, ordered = condition_groups(["combined", "base", "different_data", "different_data", "sota"])
    assert groups == ["combined", "base", "half_data", "half_data", "sota"]
    assert ordered == ["base", "half_data", "combined", "sota"]
    assert MATRIX_ORDER == tuple(c for c in CONDITIONS if c != "different_data")


def test_condition_kappa_matrix_known_values():
    rng = np.random.default_rng(1)
    c = rng.random((4, 200)) < 0.6
    groups = ["base", "init", "init", "half_data"]
    m = condition_kappa_matrix(c, groups, order=["base", "init", "half_data", "absent"])
    k = lambda i, j: error_consistency(c[i], c[j])  # noqa: E731
    assert m.loc["base", "base"] == pytest.approx(1.0)                      # single run: 1
    assert m.loc["init", "init"] == pytest.approx(k(1, 2))                  # distinct pairs only
    assert m.loc["base", "init"] == pytest.approx((k(0, 1) + k(0, 2)) / 2)
    assert m.loc["init", "half_data"] == pytest.approx((k(1, 3) + k(2, 3)) / 2)
    assert np.allclose(m.to_numpy()[:3, :3], m.to_numpy()[:3, :3].T)
    assert m.loc["absent"].isna().all()
    empty = condition_kappa_matrix(c, groups, mask=np.zeros(200, dtype=bool))
    assert empty.isna().all().all()
    # a decision maker 100 % right on the subset: its kappa is undefined with itself, 0 with others
    c2 = c.copy()
    c2[0, :50] = True
    sub = np.zeros(200, dtype=bool)
    sub[:50] = True
    m2 = condition_kappa_matrix(c2, groups, mask=sub)
    assert np.isnan(m2.loc["base", "base"])


def test_figure_06_titles_and_notes(monkeypatch, study, tmp_path):
    captured = {}
    from ddd.report.figures import matrix as mod
    real = mod.plot_kappa_matrices

    def spy(full, inner, **kw):
        fig = real(full, inner, **kw)
        captured.update(full=full, inner=inner, fig=fig, **kw)
        return fig
    monkeypatch.setattr(mod, "plot_kappa_matrices", spy)
    paths = outputs(tmp_path, "fig06")
    figure_06(study["entries"], study["split"], study["summary"], **paths)
    assert_written(paths)
    full = captured["full"]
    assert list(full.index) == ["base", "plus_1_epoch", "plus_10_epochs", "init", "architecture", "half_data"]
    # plus-epoch makers are the base run with identical predictions here: kappa 1 with the base
    assert full.loc["base", "plus_10_epochs"] == pytest.approx(1.0)
    # half data's diagonal is the kappa between the two different-data networks
    c = {i: final_correct(i) for i in range(len(RUNS))}
    assert full.loc["half_data", "half_data"] == pytest.approx(error_consistency(c[4], c[5]))
    titles = [a.get_title() for a in captured["fig"].axes[:2]]
    assert titles == [TITLE_ALL, TITLE_IN_BETWEEN]
    # the left heat map holds the matrix and writes every defined value, two decimals, row by row
    left = captured["fig"].axes[0]
    (mesh,) = [c for c in left.collections if c.get_gid() == GID_MATRIX]
    np.testing.assert_allclose(np.ma.filled(mesh.get_array(), np.nan), full.to_numpy(float), equal_nan=True)
    values = full.to_numpy(float).ravel()
    assert [t.get_text() for t in left.texts] == [f"{v:.2f}" for v in values[np.isfinite(values)]]
    # right panel: in-between images only; the random images are the only candidates
    split = pd.read_csv(study["split"], sep="\t", dtype={"image_id": str})
    inb = (split["all_but_one"] == "in_between").to_numpy()
    assert inb.any() and not inb[TRIVIAL].any() and not inb[IMPOSSIBLE].any()
    corr = np.stack([final_correct(i) for i in range(len(RUNS))])
    groups = ["base", "init", "init", "architecture", "half_data", "half_data"]
    expected = condition_kappa_matrix(corr, groups, mask=inb)
    got = captured["inner"]
    for a in expected.index:
        for b in expected.columns:
            assert got.loc[a, b] == pytest.approx(expected.loc[a, b], nan_ok=True)


def test_figure_06_single_decision_maker_and_no_in_between(single, tmp_path):
    figure_06(single["entries"], single["split"], single["summary"], **outputs(tmp_path, "one"))
    # a study whose images are all trivial or impossible: the right panel is a note
    root = tmp_path / "dich"
    c = np.zeros(N, dtype=bool)
    c[TRIVIAL] = True
    entries = []
    for name in ("base", "init/1", "init/2"):
        write_run(root / f"{name.replace('/', '_')}.h5", trajectory(c, E + 1))
        entries.append({"name": name, "condition": name.split("/")[0],
                        "path": str(root / f"{name.replace('/', '_')}.h5"), "epoch": E})
    s, sp, k = summarize([DecisionMaker(**e) for e in entries], study="dich")
    write_summary(s, sp, k, summary_path=str(root / "s.json"), split_path=str(root / "s.tsv"),
                  kappa_path=str(root / "k.tsv"))
    figure_06(entries, str(root / "s.tsv"), str(root / "s.json"), **outputs(tmp_path, "dich"))


# ---------------------------------------------------------------------------------------------
# Figure 8


def test_kl_of_neighbouring_classes():
    kl = kl_neighbours([1.0, 2.0, 3.0])
    np.testing.assert_allclose(kl, [np.log(2) + 1 / 8 - 0.5, np.log(1.5) + 4 / 18 - 0.5])
    assert np.all(np.diff(kl_neighbours(np.arange(1, 101))) < 0)   # decreasing, as the paper says
    data = gaussian_kl_data(np.linspace(1, 0, 30), skip=20)
    assert data["sigma"][0] == 1 and data["sigma"][-1] == 30        # class k has sigma k + 1
    assert data["scatter_sigma"].tolist() == list(range(21, 30))    # skip 20, last class has no neighbour
    np.testing.assert_allclose(data["scatter_kl"], kl_neighbours(np.arange(1, 31.0))[20:])


def test_figure_08_gaussian_only(study, tmp_path):
    paths = outputs(tmp_path, "fig08")
    figure_08(study["entries"], **paths, skip=1)
    assert_written(paths)
    root = tmp_path / "folder"
    write_run(root / "base.h5", trajectory(final_correct(0), E + 1),
              dataset={"name": "pets", "kind": "imagefolder", "root": str(tmp_path)})
    with pytest.raises(FigureNotApplicable, match="Gaussian"):
        figure_08([{"name": "base", "condition": "base", "path": str(root / "base.h5"), "epoch": E}],
                  **outputs(tmp_path, "no"))


# ---------------------------------------------------------------------------------------------
# Figures 9 and 15


def test_condition_accuracy_order_and_means(study, tmp_path):
    summary = json.load(open(study["summary"]))
    conds = {e["name"]: e["condition"] for e in study["entries"]}
    df = condition_accuracy(summary["accuracy_all"], conds)
    assert list(dict.fromkeys(df["condition"])) == ["base", "plus_1_epoch", "plus_10_epochs", "init",
                                                   "architecture", "different_data"]
    init = df[df["condition"] == "init"]["accuracy"].to_numpy()
    np.testing.assert_allclose(sorted(init), sorted([final_correct(1).mean(), final_correct(2).mean()]))
    fig = plot_condition_accuracy(df)
    (ax,) = fig.axes
    # seaborn: the point plot's means are one Line2D, the strip plot makes one collection per condition
    means = next(line for line in ax.lines if line.get_gid() == GID_MEAN).get_xydata()
    runs = np.concatenate([c.get_offsets() for c in ax.collections if c.get_gid() == GID_RUNS])
    assert len(runs) == len(study["entries"]) and len(means) == 6
    assert means[3][1] == pytest.approx(init.mean())
    paths = outputs(tmp_path, "fig09")
    figure_09(study["summary"], study["entries"], **paths)
    assert_written(paths)


def test_class_accuracy_sorted_with_ties_by_index(study, tmp_path):
    acc = class_accuracy(np.array([1, 0, 1, 1, 0, 0], bool), np.array([0, 0, 1, 1, 2, 3]), 5)
    np.testing.assert_allclose(acc[:4], [0.5, 1, 0, 0])
    assert np.isnan(acc[4])                                # no images
    values, order = sorted_class_accuracy(acc)
    assert order.tolist() == [1, 0, 2, 3] and values.tolist() == [1, 0.5, 0, 0]
    paths = outputs(tmp_path, "fig15")
    figure_15(study["entries"], **paths)
    assert_written(paths)


# ---------------------------------------------------------------------------------------------
# Figure 12


def test_decision_changes_known():
    targets = np.array([0, 0, 0, 0])
    preds = np.array([[1, 1, 1, 1],
                      [0, 2, 1, 1],     # image 0 flips to right, image 1 changes label but stays wrong
                      [0, 2, 1, 0]])    # image 3 flips to right
    d = decision_changes(preds, targets, epochs=[0, 1, 2])
    assert d["epoch"].tolist() == [0, 1] and d["next_epoch"].tolist() == [1, 2]
    np.testing.assert_allclose(d["label_change"], [0.5, 0.25])
    np.testing.assert_allclose(d["correctness_flip"], [0.25, 0.25])
    assert decision_changes(preds[:1], targets).empty


def test_condition_changes_mean_over_runs(study, tmp_path):
    per_run, runs = per_run_changes(study["entries"])
    assert [r.name for r in runs] == ["base", "init/1", "init/2", "architecture", "different_data/1",
                                      "different_data/2"]
    means = condition_changes(per_run)
    assert list(dict.fromkeys(means["condition"])) == ["base", "init", "architecture", "different_data"]
    # only the transition 0 -> 1 changes anything: from all wrong to the final decisions
    init = means[means["condition"] == "init"].set_index("epoch")
    expected = np.mean([final_correct(1).mean(), final_correct(2).mean()])
    assert init.loc[0, "label_change"] == pytest.approx(expected)
    assert init.loc[0, "correctness_flip"] == pytest.approx(expected)
    assert (init.loc[1:, ["label_change", "correctness_flip"]] == 0).all().all()
    base = means[means["condition"] == "base"]
    assert base["epoch"].max() == E + 9                      # the base run's extra epochs
    # one seaborn line per condition and panel: gid = condition id, the style's colour, percent
    fig = plot_decision_changes(means)
    for ax, key in zip(fig.axes, ("label_change", "correctness_flip")):
        lines = {line.get_gid(): line for line in ax.lines if line.get_gid()}
        assert list(lines) == ["base", "init", "architecture", "different_data"]
        for i, (c, line) in enumerate(lines.items()):
            d = means[means["condition"] == c]
            np.testing.assert_allclose(line.get_xydata(), np.c_[d["epoch"], 100 * d[key]])
            assert matplotlib.colors.same_color(line.get_color(), style.condition_color(c, i))
            assert line.get_label() == style.display_name(c)
            assert line.get_marker() == ("o" if len(d) <= 12 else "")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [style.display_name(c) for c in lines]
    paths = outputs(tmp_path, "fig12")
    figure_12(study["entries"], **paths)
    assert_written(paths)


# ---------------------------------------------------------------------------------------------
# Figure 13


def test_choose_examples_categories_and_seed():
    counts = np.array([0, 3, 0, 1, 3, 2, 3])
    lo, hi, info = choose_examples(counts, n=3, n_pairs=2)
    assert set(lo) <= {0, 2} and set(hi) <= {1, 4, 6} and len(lo) == len(hi) == 2
    assert info["impossible_rule"] == info["trivial_rule"] == "category"
    again = choose_examples(counts, n=3, n_pairs=2)
    assert np.array_equal(lo, again[0]) and np.array_equal(hi, again[1])
    # no image right for all: the top pool (with ties) instead
    lo, hi, info = choose_examples(np.array([0, 1, 2, 2, 1]), n=3, pool=1)
    assert info["trivial_rule"] == "pool" and hi[0] in (2, 3)


def test_examples_pixels(study, fake_imagefolder, tmp_path):
    ok, _ = examples_available(GAUSS)
    assert ok
    spec = GaussianSpec(n_classes=C, image_size=4, train_per_class=2, val_per_class=K, seed=1312)
    np.testing.assert_array_equal(load_image(GAUSS, "7"), gaussian_image(spec, "val", 7).transpose(1, 2, 0))
    folder = {"name": "pets", "kind": "imagefolder", "root": str(fake_imagefolder)}
    assert examples_available(folder)[0]
    img = load_image(folder, "cat/img00.png")
    assert img.dtype == np.uint8 and img.shape == (224, 224, 3)  # the evaluation view: Resize(256) + CenterCrop(224)
    assert not examples_available({"name": "pets", "kind": "imagefolder", "root": str(tmp_path / "gone")})[0]
    assert not examples_available({})[0]
    assert examples_available(study["entries"][0]["path"])[0]
    paths = outputs(tmp_path, "fig13")
    figure_13(study["split"], study["summary"], study["entries"], **paths)
    assert_written(paths)


def test_figure_13_not_applicable_without_pixels(tmp_path):
    root = tmp_path / "nopix"
    write_run(root / "base.h5", trajectory(final_correct(0), E + 1), dataset={"name": "imported"})
    entries = [{"name": "base", "condition": "base", "path": str(root / "base.h5"), "epoch": E}]
    s, sp, k = summarize([DecisionMaker(**e) for e in entries], study="nopix")
    write_summary(s, sp, k, summary_path=str(root / "s.json"), split_path=str(root / "s.tsv"),
                  kappa_path=str(root / "k.tsv"))
    with pytest.raises(FigureNotApplicable, match="no pixels"):
        figure_13(str(root / "s.tsv"), str(root / "s.json"), entries, **outputs(tmp_path, "x"))


# ---------------------------------------------------------------------------------------------
# Bad input: a single decision maker renders everything that makes sense


def test_single_decision_maker_renders(single, tmp_path):
    e = single["entries"]
    assert [r.name for r in one_per_file(e)] == ["base"]
    figure_04(e, **outputs(tmp_path, "4"))
    figure_05(e, **outputs(tmp_path, "5"))
    figure_08(e, **outputs(tmp_path, "8"))
    figure_09(single["summary"], e, **outputs(tmp_path, "9"))
    figure_12(e, **outputs(tmp_path, "12"))
    figure_13(single["split"], single["summary"], e, **outputs(tmp_path, "13"))
    figure_15(e, **outputs(tmp_path, "15"))


def test_all_nan_kappa_study_renders(tmp_path):
    """Every decision maker 100 % right: every kappa undefined, no in-between or impossible image."""
    root = tmp_path / "allright"
    entries = []
    for name in ("base", "init/1", "init/2"):
        path = root / f"{name.replace('/', '_')}.h5"
        write_run(path, trajectory(np.ones(N, dtype=bool), E + 1))
        entries.append({"name": name, "condition": name.split("/")[0], "path": str(path), "epoch": E})
    s, sp, k = summarize([DecisionMaker(**e) for e in entries], study="allright")
    paths = {"summary_path": str(root / "s.json"), "split_path": str(root / "s.tsv"), "kappa_path": str(root / "k.tsv")}
    write_summary(s, sp, k, **paths)
    assert k["kappa"].isna().all()
    figure_06(entries, paths["split_path"], paths["summary_path"], **outputs(tmp_path, "6"))
    figure_13(paths["split_path"], paths["summary_path"], entries, **outputs(tmp_path, "13"))
    from ddd.report.tables import headline
    df = headline(entries, paths["summary_path"], paths["kappa_path"], csv=str(tmp_path / "h.csv"),
                  md=str(tmp_path / "h.md"), n_boot=10).set_index("key")
    assert np.isnan(df.loc["kappa.init", "value"]) and "undefined" in df.loc["kappa.init", "note"]


def test_applicable_figures(fake_imagefolder, tmp_path):
    from ddd.report.catalog import FIGURES, OPTIONAL_FIGURES, applicable_figures
    g = applicable_figures(GAUSS)
    assert set(g) == set(FIGURES) and all(ok for name, (ok, _) in g.items() if name not in OPTIONAL_FIGURES)
    assert not g["fig07_rsa"][0] and "optional" in g["fig07_rsa"][1]  # Figure 7 only when asked for
    assert all(ok for ok, _ in applicable_figures(GAUSS, optional=OPTIONAL_FIGURES).values())
    with pytest.raises(ValueError, match="unknown optional figures"):
        applicable_figures(GAUSS, optional=["fig99"])
    f = applicable_figures({"name": "pets", "kind": "imagefolder", "root": str(fake_imagefolder)})
    assert not f["fig08_gaussian_kl"][0] and f["fig13_example_images"][0]
    gone = applicable_figures({"name": "imagenet", "kind": "imagenet", "root": str(tmp_path / "none")})
    assert not gone["fig13_example_images"][0] and "does not exist" in gone["fig13_example_images"][1]
