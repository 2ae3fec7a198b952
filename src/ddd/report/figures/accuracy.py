"""Figure 9 (final accuracy per condition) and Figure 15 (class accuracies of the base network).

Figure 9: one small black dot per decision maker (its accuracy at its final epoch, from
``summary.json``'s ``accuracy_all``; a seaborn strip plot without jitter), the condition mean as a
larger black dot (a seaborn point plot without line or interval), conditions in the
paper's order (:data:`ddd.experiment.conditions.CONDITIONS`; others appended). The two networks trained on
disjoint halves appear once, under "Different data" (half data has no networks of its own); the
paper's Figure 9 shows the means only.

Figure 15: accuracy of the base network (at its final epoch) on every class, sorted descending,
against the class's rank. One unaggregated line with nothing for seaborn to map (no grouping, no
estimate), so it stays a plain matplotlib ``plot``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ddd.analysis.accuracy import condition_accuracy, maker_class_accuracy, sorted_class_accuracy
from ddd.experiment.makers import as_decision_makers
from ddd.report import style as _style
from ddd.report.figures.common import (FigureNotApplicable, base_of, condition_axis, condition_means,
                                       condition_strip, study_title)
from ddd.results.study import read_summary

__all__ = ["plot_condition_accuracy", "figure_09", "plot_class_accuracy", "figure_15", "GID_RUNS", "GID_MEAN",
           "GID_CLASS_LINE"]

GID_RUNS, GID_MEAN, GID_CLASS_LINE = "accuracy_runs", "accuracy_mean", "class_accuracy_line"


def plot_condition_accuracy(df: pd.DataFrame, *, title: str | None = None, note: str | None = None):
    """Figure 9 from :func:`condition_accuracy`: dots per decision maker, larger dots for condition means.

    Returns a Figure with one axes, drawn with seaborn: the decision makers a strip plot (scatter
    collections, one per condition, ``gid`` :data:`GID_RUNS`), the means a point plot (a Line2D,
    ``gid`` :data:`GID_MEAN`, one point per condition). No interval is drawn.
    """
    if df.empty:
        raise FigureNotApplicable("no decision maker with an accuracy")
    conds = list(dict.fromkeys(df["condition"]))
    black, ms = _style.COLORS["accuracy"], _style.MARKER_SIZES
    with _style.style():
        fig, ax = plt.subplots(figsize=_style.SIZES["accuracy"], layout="constrained")
        condition_strip(ax, df, "accuracy", conds, gid=GID_RUNS, label="decision maker", size=ms["kappa_runs"],
                        color=black, alpha=_style.ALPHA["kappa_runs"], zorder=3)
        condition_means(ax, df, "accuracy", conds, gid=GID_MEAN, label="condition mean", size=ms["kappa_mean"],
                        color=black, zorder=4)
        lo, hi = float(df["accuracy"].min()), float(df["accuracy"].max())
        pad = max(0.02, 0.15 * (hi - lo))
        ax.set_ylim(max(0.0, lo - pad), min(1.0, hi + pad) + 0.005)
        condition_axis(ax, conds)
        ax.set_ylabel("Accuracy at the final epoch")
        ax.grid(axis="y", color="0.9", linewidth=0.6, zorder=0)
        if title:
            ax.set_title(title)
        fig.legend(loc="outside lower center", ncols=2)
        _style.note(fig, note)
    return fig


def figure_09(summary_json, decision_makers, *, png, pdf, order=_style.CONDITIONS) -> None:
    """Write Figure 9 of a study.

    Parameters
    ----------
    summary_json : ``summary.json`` (``accuracy_all``: every decision maker's final accuracy; ``study``).
    decision_makers : the study's decision makers (for each name's condition).
    png, pdf : output paths.
    order : condition order on x (default the paper's).
    """
    summary = read_summary(summary_json)
    conds = {m.name: m.condition for m in as_decision_makers(decision_makers)}
    acc = summary.get("accuracy_all") or summary.get("accuracy") or {}
    df = condition_accuracy(acc, conds, order=order)
    notes = []
    missing = sorted(set(conds) - set(acc))
    if missing:
        notes.append(f"No accuracy in the summary for {', '.join(missing)}.")
    if "different_data" in set(df["condition"]):
        notes.append("Different data: the two networks trained on disjoint halves (also the half-data networks).")
    fig = plot_condition_accuracy(df, title=study_title(summary, "final accuracy per condition"),
                                  note=" ".join(notes) or None)
    _style.save(fig, png, pdf)


def plot_class_accuracy(sorted_acc, *, title: str | None = None, note: str | None = None):
    """Figure 15 from the sorted accuracies: a line against class rank (1 = best).

    Returns a Figure with one axes; the line carries ``gid`` :data:`GID_CLASS_LINE`.
    """
    acc = np.asarray(sorted_acc, dtype=np.float64)
    if acc.size == 0:
        raise FigureNotApplicable("no class has evaluation images")
    with _style.style():
        fig, ax = plt.subplots(figsize=_style.SIZES["class_accuracy"], layout="constrained")
        rank = np.arange(1, acc.size + 1)
        ax.plot(rank, acc, color=_style.COLORS["class_accuracy"], linewidth=2.5, gid=GID_CLASS_LINE,
                marker="o" if acc.size <= 20 else None)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlim(0.5 if acc.size > 1 else 0, acc.size + 0.5)
        ax.set_xlabel("Class, sorted by accuracy (rank)")
        ax.set_ylabel("Accuracy of the base network")
        ax.grid(axis="y", color="0.9", linewidth=0.6, zorder=0)
        if title:
            ax.set_title(title)
        _style.note(fig, note)
    return fig


def figure_15(decision_makers, *, png, pdf, base: str = "base", study: str = "") -> None:
    """Write Figure 15 of a study: the base network's class accuracies, sorted descending.

    Parameters
    ----------
    decision_makers : the study's decision makers; the base one is read at its epoch.
    png, pdf : output paths.
    study : study name for the title.
    """
    e = base_of(decision_makers, base=base)
    acc, _ = maker_class_accuracy(e)
    sorted_acc, _ = sorted_class_accuracy(acc)
    empty = int(np.isnan(acc).sum())
    note = f"{empty} classes without evaluation images left out." if empty else None
    fig = plot_class_accuracy(sorted_acc, note=note, title=(f"{study}: " if study else "")
                              + f"class accuracy of the base network (epoch {e.epoch})")
    _style.save(fig, png, pdf)
