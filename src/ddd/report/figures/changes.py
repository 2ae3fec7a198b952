"""Figure 12: how many decisions change from one epoch to the next.

For every run and every transition between consecutive stored epochs e -> e', two fractions of the
evaluation images: those whose predicted label changes (``label_change``), and those whose
correctness flips, right to wrong or wrong to right (``correctness_flip``; a flip implies a label
change, so it is never larger). The paper's "on average 12.37 % of the decisions swap every epoch"
does not say which of the two it means and is not traceable to the authors' code, so both are
drawn, in two panels.

One line per condition: the mean over the condition's runs (decisions files, each once; the
plus-epoch decision makers are the base run, half data's networks are those of different data) at
each transition, drawn at the epoch the transition starts from (x = e for e -> e + 1, as the
authors). A run is drawn through its last stored epoch (the base run's 10 extra epochs included).
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd

from ddd.report import style as _style
from ddd.report.figures.common import as_entries, load_runs, runs_of
from ddd.report.figures.kappa import condition_order

__all__ = ["decision_changes", "condition_changes", "plot_decision_changes", "figure_12", "LABELS"]

LABELS = {"label_change": "Predicted label changes", "correctness_flip": "Correctness flips"}


def decision_changes(predictions, targets, epochs=None) -> pd.DataFrame:
    """Per transition between consecutive rows of one run's predictions.

    Parameters
    ----------
    predictions : int (T, N); targets : int (N,); epochs : int (T,) (default 0..T-1).

    Returns
    -------
    DataFrame with T-1 rows: ``epoch`` (the transition's start), ``next_epoch``, ``label_change``
    and ``correctness_flip`` (fractions of the N images). Empty for T = 1.
    """
    p = np.asarray(predictions)
    t = np.asarray(targets)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"predictions must be (T, N >= 1), got shape {p.shape}")
    if t.shape != (p.shape[1],):
        raise ValueError(f"targets must have shape ({p.shape[1]},), got {t.shape}")
    ep = np.arange(p.shape[0]) if epochs is None else np.asarray(epochs)
    if ep.shape != (p.shape[0],):
        raise ValueError(f"epochs must have shape ({p.shape[0]},), got {ep.shape}")
    c = p == t[None, :]
    return pd.DataFrame({"epoch": ep[:-1].astype(np.int64), "next_epoch": ep[1:].astype(np.int64),
                         "label_change": (p[1:] != p[:-1]).mean(axis=1),
                         "correctness_flip": (c[1:] != c[:-1]).mean(axis=1)})


def condition_changes(per_run: pd.DataFrame, *, order=_style.CONDITIONS) -> pd.DataFrame:
    """Mean over each condition's runs at each transition.

    Parameters
    ----------
    per_run : DataFrame with columns condition, run, epoch, label_change, correctness_flip
        (e.g. :func:`decision_changes` of each run with its condition and name added).

    Returns
    -------
    DataFrame condition, epoch, label_change, correctness_flip, n_runs (runs with that transition),
    conditions in ``order`` (others appended), then by epoch.
    """
    if per_run.empty:
        return pd.DataFrame(columns=["condition", "epoch", "label_change", "correctness_flip", "n_runs"])
    g = per_run.groupby(["condition", "epoch"], sort=False)
    out = g[["label_change", "correctness_flip"]].mean().reset_index()
    out["n_runs"] = g["run"].nunique().to_numpy()
    pos = {c: i for i, c in enumerate(condition_order(out["condition"], order))}
    out["_x"] = out["condition"].map(pos)
    return out.sort_values(["_x", "epoch"], kind="stable").drop(columns="_x").reset_index(drop=True)


def plot_decision_changes(means: pd.DataFrame, *, nominal_epoch: int | None = None, title: str | None = None,
                          note: str | None = None):
    """Figure 12 from :func:`condition_changes`: two panels (label changes, correctness flips),
    one line per condition (``gid`` = the condition id), percent of the evaluation images.

    ``nominal_epoch``: E, marked with a dotted vertical line when some run goes beyond it.
    """
    with _style.style():
        fig, axes = plt.subplots(1, 2, figsize=_style.SIZES["decision_changes"], layout="constrained",
                                 sharey=True)
        conds = list(dict.fromkeys(means["condition"]))
        for ax, key in zip(axes, ("label_change", "correctness_flip")):
            for i, c in enumerate(conds):
                d = means[means["condition"] == c]
                ax.plot(d["epoch"], 100 * d[key], color=_style.condition_color(c, i), linewidth=1.8,
                        marker="o" if len(d) <= 12 else None, markersize=3.5, label=_style.display_name(c), gid=c)
            if nominal_epoch is not None and len(means) and means["epoch"].max() >= nominal_epoch:
                ax.axvline(nominal_epoch, color=_style.COLORS["zero_line"], linestyle=":", linewidth=1)
            ax.set_title(LABELS[key])
            ax.set_xlabel("Epoch e (transition e → e + 1)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", color="0.9", linewidth=0.6)
            if not conds:
                ax.text(0.5, 0.5, "no run has two stored epochs", transform=ax.transAxes, ha="center",
                        va="center", color=_style.COLORS["note"], fontstyle="italic")
        axes[0].set_ylabel("Evaluation images (%)")
        if title:
            fig.suptitle(title)
        if conds:
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                       ncols=min(5, len(conds)))
        _style.note(fig, note)
    return fig


def per_run_changes(entries) -> tuple[pd.DataFrame, list]:
    """:func:`decision_changes` of every run of a study, with columns condition and run added.

    Returns ``(frame, runs)``; ``frame.attrs["identical"]`` maps a run to the later runs with
    identical predictions at every epoch up to their final epoch (their lines coincide there)."""
    runs = runs_of(entries)
    data = load_runs([r.path for r in runs])
    frames, first, identical = [], {}, {}
    for r in runs:
        d = data[r.path]
        key = np.ascontiguousarray(d.predictions[d.epochs <= r.epoch]).tobytes()  # up to its final epoch
        if first.setdefault(key, r.name) != r.name:
            identical.setdefault(first[key], []).append(r.name)
        f = decision_changes(d.predictions, d.targets, d.epochs)
        f.insert(0, "run", r.name)
        f.insert(0, "condition", "different_data" if r.condition == "half_data" else r.condition)
        frames.append(f)
    cols = ["condition", "run", "epoch", "next_epoch", "label_change", "correctness_flip"]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    frame.attrs["identical"] = identical
    return frame, runs


def figure_12(entries, *, png, pdf, study: str = "", order=_style.CONDITIONS) -> None:
    """Write Figure 12 of a study.

    Parameters
    ----------
    entries : the study's decision makers; every distinct decisions file is one run, under the
        condition of its decision maker (plus-epoch decision makers add nothing).
    png, pdf : output paths.
    study : study name for the title.
    order : condition order of the lines.
    """
    per_run, runs = per_run_changes(as_entries(entries))
    means = condition_changes(per_run, order=order)
    nominal = min(r.epoch for r in runs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        avg = per_run[per_run["epoch"] < nominal][["label_change", "correctness_flip"]].mean()
    notes = []
    if len(per_run):
        notes.append(f"Mean over runs and transitions up to epoch {nominal}: labels change for "
                     f"{avg['label_change']:.1%}, correctness flips for {avg['correctness_flip']:.1%} "
                     f"of the images per epoch.")
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
