"""The experiment site: ``manifest.csv``, ``trials.js`` and the page's own files.

This module is the only one that knows how the site's files are laid out: it writes them
(:func:`write_site`) and reads them back (:func:`read_manifest`, :func:`manifest_checksum`,
:func:`read_experiment`); the stimuli, the collection server and the analysis go through it.
The experiment is described in ``docs/reproduction.md#psychophysics``.

``manifest.csv``  the list of pairs, one row per pair (practice pairs first), :data:`MANIFEST_COLUMNS`;
                  ``practice`` written as ``true`` / ``false``; then the timing settings in force
                  (:data:`TIMING_COLUMNS`, the same on every row; ``stimulus_ms`` / ``max_response_ms``
                  empty: none, ``fullscreen`` ``true`` / ``false``); its checksum names the stimulus set
                  and its settings. A manifest written before the timing columns existed is read with
                  the settings of the ``trials.js`` next to it, or else :data:`TIMING_DEFAULTS`
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

__all__ = ["MANIFEST_COLUMNS", "SIDES", "STATIC_FILES", "DISPLAY_SIZE", "TIMING_DEFAULTS", "TIMING_COLUMNS",
           "check_timing", "manifest_timing", "format_ms", "parse_ms", "write_site",
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
#: The timing columns of ``manifest.csv``, after :data:`MANIFEST_COLUMNS` (the same values on every row).
TIMING_COLUMNS = tuple(TIMING_DEFAULTS)
#: The first line of ``trials.js``. It names the function by its historical address (still
#: importable there); changing the text would change every site written.
_TRIALS_HEADER = ("// Written by ddd.psychophysics.stimuli.write_site: the experiment's trials "
                  "(read by experiment.js).\n")


def manifest_checksum(path) -> str:
    """First 12 hex digits of the sha256 of ``manifest.csv``: names one stimulus set (the page keys
    its saved progress with it, the server and the analysis record it)."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:12]


def format_ms(v) -> str:
    """A time in ms as written in ``manifest.csv`` and the response files: empty for None, an integer
    without a decimal point, else the shortest decimal (as JavaScript's ``String(x)``)."""
    if v is None:
        return ""
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def parse_ms(text: str, key: str):
    """:func:`format_ms` read back: None for empty, else an int (integral) or a float; ``ValueError``."""
    text = text.strip()
    if text == "":
        return None
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{key} {text[:80]!r} is not a number of ms (empty: none)") from None
    if not np.isfinite(v):
        raise ValueError(f"{key} must be a finite number of ms, got {text[:80]!r}")
    return int(v) if v.is_integer() else v


def _manifest_timing(path, df: pd.DataFrame) -> dict:
    present = [c for c in TIMING_COLUMNS if c in df.columns]
    if not present:  # written before the timing columns: the site's trials.js, else the defaults
        trials = os.path.join(os.path.dirname(os.path.abspath(path)), "trials.js")
        exp = read_experiment(os.path.dirname(os.path.abspath(path))) if os.path.isfile(trials) else {}
        return check_timing({k: exp[k] for k in TIMING_COLUMNS if k in exp})
    if len(present) != len(TIMING_COLUMNS):
        raise ValueError(f"{path}: timing columns {[c for c in TIMING_COLUMNS if c not in present]} missing "
                         f"(a manifest has all of {', '.join(TIMING_COLUMNS)} or none)")
    distinct = df.loc[:, list(TIMING_COLUMNS)].drop_duplicates()
    if len(distinct) > 1:
        raise ValueError(f"{path}, line {int(np.flatnonzero(df.index == distinct.index[1])[0]) + 2}: the timing "
                         "settings differ from the first row's (one setting for the whole experiment)")
    row = distinct.iloc[0] if len(distinct) else pd.Series({c: "" for c in TIMING_COLUMNS})
    t = {}
    try:
        for key in ("iti_ms", "fixation_ms", "stimulus_ms", "max_response_ms"):
            t[key] = parse_ms(row[key], key)
        if row["fullscreen"] not in ("true", "false"):
            raise ValueError(f"fullscreen must be true or false, got {row['fullscreen'][:80]!r}")
        t["fullscreen"] = row["fullscreen"] == "true"
        t["fixation_mark"] = row["fixation_mark"]
        return check_timing(t)
    except ValueError as err:
        raise ValueError(f"{path}, line 2: {err}") from None


def manifest_timing(manifest: pd.DataFrame) -> dict:
    """The timing settings of a manifest read by :func:`read_manifest` (:data:`TIMING_COLUMNS`)."""
    return {k: manifest.attrs["timing"][k] for k in TIMING_COLUMNS}


def read_manifest(path) -> pd.DataFrame:
    """``manifest.csv`` (:data:`MANIFEST_COLUMNS`): ids as strings, ``practice`` bool; checked.

    Its timing settings (:data:`TIMING_COLUMNS`, checked by :func:`check_timing`) are in
    ``attrs["timing"]`` (:func:`manifest_timing`); a manifest without the timing columns (written
    before they existed) gets those of the ``trials.js`` next to it, or else :data:`TIMING_DEFAULTS`.
    """
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a psychophysics manifest, missing columns {missing}")
    timing = _manifest_timing(path, df)
    df = df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns])
    bad = ~df["practice"].isin(["True", "False", "true", "false", "1", "0"])
    if bad.any():
        raise ValueError(f"{path}, line {int(np.flatnonzero(bad)[0]) + 2}: practice must be true or false")
    df["practice"] = df["practice"].isin(["True", "true", "1"])
    if df["pair"].duplicated().any() or (df["pair"] == "").any():
        raise ValueError(f"{path}: pair ids must be unique and non-empty")
    if not df["impossible_side"].isin(SIDES).all():
        raise ValueError(f"{path}: impossible_side must be left or right")
    df.attrs["timing"] = timing
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


def write_manifest(manifest: pd.DataFrame, path, timing: dict | None = None) -> None:
    """Write ``manifest.csv``: :data:`MANIFEST_COLUMNS` in order (``practice`` bool -> ``true`` /
    ``false``), then :data:`TIMING_COLUMNS` with ``timing`` (:func:`check_timing`; None: the
    manifest's own ``attrs["timing"]`` from :func:`read_manifest`, else :data:`TIMING_DEFAULTS`)."""
    t = check_timing(timing if timing is not None else manifest.attrs.get("timing"))
    m = manifest.loc[:, list(MANIFEST_COLUMNS)]
    m = m.assign(practice=m["practice"].map({True: "true", False: "false"}))
    for key in TIMING_COLUMNS:
        v = t[key]
        m[key] = ("true" if v else "false") if key == "fullscreen" else v if key == "fixation_mark" else format_ms(v)
    m.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")


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
    write_manifest(m, manifest_path, t)
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
