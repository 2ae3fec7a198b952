"""Tables of a study: Table 1 (best and worst classes of the base network) and the headline numbers.

Table 1 (:func:`table_1`): the classes the base network is best and worst at, from
:func:`ddd.analysis.accuracy.class_accuracy_table` (the ranking and tie rule are there). Class
names come from the decisions file's ``class_names`` attribute (the dataset's class folders);
ImageNet-1k's 1000 wnids are shown as the class names the libraries ship
(:func:`ddd.data.imagenet_classes.display_class_names`; the paper printed WordNet synonyms).
Written as CSV, a LaTeX tabular (booktabs) and Markdown.

Headline (:func:`headline`): the rows of :func:`ddd.analysis.headline.headline_rows`, written as
CSV (fractions as fractions) and Markdown (percent, κ to 3 decimals, counts as numbers;
confidence-interval methods and paper sources as numbered notes under the table).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ddd.analysis.accuracy import class_accuracy_table, maker_class_accuracy
from ddd.analysis.headline import headline_rows
from ddd.data.imagenet_classes import display_class_names
from ddd.report.figures.common import base_of
from ddd.results.study import read_kappas, read_summary

__all__ = ["table_1", "write_table_1", "headline", "write_headline"]


# ---------------------------------------------------------------------------------------------
# Table 1


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(s) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(s))


def _md(s) -> str:
    return str(s).replace("|", r"\|").replace("\n", " ")


def _makedirs(*paths) -> None:
    for p in paths:
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)


def write_table_1(table: pd.DataFrame, *, csv, tex, md, caption: str) -> None:
    """Write :func:`class_accuracy_table` as CSV, a LaTeX tabular (booktabs) and a Markdown table."""
    _makedirs(csv, tex, md)
    table.to_csv(csv, index=False, float_format="%.4f")
    lines = [r"\begin{table}", r"\centering", r"\begin{tabular}{rlrlr}", r"\toprule",
             r" & Highest accuracy & & Lowest accuracy & \\", r"\midrule"]
    for r in table.itertuples():
        lines.append(f"{r.rank} & {_tex(r.highest_class)} & {r.highest_accuracy:.2f} & "
                     f"{_tex(r.lowest_class)} & {r.lowest_accuracy:.2f} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_tex(caption)}}}", r"\end{table}", ""]
    with open(tex, "w") as fh:
        fh.write("\n".join(lines))
    rows = ["| Rank | Highest accuracy | Accuracy | Lowest accuracy | Accuracy |",
            "|---:|:---|---:|:---|---:|"]
    rows += [f"| {r.rank} | {_md(r.highest_class)} | {r.highest_accuracy:.2f} | {_md(r.lowest_class)} | "
             f"{r.lowest_accuracy:.2f} |" for r in table.itertuples()]
    with open(md, "w") as fh:
        fh.write("\n".join(rows) + f"\n\n{caption}\n")


def table_1(decision_makers, *, csv, tex, md, base: str = "base", k: int = 10, study: str = "") -> pd.DataFrame:
    """Write Table 1 of a study from the base decision maker (read at its epoch); returns the table.

    Parameters
    ----------
    decision_makers : the study's decision makers.
    csv, tex, md : output paths.
    k : classes per column.
    study : study name for the caption.
    """
    e = base_of(decision_makers, base=base)
    acc, names = maker_class_accuracy(e)
    table = class_accuracy_table(acc, display_class_names(names), k=k)
    n = len(table)
    caption = (f"{study + ': ' if study else ''}the {n} classes with the highest and the {n} with the lowest "
               f"accuracy of the base network ({e.name}, epoch {e.epoch}); highest first in the left column, "
               f"lowest first in the right; ties broken by class index.")
    write_table_1(table, csv=csv, tex=tex, md=md, caption=caption)
    return table


# ---------------------------------------------------------------------------------------------
# Headline numbers


def _fmt(key: str, v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if key.split(".")[-1].startswith("n_") or key.startswith("n_"):  # counts: n_images, ...n_images_changed_...
        v = float(v)
        return f"{int(v):,}" if v.is_integer() else f"{v:,.1f}"
    if key.startswith(("split.", "accuracy.", "changes.")) and not key.endswith("vs_independent"):
        return f"{100 * float(v):.1f} %"
    return f"{float(v):.3f}" if key.startswith("kappa.") else f"{float(v):.2f}"


def write_headline(df: pd.DataFrame, *, csv, md, title: str = "") -> None:
    """Write the headline table as CSV (fractions as fractions) and Markdown (percent, kappa 3
    decimals; confidence-interval methods and paper sources as numbered notes under the table)."""
    _makedirs(csv, md)
    df.to_csv(csv, index=False)
    has_paper = df["paper"].notna().any()
    head = "| Quantity | Value | CI | Paper | Note |" if has_paper else "| Quantity | Value | CI | Note |"
    lines = ([f"# {title}", ""] if title else []) + [head, "|:---|---:|:---|---:|:---|" if has_paper
                                                     else "|:---|---:|:---|:---|"]
    refs: dict[str, int] = {}

    def ref(text: str) -> str:
        return f" [{refs.setdefault(text, len(refs) + 1)}]" if text else ""

    for r in df.itertuples():
        cil = f"{_fmt(r.key, r.ci_low)} – {_fmt(r.key, r.ci_high)}{ref(r.ci_method)}" if pd.notna(r.ci_low) else ""
        cells = [_md(r.quantity), _fmt(r.key, r.value), cil]
        if has_paper:
            cells.append(_fmt(r.key, r.paper) + (ref(r.paper_source) if pd.notna(r.paper) else ""))
        cells.append(_md(r.note))
        lines.append("| " + " | ".join(cells) + " |")
    if refs:
        lines += [""] + [f"[{i}] {_md(t)}" + "  " for t, i in refs.items()]
    with open(md, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def headline(decision_makers, summary_json, kappa_tsv, *, csv, md, paper: str | None = None, ci: float = 0.95,
             n_boot: int = 1000, seed: int = 1312, undefined: str = "nan") -> pd.DataFrame:
    """Write ``headline.{csv,md}`` of a study; returns the table.

    Parameters
    ----------
    decision_makers : the study's decision makers.
    summary_json, kappa_tsv : the study's ``summary.json`` and ``kappa_vs_base.tsv``.
    csv, md : output paths.
    paper : key of :data:`ddd.experiment.paper.PAPER` (e.g. the family ``imagenet-resnet18``) for the paper column;
        None: no paper column values.
    ci, n_boot, seed : bootstrap of the kappa means.
    undefined : kappa of undefined pairs (the study's ``analysis.undefined_kappa``).
    """
    summary = read_summary(summary_json)
    df = headline_rows(decision_makers, summary, read_kappas(kappa_tsv), paper=paper, ci=ci, n_boot=n_boot, seed=seed,
                       undefined=undefined)
    src = f"; paper column: {paper} preset" if paper else ""
    write_headline(df, csv=csv, md=md, title=f"{summary.get('study', '')} headline numbers{src}")
    return df
