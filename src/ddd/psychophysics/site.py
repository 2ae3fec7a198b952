"""The experiment site: ``manifest.csv``, ``trials.js`` and the page's own files.

This module is the only one that knows how the site's files are laid out: it writes them
(:func:`write_site`) and reads them back (:func:`read_manifest`, :func:`manifest_checksum`,
:func:`read_experiment`); the stimuli, the collection server and the analysis go through it.
The experiment is described in ``docs/reproduction.md#psychophysics``.

``manifest.csv``  the list of pairs, one row per pair (practice pairs first), :data:`MANIFEST_COLUMNS`;
                  ``practice`` written as ``true`` / ``false``; its checksum names the stimulus set
``trials.js``     sets ``window.DDD_EXPERIMENT`` (study, options and the trial list), which the page
                  reads without fetching anything, so it works from ``file://``
``index.html``, ``style.css``, ``experiment.js``
                  copied from the package (``static/``, :data:`STATIC_FILES`)
``images/``       the stimuli (written by :func:`ddd.psychophysics.stimuli.write_stimuli`; the
                  manifest's ``left_image`` / ``right_image`` are paths relative to the site)
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["MANIFEST_COLUMNS", "SIDES", "STATIC_FILES", "DISPLAY_SIZE", "TIMING_DEFAULTS", "check_timing", "write_site",
           "write_manifest", "read_manifest", "manifest_checksum", "read_experiment"]

#: Columns of ``manifest.csv``, one row per pair (practice pairs first).
MANIFEST_COLUMNS = ("pair", "practice", "left_id", "right_id", "impossible_side", "trivial_id", "impossible_id",
                    "left_image", "right_image")
SIDES = ("left", "right")
#: The page's own files, copied from ``ddd/psychophysics/static``.
STATIC_FILES = ("index.html", "style.css", "experiment.js")
#: The images' intended size in CSS pixels (small images are enlarged to it by whole pixels).
DISPLAY_SIZE = 224
#: The trial's timing and presentation options (``trials.js``; the config's ``psychophysics`` keys of the
#: same names): blank grey interval before each trial, fixation mark (empty: none) and how long it
#: shows, how long the images show (None: until the answer; else a response screen follows), the
#: longest time to answer (None: no limit; an unanswered pair comes again at the end of its block)
#: and whether the page asks for fullscreen when the trials start. All times in ms.
TIMING_DEFAULTS = {"iti_ms": 300, "fixation_mark": "+", "fixation_ms": 500, "stimulus_ms": None,
                   "max_response_ms": None, "fullscreen": False}
#: The first line of ``trials.js``. It names the function by its historical address (still
#: importable there); changing the text would change every site written.
_TRIALS_HEADER = ("// Written by ddd.psychophysics.stimuli.write_site: the experiment's trials "
                  "(read by experiment.js).\n")


def manifest_checksum(path) -> str:
    """First 12 hex digits of the sha256 of ``manifest.csv``: names one stimulus set (the page keys
    its saved progress with it, the server and the analysis record it)."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:12]


def read_manifest(path) -> pd.DataFrame:
    """``manifest.csv`` (:data:`MANIFEST_COLUMNS`): ids as strings, ``practice`` bool; checked."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a psychophysics manifest, missing columns {missing}")
    bad = ~df["practice"].isin(["True", "False", "true", "false", "1", "0"])
    if bad.any():
        raise ValueError(f"{path}, line {int(np.flatnonzero(bad)[0]) + 2}: practice must be true or false")
    df["practice"] = df["practice"].isin(["True", "true", "1"])
    if df["pair"].duplicated().any() or (df["pair"] == "").any():
        raise ValueError(f"{path}: pair ids must be unique and non-empty")
    if not df["impossible_side"].isin(SIDES).all():
        raise ValueError(f"{path}: impossible_side must be left or right")
    return df


def _checked_manifest(out_dir, manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest's columns in order, ``practice`` bool; refused unless practice pairs come first,
    there are main pairs and every image is a file inside ``out_dir``."""
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks columns {missing}")
    m = manifest.loc[:, list(MANIFEST_COLUMNS)].copy()
    m["practice"] = m["practice"].astype(bool)
    if (~m["practice"]).sum() == 0:
        raise ValueError("the manifest has no main (non-practice) pairs")
    order = m["practice"].to_numpy()
    if np.any(order[1:] & ~order[:-1]):
        raise ValueError("practice pairs must come before the main pairs in the manifest")
    for side in ("left", "right"):
        for rel in m[f"{side}_image"]:
            if os.path.isabs(rel) or ".." in rel.split("/") or not os.path.isfile(os.path.join(out_dir, rel)):
                raise ValueError(f"image {rel!r} must be a file inside {out_dir} (relative path)")
    return m


def write_manifest(manifest: pd.DataFrame, path) -> None:
    """Write ``manifest.csv`` (:data:`MANIFEST_COLUMNS` in order, ``practice`` bool -> ``true`` / ``false``)."""
    m = manifest.loc[:, list(MANIFEST_COLUMNS)]
    m.assign(practice=m["practice"].map({True: "true", False: "false"})).to_csv(
        path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")


def _write_trials(path, experiment: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(_TRIALS_HEADER)
        fh.write("window.DDD_EXPERIMENT = ")
        json.dump(experiment, fh, ensure_ascii=True, indent=1)
        fh.write(";\n")


def read_experiment(site_dir) -> dict:
    """The experiment description of a site (``trials.js``, without the trial list)."""
    path = os.path.join(site_dir, "trials.js")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError(f"{path} does not set window.DDD_EXPERIMENT")
    exp = json.loads(text[start:end + 1])
    exp.pop("trials", None)
    return exp


def check_timing(timing: dict | None) -> dict:
    """:data:`TIMING_DEFAULTS` updated with ``timing``, checked (``ValueError`` names the bad key)."""
    timing = dict(timing or {})
    unknown = sorted(set(timing) - set(TIMING_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown timing options {unknown}; allowed: {', '.join(TIMING_DEFAULTS)}")
    t = {**TIMING_DEFAULTS, **timing}
    for key in ("iti_ms", "fixation_ms", "stimulus_ms", "max_response_ms"):
        v = t[key]
        if v is None and key in ("stimulus_ms", "max_response_ms"):
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v < 0 or v > 600_000:
            raise ValueError(f"{key} must be a number of ms in [0, 600000]" + (" or null" if key in (
                "stimulus_ms", "max_response_ms") else "") + f", got {v!r}")
        if key in ("stimulus_ms", "max_response_ms") and v <= 0:
            raise ValueError(f"{key} must be > 0 or null, got {v!r}")
        t[key] = int(v) if float(v).is_integer() else float(v)
    if not isinstance(t["fixation_mark"], str) or len(t["fixation_mark"]) > 4 or "\n" in t["fixation_mark"]:
        raise ValueError(f"fixation_mark must be a short text (at most 4 characters; empty: none), "
                         f"got {t['fixation_mark']!r}")
    if not isinstance(t["fullscreen"], bool):
        raise ValueError(f"fullscreen must be true or false, got {t['fullscreen']!r}")
    if t["max_response_ms"] is not None and t["stimulus_ms"] is not None and t["max_response_ms"] < t["stimulus_ms"]:
        raise ValueError("max_response_ms must not be shorter than stimulus_ms (it runs from the images' onset)")
    return t


def _copy_static(out_dir: str) -> None:
    static = resources.files("ddd.psychophysics") / "static"
    for name in STATIC_FILES:
        with resources.as_file(static / name) as src:
            shutil.copyfile(src, os.path.join(out_dir, name))


def write_site(out_dir, manifest: pd.DataFrame, *, study: str, breaks_every: int = 50, shuffle: bool = True,
               display_size: int = DISPLAY_SIZE, timing: dict | None = None, info: dict | None = None) -> dict:
    """Write the experiment site around existing images: ``manifest.csv``, ``trials.js`` and the page.

    Parameters
    ----------
    out_dir : the site folder; ``manifest["left_image"]`` / ``["right_image"]`` are paths relative
        to it (``images/<pair>-L.png``).
    manifest : one row per pair with :data:`MANIFEST_COLUMNS`, practice pairs first.
    study : the study's name (shown nowhere to observers; recorded in every response).
    breaks_every : a break after every this many main trials (0: none).
    shuffle : main trials in a new random order for every observer session (practice in order).
    display_size : the images' size in CSS pixels: the page shows them at exactly this size (a
        window too small for two of them side by side gets a message instead).
    timing : the trial's timing options (:data:`TIMING_DEFAULTS`, checked by :func:`check_timing`).
    info : extra fields for ``trials.js`` (e.g. the rule and seed), recorded for provenance.

    Returns
    -------
    The experiment description written to ``trials.js`` (a dict).
    """
    if isinstance(breaks_every, bool) or int(breaks_every) != breaks_every or breaks_every < 0:
        raise ValueError(f"breaks_every must be an integer >= 0, got {breaks_every!r}")
    t = check_timing(timing)
    m = _checked_manifest(out_dir, manifest)
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, "manifest.csv")
    write_manifest(m, manifest_path)
    experiment = {
        "study": str(study),
        "manifest": manifest_checksum(manifest_path),
        "breaks_every": int(breaks_every),
        "shuffle": bool(shuffle),
        "display_size": int(display_size),
        **t,
        "n_practice": int(m["practice"].sum()),
        "n_main": int((~m["practice"]).sum()),
        **(info or {}),
        "trials": [{"pair": r.pair, "practice": bool(r.practice), "left_id": r.left_id, "right_id": r.right_id,
                    "impossible_side": r.impossible_side, "left": r.left_image, "right": r.right_image}
                   for r in m.itertuples(index=False)],
    }
    _write_trials(os.path.join(out_dir, "trials.js"), experiment)
    _copy_static(out_dir)
    return experiment
