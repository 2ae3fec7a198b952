"""Figure 6: error consistency (κ) between conditions, on all images and on the in-between images.

The matrices: :mod:`ddd.analysis.matrices` (groups, order, means over pairs). Left panel: all evaluation images. Right panel: in-between images only, those neither trivial nor
impossible under the "all but one" rule (right for at least 2 and at most n-2 of the n distinct
decision makers: ``split.tsv`` column ``all_but_one == "in_between"``). The authors' caption swaps
left and right; their code (and this figure) has all images on the left.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ddd.analysis.matrices import MATRIX_ORDER, condition_groups, condition_kappa_matrix, in_between_mask
from ddd.experiment.makers import as_decision_makers
from ddd.report import style as _style
from ddd.report.figures.common import study_title
from ddd.results.decisions import read_final
from ddd.results.study import read_split, read_summary

__all__ = ["plot_kappa_matrices", "figure_06", "TITLE_ALL", "TITLE_IN_BETWEEN", "GID_MATRIX"]

TITLE_ALL = "All evaluation images"
TITLE_IN_BETWEEN = "In-between images only (trivial and impossible removed)"
GID_MATRIX = "kappa_matrix"


def _panel_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, textwrap.fill(text, 34, break_on_hyphens=False), transform=ax.transAxes, ha="center", va="center",
            color=_style.COLORS["note"], fontstyle="italic", gid="matrix_note",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def _draw(ax, m: np.ndarray, labels, *, ylabels: bool, title: str, gid: str | None = GID_MATRIX):
    """One square heat map (``sns.heatmap``): κ in every defined cell (2 decimals), undefined cells
    blank (``COLORS["matrix_missing"]``), a light cell grid so blank cells still show the matrix.
    Returns the QuadMesh (``gid`` set)."""
    g = len(labels)
    cmap = plt.get_cmap(_style.CMAPS["kappa_matrix"]).with_extremes(bad=_style.COLORS["matrix_missing"])
    before, texts = len(ax.collections), len(ax.texts)
    sns.heatmap(m, ax=ax, cmap=cmap, vmin=0, vmax=1, square=True, cbar=False, annot=True, fmt=".2f",
                annot_kws={"fontsize": max(5.5, min(10.0, 110.0 / max(g, 1)))}, linewidths=0.6, linecolor="0.85",
                xticklabels=labels, yticklabels=labels if ylabels else False)
    mesh = ax.collections[before]
    mesh.set_gid(gid)
    # Seaborn annotates the finite cells row by row; white on the dark cells (κ > 0.6), black elsewhere,
    # as before (seaborn's luminance rule puts white on the light-medium blues, harder to read).
    for text, v in zip(ax.texts[texts:], m[np.isfinite(m)]):
        text.set_color("white" if v > 0.6 else "black")
    ax.set_xticks(np.arange(g) + 0.5, labels, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(g) + 0.5, labels if ylabels else [""] * g, rotation=0, va="center")
    ax.tick_params(which="both", length=0)
    ax.set_title(title)
    if not np.isfinite(m).any():
        _panel_note(ax, "κ is undefined for every pair.")
    return mesh


def plot_kappa_matrices(all_images: pd.DataFrame, in_between: pd.DataFrame | None, *, title: str | None = None,
                        right_note: str | None = None, note: str | None = None):
    """Figure 6: two square heat maps, left all images, right in-between images only.

    Parameters
    ----------
    all_images, in_between : (G, G) DataFrames from :func:`condition_kappa_matrix` (same order);
        ``in_between`` None, or all NaN, leaves the right panel empty with ``right_note`` in it.
    title : figure title; note : text under the figure.

    Returns
    -------
    matplotlib Figure with two axes (left, right) and a colour bar; the drawn matrices are seaborn
    heat maps, whose QuadMesh carries ``gid`` :data:`GID_MATRIX` (an empty right panel's has none).
    """
    labels = [_style.short_name(c) for c in all_images.index]
    with _style.style():
        fig, (left, right) = plt.subplots(1, 2, figsize=_style.SIZES["kappa_matrix"], layout="constrained")
        mesh = _draw(left, all_images.to_numpy(float), labels, ylabels=True, title=TITLE_ALL)
        if in_between is not None and np.isfinite(in_between.to_numpy(float)).any():
            _draw(right, in_between.to_numpy(float), labels, ylabels=False, title=TITLE_IN_BETWEEN)
        else:  # the empty grid, with the reason in it
            _draw(right, np.full((len(labels),) * 2, np.nan), labels, ylabels=False, title=TITLE_IN_BETWEEN,
                  gid=None)
            _panel_note(right, right_note or "No in-between images.")
        cb = fig.colorbar(mesh, ax=[left, right], shrink=0.8, pad=0.01)
        cb.set_label("Error consistency (κ), mean over pairs")
        if title:
            fig.suptitle(title)
        _style.note(fig, note)
    return fig


def figure_06(decision_makers, split_tsv, summary_json, *, png, pdf, undefined: str = "nan",
              order=MATRIX_ORDER) -> None:
    """Write Figure 6 of a study.

    Parameters
    ----------
    decision_makers : the study's decision makers, each read at its epoch.
    split_tsv : ``split.tsv``; its ``all_but_one`` column selects the in-between images (right panel).
    summary_json : ``summary.json`` (``study`` for the title).
    png, pdf : output paths.
    undefined : κ of undefined pairs (the study's ``analysis.undefined_kappa``).
    order : group order (default :data:`ddd.analysis.matrices.MATRIX_ORDER`).
    """
    makers = as_decision_makers(decision_makers)
    final = read_final(makers)
    groups, ordered = condition_groups([m.condition for m in makers], order)
    full = condition_kappa_matrix(final.correct, groups, order=ordered, undefined=undefined)
    summary = read_summary(summary_json)
    mask = in_between_mask(read_split(split_tsv), final.image_ids, source=split_tsv)
    notes, right_note, inner = [], None, None
    if mask is None:
        right_note = (f"No in-between subset: the all-but-one rule needs at least 3 distinct decision makers "
                      f"(this study has {summary.get('n_decision_makers', '?')}).")
    elif not mask.any():
        right_note = "No in-between images: every image is trivial or impossible under the all-but-one rule."
    else:
        inner = condition_kappa_matrix(final.correct, groups, order=ordered, mask=mask, undefined=undefined)
        notes.append(f"Right: {int(mask.sum()):,} of {mask.size:,} images ({mask.mean():.1%}) are in-between.")
        if not np.isfinite(inner.to_numpy()).any():
            right_note = "κ is undefined for every pair on the in-between images."
    if np.isnan(full.to_numpy()).any() or (inner is not None and np.isnan(inner.to_numpy()).any()):
        notes.append("Blank cells: κ undefined (a decision maker 100 % right or 100 % wrong on those images).")
    merged = summary.get("merged") or {}
    if merged:
        notes.append("Identical decisions: " + "; ".join(f"{k} = {', '.join(v)}" for k, v in merged.items()) + ".")
    if "half_data" in ordered:
        notes.append("Half data = the two networks trained on disjoint halves (the paper's different data).")
    fig = plot_kappa_matrices(full, inner, title=study_title(summary, "error consistency between conditions"),
                              right_note=right_note, note=" ".join(notes) or None)
    _style.save(fig, png, pdf)
