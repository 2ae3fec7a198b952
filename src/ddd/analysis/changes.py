"""Decisions that change from one epoch to the next (Figure 12 and the headline's swap rates).

For every run and every transition between consecutive stored epochs e -> e', two fractions of the
evaluation images: those whose predicted label changes (``label_change``), and those whose
correctness flips, right to wrong or wrong to right (``correctness_flip``; a flip implies a label
change, so it is never larger). The paper's "on average 12.37 % of the decisions swap every epoch"
does not say which of the two it means and is not traceable to the authors' code
(docs/reproduction.md#figures-and-tables), so both are computed. Per condition: the mean over its
runs (decisions files, each once; the plus-epoch decision makers are the base run, half data's
networks are those of different data) at each transition. Per run (:func:`mean_changes`): the mean
over its transitions up to its final epoch, with or without the first transition 0 -> 1 (from the
untrained network evaluated before training to the first epoch, which changes far more decisions
than any later one and so dominates a short run's mean).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ddd.experiment.conditions import CONDITIONS, condition_order
from ddd.experiment.makers import one_per_file
from ddd.results.decisions import read_many

__all__ = ["decision_changes", "condition_changes", "per_run_changes", "mean_changes"]


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


def condition_changes(per_run: pd.DataFrame, *, order=CONDITIONS) -> pd.DataFrame:
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


def per_run_changes(decision_makers) -> tuple[pd.DataFrame, list]:
    """:func:`decision_changes` of every run of a study, with columns condition and run added.

    Returns ``(frame, runs)``; ``frame.attrs["identical"]`` maps a run to the later runs with
    identical predictions at every epoch up to their final epoch (their lines coincide there)."""
    runs = one_per_file(decision_makers)
    data = read_many([r.path for r in runs])
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


def mean_changes(per_run: pd.DataFrame, final_epochs: dict, *, without_0_to_1: bool = False) -> pd.DataFrame:
    """Each run's mean change rates over its transitions up to its final epoch.

    Parameters
    ----------
    per_run : :func:`per_run_changes`'s frame (columns run, epoch, label_change, correctness_flip).
    final_epochs : run name -> its final epoch E; the transitions e -> e' with e < E are averaged
        (a run not in ``per_run`` gets NaN).
    without_0_to_1 : leave out the transition that starts at epoch 0 (0 -> 1).

    Returns
    -------
    DataFrame indexed by run (in ``final_epochs``' order) with columns label_change,
    correctness_flip (means, NaN without transitions) and n_transitions (int).
    """
    missing = {"run", "epoch", "label_change", "correctness_flip"} - set(per_run.columns)
    if missing:
        raise ValueError(f"per_run lacks columns {sorted(missing)}")
    final = per_run["run"].map(final_epochs)
    keep = per_run["epoch"].to_numpy() < final.to_numpy(float)        # NaN (unknown run) compares False
    if without_0_to_1:
        keep &= per_run["epoch"].to_numpy() != 0
    g = per_run[keep].groupby("run", sort=False)
    runs = pd.Index(list(final_epochs), name="run")
    out = g[["label_change", "correctness_flip"]].mean().reindex(runs).astype(float)
    out["n_transitions"] = g.size().reindex(runs).fillna(0).astype(np.int64)
    return out
