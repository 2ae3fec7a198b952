"""Which figures and tables a study can have, decided from its dataset block before anything runs.

The workflow asks for a figure only where it applies (issue: "a figure that a study cannot have is
simply not requested"). ``dataset`` is the study's dataset block from the config
(``ddd.config.Config.dataset``: ``name``, ``kind``, ``root``, ...) or a decisions file's ``dataset``
attribute; both carry the keys used here.

Every figure function raises :class:`ddd.report.figures.common.FigureNotApplicable` when, at run time, it
finds it cannot be made (no base decision maker, no pixels); the rule's script catches it and
logs the reason.
"""

from __future__ import annotations

from ddd.report.applicability import FigureNotApplicable, examples_available, is_gaussian

__all__ = ["FIGURES", "TABLES", "OPTIONAL_FIGURES", "applicable_figures", "FigureNotApplicable"]

#: Figure output names (``results/<study>/figures/<name>.{png,pdf}``) -> ``module:function``.
FIGURES = {
    "fig04_run_correctness": "ddd.report.figures.correctness:figure_04",
    "fig05_mean_correctness": "ddd.report.figures.correctness:figure_05",
    "fig06_consistency_matrix": "ddd.report.figures.matrix:figure_06",
    "fig08_gaussian_kl": "ddd.report.figures.gaussian:figure_08",
    "fig09_accuracy": "ddd.report.figures.accuracy:figure_09",
    "fig12_decision_changes": "ddd.report.figures.changes:figure_12",
    "fig13_example_images": "ddd.report.figures.examples:figure_13",
    "fig15_class_accuracy": "ddd.report.figures.accuracy:figure_15",
}
#: Table output names (``results/<study>/tables/<name>.<ext>``) -> (``module:function``, extensions).
TABLES = {
    "table1_class_accuracy": ("ddd.report.tables:table_1", ("csv", "tex", "md")),
    "headline": ("ddd.report.tables:headline", ("csv", "md")),
}


def applicable_figures(dataset: dict | None, *, optional=()) -> dict[str, tuple[bool, str]]:
    """``{figure name: (applies, reason)}`` for a study with this dataset block.

    Fig 8 needs the Gaussian set; Fig 13 needs pixels (:func:`ddd.report.figures.examples.examples_available`:
    Gaussian always, folder datasets and CIFAR-100 when their root exists here). Figures of
    :data:`OPTIONAL_FIGURES` (Fig 7, representational similarity) apply only when named in
    ``optional``. The others apply to every training study (they raise ``FigureNotApplicable`` at
    run time without a base run).
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


FIGURES.update({
    "fig02_correct_histogram": "ddd.report.figures.histogram:figure_02",
    "fig03_kappa_vs_base": "ddd.report.figures.kappa:figure_03",
    "fig07_rsa": "ddd.report.figures.rsa:figure_07",
})
#: Figures a study has only when it asks for them (``applicable_figures(..., optional=...)``):
#: Figure 7 needs the representations rules (``workflow/rules/representations.smk``).
OPTIONAL_FIGURES = ("fig07_rsa",)


def render(name: str, *, inputs: dict, outputs: dict, options: dict | None = None) -> bool:
    """Make figure or table ``name`` (a key of :data:`FIGURES` or :data:`TABLES`).

    Calls its function with ``inputs``, ``options`` and ``outputs`` as keyword arguments (their
    names are the function's parameters: ``entries``, ``split_tsv``, ``summary_json``,
    ``kappa_tsv``; ``png``/``pdf`` or ``csv``/``tex``/``md``). When the function finds at run time
    that the study cannot have it (:class:`FigureNotApplicable`), the reason is logged and written
    into every declared output instead, so the workflow still completes. Returns whether the real
    figure was made.
    """
    import importlib
    import logging
    import os

    target = FIGURES.get(name) or (TABLES.get(name) or (None,))[0]
    if target is None:
        raise ValueError(f"unknown figure or table {name!r}; known: {', '.join(sorted(FIGURES) + sorted(TABLES))}")
    module, function = target.split(":")
    fn = getattr(importlib.import_module(module), function)
    try:
        fn(**inputs, **(options or {}), **outputs)
        return True
    except FigureNotApplicable as err:
        logging.getLogger(__name__).warning("%s not made: %s", name, err)
        for path in outputs.values():
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            if path.endswith((".png", ".pdf")):
                import matplotlib.pyplot as plt
                fig = plt.figure(figsize=(6, 1.5))
                fig.text(0.5, 0.5, f"{name}: not applicable\n{err}", ha="center", va="center", wrap=True)
                fig.savefig(path)
                plt.close(fig)
            else:
                with open(path, "w") as fh:
                    fh.write(f"{name} not applicable: {err}\n")
        return False
