"""What every results format shares: atomic replacement and checked tab-separated reading.

A results file appears under its name only when it is complete: writers write a sibling
(``<path>.tmp<pid>``) and rename it into place, so an interrupted job never leaves a file that looks
finished. Readers name the file in every error.
"""

from __future__ import annotations

import json
import os

__all__ = ["ResultsFileError", "replace_atomically", "read_tsv", "write_tsv", "write_json", "read_json_object"]


class ResultsFileError(ValueError):
    """A results file is unreadable or lacks what its reader promises; the message names it."""


def replace_atomically(path, write) -> None:
    """Call ``write(tmp_path)`` and rename the result to ``path`` (parent folders created).

    On any error the partial sibling is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _check_complete(path: str, error) -> None:
    """Every table this package writes ends with a newline; a file that does not was cut off mid-row
    (a partial last row would otherwise be read with its missing fields as empty values)."""
    size = os.path.getsize(path)
    if size == 0:
        raise error(f"{path} is empty (truncated?)")
    with open(path, "rb") as fh:
        fh.seek(size - 1)
        if fh.read(1) != b"\n":
            raise error(f"{path} ends in the middle of a row (truncated?); write it again")


def read_tsv(path, columns, *, error=ResultsFileError, **options):
    """A tab-separated table as a DataFrame; ``columns`` must be among its columns.

    ``options`` go to :func:`pandas.read_csv`. A missing file raises FileNotFoundError, an
    empty or cut-off one (no final newline), an unparsable one or missing columns ``error`` (a :class:`ResultsFileError` subclass), naming it.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist")
    _check_complete(path, error)
    try:
        df = pd.read_csv(path, sep="\t", **options)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise error(f"{path} is not a readable tab-separated table: {err}") from err
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise error(f"{path}: missing columns {missing}; has {list(df.columns)}")
    return df


def write_tsv(table, path, *, columns=(), what: str = "table", na_rep: str = "") -> None:
    """Write a DataFrame as a tab-separated table (no index) atomically; ``columns`` must be among
    its columns (a ValueError naming ``what`` otherwise)."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"a {what} needs columns {list(columns)}; missing {missing}")
    replace_atomically(path, lambda tmp: table.to_csv(tmp, sep="\t", index=False, na_rep=na_rep))


def write_json(obj, path) -> None:
    """Write ``obj`` as indented JSON atomically."""
    def write(tmp):
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=2)
    replace_atomically(path, write)


def read_json_object(path, *, error=ResultsFileError, required=()) -> dict:
    """A JSON file holding an object, with the ``required`` keys; anything else raises ``error``
    naming the file (a missing file: FileNotFoundError)."""
    path = os.fspath(path)
    try:
        with open(path) as fh:
            obj = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"{path} is not valid JSON (truncated or corrupt?): {err}") from err
    if not isinstance(obj, dict):
        raise error(f"{path}: expected a JSON object, found {type(obj).__name__}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise error(f"{path}: missing keys {missing}")
    return obj
