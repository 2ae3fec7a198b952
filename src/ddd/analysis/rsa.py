"""Representational similarity analysis (Figure 7): how alike are two networks' final-layer codes?

For a fixed, seeded subset of evaluation images (:func:`subset`), each network's *penultimate*
activations are recorded: the input of its final linear layer
(:func:`ddd.analysis.representations.activations`, a forward hook; every architecture of
:mod:`ddd.nets` ends in one). Per network, the representational
dissimilarity matrix (RDM) of the images is ``1 - Pearson correlation`` between their activation
vectors (N x N); two networks are compared by the Pearson correlation of their RDMs' upper
triangles (the diagonal excluded), as Kriegeskorte et al. (2008) and Mehrer et al. (2020). The
paper (appendix A.3, thingsvision) states none of these details; these are the project's choices
(docs/reproduction.md#figures-and-tables).

Two back ends compute the same numbers (a test checks they agree):

- ``"rsatoolbox"``: ``rsatoolbox.rdm.calc_rdm(method="correlation")`` and
  ``rsatoolbox.rdm.compare(method="corr")``, the well-kept library (an optional extra,
  ``pip install 'ddd[rsa]'``: it pulls scikit-learn and scikit-image). It holds the whole RDMs in
  memory, float64: use it for subsets of a few thousand images.
- ``"numpy"``: streams over blocks of RDM rows and accumulates the correlation's centred sums, so
  it never holds more than two float64 blocks of 2^20 entries (8 MB each) besides the N x D
  activations: any subset size.

``"auto"`` (default) takes rsatoolbox when it is installed and the subset has at most
:data:`RSATOOLBOX_MAX_IMAGES` images, numpy otherwise.

An image whose activation vector is constant (e.g. every unit of a ReLU layer off) has no
correlation with anything; such images are dropped from a comparison (for both networks) and the
number of images kept is reported.
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["subset", "rdm", "compare_rdms", "rsa_correlation", "BACKENDS", "RSATOOLBOX_MAX_IMAGES", "DEFAULT_SIZE",
           "DEFAULT_SEED"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "rsatoolbox", "numpy")
RSATOOLBOX_MAX_IMAGES = 5000  # float64 RDMs of 5,000 images: 200 MB each
DEFAULT_SIZE = 1000
DEFAULT_SEED = 1312
_BLOCK = 512


def subset(n_images: int, *, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> np.ndarray:
    """A fixed, seeded subset of evaluation image indices.

    Parameters
    ----------
    n_images : images in the evaluation split (N).
    size : images wanted; all N when ``size >= N``.
    seed : numpy seed of the draw (without replacement).

    Returns
    -------
    int64 array (min(size, N),), sorted ascending (for class-major splits the RDM shows classes
    as blocks). The same (n_images, size, seed) always gives the same indices.
    """
    for key, value in (("n_images", n_images), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    if size < 2:
        raise ValueError(f"an RDM needs at least 2 images, got size={size}")
    if size >= n_images:
        return np.arange(n_images, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n_images, size=size, replace=False)).astype(np.int64)


def _check_acts(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] < 3 or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N >= 3 images, D >= 1), got {a.shape}")
    if not np.issubdtype(a.dtype, np.floating) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite floats")
    return a


def _standardize(a: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (float32), so Pearson r = row dot products."""
    z = a.astype(np.float64) - a.mean(axis=1, keepdims=True, dtype=np.float64)
    norm = np.sqrt(np.einsum("ij,ij->i", z, z))
    return (z / np.where(norm > 0, norm, 1)[:, None]).astype(np.float32)


def _varying(a: np.ndarray) -> np.ndarray:
    """bool (N,): rows that are not constant (have a defined correlation)."""
    return np.ptp(a, axis=1) > 0


def rdm(acts) -> np.ndarray:
    """Representational dissimilarity matrix, ``1 - Pearson r`` between rows.

    Parameters
    ----------
    acts : float array (N, D), one activation vector per image.

    Returns
    -------
    float32 (N, N), symmetric, zero diagonal; NaN in the rows and columns of constant vectors.
    """
    a = _check_acts(acts, "acts")
    z = _standardize(a)
    out = 1 - z @ z.T
    np.fill_diagonal(out, 0)
    bad = ~_varying(a)
    out[bad, :] = np.nan
    out[:, bad] = np.nan
    return out


def compare_rdms(rdm_a, rdm_b) -> float:
    """Pearson correlation between the upper triangles (diagonal excluded) of two RDMs (N, N)."""
    a, b = np.asarray(rdm_a, dtype=np.float64), np.asarray(rdm_b, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape != b.shape or a.shape[0] < 3:
        raise ValueError(f"RDMs must be square, of the same shape and at least 3 x 3, got {a.shape} and {b.shape}")
    iu = np.triu_indices(a.shape[0], 1)
    x, y = a[iu], b[iu]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / den) if den > 0 else float("nan")


def _streamed_r(za: np.ndarray, zb: np.ndarray, block: int) -> float:
    """Pearson r of the off-diagonal RDM entries from blocks of rows (never N x N in memory).

    ``za``, ``zb``: standardised activations (:func:`_standardize`). The off-diagonal entries are
    every upper-triangle entry twice, so their correlation is that of the upper triangles. Their
    means are known in closed form (rows of unit norm: the sum of all r_ij with i != j is
    ``|sum_i z_i|^2 - N``), so each block is centred before its products are summed in float64:
    no cancellation between large raw moments. Memory: two float64 blocks of at most ``block``
    rows and 2^20 entries, plus one float32 block.
    """
    n = len(za)
    rows = max(1, min(block, (1 << 20) // n))
    means = []
    for z in (za, zb):
        total = z.sum(axis=0, dtype=np.float64)
        means.append(1.0 - (float(total @ total) - n) / (n * (n - 1)))
    sxx = syy = sxy = 0.0
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        centred = []
        for z, mean in zip((za, zb), means):
            sim = z[start:stop] @ z.T  # float32 (rows, n)
            d = np.subtract(1.0 - mean, sim, dtype=np.float64)  # (1 - r) - mean, float64
            del sim
            d[np.arange(stop - start), np.arange(start, stop)] = 0.0  # the diagonal is left out
            centred.append(d)
        x, y = centred
        sxx += float(np.einsum("ij,ij->", x, x))
        syy += float(np.einsum("ij,ij->", y, y))
        sxy += float(np.einsum("ij,ij->", x, y))
        del x, y, centred
    return float(sxy / np.sqrt(sxx * syy)) if sxx > 0 and syy > 0 else float("nan")


def _rsatoolbox_r(a: np.ndarray, b: np.ndarray) -> float:
    import rsatoolbox

    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x.astype(np.float64)), method="correlation")
            for x in (a, b)]
    return float(np.asarray(rsatoolbox.rdm.compare(rdms[0], rdms[1], method="corr")).ravel()[0])


def _backend(backend: str, n: int) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if backend == "numpy":
        return backend
    try:
        import rsatoolbox  # noqa: F401
    except ImportError as err:
        if backend == "rsatoolbox":
            raise ImportError("backend 'rsatoolbox' needs the optional package rsatoolbox: "
                              "pip install 'ddd[rsa]'") from err
        return "numpy"
    return "rsatoolbox" if backend == "rsatoolbox" or n <= RSATOOLBOX_MAX_IMAGES else "numpy"


def rsa_correlation(acts_a, acts_b, *, backend: str = "auto", block: int = _BLOCK) -> tuple[float, int, str]:
    """Pearson correlation of two networks' RDMs on the same images.

    Parameters
    ----------
    acts_a, acts_b : float arrays (N, D_a) and (N, D_b), rows = the same N images in the same order.
    backend : ``"auto"``, ``"rsatoolbox"`` or ``"numpy"`` (module docstring).
    block : rows of the RDMs computed at once by the numpy back end.

    Returns
    -------
    (r, n_images, backend): r in [-1, 1] (NaN if an RDM is constant), the images kept (constant
    activation vectors in either network are dropped) and the back end used.
    """
    a, b = _check_acts(acts_a, "acts_a"), _check_acts(acts_b, "acts_b")
    if len(a) != len(b):
        raise ValueError(f"acts_a and acts_b must hold the same images, got {len(a)} and {len(b)} rows")
    keep = _varying(a) & _varying(b)
    if keep.sum() < 3:
        raise ValueError(f"only {int(keep.sum())} of {len(a)} images have non-constant activations in both "
                         f"networks; an RDM comparison needs at least 3")
    if not keep.all():
        log.warning("%d of %d images have constant activations in one network and are left out",
                    int((~keep).sum()), len(a))
        a, b = a[keep], b[keep]
    used = _backend(backend, len(a))
    r = _rsatoolbox_r(a, b) if used == "rsatoolbox" else _streamed_r(_standardize(a), _standardize(b), block)
    return r, int(len(a)), used


