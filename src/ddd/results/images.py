"""The per-image table ``images.tsv`` and the correctness exports under ``export/``.

The only module that knows these layouts: one writer and one reader each.

``images.tsv``              one row per evaluation image (:data:`IMAGE_COLUMNS`; definitions in
                            :mod:`ddd.analysis.images`); empty cells where a value does not exist
                            (no learning dynamics, no wrong decision, no finite difficulty).
``export/correct.jsonl``    py-irt's input: one JSON object per line and decision maker,
                            ``{"subject_id": <name>, "responses": {<image id>: 0 or 1, ...}}``, final
                            epoch.
``export/correct_long.tsv.gz``  a tidy long table, gzip-compressed: ``decision_maker``, ``image_id``,
                            ``epoch``, ``correct`` (0/1), every decision maker at every stored epoch up
                            to its final one (one decisions file at a time, so memory stays at one
                            file's predictions).
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pandas as pd

from ddd.results.files import read_tsv, replace_atomically, write_tsv

__all__ = ["IMAGE_COLUMNS", "write_images", "read_images", "write_pyirt_jsonl", "write_long_table"]

IMAGE_COLUMNS = ("image_id", "target", "n_correct", "n_decision_makers", "strict", "all_but_one", "label_issue",
                 "mean_correct", "mean_correct_epochs", "sd_over_networks", "first_learned_median",
                 "first_learned_q25", "first_learned_q75", "n_networks_never_learned", "forgetting_events",
                 "never_forgotten", "n_evaluations", "top_prediction", "top_prediction_share",
                 "top_wrong_prediction", "top_wrong_share", "irt_difficulty", "irt_status")


def write_images(table: pd.DataFrame, path) -> None:
    """Write ``images.tsv`` (:data:`IMAGE_COLUMNS`, in that order)."""
    write_tsv(table[list(IMAGE_COLUMNS)] if set(IMAGE_COLUMNS) <= set(table.columns) else table, path,
              columns=IMAGE_COLUMNS, what="image table")


def read_images(path) -> pd.DataFrame:
    """``images.tsv`` with image ids and categories as strings, empty cells as missing values."""
    strings = {c: str for c in ("image_id", "strict", "all_but_one", "irt_status")}
    return read_tsv(path, IMAGE_COLUMNS, dtype=strings, keep_default_na=False, na_values=[""])


def write_pyirt_jsonl(correct, names, image_ids, path) -> None:
    """py-irt's JSON-lines input from bool correctness (M, N): one line per decision maker."""
    c = np.asarray(correct, dtype=bool)
    ids = [str(i) for i in image_ids]
    if c.shape != (len(names), len(ids)):
        raise ValueError(f"correct has shape {c.shape}, expected ({len(names)}, {len(ids)})")

    def write(tmp):
        with open(tmp, "w") as fh:
            for name, row in zip(names, c):
                fh.write(json.dumps({"subject_id": str(name), "responses": dict(zip(ids, row.astype(int).tolist()))})
                         + "\n")
    replace_atomically(os.fspath(path), write)


def write_long_table(blocks, path) -> int:
    """Write the gzip long table from an iterable of DataFrames (decision_maker, image_id, epoch,
    correct); returns the number of rows."""
    rows = 0

    def write(tmp):
        nonlocal rows
        with gzip.open(tmp, "wt") as fh:
            fh.write("decision_maker\timage_id\tepoch\tcorrect\n")
            for block in blocks:
                block[["decision_maker", "image_id", "epoch", "correct"]].to_csv(fh, sep="\t", header=False,
                                                                                  index=False)
                rows += len(block)
    replace_atomically(os.fspath(path), write)
    return rows
