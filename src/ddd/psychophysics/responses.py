"""The observers' response files (``responses/<observer>.csv``): one row per answered trial.

This module is the only one that knows the layout of a response file. The collection server
writes it (:func:`prepare_file`, which creates it or sets aside an incomplete last line,
:func:`append_row` with :func:`format_row`, which never appends to an incomplete line and undoes a
failed write; :func:`recorded_rows` tells it what a file already holds), the page's CSV export (``static/experiment.js``) writes the
same columns, and the analysis reads it (:func:`read_responses`). The values of one trial are
checked by one function, :func:`check_trial` (and :func:`check_correct`), both for a record
posted to the server (:func:`parse_record`, JSON values) and for a line of a file
(:func:`parse_fields`, text), so that the two accept exactly the same trials. The experiment is
described in ``docs/reproduction.md#psychophysics``.

Columns (:data:`RESPONSE_COLUMNS`, in this order; a file read may have extra columns, ignored):

=================================  =======================================================================
``study``, ``pair``                non-empty, at most :data:`MAX_ID` characters
``observer``                       a letter or digit, then up to 63 letters, digits, ``_`` and ``-``
``session``                        1 to 64 letters, digits, ``_`` and ``-``
``trial``                          position in its block (practice or main), an integer >= 1
``practice``, ``correct``          ``1`` / ``0`` (read: also ``true`` / ``false``); ``correct`` must equal
                                   ``response == impossible_side``
``left_id``, ``right_id``          the images shown: non-empty, at most :data:`MAX_ID` characters
``impossible_side``, ``response``  ``left`` or ``right``
``rt_ms``                          response time in ms, in [0, :data:`MAX_RT_MS`], written with one decimal
``timestamp``                      ISO 8601 date and time, e.g. ``2025-01-31T12:00:00.000Z``
``stimulus_ms``                    how long the images were shown, in ms (empty: until the answer), as
                                   configured (the manifest's ``stimulus_ms``)
``max_response_ms``                the longest time to answer, in ms (empty: no limit), as configured
``timeouts``                       how often this pair had timed out (not answered within
                                   ``max_response_ms``, so shown again at the end of its block) in this
                                   session before this answer: an integer >= 0 (0 without a limit)
=================================  =======================================================================

Files written before the last three columns existed (header :data:`PREVIOUS_COLUMNS`) are still
read, with their documented defaults: ``stimulus_ms`` and ``max_response_ms`` empty (none) and
``timeouts`` 0, the only settings the page had then; the analysis compares these with the
manifest's settings and refuses a file that disagrees. A header with only some of the three is
refused. The collection server does not append to a file with the previous header (it refuses with
a message naming the file; an incomplete last line is still set aside first).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import time

import numpy as np
import pandas as pd

from ddd.psychophysics.site import SIDES, format_ms, parse_ms

__all__ = ["RESPONSE_COLUMNS", "PREVIOUS_COLUMNS", "SETTING_COLUMNS", "SETTING_DEFAULTS", "PreviousHeaderError", "OBSERVER_RE", "SESSION_RE", "MAX_RT_MS", "MAX_ID", "ResponseFileError",
           "TrialValueError", "check_id", "check_trial", "check_correct", "parse_record", "parse_fields",
           "format_row", "start_file", "append_row", "recorded_rows", "read_responses", "response_files",
           "PartialLineError", "set_aside_partial_line", "prepare_file"]

#: Columns of a response file, in this order (extra columns are allowed and ignored when reading).
RESPONSE_COLUMNS = ("study", "observer", "session", "trial", "pair", "practice", "left_id", "right_id",
                    "impossible_side", "response", "correct", "rt_ms", "timestamp", "stimulus_ms",
                    "max_response_ms", "timeouts")
#: The columns of a response file written before the timing settings were recorded.
PREVIOUS_COLUMNS = RESPONSE_COLUMNS[:13]
#: The columns added since :data:`PREVIOUS_COLUMNS`, and the values a file of the previous header is read with.
SETTING_COLUMNS = RESPONSE_COLUMNS[13:]
SETTING_DEFAULTS = {"stimulus_ms": None, "max_response_ms": None, "timeouts": 0}
#: The most timeouts of one pair accepted.
MAX_TIMEOUTS = 100_000
OBSERVER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
#: The longest response time accepted (one hour), in ms.
MAX_RT_MS = 3_600_000.0
#: The longest study, pair or image id accepted, in characters.
MAX_ID = 1000
_BOOL = {"1": True, "true": True, "True": True, "TRUE": True, "0": False, "false": False, "False": False,
         "FALSE": False}


class ResponseFileError(ValueError):
    """A response file that cannot be read: the message starts with ``<path>, line <n>:``."""


class PreviousHeaderError(ResponseFileError):
    """A response file with the previous header (:data:`PREVIOUS_COLUMNS`): read by the analysis,
    never appended to. ``side``: the incomplete last line set aside before refusing, or None."""

    def __init__(self, message: str, side: str | None = None):
        super().__init__(message)
        self.side = side


class TrialValueError(ValueError):
    """A value of one trial that a response file may not hold (the message says which and why)."""


# -- one trial ---------------------------------------------------------------------------------
def check_id(key: str, value) -> str:
    """``value`` if it is a valid ``observer`` or ``session`` id (``key``), else :class:`TrialValueError`."""
    rx = OBSERVER_RE if key == "observer" else SESSION_RE
    if not isinstance(value, str) or not rx.match(value):
        raise TrialValueError(f"{key} must be an id of letters, digits, _ and - (at most 64), got {str(value)[:80]!r}")
    return value


def check_trial(rec: dict) -> dict:
    """Check the values of one trial and return it; :class:`TrialValueError` names the first bad one.

    ``rec``: every key of :data:`RESPONSE_COLUMNS`, typed: ``trial`` and ``timeouts`` int, ``practice``
    and ``correct`` bool, ``rt_ms`` float, ``stimulus_ms`` and ``max_response_ms`` None or a number,
    the rest str (:func:`parse_record`, :func:`parse_fields`).
    Whether ``correct`` agrees with the response is :func:`check_correct`.
    """
    for key in ("observer", "session"):
        check_id(key, rec[key])
    for key in ("study", "pair", "left_id", "right_id"):
        v = rec[key]
        if not isinstance(v, str) or not v or len(v) > MAX_ID:
            raise TrialValueError(f"{key} must be a non-empty string of at most {MAX_ID} characters")
    if rec["trial"] < 1:
        raise TrialValueError(f"trial must be >= 1, got {rec['trial']}")
    for key in ("impossible_side", "response"):
        if rec[key] not in SIDES:
            raise TrialValueError(f"{key} must be left or right, got {str(rec[key])[:80]!r}")
    rt = rec["rt_ms"]
    if not math.isfinite(rt) or not 0 <= rt <= MAX_RT_MS:
        raise TrialValueError(f"rt_ms must be a number in [0, {MAX_RT_MS:.0f}], got {rt!r}")
    ts = rec["timestamp"]
    if not isinstance(ts, str) or len(ts) > 40 or not _TIMESTAMP_RE.match(ts):
        raise TrialValueError("timestamp must be an ISO 8601 date and time (e.g. 2025-01-31T12:00:00.000Z)")
    for key in ("stimulus_ms", "max_response_ms"):
        v = rec[key]
        if v is not None and (not math.isfinite(v) or not 0 < v <= 600_000):
            raise TrialValueError(f"{key} must be empty (none) or a number of ms in (0, 600000], got {v!r}")
    if not 0 <= rec["timeouts"] <= MAX_TIMEOUTS:
        raise TrialValueError(f"timeouts must be an integer in [0, {MAX_TIMEOUTS}], got {rec['timeouts']}")
    if rec["timeouts"] and rec["max_response_ms"] is None:
        raise TrialValueError(f"timeouts={rec['timeouts']} without a max_response_ms (nothing can time out)")
    return rec


def check_correct(rec: dict) -> None:
    """:class:`TrialValueError` unless ``correct == (response == impossible_side)``."""
    if rec["correct"] != (rec["response"] == rec["impossible_side"]):
        raise TrialValueError(f"correct={int(rec['correct'])} contradicts response={rec['response']} with the "
                              f"impossible image on the {rec['impossible_side']}")


def parse_record(body: dict) -> dict:
    """One trial posted as JSON (exactly the keys of :data:`RESPONSE_COLUMNS`; ``practice`` and
    ``correct`` booleans, ``trial`` an integer, ``rt_ms`` a number) -> the checked trial (:func:`check_trial`)."""
    rec = {key: body[key] for key in RESPONSE_COLUMNS}
    for key in ("practice", "correct"):
        if not isinstance(rec[key], bool):
            raise TrialValueError(f"{key} must be true or false")
    if not isinstance(rec["trial"], int) or isinstance(rec["trial"], bool):
        raise TrialValueError("trial must be an integer")
    rt = rec["rt_ms"]
    if isinstance(rt, bool) or not isinstance(rt, (int, float)):
        raise TrialValueError(f"rt_ms must be a number in [0, {MAX_RT_MS:.0f}]")
    rec["rt_ms"] = float(rt)
    for key in ("stimulus_ms", "max_response_ms"):
        v = rec[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise TrialValueError(f"{key} must be null or a number of ms")
        rec[key] = None if v is None else (int(v) if float(v).is_integer() else float(v))
    if not isinstance(rec["timeouts"], int) or isinstance(rec["timeouts"], bool):
        raise TrialValueError("timeouts must be an integer")
    return check_trial(rec)


def parse_fields(fields: dict) -> dict:
    """One line of a response file (text by column, white space stripped) -> the checked trial
    (:func:`check_trial`)."""
    rec = {key: fields[key] for key in RESPONSE_COLUMNS}
    try:
        rec["trial"] = int(fields["trial"])
    except ValueError:
        raise TrialValueError(f"trial {fields['trial']!r} is not an integer") from None
    for key in ("practice", "correct"):
        if fields[key] not in _BOOL:
            raise TrialValueError(f"{key} must be 1/0 or true/false, got {fields[key]!r}")
        rec[key] = _BOOL[fields[key]]
    try:
        rec["rt_ms"] = float(fields["rt_ms"])
    except ValueError:
        raise TrialValueError(f"rt_ms {fields['rt_ms']!r} is not a number") from None
    for key in ("stimulus_ms", "max_response_ms"):
        try:
            rec[key] = parse_ms(fields[key], key)
        except ValueError as err:
            raise TrialValueError(str(err)) from None
    try:
        rec["timeouts"] = int(fields["timeouts"])
    except ValueError:
        raise TrialValueError(f"timeouts {fields['timeouts'][:80]!r} is not an integer") from None
    return check_trial(rec)


def format_row(rec: dict) -> list[str]:
    """The fields of one file line for a checked trial: booleans ``1`` / ``0``, ``rt_ms`` with one decimal."""
    out = []
    for key in RESPONSE_COLUMNS:
        v = rec[key]
        if key in ("practice", "correct"):
            v = "1" if v else "0"
        elif key == "rt_ms":
            v = f"{float(v):.1f}"
        elif key in ("stimulus_ms", "max_response_ms"):
            v = format_ms(v)
        out.append(str(v))
    return out


# -- writing (the collection server) -----------------------------------------------------------
class PartialLineError(ResponseFileError):
    """A response file whose last line has no newline (a write cut off): nothing may be appended to
    it before :func:`set_aside_partial_line`."""


def _csv_line(fields) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


_HEADER = _csv_line(RESPONSE_COLUMNS).encode("utf-8")
_PREVIOUS_HEADER = _csv_line(PREVIOUS_COLUMNS).encode("utf-8")
_BINARY = getattr(os, "O_BINARY", 0)
_os_write = os.write  # the one call that writes a line (a seam for the tests of a full disk)


def _fsync_dir(folder) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _append(fd: int, data: bytes) -> None:
    """Write ``data`` at the end of ``fd`` and fsync; on any failure cut the file back to where it
    was (no partial line is ever left behind) and re-raise."""
    end = os.lseek(fd, 0, os.SEEK_END)
    try:
        view = memoryview(data)
        while view:
            view = view[_os_write(fd, view):]
        os.fsync(fd)
    except BaseException:
        try:
            os.ftruncate(fd, end)
            os.fsync(fd)
        except OSError:
            pass
        raise


def start_file(path) -> None:
    """Create a response file holding only the header line (flushed and fsynced); it must not exist."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o644)
    try:
        _append(fd, _HEADER)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def append_row(path, row: list[str]) -> None:
    """Append one line (:func:`format_row`) to a response file, flushed and fsynced before returning.

    The file must end with a newline (:class:`PartialLineError` otherwise: a line is never glued to
    a partial one); a write that fails (a full disk) is undone before the error is raised.
    """
    data = _csv_line(row).encode("utf-8")
    fd = os.open(path, os.O_RDWR | _BINARY)
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        if end == 0:
            raise ResponseFileError(f"{path}, line 1: the file is empty (no header line); cannot append")
        os.lseek(fd, end - 1, os.SEEK_SET)
        if os.read(fd, 1) != b"\n":
            raise PartialLineError(f"{path}: the last line is incomplete (no newline at the end)")
        _append(fd, data)
    finally:
        os.close(fd)


def _side_path(path: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    side, k = f"{path}.partial-{stamp}", 1
    while os.path.exists(side):
        k += 1
        side = f"{path}.partial-{stamp}-{k}"
    return side


def set_aside_partial_line(path) -> str | None:
    """Move an incomplete last line (the file does not end with a newline) of a response file to a
    side file ``<path>.partial-<UTC time>`` (not ``*.csv``: the analysis does not read it), and cut it
    from the file; returns the side file's path, or None when the file ends with a newline (or is
    empty). The side file is written and fsynced before the file is cut."""
    path = os.fspath(path)
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return None
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return None
        pos, start = size, 0
        while pos > 0:  # the last newline, read backwards
            n = min(65536, pos)
            pos -= n
            fh.seek(pos)
            k = fh.read(n).rfind(b"\n")
            if k >= 0:
                start = pos + k + 1
                break
        fh.seek(start)
        partial = fh.read()
        side = _side_path(path)
        with open(side, "xb") as out:
            out.write(partial)
            out.flush()
            os.fsync(out.fileno())
        _fsync_dir(os.path.dirname(os.path.abspath(path)))
        fh.truncate(start)
        fh.flush()
        os.fsync(fh.fileno())
    return side


def prepare_file(path) -> str | None:
    """Make an observer's response file ready for :func:`append_row`: create it with the header if
    it does not exist (or is empty), set aside an incomplete last line (:func:`set_aside_partial_line`;
    also a header cut off, after which the header is written again) and refuse a file that is not a
    response file of the collection server (another header: :class:`ResponseFileError`, the file
    left as it is). Returns the side file of a line set aside, or None."""
    path = os.fspath(path)
    if not os.path.exists(path):
        start_file(path)
        return None
    with open(path, "rb") as fh:
        first = fh.readline()
    side = None
    if first == _PREVIOUS_HEADER:
        raise _previous(path, set_aside_partial_line(path))
    if first != _HEADER:
        if first.endswith(b"\n") or not _HEADER.startswith(first):
            raise ResponseFileError(f"{path}, line 1: not a response file of the collection server (unexpected "
                                    "header); move it away")
        if first:  # only a header, cut off
            side = set_aside_partial_line(path)
        fd = os.open(path, os.O_RDWR | _BINARY)
        try:
            if os.lseek(fd, 0, os.SEEK_END) == 0:
                _append(fd, _HEADER)
        finally:
            os.close(fd)
        return side
    return set_aside_partial_line(path)


def recorded_rows(path) -> dict:
    """``{(session, pair): fields}`` of the lines a response file written by :func:`start_file` /
    :func:`append_row` already holds (empty when there is no file). Lines with another number of
    fields (a write cut off) are passed over; a file with another header is refused
    (:class:`ResponseFileError`)."""
    index = {}
    if not os.path.exists(path):
        return index
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _err(path, raw[:err.start].count(b"\n") + 1, f"not UTF-8 text ({err.reason}); move the file "
                   "away") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header == list(PREVIOUS_COLUMNS):
            raise _previous(path, None)
        if header != list(RESPONSE_COLUMNS):
            raise ResponseFileError(f"{path}, line 1: not a response file of the collection server (unexpected "
                                    "header); move it away")
        session, pair = RESPONSE_COLUMNS.index("session"), RESPONSE_COLUMNS.index("pair")
        for fields in reader:
            if len(fields) == len(RESPONSE_COLUMNS):
                index[(fields[session], fields[pair])] = fields
    except csv.Error as err:
        raise _err(path, reader.line_num, f"CSV syntax error: {err}; move the file away") from None
    return index


def _previous(path, side: str | None) -> PreviousHeaderError:
    return PreviousHeaderError(
        f"{path}, line 1: written with the previous header (without the columns {', '.join(SETTING_COLUMNS)}) "
        "by an older collection server; it cannot be appended to. The analysis still reads it: move it "
        "away (e.g. to <observer>-1.csv in the same folder) and the observer goes on in a new file "
        "(a main pair answered in both is refused by the server)", side)


# -- reading (the analysis) --------------------------------------------------------------------
def _err(path, line: int, what: str) -> ResponseFileError:
    return ResponseFileError(f"{path}, line {line}: {what}")


def _header(path, header) -> list[str]:
    if header is None:
        raise _err(path, 1, "the file is empty (a header line with the columns "
                            f"{', '.join(RESPONSE_COLUMNS)} is needed)")
    header = [h.strip() for h in header]
    have = [c for c in SETTING_COLUMNS if c in header]
    if have and len(have) != len(SETTING_COLUMNS):
        raise _err(path, 1, f"missing columns {[c for c in SETTING_COLUMNS if c not in have]} (a header has all of "
                            f"{', '.join(SETTING_COLUMNS)} or, written before they existed, none)")
    missing = [c for c in (RESPONSE_COLUMNS if have else PREVIOUS_COLUMNS) if c not in header]
    if missing:
        raise _err(path, 1, f"missing columns {missing} (the header must name {', '.join(RESPONSE_COLUMNS)})")
    if len(set(header)) != len(header):
        raise _err(path, 1, "repeated column names in the header")
    return header


def read_responses(path) -> pd.DataFrame:
    """Read and check one response file (the server's file or the page's export).

    Returns
    -------
    DataFrame, one row per trial: :data:`RESPONSE_COLUMNS` (``trial`` and ``timeouts`` int,
    ``practice`` and ``correct`` bool, ``rt_ms`` float, ``stimulus_ms`` and ``max_response_ms``
    float with NaN for none, the rest str) plus ``file`` and ``line`` (1-based line of the row in
    the file). A file with the previous header (:data:`PREVIOUS_COLUMNS`) gets
    :data:`SETTING_DEFAULTS`.

    Raises
    ------
    ResponseFileError ``"<path>, line <n>: <what>"`` for anything malformed: not UTF-8, a CSV
    syntax error, missing columns, a row with another number of fields than the header, a value
    that :func:`check_trial` refuses, ``correct`` contradicting the response, or no trial at all.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _err(path, raw[:err.start].count(b"\n") + 1, f"not UTF-8 text ({err.reason})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        header = _header(path, next(reader, None))
        for fields in reader:
            line = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if len(fields) != len(header):
                raise _err(path, line, f"{len(fields)} fields, but the header has {len(header)}")
            try:
                values = dict(zip(header, (f.strip() for f in fields)))
                for key in SETTING_COLUMNS:
                    values.setdefault(key, "" if SETTING_DEFAULTS[key] is None else str(SETTING_DEFAULTS[key]))
                rec = parse_fields(values)
                check_correct(rec)
            except TrialValueError as err:
                raise _err(path, line, str(err)) from None
            rec.update(file=path, line=line)
            rows.append(rec)
    except csv.Error as err:
        raise _err(path, reader.line_num, f"CSV syntax error: {err}") from None
    if not rows:
        raise _err(path, 2, "no trials (only a header)")
    df = pd.DataFrame(rows, columns=[*RESPONSE_COLUMNS, "file", "line"])
    for key in ("stimulus_ms", "max_response_ms"):
        df[key] = pd.to_numeric(df[key].astype(object).where(df[key].notna(), np.nan)).astype(float)
    return df


def response_files(folder) -> list[str]:
    """The ``*.csv`` files directly in ``folder``, sorted (hidden files left out)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"responses folder {folder} does not exist")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(".csv") and not f.startswith(".") and os.path.isfile(os.path.join(folder, f)))
