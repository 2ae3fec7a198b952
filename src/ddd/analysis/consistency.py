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
"""

from __future__ import annotations

import pandas as pd

from ddd.analysis.engine import all_pairs
from ddd.analysis.uncertainty import condition_spread, pairwise
from ddd.experiment.makers import as_decision_makers, one_per_file
from ddd.results.decisions import read_final
from ddd.results.imports import read_condition_subsets
from ddd.results.pairs import write_empty, write_uncertainty
from ddd.results.study import read_split

__all__ = ["study_consistency", "uncertainty_table"]


def study_consistency(makers, split_tsv, *, pairs_path, summary_path, uncertainty_path, undefined: str = "nan",
                      ci: float = 0.95, n_boot: int = 1000, seed: int = 1312) -> None:
    """Write ``pairs.tsv``, ``summary.tsv`` and ``uncertainty.tsv`` of a study (module docstring).

    ``makers``: the study's decision makers; ``split_tsv``: its ``split.tsv``.
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
                  p_value=True)
    else:  # one decision maker: no pair, but the declared outputs exist
        write_empty(pairs_path, summary_path)
    write_uncertainty(uncertainty_table(makers, undefined=undefined, ci=ci, n_boot=n_boot, seed=seed),
                      uncertainty_path)


def uncertainty_table(makers, *, undefined: str = "nan", ci: float = 0.95, n_boot: int = 1000,
                      seed: int = 1312) -> pd.DataFrame:
    """Every pair at its final epoch with a bootstrap interval and p-value (``kind = pair``), and the
    spread of κ over each condition's runs against the spread over images (``kind = spread``)."""
    makers = as_decision_makers(makers)
    correct = read_final(makers).correct
    names = [m.name for m in makers]
    frames = []
    if len(makers) >= 2:
        final = pairwise(correct, names=names, undefined=undefined, ci=ci, n_boot=n_boot, seed=seed, p_value=True)
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
