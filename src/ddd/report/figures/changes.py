"""Figure 12: how many decisions change from one epoch to the next (the numbers: :mod:`ddd.analysis.changes`).

One line per condition: the mean over the condition's runs (decisions files, each once; the
plus-epoch decision makers are the base run, half data's networks are those of different data) at
each transition, drawn at the epoch the transition starts from (x = e for e -> e + 1, as the
authors). A run is drawn through its last stored epoch (the base run's 10 extra epochs included).
"""

from __future__ import annotations

import warnings

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd
import seaborn as sns

from ddd.analysis.changes import condition_changes, mean_changes, per_run_changes
from ddd.report import style as _style

__all__ = ["plot_decision_changes", "figure_12", "LABELS"]

LABELS = {"label_change": "Predicted label changes", "correctness_flip": "Correctness flips"}


def _lines(ax, means: pd.DataFrame, key: str, conds: list[str]) -> None:
    """One line per condition (``sns.lineplot``, hue = condition, the style's condition colours; the
    rows are already the means, so no estimate and no interval); each line then gets its condition's
    display name as label and its id as ``gid``, and markers where it has at most 12 points."""
    before = len(ax.lines)
    data = pd.DataFrame({"condition": means["condition"].to_numpy(), "epoch": means["epoch"].to_numpy(),
                         "percent": 100 * means[key].to_numpy(float)})
    sns.lineplot(data=data, x="epoch", y="percent", hue="condition", hue_order=conds,
                 palette={c: _style.condition_color(c, i) for i, c in enumerate(conds)}, estimator=None,
                 errorbar=None, linewidth=1.8, markersize=3.5, markeredgecolor="auto",
                 markeredgewidth=mpl.rcParams["lines.markeredgewidth"], legend=False, ax=ax)
    lines = ax.lines[before:]
    if len(lines) != len(conds):  # seaborn draws the hue levels in hue_order, one line each
        raise RuntimeError(f"expected {len(conds)} lines from seaborn, got {len(lines)}")
    for line, c in zip(lines, conds):
        line.set_label(_style.display_name(c))
        line.set_gid(c)
        line.set_marker("o" if (data["condition"] == c).sum() <= 12 else "")


def plot_decision_changes(means: pd.DataFrame, *, nominal_epoch: int | None = None, title: str | None = None,
                          note: str | None = None):
    """Figure 12 from :func:`condition_changes`: two panels (label changes, correctness flips),
    one line per condition (seaborn ``lineplot``; each line's ``gid`` = the condition id), percent
    of the evaluation images.

    ``nominal_epoch``: E, marked with a dotted vertical line when some run goes beyond it.
    """
    with _style.style():
        fig, axes = plt.subplots(1, 2, figsize=_style.SIZES["decision_changes"], layout="constrained",
                                 sharey=True)
        conds = list(dict.fromkeys(means["condition"]))
        for ax, key in zip(axes, ("label_change", "correctness_flip")):
            if conds:
                _lines(ax, means, key, conds)
            else:
                ax.text(0.5, 0.5, "no run has two stored epochs", transform=ax.transAxes, ha="center",
                        va="center", color=_style.COLORS["note"], fontstyle="italic")
            if nominal_epoch is not None and len(means) and means["epoch"].max() >= nominal_epoch:
                ax.axvline(nominal_epoch, color=_style.COLORS["zero_line"], linestyle=":", linewidth=1)
            ax.set_title(LABELS[key])
            ax.set_xlabel("Epoch e (transition e → e + 1)")
            ax.set_ylabel("")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", color="0.9", linewidth=0.6)
        axes[0].set_ylabel("Evaluation images (%)")
        if title:
            fig.suptitle(title)
        if conds:
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                       ncols=min(5, len(conds)))
        _style.note(fig, note)
    return fig


def figure_12(decision_makers, *, png, pdf, study: str = "", order=_style.CONDITIONS) -> None:
    """Write Figure 12 of a study.

    Parameters
    ----------
    decision_makers : the study's decision makers; every distinct decisions file is one run, under the
        condition of its decision maker (plus-epoch decision makers add nothing).
    png, pdf : output paths.
    study : study name for the title.
    order : condition order of the lines.
    """
    per_run, runs = per_run_changes(decision_makers)
    means = condition_changes(per_run, order=order)
    nominal = min(r.epoch for r in runs)
    final = {r.name: nominal for r in runs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        avg, later = (mean_changes(per_run, final, without_0_to_1=w)[["label_change", "correctness_flip"]].mean()
                      for w in (False, True))
    notes = []
    if len(per_run):
        notes.append(f"Mean over runs of each run's mean over its transitions up to epoch {nominal}: labels change "
                     f"for {avg['label_change']:.1%}, correctness flips for {avg['correctness_flip']:.1%} of the "
                     f"images per epoch"
                     + (f"; without the 0 → 1 transition {later['label_change']:.1%} and "
                        f"{later['correctness_flip']:.1%}." if np.isfinite(later["label_change"]) else "."))
    identical = per_run.attrs.get("identical") or {}
    if identical:
        notes.append("Identical predictions, lines coincide: "
                     + "; ".join(f"{k} = {', '.join(v)}" for k, v in identical.items()) + ".")
    one = [r.name for r in runs if not (per_run["run"] == r.name).any()]
    if one:
        notes.append(f"Single evaluation, no transition: {', '.join(one)}.")
    what = "decisions that change from one epoch to the next"
    fig = plot_decision_changes(means, nominal_epoch=nominal, note=" ".join(notes) or None,
                                title=(f"{study}: " if study else "") + what)
    _style.save(fig, png, pdf)
