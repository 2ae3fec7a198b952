"""The consistency tables of a study: ``consistency/pairs.tsv``, ``summary.tsv`` and ``uncertainty.tsv``.

The only module that knows their layout; the engine (:mod:`ddd.analysis.engine`) and the study's
consistency (:mod:`ddd.analysis.consistency`) write through it, consumers read through it. Every
file is written to a ``.tmp`` sibling and renamed into place; NaN is written as ``NaN``.

``pairs.tsv``        one row per pair, epoch and subset: :data:`PAIR_COLUMNS` (+ ``p_value``). Streamed
                     block by block (:class:`PairsWriter`): a study of 1,000 decision makers x 91 epochs
                     x 2 subsets has 91 M rows (~15 GB); leave it out for such studies.
``summary.tsv``      one row per epoch, subset and pair of groups: :data:`SUMMARY_COLUMNS`.
``uncertainty.tsv``  at the final epoch: one ``pair`` row per pair with its bootstrap interval and
                     p-value, and one ``spread`` row per condition with several runs.
"""

from __future__ import annotations

import os

import pandas as pd

from ddd.results.files import read_tsv, write_tsv

__all__ = ["PAIR_COLUMNS", "SUMMARY_COLUMNS", "PairsWriter", "write_pairs_summary", "read_pairs",
           "read_pairs_summary", "write_uncertainty", "read_uncertainty", "write_empty"]

PAIR_COLUMNS = ("a", "b", "epoch", "subset", "n", "p_a", "p_b", "c_obs", "c_exp", "kappa", "kappa_undefined",
                "kappa_min", "kappa_max")
SUMMARY_COLUMNS = ("epoch", "subset", "group_a", "group_b", "n_pairs", "n_undefined", "kappa_mean", "kappa_sd",
                   "kappa_q05", "kappa_median", "kappa_q95", "c_obs_mean", "c_exp_mean")
_STR = {"a": str, "b": str, "subset": str, "group_a": str, "group_b": str, "kind": str}


class PairsWriter:
    """Write ``pairs.tsv`` block by block: ``with PairsWriter(path) as w: w.write(frame)``.

    The file appears under its name only when the block exits without an error; ``path=None``
    writes nothing (the rows are only counted).
    """

    def __init__(self, path):
        self.path, self.rows, self._fh = (None if path is None else os.fspath(path)), 0, None

    def __enter__(self):
        if self.path is not None:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._fh = open(f"{self.path}.tmp{os.getpid()}", "w")
        return self

    def write(self, frame: pd.DataFrame) -> None:
        if self._fh is not None:
            frame.to_csv(self._fh, sep="\t", index=False, header=self.rows == 0, na_rep="NaN")
        self.rows += len(frame)

    def __exit__(self, kind, value, traceback) -> None:
        if self._fh is None:
            return
        self._fh.close()
        if kind is None:
            os.replace(self._fh.name, self.path)
        elif os.path.exists(self._fh.name):
            os.remove(self._fh.name)


def _write(frame: pd.DataFrame, path) -> None:
    write_tsv(frame, path, na_rep="NaN")


def write_pairs_summary(summary: pd.DataFrame, path) -> None:
    """Write ``consistency/summary.tsv``."""
    _write(summary, path)


def write_uncertainty(table: pd.DataFrame, path) -> None:
    """Write ``consistency/uncertainty.tsv``."""
    _write(table, path)


def write_empty(pairs_path, summary_path) -> None:
    """``pairs.tsv`` and ``summary.tsv`` of a study with a single decision maker: headers only."""
    _write(pd.DataFrame(columns=list(PAIR_COLUMNS)), pairs_path)
    _write(pd.DataFrame(columns=list(SUMMARY_COLUMNS)), summary_path)


def _read(path, columns) -> pd.DataFrame:
    return read_tsv(path, columns, dtype=_STR, keep_default_na=False, na_values=["NaN"])


def read_pairs(path) -> pd.DataFrame:
    """``pairs.tsv`` (small studies: the whole table in memory)."""
    return _read(path, PAIR_COLUMNS)


def read_pairs_summary(path) -> pd.DataFrame:
    """``consistency/summary.tsv``."""
    return _read(path, SUMMARY_COLUMNS)


def read_uncertainty(path) -> pd.DataFrame:
    """``consistency/uncertainty.tsv``."""
    return _read(path, ("kind", "a", "b"))
