"""The catalog of a study's figures and tables: what exists, what applies, and the one entry point.

Light on purpose (no matplotlib, pandas or torch at import): the workflow asks which figures a
study can have while it plans, in every Snakemake process, Slurm jobs included. A figure that a
study cannot have is simply not requested.

- :data:`FIGURES`, :data:`TABLES`: output name (``results/<study>/figures/<name>.{png,pdf}``,
  ``tables/<name>.<ext>``) -> the ``module:function`` that makes it. Each has one rule of the same
  name in ``workflow/rules/figures.smk``; the rule's input, output and params names are the
  function's parameters (checked by :func:`wiring_problems`, which the tests run on every rule).
- :func:`applicable_figures`: which figures a study's dataset block allows.
- :func:`render`: make one figure or table (the rules' one script, ``render_figure.py``).

Every figure function raises :class:`FigureNotApplicable` when, at run time, it finds it cannot be
made (no base decision maker, no pixels); :func:`render` logs the reason and writes it into every
declared output instead, so the workflow completes.
"""

from __future__ import annotations

import os

__all__ = ["FIGURES", "TABLES", "OPTIONAL_FIGURES", "FigureNotApplicable", "applicable_figures", "render",
           "function_of", "wiring_problems", "is_gaussian", "examples_available"]

#: Figures: name -> ``module:function``.
FIGURES = {
    "fig02_correct_histogram": "ddd.report.figures.histogram:figure_02",
    "fig03_kappa_vs_base": "ddd.report.figures.kappa:figure_03",
    "fig04_run_correctness": "ddd.report.figures.correctness:figure_04",
    "fig05_mean_correctness": "ddd.report.figures.correctness:figure_05",
    "fig06_consistency_matrix": "ddd.report.figures.matrix:figure_06",
    "fig07_rsa": "ddd.report.figures.rsa:figure_07",
    "fig08_gaussian_kl": "ddd.report.figures.gaussian:figure_08",
    "fig09_accuracy": "ddd.report.figures.accuracy:figure_09",
    "fig12_decision_changes": "ddd.report.figures.changes:figure_12",
    "fig13_example_images": "ddd.report.figures.examples:figure_13",
    "fig15_class_accuracy": "ddd.report.figures.accuracy:figure_15",
    "differences_vs_base": "ddd.report.figures.differences:figure_differences",
    "images_data_map": "ddd.report.figures.images:figure_data_map",
    "images_learning_order": "ddd.report.figures.images:figure_learning_order",
    "images_difficulty": "ddd.report.figures.images:figure_difficulty",
}
#: Tables: name -> (``module:function``, extensions).
TABLES = {
    "table1_class_accuracy": ("ddd.report.tables:table_1", ("csv", "tex", "md")),
    "headline": ("ddd.report.tables:headline", ("csv", "md")),
}
#: Figures a study has only when it asks for them (``applicable_figures(..., optional=...)``):
#: Figure 7 needs the representations rules (``workflow/rules/representations.smk``).
OPTIONAL_FIGURES = ("fig07_rsa",)
#: Figures of studies without a base and epochs (zoo, pretrained): each network its own condition.
MODEL_FIGURES = ("fig02_correct_histogram", "fig06_consistency_matrix", "fig09_accuracy", "images_difficulty")
#: Figures of imported decisions (no base, no epochs, no pixels).
IMPORTED_FIGURES = ("fig02_correct_histogram", "images_difficulty")

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
        try:
            ds = read_decisions(dataset_or_path, load_probabilities=False).attrs.get("dataset")
        except (OSError, ValueError) as err:
            return False, f"cannot read {dataset_or_path}: {err}"
        ds = dict(ds) if isinstance(ds, dict) else {}
    else:
        ds = dict(dataset_or_path or {})
    kind = _kind(ds)
    if kind == "gaussian":
        return True, "Gaussian images are regenerated from the dataset parameters"
    if kind == "digits":
        return True, "the handwritten digits are read from scikit-learn's copy"
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


def applicable_figures(dataset: dict | None, *, optional=()) -> dict[str, tuple[bool, str]]:
    """``{figure name: (applies, reason)}`` for a training study with this dataset block.

    Fig 8 needs the Gaussian set; Fig 13 needs pixels (:func:`examples_available`: Gaussian always,
    folder datasets and CIFAR-100 when their root exists here). Figures of :data:`OPTIONAL_FIGURES`
    (Fig 7, representational similarity) apply only when named in ``optional``. The others apply to
    every training study (they raise :class:`FigureNotApplicable` at run time without a base run).
    """
    unknown = set(optional) - set(OPTIONAL_FIGURES)
    if unknown:
        raise ValueError(f"unknown optional figures {sorted(unknown)}; allowed: {', '.join(OPTIONAL_FIGURES)}")
    out = {name: (True, "") for name in FIGURES}
    for name in OPTIONAL_FIGURES:
        if name not in optional:
            out[name] = (False, f"{name} is optional and not asked for")
    if not is_gaussian(dataset or {}):
        kind = (dataset or {}).get("kind", (dataset or {}).get("name"))
        out["fig08_gaussian_kl"] = (False, f"the KL figure needs the Gaussian set, not {kind!r}")
    ok, reason = examples_available(dataset or {})
    out["fig13_example_images"] = (ok, "" if ok else reason)
    return out


def function_of(name: str):
    """The function that makes figure or table ``name`` (imported on demand)."""
    import importlib

    target = FIGURES.get(name) or (TABLES.get(name) or (None,))[0]
    if target is None:
        raise ValueError(f"unknown figure or table {name!r}; known: {', '.join(sorted(FIGURES) + sorted(TABLES))}")
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def wiring_problems(name: str, names) -> list[str]:
    """What is wrong between a rule's input/output/params ``names`` and its function's parameters:
    names the function does not take, and required parameters no name gives. Empty: they fit."""
    import inspect

    params = inspect.signature(function_of(name)).parameters
    names = set(names)
    problems = [f"{name}: the function takes no parameter {n!r}" for n in sorted(names - set(params))]
    problems += [f"{name}: nothing gives the required parameter {p!r}" for p, v in params.items()
                 if v.default is inspect.Parameter.empty and v.kind is not inspect.Parameter.VAR_KEYWORD
                 and p not in names]
    return problems


def render(name: str, *, inputs: dict, outputs: dict, options: dict | None = None) -> bool:
    """Make figure or table ``name`` (a key of :data:`FIGURES` or :data:`TABLES`).

    Calls its function with ``inputs``, ``options`` and ``outputs`` as keyword arguments (their
    names are the function's parameters, checked first). When the function finds at run time that
    the study cannot have it (:class:`FigureNotApplicable`), the reason is logged and written into
    every declared output instead. Returns whether the real figure or table was made.
    """
    import logging

    kwargs = {**inputs, **(options or {}), **outputs}
    problems = wiring_problems(name, kwargs)
    if problems:
        raise ValueError("the rule does not fit its function: " + "; ".join(problems))
    try:
        function_of(name)(**kwargs)
        return True
    except FigureNotApplicable as err:
        logging.getLogger(__name__).warning("%s not made: %s", name, err)
        _write_not_applicable(name, err, outputs.values())
        return False


def _write_not_applicable(name: str, err: Exception, paths) -> None:
    for path in paths:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if path.endswith((".png", ".pdf")):
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=(6, 1.5))
            fig.text(0.5, 0.5, f"{name}: not applicable\n{err}", ha="center", va="center", wrap=True)
            fig.savefig(path)
            plt.close(fig)
        else:
            with open(path, "w") as fh:
                fh.write(f"{name} not applicable: {err}\n")
