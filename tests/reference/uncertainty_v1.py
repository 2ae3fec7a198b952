"""FROZEN REFERENCE (issue 19, before the pair bootstrap was streamed by blocks of pairs): do not edit;
oracle for tests. The bootstrap of every pair, all resampled kappas held at once (n_boot x pairs)."""

import warnings

import numpy as np

from ddd.analysis.kappa import _F32_EXACT, pair_table
from ddd.analysis.uncertainty import resample_weights


def _bootstrap_kappas(c: np.ndarray, i: np.ndarray, j: np.ndarray, *, n_boot: int, seed,
                      undefined: str) -> np.ndarray:
    """Kappa of pairs ``(i[p], j[p])`` of bool ``c`` (M, N) on ``n_boot`` image resamples: float64 (n_boot, P)."""
    m, n = c.shape
    if n > _F32_EXACT:
        raise ValueError(f"bootstrap supports at most {_F32_EXACT} images, got {n}")
    if n_boot * len(i) > 2 ** 27:
        raise ValueError(f"n_boot x pairs = {n_boot} x {len(i)} is too large for one bootstrap (limit 2**27 "
                         f"kappas, 1 GiB); use fewer resamples or fewer decision makers")
    undefined = "nan" if undefined == "raise" else undefined
    rng = np.random.default_rng(seed)
    chunk = max(1, 2 ** 22 // n)  # resamples per chunk: depends on N only (same draws for any set of pairs)
    used = np.unique(np.concatenate([i, j]))
    cf = c[used].astype(np.float32)
    pos = np.searchsorted(used, np.arange(m))
    out = np.empty((n_boot, len(i)))
    step = 256
    for s in range(0, n_boot, chunk):
        r = min(chunk, n_boot - s)
        w = resample_weights(rng, r, n)
        k = np.rint(w @ cf.T).astype(np.int64)  # (r, used): images right in each resample
        for p in range(0, len(i), step):
            ii, jj = i[p:p + step], j[p:p + step]
            kab = np.rint(w @ (c[ii] & c[jj]).T.astype(np.float32)).astype(np.int64)
            out[s:s + r, p:p + step] = pair_table(n, k[:, pos[ii]], k[:, pos[jj]], kab, undefined=undefined)["kappa"]
    return out


def _summarise_boot(kappas: np.ndarray, ci: float) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, counted below
        lo, hi = np.nanpercentile(kappas, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
        sd = np.nanstd(kappas, axis=0, ddof=1)
    return {"kappa_ci_low": lo, "kappa_ci_high": hi, "kappa_sd": sd,
            "kappa_boot_undefined": np.isnan(kappas).sum(axis=0)}


