"""The headline numbers of a study: one row per number, with the paper's value beside it.

Rows (keys in :data:`HEADLINE_COLUMNS`'s ``key`` column):

- ``split.<rule>.<category>``: split fractions under both rules (strict: all / none right; all but
  one: >= n-1 / <= 1 right) with a percentile bootstrap interval over images;
  ``split.<rule>.<category>.over_decision_makers``: the same fraction with a leave-one-out
  jackknife interval over the distinct decision makers (thresholds recomputed for n - 1; the note
  gives the leave-one-out range); ``split.<rule>.n_images_changed_leave_one_out``: images that
  change category when one distinct decision maker is left out, mean over the decision makers
  (the note gives the largest and whose); ``split.<rule>.in_between_vs_independent``, the in-between
  fraction relative to independent decision makers (Poisson binomial). Intervals and methods come
  from ``summary.json``'s ``split_uncertainty`` (:func:`ddd.analysis.split.split_uncertainty`).
- when the study has label issues, ``split.<rule>.<category>.without_label_issues``: the split over
  the images without label issues, with its interval over images (the rows above are over all
  images); the note says where the issues come from (cleanlab's from the study's own networks are,
  by construction, images those networks get wrong);
- ``accuracy.{mean,min,max,sd}``: final accuracy of the distinct decision makers (sd with ddof 1);
- ``changes.{label_change,correctness_flip}.{base,all_runs}``: decision changes per epoch
  (:mod:`ddd.analysis.changes`), averaged over the transitions 0 -> 1 .. E-1 -> E, for the base run
  and averaged over all runs; ``changes.<...>.<base|all_runs>.without_0_to_1``: the same without the
  transition 0 -> 1 (from the untrained network), i.e. over 1 -> 2 .. E-1 -> E;
- ``kappa.<condition>``: mean κ with the base per condition (``kappa_vs_base.tsv``'s rows: half data
  = each half network with the base, different data = the two halves with each other), with a
  percentile bootstrap interval over images (:func:`ddd.analysis.uncertainty.condition_kappa_ci`).

Where the study is one of the paper's presets, the ``paper`` and ``paper_source`` columns hold the
published numbers (:mod:`ddd.experiment.paper`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ddd.analysis.changes import mean_changes, per_run_changes
from ddd.analysis.uncertainty import condition_kappa_ci
from ddd.experiment.conditions import CONDITIONS, condition_order
from ddd.experiment.makers import as_decision_makers
from ddd.experiment.paper import PAPER
from ddd.results.decisions import read_final

__all__ = ["HEADLINE_COLUMNS", "headline_rows"]

HEADLINE_COLUMNS = ("key", "quantity", "value", "ci_low", "ci_high", "ci_method", "n", "paper", "paper_source",
                    "note")


_RULE_LABELS = {"strict": "all / none right", "all_but_one": "at least n-1 / at most 1 right"}
_CATEGORIES = ("trivial", "impossible", "in_between")
_NO_UNCERTAINTY = ("no interval: summary.json has no split_uncertainty (written by an earlier ddd); "
                   "summarise the study again")


def _pct(x) -> str:
    return f"{100 * x:.1f} %"


def _join(*parts) -> str:
    return "; ".join(p for p in parts if p)


def _split_rows(summary: dict) -> list[dict]:
    rows = []
    uncertainty = summary.get("split_uncertainty")
    for rule, label in _RULE_LABELS.items():
        s = (summary.get("split") or {}).get(rule) or {}
        u = (uncertainty or {}).get(rule) or {}
        applies = "note" not in s and bool(s)
        missing = _NO_UNCERTAINTY if applies and uncertainty is None else ""
        for cat in _CATEGORIES:
            what = f"{cat.replace('_', '-')} fraction, {rule} rule ({label})"
            c = u.get(cat) or {}
            rows.append({"key": f"split.{rule}.{cat}", "quantity": what, "value": s.get(cat, np.nan),
                         "ci_low": c.get("images_low"), "ci_high": c.get("images_high"),
                         "ci_method": u.get("images_method") if c else None, "n": summary.get("n_images"),
                         "note": _join(s.get("note", ""), missing)})
        for cat in _CATEGORIES:
            c = u.get(cat) or {}
            loo = ("" if c.get("leave_one_out_min") is None else
                   f"leave-one-out range {_pct(c['leave_one_out_min'])} – {_pct(c['leave_one_out_max'])}")
            rows.append({"key": f"split.{rule}.{cat}.over_decision_makers",
                         "quantity": f"{cat.replace('_', '-')} fraction, {rule} rule, interval over decision makers",
                         "value": s.get(cat, np.nan), "ci_low": c.get("decision_makers_low"),
                         "ci_high": c.get("decision_makers_high"), "ci_method": u.get("decision_makers_method"),
                         "n": summary.get("n_decision_makers"),
                         "note": _join(s.get("note", ""), missing, loo, u.get("decision_makers_note", ""))})
        lo = u.get("leave_one_out") or {}
        rows.append({"key": f"split.{rule}.n_images_changed_leave_one_out",
                     "quantity": f"images changing category when one decision maker is left out, {rule} rule "
                                 f"(mean over the distinct ones; thresholds for n - 1)",
                     "value": lo.get("n_changed_mean", np.nan), "n": summary.get("n_decision_makers"),
                     "note": _join(s.get("note", ""), missing, u.get("decision_makers_note", ""),
                                   f"largest {lo['n_changed_max']:,} of {u.get('n_images', '?')} images "
                                   f"(leaving out {lo['most_changed']})" if lo else "")})
        rows += _label_issue_rows(summary, rule, label)
        ratio = (summary.get("in_between_vs_independent") or {}).get(rule)
        rows.append({"key": f"split.{rule}.in_between_vs_independent",
                     "quantity": f"in-between fraction / expected for independent decision makers (Poisson binomial), "
                                 f"{rule} rule",
                     "value": np.nan if ratio is None else ratio, "note": s.get("note", "")})
    return rows


def _label_issue_rows(summary: dict, rule: str, label: str) -> list[dict]:
    """``split.<rule>.<category>.without_label_issues`` when the study has label issues."""
    if "split_without_label_issues" not in summary:
        return []
    s = summary["split_without_label_issues"].get(rule) or {}
    u = (summary.get("split_uncertainty_without_label_issues") or {}).get(rule) or {}
    source = summary.get("label_issue_source") or "unknown source"
    origin = (f"{summary.get('n_label_issues', '?')} label issues ({source}) left out of "
              f"{summary.get('n_images', '?')} images")
    caveat = ("cleanlab's issues come from the study's own networks: by construction images they get wrong, "
              "so no test of whether label errors cause the split" if "cleanlab" in source else "")
    rows = []
    for cat in _CATEGORIES:
        c = u.get(cat) or {}
        rows.append({"key": f"split.{rule}.{cat}.without_label_issues",
                     "quantity": f"{cat.replace('_', '-')} fraction without the label-issue images, {rule} rule "
                                 f"({label})",
                     "value": s.get(cat, np.nan), "ci_low": c.get("images_low"), "ci_high": c.get("images_high"),
                     "ci_method": u.get("images_method") if c else None, "n": s.get("n_images"),
                     "note": _join(s.get("note", ""), origin, caveat)})
    return rows


def _accuracy_rows(summary: dict) -> list[dict]:
    n = summary.get("n_decision_makers")
    rng = summary.get("accuracy_range") or [np.nan, np.nan]
    note = "distinct decision makers (identical ones merged)" if summary.get("merged") else "distinct decision makers"
    return [{"key": "accuracy.mean", "quantity": "final accuracy, mean", "value": summary.get("mean_accuracy", np.nan),
             "n": n, "note": note},
            {"key": "accuracy.min", "quantity": "final accuracy, minimum", "value": rng[0], "n": n, "note": note},
            {"key": "accuracy.max", "quantity": "final accuracy, maximum", "value": rng[1], "n": n, "note": note},
            {"key": "accuracy.sd", "quantity": "final accuracy, standard deviation (ddof 1)",
             "value": summary.get("accuracy_sd", np.nan), "n": n, "note": note}]


def _change_rows(makers) -> list[dict]:
    per_run, runs = per_run_changes(makers)
    final = {r.name: r.epoch for r in runs}
    base = next((r for r in runs if r.condition == "base"), None)
    rows = []
    for key, label in (("label_change", "predicted label changes"), ("correctness_flip", "correctness flips")):
        for without in (False, True):
            means = mean_changes(per_run, final, without_0_to_1=without)
            suffix = ".without_0_to_1" if without else ""
            which = "without the 0 -> 1 transition" if without else "with the 0 -> 1 transition"
            if base is not None:
                first = 1 if without else 0
                rows.append({"key": f"changes.{key}.base{suffix}",
                             "quantity": f"{label} per epoch, base run, {which} (fraction of images)",
                             "value": means.loc[base.name, key], "n": int(means.loc[base.name, "n_transitions"]),
                             "note": f"mean over the transitions {first} -> {first + 1} .. {base.epoch - 1} -> "
                                     f"{base.epoch}" if base.epoch > first else "no such transition"})
            vals = means[key].to_numpy(float)
            vals = vals[np.isfinite(vals)]
            rows.append({"key": f"changes.{key}.all_runs{suffix}",
                         "quantity": f"{label} per epoch, mean over runs, {which}",
                         "value": float(vals.mean()) if vals.size else np.nan, "n": int(vals.size),
                         "note": "each run's mean over its transitions up to its final epoch"
                                 + (" from 1 -> 2 on" if without else "") + ", then the mean over runs"})
    return rows


def _kappa_rows(makers, kappas: pd.DataFrame, *, ci, n_boot, seed, undefined) -> list[dict]:
    if kappas.empty:
        return []
    correct = read_final(makers).correct
    pos = {m.name: i for i, m in enumerate(makers)}
    unknown = sorted((set(kappas["name"]) | set(kappas["other"])) - set(pos))
    if unknown:
        raise ValueError(f"kappa table names decision makers that are not among the study's decision makers: {unknown}")
    pairs = [(pos[a], pos[b]) for a, b in zip(kappas["name"], kappas["other"])]
    res = condition_kappa_ci(correct, pairs, list(kappas["condition"]), ci=ci, n_boot=n_boot, seed=seed,
                             undefined=undefined).set_index("group")
    rows = []
    for cond in condition_order(kappas["condition"], CONDITIONS):
        r = res.loc[cond]
        sub = kappas[(kappas["condition"] == cond) & (kappas["name"] != kappas["other"])]
        ident = int(sub["identical"].astype(str).str.lower().isin(("true", "1")).sum()) if "identical" in sub else 0
        note = []
        if r["n_boot_undefined"]:
            note.append(f"{int(r['n_boot_undefined'])} resamples undefined")
        if ident:
            note.append(f"{int(ident)} of {int(r['n_pairs'])} pairs with identical decisions")
        if not np.isfinite(r["kappa"]):
            note.append("kappa undefined for every pair")
        what = ("the two networks on disjoint halves, with each other" if cond == "different_data"
                else "each half-data network with the base" if cond == "half_data" else "with the base")
        rows.append({"key": f"kappa.{cond}", "quantity": f"mean kappa, {cond.replace('_', ' ')} ({what})",
                     "value": r["kappa"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n": int(r["n_pairs"]),
                     "ci_method": f"{ci:.0%} percentile bootstrap over images, {n_boot} resamples, seed {seed}",
                     "note": "; ".join(note)})
    return rows


def headline_rows(decision_makers, summary: dict, kappas: pd.DataFrame, *, paper: str | None = None, ci: float = 0.95,
                  n_boot: int = 1000, seed: int = 1312, undefined: str = "nan") -> pd.DataFrame:
    """The headline table as a DataFrame (columns :data:`HEADLINE_COLUMNS`; module docstring).

    Parameters
    ----------
    decision_makers : the study's decision makers; summary : its ``summary.json``; kappas : its
        ``kappa_vs_base.tsv`` (:mod:`ddd.results.study`).
    paper : key of :data:`ddd.experiment.paper.PAPER` whose published numbers fill the ``paper``
        column (None: none).
    ci, n_boot, seed : the bootstrap of the κ means; undefined : κ where undefined.
    """
    makers = as_decision_makers(decision_makers)
    rows = [{"key": "n_decision_makers", "quantity": "distinct decision makers (identical ones merged)",
             "value": summary.get("n_decision_makers", np.nan),
             "note": "; ".join(f"{k} = {', '.join(v)}" for k, v in (summary.get("merged") or {}).items())},
            {"key": "n_images", "quantity": "evaluation images", "value": summary.get("n_images", np.nan)}]
    rows += _split_rows(summary) + _accuracy_rows(summary) + _change_rows(makers)
    rows += _kappa_rows(makers, kappas, ci=ci, n_boot=n_boot, seed=seed, undefined=undefined)
    df = pd.DataFrame(rows).reindex(columns=HEADLINE_COLUMNS)
    for col in ("value", "ci_low", "ci_high"):
        df[col] = pd.to_numeric(df[col]).astype(float)
    if paper is not None:
        if paper not in PAPER:
            raise ValueError(f"unknown paper preset {paper!r}; known: {', '.join(PAPER)}")
        published = PAPER[paper]
        df["paper"] = [published.get(k, (np.nan, ""))[0] for k in df["key"]]
        df["paper_source"] = [published.get(k, (np.nan, ""))[1] for k in df["key"]]
    for col in ("paper_source", "note", "ci_method"):
        df[col] = df[col].astype(object).where(df[col].notna(), "")
    df["n"] = df["n"].astype("Int64")
    return df
