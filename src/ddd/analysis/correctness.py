"""The numbers of Figures 4 and 5: correctness of every evaluation image at every epoch.

Figure 4 is one run (the base network), rows sorted by the image's mean correctness over the
epochs shown (stable: equal means keep evaluation order). Figure 5 is the mean correctness over
the study's runs, rows sorted by the final epoch's value, ties by the mean over all epochs shown
(both descending), then evaluation order (the authors' unstable argsort left the order within a
level arbitrary). Figure 5 averages over *runs* (decisions files), each once, at the epochs 0..E
that every run has; the plus-epoch decision makers are the base run and so are not separate rows
(the authors' code copied the base row for them); runs with identical predictions at every shown
epoch (hardware non-determinism on a CPU) are merged, as in the split.

At ImageNet scale the drawn rows are means of consecutive sorted images (:func:`bin_rows`).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from ddd.experiment.makers import one_per_file
from ddd.results.decisions import check_same_study, read_decisions, read_ids_epochs

__all__ = ["MAX_IMAGE_ROWS", "sort_by_mean", "sort_by_final", "bin_rows", "run_correctness", "mean_correctness",
           "shared_epochs", "run_mean"]

#: Image x epoch figures at ImageNet scale: at most this many image rows are drawn; larger sets
#: are shown as means of consecutive sorted images (:func:`bin_rows`).
MAX_IMAGE_ROWS = 2000


def _check_matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (epochs, images), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}): no epochs or no images")
    return x


def sort_by_mean(correct) -> np.ndarray:
    """Image order (int64 (N,)) by mean correctness over epochs, descending, stable.

    ``correct``: bool or float (T epochs, N images)."""
    c = _check_matrix(correct, "correct").astype(np.float64)
    return np.argsort(-c.mean(axis=0), kind="stable")


def sort_by_final(mean) -> np.ndarray:
    """Image order (int64 (N,)) by the final epoch's value, descending; ties by the mean over all
    epochs, descending; then evaluation order. ``mean``: float (T, N)."""
    m = _check_matrix(mean, "mean").astype(np.float64)
    # lexsort: last key is primary; negate for descending, arange keeps it deterministic.
    return np.lexsort((np.arange(m.shape[1]), -m.mean(axis=0), -m[-1]))


def bin_rows(matrix, max_rows: int = MAX_IMAGE_ROWS) -> tuple[np.ndarray, int]:
    """Average consecutive rows so that at most ``max_rows`` remain.

    Parameters
    ----------
    matrix : float (N, T), rows already sorted.
    max_rows : int >= 1.

    Returns
    -------
    (binned float64 (ceil(N / b), T), b) with ``b = ceil(N / max_rows)`` rows per bin (the last bin
    may hold fewer); ``b = 1`` returns the rows unchanged (as float64).
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"matrix must be 2-D with at least one row, got shape {x.shape}")
    if int(max_rows) != max_rows or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
    n = x.shape[0]
    b = math.ceil(n / int(max_rows))
    if b == 1:
        return x, 1
    starts = np.arange(0, n, b)
    sums = np.add.reduceat(x, starts, axis=0)
    sizes = np.diff(np.append(starts, n))
    return sums / sizes[:, None], b


def run_correctness(predictions, targets) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of Figure 4.

    Parameters
    ----------
    predictions : int (T, N), one run's top-1 predictions at T epochs.
    targets : int (N,).

    Returns
    -------
    (matrix bool (N, T) with rows sorted by :func:`sort_by_mean`, order int64 (N,): the image index
    of each row).
    """
    p = _check_matrix(predictions, "predictions")
    t = np.asarray(targets)
    if t.shape != (p.shape[1],):
        raise ValueError(f"targets must have shape ({p.shape[1]},), got {t.shape}")
    correct = p == t[None, :]
    order = sort_by_mean(correct)
    return correct[:, order].T, order


def mean_correctness(correct) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of Figure 5 from correctness ``(R runs, T epochs, N images)`` (bool).

    Returns
    -------
    (matrix float64 (N, T): mean over runs, rows sorted by :func:`sort_by_final`; order int64 (N,)).
    """
    c = np.asarray(correct)
    if c.ndim != 3 or 0 in c.shape:
        raise ValueError(f"correctness must be a non-empty (runs, epochs, images) array, got shape {c.shape}")
    mean = c.mean(axis=0, dtype=np.float64)
    order = sort_by_final(mean)
    return mean[:, order].T, order


def shared_epochs(makers) -> np.ndarray:
    """The epochs <= the smallest final epoch that every run (decisions file) of a study stores: int64 (T,), maybe empty."""
    runs = one_per_file(makers)
    last = min(r.epoch for r in runs)
    shared = None
    for r in runs:
        _, ep = read_ids_epochs(r.path)
        ep = set(ep[ep <= last].tolist())
        shared = ep if shared is None else shared & ep
    return np.array(sorted(shared or ()), dtype=np.int64)


def run_mean(makers, epochs) -> tuple[np.ndarray, list[str], dict]:
    """Mean correctness over the distinct runs of a study at ``epochs`` (int (T,), stored by every run),
    identical runs merged.

    Files are read one at a time (ImageNet: 31 runs x 91 epochs x 50,000 images never held at once).

    Returns
    -------
    (mean float64 (T, N), kept run names, merged ``{kept: [names]}``)
    """
    total, seen, kept, merged, ref = None, {}, [], {}, None
    for r in one_per_file(makers):
        d = read_decisions(r.path, load_probabilities=False)
        if ref is None:
            ref = d
        else:
            check_same_study(ref, d)
        preds = np.ascontiguousarray(d.predictions[np.searchsorted(d.epochs, epochs)]).astype(np.int64)
        key = hashlib.blake2b(preds.tobytes(), digest_size=16).digest()
        if key in seen:
            merged.setdefault(seen[key], []).append(r.name)
            continue
        seen[key] = r.name
        kept.append(r.name)
        c = preds == d.targets[None, :]
        total = c.astype(np.int32) if total is None else total + c
    return total / float(len(kept)), kept, merged
