"""Figure 2 / 17: how many decision makers classify each evaluation image correctly.

The observed distribution of the number k of n decision makers that classify an image correctly
(k = 0..n) is drawn against the exact binomial(n, mean accuracy) distribution expected if the
decision makers were independent and equally good (Meding et al. 2022, section 3.4 and Fig. 2;
``summary.json``'s ``binomial_expectation_pmf``, not its Poisson-binomial ``poisson_binomial_split``).
Where a list of images with label issues exists, their distribution is drawn too; label issues that
cleanlab found from the study's own networks are, by construction, images those networks get wrong,
and the figure says so.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ddd.analysis.label_issues import label_issue_ids
from ddd.analysis.split import correct_histogram
from ddd.report import style as _style
from ddd.results.study import read_split, read_summary

__all__ = ["plot_correct_histogram", "figure_02",
           "LABEL_OBSERVED", "LABEL_ISSUES", "LABEL_EXPECTATION", "XLABEL", "YLABEL"]

LABEL_OBSERVED = "Images from the evaluation set"
LABEL_ISSUES = "Images with label issues"
LABEL_EXPECTATION = "Binomial expectation (independent decision makers)"
XLABEL = "Number of decision makers that classify the image correctly"
YLABEL = "Fraction of images"
_HEADROOM = 1.1
_LABEL_EVERY_INTEGER_UP_TO = 25


def _bars(ax, k, heights, *, width: float, color, label: str, **kws) -> None:
    """One bar per k at its value (``sns.barplot`` on the numeric scale), the colour exact
    (saturation 1), no interval: the heights are already the fractions, one per k."""
    sns.barplot(x=k, y=np.asarray(heights, dtype=float), native_scale=True, width=width, color=color, saturation=1,
                errorbar=None, label=label, legend=False, ax=ax, **kws)


def plot_correct_histogram(observed, expected, *, issues=None, title: str | None = None):
    """Figure 2: observed histogram against the binomial expectation.

    Parameters
    ----------
    observed : float (n+1,), the fraction of the evaluation images right for exactly k = 0..n decision
        makers (:func:`ddd.analysis.split.correct_histogram`).
    expected : float (n+1,), the binomial(n, mean accuracy) probabilities of k right.
    issues : optional float (n+1,), the same fractions over the images with label issues; drawn as
        narrower red bars.
    title : optional axes title.

    Returns
    -------
    matplotlib Figure with one axes, drawn with seaborn (one ``barplot`` per series, overlaid, not
    dodged). Its ``containers`` are the bar series, labelled
    :data:`LABEL_OBSERVED`, :data:`LABEL_ISSUES` (if given) and :data:`LABEL_EXPECTATION`,
    each with one bar per k = 0..n.
    """
    observed, expected = np.asarray(observed, dtype=float), np.asarray(expected, dtype=float)
    if observed.ndim != 1 or observed.shape != expected.shape or (issues is not None and np.shape(issues) != observed.shape):
        raise ValueError(f"observed, expected (and issues) must be 1-D of equal length n + 1, got "
                         f"{observed.shape}, {expected.shape}" + ("" if issues is None else f", {np.shape(issues)}"))
    n = observed.size - 1
    k = np.arange(n + 1)
    with _style.style():
        fig, ax = plt.subplots(figsize=_style.SIZES["histogram"], layout="constrained")
        _bars(ax, k, observed, width=0.8, color=_style.COLORS["observed"], label=LABEL_OBSERVED, zorder=2)
        if issues is not None:
            _bars(ax, k, issues, width=0.4, color=_style.COLORS["label_issues"], label=LABEL_ISSUES, zorder=5)
        _bars(ax, k, expected, width=0.8, color=_style.COLORS["expectation"], alpha=_style.ALPHA["expectation"],
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


def figure_02(split_tsv, summary_json, *, png, pdf, label_issues=None) -> None:
    """Write Figure 2 / 17 of a study.

    Parameters
    ----------
    split_tsv : ``split.tsv`` of the study (its ``n_correct`` and, where the study has label
        issues, ``label_issue`` columns).
    summary_json : ``summary.json`` of the study (``n_decision_makers``, ``mean_accuracy``, the
        ``binomial_expectation_pmf`` it computed, ``study``, ``label_issue_source``; older files are
        read through :func:`ddd.results.study.read_summary`, which accepts their key names).
    png, pdf : output paths.
    label_issues : optional image ids with label issues: a list file (one id a line, or a CSV /
        TSV table with an id column; ``#`` comments; :func:`ddd.analysis.label_issues.read_label_issue_list`)
        or an iterable of ids; every id must be in ``split_tsv``. Without it, the ``label_issue``
        column of ``split_tsv`` is used when present. The histogram of those images is drawn in
        red; with neither, the figure has no label-issue bars (the paper's CIFAR and Gaussian
        panels).
    """
    split = read_split(split_tsv)
    summary = read_summary(summary_json)
    missing = [k for k in ("n_decision_makers", "mean_accuracy", "binomial_expectation_pmf") if k not in summary]
    if missing:
        raise ValueError(f"{summary_json}: summary.json lacks {missing}; summarise the study again")
    n, acc = summary["n_decision_makers"], summary["mean_accuracy"]
    pmf = np.asarray(summary["binomial_expectation_pmf"], dtype=float)
    if pmf.shape != (n + 1,):
        raise ValueError(f"{summary_json}: binomial_expectation_pmf has {pmf.size} entries, n_decision_makers = {n} "
                         f"needs {n + 1}")
    issue_counts, note = None, None
    if label_issues is not None:
        ids = label_issue_ids(label_issues, split["image_id"], str(split_tsv))
        issue_counts = split.loc[split["image_id"].astype(str).isin(ids), "n_correct"].to_numpy()
    elif "label_issue" in split.columns:
        mask = split["label_issue"].to_numpy(bool)
        if mask.any():
            issue_counts = split.loc[mask, "n_correct"].to_numpy()
        else:
            note = "No image is marked as a label issue."
    if issue_counts is not None and label_issues is None and "cleanlab" in str(summary.get("label_issue_source")):
        note = ("Label issues found by cleanlab from these networks: by construction images they get wrong, "
                "so they cannot test whether label errors cause the split.")
    study = summary.get("study", "")
    title = (f"{study}: " if study else "") + f"n = {n} decision makers, mean accuracy {acc:.3f}"
    if issue_counts is not None:
        title += f"; {len(issue_counts)} label issues"
    fig = plot_correct_histogram(correct_histogram(split["n_correct"].to_numpy(), n=n), pmf,
                                 issues=None if issue_counts is None else correct_histogram(issue_counts, n=n),
                                 title=title)
    _style.note(fig, note)
    _style.save(fig, png, pdf)
