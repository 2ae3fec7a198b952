"""Logging for workflow jobs: everything (log records, warnings, tqdm bars) goes to the rule's log."""

from __future__ import annotations

import logging
import os
import sys


def to_file(path: str, *, level: int = logging.INFO) -> None:
    """Send logging, warnings and stderr (tqdm progress) to ``path`` (appending)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    stream = open(path, "a", buffering=1)
    sys.stderr = stream
    logging.basicConfig(stream=stream, level=level, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
