"""First analyses of a study: the split, kappa against the base and accuracies.

Input is a list of decision makers, each a decisions file and the epoch to read (see
``ddd.experiment.recipes.decision_makers``). Every file's image ids are checked against the first before
anything is compared. Decision makers with identical decisions are merged before the split and
the binomial expectation (SPEC section 3); kappa against the base is reported for every one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ddd.analysis.kappa import error_consistency
from ddd.results.decisions import check_same_images, read_decisions
from ddd.analysis.split import (RULES, binomial_expectation, categorize, expected_fractions, merge_identical,
                    split_fractions, thresholds)


@dataclass(frozen=True)
class Entry:
    """One decision maker: ``name``, its ``condition``, the decisions ``path`` and the ``epoch`` read."""
    name: str
    condition: str
    path: str
    epoch: int


def load_matrix(entries: list[Entry]):
    """Predictions of every decision maker at its epoch, aligned and checked.

    Returns
    -------
    predictions int64 (M, N), targets int64 (N,), image_ids str (N,), class_names list.
    """
    if not entries:
        raise ValueError("a study needs at least one decision maker")
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"decision maker names are not unique: {names}")
    rows, cache = [], {}
    ids = targets = class_names = None
    for e in entries:
        if e.path not in cache:
            cache[e.path] = read_decisions(e.path, load_probabilities=False)
        d = cache[e.path]
        if ids is None:
            ids, targets, ref = d.image_ids, d.targets, e.name
            class_names = d.attrs.get("class_names")
        else:
            check_same_images(ids, d.image_ids, names=(ref, e.name))
            if not np.array_equal(targets, d.targets):
                raise ValueError(f"{e.name} ({e.path}) has other targets than {ref} for the same images")
        if e.epoch not in set(d.epochs.tolist()):
            raise ValueError(f"{e.name}: epoch {e.epoch} is not in {e.path} (epochs "
                             f"{d.epochs.min()}..{d.epochs.max()})")
        rows.append(d.predictions[list(d.epochs).index(e.epoch)].astype(np.int64))
    return np.stack(rows), targets, ids, class_names


def kappa_vs_base(correct: np.ndarray, entries: list[Entry], *, base: str = "base",
                  undefined: str = "nan") -> pd.DataFrame:
    """Kappa of every decision maker against the base (SPEC section 3's comparisons).

    ``different_data`` networks are compared with each other; each of them also appears as a
    ``half_data`` row against the base. Returns a frame with columns condition, name, other,
    kappa, identical (decisions equal to the one compared with).
    """
    idx = {e.name: i for i, e in enumerate(entries)}
    if base not in idx:
        raise ValueError(f"no decision maker named {base!r}; have {list(idx)}")
    rows = []

    def add(condition, name, other):
        a, b = correct[idx[name]], correct[idx[other]]
        rows.append({"condition": condition, "name": name, "other": other,
                     "kappa": error_consistency(a, b, undefined=undefined)})

    dd = [e.name for e in entries if e.condition == "different_data"]
    for e in entries:
        if e.condition == "different_data":
            add("half_data", e.name, base)
        else:
            add(e.condition, e.name, base)
    if len(dd) == 2:
        add("different_data", dd[0], dd[1])
    return pd.DataFrame(rows)


def summarize(entries: list[Entry], *, study: str, undefined: str = "nan") -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Summary, per-image split table and per-decision-maker kappa table of a study.

    Returns
    -------
    summary : dict (see ``results/<study>/summary.json`` in the README).
    split : DataFrame, one row per image: image_id, target, n_correct, <rule> for each rule.
    kappas : DataFrame from :func:`kappa_vs_base`, plus an ``identical`` column.
    """
    preds, targets, ids, _ = load_matrix(entries)
    names = [e.name for e in entries]
    correct = preds == targets[None, :]
    accuracy = correct.mean(axis=1)
    if "base" in names:
        kap = kappa_vs_base(correct, entries, undefined=undefined)
    else:  # imported or pretrained decision makers: pairs.tsv compares them all
        kap = pd.DataFrame({"condition": pd.Series(dtype=str), "name": pd.Series(dtype=str),
                            "other": pd.Series(dtype=str), "kappa": pd.Series(dtype=float)})
    pos = {n: i for i, n in enumerate(names)}
    kap["identical"] = [bool(np.array_equal(preds[pos[a]], preds[pos[b]]))
                        for a, b in zip(kap["name"], kap["other"])]

    kept_preds, kept, merged = merge_identical(preds, names)
    kept_correct = kept_preds == targets[None, :]
    kept_acc = kept_correct.mean(axis=1)
    n = len(kept)
    counts = kept_correct.sum(axis=0)
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
        expected[rule] = expected_fractions(kept_acc, trivial_at=t, impossible_at=i)

    by_cond = kap.groupby("condition", sort=False)["kappa"] if len(kap) else []
    notes = []
    ident = kap[(kap["identical"]) & (kap["name"] != kap["other"])]
    if len(ident):
        notes.append("identical decisions to the decision maker compared with (e.g. hardware "
                     "non-determinism on a deterministic CPU): " + ", ".join(ident["name"]))
    if merged:
        notes.append("merged before the split: " + "; ".join(f"{k} = {', '.join(v)}" for k, v in merged.items()))
    summary = {
        "study": study,
        "n_images": int(len(ids)),
        "n_decision_makers": n,
        "decision_makers_all": names,
        "merged": merged,
        "mean_accuracy": float(kept_acc.mean()),
        "accuracy": {k: float(a) for k, a in zip(kept, kept_acc)},
        "accuracy_all": {k: float(a) for k, a in zip(names, accuracy)},
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
        "epochs": {e.name: e.epoch for e in entries},
        "notes": notes,
    }
    return summary, split_df, kap


def _nan_none(x: float):
    return None if x is None or not np.isfinite(x) else x


def write_summary(summary: dict, split_df: pd.DataFrame, kappas: pd.DataFrame, *, summary_path: str,
                  split_path: str, kappa_path: str) -> None:
    """Write the three outputs of :func:`summarize` (JSON and tab-separated tables)."""
    for p in (summary_path, split_path, kappa_path):
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
    with open(summary_path, "w") as fh:
        json.dump(summary, fh, indent=2)
    split_df.to_csv(split_path, sep="\t", index=False)
    kappas.to_csv(kappa_path, sep="\t", index=False, na_rep="NaN")


def consistency(entries: list[Entry], split_tsv: str, *, pairs_path: str, summary_path: str,
                uncertainty_path: str, undefined: str = "nan", ci: float = 0.95, n_boot: int = 1000,
                seed: int = 1312) -> None:
    """Error consistency of a study: every pair at every epoch on every subset, with uncertainty.

    Writes
    ------
    pairs_path : one row per pair, epoch and subset (``ddd.analysis.engine``): every stored epoch of every
        run (one decision maker per decisions file; plus-epoch ones are the base run's rows), on
        ``all`` images, the ``in_between`` images (all-but-one rule, from ``split_tsv``) and, for
        imported data with several conditions, each ``condition=<value>``; exact one-sided p-values
        against independent observers with the same accuracies.
    summary_path : per epoch, subset and pair of conditions: mean, sd and quantiles of kappa.
    uncertainty_path : at every decision maker's final epoch, every pair with a percentile
        bootstrap CI over images (seeded) and its p-value, plus one ``spread`` row per condition
        with several runs, separating the spread over runs from the spread over images.
    """
    from ddd.analysis.kappa import condition_spread, pairwise
    from ddd.analysis.engine import all_pairs
    from ddd.results.imports import read_condition_subsets
    from ddd.experiment.recipes import PLUS_EPOCHS

    runs: dict[str, Entry] = {}
    for e in entries:
        if e.condition not in PLUS_EPOCHS:
            runs.setdefault(e.path, e)
    split = pd.read_csv(split_tsv, sep="\t", dtype={"image_id": str})
    subsets = {}
    if "all_but_one" in split:
        subsets["in_between"] = split["image_id"].to_numpy()[split["all_but_one"].to_numpy() == "in_between"]
    subsets.update(read_condition_subsets(next(iter(runs))))
    groups = {e.name: e.condition for e in runs.values()}
    if len(runs) >= 2:
        all_pairs([(e.name, e.path) for e in runs.values()], pairs_path=pairs_path, summary_path=summary_path,
                  groups=groups, subsets=subsets, undefined=undefined, p_value=True)
    else:  # one decision maker: no pair, but the declared outputs exist
        for p in (pairs_path, summary_path):
            os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
            pd.DataFrame(columns=["a", "b", "epoch", "subset", "n", "kappa"]).to_csv(p, sep="\t", index=False)

    preds, targets, _, _ = load_matrix(entries)
    correct = preds == targets[None, :]
    names = [e.name for e in entries]
    frames = []
    if len(entries) >= 2:
        final = pairwise(correct, names=names, undefined=undefined, ci=ci, n_boot=n_boot, seed=seed, p_value=True)
        frames.append(final.assign(kind="pair"))
    base = names.index("base") if "base" in names else None
    by_condition: dict[str, list[int]] = {}
    for k, e in enumerate(entries):
        by_condition.setdefault(e.condition, []).append(k)
    rows = []
    for condition, idx in by_condition.items():
        if len(idx) < 2:
            continue
        ref = correct[base] if base is not None and base not in idx else None
        spread, _ = condition_spread(correct[idx], reference=ref, names=[names[k] for k in idx], ci=ci,
                                     n_boot=n_boot, seed=seed, undefined=undefined)
        rows.append({"kind": "spread", "a": condition, "b": "base" if ref is not None else "within", **spread})
    if rows:
        frames.append(pd.DataFrame(rows))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["kind", "a", "b"])
    os.makedirs(os.path.dirname(os.path.abspath(uncertainty_path)), exist_ok=True)
    out.to_csv(uncertainty_path, sep="\t", index=False, na_rep="NaN")
