"""The numbers of Figure 8 (Gaussian set only): KL divergence between neighbouring classes.

Class k (0-based) has standard deviation ``sigma_k = k + 1`` (:func:`ddd.data.gaussian.sigma_of_label`;
the authors' folder names sorted as strings scrambled this mapping). The paper's eq. 1,

    KL(class_i, class_{i+1}) = log(sigma_{i+1} / sigma_i) + sigma_i^2 / (2 sigma_{i+1}^2) - 1/2,

is the KL divergence between the one-dimensional normals N(128, sigma_i^2) and N(128, sigma_{i+1}^2)
(per pixel and channel; clipping to [0, 255] ignored). The scatter of KL against accuracy leaves out
the first ``skip`` classes (paper caption: 20, the authors' code: 25) and the last class (no
neighbour above).
"""

from __future__ import annotations

import numpy as np

from ddd.data.gaussian import sigma_of_label

__all__ = ["SKIP_DEFAULT", "kl_neighbours", "gaussian_kl_data"]


SKIP_DEFAULT = 20


def kl_neighbours(sigma) -> np.ndarray:
    """Eq. 1 for consecutive entries of ``sigma`` (K,): float64 (K-1,), entry i = KL(N(sigma_i), N(sigma_{i+1}))."""
    s = np.asarray(sigma, dtype=np.float64)
    if s.ndim != 1 or s.size < 2 or not np.all(s > 0):
        raise ValueError(f"sigma must be a 1-D array of at least two positive values, got {s!r}")
    a, b = s[:-1], s[1:]
    return np.log(b / a) + a ** 2 / (2 * b ** 2) - 0.5


def gaussian_kl_data(class_acc, *, skip: int = SKIP_DEFAULT) -> dict:
    """The numbers of Figure 8 from the per-class accuracy (C,) of a Gaussian set (class k: sigma k+1).

    Returns
    -------
    dict ``sigma`` (C,), ``accuracy`` (C,), ``kl`` (C-1,) (KL between class i and i+1, at sigma_i),
    ``scatter_sigma``, ``scatter_kl``, ``scatter_accuracy``: the classes i >= ``skip`` with a
    neighbour above and a defined accuracy.
    """
    acc = np.asarray(class_acc, dtype=np.float64)
    if acc.ndim != 1 or acc.size < 2:
        raise ValueError(f"need the accuracy of at least two classes, got shape {acc.shape}")
    if int(skip) != skip or skip < 0:
        raise ValueError(f"skip must be a non-negative integer, got {skip!r}")
    sigma = sigma_of_label(np.arange(acc.size)).astype(np.float64)
    kl = kl_neighbours(sigma)
    idx = np.arange(int(skip), acc.size - 1)
    idx = idx[np.isfinite(acc[idx])]
    return {"sigma": sigma, "accuracy": acc, "kl": kl, "scatter_sigma": sigma[idx], "scatter_kl": kl[idx],
            "scatter_accuracy": acc[idx], "skip": int(skip)}
