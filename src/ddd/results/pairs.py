"""The consistency tables of a study: ``consistency/pairs.tsv``, ``summary.tsv`` and ``uncertainty.tsv``.

The only module that knows their layout; the engine (:mod:`ddd.analysis.engine`) and the study's
consistency (:mod:`ddd.analysis.consistency`) write through it, consumers read through it. Every
file is written to a ``.tmp`` sibling and renamed into place; NaN is written as ``NaN``.

``pairs.tsv``        one row per pair, epoch and subset: :data:`PAIR_COLUMNS` (+ ``p_value``): κ and its
                     parts, then the agreement beyond κ (CAPA, margin consistency). Streamed
                     block by block (:class:`PairsWriter`): a study of 1,000 decision makers x 91 epochs
                     x 2 subsets has 91 M rows (~15 GB); leave it out for such studies.
``summary.tsv``      one row per epoch, subset and pair of groups: :data:`SUMMARY_COLUMNS`.
``uncertainty.tsv``  at the final epoch: one ``pair`` row per pair with its bootstrap interval and
                     p-value, and one ``spread`` row per condition with several runs.
``differences.tsv``  at the final epoch: one row per difference of two κ (:data:`DIFFERENCE_COLUMNS`).
``conditions.tsv``   one row per condition and subset: mean κ with the base and its interval over
                     images and runs (:data:`CONDITION_COLUMNS`).
"""

from __future__ import annotations

import os

import pandas as pd

from ddd.results.files import read_tsv, write_tsv

__all__ = ["PAIR_COLUMNS", "KAPPA_PAIR_COLUMNS", "AGREEMENT_PAIR_COLUMNS", "SUMMARY_COLUMNS", "DIFFERENCE_COLUMNS",
           "CONDITION_COLUMNS", "PairsWriter", "write_pairs_summary", "read_pairs", "read_pairs_summary",
           "write_uncertainty", "read_uncertainty", "write_empty", "write_differences", "read_differences", "write_conditions", "read_conditions"]

#: ``pairs.tsv`` as written before the agreement beyond κ: :func:`read_pairs` still reads such files.
KAPPA_PAIR_COLUMNS = ("a", "b", "epoch", "subset", "n", "p_a", "p_b", "c_obs", "c_exp", "kappa", "kappa_undefined",
                      "kappa_min", "kappa_max", "kappa_over_max")
#: Agreement beyond κ (:mod:`ddd.analysis.agreement`): CAPA (discrete) and its parts, margin consistency.
AGREEMENT_PAIR_COLUMNS = ("agree_obs", "capa_c_exp", "capa", "same_wrong", "margin_n", "margin_consistency")
PAIR_COLUMNS = KAPPA_PAIR_COLUMNS + AGREEMENT_PAIR_COLUMNS
SUMMARY_COLUMNS = ("epoch", "subset", "group_a", "group_b", "n_pairs", "n_undefined", "kappa_mean", "kappa_sd",
                   "kappa_q05", "kappa_median", "kappa_q95", "c_obs_mean", "c_exp_mean")
#: ``differences.tsv``: Δκ = κ(first) − κ(second), each "x vs y" on its subset (README "Do they differ?").
DIFFERENCE_COLUMNS = ("level", "comparison", "first", "first_subset", "second", "second_subset", "kappa_first",
                      "kappa_second", "delta", "ci_low", "ci_high", "ci", "ci_over", "p_bootstrap", "p_swap",
                      "p_value", "p_method", "holm_family", "p_holm", "significant", "n_first", "n_second",
                      "n_runs_first", "n_runs_second", "n_boot", "n_boot_undefined", "n_perm", "epoch")
#: ``conditions.tsv``: each condition's mean κ with the base per subset.
CONDITION_COLUMNS = ("condition", "subset", "kappa", "ci_low", "ci_high", "ci", "ci_over", "n_runs", "n_images",
                     "n_boot", "n_boot_undefined", "epoch")
_STR = {"a": str, "b": str, "subset": str, "group_a": str, "group_b": str, "kind": str, "level": str,
        "comparison": str, "first": str, "second": str, "first_subset": str, "second_subset": str, "ci_over": str,
        "p_method": str, "holm_family": str, "condition": str}


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
    """``pairs.tsv`` (small studies: the whole table in memory). Tables written before the agreement
    columns get them as NaN (``margin_n`` 0): nothing was computed, not a value of 0 agreement."""
    frame = _read(path, KAPPA_PAIR_COLUMNS)
    for column in AGREEMENT_PAIR_COLUMNS:
        if column not in frame.columns:
            frame[column] = 0 if column == "margin_n" else float("nan")
    rest = [c for c in frame.columns if c not in PAIR_COLUMNS]
    return frame[[*PAIR_COLUMNS, *rest]]


def read_pairs_summary(path) -> pd.DataFrame:
    """``consistency/summary.tsv``."""
    return _read(path, SUMMARY_COLUMNS)


def read_uncertainty(path) -> pd.DataFrame:
    """``consistency/uncertainty.tsv``."""
    return _read(path, ("kind", "a", "b"))


def _ordered(frame: pd.DataFrame, columns, what: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}")
    return frame[list(columns)]


def write_differences(table: pd.DataFrame, path) -> None:
    """Write ``consistency/differences.tsv`` (:data:`DIFFERENCE_COLUMNS`)."""
    _write(_ordered(table, DIFFERENCE_COLUMNS, "differences table"), path)


def read_differences(path) -> pd.DataFrame:
    """``consistency/differences.tsv``, ``significant`` as bool."""
    frame = _read(path, DIFFERENCE_COLUMNS)
    frame["significant"] = frame["significant"].astype(str).str.lower().map({"true": True, "false": False})
    if frame["significant"].isna().any():
        raise ValueError(f"{path}: column significant holds values other than True/False")
    return frame


def write_conditions(table: pd.DataFrame, path) -> None:
    """Write ``consistency/conditions.tsv`` (:data:`CONDITION_COLUMNS`)."""
    _write(_ordered(table, CONDITION_COLUMNS, "conditions table"), path)


def read_conditions(path) -> pd.DataFrame:
    """``consistency/conditions.tsv``."""
    return _read(path, CONDITION_COLUMNS)
