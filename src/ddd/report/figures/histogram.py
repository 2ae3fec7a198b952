"""Figure 2 / 17: how many decision makers classify each evaluation image correctly.

The observed distribution of the number k of n decision makers that classify an image correctly
(k = 0..n) is drawn against the exact binomial(n, mean accuracy) distribution expected if the
decision makers were independent and equally good (Meding et al. 2022, section 3.4 and Fig. 2).
Where a list of images with label issues exists, their distribution is drawn too.
"""

from __future__ import annotations

import json
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ddd.analysis.label_issues import read_label_issue_list
from ddd.analysis.split import binomial_expectation
from ddd.report import style as _style

__all__ = ["correct_histogram", "plot_correct_histogram", "figure_02",
           "LABEL_OBSERVED", "LABEL_ISSUES", "LABEL_EXPECTATION", "XLABEL", "YLABEL"]

LABEL_OBSERVED = "Images from the evaluation set"
LABEL_ISSUES = "Images with label issues"
LABEL_EXPECTATION = "Binomial expectation (independent decision makers)"
XLABEL = "Number of decision makers that classify the image correctly"
YLABEL = "Fraction of images"
_HEADROOM = 1.1
_LABEL_EVERY_INTEGER_UP_TO = 25


def _check_n(n) -> int:
    if isinstance(n, (bool, np.bool_)) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def _check_counts(counts, n: int) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim != 1:
        raise ValueError(f"counts must be 1-D (one count per image), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("counts is empty: no images")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError("counts must be integers (numbers of decision makers)")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"counts must be integers (numbers of decision makers), got dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > n:
        raise ValueError(f"counts must lie in [0, n = {n}], got values in [{lo}, {hi}]")
    return arr.astype(np.int64)


def correct_histogram(counts, *, n: int) -> np.ndarray:
    """Fraction of images correctly classified by exactly k of n decision makers.

    Parameters
    ----------
    counts : int array (N,), per image the number of decision makers (0..n) that are right.
    n : number of decision makers.

    Returns
    -------
    float64 array (n+1,); entry k is the fraction of the N images right for exactly k. Sums to 1.
    """
    n = _check_n(n)
    arr = _check_counts(counts, n)
    return np.bincount(arr, minlength=n + 1).astype(np.float64) / arr.size


def plot_correct_histogram(counts, *, n: int, mean_accuracy: float, label_issue_counts=None,
                           title: str | None = None):
    """Figure 2: observed histogram against the binomial expectation.

    Parameters
    ----------
    counts : int array (N,), per evaluation image the number of the n decision makers that are right.
    n : number of (distinct) decision makers.
    mean_accuracy : their mean accuracy, the success probability of the binomial expectation.
    label_issue_counts : optional int array (M,), the same counts for the images with label issues;
        drawn as narrower red bars, normalised over those M images.
    title : optional axes title.

    Returns
    -------
    matplotlib Figure with one axes. Its ``containers`` are the bar series, labelled
    :data:`LABEL_OBSERVED`, :data:`LABEL_ISSUES` (if given) and :data:`LABEL_EXPECTATION`,
    each with one bar per k = 0..n.
    """
    n = _check_n(n)
    observed = correct_histogram(counts, n=n)
    expected = binomial_expectation(n, mean_accuracy)
    issues = None if label_issue_counts is None else correct_histogram(label_issue_counts, n=n)
    k = np.arange(n + 1)
    with _style.style():
        fig, ax = plt.subplots(figsize=_style.SIZES["histogram"], layout="constrained")
        ax.bar(k, observed, width=0.8, color=_style.COLORS["observed"], label=LABEL_OBSERVED, zorder=2)
        if issues is not None:
            ax.bar(k, issues, width=0.4, color=_style.COLORS["label_issues"], label=LABEL_ISSUES, zorder=5)
        ax.bar(k, expected, width=0.8, color=_style.COLORS["expectation"], alpha=_style.ALPHA["expectation"],
               label=LABEL_EXPECTATION, zorder=4)
        ax.set_xlim(-0.6, n + 0.6)
        if n <= _LABEL_EVERY_INTEGER_UP_TO:
            ax.set_xticks(k)
        else:
            ax.set_xticks(k, minor=True)
            ax.set_xticks(k[::5])
        top = max(observed.max(), expected.max(), 0.0 if issues is None else issues.max())
        ax.set_ylim(0, top * _HEADROOM)
        ax.set_xlabel(XLABEL)
        ax.set_ylabel(YLABEL)
        if title:
            ax.set_title(title)
        # Outside the axes, under the x label: never covers a bar whatever the distribution.
        fig.legend(loc="outside lower center", ncols=1)
    return fig


def _issue_ids(label_issues, split_ids: pd.Series, source: str) -> np.ndarray:
    """Label-issue ids from a list file (:func:`ddd.analysis.label_issues.read_label_issue_list`) or an
    iterable, each checked against the study's ids."""
    known = split_ids.astype(str).to_numpy()
    from_file = isinstance(label_issues, (str, os.PathLike))
    ids = (read_label_issue_list(label_issues) if from_file
           else np.asarray(list(dict.fromkeys(str(v) for v in label_issues)), dtype=str))
    inside = np.isin(ids, known)
    if not inside.any():
        raise ValueError(f"none of the {len(ids)} label-issue image ids is in {source}")
    if from_file:
        return read_label_issue_list(label_issues, image_ids=known)  # names the unknown ids
    if not inside.all():
        raise ValueError(f"{int((~inside).sum())} of {len(ids)} label-issue image ids are not in {source}, "
                         f"e.g. {ids[~inside][:5].tolist()}")
    return ids


def figure_02(split_tsv, summary_json, *, png, pdf, label_issues=None) -> None:
    """Write Figure 2 / 17 of a study.

    Parameters
    ----------
    split_tsv : ``split.tsv`` of the study (tab-separated; columns image_id, target, n_correct, ...
        and optionally ``label_issue``, bool, see :func:`ddd.analysis.label_issues.add_label_issue_column`).
    summary_json : ``summary.json`` of the study (keys n_decision_makers, mean_accuracy, study).
    png, pdf : output paths.
    label_issues : optional image ids with label issues: a list file (one id a line, or a CSV /
        TSV table with an id column; ``#`` comments; :func:`ddd.analysis.label_issues.read_label_issue_list`)
        or an iterable of ids; every id must be in ``split_tsv``. Without it, the ``label_issue``
        column of ``split_tsv`` is used when present. The histogram of those images is drawn in
        red; with neither, the figure has no label-issue bars (the paper's CIFAR and Gaussian
        panels).
    """
    split = pd.read_csv(split_tsv, sep="\t", dtype={"image_id": str}, keep_default_na=False)
    missing = {"image_id", "n_correct"} - set(split.columns)
    if missing:
        raise ValueError(f"{split_tsv}: missing columns {sorted(missing)}")
    with open(summary_json) as fh:
        summary = json.load(fh)
    n, acc = summary["n_decision_makers"], summary["mean_accuracy"]
    issue_counts, note = None, None
    if label_issues is not None:
        ids = _issue_ids(label_issues, split["image_id"], str(split_tsv))
        issue_counts = split.loc[split["image_id"].astype(str).isin(ids), "n_correct"].to_numpy()
    elif "label_issue" in split.columns:
        flag = split["label_issue"].astype(str).str.strip().str.lower()
        bad = sorted(set(flag) - {"true", "false", "1", "0"})
        if bad:
            raise ValueError(f"{split_tsv}: column label_issue must be boolean, got values {bad[:5]}")
        mask = flag.isin(("true", "1")).to_numpy()
        if mask.any():
            issue_counts = split.loc[mask, "n_correct"].to_numpy()
        else:
            note = "No image is marked as a label issue."
    study = summary.get("study", "")
    title = (f"{study}: " if study else "") + f"n = {n} decision makers, mean accuracy {acc:.3f}"
    if issue_counts is not None:
        title += f"; {len(issue_counts)} label issues"
    fig = plot_correct_histogram(split["n_correct"].to_numpy(), n=n, mean_accuracy=acc,
                                 label_issue_counts=issue_counts, title=title)
    _style.note(fig, note)
    _style.save(fig, png, pdf)
