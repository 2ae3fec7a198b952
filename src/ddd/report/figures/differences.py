"""Do the conditions differ? Their κ with the base on all and on in-between images, with intervals
and the differences that survive Holm's adjustment (issue 16: the paper's claim on the user's data).

The paper's claim (Meding et al. 2022): on all images every condition looks alike (κ with the base
high), because trivial and impossible images agree by construction; once they are removed (the
in-between images), κ drops and the conditions differ. This figure shows it, or its absence, on a
study's own numbers, with what the statistics allow one to say:

- **A**: for each condition (paper order), its mean κ with the base on all images (left dot) and on
  the in-between images (right dot), each with its interval over images and runs (two-stage
  bootstrap, ``consistency/conditions.tsv``); a "*" above the pair where the in-between-vs-all
  difference survives Holm's adjustment (``consistency/differences.tsv``, level ``condition``,
  comparison ``in_between_vs_all``, ``significant``).
- **B**, **C**: Δκ = κ(row) − κ(column) between every two conditions (level ``condition``,
  comparison ``vs_base``) on all images and on the in-between images, one diverging colour scale
  centred at 0 for both; a dot marks each pair whose difference survives Holm's adjustment.

Holm's adjustment is the analysis's (:func:`ddd.analysis.differences.study_differences`): one family
per level, here every condition-level comparison of the study.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from ddd.experiment.conditions import condition_order
from ddd.report import style as _style
from ddd.report.catalog import FigureNotApplicable
from ddd.report.figures.common import study_title
from ddd.results.pairs import read_conditions, read_differences
from ddd.results.study import read_summary

__all__ = ["plot_differences", "figure_differences", "condition_matrix", "SUBSETS", "SUBSET_LABELS", "OFFSET",
           "GID_POINTS", "GID_INTERVALS", "GID_SIGNIFICANT", "GID_MATRIX", "GID_MATRIX_SIGNIFICANT", "YLABEL"]

#: The two subsets, left and right in panel A, panels B and C.
SUBSETS = ("all", "in_between")
SUBSET_LABELS = {"all": "all images", "in_between": "in-between images"}
#: Panel A: the dots of a condition sit this far left (all) and right (in-between) of its position.
OFFSET = 0.17
YLABEL = "Mean κ with the base"
#: ``gid`` of the artists. Panel A: per subset, the dots (Line2D ``GID_POINTS[subset]``, one point per
#: condition with a defined κ, in x order), their intervals (LineCollection ``GID_INTERVALS[subset]``)
#: and the "*" texts (``GID_SIGNIFICANT``, one per condition whose in-between-vs-all difference is
#: significant). Panels B and C: the heat maps (QuadMesh ``GID_MATRIX[subset]``) and the dots of the
#: significant pairs (PathCollection ``GID_MATRIX_SIGNIFICANT[subset]``, at the cell centres).
GID_POINTS = {s: f"differences_{s}" for s in SUBSETS}
GID_INTERVALS = {s: f"differences_{s}_ci" for s in SUBSETS}
GID_SIGNIFICANT = "differences_in_between_vs_all_significant"
GID_MATRIX = {s: f"differences_matrix_{s}" for s in SUBSETS}
GID_MATRIX_SIGNIFICANT = {s: f"differences_matrix_{s}_significant" for s in SUBSETS}
_CONDITION_COLUMNS = ("condition", "subset", "kappa", "ci_low", "ci_high")
_DIFFERENCE_COLUMNS = ("level", "comparison", "first", "first_subset", "second", "second_subset", "delta",
                       "significant")


def _checked(frame: pd.DataFrame, columns, what: str, floats=()) -> pd.DataFrame:
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise ValueError(f"{what} lacks columns {missing}; needs {', '.join(columns)}")
    out = frame.copy()
    for col in floats:
        out[col] = pd.to_numeric(out[col], errors="raise").astype(float)
    return out


def _significant(values) -> np.ndarray:
    s = pd.Series(values)
    if s.dtype == bool:
        return s.to_numpy(bool)
    return s.astype(str).str.lower().isin(("true", "1")).to_numpy(bool)


def condition_matrix(differences: pd.DataFrame, conds: list[str], subset: str) -> tuple[np.ndarray, np.ndarray]:
    """Δκ between conditions on ``subset`` as a lower-triangular matrix, and which are significant.

    ``differences``: rows of ``differences.tsv`` (level ``condition``, comparison ``vs_base``, both
    subsets ``subset``). Returns ``(delta, significant)``, float and bool (g − 1, g − 1) for the
    g conditions ``conds``: cell (r, c), r >= c, holds κ(conds[r + 1]) − κ(conds[c]) (the table's
    delta, negated where the table has the pair the other way round); NaN above the diagonal, where
    the table has no row, or where Δκ is undefined.
    """
    g = len(conds)
    delta = np.full((max(g - 1, 0),) * 2, np.nan)
    sig = np.zeros(delta.shape, dtype=bool)
    d = differences[(differences["level"].astype(str) == "condition")
                    & (differences["comparison"].astype(str) == "vs_base")
                    & (differences["first_subset"].astype(str) == subset)
                    & (differences["second_subset"].astype(str) == subset)]
    at = {c: k for k, c in enumerate(conds)}
    for first, second, value, s in zip(d["first"].astype(str), d["second"].astype(str),
                                       pd.to_numeric(d["delta"], errors="coerce").astype(float),
                                       _significant(d["significant"])):
        if first not in at or second not in at or first == second:
            continue
        i, j, sign = at[first], at[second], 1.0
        if i < j:
            i, j, sign = j, i, -1.0
        delta[i - 1, j] = sign * value
        sig[i - 1, j] = bool(s) and np.isfinite(value)
    return delta, sig


def _in_between_vs_all(differences: pd.DataFrame) -> dict[str, bool]:
    d = differences[(differences["level"].astype(str) == "condition")
                    & (differences["comparison"].astype(str) == "in_between_vs_all")
                    & (differences["first"].astype(str) == differences["second"].astype(str))
                    & (differences["first_subset"].astype(str) == "in_between")
                    & (differences["second_subset"].astype(str) == "all")]
    return dict(zip(d["first"].astype(str), _significant(d["significant"])))


def _panel_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", wrap=True,
            color=_style.COLORS["note"], fontstyle="italic", gid="differences_note")


def _draw_conditions(ax, cond: pd.DataFrame, conds: list[str], significant: dict[str, bool]) -> None:
    """Panel A: two dots with intervals per condition, "*" above the significant pairs."""
    tops, bottoms = [], [0.0]
    for k, subset in enumerate(SUBSETS):
        rows = cond[cond["subset"] == subset].set_index("condition").reindex(conds)
        x = np.arange(len(conds)) + (2 * k - 1) * OFFSET
        y, lo, hi = (rows[c].to_numpy(float) for c in ("kappa", "ci_low", "ci_high"))
        ok = np.isfinite(y)
        color = _style.COLORS[f"subset_{subset}"]
        has_ci = ok & np.isfinite(lo) & np.isfinite(hi)
        line = ax.plot(x[ok], y[ok], "o", color=color, markersize=8, zorder=4, label=SUBSET_LABELS[subset])[0]
        line.set_gid(GID_POINTS[subset])
        if has_ci.any():
            bars = ax.errorbar(x[has_ci], y[has_ci], yerr=np.vstack([y[has_ci] - lo[has_ci], hi[has_ci] - y[has_ci]]),
                               fmt="none", ecolor=color, elinewidth=1.8, capsize=3.5, capthick=1.4, zorder=3)
            for col in bars.lines[2]:
                col.set_gid(GID_INTERVALS[subset])
            for cap in bars.lines[1]:
                cap.set_gid(GID_INTERVALS[subset] + "_caps")
        tops.append(np.where(np.isfinite(hi), hi, y))
        bottoms += list(lo[np.isfinite(lo)]) + list(y[ok])
    top = np.fmax(*tops)
    for i, c in enumerate(conds):
        if not np.isfinite(top[i]):
            ax.text(i, 0.5, "undefined", rotation=90, ha="center", va="center", color=_style.COLORS["undefined"],
                    fontstyle="italic", gid="differences_undefined")
        elif significant.get(c, False):
            ax.text(i, top[i] + 0.015, "*", ha="center", va="bottom", fontsize=17, fontweight="bold",
                    color=_style.COLORS["significant"], gid=GID_SIGNIFICANT)
    ax.axhline(0, color=_style.COLORS["zero_line"], linestyle="--", linewidth=0.8, zorder=1)
    hi = float(np.nanmax(top)) if np.isfinite(top).any() else 1.0
    lo = float(np.nanmin(bottoms))
    ax.set_ylim(min(0.0, lo - 0.05), min(1.0, hi) + 0.12)
    ax.set_xlim(-0.6, len(conds) - 0.4)
    ax.set_xticks(range(len(conds)), [_style.display_name(c) for c in conds], rotation=30, ha="right",
                  rotation_mode="anchor")
    ax.set_ylabel(YLABEL)


def _draw_matrix(ax, delta, sig, conds, *, vmax: float, cbar_ax, ylabels: bool, subset: str):
    g = len(conds)
    rows, cols = [_style.short_name(c) for c in conds[1:]], [_style.short_name(c) for c in conds[:-1]]
    lower = np.tril(np.ones(delta.shape, dtype=bool))
    cmap = plt.get_cmap(_style.CMAPS["kappa_difference"]).with_extremes(bad=_style.COLORS["matrix_missing"])
    before = len(ax.collections)
    # Symmetric limits centre the diverging map at 0 (seaborn's ``center`` would rebuild the map).
    sns.heatmap(np.where(lower, delta, np.nan), ax=ax, mask=~lower, cmap=cmap, vmin=-vmax, vmax=vmax,
                square=True, cbar=cbar_ax is not None, cbar_ax=cbar_ax, linewidths=0.6, linecolor="0.85",
                xticklabels=cols, yticklabels=rows if ylabels else False,
                cbar_kws={"label": "Δκ = κ(row) − κ(column), mean κ with the base"})
    mesh = ax.collections[before]
    mesh.set_gid(GID_MATRIX[subset])
    # Cell borders only on the drawn (lower) triangle: the upper one stays blank, undefined lower
    # cells keep their border, so they read as "no value" rather than as "not a pair".
    edges = np.tile(mpl.colors.to_rgba("0.85"), (delta.size, 1))
    edges[~lower.ravel()] = (1.0, 1.0, 1.0, 0.0)
    mesh.set_edgecolor(edges)
    r, c = np.nonzero(sig & lower)
    dots = ax.scatter(c + 0.5, r + 0.5, s=max(10.0, min(40.0, 300.0 / max(g, 1))), color=_style.COLORS["significant"],
                      edgecolors="white", linewidths=0.8, zorder=5)
    dots.set_gid(GID_MATRIX_SIGNIFICANT[subset])
    ax.set_xticks(np.arange(g - 1) + 0.5, cols, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(g - 1) + 0.5, rows if ylabels else [""] * (g - 1), rotation=0, va="center")
    ax.tick_params(which="both", length=0)
    if not np.isfinite(delta[lower]).any():
        _panel_note(ax, "Δκ is undefined for every pair.")


def plot_differences(conditions: pd.DataFrame, differences: pd.DataFrame, *, order=_style.CONDITIONS,
                     title: str | None = None, alpha: float | None = None):
    """The figure (module docstring) from ``conditions.tsv`` and ``differences.tsv`` as frames.

    Parameters
    ----------
    conditions : columns condition, subset, kappa, ci_low, ci_high (and optionally ci, ci_over,
        n_runs); subsets ``all`` and ``in_between`` used.
    differences : columns level, comparison, first, first_subset, second, second_subset, delta,
        significant (bool or "True"/"False"), and optionally p_value, holm_family; only the rows of
        level ``condition`` are used.
    order : condition order (default the paper's); conditions not in it follow.
    title : figure title; alpha : the level of ``significant`` (Holm-adjusted p < alpha), named in
        the note (None: "the study's alpha").

    Raises
    ------
    FigureNotApplicable : no condition rows (a study without a base, or with the base alone), or no
        in-between subset (no all-but-one split).

    Returns
    -------
    matplotlib Figure: panel A (axes 0), B (all images, axes 1), C (in-between images, axes 2) and
    the shared colour bar; artists with the ``gid`` of the module's ``GID_*`` constants.
    """
    cond = _checked(conditions, _CONDITION_COLUMNS, "conditions table", floats=("kappa", "ci_low", "ci_high"))
    diffs = _checked(differences, _DIFFERENCE_COLUMNS, "differences table", floats=("delta",))
    cond["condition"], cond["subset"] = cond["condition"].astype(str), cond["subset"].astype(str)
    if cond.empty:
        raise FigureNotApplicable("no condition is compared with the base (conditions.tsv is empty): the study "
                                  "has no base decision maker or no other decision maker")
    if not (cond["subset"] == "in_between").any():
        raise FigureNotApplicable("the study has no in-between subset (no all-but-one split, which needs at "
                                  "least 4 decision makers), so all and in-between images cannot be compared")
    conds = condition_order(cond["condition"], order)
    significant = _in_between_vs_all(diffs)
    mats = {s: condition_matrix(diffs, conds, s) for s in SUBSETS}
    finite = np.concatenate([np.abs(m[np.isfinite(m)]) for m, _ in mats.values()])
    vmax = max(0.05, float(np.ceil(finite.max() * 20) / 20)) if finite.size else 0.05
    n_pairs = len(conds) * (len(conds) - 1) // 2
    n_sig = {s: int(mats[s][1].sum()) for s in SUBSETS}
    with _style.style():
        fig = plt.figure(figsize=_style.SIZES["differences"], layout="constrained")
        grid = fig.add_gridspec(2, 2, height_ratios=[1.0, 1.35])
        ax_a = fig.add_subplot(grid[0, :])
        ax_b, ax_c = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
        # The colour bar as tall as the (square) heat map beside it.
        cax = ax_c.inset_axes([1.05, 0.0, 0.045, 1.0])
        _draw_conditions(ax_a, cond, conds, significant)
        ax_a.set_title("A   Each condition's κ with the base, on all and on in-between images", loc="left")
        if len(conds) < 2:
            for ax in (ax_b, ax_c):
                ax.set_axis_off()
                _panel_note(ax, "One condition: no pair of conditions to compare.")
            cax.set_axis_off()
        else:
            for ax, subset, cb in ((ax_b, "all", None), (ax_c, "in_between", cax)):
                _draw_matrix(ax, *mats[subset], conds, vmax=vmax, cbar_ax=cb, ylabels=True, subset=subset)
        letters = {"all": "B", "in_between": "C"}
        for ax, subset in ((ax_b, "all"), (ax_c, "in_between")):
            ax.set_title(f"{letters[subset]}   {SUBSET_LABELS[subset].capitalize()}: {n_sig[subset]} of "
                         f"{n_pairs} pairs differ", loc="left")
        if title:
            fig.suptitle(title, fontweight="bold")
        handles, labels = ax_a.get_legend_handles_labels()
        level = _ci_level(cond)
        handles.append(Line2D([], [], color="0.3", linewidth=1.8, marker="_", markersize=8))
        labels.append(f"{level} interval over images and runs")
        black = _style.COLORS["significant"]
        handles.append(Line2D([], [], linestyle="none", marker="$*$", markersize=11, color=black))
        labels.append("in-between differs from all (Holm)")
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=6, color=black, markeredgecolor="white"))
        labels.append("B, C: pair differs (Holm)")
        # Under the panels (above the note): a legend at the top would collide with the title.
        fig.legend(handles, labels, loc="outside lower center", ncols=5)
        _style.note(fig, _note(diffs, cond, conds, significant, n_sig, n_pairs, alpha, level))
    return fig


def _ci_level(cond: pd.DataFrame) -> str:
    if "ci" in cond.columns:
        ci = pd.to_numeric(cond["ci"], errors="coerce").dropna().unique()
        if len(ci) == 1 and 0 < ci[0] < 1:
            return f"{100 * ci[0]:g} %"
    return "95 %"


def _note(diffs, cond, conds, significant, n_sig, n_pairs, alpha, level) -> str:
    fam = diffs[diffs["level"].astype(str) == "condition"]
    if "holm_family" in fam.columns:
        fam = diffs[diffs["holm_family"].astype(str).isin(fam["holm_family"].astype(str).unique())]
    if "p_value" in fam.columns:
        fam = fam[np.isfinite(pd.to_numeric(fam["p_value"], errors="coerce").astype(float))]
    one_run = ""
    if "n_runs" in cond.columns:
        single = sorted({c for c, n in zip(cond["condition"], pd.to_numeric(cond["n_runs"], errors="coerce"))
                         if n == 1}, key=conds.index)
        if single:
            one_run = f" (over images only for the one-run conditions: {', '.join(map(_style.short_name, single))})"
    a = f"α = {alpha:g}" if alpha is not None else "at the study's α"
    n_ib = sum(bool(significant.get(c, False)) for c in conds)
    extra = ("; Different data: κ between its two networks" if "different_data" in conds else "")
    return (f"Dots: mean κ of each condition's runs with the base{extra}. Bars: {level} percentile intervals of a "
            f"two-stage bootstrap over images and runs{one_run}. Holm's adjustment over the study's {len(fam)} "
            f"condition-level comparisons, {a}: in-between differs from all images for {n_ib} of {len(conds)} "
            f"conditions (*); pairs of conditions that differ: {n_sig['all']} of {n_pairs} on all images, "
            f"{n_sig['in_between']} of {n_pairs} on in-between images (dots).")


def figure_differences(conditions_tsv, differences_tsv, summary_json, *, png, pdf, alpha=None,
                       order=_style.CONDITIONS) -> None:
    """Write the figure ``differences_vs_base`` of a study.

    Parameters
    ----------
    conditions_tsv, differences_tsv : ``consistency/conditions.tsv`` and ``consistency/differences.tsv``
        (:mod:`ddd.results.pairs`).
    summary_json : ``summary.json`` (its ``study`` names the title).
    png, pdf : output paths.
    alpha : the level the analysis used for ``significant`` (the config's ``analysis.alpha``), named
        in the note.
    order : condition order (default the paper's).

    Raises :class:`FigureNotApplicable` as :func:`plot_differences`.
    """
    conditions = read_conditions(conditions_tsv)
    differences = read_differences(differences_tsv)
    title = study_title(read_summary(summary_json), "do the conditions differ on all and on in-between images?")
    fig = plot_differences(conditions, differences, order=order, title=title, alpha=alpha)
    _style.save(fig, png, pdf)
