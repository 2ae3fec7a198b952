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

__all__ = ["write_rsa_table", "read_rsa_table", "write_rdms", "read_rdms"]


def write_rsa_table(table: pd.DataFrame, path) -> None:
    """Write ``rsa.tsv``."""
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    table.to_csv(path, sep="\t", index=False, na_rep="NaN")


def read_rsa_table(path) -> pd.DataFrame:
    """``rsa.tsv`` with ``r_vs_base`` as float (NaN where undefined)."""
    df = pd.read_csv(path, sep="\t", dtype={"condition": str, "name": str, "other": str},
                     keep_default_na=False, na_values=["NaN", "nan", ""])
    missing = [c for c in ("condition", "name", "r_vs_base") if c not in df.columns]
    if missing:
        raise ValueError(f"{os.fspath(path)}: missing columns {missing}; has {list(df.columns)}")
    return df


def write_rdms(rdms: dict, path) -> None:
    """Write ``rsa_rdms.npz`` from ``{name: RDM (n, n)}`` (order kept)."""
    np.savez_compressed(path, names=np.array(list(rdms), dtype=str),
                        **{f"rdm_{i}": m for i, m in enumerate(rdms.values())})


def read_rdms(path) -> dict:
    """``{name: RDM}`` from ``rsa_rdms.npz``, in the stored order."""
    with np.load(path, allow_pickle=False) as z:
        return {str(n): z[f"rdm_{i}"] for i, n in enumerate(z["names"])}
