"""First analyses of a study: the split, κ against the base and accuracies.

Input is the study's decision makers (:class:`ddd.experiment.makers.DecisionMaker`), each read at
its epoch; every file's image ids and targets are checked against the first before anything is
compared. Decision makers with identical decisions are merged before the split and the binomial
expectation (docs/reproduction.md#identical-decision-makers); κ against the base is reported for
every one. The tables are written by :mod:`ddd.results.study`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ddd.analysis.kappa import error_consistency
from ddd.analysis.split import (RULES, binomial_expectation, categorize, expected_fractions, merge_identical,
                                split_fractions, thresholds)
from ddd.experiment.makers import DecisionMaker, as_decision_makers
from ddd.results.decisions import read_final

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


def summarize(makers, *, study: str, undefined: str = "nan") -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Summary, per-image split table and per-decision-maker κ table of a study.

    Parameters
    ----------
    makers : the study's decision makers (DecisionMaker objects or their dicts), each read at its epoch.
    study : the study's name; undefined : κ where undefined (:mod:`ddd.analysis.kappa`).

    Returns
    -------
    summary : dict (``summary.json``, keys in the README).
    split : DataFrame, one row per image: image_id, target, n_correct, <rule> for each rule.
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
        "expected_independent": expected,
        "binomial_expectation": binomial_expectation(n, float(kept_acc.mean())).tolist(),
        "in_between_vs_independent": {
            r: (split[r]["in_between"] / expected[r]["in_between"] if expected[r]["in_between"] > 0 else None)
            for r in expected},
        "epochs": {m.name: m.epoch for m in makers},
        "notes": _notes(ident, merged),
    }
    return summary, split_df, kap


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
    """The split table, the split under every rule that applies and its independent expectation."""
    n = len(accuracies)
    split_df = pd.DataFrame({"image_id": ids, "target": targets, "n_correct": counts})
    split, expected = {}, {}
    for rule in RULES:
        try:
            t, i = thresholds(n, rule)
        except ValueError as err:
            split[rule] = {"note": str(err)}
            continue
        cats = categorize(counts, n=n, trivial_at=t, impossible_at=i)
        split_df[rule] = cats
        split[rule] = {**split_fractions(cats), "trivial_at": t, "impossible_at": i}
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
                    undefined: str = "nan") -> dict:
    """:func:`summarize` a study and write ``summary.json``, ``split.tsv`` and ``kappa_vs_base.tsv``.

    ``label_issues_tsv``: the study's ``label_issues.tsv``, if it has label issues: ``split.tsv`` then
    marks them (column ``label_issue``) and the summary counts them (``n_label_issues``).
    """
    from ddd.analysis.label_issues import add_label_issue_column
    from ddd.results.study import read_label_issues, write_kappas, write_split, write_summary

    summary, split, kappas = summarize(makers, study=study, undefined=undefined)
    if label_issues_tsv is not None:
        issues = read_label_issues(label_issues_tsv)
        split = add_label_issue_column(split, issues.loc[issues["label_issue"], "image_id"])
        summary["n_label_issues"] = int(split["label_issue"].sum())
    write_summary(summary, summary_path)
    write_split(split, split_path)
    write_kappas(kappas, kappa_path)
    return summary
