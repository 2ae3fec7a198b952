"""The study tables: ``summary.json``, ``split.tsv``, ``kappa_vs_base.tsv`` and ``label_issues.tsv``.

This module is the only one that knows how these four files are laid out: each has one writer
and one reader here, and every consumer (analysis, figures, tables, psychophysics) goes through
them. Writers replace the file atomically (a ``.tmp`` sibling renamed into place); readers name
the file in every error and check the columns they promise.

``summary.json``       the study's summary (:func:`ddd.analysis.summary.summarize`; keys in the README),
                       format :data:`SUMMARY_VERSION` in its ``summary_version`` key (none: version 1)
``split.tsv``          one row per evaluation image: ``image_id`` (str), ``target``, ``n_correct``, one
                       category column per rule of :data:`ddd.analysis.split.RULES` that applies, and
                       ``label_issue`` (bool) when the study has label issues
``kappa_vs_base.tsv``  one row per comparison with the base: ``condition, name, other, kappa,
                       identical`` (NaN written as ``NaN``)
``label_issues.tsv``   one row per evaluation image: ``image_id``, ``label_issue`` (bool), ``source``
                       (``list`` or ``cleanlab``) and, for cleanlab, ``given_label_probability``
"""

from __future__ import annotations

import os

import pandas as pd

from ddd.results.files import ResultsFileError, read_json_object, read_tsv, write_json, write_tsv

__all__ = ["SUMMARY_VERSION", "write_summary", "read_summary", "write_split", "read_split", "write_kappas",
           "read_kappas", "write_label_issues", "read_label_issues", "StudyTableError"]

SPLIT_COLUMNS = ("image_id", "target", "n_correct")
KAPPA_COLUMNS = ("condition", "name", "other", "kappa", "identical")
LABEL_ISSUE_COLUMNS = ("image_id", "label_issue", "source")


class StudyTableError(ResultsFileError):
    """A study table is missing, unreadable or lacks the columns its reader promises."""


def write_summary(summary: dict, path) -> None:
    """Write ``summary.json`` (indented JSON)."""
    write_json(summary, path)


#: The format ``summary.json`` is written in (its ``summary_version`` key). Version 1 (no key) named
#: Figure 2's binomial(n, mean accuracy) pmf ``binomial_expectation`` and the Poisson-binomial
#: split of independent decision makers ``expected_independent``; version 2 names them
#: ``binomial_expectation_pmf`` and ``poisson_binomial_split`` and adds ``split_uncertainty``.
SUMMARY_VERSION = 2
_RENAMED_IN_2 = {"binomial_expectation": "binomial_expectation_pmf", "expected_independent": "poisson_binomial_split"}


def read_summary(path) -> dict:
    """``summary.json`` as a dict in the current format (:data:`SUMMARY_VERSION`).

    A file that is not a JSON object, or of a newer or unknown ``summary_version``, is refused,
    naming it. A version-1 file (no ``summary_version``) is read with its renamed keys under their
    new names (``binomial_expectation`` -> ``binomial_expectation_pmf``, ``expected_independent`` ->
    ``poisson_binomial_split``) and ``summary_version: 1``; what it lacks (``split_uncertainty``)
    stays absent.
    """
    summary = read_json_object(path, error=StudyTableError)
    version = summary.get("summary_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= SUMMARY_VERSION:
        raise StudyTableError(f"{os.fspath(path)}: summary_version {version!r} is not one this ddd reads "
                              f"(1 to {SUMMARY_VERSION}); written by a newer ddd? Summarise the study again")
    if version == 1:
        for old, new in _RENAMED_IN_2.items():
            if old in summary:
                if new in summary:
                    raise StudyTableError(f"{os.fspath(path)}: has both {old!r} (version 1) and {new!r} "
                                          f"(version 2) without a summary_version; summarise the study again")
                summary[new] = summary.pop(old)
        summary["summary_version"] = 1
    return summary


def write_split(split: pd.DataFrame, path) -> None:
    """Write ``split.tsv`` (one row per image, columns as in the module docstring)."""
    write_tsv(split, path, columns=SPLIT_COLUMNS, what="split table")


def read_split(path) -> pd.DataFrame:
    """``split.tsv``: image ids as strings exactly as written (no NA parsing), N rows; ``label_issue``
    (where present) as bool."""
    df = read_tsv(path, ("image_id", "n_correct"), error=StudyTableError, dtype={"image_id": str}, keep_default_na=False)
    if "label_issue" in df.columns:
        df["label_issue"] = _bool_column(df["label_issue"], path, "label_issue")
    return df


def write_kappas(kappas: pd.DataFrame, path) -> None:
    """Write ``kappa_vs_base.tsv`` (NaN written as ``NaN``)."""
    write_tsv(kappas, path, na_rep="NaN")


def read_kappas(path) -> pd.DataFrame:
    """``kappa_vs_base.tsv`` with ``kappa`` as float (NaN where undefined)."""
    return read_tsv(path, KAPPA_COLUMNS[:4], error=StudyTableError, dtype={"condition": str, "name": str, "other": str},
                     keep_default_na=False, na_values=["NaN", "nan", ""])


def write_label_issues(table: pd.DataFrame, path) -> None:
    """Write ``label_issues.tsv`` (one row per evaluation image)."""
    write_tsv(table, path, columns=LABEL_ISSUE_COLUMNS, what="label-issue table")


def read_label_issues(path) -> pd.DataFrame:
    """``label_issues.tsv`` with ``label_issue`` as bool; any other value is refused, naming the file."""
    df = read_tsv(path, LABEL_ISSUE_COLUMNS[:2], error=StudyTableError, dtype={"image_id": str}, keep_default_na=False)
    df["label_issue"] = _bool_column(df["label_issue"], path, "label_issue")
    return df


def _bool_column(values: pd.Series, path, column: str):
    flag = values.astype(str).str.strip().str.lower()
    bad = sorted(set(flag) - {"true", "false", "1", "0"})
    if bad:
        raise StudyTableError(f"{os.fspath(path)}: column {column} must be boolean, got values {bad[:5]}")
    return flag.isin(("true", "1")).to_numpy()
