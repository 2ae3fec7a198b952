"""What the figure modules share: the base decision maker, titles, a decisions file's dataset, and
the seaborn layer of the per-condition dot figures (3, 7 and 9).

Inputs of the figures (all declared by their rules, nothing found by globbing): ``decision_makers``,
the study's decision makers (:class:`ddd.experiment.makers.DecisionMaker`, or their dicts as the
workflow passes them), and the study tables ``summary.json``, ``split.tsv`` and
``kappa_vs_base.tsv``, read through :mod:`ddd.results.study`.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns

from ddd.experiment.makers import DecisionMaker, as_decision_makers, base_maker
from ddd.report import style as _style
from ddd.report.catalog import FigureNotApplicable

__all__ = ["FigureNotApplicable", "base_of", "study_title", "dataset_of", "tag_new", "condition_strip",
           "condition_means", "undefined_notes", "condition_axis", "checked_table"]


def base_of(decision_makers, *, base: str = "base") -> DecisionMaker:
    """The study's decision maker of condition ``base``; :class:`FigureNotApplicable` without one."""
    makers = as_decision_makers(decision_makers)
    found = base_maker(makers, base=base)
    if found is None:
        raise FigureNotApplicable(f"the study has no decision maker of condition {base!r} (conditions: "
                                  f"{', '.join(dict.fromkeys(m.condition for m in makers))})")
    return found


def checked_table(table: pd.DataFrame, columns, *, value: str, what: str) -> pd.DataFrame:
    """A copy of ``table`` with ``columns`` present (ValueError naming ``what`` and the missing ones
    otherwise) and its ``value`` column as float (NaN kept)."""
    missing = set(columns) - set(table.columns)
    if missing:
        raise ValueError(f"{what} lacks columns {sorted(missing)}; needs {', '.join(columns)}")
    df = table.copy()
    df[value] = pd.to_numeric(df[value], errors="raise").astype(float)
    return df


def study_title(summary_or_name, what: str) -> str:
    """``"<study>: <what>"`` (just ``what`` without a study name)."""
    study = summary_or_name.get("study", "") if isinstance(summary_or_name, dict) else (summary_or_name or "")
    return (f"{study}: " if study else "") + what


def dataset_of(decisions) -> dict:
    """The ``dataset`` attribute of a decisions file (a dict; empty if the file has none)."""
    ds = decisions.attrs.get("dataset")
    return dict(ds) if isinstance(ds, dict) else {}


def tag_new(artists, before: int, *, gid: str, label: str | None = None) -> list:
    """Give the artists a seaborn call added (``artists[before:]``) the ``gid``, and ``label`` to the
    first of them only (one legend entry however many artists seaborn made); returns them."""
    new = list(artists[before:])
    for i, artist in enumerate(new):
        artist.set_gid(gid)
        artist.set_label(label if i == 0 and label is not None else f"_{gid}_{i}")
    return new


def condition_strip(ax, df: pd.DataFrame, column: str, conds: list[str], *, gid: str, label: str,
                    size: float, select=None, **kws) -> list:
    """One dot per row at its condition's position (``sns.stripplot`` without jitter).

    ``select``: optional boolean mask of the rows to draw; the others are passed as NaN, so every
    condition keeps its slot and seaborn still makes its (then empty) collections. ``size`` is the
    marker area in points^2 (as ``scatter``'s ``s``); rows with NaN are not drawn. Seaborn makes one
    scatter collection per condition: all get ``gid``, the first ``label``. Returns them.
    """
    y = df[column].astype(float)
    data = pd.DataFrame({"condition": df["condition"].to_numpy(),
                         column: (y if select is None else y.where(np.asarray(select, bool))).to_numpy()})
    before = len(ax.collections)
    sns.stripplot(data=data, x="condition", y=column, order=conds, jitter=False, size=float(np.sqrt(size)),
                  legend=False, ax=ax, **kws)
    return tag_new(ax.collections, before, gid=gid, label=label)


def condition_means(ax, df: pd.DataFrame, column: str, conds: list[str], *, gid: str, label: str, size: float,
                    color, alpha: float = 1.0, zorder: float = 4):
    """The mean of ``column`` per condition (NaN skipped, as ``nanmean``) as one dot at its position
    (``sns.pointplot``: no connecting line, no interval). ``size`` is the marker area in points^2.

    Returns the Line2D seaborn drew, with ``gid`` and ``label``; its data hold one point per condition
    with a finite mean (seaborn's NaN placeholders, never drawn, are removed).
    """
    before = len(ax.lines)
    # Edge width as scatter's default (lines.linewidth): the same dot as a scatter of area ``size``.
    sns.pointplot(data=df, x="condition", y=column, order=conds, estimator="mean", errorbar=None,
                  color=color, markers="o", linestyles="none", markersize=float(np.sqrt(size)),
                  markeredgewidth=mpl.rcParams["lines.linewidth"], alpha=alpha, zorder=zorder,
                  legend=False, ax=ax)
    (line,) = tag_new(ax.lines, before, gid=gid, label=label)
    x, y = (np.asarray(v, float) for v in line.get_data())
    line.set_data(x[np.isfinite(y)], y[np.isfinite(y)])
    return line


def undefined_notes(ax, df: pd.DataFrame, column: str, conds: list[str], *, gid: str | None = None) -> list[str]:
    """Write "undefined" (vertical, at mid height) at every condition whose ``column`` is all NaN;
    returns those conditions."""
    undefined = [c for c in conds if not np.isfinite(df.loc[df["condition"] == c, column].astype(float)).any()]
    for c in undefined:
        ax.text(conds.index(c), 0.5, "undefined", rotation=90, ha="center", va="center",
                color=_style.COLORS["undefined"], fontstyle="italic", gid=gid)
    return undefined


def condition_axis(ax, conds: list[str]) -> None:
    """The x axis of a per-condition dot figure: one slot per condition, display names at 45 degrees,
    no axis label (seaborn's "condition" removed)."""
    ax.set_xlim(-0.6, len(conds) - 0.4)
    ax.set_xticks(range(len(conds)), [_style.display_name(c) for c in conds], rotation=45, ha="right",
                  rotation_mode="anchor")
    ax.set_xlabel("")
