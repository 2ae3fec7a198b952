"""The numbers of Figure 6: mean error consistency between condition groups.

Every decision maker belongs to one condition group; cell (A, B) is the mean κ over all pairs
(a in A, b in B) of distinct decision makers, each at its final epoch (NaN κ left out of the mean;
a cell with no defined κ is NaN). The diagonal of a condition with several decision makers is the
mean over its distinct pairs; for a single decision maker it is its κ with itself, 1 (NaN if that
decision maker is 100 % right or 100 % wrong on the images, where κ is undefined).

Groups (the paper's Figure 6 order: :data:`ddd.experiment.conditions.CONDITIONS` without
``different_data``): the networks of ``different_data`` (two networks trained on disjoint halves)
form the ``half_data`` group, so the half-data row is each half network against the other
conditions and its diagonal is the κ between the two halves (the paper's "different data" value);
plus-epoch decision makers are the base run's later epochs; conditions outside the 13 (e.g.
pretrained models) follow in first-seen order.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ddd.analysis.kappa import pair_counts, pair_table
from ddd.experiment.conditions import CONDITIONS

__all__ = ["MATRIX_ORDER", "GROUP_OF", "condition_groups", "condition_kappa_matrix"]


#: The paper's Figure 6 order: the 13 conditions without "different data" (its networks are "half data").
MATRIX_ORDER = tuple(c for c in CONDITIONS if c != "different_data")


#: Group of a decision maker whose condition is a key here.
GROUP_OF = {"different_data": "half_data"}


def condition_groups(conditions, order=MATRIX_ORDER) -> tuple[list[str], list[str]]:
    """``(group of each decision maker, groups in matrix order)`` from their conditions."""
    groups = [GROUP_OF.get(c, c) for c in conditions]
    present = list(dict.fromkeys(groups))
    ordered = [g for g in order if g in present] + [g for g in present if g not in order]
    return groups, ordered


def condition_kappa_matrix(correct, groups, *, order=None, mask=None, undefined: str = "nan") -> pd.DataFrame:
    """Mean kappa between condition groups (module docstring).

    Parameters
    ----------
    correct : bool (M, N), decision makers x images.
    groups : sequence of M group names (e.g. from :func:`condition_groups`).
    order : groups in row/column order (default: first-seen order); groups without decision makers
        give NaN rows.
    mask : bool (N,), optional: only these images (an empty mask gives an all-NaN matrix).
    undefined : kappa of undefined pairs, as in :mod:`ddd.analysis.kappa`.

    Returns
    -------
    DataFrame (G, G) of float64, index and columns = ``order``.
    """
    c = np.asarray(correct)
    if c.ndim != 2 or c.dtype != bool:
        raise ValueError(f"correct must be bool (M, N), got {c.dtype} shape {c.shape}")
    groups = list(groups)
    if len(groups) != c.shape[0]:
        raise ValueError(f"got {len(groups)} groups for {c.shape[0]} decision makers")
    order = list(dict.fromkeys(groups)) if order is None else list(order)
    g = len(order)
    out = np.full((g, g), np.nan)
    if c.shape[0] == 0:
        return pd.DataFrame(out, index=order, columns=order)
    n, both = pair_counts(c, mask=None if mask is None else np.asarray(mask, dtype=bool))
    k = np.diag(both)
    kap = pair_table(n, k[:, None], k[None, :], both, undefined=undefined)["kappa"]
    member = np.array([[gr == o for gr in groups] for o in order], dtype=bool)  # (G, M)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells stay NaN
        for a in range(g):
            ia = np.flatnonzero(member[a])
            for b in range(a, g):
                ib = np.flatnonzero(member[b])
                if ia.size == 0 or ib.size == 0:
                    continue
                block = kap[np.ix_(ia, ib)]
                if a == b:
                    vals = block[np.triu_indices(ia.size, k=1)] if ia.size > 1 else block.ravel()
                else:
                    vals = block.ravel()
                out[a, b] = out[b, a] = np.nanmean(vals) if np.isfinite(vals).any() else np.nan
    return pd.DataFrame(out, index=order, columns=order)


def in_between_mask(split: pd.DataFrame, image_ids, *, source="split.tsv") -> np.ndarray | None:
    """bool (N,) in the order of ``image_ids``: the in-between images under the all-but-one rule
    (``split``'s ``all_but_one`` column), or None when the split has no such column (too few decision
    makers for the rule). Every image id must be in ``split``."""
    if "all_but_one" not in split.columns:
        return None
    cats = split.set_index("image_id")["all_but_one"].reindex(pd.Index(np.asarray(image_ids).astype(str)))
    if cats.isna().any():
        raise ValueError(f"{source} lacks {int(cats.isna().sum())} image ids of the decisions files")
    return (cats == "in_between").to_numpy()
