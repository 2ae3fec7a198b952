"""Figure 7: representational similarity of every condition's network with the base.

Every network is read at its nominal final epoch E, as saved by :func:`ddd.training.run.train_run` (the
base's too, not after its extra epochs); the plus-epoch conditions reuse the base's decisions
and have no networks of their own, so they are absent.

Left: per condition, one small black dot per network (Pearson r between its RDM and the base
network's on a fixed, seeded subset of evaluation images, :mod:`ddd.analysis.rsa`), the condition mean as
a larger black dot, conditions in the paper's order (:data:`ddd.experiment.conditions.CONDITIONS`; others
appended). As for kappa, "Half data" is each network trained on half the data against the base,
"Different data" those two networks against each other. Right (when RDMs are given): the base
network's RDM and the RDM of the network least similar to it, as small heat maps (images in
evaluation order, so class-major datasets show their classes along the diagonal).

The paper's Figure 7 draws the condition means only (one network per condition).
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ddd.experiment.conditions import condition_order
from ddd.report import style as _style
from ddd.report.figures.common import (FigureNotApplicable, checked_table, condition_axis, condition_means,
                                       condition_strip, undefined_notes)
from ddd.results.representations import read_rdms, read_rsa_table

__all__ = ["plot_rsa_vs_base", "figure_07", "YLABEL", "GID_RUNS", "GID_MEAN", "GID_RDM"]

YLABEL = "Representational similarity with the base\n(Pearson r of RDMs)"
LABEL_RUNS, LABEL_MEAN = "network", "condition mean"
GID_RUNS, GID_MEAN, GID_RDM = "rsa_runs", "rsa_mean", "rsa_rdm"
_COLUMNS = ("condition", "name", "r_vs_base")
_RDM_CMAP = "viridis"


def _layout(n_rdms: int):
    """The figure: the dot axes alone, or with a column of ``n_rdms`` RDM axes on its right."""
    if not n_rdms:
        fig, ax = plt.subplots(figsize=_style.SIZES["kappa"], layout="constrained")
        return fig, ax, []
    fig = plt.figure(figsize=(_style.SIZES["kappa"][0] + 3.2, _style.SIZES["kappa"][1]), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[3.2, 1])
    return fig, fig.add_subplot(grid[:, 0]), [fig.add_subplot(grid[i, 1]) for i in range(n_rdms)]


def _dots(ax, df: pd.DataFrame, conds: list[str], title: str | None) -> None:
    """The dot panel: networks as a strip plot, condition means as a point plot (no interval)."""
    black, ms = _style.COLORS["kappa"], _style.MARKER_SIZES
    ax.axhline(0, color=_style.COLORS["zero_line"], linestyle="--", linewidth=0.8, zorder=1)
    condition_strip(ax, df, "r_vs_base", conds, gid=GID_RUNS, label=LABEL_RUNS, size=ms["kappa_runs"],
                    color=black, alpha=_style.ALPHA["kappa_runs"], zorder=3)
    condition_means(ax, df, "r_vs_base", conds, gid=GID_MEAN, label=LABEL_MEAN, size=ms["kappa_mean"],
                    color=black, alpha=_style.ALPHA["kappa_mean"], zorder=4)
    undefined_notes(ax, df, "r_vs_base", conds)
    y = df["r_vs_base"].to_numpy(float)
    lo = float(np.nanmin(y)) if np.isfinite(y).any() else 0.0
    ax.set_ylim(min(0.0, lo - 0.05), 1.05)
    condition_axis(ax, conds)
    ax.set_ylabel(YLABEL)
    if title:
        ax.set_title(title)
    ax.legend(loc="lower left", ncols=2)


def _rdm(ax, name: str, matrix) -> None:
    """One RDM as a heat map (``sns.heatmap``, rasterised) with its colour bar; the mesh gets ``gid``
    :data:`GID_RDM`. Drawing costs grow with n^2 cells: about 1 s for the default 1,000 images."""
    m = np.asarray(matrix, dtype=np.float32)
    sns.heatmap(m, ax=ax, cmap=_RDM_CMAP, vmin=0, vmax=max(float(np.nanmax(m)), 1e-6), square=True,
                xticklabels=False, yticklabels=False, rasterized=True, cbar_kws={"shrink": 0.8, "label": "1 - r"})
    mesh = ax.collections[0]
    mesh.set_gid(GID_RDM)
    mesh.colorbar.outline.set_linewidth(_style.RC["axes.linewidth"])  # seaborn hides the outline
    for side, spine in ax.spines.items():  # heatmap removes the axes frame: back to the style's
        spine.set_visible(mpl.rcParams[f"axes.spines.{side}"])
    ax.set_title(f"RDM: {name}", fontsize=_style.RC["legend.fontsize"])


def plot_rsa_vs_base(table: pd.DataFrame, *, rdms: dict | None = None, order=_style.CONDITIONS,
                     title: str | None = None, note: str | None = None):
    """Figure 7 from an RSA table.

    Parameters
    ----------
    table : DataFrame with columns condition, name, r_vs_base (float, NaN allowed), one row per
        comparison (:func:`ddd.analysis.representations.rsa_vs_base`).
    rdms : optional ``{name: (n, n) RDM}``; the first is drawn as the base's RDM, the second (if
        any) beside it, each titled with its name.
    order : condition order on x; conditions absent are skipped, others appended.
    title, note : optional axes title and a note under the figure.

    Returns
    -------
    matplotlib Figure drawn with seaborn; its first axes holds the dots: the networks a strip plot
    (scatter collections, one per condition, ``gid`` :data:`GID_RUNS`), the means a point plot
    (a Line2D, ``gid`` :data:`GID_MEAN`, one point per condition with a finite r). RDM axes carry
    heat maps (QuadMesh) with ``gid`` :data:`GID_RDM`.
    """
    df = checked_table(table, _COLUMNS, value="r_vs_base", what="RSA table")
    conds = condition_order(df["condition"], order)
    if not conds:
        raise FigureNotApplicable("the RSA table is empty")
    rdms = dict(list((rdms or {}).items())[:2])
    with _style.style():
        fig, ax, rdm_axes = _layout(len(rdms))
        _dots(ax, df, conds, title)
        for rax, (name, matrix) in zip(rdm_axes, rdms.items()):
            _rdm(rax, name, matrix)
        _style.note(fig, note)
    return fig


def figure_07(rsa_tsv, *, png, pdf, rdms_npz=None, study: str | None = None, order=_style.CONDITIONS) -> None:
    """Write Figure 7 of a study.

    Parameters
    ----------
    rsa_tsv : ``rsa.tsv`` (:func:`ddd.analysis.representations.rsa_vs_base`'s table: condition, name, other, epoch,
        r_vs_base, n_images, ...).
    png, pdf : output paths.
    rdms_npz : optional ``rsa_rdms.npz`` with ``names`` (str) and one RDM per name (``rdm_0``, ...).
    study : the study's name, for the title.
    order : condition order on x.
    """
    table = read_rsa_table(rsa_tsv)
    rdms = None if rdms_npz is None else read_rdms(rdms_npz)
    n = int(table["n_images"].max()) if "n_images" in table.columns and len(table) else None
    what = "representational similarity with the base" + (f" ({n} images)" if n else "")
    title = (f"{study}: " if study else "") + what
    note = None
    epochs = sorted(set(table["epoch"].astype(int))) if "epoch" in table.columns and len(table) else []
    if len(epochs) > 1:  # the conditions' recipes differ in E: say so rather than hide it
        note = f"Networks at their nominal final epochs, which differ: {', '.join(map(str, epochs))}."
    fig = plot_rsa_vs_base(table, rdms=rdms, order=order, title=title, note=note)
    _style.save(fig, png, pdf)
