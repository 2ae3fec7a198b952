"""Which figures a study can have, decided without heavy imports (no torch, pandas or matplotlib):
the workflow asks this while it plans, in every Snakemake process, Slurm jobs included.
:mod:`ddd.report.catalog` builds on it; the figure modules re-export these names.
"""

from __future__ import annotations

import os


class FigureNotApplicable(ValueError):
    """This study cannot have this figure (e.g. the KL figure of a non-Gaussian dataset, example
    images without pixels, image x epoch plots without a base run). The message says why; the
    workflow's script catches it and logs the reason."""


def is_gaussian(dataset: dict) -> bool:
    """Whether a decisions file's ``dataset`` attribute describes the Gaussian set."""
    return (dataset or {}).get("kind", (dataset or {}).get("name")) == "gaussian"


def _kind(dataset: dict) -> str | None:
    return (dataset or {}).get("kind", (dataset or {}).get("name"))


def examples_available(dataset_or_path) -> tuple[bool, str]:
    """Whether example images can be shown: ``(ok, reason)``.

    ``dataset_or_path``: a decisions file's ``dataset`` attribute (dict) or a decisions file path.
    Gaussian: always (regenerated). Folder datasets: the evaluation folder exists. CIFAR-100: the
    pickle release or the export exists. Anything else (imported predictions, no dataset): no.
    """
    if isinstance(dataset_or_path, (str, os.PathLike)):
        from ddd.results.decisions import read_decisions
        from ddd.report.figures.common import dataset_of
        try:
            ds = dataset_of(read_decisions(dataset_or_path, load_probabilities=False))
        except (OSError, ValueError) as err:
            return False, f"cannot read {dataset_or_path}: {err}"
    else:
        ds = dict(dataset_or_path or {})
    kind = _kind(ds)
    if kind == "gaussian":
        return True, "Gaussian images are regenerated from the dataset parameters"
    if kind in ("imagenet", "imagefolder", "cifar100"):
        root = ds.get("root")
        if not root:
            return False, f"the {kind} dataset has no root folder recorded"
        if not os.path.isdir(root):
            return False, f"the {kind} root {root} does not exist here"
        try:
            from ddd.data.folders import cifar100_source, split_dir
            if kind == "cifar100" and cifar100_source(root).kind == "pickle":
                return True, "CIFAR-100 pickle release"
            folder = split_dir(kind, root, "val")
        except (OSError, ValueError) as err:
            return False, f"{kind} at {root}: {err}"
        return (True, f"images in {folder}") if os.path.isdir(folder) else (False, f"{folder} is missing")
    return False, f"no pixels for dataset {kind!r} (imported or pretrained decisions without image files)"
