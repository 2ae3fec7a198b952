"""A study's error consistency: every pair at every epoch on every subset, with uncertainty.

:func:`study_consistency` writes the three tables of ``results/<study>/consistency/`` through
:mod:`ddd.results.pairs`:

``pairs.tsv``        one row per pair, epoch and subset (:mod:`ddd.analysis.engine`): every network
                     once (its decisions file's own decision maker, :func:`~ddd.experiment.makers.one_per_file`)
                     at every stored epoch up to its final one, on ``all`` images, the ``in_between``
                     images (all-but-one rule, from ``split.tsv``) and, for imported data with several
                     conditions, each ``condition=<value>``; exact one-sided p-values against
                     independent observers with the same accuracies.
``summary.tsv``      per epoch, subset and pair of conditions: mean, sd and quantiles of κ.
``uncertainty.tsv``  at every decision maker's final epoch, every pair with a percentile bootstrap
                     interval over images (seeded) and its p-value, plus one ``spread`` row per
                     condition with several runs, separating the spread over runs from the spread
                     over images.
``differences.tsv``  at the final epoch, every difference of two κ that share a decision maker or a
                     pair, with its interval, p-values and Holm's adjustment
                     (:func:`ddd.analysis.differences.study_differences`).
``conditions.tsv``   each condition's mean κ with the base on all and on the in-between images, with
                     an interval over images and runs.

The p-values of ``pairs.tsv`` and ``uncertainty.tsv`` are exact conditional tests against
independent observers; ``alternative`` (default ``"greater"``, more consistent than chance) is
written beside each in ``p_alternative``. ``bias_corrected`` adds Klein et al.'s κ′.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ddd.analysis.differences import ALPHA, is_focused, study_differences
from ddd.analysis.engine import all_pairs
from ddd.analysis.summary import kappa_vs_base
from ddd.analysis.uncertainty import _bootstrap_summary, condition_spread, pairwise
from ddd.experiment.makers import as_decision_makers, one_per_file
from ddd.results.decisions import read_final
from ddd.results.imports import read_condition_subsets
from ddd.results.pairs import write_conditions, write_differences, write_empty, write_uncertainty
from ddd.results.study import read_split

log = logging.getLogger(__name__)

__all__ = ["study_consistency", "uncertainty_table", "differences_tables"]


def study_consistency(makers, split_tsv, *, pairs_path, summary_path, uncertainty_path, differences_path,
                      conditions_path, undefined: str = "nan", ci: float = 0.95, n_boot: int = 1000,
                      n_perm: int = 1000, alpha: float = ALPHA, alternative: str = "greater",
                      bias_corrected: bool = False, seed: int = 1312, pair_resampling: str = "auto") -> None:
    """Write ``pairs.tsv``, ``summary.tsv``, ``uncertainty.tsv``, ``differences.tsv`` and
    ``conditions.tsv`` of a study (module docstring).

    ``makers``: the study's decision makers; ``split_tsv``: its ``split.tsv``; ``n_perm``:
    permutations of the swap test; ``alpha``: level of the ``significant`` column (Holm-adjusted);
    ``pair_resampling``: the decision-maker rows of the differences (``scope`` of
    :func:`~ddd.analysis.differences.study_differences`).
    """
    makers = as_decision_makers(makers)
    networks = [m for m in one_per_file(makers) if m.owns_file]
    split = read_split(split_tsv)
    subsets = {}
    if "all_but_one" in split:
        subsets["in_between"] = split["image_id"].to_numpy()[split["all_but_one"].to_numpy() == "in_between"]
    subsets.update(read_condition_subsets(networks[0].path))
    if len(networks) >= 2:
        all_pairs(networks, pairs_path=pairs_path, summary_path=summary_path,
                  groups={m.name: m.condition for m in networks}, subsets=subsets, undefined=undefined,
                  p_value=True, alternative=alternative, bias_corrected=bias_corrected)
    else:  # one decision maker: no pair, but the declared outputs exist
        write_empty(pairs_path, summary_path)
    final = read_final(makers)
    write_uncertainty(uncertainty_table(makers, undefined=undefined, ci=ci, n_boot=n_boot, seed=seed,
                                        alternative=alternative, bias_corrected=bias_corrected, final=final,
                                        scope=pair_resampling),
                      uncertainty_path)
    differences, conditions = differences_tables(makers, split, undefined=undefined, ci=ci, n_boot=n_boot,
                                                 n_perm=n_perm, alpha=alpha, seed=seed, final=final,
                                                 scope=pair_resampling)
    write_differences(differences, differences_path)
    write_conditions(conditions, conditions_path)


def differences_tables(makers, split, *, undefined: str = "nan", ci: float = 0.95, n_boot: int = 1000,
                       n_perm: int = 1000, alpha: float = ALPHA, seed: int = 1312, final=None,
                       scope: str = "auto"):
    """``(differences, conditions)`` of a study at the final epoch (:func:`~ddd.analysis.differences.study_differences`).

    ``split``: the study's split table (``read_split``); its ``all_but_one`` column, when present,
    gives the in-between images. Comparisons with the base are those of ``kappa_vs_base.tsv``.
    """
    makers = as_decision_makers(makers)
    final = read_final(makers) if final is None else final
    names = [m.name for m in makers]
    comparisons = kappa_vs_base(final.correct, makers, undefined=undefined) if "base" in names else None
    in_between = None
    if "all_but_one" in split:
        category = dict(zip(split["image_id"].astype(str), split["all_but_one"].astype(str)))
        missing = [i for i in final.image_ids[:5] if i not in category]
        if missing or len(category) != len(final.image_ids):
            raise ValueError(f"split.tsv does not cover the decisions' images (e.g. {missing[:3]})")
        in_between = np.array([category[i] == "in_between" for i in final.image_ids.astype(str)])
    return study_differences(final.correct, names, comparisons, in_between=in_between, ci=ci, n_boot=n_boot,
                             n_perm=n_perm, seed=seed, alpha=alpha, undefined=undefined,
                             scope=scope)


def _focused_intervals(frame, correct, makers, names, *, undefined, ci, n_boot, seed) -> pd.DataFrame:
    """``frame`` (pairwise without intervals) with the bootstrap interval columns, filled for the compared
    pairs only (the same numbers as bootstrapping every pair: the resamples do not depend on the pairs)."""
    idx = {nm: k for k, nm in enumerate(names)}
    compared = set()
    if "base" in names:
        comps = kappa_vs_base(correct, makers, undefined=undefined)
        compared = {tuple(sorted((idx[a], idx[b]))) for a, b in zip(comps["name"], comps["other"]) if a != b}
    i, j = np.triu_indices(len(names), k=1)
    rows = np.flatnonzero([(a, b) in compared for a, b in zip(i.tolist(), j.tolist())])
    log.warning("%d decision makers: bootstrap intervals of κ for the %d compared pairs only (each run and the "
                "decision maker it is compared with), not all %d pairs; the others keep κ and its exact p-value "
                "(analysis.pair_resampling: all gives every pair an interval)", len(names), len(rows), len(i))
    cols = {key: np.full(len(i), np.nan) for key in ("kappa_ci_low", "kappa_ci_high", "kappa_sd",
                                                     "kappa_boot_undefined")}  # NaN: no interval computed
    if len(rows):
        got = _bootstrap_summary(correct, i[rows], j[rows], n_boot=int(n_boot), seed=seed, undefined=undefined,
                                 ci=ci)
        for key, value in got.items():
            cols[key][rows] = value
    extra = [c for c in frame.columns if c in ("p_value", "p_alternative")]  # after the intervals, as in pairwise
    out = frame.drop(columns=extra).assign(**cols)
    return pd.concat([out, frame[extra]], axis=1)


def uncertainty_table(makers, *, undefined: str = "nan", ci: float = 0.95, n_boot: int = 1000,
                      seed: int = 1312, alternative: str = "greater", bias_corrected: bool = False,
                      final=None, scope: str = "auto") -> pd.DataFrame:
    """Every pair at its final epoch with a bootstrap interval and p-value (``kind = pair``), and the
    spread of κ over each condition's runs against the spread over images (``kind = spread``).

    ``scope`` (as :func:`ddd.analysis.differences.study_differences`'): ``"all"`` bootstraps every pair
    (n_boot N M² / 2 multiply-adds); ``"focused"`` only the pairs of ``kappa_vs_base.tsv`` (each run and the
    decision maker it is compared with), every other pair keeping κ and its exact p-value with empty
    interval columns; ``"auto"``: ``"all"`` up to :data:`ddd.analysis.differences.AUTO_ALL_MAX` decision
    makers, ``"focused"`` above (logged). The intervals computed are the same either way."""
    focused = is_focused(scope, len(makers))
    makers = as_decision_makers(makers)
    correct = (read_final(makers) if final is None else final).correct
    names = [m.name for m in makers]
    frames = []
    if len(makers) >= 2:
        final = pairwise(correct, names=names, undefined=undefined, ci=None if focused else ci, n_boot=n_boot,
                         seed=seed, p_value=True, alternative=alternative, bias_corrected=bias_corrected)
        if focused:
            final = _focused_intervals(final, correct, makers, names, undefined=undefined, ci=ci, n_boot=n_boot,
                                       seed=seed)
        frames.append(final.assign(kind="pair"))
    base = names.index("base") if "base" in names else None
    by_condition: dict[str, list[int]] = {}
    for k, m in enumerate(makers):
        by_condition.setdefault(m.condition, []).append(k)
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
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["kind", "a", "b"])
