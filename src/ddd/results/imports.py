"""Import decisions made elsewhere into the project's one decisions format (``ddd.results.decisions``).

One input file is one decision maker; each becomes ``<out_dir>/<name>.h5`` with a single
``epoch`` row 0, so every consumer (split, kappa, all pairs, figures) works unchanged::

    from ddd.results.imports import import_files, read_condition_subsets
    result = import_files(sorted(glob.glob("humans/*.csv")), format="modelvshuman", out_dir="runs/imported")
    result.paths, result.dropped            # written files; rows dropped per decision maker (intersect)
    read_condition_subsets(result.paths[0])  # {"condition=<value>": bool mask (N,)} if several conditions

Formats
-------
``csv``           comma-separated (tab-separated if the name ends in ``.tsv``) with a header naming
                  either ``image_id, target, prediction`` or ``image_id, correct``; other columns are
                  ignored. Header names are matched case-insensitively, values are stripped and
                  kept as text exactly as written (never parsed as numbers or NaN: ``007`` stays ``007``).
                  ``correct`` takes ``true/false/1/0`` (any case). Labels that are all integers are
                  stored as they are; otherwise class names (sorted, shared by all files, attribute
                  ``class_names``) are mapped to indices. In the ``correct``-only form the true class
                  is unknown: the file stores target 1 for every image and prediction 1 (correct) or 0
                  (wrong), which preserves correctness exactly, with attribute
                  ``synthetic_targets = True`` (predictions there are not class labels). Both forms may
                  not be mixed in one import (downstream analyses require equal targets).
                  If ``correct`` is given besides ``target, prediction`` it must agree with them.
``modelvshuman``  the raw-data CSV of bethgelab/model-vs-human (``subj, session, trial, rt,
                  object_response, category, condition, imagename``; header case ignored as in that
                  toolbox; ``subj, object_response, category, condition, imagename`` are required).
                  One decision maker (one ``subj``) per file. Targets are ``category``, predictions
                  ``object_response``; a non-response ``na`` (lower case, as model-vs-human writes it)
                  is stored as prediction -1, i.e. wrong; any other missing marker there, and any in
                  ``category``, is an error (below).
                  The image id is the key model-vs-human derives from ``imagename`` (:func:`mvh_image_key`).
                  The ``condition`` of every image is stored as ``image_info/condition`` (it must be the
                  same in every file; values are kept as written, where model-vs-human's pandas
                  reading may turn ``0`` into ``0.0``); where several values occur, each is a subset
                  ``condition=<value>`` (:func:`condition_subsets`) besides the whole set.

The decision maker is named after the file stem (names must be unique).

Alignment and bad input
-----------------------
Rows are matched by image id; their order within a file does not matter. All files must cover the
same set of ids, each exactly once: missing, extra or duplicated ids are refused with a message
naming the first offending ids and their lines, unless ``intersect=True``, which keeps the images
present (once) in every file and reports how many were dropped (returned, logged as a warning and
stored as the attribute ``import_dropped_rows`` of each file). An empty file, a file that is not
UTF-8 text (a byte order mark is allowed), a row with another number of fields than the header, a
missing column, an empty value, a missing value or a non-boolean ``correct`` is an error naming the
file and the line. A missing value is any of :data:`MISSING` in any case (pandas' default markers:
``NA``, ``N/A``, ``NaN``, ``null``, ``None``, ``#N/A``, ``<NA>``, ...), in every column that is read,
image ids included (an id written ``NA`` is taken for a missing one; where a class really is named
``None``, give integer labels); model-vs-human's ``na`` response is the one exception. Targets (and
conditions) of one image must agree across files. Nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ddd.results import IMPORT_FORMATS
from ddd.results.decisions import read_image_info, write_decisions
from ddd.results.files import read_json_object, write_json

log = logging.getLogger(__name__)

FORMATS = IMPORT_FORMATS
MVH_COLUMNS = ("subj", "object_response", "category", "condition", "imagename")
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}
_INT = re.compile(r"^[+-]?\d+$")
#: Values that mean "missing" (compared after stripping, in any case): pandas' default NA markers,
#: which R, Excel and pandas write for a missing value. No column may hold one (model-vs-human's
#: non-response ``na`` in ``object_response`` excepted, :data:`MVH_NA`).
MISSING = frozenset({"na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a", "#n/a n/a", "#na", "-1.#ind",
                     "-1.#qnan", "1.#ind", "1.#qnan"})
_MISSING_LEN = max(map(len, MISSING))
#: model-vs-human's non-response, exactly as its experiments write it: stored as prediction -1 (wrong).
MVH_NA = "na"


class ImportFormatError(ValueError):
    """An input file cannot be imported (message names the file and line)."""


@dataclass(frozen=True)
class Table:
    """One decision maker read from a file, before alignment; arrays are (R,) over its rows."""
    name: str
    path: str
    image_ids: np.ndarray
    lines: np.ndarray
    targets: np.ndarray | None = None
    predictions: np.ndarray | None = None
    correct: np.ndarray | None = None
    conditions: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_files` wrote: ``paths`` and ``names`` (one per input file, in input order),
    ``n_images`` kept, ``dropped`` rows per decision maker (intersect), ``n_dropped_images`` (ids not
    kept, over all files) and the extra ``subsets`` (``condition=<value>``) the files define."""
    paths: list
    names: list
    n_images: int
    dropped: dict
    n_dropped_images: int
    subsets: list

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("paths", "names", "n_images", "dropped", "n_dropped_images",
                                              "subsets")}


def mvh_image_key(imagename: str) -> str:
    """Image key of a model-vs-human ``imagename``, as that toolbox derives it.

    Port of ``get_short_imagename`` in bethgelab/model-vs-human, ``modelvshuman/helper/plotting_helper.py``
    (used by ``get_experimental_data`` for the ``image_id`` column on which
    ``modelvshuman/plotting/analyses.py::ErrorConsistency.analysis`` matches trials): drop the
    experiment-specific prefix (e.g. ``0001_cl_s01_bw_``), keep the last ``_``-separated part, or the
    last two when the second-last starts with ``n0`` (an ImageNet wnid).
    ``"0000_cl_s01_bw_boat_40_n02951358_5952.JPEG" -> "n02951358_5952.JPEG"``.
    """
    parts = imagename.split("_")
    if len(parts) == 1:
        return parts[0]
    return f"{parts[-2]}_{parts[-1]}" if parts[-2].startswith("n0") else parts[-1]


def _read_text(path: str) -> str:
    """The file's text (UTF-8, a byte order mark dropped); every failure names the file."""
    if os.path.isdir(path):
        raise ImportFormatError(f"{path} is a directory, not a file (list the files, or a glob such as "
                                f"{os.path.join(path, '*.csv')})")
    with open(path, "rb") as fh:  # FileNotFoundError / PermissionError name the path themselves
        raw = fh.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ImportFormatError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset "
                                f"{err.start}: {err.reason}); save the file as UTF-8 (e.g. from Latin-1: "
                                f"iconv -f latin1 -t utf-8)") from None


@dataclass(frozen=True)
class _Rows:
    """The data rows of a table file: ``columns`` (lower-case header name -> stripped str values) and
    the 1-based line of each row in the file."""
    path: str
    columns: dict
    lines: np.ndarray

    def line(self, k: int) -> int:
        return int(self.lines[k])


def _records(text: str, sep: str, path: str, kind: str) -> tuple[list, list]:
    """The csv records of ``text`` and the 1-based line where each starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    try:
        if '"' not in text:  # no quoting, so one record per line (the fast path)
            records = list(reader)
            return records, list(range(1, len(records) + 1))
        records, lines, start = [], [], 1
        for fields in reader:
            records.append(fields)
            lines.append(start)
            start = reader.line_num + 1
        return records, lines
    except csv.Error as err:
        raise ImportFormatError(f"{path}, line {reader.line_num}: cannot parse as {kind}: {err}") from None


def _read_table(path: str) -> _Rows:
    """Read a CSV (TSV if the name ends in ``.tsv``) with Python's csv module: every row must have as
    many fields as the header (pandas would shift a row with one field too many into the index, or
    drop the field, without a word); a blank line between rows is a row of empty values, blank lines
    at the end are ignored. Every failure names the file and the line."""
    sep = "\t" if path.lower().endswith(".tsv") else ","
    kind = "TSV" if sep == "\t" else "CSV"
    text = _read_text(path)
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ImportFormatError(f"{path}, line {line}: a NUL byte: not a text table (a {kind} file is expected)")
    records, lines = _records(text, sep, path, kind)
    header = records[0] if records else None
    if header is None or not any(h.strip() for h in header):
        raise ImportFormatError(f"{path}, line 1: " + ("the file is empty" if len(records) < 2 else "a blank line")
                                + " (expected a header line)")
    header = [h.strip().lower() for h in header]
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise ImportFormatError(f"{path}, line 1: duplicated column(s) {dup}")
    rows, lines = records[1:], lines[1:]
    blank = [not r or (len(r) == 1 and not r[0].strip()) for r in rows]
    while blank and blank[-1]:  # blank lines at the end
        blank.pop()
        rows.pop()
        lines.pop()
    for k, r in enumerate(rows):
        if len(r) != len(header):
            if blank[k]:  # a blank line between rows: a row of empty values (refused by _column)
                rows[k] = [""] * len(header)
            else:
                raise ImportFormatError(f"{path}, line {lines[k]}: {len(r)} fields, but the header (line 1) "
                                        f"has {len(header)}: {header}")
    if not rows:
        raise ImportFormatError(f"{path}, line 1: header only, no data rows")
    columns = {h: np.char.strip(np.array([r[j] for r in rows], dtype=str)) for j, h in enumerate(header)}
    return _Rows(path, columns, np.asarray(lines, dtype=np.int64))


def _column(rows: _Rows, col: str, *, allow: str | None = None) -> np.ndarray:
    """Stripped string values of a column; refuses empty values and missing-value markers
    (:data:`MISSING`, any case; ``allow``: one exact value let through), naming the line."""
    values = rows.columns[col]
    bad = np.flatnonzero(values == "")
    if bad.size:
        raise ImportFormatError(f"{rows.path}, line {rows.line(bad[0])}: empty value in column {col!r}"
                                + (f" (and {bad.size - 1} more rows)" if bad.size > 1 else ""))
    short = np.flatnonzero(np.char.str_len(values) <= _MISSING_LEN)  # only these can be a marker
    marked = np.zeros(values.shape, dtype=bool)
    marked[short] = np.isin(np.char.lower(values[short]), list(MISSING))
    if allow is not None:
        marked &= values != allow
    bad = np.flatnonzero(marked)
    if bad.size:
        raise ImportFormatError(f"{rows.path}, line {rows.line(bad[0])}: missing value {str(values[bad[0]])!r} in "
                                f"column {col!r}" + (f" (and {bad.size - 1} more rows)" if bad.size > 1 else "")
                                + "; every value must be given (NA, NaN, N/A, null, None and pandas' other "
                                "missing-value markers are refused, in any case)"
                                + (f"; a non-response is written {allow!r}" if allow is not None else ""))
    return values


def _require(rows: _Rows, cols, hint: str) -> None:
    missing = [c for c in cols if c not in rows.columns]
    if missing:
        raise ImportFormatError(f"{rows.path}, line 1 (header): missing column(s) {missing}; found "
                                f"{list(rows.columns)}; expected {hint}")


def _parse_bool(rows: _Rows, col: str) -> np.ndarray:
    values = _column(rows, col)
    low = np.char.lower(values)
    true, false = np.isin(low, list(_TRUE)), np.isin(low, list(_FALSE))
    bad = np.flatnonzero(~(true | false))
    if bad.size:
        raise ImportFormatError(f"{rows.path}, line {rows.line(bad[0])}: {str(values[bad[0]])!r} in column {col!r} "
                                f"is not boolean (use true/false or 1/0)")
    return true


def read_csv_table(path) -> Table:
    """Read one ``csv`` decision maker (module docstring); labels stay strings until :func:`import_files`."""
    path = os.fspath(path)
    rows = _read_table(path)
    hint = "'image_id, target, prediction' or 'image_id, correct'"
    _require(rows, ["image_id"], hint)
    ids = _column(rows, "image_id")
    name = os.path.splitext(os.path.basename(path))[0]
    if "target" in rows.columns or "prediction" in rows.columns:
        _require(rows, ["target", "prediction"], hint)
        targets, predictions = _column(rows, "target"), _column(rows, "prediction")
        if "correct" in rows.columns:
            given = _parse_bool(rows, "correct")
            bad = np.flatnonzero(given != (targets == predictions))
            if bad.size:
                raise ImportFormatError(f"{path}, line {rows.line(bad[0])}: column 'correct' disagrees with "
                                        f"target == prediction ({bad.size} rows)")
        return Table(name, path, ids, rows.lines, targets=targets, predictions=predictions)
    _require(rows, ["correct"], hint)
    return Table(name, path, ids, rows.lines, correct=_parse_bool(rows, "correct"))


def read_modelvshuman_table(path) -> Table:
    """Read one model-vs-human raw-data CSV (module docstring); ``na`` responses stay ``"na"`` here."""
    path = os.fspath(path)
    rows = _read_table(path)
    _require(rows, MVH_COLUMNS, "model-vs-human raw data: subj, session, trial, rt, object_response, "
                                "category, condition, imagename")
    subj = _column(rows, "subj")
    subjects = list(dict.fromkeys(subj.tolist()))
    if len(subjects) > 1:
        first = int(np.flatnonzero(subj != subjects[0])[0])
        raise ImportFormatError(f"{path}, line {rows.line(first)}: one decision maker per file, but column 'subj' "
                                f"holds {subjects[:5]}")
    names = _column(rows, "imagename")
    attrs = {"subj": subjects[0]}
    if "session" in rows.columns:
        attrs["sessions"] = sorted(set(rows.columns["session"].tolist()))
    return Table(os.path.splitext(os.path.basename(path))[0], path,
                 np.array([mvh_image_key(x) for x in names]), rows.lines,
                 targets=_column(rows, "category"),
                 predictions=_column(rows, "object_response", allow=MVH_NA),
                 conditions=_column(rows, "condition"), attrs=attrs)


READERS = {"csv": read_csv_table, "modelvshuman": read_modelvshuman_table}


def _examples(ids, lines, limit: int = 5) -> str:
    return ", ".join(f"{str(i)!r} (line {ln})" for i, ln in zip(ids[:limit], lines[:limit]))


def _dedupe(t: Table, *, intersect: bool) -> tuple[Table, int]:
    """Drop every row of an id that occurs more than once (only with intersect); returns rows dropped."""
    uniq, inverse, counts = np.unique(t.image_ids, return_inverse=True, return_counts=True)
    dup = counts[inverse] > 1
    if not dup.any():
        return t, 0
    if not intersect:
        rows = np.flatnonzero(dup)
        raise ImportFormatError(f"{t.path}: {int((counts > 1).sum())} image ids occur more than once, e.g. "
                                f"{_examples(t.image_ids[rows], t.lines[rows])}; pass intersect=True to drop them")
    keep = ~dup
    sub = {k: (getattr(t, k)[keep] if getattr(t, k) is not None else None)
           for k in ("image_ids", "lines", "targets", "predictions", "correct", "conditions")}
    return Table(t.name, t.path, attrs=t.attrs, **sub), int(dup.sum())


def _check_same_sets(tables: list[Table]) -> None:
    ref = tables[0]
    ref_set = set(ref.image_ids.tolist())
    for t in tables[1:]:
        here = set(t.image_ids.tolist())
        if here == ref_set:
            continue
        msg = [f"decision makers cover different images ({ref.path} vs {t.path}):"]
        missing = np.array([i not in here for i in ref.image_ids])
        extra = np.array([i not in ref_set for i in t.image_ids])
        if missing.any():
            msg.append(f"{int(missing.sum())} ids of {ref.path} are missing from {t.path}, e.g. "
                       f"{_examples(ref.image_ids[missing], ref.lines[missing])} of {ref.path};")
        if extra.any():
            msg.append(f"{int(extra.sum())} ids of {t.path} are not in {ref.path}, e.g. "
                       f"{_examples(t.image_ids[extra], t.lines[extra])} of {t.path};")
        msg.append("pass intersect=True to keep only the images every file holds (the count dropped is reported)")
        raise ImportFormatError(" ".join(msg))


def _aligned(t: Table, ids: np.ndarray, attr: str) -> np.ndarray:
    order = np.argsort(t.image_ids, kind="stable")
    pos = order[np.searchsorted(t.image_ids, ids, sorter=order)]
    return getattr(t, attr)[pos], t.lines[pos]


def _agree(tables: list[Table], ids: np.ndarray, attr: str, what: str) -> np.ndarray:
    ref, ref_lines = _aligned(tables[0], ids, attr)
    for t in tables[1:]:
        vals, lines = _aligned(t, ids, attr)
        bad = np.flatnonzero(vals != ref)
        if bad.size:
            k = bad[0]
            raise ImportFormatError(f"{what} of image {str(ids[k])!r} differ: {str(ref[k])!r} in {tables[0].path} "
                                    f"(line {ref_lines[k]}) but {str(vals[k])!r} in {t.path} (line {lines[k]}); "
                                    f"{bad.size} images disagree")
    return ref


def _encode(labels: list[np.ndarray], na: str | None) -> tuple[list[np.ndarray], list | None]:
    """Labels -> int arrays: integers as they are, else indices into sorted class names (``na`` -> -1)."""
    values = np.unique(np.concatenate(labels))
    values = values[values != na] if na is not None else values
    if all(_INT.match(v) for v in values):
        return [np.where(x == na, "-1", x).astype(np.int64) if na is not None else x.astype(np.int64)
                for x in labels], None
    return [np.where(x == na, -1, np.searchsorted(values, x)) if na is not None else np.searchsorted(values, x)
            for x in labels], values.tolist()


def condition_subsets(conditions) -> dict:
    """``{"condition=<value>": bool mask (N,)}`` for each distinct value (sorted), or ``{}`` if there is only one."""
    conditions = np.asarray(conditions).astype(str)
    values = sorted(set(conditions.tolist()))
    return {} if len(values) < 2 else {f"condition={v}": conditions == v for v in values}


def read_condition_subsets(path) -> dict:
    """:func:`condition_subsets` of the ``image_info/condition`` of a decisions file (``{}`` if none stored)."""
    info = read_image_info(path)
    return condition_subsets(info["condition"]) if "condition" in info else {}


def import_files(files, *, format: str, out_dir, intersect: bool = False, report_path=None) -> ImportResult:
    """Convert external decision files into decisions files, one per input file.

    Parameters
    ----------
    files : sequence of paths (globs expanded first; the workflow does it at planning, :func:`ddd.config.studies.expand_files`), one decision maker each
    format : {"csv", "modelvshuman"}
    out_dir : directory for ``<name>.h5`` (created if needed)
    intersect : keep only images present exactly once in every file instead of refusing differences
    report_path : optional JSON file receiving :meth:`ImportResult.to_dict`

    Returns
    -------
    ImportResult
    """
    if format not in READERS:
        raise ValueError(f"unknown import format {format!r}; allowed: {list(FORMATS)}")
    files = [os.fspath(f) for f in files]
    if not files:
        raise ValueError("no input files given")
    tables = [READERS[format](f) for f in files]
    _check_tables(tables)
    all_ids = set().union(*(set(t.image_ids.tolist()) for t in tables))
    tables, ids, dropped = _common_images(tables, intersect=intersect)
    targets, preds, classes = _encoded_decisions(tables, ids, format)
    info = {"condition": _agree(tables, ids, "conditions", "conditions")} if format == "modelvshuman" else {}
    paths = _write_imported(tables, preds, targets, ids, classes, info, dropped, format=format, out_dir=out_dir,
                            intersect=intersect)
    result = ImportResult(paths=paths, names=[t.name for t in tables], n_images=int(len(ids)), dropped=dropped,
                          n_dropped_images=int(len(all_ids) - len(ids)),
                          subsets=list(condition_subsets(info["condition"])) if info else [])
    if any(dropped.values()):
        log.warning("import: kept %d images held by every file; dropped %d image ids; rows dropped per decision "
                    "maker: %s", len(ids), result.n_dropped_images, {k: v for k, v in dropped.items() if v})
    if report_path is not None:
        write_json(result.to_dict(), report_path)
    return result


def read_import_report(path) -> dict:
    """``import.json`` (what an import kept and dropped, :meth:`ImportResult.to_dict`) as a dict."""
    return read_json_object(path, required=("names", "n_images", "dropped"))


def _check_tables(tables) -> None:
    """One decision maker per file stem, and one form (correct / target + prediction) for all files."""
    by_name: dict[str, str] = {}
    for t in tables:
        if t.name in by_name:
            raise ImportFormatError(f"two input files would give the decision maker {t.name!r}: {by_name[t.name]} "
                                    f"and {t.path} (names come from the file stem)")
        by_name[t.name] = t.path
    forms = {t.path: t.correct is not None for t in tables}
    if len(set(forms.values())) > 1:
        only = [p for p, c in forms.items() if c][:3]
        full = [p for p, c in forms.items() if not c][:3]
        raise ImportFormatError(f"cannot mix the 'image_id, correct' form ({only}) with 'image_id, target, "
                                f"prediction' ({full}) in one import")


def _common_images(tables, *, intersect: bool):
    """Tables without duplicate ids, the image ids every file holds (sorted) and rows dropped per name."""
    deduped = [_dedupe(t, intersect=intersect) for t in tables]
    tables, dropped = [d[0] for d in deduped], {t.name: d[1] for t, d in zip(tables, deduped)}
    if intersect:
        common = set(tables[0].image_ids.tolist()).intersection(*(set(t.image_ids.tolist()) for t in tables[1:]))
        if not common:
            raise ImportFormatError(f"no image id is held (once) by all {len(tables)} files")
        for t in tables:
            dropped[t.name] += int(len(t.image_ids) - len(common))
    else:
        _check_same_sets(tables)
        common = set(tables[0].image_ids.tolist())
    return tables, np.array(sorted(common)), dropped


def _encoded_decisions(tables, ids, format: str):
    """Targets (N,), one prediction array (N,) per table and the class names (None for the
    'correct' form, whose targets are all 1 and predictions 1 = right, 0 = wrong)."""
    if tables[0].correct is not None:
        return (np.ones(len(ids), dtype=np.int64),
                [_aligned(t, ids, "correct")[0].astype(np.int64) for t in tables], None)
    target_labels = _agree(tables, ids, "targets", "targets")
    pred_labels = [_aligned(t, ids, "predictions")[0] for t in tables]
    na = MVH_NA if format == "modelvshuman" else None  # targets never hold it (refused by _column)
    encoded, classes = _encode([target_labels, *pred_labels], na)
    return encoded[0], encoded[1:], classes


def _write_imported(tables, preds, targets, ids, classes, info, dropped, *, format, out_dir, intersect) -> list:
    """One decisions file per table, ``<out_dir>/<name>.h5``; returns their paths."""
    os.makedirs(os.fspath(out_dir), exist_ok=True)
    paths = []
    for t, pred in zip(tables, preds):
        attrs = {"import_format": format, "source_file": os.path.abspath(t.path), "synthetic_targets": classes is None,
                 "import_dropped_rows": dropped[t.name], **t.attrs}
        if classes is not None:
            attrs["class_names"] = classes
        path = os.path.join(os.fspath(out_dir), f"{t.name}.h5")
        write_decisions(path, pred[None, :], targets, ids, epochs=[0], attrs=attrs, image_info=info or None,
                        recipe={"imported": {"format": format, "file": os.path.abspath(t.path),
                                             "intersect": bool(intersect)}})
        paths.append(path)
    return paths
