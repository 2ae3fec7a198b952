"""Figure 7's inputs: ``rsa.tsv`` (every network's representational similarity with the base) and
``rsa_rdms.npz`` (the RDMs drawn beside it). One writer and one reader each.

``rsa.tsv``       one row per network: ``condition, name, other, epoch, r_vs_base, n_images, ...``
                  (:func:`ddd.analysis.representations.rsa_vs_base`), NaN written as ``NaN``.
``rsa_rdms.npz``  ``names`` (str) and one RDM per name, ``rdm_0``, ``rdm_1``, ... (float (n, n)).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ddd.results.files import ResultsFileError, read_tsv, replace_atomically, write_tsv

__all__ = ["write_rsa_table", "read_rsa_table", "write_rdms", "read_rdms"]


def write_rsa_table(table: pd.DataFrame, path) -> None:
    """Write ``rsa.tsv``."""
    write_tsv(table, path, columns=("condition", "name", "r_vs_base"), what="RSA table", na_rep="NaN")


def read_rsa_table(path) -> pd.DataFrame:
    """``rsa.tsv`` with ``r_vs_base`` as float (NaN where undefined)."""
    return read_tsv(path, ("condition", "name", "r_vs_base"), dtype={"condition": str, "name": str, "other": str},
                    keep_default_na=False, na_values=["NaN", "nan", ""])


def write_rdms(rdms: dict, path) -> None:
    """Write ``rsa_rdms.npz`` from ``{name: RDM (n, n)}`` (order kept)."""
    def write(tmp):
        with open(tmp, "wb") as fh:  # a file object: savez would add ".npz" to a bare name
            np.savez_compressed(fh, names=np.array(list(rdms), dtype=str),
                                **{f"rdm_{i}": m for i, m in enumerate(rdms.values())})
    replace_atomically(path, write)


def read_rdms(path) -> dict:
    """``{name: RDM}`` from ``rsa_rdms.npz``, in the stored order."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {str(n): z[f"rdm_{i}"] for i, n in enumerate(z["names"])}
    except FileNotFoundError:
        raise
    except Exception as err:  # truncated zip, missing arrays, a pickle
        raise ResultsFileError(f"{path} is not a readable RDM file (truncated or corrupt?): "
                               f"{type(err).__name__}: {err}") from err
