"""First analyses of a study: the split, its uncertainty, κ against the base and accuracies.

Input is the study's decision makers (:class:`ddd.experiment.makers.DecisionMaker`), each read at
its epoch; every file's image ids and targets are checked against the first before anything is
compared. Decision makers with identical decisions are merged before the split, its uncertainty
and the binomial expectation (docs/reproduction.md#identical-decision-makers); κ against the base
is reported for every one. The split's intervals over images and over decision makers are
:func:`ddd.analysis.split.split_uncertainty`'s (a percentile bootstrap over images and a
leave-one-out jackknife over the distinct decision makers). When the study has label issues the
split is also given over the images without them and over the label-issue images alone. The
tables are written by :mod:`ddd.results.study`; ``summary.json``'s keys are in the README.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ddd.analysis.kappa import error_consistency
from ddd.analysis.split import (RULES, binomial_expectation, categorize, expected_fractions, merge_identical,
                                rule_splits, split_uncertainty)
from ddd.experiment.makers import DecisionMaker, as_decision_makers
from ddd.results.decisions import read_final
from ddd.results.study import SUMMARY_VERSION

#: Added to ``notes`` when cleanlab found the label issues.
CLEANLAB_CAVEAT = ("label issues found by cleanlab from the study's own networks are, by construction, images "
                   "those networks get wrong, so the split without them cannot test whether label errors cause "
                   "dichotomous data difficulty; only an independent list (e.g. a published one) can")


def kappa_vs_base(correct: np.ndarray, makers: list[DecisionMaker], *, base: str = "base",
                  undefined: str = "nan") -> pd.DataFrame:
    """κ of every decision maker against the base (docs/reproduction.md#conditions).

    ``correct``: bool (M, N), row i = ``makers[i]``.

    ``different_data`` networks are compared with each other; each of them also appears as a
    ``half_data`` row against the base. Returns a frame with columns condition, name, other,
    kappa, identical (decisions equal to the one compared with).
    """
    idx = {m.name: i for i, m in enumerate(makers)}
    if base not in idx:
        raise ValueError(f"no decision maker named {base!r}; have {list(idx)}")
    rows = []

    def add(condition, name, other):
        a, b = correct[idx[name]], correct[idx[other]]
        rows.append({"condition": condition, "name": name, "other": other,
                     "kappa": error_consistency(a, b, undefined=undefined)})

    dd = [m.name for m in makers if m.condition == "different_data"]
    for m in makers:
        add("half_data" if m.condition == "different_data" else m.condition, m.name, base)
    if len(dd) == 2:
        add("different_data", dd[0], dd[1])
    return pd.DataFrame(rows)


def summarize(makers, *, study: str, undefined: str = "nan", label_issues: pd.DataFrame | None = None,
              ci: float = 0.95, n_boot: int = 1000, seed: int = 1312) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Summary, per-image split table and per-decision-maker κ table of a study.

    Parameters
    ----------
    makers : the study's decision makers (DecisionMaker objects or their dicts), each read at its epoch.
    study : the study's name; undefined : κ where undefined (:mod:`ddd.analysis.kappa`).
    label_issues : optional ``label_issues.tsv`` as read by :func:`ddd.results.study.read_label_issues`
        (``image_id``, ``label_issue`` bool, ``source``); its flagged ids must be among the study's.
    ci, n_boot, seed : the split's intervals (:func:`ddd.analysis.split.split_uncertainty`).

    Returns
    -------
    summary : dict (``summary.json``, keys in the README).
    split : DataFrame, one row per image: image_id, target, n_correct, <rule> for each rule that
        applies, and ``label_issue`` (bool) when ``label_issues`` is given.
    kappas : DataFrame from :func:`kappa_vs_base`, plus an ``identical`` column.
    """
    makers = as_decision_makers(makers)
    preds, targets, ids, _ = read_final(makers)
    names = [m.name for m in makers]
    correct = preds == targets[None, :]
    kap = _kappa_table(preds, correct, makers, undefined=undefined)
    kept_preds, kept, merged = merge_identical(preds, names)
    kept_correct = kept_preds == targets[None, :]
    kept_acc = kept_correct.mean(axis=1)
    split_df, split, expected = _split(kept_correct.sum(axis=0), ids, targets, kept_acc)
    n = len(kept)
    ident = kap[(kap["identical"]) & (kap["name"] != kap["other"])]
    by_cond = kap.groupby("condition", sort=False)["kappa"] if len(kap) else []
    summary = {
        "summary_version": SUMMARY_VERSION,
        "study": study,
        "n_images": int(len(ids)),
        "n_decision_makers": n,
        "decision_makers_all": names,
        "merged": merged,
        "mean_accuracy": float(kept_acc.mean()),
        "accuracy": {k: float(a) for k, a in zip(kept, kept_acc)},
        "accuracy_all": {k: float(a) for k, a in zip(names, correct.mean(axis=1))},
        "accuracy_range": [float(kept_acc.min()), float(kept_acc.max())],
        "accuracy_sd": float(kept_acc.std(ddof=1)) if n > 1 else 0.0,
        "kappa_vs_base": {c: _nan_none(float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"))
                          for c, v in by_cond},
        "kappa_vs_base_runs": {f"{c}:{nm}": _nan_none(k) for c, nm, k in
                               zip(kap["condition"], kap["name"], kap["kappa"])},
        "identical_to_compared": sorted(set(ident["name"])),
        "split": split,
        "split_uncertainty": split_uncertainty(kept_correct, names=kept, ci=ci, n_boot=n_boot, seed=seed),
        "poisson_binomial_split": expected,
        "binomial_expectation_pmf": binomial_expectation(n, float(kept_acc.mean())).tolist(),
        "in_between_vs_independent": {
            r: (split[r]["in_between"] / expected[r]["in_between"] if expected[r]["in_between"] > 0 else None)
            for r in expected},
        "epochs": {m.name: m.epoch for m in makers},
        "notes": _notes(ident, merged),
    }
    if label_issues is not None:
        split_df = _label_issue_split(summary, split_df, kept_correct, kept, label_issues, ci=ci, n_boot=n_boot,
                                      seed=seed)
    return summary, split_df, kap


def _label_issue_split(summary: dict, split_df: pd.DataFrame, correct: np.ndarray, names: list, label_issues,
                       *, ci, n_boot, seed) -> pd.DataFrame:
    """Mark the label issues in the split table and add the split without them (and of them) to
    ``summary``; returns the split table with its ``label_issue`` column."""
    from ddd.analysis.label_issues import add_label_issue_column

    for col in ("image_id", "label_issue"):
        if col not in getattr(label_issues, "columns", ()):
            raise ValueError(f"label_issues must be a table with columns image_id, label_issue (label_issues.tsv), "
                             f"missing {col!r}")
    flagged = label_issues.loc[np.asarray(label_issues["label_issue"], dtype=bool), "image_id"]
    split_df = add_label_issue_column(split_df, flagged)
    mask = split_df["label_issue"].to_numpy(bool)
    counts = split_df["n_correct"].to_numpy()
    n = correct.shape[0]
    sources = sorted(set(label_issues["source"].astype(str))) if "source" in label_issues.columns else []
    summary["n_label_issues"] = int(mask.sum())
    summary["label_issue_source"] = ", ".join(sources) if sources else None
    summary["split_without_label_issues"] = rule_splits(counts[~mask], n=n)
    summary["split_uncertainty_without_label_issues"] = (
        split_uncertainty(correct[:, ~mask], names=names, ci=ci, n_boot=n_boot, seed=seed) if (~mask).any()
        else {r: {"note": "every image has a label issue"} for r in RULES})
    summary["split_label_issue_images"] = rule_splits(counts[mask], n=n)
    if "cleanlab" in sources:
        summary["notes"].append(CLEANLAB_CAVEAT)
    return split_df


def _kappa_table(preds, correct, makers, *, undefined: str) -> pd.DataFrame:
    """:func:`kappa_vs_base` (empty without a base) with the ``identical`` column."""
    names = [m.name for m in makers]
    if "base" in names:
        kap = kappa_vs_base(correct, makers, undefined=undefined)
    else:  # imported or pretrained decision makers: pairs.tsv compares them all
        kap = pd.DataFrame({"condition": pd.Series(dtype=str), "name": pd.Series(dtype=str),
                            "other": pd.Series(dtype=str), "kappa": pd.Series(dtype=float)})
    pos = {n: i for i, n in enumerate(names)}
    kap["identical"] = [bool(np.array_equal(preds[pos[a]], preds[pos[b]]))
                        for a, b in zip(kap["name"], kap["other"])]
    return kap


def _split(counts, ids, targets, accuracies):
    """The split table, the split under every rule that applies (:func:`rule_splits`; a rule that does
    not apply to n gets a note) and its Poisson-binomial expectation."""
    n = len(accuracies)
    split_df = pd.DataFrame({"image_id": ids, "target": targets, "n_correct": counts})
    split = rule_splits(counts, n=n)
    expected = {}
    for rule, s in split.items():
        if "note" in s:
            continue
        s.pop("n_images")
        t, i = s["trivial_at"], s["impossible_at"]
        split_df[rule] = categorize(counts, n=n, trivial_at=t, impossible_at=i)
        expected[rule] = expected_fractions(accuracies, trivial_at=t, impossible_at=i)
    return split_df, split, expected


def _notes(identical: pd.DataFrame, merged: dict) -> list[str]:
    notes = []
    if len(identical):
        notes.append("identical decisions to the decision maker compared with (e.g. hardware "
                     "non-determinism on a deterministic CPU): " + ", ".join(identical["name"]))
    if merged:
        notes.append("merged before the split: " + "; ".join(f"{k} = {', '.join(v)}" for k, v in merged.items()))
    return notes


def _nan_none(x: float):
    return None if x is None or not np.isfinite(x) else x


def summarize_study(makers, *, study: str, summary_path, split_path, kappa_path, label_issues_tsv=None,
                    undefined: str = "nan", ci: float = 0.95, n_boot: int = 1000, seed: int = 1312) -> dict:
    """:func:`summarize` a study and write ``summary.json``, ``split.tsv`` and ``kappa_vs_base.tsv``.

    ``label_issues_tsv``: the study's ``label_issues.tsv``, if it has label issues: ``split.tsv`` then
    marks them (column ``label_issue``) and the summary counts them (``n_label_issues``) and gives
    the split over the images without them (``split_without_label_issues``, README).
    """
    from ddd.results.study import read_label_issues, write_kappas, write_split, write_summary

    issues = None if label_issues_tsv is None else read_label_issues(label_issues_tsv)
    summary, split, kappas = summarize(makers, study=study, undefined=undefined, label_issues=issues, ci=ci,
                                       n_boot=n_boot, seed=seed)
    write_summary(summary, summary_path)
    write_split(split, split_path)
    write_kappas(kappas, kappa_path)
    return summary
