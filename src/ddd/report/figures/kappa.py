"""Figure 3 / 10 / 11 / 16: error consistency of every run with the base, per condition.

One small black dot per decision maker (its kappa with the base, or for ``different_data`` the
kappa between its two networks), the condition mean (``nanmean`` over its decision makers) as a
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
from ddd.results.study import read_kappas, read_summary

__all__ = ["plot_kappa_vs_base", "figure_03", "YLABEL", "LABEL_IDENTICAL",
           "GID_RUNS", "GID_IDENTICAL", "GID_MEAN"]

YLABEL = "Error consistency (κ) with the base"
LABEL_IDENTICAL = "identical decisions (deterministic hardware)"
LABEL_RUNS = "decision maker"
LABEL_MEAN = "condition mean"
UNDEFINED = "undefined"
#: ``gid`` of the scatter collections: runs (filled), runs with identical decisions (hollow), means.
GID_RUNS, GID_IDENTICAL, GID_MEAN = "kappa_runs", "kappa_identical", "kappa_mean"
_COLUMNS = ("condition", "name", "other", "kappa")


def dots_and_means(df: pd.DataFrame, column: str, conds: list[str]):
    """Positions of a per-condition dot plot: x (condition index) and y (``column``) per row, which
    rows are finite, and the sorted (x, mean) of every condition with a finite value."""
    xpos = {c: i for i, c in enumerate(conds)}
    x = df["condition"].map(xpos).to_numpy(float)
    y = df[column].to_numpy(float)
    means = sorted((xpos[c], float(np.nanmean(v))) for c, v in df.groupby("condition", sort=False)[column]
                   if np.isfinite(v).any())
    return x, y, np.isfinite(y), means


def _check(kappas: pd.DataFrame) -> pd.DataFrame:
    missing = set(_COLUMNS) - set(kappas.columns)
    if missing:
        raise ValueError(f"kappa table lacks columns {sorted(missing)}; needs {', '.join(_COLUMNS)}")
    df = kappas.copy()
    df["kappa"] = pd.to_numeric(df["kappa"], errors="raise").astype(float)
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
    matplotlib Figure with one axes. Scatter collections carry ``gid`` :data:`GID_RUNS`
    (filled dots), :data:`GID_IDENTICAL` (hollow dots, rows with identical decisions, only if
    any) and :data:`GID_MEAN` (one dot per condition with a defined kappa, at x = its position).
    NaN kappas are not drawn; a condition with only NaN is annotated "undefined". The legend
    (below the axes) has the identical-decisions entry only when such rows exist.
    """
    df = _check(kappas)
    conds = condition_order(df["condition"], order)
    if not conds:
        raise ValueError("kappa table is empty")
    xpos = {c: i for i, c in enumerate(conds)}
    x, y, ok, means = dots_and_means(df, "kappa", conds)
    ident = df["identical"].to_numpy(bool)
    undefined = [c for c in conds if not np.isfinite(df.loc[df["condition"] == c, "kappa"]).any()]

    black = _style.COLORS["kappa"]
    ms = _style.MARKER_SIZES
    with _style.style():
        fig, ax = plt.subplots(figsize=_style.SIZES["kappa"], layout="constrained")
        ax.axhline(0, color=_style.COLORS["zero_line"], linestyle="--", linewidth=0.8, zorder=1)
        sel = ok & ~ident
        ax.scatter(x[sel], y[sel], s=ms["kappa_runs"], color=black, alpha=_style.ALPHA["kappa_runs"],
                   linewidths=0, label=LABEL_RUNS, gid=GID_RUNS, zorder=3)
        if (ok & ident).any():
            sel = ok & ident
            # Larger than the mean dot and above it: a ring that stays visible when the mean
            # coincides (e.g. every hardware run identical to the base, kappa 1).
            ax.scatter(x[sel], y[sel], s=ms["kappa_identical"], facecolors="none", edgecolors=black,
                       linewidths=1.3, label=LABEL_IDENTICAL, gid=GID_IDENTICAL, zorder=5)
        mx = np.array([m[0] for m in means], float)
        my = np.array([m[1] for m in means], float)
        ax.scatter(mx, my, s=ms["kappa_mean"], color=black, alpha=_style.ALPHA["kappa_mean"],
                   label=LABEL_MEAN, gid=GID_MEAN, zorder=4)
        for c in undefined:
            ax.text(xpos[c], 0.5, UNDEFINED, rotation=90, ha="center", va="center",
                    color=_style.COLORS["undefined"], fontstyle="italic", gid="kappa_undefined")
        lo = float(np.nanmin(y)) if ok.any() else 0.0
        ax.set_ylim(min(0.0, lo - 0.05) if lo < 0 else 0.0, 1.05)
        ax.set_xlim(-0.6, len(conds) - 0.4)
        ax.set_xticks(range(len(conds)), [_style.display_name(c) for c in conds], rotation=45,
                      ha="right", rotation_mode="anchor")
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
