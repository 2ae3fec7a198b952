"""The config's blocks beside the studies: ``label_issues`` and ``psychophysics``."""

from __future__ import annotations

import os

from ddd.config.datasets import evaluation_images
from ddd.config.studies import ConfigError

__all__ = ["PSYCHOPHYSICS_DEFAULTS", "resolve_label_issues", "resolve_psychophysics"]

PSYCHOPHYSICS_DEFAULTS = {"study": None, "pairs": 149, "practice": 5, "rule": "strict", "seed": 0,
                          "breaks_every": 50, "shuffle": True, "display_size": 224, "label_issues": None,
                          "responses": None, "iti_ms": 300, "fixation_mark": "+", "fixation_ms": 500,
                          "stimulus_ms": None, "max_response_ms": None, "fullscreen": False}


def resolve_label_issues(block: dict, studies: dict) -> dict:
    """`label_issues`: every study named exists and a list file exists (whether cleanlab is where
    the rule will import it, the workflow checks: :meth:`ddd.config.resolve.Config.optional_packages`)."""
    out = {}
    for study, spec in block.items():
        if study not in studies:
            raise ConfigError(f"label_issues.{study}: unknown study; configured: {', '.join(studies)}")
        spec = {"source": "list", "list": None, "column": None, "match": "exact", **spec}
        if spec["source"] == "list":
            if not spec["list"]:
                raise ConfigError(f"label_issues.{study}: source `list` needs `list: <file of image ids>`")
            if not os.path.isfile(spec["list"]):
                raise ConfigError(f"label_issues.{study}.list: {spec['list']} is not a file (a list of label-error "
                                  f"image ids, one a line, or a CSV with an id column)")
        else:
            if spec["list"]:
                raise ConfigError(f"label_issues.{study}: give `list` or `source: cleanlab`, not both")
        out[study] = spec
    return out


def resolve_psychophysics(block: dict, studies: dict) -> dict | None:
    """The `psychophysics` block with defaults, or None without a study; checks the study, the files
    and that the responses folder holds CSV files (:mod:`ddd.psychophysics`)."""
    p = {**PSYCHOPHYSICS_DEFAULTS, **block}
    if p["study"] is None:
        return None
    if p["study"] not in studies:
        raise ConfigError(f"psychophysics.study: unknown study {p['study']!r}; configured studies: "
                          f"{', '.join(studies)}")
    chosen = studies[p["study"]]
    if not chosen.dataset:  # imported decisions: no pixels to show
        raise ConfigError(f"psychophysics.study: {p['study']!r} is a study of kind {chosen.kind!r}, whose images the "
                          "experiment cannot show; choose a study with a dataset (" + ", ".join(
                              s for s, v in studies.items() if v.dataset) + ")")
    n = evaluation_images(chosen.dataset)
    needed = 2 * (p["pairs"] + p["practice"])
    if n is not None and needed > n:
        raise ConfigError(f"psychophysics.pairs: {p['pairs']} pairs and {p['practice']} practice pairs need {needed} "
                          f"distinct images, but {p['study']!r} has {n} evaluation images; lower pairs or practice")
    if p["stimulus_ms"] is not None and p["max_response_ms"] is not None and p["max_response_ms"] < p["stimulus_ms"]:
        raise ConfigError(f"psychophysics.max_response_ms: {p['max_response_ms']} ms is shorter than stimulus_ms "
                          f"({p['stimulus_ms']} ms); both run from the images' onset")
    if p["label_issues"] is not None and not os.path.isfile(p["label_issues"]):
        raise ConfigError(f"psychophysics.label_issues: {p['label_issues']} is not a file (a list of image ids, "
                          "one per line)")
    if p["responses"] is not None:
        p["response_files"] = _response_files(p["responses"])
    return p


def _response_files(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise ConfigError(f"psychophysics.responses: {folder} is not a folder (the observers' response CSV "
                          "files go there)")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith(".csv") and not f.startswith(".") and os.path.isfile(os.path.join(folder, f)))
    if not files:
        raise ConfigError(f"psychophysics.responses: {folder} holds no .csv file yet; collect responses "
                          "first, or set responses to null")
    return files
