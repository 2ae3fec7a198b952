"""Figure 3's intervals and the figure ``differences_vs_base`` (issue 16, item 2).

Known small tables check what is drawn (values, positions, the significant markers at exactly the
significant rows); a synthetic study run through the real analysis (``study_consistency``) checks
the files' path end to end; the rules in ``workflow/rules/figures.smk`` are checked against the
functions' parameters without starting Snakemake.
"""

import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ddd.report import catalog
from ddd.report.catalog import FigureNotApplicable, wiring_problems
from ddd.report.figures import differences as D
from ddd.report.figures import kappa as K
from ddd.results.pairs import (DIFFERENCE_COLUMNS, read_conditions, read_differences, read_uncertainty,
                               write_conditions, write_differences, write_uncertainty)
from ddd.results.study import write_kappas, write_summary

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from synthetic_study import make_study  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def artists(fig_or_ax, gid):
    """Artists (collections, lines, texts) with ``gid`` of an axes or of every axes of a figure."""
    axes = fig_or_ax.axes if isinstance(fig_or_ax, plt.Figure) else [fig_or_ax]
    return [a for ax in axes for a in (*ax.collections, *ax.lines, *ax.texts) if a.get_gid() == gid]


def segments(ax, gid) -> np.ndarray:
    """Vertical segments of the LineCollections with ``gid`` as rows (x, y_low, y_high)."""
    segs = [s for c in ax.collections if c.get_gid() == gid for s in c.get_segments()]
    out = np.array([(s[0][0], min(s[0][1], s[1][1]), max(s[0][1], s[1][1])) for s in segs], float)
    return out.reshape(-1, 3)


# Figure 3 with intervals ---------------------------------------------------------------------------

def kappa_frame():
    return pd.DataFrame([
        ("base", "base", "base", 1.0, True),
        ("init", "init/1", "base", 0.6, False),
        ("init", "init/2", "base", 0.8, False),
        ("architecture", "architecture", "base", 0.3, False),
        ("half_data", "different_data/1", "base", 0.5, False),
        ("half_data", "different_data/2", "base", 0.4, False),
        ("different_data", "different_data/1", "different_data/2", 0.45, False),
    ], columns=["condition", "name", "other", "kappa", "identical"])


ORDER3 = ["base", "init", "architecture", "half_data", "different_data"]


def uncertainty_frame():
    # Pairs in either order; one pair the figure does not use; a spread row (ignored).
    rows = [("pair", "base", "init/1", 0.50, 0.70), ("pair", "init/2", "base", 0.71, 0.88),
            ("pair", "architecture", "base", 0.15, 0.42), ("pair", "base", "different_data/1", 0.40, 0.60),
            ("pair", "different_data/2", "base", 0.31, 0.49),
            ("pair", "different_data/1", "different_data/2", 0.35, 0.55), ("pair", "init/1", "init/2", 0.1, 0.2),
            ("spread", "init", "base", -5.0, 5.0)]
    return pd.DataFrame(rows, columns=["kind", "a", "b", "kappa_ci_low", "kappa_ci_high"])


def conditions_frame():
    rows = [("init", "all", 0.7, 0.55, 0.85, "images and runs", 2),
            ("init", "in_between", 0.2, 0.0, 0.4, "images and runs", 2),
            ("architecture", "all", 0.3, 0.15, 0.42, "images", 1),
            ("architecture", "in_between", -0.1, -0.3, 0.1, "images", 1),
            ("half_data", "all", 0.45, 0.30, 0.58, "images and runs", 2),
            ("half_data", "in_between", 0.05, -0.2, 0.3, "images and runs", 2),
            ("different_data", "all", 0.45, 0.35, 0.55, "images", 1),
            ("different_data", "in_between", 0.1, -0.1, 0.3, "images", 1)]
    df = pd.DataFrame(rows, columns=["condition", "subset", "kappa", "ci_low", "ci_high", "ci_over", "n_runs"])
    return df.assign(ci=0.95, n_images=np.where(df["subset"] == "all", 100, 40), n_boot=200, n_boot_undefined=0,
                     epoch="final")


def test_figure_3_without_intervals_draws_none():
    fig = K.plot_kappa_vs_base(kappa_frame())
    ax = fig.axes[0]
    for gid in (K.GID_RUN_CI, K.GID_MEAN_CI, K.GID_MEAN_CI_CAPS):
        assert not artists(ax, gid)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert not any("interval" in t for t in texts)
    assert artists(ax, K.GID_RUNS) and artists(ax, K.GID_MEAN)  # what it drew before is still there


def test_figure_3_intervals_equal_the_tables():
    fig = K.plot_kappa_vs_base(kappa_frame(), uncertainty=uncertainty_frame(), conditions=conditions_frame())
    ax = fig.axes[0]
    x = {c: i for i, c in enumerate(ORDER3)}
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "Base"
    runs = sorted(map(tuple, segments(ax, K.GID_RUN_CI)))
    # one per decision maker compared with another (the base's self-comparison has none), matched
    # by {name, other} in either order; the spread row and the unused pair are ignored
    expected = sorted([(x["init"], 0.50, 0.70), (x["init"], 0.71, 0.88), (x["architecture"], 0.15, 0.42),
                       (x["half_data"], 0.40, 0.60), (x["half_data"], 0.31, 0.49),
                       (x["different_data"], 0.35, 0.55)])
    np.testing.assert_allclose(runs, expected)
    means = segments(ax, K.GID_MEAN_CI)
    # subset "all" only, right of the condition, in x order
    np.testing.assert_allclose(means, [(x["init"] + K.MEAN_CI_OFFSET, 0.55, 0.85),
                                       (x["architecture"] + K.MEAN_CI_OFFSET, 0.15, 0.42),
                                       (x["half_data"] + K.MEAN_CI_OFFSET, 0.30, 0.58),
                                       (x["different_data"] + K.MEAN_CI_OFFSET, 0.35, 0.55)])
    caps = artists(ax, K.GID_MEAN_CI_CAPS)
    assert len(caps) == 2 and all(len(c.get_xdata()) == 4 for c in caps)  # low and high caps per condition
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "95 % interval over images (bootstrap)" in texts
    assert "condition mean: 95 % interval over images and runs" in texts
    # the dots' gids unchanged
    assert len(artists(ax, K.GID_MEAN)) == 1
    # the legend sits outside the axes
    fig.canvas.draw()
    assert not fig.legends[0].get_window_extent().overlaps(ax.get_window_extent())


def test_figure_3_interval_limits_and_missing_pairs():
    u = uncertainty_frame()
    u.loc[u["a"] == "architecture", ["kappa_ci_low", "kappa_ci_high"]] = np.nan  # undefined: not drawn
    u.loc[0, "kappa_ci_low"] = -0.4
    fig = K.plot_kappa_vs_base(kappa_frame(), uncertainty=u)
    ax = fig.axes[0]
    assert len(segments(ax, K.GID_RUN_CI)) == 5
    assert ax.get_ylim()[0] < -0.4  # the lowest interval fits
    # a study of one decision maker has an uncertainty table without pairs: no interval, no error
    one = pd.DataFrame({"condition": ["base"], "name": ["base"], "other": ["base"], "kappa": [1.0]})
    fig = K.plot_kappa_vs_base(one, uncertainty=pd.DataFrame(columns=["kind", "a", "b"]),
                               conditions=conditions_frame().iloc[:0])
    assert not artists(fig.axes[0], K.GID_RUN_CI) and not artists(fig.axes[0], K.GID_MEAN_CI)
    with pytest.raises(ValueError, match="lacks columns"):
        K.plot_kappa_vs_base(kappa_frame(), uncertainty=uncertainty_frame().drop(columns="kappa_ci_low"))


def test_figure_3_one_run_label():
    c = conditions_frame()
    c = c[c["n_runs"] == 1]
    fig = K.plot_kappa_vs_base(kappa_frame(), conditions=c)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "condition mean: 95 % interval over images (one run per condition)" in texts


# The differences figure from known small tables ----------------------------------------------------

CONDS = ["init", "hardware", "architecture"]  # paper order; the table lists them otherwise


def small_conditions():
    rows = []
    for c, (ka, kb) in {"architecture": (0.5, 0.1), "init": (0.8, 0.4), "hardware": (0.95, 0.9)}.items():
        rows += [(c, "all", ka, ka - 0.05, ka + 0.05, 2 if c != "architecture" else 1),
                 (c, "in_between", kb, kb - 0.1, kb + 0.1, 2 if c != "architecture" else 1)]
    df = pd.DataFrame(rows, columns=["condition", "subset", "kappa", "ci_low", "ci_high", "n_runs"])
    return df.assign(ci=0.95, ci_over=np.where(df["n_runs"] > 1, "images and runs", "images"), n_images=50,
                     n_boot=100, n_boot_undefined=0, epoch="final")


def small_differences():
    kap = small_conditions().set_index(["condition", "subset"])["kappa"]
    rows = []

    def add(comparison, first, fs, second, ss, significant, p):
        rows.append({"level": "condition", "comparison": comparison, "first": first, "first_subset": fs,
                     "second": second, "second_subset": ss, "kappa_first": kap[(first, fs)],
                     "kappa_second": kap[(second, ss)], "delta": kap[(first, fs)] - kap[(second, ss)],
                     "p_value": p, "holm_family": "condition", "significant": significant})
    # table order differs from the figure's: architecture first
    add("vs_base", "architecture", "all", "init", "all", False, 0.2)
    add("vs_base", "architecture", "all", "hardware", "all", True, 0.001)
    add("vs_base", "init", "all", "hardware", "all", False, 0.3)
    add("vs_base", "architecture", "in_between", "init", "in_between", True, 0.001)
    add("vs_base", "architecture", "in_between", "hardware", "in_between", True, 0.0001)
    add("vs_base", "init", "in_between", "hardware", "in_between", True, 0.002)
    add("in_between_vs_all", "architecture", "in_between", "architecture", "all", True, 0.0001)
    add("in_between_vs_all", "init", "in_between", "init", "all", True, 0.001)
    add("in_between_vs_all", "hardware", "in_between", "hardware", "all", False, 0.5)
    # a decision-maker row: not used by the figure
    rows.append({**rows[0], "level": "decision_maker", "first": "base vs init/1", "second": "base vs init/2",
                 "holm_family": "decision_maker", "significant": True})
    df = pd.DataFrame(rows)
    for col in DIFFERENCE_COLUMNS:
        if col not in df.columns:
            df[col] = {"ci": 0.95, "epoch": "final"}.get(col, np.nan)
    df["ci_low"], df["ci_high"] = df["delta"] - 0.1, df["delta"] + 0.1
    df["p_holm"] = np.minimum(1, df["p_value"] * 9)
    df["p_method"], df["ci_over"] = "two-stage bootstrap", "images and runs"
    return df


def test_condition_matrix_orders_and_signs():
    delta, sig = D.condition_matrix(small_differences(), CONDS, "all")
    # rows: hardware, architecture; columns: init, hardware; cell (r, c) = kappa(conds[r+1]) - kappa(conds[c])
    np.testing.assert_allclose(delta, [[0.95 - 0.8, np.nan], [0.5 - 0.8, 0.5 - 0.95]])
    np.testing.assert_array_equal(sig, [[False, False], [False, True]])
    delta, sig = D.condition_matrix(small_differences(), CONDS, "in_between")
    np.testing.assert_allclose(delta, [[0.9 - 0.4, np.nan], [0.1 - 0.4, 0.1 - 0.9]])
    assert sig[np.tril_indices(2)].all()


def test_differences_figure_artists():
    fig = D.plot_differences(small_conditions(), small_differences(), title="toy: do they differ?", alpha=0.05)
    ax_a, ax_b, ax_c = fig.axes[:3]
    assert [t.get_text() for t in ax_a.get_xticklabels()] == [
        "Different initialisation", "Hardware non-determinism", "Different architecture"]
    cond = small_conditions().set_index(["condition", "subset"])
    for k, subset in enumerate(D.SUBSETS):
        (line,) = artists(ax_a, D.GID_POINTS[subset])
        xy = line.get_xydata()
        np.testing.assert_allclose(xy[:, 0], np.arange(3) + (2 * k - 1) * D.OFFSET)
        np.testing.assert_allclose(xy[:, 1], [cond.loc[(c, subset), "kappa"] for c in CONDS])
        np.testing.assert_allclose(segments(ax_a, D.GID_INTERVALS[subset])[:, 1:],
                                   [(cond.loc[(c, subset), "ci_low"], cond.loc[(c, subset), "ci_high"])
                                    for c in CONDS])
    # "*" exactly above the conditions whose in-between-vs-all difference is significant
    stars = artists(ax_a, D.GID_SIGNIFICANT)
    assert sorted(s.get_position()[0] for s in stars) == [0, 2]  # init, architecture; not hardware
    assert all(s.get_text() == "*" for s in stars)
    assert all(s.get_position()[1] > cond.loc[(CONDS[int(s.get_position()[0])], "all"), "ci_high"] for s in stars)
    # heat maps: same symmetric colour scale centred at 0, significant dots at the significant cells
    for ax, subset in ((ax_b, "all"), (ax_c, "in_between")):
        (mesh,) = artists(ax, D.GID_MATRIX[subset])
        delta, sig = D.condition_matrix(small_differences(), CONDS, subset)
        arr = np.ma.filled(np.ma.masked_invalid(mesh.get_array()).astype(float), np.nan).reshape(delta.shape)
        np.testing.assert_allclose(arr, np.where(np.tril(np.ones_like(sig)), delta, np.nan))
        lo, hi = mesh.get_clim()
        assert lo == pytest.approx(-hi) and hi >= np.nanmax(np.abs(delta))
        (dots,) = artists(ax, D.GID_MATRIX_SIGNIFICANT[subset])
        r, c = np.nonzero(sig)
        assert sorted(map(tuple, dots.get_offsets())) == sorted(zip(c + 0.5, r + 0.5))
    assert artists(ax_b, D.GID_MATRIX["all"])[0].get_clim() == artists(ax_c, D.GID_MATRIX["in_between"])[0].get_clim()
    assert "1 of 3 pairs differ" in ax_b.get_title(loc="left")
    assert "3 of 3 pairs differ" in ax_c.get_title(loc="left")
    assert fig._suptitle.get_text() == "toy: do they differ?"
    (note,) = [t for t in fig.texts if t.get_gid() == "figure_note"]
    text = note.get_text()
    assert "Holm" in text and "α = 0.05" in text and "9 condition-level comparisons" in text
    assert "1 of 3 on all images" in text and "3 of 3 on in-between images" in text
    assert "Architecture" in text  # the one-run condition's interval is over images only, said so
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "95 % interval over images and runs" in legend and "all images" in legend
    # the legend covers no panel
    fig.canvas.draw()
    assert not any(fig.legends[0].get_window_extent().overlaps(ax.get_window_extent()) for ax in fig.axes[:3])


def test_differences_figure_undefined_and_one_condition():
    c, d = small_conditions(), small_differences()
    c.loc[(c["condition"] == "hardware"), ["kappa", "ci_low", "ci_high"]] = np.nan
    fig = D.plot_differences(c, d)
    ax_a = fig.axes[0]
    assert [t.get_position()[0] for t in artists(ax_a, "differences_undefined")] == [1]
    assert len(artists(ax_a, D.GID_POINTS["all"])[0].get_xydata()) == 2
    one = c[c["condition"] == "init"]
    fig = D.plot_differences(one, d[d["first"] == "init"])
    assert not artists(fig, D.GID_MATRIX["all"])
    assert any("no pair" in t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("change, match", [
    (lambda c: c.iloc[:0], "no condition is compared with the base"),
    (lambda c: c[c["subset"] == "all"], "no in-between subset"),
])
def test_differences_not_applicable(change, match):
    with pytest.raises(FigureNotApplicable, match=match):
        D.plot_differences(change(small_conditions()), small_differences())


def test_render_writes_the_reason(tmp_path):
    write_conditions(small_conditions().iloc[:0], tmp_path / "conditions.tsv")
    write_differences(small_differences().iloc[:0], tmp_path / "differences.tsv")
    write_summary({"study": "none"}, tmp_path / "summary.json")
    outputs = {"png": str(tmp_path / "d.png"), "pdf": str(tmp_path / "d.pdf")}
    made = catalog.render("differences_vs_base", inputs={
        "conditions_tsv": str(tmp_path / "conditions.tsv"), "differences_tsv": str(tmp_path / "differences.tsv"),
        "summary_json": str(tmp_path / "summary.json")}, outputs=outputs, options={"alpha": 0.05})
    assert made is False
    assert Path(outputs["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# End to end: a synthetic study through the real analysis ---------------------------------------------

@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from ddd.analysis.consistency import study_consistency
    root = tmp_path_factory.mktemp("study")
    s = make_study(root)
    c = root / "consistency"
    paths = {k: c / f"{k}.tsv" for k in ("pairs", "pairs_summary", "uncertainty", "differences", "conditions")}
    study_consistency(s["entries"], s["split"], pairs_path=paths["pairs"], summary_path=paths["pairs_summary"],
                      uncertainty_path=paths["uncertainty"], differences_path=paths["differences"],
                      conditions_path=paths["conditions"], n_boot=100, n_perm=100)
    return {**s, **{k: str(v) for k, v in paths.items()}}


def test_figure_3_files_end_to_end(study, tmp_path, monkeypatch):
    drawn = {}
    real = K.plot_kappa_vs_base

    def keep(*args, **kws):
        drawn["fig"] = real(*args, **kws)
        drawn["ax"] = drawn["fig"].axes[0]
        return drawn["fig"]
    monkeypatch.setattr(K, "plot_kappa_vs_base", keep)
    monkeypatch.setattr(K._style, "save", lambda fig, png, pdf: None)
    K.figure_03(study["kappas"], study["summary"], study["uncertainty"], study["conditions"],
                png=tmp_path / "a.png", pdf=tmp_path / "a.pdf")
    ax = drawn["ax"]
    kap = pd.read_csv(study["kappas"], sep="\t")
    unc = read_uncertainty(study["uncertainty"])
    unc = unc[unc["kind"] == "pair"]
    ci = {frozenset((a, b)): (lo, hi) for a, b, lo, hi in zip(unc["a"], unc["b"], unc["kappa_ci_low"],
                                                                  unc["kappa_ci_high"])}
    conds = [t.get_text() for t in ax.get_xticklabels()]
    from ddd.report.style import display_name
    expected = sorted((float(conds.index(display_name(c))), *ci[frozenset((n, o))])
                      for c, n, o in zip(kap["condition"], kap["name"], kap["other"]) if n != o)
    np.testing.assert_allclose(sorted(map(tuple, segments(ax, K.GID_RUN_CI))), expected)
    cond = read_conditions(study["conditions"])
    cond = cond[cond["subset"] == "all"]
    got = segments(ax, K.GID_MEAN_CI)
    assert len(got) == len(cond)
    for x, lo, hi in got:
        row = cond[[display_name(c) == conds[int(round(x - K.MEAN_CI_OFFSET))] for c in cond["condition"]]]
        assert (lo, hi) == pytest.approx((float(row["ci_low"].iloc[0]), float(row["ci_high"].iloc[0])))
    # and the files through the catalog, with the rule's names
    plt.close(drawn["fig"])
    outputs = {"png": str(tmp_path / "f3.png"), "pdf": str(tmp_path / "f3.pdf")}
    monkeypatch.undo()
    assert catalog.render("fig03_kappa_vs_base", inputs={
        "kappa_tsv": study["kappas"], "summary_json": study["summary"], "uncertainty_tsv": study["uncertainty"],
        "conditions_tsv": study["conditions"]}, outputs=outputs)
    assert Path(outputs["png"]).stat().st_size > 10_000 and Path(outputs["pdf"]).read_bytes()[:5] == b"%PDF-"
    assert plt.get_fignums() == []


def test_differences_files_end_to_end(study, tmp_path):
    diffs = read_differences(study["differences"])
    fig = D.plot_differences(read_conditions(study["conditions"]), diffs, alpha=0.05)
    ax_a = fig.axes[0]
    conds = [t.get_text() for t in ax_a.get_xticklabels()]
    from ddd.report.style import display_name
    sig = diffs[(diffs["level"] == "condition") & (diffs["comparison"] == "in_between_vs_all") & diffs["significant"]]
    assert sorted(conds.index(display_name(c)) for c in sig["first"]) == sorted(
        int(t.get_position()[0]) for t in artists(ax_a, D.GID_SIGNIFICANT))
    for ax, subset in zip(fig.axes[1:3], D.SUBSETS):
        n = ((diffs["level"] == "condition") & (diffs["comparison"] == "vs_base") & diffs["significant"]
             & (diffs["first_subset"] == subset)).sum()
        (dots,) = artists(ax, D.GID_MATRIX_SIGNIFICANT[subset])
        assert len(dots.get_offsets()) == n
    plt.close(fig)
    outputs = {"png": str(tmp_path / "d.png"), "pdf": str(tmp_path / "d.pdf")}
    assert catalog.render("differences_vs_base", inputs={
        "conditions_tsv": study["conditions"], "differences_tsv": study["differences"],
        "summary_json": study["summary"]}, outputs=outputs, options={"alpha": 0.05})
    assert Path(outputs["png"]).stat().st_size > 10_000 and Path(outputs["pdf"]).read_bytes()[:5] == b"%PDF-"


def test_uncertainty_without_pairs_and_write_round_trip(tmp_path):
    write_uncertainty(uncertainty_frame(), tmp_path / "u.tsv")
    write_kappas(kappa_frame(), tmp_path / "k.tsv")
    write_conditions(conditions_frame(), tmp_path / "c.tsv")
    write_summary({"study": "toy"}, tmp_path / "s.json")
    K.figure_03(tmp_path / "k.tsv", tmp_path / "s.json", tmp_path / "u.tsv", tmp_path / "c.tsv",
                png=tmp_path / "x.png", pdf=tmp_path / "x.pdf")
    K.figure_03(tmp_path / "k.tsv", tmp_path / "s.json", png=tmp_path / "y.png", pdf=tmp_path / "y.pdf")
    assert (tmp_path / "x.png").stat().st_size > 0 and (tmp_path / "y.png").stat().st_size > 0


# Catalog and rules ---------------------------------------------------------------------------------

def rule_names(name: str) -> list[str]:
    """Input (but ``runs``), output and params names of rule ``name`` in figures.smk (text parse)."""
    text = (ROOT / "workflow" / "rules" / "figures.smk").read_text()
    m = re.search(rf"^rule {name}:\n(.*?)(?=^rule |\Z)", text, flags=re.S | re.M)
    assert m, f"no rule {name} in figures.smk"
    names = []
    for block in ("input", "output", "params"):
        b = re.search(rf"^    {block}:\n((?:        .*\n|            .*\n)*)", m.group(1), flags=re.M)
        if b:
            names += re.findall(r"^        (\w+)=", b.group(1), flags=re.M)
    return [n for n in names if n != "runs"]


def test_rules_fit_their_functions():
    assert set(rule_names("fig03_kappa_vs_base")) == {"kappa_tsv", "summary_json", "uncertainty_tsv",
                                                      "conditions_tsv", "png", "pdf"}
    assert set(rule_names("differences_vs_base")) == {"conditions_tsv", "differences_tsv", "summary_json", "png",
                                                      "pdf", "alpha"}
    for name in ("fig03_kappa_vs_base", "differences_vs_base"):
        assert wiring_problems(name, rule_names(name)) == []
    # the Figure 3 intervals are optional: the old wiring still fits
    assert wiring_problems("fig03_kappa_vs_base", ["kappa_tsv", "summary_json", "png", "pdf"]) == []
    assert wiring_problems("differences_vs_base", ["conditions_tsv", "summary_json", "png", "pdf"])


def test_rules_declare_report_caption_and_inputs():
    text = (ROOT / "workflow" / "rules" / "figures.smk").read_text()
    rule = re.search(r"^rule differences_vs_base:\n(.*?)(?=^rule |\Z)", text, flags=re.S | re.M).group(1)
    assert 'caption="../report/differences_vs_base.rst"' in rule and 'category="{study}"' in rule
    assert 'subcategory="Figures"' in rule and '"logs/{study}/differences_vs_base.log"' in rule
    assert '"../envs/analysis.yaml"' in rule and '"../scripts/render_figure.py"' in rule
    assert 'paths.consistency(table="differences")' in rule and 'paths.consistency(table="conditions")' in rule
    fig3 = re.search(r"^rule fig03_kappa_vs_base:\n(.*?)(?=^rule |\Z)", text, flags=re.S | re.M).group(1)
    assert 'uncertainty_tsv=paths.consistency(table="uncertainty")' in fig3
    assert 'conditions_tsv=paths.consistency(table="conditions")' in fig3
    for caption in ("fig03_kappa_vs_base", "differences_vs_base"):
        assert "interval" in (ROOT / "workflow" / "report" / f"{caption}.rst").read_text()


def test_catalog_lists_the_figure_for_training_studies_only():
    assert catalog.FIGURES["differences_vs_base"] == "ddd.report.figures.differences:figure_differences"
    assert "differences_vs_base" not in catalog.MODEL_FIGURES
    assert "differences_vs_base" not in catalog.IMPORTED_FIGURES
    gauss = {"name": "gaussian", "kind": "gaussian"}
    assert catalog.applicable_figures(gauss)["differences_vs_base"] == (True, "")
    assert catalog.function_of("differences_vs_base") is D.figure_differences
