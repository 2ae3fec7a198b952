"""The choice of Figures 13 / 14: an impossible and a trivial example image, seeded.

The authors took seed 1312 and the bottom or top 1,000 of the family's final-epoch mean ranking,
whose ties made the pick within a level arbitrary. Here images are ranked by the number of the
study's n distinct decision makers that classify them correctly at the final epoch (``split.tsv``'s
``n_correct``). The *impossible* candidates are the images no decision maker gets right (the strict
rule's impossible category); if there is none, the ``pool`` (default 1,000) lowest-ranked images and
every image tied with the last of them. The *trivial* candidates are the images all n get right, or
else the top ``pool`` likewise. ``numpy.random.default_rng(seed).choice`` draws ``n_pairs`` images
from each candidate list (in evaluation order; impossible first, then trivial).
"""

from __future__ import annotations

import numpy as np

__all__ = ["POOL", "SEED", "choose_examples"]


POOL = 1000


SEED = 1312


def _candidates(counts: np.ndarray, pool: int, *, lowest: bool) -> np.ndarray:
    """Indices of the ``pool`` lowest (highest) counts and every image tied with the last of them."""
    if lowest:
        limit = np.sort(counts)[min(pool, counts.size) - 1]
        return np.flatnonzero(counts <= limit)
    limit = np.sort(counts)[::-1][min(pool, counts.size) - 1]
    return np.flatnonzero(counts >= limit)


def choose_examples(n_correct, *, n: int | None = None, pool: int = POOL, n_pairs: int = 1,
                    seed: int = SEED) -> tuple[np.ndarray, np.ndarray, dict]:
    """Seeded choice of impossible and trivial example images (module docstring).

    Parameters
    ----------
    n_correct : int (N,), per image the number of decision makers right at the final epoch.
    n : number of decision makers (default ``max(n_correct)``): ``n_correct == n`` is trivial.
    pool : size of the fallback bottom / top pools (ties with the pool's last image included).
    n_pairs : images drawn from each candidate list (without replacement; fewer if one is smaller).
    seed : seed of ``numpy.random.default_rng``.

    Returns
    -------
    (impossible indices int64 (k,), trivial indices int64 (k,), info) with k = min(n_pairs,
    candidates); ``info``: ``impossible_rule`` / ``trivial_rule`` ("category" or "pool") and the
    numbers of candidates ``n_impossible_candidates``, ``n_trivial_candidates``.
    """
    counts = np.asarray(n_correct)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"n_correct must be a non-empty 1-D array, got shape {counts.shape}")
    if int(pool) != pool or pool < 1 or int(n_pairs) != n_pairs or n_pairs < 1:
        raise ValueError(f"pool and n_pairs must be positive integers, got {pool!r}, {n_pairs!r}")
    n = int(counts.max()) if n is None else int(n)
    low, high = np.flatnonzero(counts == 0), np.flatnonzero(counts == n)
    info = {"impossible_rule": "category", "trivial_rule": "category"}
    if low.size == 0:
        low, info["impossible_rule"] = _candidates(counts, int(pool), lowest=True), "pool"
    if high.size == 0:
        high, info["trivial_rule"] = _candidates(counts, int(pool), lowest=False), "pool"
    info.update(n_impossible_candidates=int(low.size), n_trivial_candidates=int(high.size))
    k = min(int(n_pairs), low.size, high.size)
    rng = np.random.default_rng(seed)
    return (np.sort(rng.choice(low, size=k, replace=False)).astype(np.int64),
            np.sort(rng.choice(high, size=k, replace=False)).astype(np.int64), info)
