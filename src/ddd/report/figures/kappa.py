"""Figure 3 / 10 / 11 / 16: error consistency of every run with the base, per condition.

One small black dot per decision maker (its kappa with the base, or for ``different_data`` the
kappa between its two networks; a seaborn strip plot without jitter), the condition mean
(``nanmean`` over its decision makers; a seaborn point plot without line or interval) as a
larger black dot, conditions in one fixed order (the paper's Figure 3 order,
:data:`ddd.experiment.conditions.CONDITIONS`). Kappa is Cohen's kappa on correct/wrong (error consistency,
Geirhos et al. 2020; Meding et al. 2022, Fig. 3).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ddd.experiment.conditions import condition_order
from ddd.report import style as _style
from ddd.report.figures.common import (checked_table, condition_axis, condition_means, condition_strip,
                                       undefined_notes)
from ddd.results.study import read_kappas, read_summary

__all__ = ["plot_kappa_vs_base", "figure_03", "YLABEL", "LABEL_IDENTICAL",
           "GID_RUNS", "GID_IDENTICAL", "GID_MEAN"]

YLABEL = "Error consistency (κ) with the base"
LABEL_IDENTICAL = "identical decisions (deterministic hardware)"
LABEL_RUNS = "decision maker"
LABEL_MEAN = "condition mean"
#: ``gid`` of the artists: runs (filled) and runs with identical decisions (hollow), scatter collections
#: of seaborn's strip plot; means, the Line2D of its point plot.
GID_RUNS, GID_IDENTICAL, GID_MEAN = "kappa_runs", "kappa_identical", "kappa_mean"
_COLUMNS = ("condition", "name", "other", "kappa")


def _check(kappas: pd.DataFrame) -> pd.DataFrame:
    df = checked_table(kappas, _COLUMNS, value="kappa", what="kappa table")
    if "identical" not in df.columns:
        df["identical"] = False
    df["identical"] = df["identical"].astype(str).str.lower().isin(("true", "1"))
    # A decision maker compared with itself (the base row) is identical by construction, not
    # evidence of deterministic hardware.
    df["identical"] &= df["name"].astype(str) != df["other"].astype(str)
    return df


def plot_kappa_vs_base(kappas: pd.DataFrame, *, order=_style.CONDITIONS, title: str | None = None):
    """Figure 3: kappa of every decision maker with the base, grouped by condition.

    Parameters
    ----------
    kappas : DataFrame with columns condition, name, other, kappa (float, may be NaN) and
        optionally identical (bool: decisions equal to those of ``other``), one row per comparison.
    order : condition ids in x order; conditions absent from ``kappas`` are skipped, conditions
        not in ``order`` are appended (no data is dropped).
    title : optional axes title.

    Returns
    -------
    matplotlib Figure with one axes, drawn with seaborn: the runs are strip plots (one scatter
    collection per condition) with ``gid`` :data:`GID_RUNS` (filled dots) and :data:`GID_IDENTICAL`
    (hollow dots, rows with identical decisions, only if any); the means are a point plot (a
    Line2D without line) with ``gid`` :data:`GID_MEAN`, one point per condition with a defined
    kappa, at x = its position. NaN kappas are not drawn; a condition with only NaN is annotated
    "undefined". The legend (below the axes) has the identical-decisions entry only when such rows
    exist. No interval is drawn.
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
        y = df["kappa"].to_numpy(float)
        lo = float(np.nanmin(y)) if np.isfinite(y).any() else 0.0
        ax.set_ylim(min(0.0, lo - 0.05) if lo < 0 else 0.0, 1.05)
        condition_axis(ax, conds)
        ax.set_ylabel(YLABEL)
        if title:
            ax.set_title(title)
        # Outside the axes, one row under the tick labels: never covers a dot.
        fig.legend(loc="outside lower center", ncols=3)
    return fig


def figure_03(kappa_tsv, summary_json, *, png, pdf, order=_style.CONDITIONS) -> None:
    """Write Figure 3 (10 / 11 / 16) of a study.

    Parameters
    ----------
    kappa_tsv : ``kappa_vs_base.tsv`` (tab-separated; condition, name, other, kappa, identical;
        NaN written as "NaN").
    summary_json : ``summary.json`` of the study (its ``study`` names the title).
    png, pdf : output paths.
    order : condition order on x (default the paper's Figure 3 order).
    """
    kappas = read_kappas(kappa_tsv)
    summary = read_summary(summary_json)
    study = summary.get("study", "")
    title = (f"{study}: " if study else "") + "error consistency with the base"
    fig = plot_kappa_vs_base(kappas, order=order, title=title)
    _style.save(fig, png, pdf)
