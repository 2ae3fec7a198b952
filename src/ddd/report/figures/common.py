"""What the figure modules share: reading a study's inputs and the exception for figures a study cannot have.

Inputs of the figures (all declared, nothing found by globbing):

``entries``       the study's decision makers, a list of :class:`ddd.analysis.summary.Entry` or dicts with keys
                  ``name, condition, path, epoch`` (``ddd.config.Config.entries``): a decisions file
                  and the epoch that counts as that decision maker's final one.
``summary.json``, ``split.tsv``, ``kappa_vs_base.tsv``: the outputs of ``ddd.analysis.summary.summarize``.

A *run* is one decisions file. Plus-epoch decision makers are the base run's later epochs, so a
run can stand behind several decision makers; :func:`runs_of` lists every file once, under the
condition of its first decision maker that is not a plus-epoch one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ddd.results.decisions import Decisions, check_same_images, check_same_study, read_correct_rows, read_decisions, read_ids_epochs
from ddd.experiment.recipes import PLUS_EPOCHS
from ddd.analysis.summary import Entry
from ddd.report.applicability import FigureNotApplicable  # noqa: F401  (re-exported)

__all__ = ["FigureNotApplicable", "Run", "as_entries", "runs_of", "base_entry", "load_runs", "correct_matrix",
           "read_summary",
           "read_split", "read_kappas", "study_title", "class_accuracy", "dataset_of"]




@dataclass(frozen=True)
class Run:
    """One decisions file: its path, the condition it belongs to and its final epoch ``epoch`` (the
    epoch of its non-plus-epoch decision maker)."""
    path: str
    condition: str
    epoch: int
    name: str


def as_entries(entries) -> list[Entry]:
    """``ddd.analysis.summary.Entry`` objects from Entries or dicts (name, condition, path, epoch)."""
    out = []
    for e in entries:
        if isinstance(e, Entry):
            out.append(e)
        elif isinstance(e, dict):
            out.append(Entry(name=str(e["name"]), condition=str(e["condition"]), path=os.fspath(e["path"]),
                             epoch=int(e["epoch"])))
        else:
            out.append(Entry(name=str(e.name), condition=str(e.condition), path=os.fspath(e.path),
                             epoch=int(e.epoch)))
    if not out:
        raise ValueError("a study needs at least one decision maker (entries is empty)")
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise ValueError(f"decision maker names are not unique: {names}")
    return out


def runs_of(entries) -> list[Run]:
    """Every decisions file once, in entry order, with the condition and epoch of its first
    decision maker that is not a plus-epoch one (a file behind plus-epoch makers only keeps theirs)."""
    entries = as_entries(entries)
    chosen: dict[str, Entry] = {}
    for e in entries:
        if e.path not in chosen or (chosen[e.path].condition in PLUS_EPOCHS and e.condition not in PLUS_EPOCHS):
            chosen[e.path] = e
    return [Run(path=p, condition=e.condition, epoch=e.epoch, name=e.name) for p, e in chosen.items()]


def base_entry(entries, *, base: str = "base") -> Entry:
    """The decision maker of condition ``base`` (its first, if several)."""
    entries = as_entries(entries)
    for e in entries:
        if e.condition == base:
            return e
    raise FigureNotApplicable(f"the study has no decision maker of condition {base!r} (conditions: "
                              f"{', '.join(dict.fromkeys(e.condition for e in entries))})")


def load_runs(paths) -> dict[str, Decisions]:
    """Decisions of every distinct path (probabilities not loaded), image ids checked against the first."""
    out: dict[str, Decisions] = {}
    ref = None
    for p in paths:
        p = os.fspath(p)
        if p in out:
            continue
        d = read_decisions(p, load_probabilities=False)
        if ref is None:
            ref = d
        else:
            check_same_study(ref, d)
        out[p] = d
    return out


def correct_matrix(entries) -> tuple[np.ndarray, np.ndarray]:
    """Correctness of every decision maker at its epoch, reading one row per file.

    Returns ``(correct bool (M, N), image_ids str (N,))``; every file's ids are checked against the
    first's and every epoch must be stored.
    """
    entries = as_entries(entries)
    ids = None
    for e in dict.fromkeys(x.path for x in entries):
        file_ids, epochs = read_ids_epochs(e)
        if ids is None:
            ids, ref = file_ids, e
        elif not np.array_equal(ids, file_ids):
            check_same_images(ids, file_ids, names=(ref, e))
        for x in entries:
            if x.path == e and x.epoch not in set(epochs.tolist()):
                raise ValueError(f"{x.name}: epoch {x.epoch} is not in {e} (epochs {epochs.min()}..{epochs.max()})")
    return read_correct_rows([e.path for e in entries], [e.epoch for e in entries]), ids


def read_summary(path) -> dict:
    with open(path) as fh:
        return json.load(fh)


def read_split(path) -> pd.DataFrame:
    """``split.tsv``: image_id (str), target, n_correct and one category column per rule present."""
    split = pd.read_csv(path, sep="\t", dtype={"image_id": str}, keep_default_na=False)
    missing = {"image_id", "n_correct"} - set(split.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    return split


def read_kappas(path) -> pd.DataFrame:
    """``kappa_vs_base.tsv`` (NaN written as "NaN")."""
    return pd.read_csv(path, sep="\t", dtype={"condition": str, "name": str, "other": str},
                       keep_default_na=False, na_values=["NaN", "nan", ""])


def study_title(summary_or_name, what: str) -> str:
    """``"<study>: <what>"`` (just ``what`` without a study name)."""
    study = summary_or_name.get("study", "") if isinstance(summary_or_name, dict) else (summary_or_name or "")
    return (f"{study}: " if study else "") + what


def class_accuracy(correct, targets, n_classes: int | None = None) -> np.ndarray:
    """Per-class accuracy, float64 (C,): mean correctness over the images of each class; NaN for a
    class without images. ``C = n_classes`` (default: max target + 1)."""
    correct = np.asarray(correct, dtype=bool)
    targets = np.asarray(targets, dtype=np.int64)
    if correct.shape != targets.shape or correct.ndim != 1:
        raise ValueError(f"correct and targets must be 1-D of equal length, got {correct.shape} and {targets.shape}")
    if targets.size == 0:
        raise ValueError("no images")
    c = int(targets.max()) + 1 if n_classes is None else int(n_classes)
    if targets.min() < 0 or targets.max() >= c:
        raise ValueError(f"targets must lie in [0, {c})")
    total = np.bincount(targets, minlength=c).astype(np.float64)
    right = np.bincount(targets, weights=correct.astype(np.float64), minlength=c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, right / np.where(total > 0, total, 1), np.nan)


def dataset_of(decisions: Decisions) -> dict:
    """The ``dataset`` attribute of a decisions file (a dict; empty if the file has none)."""
    ds = decisions.attrs.get("dataset")
    return dict(ds) if isinstance(ds, dict) else {}
