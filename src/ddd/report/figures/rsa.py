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

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ddd.experiment.conditions import condition_order
from ddd.report import style as _style
from ddd.report.figures.common import FigureNotApplicable
from ddd.report.figures.kappa import dots_and_means
from ddd.results.representations import read_rdms, read_rsa_table

__all__ = ["plot_rsa_vs_base", "figure_07", "YLABEL", "GID_RUNS", "GID_MEAN", "GID_RDM"]

YLABEL = "Representational similarity with the base\n(Pearson r of RDMs)"
LABEL_RUNS, LABEL_MEAN = "network", "condition mean"
GID_RUNS, GID_MEAN, GID_RDM = "rsa_runs", "rsa_mean", "rsa_rdm"
_COLUMNS = ("condition", "name", "r_vs_base")
_RDM_CMAP = "viridis"


def plot_rsa_vs_base(table: pd.DataFrame, *, rdms: dict | None = None, order=_style.CONDITIONS,
                     title: str | None = None, note: str | None = None):
    """Figure 7 from an RSA table.

    Parameters
    ----------
    table : DataFrame with columns condition, name, r_vs_base (float, NaN allowed), one row per
        comparison (:func:`ddd.analysis.rsa.rsa_vs_base`).
    rdms : optional ``{name: (n, n) RDM}``; the first is drawn as the base's RDM, the second (if
        any) beside it, each titled with its name.
    order : condition order on x; conditions absent are skipped, others appended.
    title, note : optional axes title and a note under the figure.

    Returns
    -------
    matplotlib Figure; its first axes holds the dots (scatter ``gid`` :data:`GID_RUNS` and
    :data:`GID_MEAN`, one mean per condition with a finite r); RDM axes carry images with
    ``gid`` :data:`GID_RDM`.
    """
    missing = set(_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"RSA table lacks columns {sorted(missing)}; needs {', '.join(_COLUMNS)}")
    df = table.copy()
    df["r_vs_base"] = pd.to_numeric(df["r_vs_base"], errors="raise").astype(float)
    conds = condition_order(df["condition"], order)
    if not conds:
        raise FigureNotApplicable("the RSA table is empty")
    xpos = {c: i for i, c in enumerate(conds)}
    x, y, ok, means = dots_and_means(df, "r_vs_base", conds)
    rdms = dict(list((rdms or {}).items())[:2])
    black = _style.COLORS["kappa"]
    ms = _style.MARKER_SIZES
    with _style.style():
        if rdms:
            fig = plt.figure(figsize=(_style.SIZES["kappa"][0] + 3.2, _style.SIZES["kappa"][1]), layout="constrained")
            grid = fig.add_gridspec(2, 2, width_ratios=[3.2, 1])
            ax = fig.add_subplot(grid[:, 0])
            rdm_axes = [fig.add_subplot(grid[i, 1]) for i in range(len(rdms))]
        else:
            fig, ax = plt.subplots(figsize=_style.SIZES["kappa"], layout="constrained")
            rdm_axes = []
        ax.axhline(0, color=_style.COLORS["zero_line"], linestyle="--", linewidth=0.8, zorder=1)
        ax.scatter(x[ok], y[ok], s=ms["kappa_runs"], color=black, alpha=_style.ALPHA["kappa_runs"], linewidths=0,
                   label=LABEL_RUNS, gid=GID_RUNS, zorder=3)
        ax.scatter([m[0] for m in means], [m[1] for m in means], s=ms["kappa_mean"], color=black,
                   alpha=_style.ALPHA["kappa_mean"], label=LABEL_MEAN, gid=GID_MEAN, zorder=4)
        for c in conds:
            if not np.isfinite(df.loc[df["condition"] == c, "r_vs_base"]).any():
                ax.text(xpos[c], 0.5, "undefined", rotation=90, ha="center", va="center",
                        color=_style.COLORS["undefined"], fontstyle="italic")
        lo = float(np.nanmin(y)) if ok.any() else 0.0
        ax.set_ylim(min(0.0, lo - 0.05), 1.05)
        ax.set_xlim(-0.6, len(conds) - 0.4)
        ax.set_xticks(range(len(conds)), [_style.display_name(c) for c in conds], rotation=45, ha="right",
                      rotation_mode="anchor")
        ax.set_ylabel(YLABEL)
        if title:
            ax.set_title(title)
        ax.legend(loc="lower left", ncols=2)
        for rax, (name, matrix) in zip(rdm_axes, rdms.items()):
            m = np.asarray(matrix, dtype=np.float32)
            im = rax.imshow(m, cmap=_RDM_CMAP, vmin=0, vmax=max(float(np.nanmax(m)), 1e-6),
                            interpolation="nearest", gid=GID_RDM)
            rax.set_xticks([])
            rax.set_yticks([])
            rax.set_title(f"RDM: {name}", fontsize=_style.RC["legend.fontsize"])
            fig.colorbar(im, ax=rax, shrink=0.8, label="1 - r")
        _style.note(fig, note)
    return fig


def figure_07(rsa_tsv, *, png, pdf, rdms_npz=None, study: str | None = None, order=_style.CONDITIONS) -> None:
    """Write Figure 7 of a study.

    Parameters
    ----------
    rsa_tsv : ``rsa.tsv`` (:func:`ddd.analysis.rsa.rsa_vs_base`'s table: condition, name, other, epoch,
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
