"""Images with label issues: found with cleanlab from a study's stored probabilities, or read from a
published list (Figure 2's red bars; a ``label_issue`` column of ``split.tsv``).

**Finding them** (:func:`find_label_issues`) uses confident learning (Northcutt et al. 2021, the
``cleanlab`` package, as the paper). cleanlab is AGPL-licensed and therefore an *optional* extra
(``pip install 'ddd[labels]'``); it is imported inside the function only, never by another module
of ``ddd``.

*Out-of-sample probabilities.* Confident learning needs, for every image, class probabilities
from a model that was not trained on that image (cleanlab's documentation: "label issues are
most accurate when they are computed based on out-of-sample pred_probs"; usually obtained by
cross-validation). Here no cross-validation is needed: the images examined are the *evaluation*
split, and no decision maker of a study ever trains on it (``ddd.training`` trains on the training
split only; pretrained models were trained on ImageNet's training set, not its validation set).
So each decision maker's class probabilities on the evaluation images, stored at its final epoch
in its decisions file (``probabilities``, ``ddd.results.decisions``), are out-of-sample by construction.
The study's decision makers are averaged (an ensemble of out-of-sample predictions, which is
still out-of-sample and better calibrated than any one of them) and the average is handed to
cleanlab together with the evaluation labels. Decision makers without stored probabilities
(imported decisions, human observers) cannot contribute; use a published list for those studies.

**Reading a list** (:func:`read_label_issue_list`): one image id per line, or a CSV / TSV table
with an id column; ``#`` starts a comment. Every id is checked against the study's image ids.
"""

from __future__ import annotations

import csv
import io
import logging
import os

import numpy as np
import pandas as pd

from ddd.results.decisions import check_same_images, check_same_study, read_decisions, read_ids_epochs

__all__ = ["mean_probabilities", "find_label_issues", "study_probabilities", "find_study_label_issues",
           "read_label_issue_list", "add_label_issue_column", "label_issue_table", "ID_COLUMNS",
           "CLEANLAB_MISSING"]

log = logging.getLogger(__name__)

#: Column names accepted as the image id column of a CSV / TSV list, in order of preference.
ID_COLUMNS = ("image_id", "id", "image", "filename", "file", "path")
CLEANLAB_MISSING = ("finding label issues needs the optional package cleanlab (AGPL-3.0): "
                    "pip install 'ddd[labels]' (or pip install cleanlab); or give a published list "
                    "of label-error image ids instead")
_ROW_SUM_TOLERANCE = 2e-2  # stored as float16, rows sum to 1 within about 1e-3


def mean_probabilities(probabilities) -> np.ndarray:
    """Average class probabilities over decision makers.

    Parameters
    ----------
    probabilities : float array (M, N, C) (M decision makers, N images, C classes), a sequence of
        M arrays (N, C), or one array (N, C) (M = 1). Values in [0, 1], rows summing to 1 (within
        float16 storage precision).

    Returns
    -------
    float64 (N, C): the mean over the M decision makers, rows renormalised to sum to exactly 1.
    """
    if isinstance(probabilities, (list, tuple)):
        if not probabilities:
            raise ValueError("probabilities is empty: no decision makers")
        shapes = {np.shape(p) for p in probabilities}
        if len(shapes) != 1:
            raise ValueError(f"every decision maker's probabilities must have the same shape (N, C), got {sorted(shapes)}")
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or 0 in p.shape:
        raise ValueError(f"probabilities must have shape (M, N, C) or (N, C) with no empty axis, got {p.shape}")
    if p.shape[2] < 2:
        raise ValueError(f"probabilities need at least 2 classes, got C = {p.shape[2]}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("probabilities must be finite and lie in [0, 1]")
    sums = p.sum(axis=2)
    worst = float(np.abs(sums - 1).max())
    if worst > _ROW_SUM_TOLERANCE:
        m, n = np.unravel_index(int(np.abs(sums - 1).argmax()), sums.shape)
        raise ValueError(f"probabilities must sum to 1 over classes; decision maker {m}, image {n} sums to "
                         f"{sums[m, n]:.4f} (logits or log-probabilities given?)")
    mean = p.mean(axis=0)
    return mean / mean.sum(axis=1, keepdims=True)


def _check_targets(targets, n: int, c: int) -> np.ndarray:
    t = np.asarray(targets)
    if t.ndim != 1 or len(t) != n or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"targets must be a 1-D integer array of N = {n} labels, got {t.dtype} shape {t.shape}")
    if n and (t.min() < 0 or t.max() >= c):
        raise ValueError(f"targets must lie in [0, C = {c}), got range [{t.min()}, {t.max()}]")
    return t.astype(np.int64)


def find_label_issues(probabilities, targets, *, filter_by: str = "prune_by_noise_rate", frac_noise: float = 1.0,
                      min_examples_per_class: int = 1, n_jobs: int = 1) -> np.ndarray:
    """Images whose given label is probably wrong, by confident learning (cleanlab).

    Parameters
    ----------
    probabilities : out-of-sample class probabilities of the study's decision makers, (M, N, C) or
        (N, C); averaged over M by :func:`mean_probabilities` (see the module docstring for why
        evaluation-split probabilities are out-of-sample).
    targets : int array (N,), the given labels in [0, C).
    filter_by, frac_noise, min_examples_per_class : passed to ``cleanlab.filter.find_label_issues``
        (its defaults; ``filter_by`` one of cleanlab's methods, e.g. ``"prune_by_noise_rate"``,
        ``"prune_by_class"``, ``"both"``, ``"confident_learning"``, ``"predicted_neq_given"``).
    n_jobs : cleanlab's worker processes (1: none, deterministic and light).

    Returns
    -------
    bool (N,): True where the label is flagged as an issue.

    Raises
    ------
    ImportError : cleanlab is not installed (the message says how to install it).
    """
    mean = mean_probabilities(probabilities)
    n, c = mean.shape
    t = _check_targets(targets, n, c)
    if not 0 < frac_noise <= 1:
        raise ValueError(f"frac_noise must lie in (0, 1], got {frac_noise!r}")
    try:
        from cleanlab.filter import find_label_issues as _cleanlab_find
    except ImportError as err:
        raise ImportError(CLEANLAB_MISSING) from err
    missing = np.setdiff1d(np.arange(c), np.unique(t))
    if missing.size:  # cleanlab needs every class among the labels
        raise ValueError(f"every class needs at least one image to find label issues; classes without "
                         f"images: {missing[:10].tolist()}{' ...' if missing.size > 10 else ''} ({missing.size})")
    issues = _cleanlab_find(t, mean, filter_by=filter_by, frac_noise=frac_noise,
                            min_examples_per_class=min_examples_per_class, n_jobs=n_jobs)
    return np.asarray(issues, dtype=bool)


def study_probabilities(paths) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Final-epoch class probabilities of several decisions files, aligned and checked.

    Parameters
    ----------
    paths : decisions files (one per decision maker; a path given twice is read once).

    Returns
    -------
    probabilities float32 (M, N, C), targets int64 (N,), image_ids str (N,).
    """
    paths = list(dict.fromkeys(os.fspath(p) for p in paths))
    if not paths:
        raise ValueError("no decisions files given")
    probs, ref = [], None
    without = []
    for p in paths:
        d = read_decisions(p)
        if ref is None:
            ref = d
        else:
            check_same_study(ref, d)
        if d.probabilities is None:
            without.append(p)
            continue
        if probs and d.probabilities.shape != probs[0].shape:
            raise ValueError(f"{p}: probabilities of shape {d.probabilities.shape}, others {probs[0].shape}")
        probs.append(d.probabilities.astype(np.float32))
    if without:
        raise ValueError(f"{len(without)} of {len(paths)} decisions files store no class probabilities "
                         f"(imported decisions?), e.g. {without[:3]}; label issues need every decision "
                         f"maker's probabilities, or give a published list instead")
    return np.stack(probs), ref.targets.astype(np.int64), ref.image_ids


def find_study_label_issues(paths, **options) -> pd.DataFrame:
    """Label issues of a study from its decisions files (:func:`study_probabilities`, then
    :func:`find_label_issues` with ``options``).

    Returns
    -------
    DataFrame, one row per evaluation image in file order: image_id (str), target (int),
    label_issue (bool), given_label_probability (float: the mean probability of the given
    label, low for likely issues).
    """
    probs, targets, ids = study_probabilities(paths)
    issues = find_label_issues(probs, targets, **options)
    mean = mean_probabilities(probs)
    return pd.DataFrame({"image_id": ids, "target": targets, "label_issue": issues,
                         "given_label_probability": mean[np.arange(len(targets)), targets]})


def _read_text(path) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label-issue list {path} does not exist")
    with open(path, encoding="utf-8-sig") as fh:  # a BOM from spreadsheet exports is dropped
        return fh.read()


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _ids_from_text(text: str, path: str, column: str | None) -> list[str]:
    lines = [ln for ln in (_strip_comment(raw) for raw in text.splitlines()) if ln]
    if not lines:
        raise ValueError(f"label-issue list {path} holds no image ids (only comments or blank lines)")
    delimiter = "\t" if "\t" in lines[0] else "," if "," in lines[0] else None
    if delimiter is None and column is None:
        # one id a line; a first line naming an id column is a header
        return lines[1:] if lines[0].lower() in ID_COLUMNS else lines
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter or ","))
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    if column is not None:
        if column not in header:
            raise ValueError(f"label-issue list {path}: no column {column!r}; columns: {header}")
        idx = header.index(column)
    else:
        found = [c for c in ID_COLUMNS if c in lower]
        if not found:
            raise ValueError(f"label-issue list {path}: a table needs an id column named one of "
                             f"{list(ID_COLUMNS)} (or pass column=); its header is {header}")
        idx = lower.index(found[0])
    out = []
    for k, row in enumerate(rows[1:], start=2):
        if idx >= len(row):
            raise ValueError(f"label-issue list {path}: row {k} has {len(row)} fields, the id column is "
                             f"number {idx + 1}")
        if row[idx].strip():
            out.append(row[idx].strip())
    return out


def read_label_issue_list(path, *, image_ids=None, column: str | None = None, match: str = "exact") -> np.ndarray:
    """Image ids of a published list of label errors.

    Parameters
    ----------
    path : a text file with one image id per line (an optional first line ``image_id`` is a
        header), or a CSV / TSV table (detected by a comma or tab in its first line) with an id
        column named ``column`` or one of :data:`ID_COLUMNS` (case-insensitive). ``#`` starts a
        comment anywhere on a line; blank lines are skipped.
    image_ids : optional str array (N,), the study's image ids; every listed id must be one of
        them. Unknown ids are an error naming a few of them and how many there are.
    column : the id column of a table (default: the first of :data:`ID_COLUMNS` present).
    match : ``"exact"`` (ids as the study writes them), or ``"basename"`` (the list names files,
        e.g. ``ILSVRC2012_val_00000293.JPEG``, and the study's ids are paths relative to the split
        folder, ``n01440764/ILSVRC2012_val_00000293.JPEG``); with ``"basename"`` the returned
        ids are the study's. Needs ``image_ids``.

    Returns
    -------
    str array (K,) of distinct ids in the order of the list (duplicates dropped with a warning).
    """
    if match not in ("exact", "basename"):
        raise ValueError(f"match must be 'exact' or 'basename', got {match!r}")
    if match == "basename" and image_ids is None:
        raise ValueError("match='basename' needs the study's image_ids")
    path = os.fspath(path)
    ids = _ids_from_text(_read_text(path), path, column)
    if not ids:
        raise ValueError(f"label-issue list {path} holds no image ids")
    unique = list(dict.fromkeys(ids))
    if len(unique) < len(ids):
        log.warning("label-issue list %s lists %d ids more than once; counting each once",
                    path, len(ids) - len(unique))
    if image_ids is None:
        return np.asarray(unique, dtype=str)
    study = np.asarray(image_ids).astype(str)
    if study.ndim != 1:
        raise ValueError(f"image_ids must be 1-D, got shape {study.shape}")
    if match == "basename":
        base = np.array([s.rsplit("/", 1)[-1] for s in study])
        names, counts = np.unique(base, return_counts=True)
        clash = set(names[counts > 1].tolist()) & set(unique)
        if clash:
            raise ValueError(f"label-issue list {path}: file names {sorted(clash)[:5]} occur in several "
                             f"folders of the study; use full ids (match='exact')")
        lookup = dict(zip(base.tolist(), study.tolist()))
        unknown = [i for i in unique if i not in lookup]
        _refuse_unknown(unknown, len(unique), path)
        return np.asarray([lookup[i] for i in unique], dtype=str)
    known = set(study.tolist())
    _refuse_unknown([i for i in unique if i not in known], len(unique), path)
    return np.asarray(unique, dtype=str)


def _refuse_unknown(unknown: list, total: int, path: str) -> None:
    if unknown:
        raise ValueError(f"label-issue list {path}: {len(unknown)} of {total} image ids are not among the "
                         f"study's evaluation images, e.g. {unknown[:5]} (ids must be written as in "
                         f"split.tsv's image_id column)")


def add_label_issue_column(split, issue_ids, *, column: str = "label_issue") -> pd.DataFrame:
    """A copy of a split table with a boolean column marking the label-issue images.

    Parameters
    ----------
    split : DataFrame with an ``image_id`` column (``split.tsv``), N rows.
    issue_ids : iterable of image ids with label issues (e.g. :func:`read_label_issue_list`, or
        the ids of :func:`find_study_label_issues` rows with ``label_issue``); each must be in
        ``split``.
    column : name of the new column (replaced if present).

    Returns
    -------
    DataFrame (N rows), the same rows plus ``column`` (bool).
    """
    if "image_id" not in getattr(split, "columns", ()):
        raise ValueError("split must be a DataFrame with an image_id column")
    ids = split["image_id"].astype(str)
    issues = pd.Index(dict.fromkeys(str(i) for i in issue_ids))
    unknown = issues.difference(pd.Index(ids))
    if len(unknown):
        raise ValueError(f"{len(unknown)} of {len(issues)} label-issue image ids are not in the split table, "
                         f"e.g. {sorted(unknown)[:5]}")
    out = split.copy()
    out[column] = ids.isin(issues).to_numpy()
    return out


def label_issue_table(decisions, *, list_path=None, column: str | None = None, match: str = "exact",
                      **options) -> pd.DataFrame:
    """``label_issues.tsv`` of a study: one row per evaluation image, in the decisions files' order.

    Parameters
    ----------
    decisions : the study's decisions files (the same images in the same order).
    list_path : a published list of label-error ids (:func:`read_label_issue_list` with ``column``
        and ``match``); without it, the issues are found with cleanlab from the files' stored
        probabilities (:func:`find_study_label_issues` with ``options``).

    Returns
    -------
    DataFrame with columns image_id (str), label_issue (bool), source (``"list"`` or
    ``"cleanlab"``) and, for cleanlab, given_label_probability (float).
    """
    paths = list(dict.fromkeys(os.fspath(p) for p in decisions))
    if not paths:
        raise ValueError("no decisions files given")
    if list_path is None:
        found = find_study_label_issues(paths, **options)
        return found.assign(source="cleanlab")[["image_id", "label_issue", "source", "given_label_probability"]]
    if options:
        raise ValueError(f"cleanlab options {sorted(options)} do not apply to a published list")
    ids = None
    for p in paths:
        file_ids, _ = read_ids_epochs(p)
        if ids is None:
            ids, ref = file_ids, p
        else:
            check_same_images(ids, file_ids, names=(ref, p))
    listed = read_label_issue_list(list_path, image_ids=ids, column=column, match=match)
    return pd.DataFrame({"image_id": ids, "label_issue": np.isin(ids, listed), "source": "list"})


def label_issue_ids(label_issues, split_ids: pd.Series, source: str) -> np.ndarray:
    """Label-issue ids from a list file (:func:`ddd.analysis.label_issues.read_label_issue_list`) or an
    iterable, each checked against the study's ids."""
    known = split_ids.astype(str).to_numpy()
    from_file = isinstance(label_issues, (str, os.PathLike))
    ids = (read_label_issue_list(label_issues) if from_file
           else np.asarray(list(dict.fromkeys(str(v) for v in label_issues)), dtype=str))
    inside = np.isin(ids, known)
    if not inside.any():
        raise ValueError(f"none of the {len(ids)} label-issue image ids is in {source}")
    if from_file:
        return read_label_issue_list(label_issues, image_ids=known)  # names the unknown ids
    if not inside.all():
        raise ValueError(f"{int((~inside).sum())} of {len(ids)} label-issue image ids are not in {source}, "
                         f"e.g. {ids[~inside][:5].tolist()}")
    return ids


def study_label_issues(decision_makers, table_path, *, list_path=None, column: str | None = None,
                       match: str = "exact", **options) -> pd.DataFrame:
    """:func:`label_issue_table` of a study's decisions files (each once, sorted), written to
    ``label_issues.tsv`` (:mod:`ddd.results.study`); returns the table."""
    from ddd.experiment.makers import as_decision_makers
    from ddd.results.study import write_label_issues

    paths = sorted({m.path for m in as_decision_makers(decision_makers)})
    table = label_issue_table(paths, list_path=list_path, column=column, match=match, **options)
    write_label_issues(table, table_path)
    return table
