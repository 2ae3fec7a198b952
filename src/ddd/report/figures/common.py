"""What the figure modules share: the base decision maker, titles and a decisions file's dataset.

Inputs of the figures (all declared by their rules, nothing found by globbing): ``decision_makers``,
the study's decision makers (:class:`ddd.experiment.makers.DecisionMaker`, or their dicts as the
workflow passes them), and the study tables ``summary.json``, ``split.tsv`` and
``kappa_vs_base.tsv``, read through :mod:`ddd.results.study`.
"""

from __future__ import annotations

from ddd.experiment.makers import DecisionMaker, as_decision_makers, base_maker
from ddd.report.catalog import FigureNotApplicable

__all__ = ["FigureNotApplicable", "base_of", "study_title", "dataset_of"]


def base_of(decision_makers, *, base: str = "base") -> DecisionMaker:
    """The study's decision maker of condition ``base``; :class:`FigureNotApplicable` without one."""
    makers = as_decision_makers(decision_makers)
    found = base_maker(makers, base=base)
    if found is None:
        raise FigureNotApplicable(f"the study has no decision maker of condition {base!r} (conditions: "
                                  f"{', '.join(dict.fromkeys(m.condition for m in makers))})")
    return found


def study_title(summary_or_name, what: str) -> str:
    """``"<study>: <what>"`` (just ``what`` without a study name)."""
    study = summary_or_name.get("study", "") if isinstance(summary_or_name, dict) else (summary_or_name or "")
    return (f"{study}: " if study else "") + what


def dataset_of(decisions) -> dict:
    """The ``dataset`` attribute of a decisions file (a dict; empty if the file has none)."""
    ds = decisions.attrs.get("dataset")
    return dict(ds) if isinstance(ds, dict) else {}
