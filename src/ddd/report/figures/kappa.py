"""Figure 3 / 10 / 11 / 16: error consistency of every run with the base, per condition.

One small black dot per decision maker (its kappa with the base, or for ``different_data`` the
kappa between its two networks; a seaborn strip plot without jitter), the condition mean
(``nanmean`` over its decision makers; a seaborn point plot without line or interval) as a
larger black dot, conditions in one fixed order (the paper's Figure 3 order,
:data:`ddd.experiment.conditions.CONDITIONS`). Kappa is Cohen's kappa on correct/wrong (error consistency,
Geirhos et al. 2020; Meding et al. 2022, Fig. 3).

Intervals (optional, issue 16): each decision maker's percentile bootstrap interval over images
(``consistency/uncertainty.tsv``, its ``pair`` row for {name, other}) as a thin vertical line
through its dot, and each condition mean's interval over images and runs (two-stage bootstrap,
``consistency/conditions.tsv``, subset ``all``) as a thicker bar with caps just right of the
condition's position, so the runs' dots and lines stay visible.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ddd.experiment.conditions import condition_order
from ddd.report import style as _style
from ddd.report.figures.common import (checked_table, condition_axis, condition_means, condition_strip,
                                       undefined_notes)
from ddd.results.pairs import read_conditions, read_uncertainty
from ddd.results.study import read_kappas, read_summary

__all__ = ["plot_kappa_vs_base", "figure_03", "run_intervals", "mean_intervals", "run_label", "mean_label",
           "YLABEL", "LABEL_IDENTICAL", "GID_RUNS", "GID_IDENTICAL", "GID_MEAN", "GID_RUN_CI", "GID_MEAN_CI",
           "GID_MEAN_CI_CAPS", "MEAN_CI_OFFSET"]

YLABEL = "Error consistency (κ) with the base"
LABEL_IDENTICAL = "identical decisions (deterministic hardware)"
LABEL_RUNS = "decision maker"
LABEL_MEAN = "condition mean"
#: ``gid`` of the artists: runs (filled) and runs with identical decisions (hollow), scatter collections
#: of seaborn's strip plot; means, the Line2D of its point plot.
GID_RUNS, GID_IDENTICAL, GID_MEAN = "kappa_runs", "kappa_identical", "kappa_mean"
#: ``gid`` of the intervals: one LineCollection of vertical segments, one per decision maker with an
#: interval (:data:`GID_RUN_CI`); the condition means' error bars (a LineCollection,
#: :data:`GID_MEAN_CI`) and their caps (Line2D, :data:`GID_MEAN_CI_CAPS`).
GID_RUN_CI, GID_MEAN_CI, GID_MEAN_CI_CAPS = "kappa_run_ci", "kappa_mean_ci", "kappa_mean_ci_caps"
#: The condition means' error bars sit this far right of the condition's position (x units).
MEAN_CI_OFFSET = 0.2
_COLUMNS = ("condition", "name", "other", "kappa")


def _level(ci: float) -> str:
    return f"{100 * ci:g} %"


def run_label(ci: float = 0.95) -> str:
    """Legend entry of the decision makers' intervals."""
    return f"{_level(ci)} interval over images (bootstrap)"


def mean_label(ci: float = 0.95, over: str = "images and runs") -> str:
    """Legend entry of the condition means' intervals."""
    return f"condition mean: {_level(ci)} interval over {over}"


def run_intervals(kappas: pd.DataFrame, uncertainty: pd.DataFrame) -> pd.DataFrame:
    """Each decision maker's interval: the rows of ``kappas`` (condition, name, other, kappa) with
    ``ci_low``, ``ci_high`` from the ``pair`` rows of ``uncertainty`` (a, b, kappa_ci_low,
    kappa_ci_high) whose {a, b} is {name, other}, in either order. Rows comparing a decision maker
    with itself, or without a pair row, get NaN."""
    u = uncertainty
    if "kind" in u.columns:
        u = u[u["kind"].astype(str) == "pair"]
    missing = {"a", "b", "kappa_ci_low", "kappa_ci_high"} - set(u.columns)
    if missing and not u.empty:
        raise ValueError(f"uncertainty table lacks columns {sorted(missing)}")
    if u.empty:  # a study of one decision maker: no pair, no interval
        u = pd.DataFrame(columns=["a", "b", "kappa_ci_low", "kappa_ci_high"])
    lo = pd.to_numeric(u["kappa_ci_low"], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(u["kappa_ci_high"], errors="coerce").to_numpy(float)
    found = {}
    for a, b, x, y in zip(u["a"].astype(str), u["b"].astype(str), lo, hi):
        found[frozenset((a, b))] = (x, y)
    keys = [frozenset((str(n), str(o))) for n, o in zip(kappas["name"], kappas["other"])]
    pairs = [found.get(k, (np.nan, np.nan)) if len(k) == 2 else (np.nan, np.nan) for k in keys]
    out = kappas.copy()
    out["ci_low"] = [p[0] for p in pairs]
    out["ci_high"] = [p[1] for p in pairs]
    return out


def mean_intervals(conditions: pd.DataFrame, subset: str = "all") -> pd.DataFrame:
    """The condition means' intervals of ``conditions.tsv`` on ``subset``: condition, kappa, ci_low,
    ci_high (float), ci, ci_over, n_runs; rows with an undefined interval left out."""
    missing = {"condition", "subset", "kappa", "ci_low", "ci_high"} - set(conditions.columns)
    if missing:
        raise ValueError(f"conditions table lacks columns {sorted(missing)}")
    c = conditions[conditions["subset"].astype(str) == subset].copy()
    for col in ("kappa", "ci_low", "ci_high"):
        c[col] = pd.to_numeric(c[col], errors="coerce").astype(float)
    c["condition"] = c["condition"].astype(str)
    return c[np.isfinite(c["ci_low"]) & np.isfinite(c["ci_high"])].reset_index(drop=True)


def _check(kappas: pd.DataFrame) -> pd.DataFrame:
    df = checked_table(kappas, _COLUMNS, value="kappa", what="kappa table")
    if "identical" not in df.columns:
        df["identical"] = False
    df["identical"] = df["identical"].astype(str).str.lower().isin(("true", "1"))
    # A decision maker compared with itself (the base row) is identical by construction, not
    # evidence of deterministic hardware.
    df["identical"] &= df["name"].astype(str) != df["other"].astype(str)
    return df


def plot_kappa_vs_base(kappas: pd.DataFrame, *, order=_style.CONDITIONS, title: str | None = None,
                       uncertainty: pd.DataFrame | None = None, conditions: pd.DataFrame | None = None):
    """Figure 3: kappa of every decision maker with the base, grouped by condition.

    Parameters
    ----------
    kappas : DataFrame with columns condition, name, other, kappa (float, may be NaN) and
        optionally identical (bool: decisions equal to those of ``other``), one row per comparison.
    order : condition ids in x order; conditions absent from ``kappas`` are skipped, conditions
        not in ``order`` are appended (no data is dropped).
    title : optional axes title.
    uncertainty : optional ``consistency/uncertainty.tsv`` (:func:`run_intervals`): each decision
        maker's interval over images as a thin vertical line at its condition's position.
    conditions : optional ``consistency/conditions.tsv`` (:func:`mean_intervals`, subset ``all``):
        each condition mean's interval over images and runs as an error bar with caps at
        x = position + :data:`MEAN_CI_OFFSET`.

    Returns
    -------
    matplotlib Figure with one axes, drawn with seaborn: the runs are strip plots (one scatter
    collection per condition) with ``gid`` :data:`GID_RUNS` (filled dots) and :data:`GID_IDENTICAL`
    (hollow dots, rows with identical decisions, only if any); the means are a point plot (a
    Line2D without line) with ``gid`` :data:`GID_MEAN`, one point per condition with a defined
    kappa, at x = its position. NaN kappas are not drawn; a condition with only NaN is annotated
    "undefined". The legend (below the axes) has the identical-decisions entry only when such rows
    exist. Intervals only when their tables are given: a LineCollection with ``gid``
    :data:`GID_RUN_CI` (one vertical segment per decision maker with a finite interval, in the
    order of ``kappas``' rows) and the error bars of :data:`GID_MEAN_CI` (LineCollection, one segment
    per condition drawn, in x order) with caps :data:`GID_MEAN_CI_CAPS`; each has a legend entry
    saying what it is.
    """
    df = _check(kappas)
    conds = condition_order(df["condition"], order)
    if not conds:
        raise ValueError("kappa table is empty")
    ident = df["identical"].to_numpy(bool)
    black, ms = _style.COLORS["kappa"], _style.MARKER_SIZES
    with _style.style():
        fig, ax = plt.subplots(figsize=_style.SIZES["kappa"], layout="constrained")
        ax.axhline(0, color=_style.COLORS["zero_line"], linestyle="--", linewidth=0.8, zorder=1)
        condition_strip(ax, df, "kappa", conds, select=~ident, gid=GID_RUNS, label=LABEL_RUNS,
                        size=ms["kappa_runs"], color=black, alpha=_style.ALPHA["kappa_runs"], zorder=3)
        if (ident & np.isfinite(df["kappa"].to_numpy())).any():
            # Larger than the mean dot and above it: a ring that stays visible when the mean
            # coincides (e.g. every hardware run identical to the base, kappa 1).
            condition_strip(ax, df, "kappa", conds, select=ident, gid=GID_IDENTICAL, label=LABEL_IDENTICAL,
                            size=ms["kappa_identical"], color=black, facecolors="none", edgecolor=black,
                            linewidth=1.3, zorder=5)
        condition_means(ax, df, "kappa", conds, gid=GID_MEAN, label=LABEL_MEAN, size=ms["kappa_mean"],
                        color=black, alpha=_style.ALPHA["kappa_mean"], zorder=4)
        undefined_notes(ax, df, "kappa", conds, gid="kappa_undefined")
        lows = [df["kappa"].to_numpy(float)]
        if uncertainty is not None:
            lows.append(_draw_run_intervals(ax, df, uncertainty, conds, ci=_ci_of(conditions)))
        if conditions is not None:
            lows.append(_draw_mean_intervals(ax, conditions, conds))
        y = np.concatenate(lows)
        lo = float(np.nanmin(y)) if np.isfinite(y).any() else 0.0
        ax.set_ylim(min(0.0, lo - 0.05) if lo < 0 else 0.0, 1.05)
        condition_axis(ax, conds)
        ax.set_ylabel(YLABEL)
        if title:
            ax.set_title(title)
        # Outside the axes, under the tick labels: never covers a dot. Dots first, then intervals
        # (column by column when there are intervals).
        handles, labels = ax.get_legend_handles_labels()
        first = [k for k, lab in enumerate(labels) if "interval" not in lab]
        second = [k for k, lab in enumerate(labels) if "interval" in lab]
        order_ = first + second
        fig.legend([handles[k] for k in order_], [labels[k] for k in order_], loc="outside lower center",
                   ncols=2 if second else 3)
    return fig


def _ci_of(conditions) -> float:
    """The confidence level the study's intervals were computed at (``conditions.tsv``'s ``ci``;
    uncertainty.tsv uses the same level), 0.95 when unknown."""
    if conditions is not None and "ci" in conditions.columns:
        ci = pd.to_numeric(conditions["ci"], errors="coerce").dropna().unique()
        if len(ci) == 1 and 0 < ci[0] < 1:
            return float(ci[0])
    return 0.95


def _draw_run_intervals(ax, df: pd.DataFrame, uncertainty: pd.DataFrame, conds: list[str], *, ci: float):
    """Thin vertical lines, one per decision maker with a finite interval; returns their lows."""
    runs = run_intervals(df, uncertainty)
    ok = (np.isfinite(runs["ci_low"].to_numpy(float)) & np.isfinite(runs["ci_high"].to_numpy(float))
          & runs["condition"].isin(conds).to_numpy())
    runs = runs[ok]
    if runs.empty:
        return np.empty(0)
    x = np.array([conds.index(c) for c in runs["condition"]], dtype=float)
    lines = ax.vlines(x, runs["ci_low"].to_numpy(float), runs["ci_high"].to_numpy(float),
                      colors=_style.COLORS["kappa_run_interval"], linewidth=1.3,
                      alpha=_style.ALPHA["kappa_run_interval"], zorder=4.5, label=run_label(ci))
    lines.set_gid(GID_RUN_CI)
    return runs["ci_low"].to_numpy(float)


def _draw_mean_intervals(ax, conditions: pd.DataFrame, conds: list[str]):
    """A thick error bar with caps per condition mean, right of the condition; returns their lows."""
    means = mean_intervals(conditions)
    means = means[means["condition"].isin(conds)]
    if means.empty:
        return np.empty(0)
    means = means.assign(x=[conds.index(c) + MEAN_CI_OFFSET for c in means["condition"]]).sort_values("x")
    over = means["ci_over"].astype(str).unique() if "ci_over" in means.columns else ["images and runs"]
    label = mean_label(_ci_of(conditions), "images and runs")
    if len(over) == 1 and over[0] == "images":
        label = mean_label(_ci_of(conditions), "images (one run per condition)")
    y = means["kappa"].to_numpy(float)
    lo, hi = means["ci_low"].to_numpy(float), means["ci_high"].to_numpy(float)
    # The bar spans the interval even where the mean itself is undefined (not expected, kept safe).
    centre = np.where(np.isfinite(y), y, (lo + hi) / 2)
    color = _style.COLORS["kappa_mean_interval"]
    bars = ax.errorbar(means["x"].to_numpy(float), centre, yerr=np.vstack([centre - lo, hi - centre]),
                       fmt="none", ecolor=color, elinewidth=2.2, capsize=4, capthick=1.6, zorder=4, label=label)
    for col in bars.lines[2]:
        col.set_gid(GID_MEAN_CI)
    for cap in bars.lines[1]:
        cap.set_gid(GID_MEAN_CI_CAPS)
    return lo


def figure_03(kappa_tsv, summary_json, uncertainty_tsv=None, conditions_tsv=None, *, png, pdf,
              order=_style.CONDITIONS) -> None:
    """Write Figure 3 (10 / 11 / 16) of a study.

    Parameters
    ----------
    kappa_tsv : ``kappa_vs_base.tsv`` (tab-separated; condition, name, other, kappa, identical;
        NaN written as "NaN").
    summary_json : ``summary.json`` of the study (its ``study`` names the title).
    uncertainty_tsv : optional ``consistency/uncertainty.tsv``: each decision maker's bootstrap
        interval over images.
    conditions_tsv : optional ``consistency/conditions.tsv``: each condition mean's interval over
        images and runs (subset ``all``).
    png, pdf : output paths.
    order : condition order on x (default the paper's Figure 3 order).
    """
    kappas = read_kappas(kappa_tsv)
    summary = read_summary(summary_json)
    study = summary.get("study", "")
    title = (f"{study}: " if study else "") + "error consistency with the base"
    uncertainty = None if uncertainty_tsv is None else read_uncertainty(uncertainty_tsv)
    conditions = None if conditions_tsv is None else read_conditions(conditions_tsv)
    fig = plot_kappa_vs_base(kappas, order=order, title=title, uncertainty=uncertainty, conditions=conditions)
    _style.save(fig, png, pdf)
