"""Tables and figure of the psychophysical experiment, from the numbers of :mod:`ddd.psychophysics.analysis`.

- :func:`write_tables`: ``psychophysics_summary.{csv,md}`` (the headline numbers beside the
  paper's, :data:`PAPER`), ``psychophysics_observers.{csv,md}`` (one row per observer) and
  ``psychophysics_kappa.csv`` (the kappa matrix between observers);
- :func:`write_power`: ``psychophysics_power.{csv,md}``, what the experiment's trials per observer
  can and cannot resolve (:func:`ddd.psychophysics.analysis.plan_power`);
- :func:`write_html`: a table's Markdown as a small self-contained HTML page, which the Snakemake
  report shows inline (it shows HTML in the page, CSV only as a download);
- :func:`plot_observers` / :func:`write_figure`: accuracy per observer and the kappa matrix
  (``psychophysics.{png,pdf}``), in the report's style (:mod:`ddd.report.style`).

The experiment and its numbers are described in ``docs/reproduction.md#psychophysics``.
"""

from __future__ import annotations

import html
import math
import os
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ddd.report import style as _style

__all__ = ["PAPER", "write_tables", "write_power", "markdown_to_html", "write_html", "plot_observers",
           "write_figure"]

#: The paper's numbers (section 3.4 and footnote 4), for the summary table.
PAPER = {"n_observers": 9, "n_trials": 149, "accuracy_mean": 0.8136, "accuracy_min": 0.7181,
         "accuracy_max": 0.8859, "accuracy_sd": 0.0629, "p_value_max": 5e-8, "kappa_mean": 0.5874,
         "kappa_min": 0.4053, "kappa_max": 0.7527, "kappa_sd": 0.08783}

_PAPER_COLOR = "#b35900"  # the paper's reference lines in the figure

_SUMMARY_ROWS = (  # key, quantity, kind
    ("n_observers", "observers", "n"), ("n_trials", "main trials per observer", "n"),
    ("accuracy_mean", "accuracy, mean over observers", "pct"), ("accuracy_min", "accuracy, lowest", "pct"),
    ("accuracy_max", "accuracy, highest", "pct"), ("accuracy_sd", "accuracy, sd over observers (ddof 1)", "pct"),
    ("p_value_max", "largest one-sided binomial p against chance (worst observer)", "p"),
    ("kappa_mean", "error consistency between observers, mean over pairs", "k"),
    ("kappa_min", "error consistency, lowest pair", "k"), ("kappa_max", "error consistency, highest pair", "k"),
    ("kappa_sd", "error consistency, sd over pairs (ddof 1)", "k"),
)


def _fmt(kind: str, v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return {"n": lambda x: f"{int(x):,}", "pct": lambda x: f"{100 * x:.2f} %", "p": lambda x: f"{x:.2g}",
            "k": lambda x: f"{x:.4f}"}[kind](v)


def _md(s) -> str:
    return str(s).replace("|", r"\|").replace("\n", " ")


def _write_summary(summary: dict, summary_csv, summary_md, study: str) -> None:
    rows = [{"key": k, "quantity": q, "value": summary[k], "paper": PAPER.get(k)} for k, q, _ in _SUMMARY_ROWS]
    pd.DataFrame(rows, dtype=object).to_csv(summary_csv, index=False)  # counts stay integers
    lines = [f"# {study}: psychophysics" if study else "# Psychophysics", "",
             "| Quantity | Value | Paper |", "|:---|---:|---:|"]
    lines += [f"| {_md(q)} | {_fmt(kind, summary[k])} | {_fmt(kind, PAPER.get(k))} |" for k, q, kind in _SUMMARY_ROWS]
    if summary["n_kappa_undefined"]:
        lines += ["", f"{summary['n_kappa_undefined']} of {summary['n_kappa_pairs']} observer pairs have an undefined "
                      "kappa (both 100 % right) and are left out of the kappa numbers."]
    with open(summary_md, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def _write_observers(table: pd.DataFrame, files: list[str], observers_csv, observers_md) -> None:
    table.assign(file=[os.path.basename(f) for f in files]).to_csv(observers_csv, index=False)
    lines = ["| Observer | Right | Accuracy | 95 % CI | p (one-sided, vs 50 %) | Median RT |",
             "|:---|---:|---:|:---|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {_md(r.observer)} | {r.n_correct} / {r.n_trials} | {100 * r.accuracy:.2f} % | "
                     f"{100 * r.ci_low:.1f} – {100 * r.ci_high:.1f} % | {r.p_value:.2g} | "
                     + (f"{r.median_rt_ms:.0f} ms |" if np.isfinite(r.median_rt_ms) else "– |"))
    with open(observers_md, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def write_tables(table: pd.DataFrame, summary: dict, kappa: pd.DataFrame, files: list[str], *, summary_csv,
                 summary_md, observers_csv, observers_md, kappa_csv, study: str) -> None:
    """Write the five tables (module docstring); parent folders are created.

    ``table``, ``summary``, ``kappa``: :func:`ddd.psychophysics.analysis.summarize_observers`;
    ``files``: each observer's response file (its name goes into the observers' table);
    ``study``: the summary's title (none when empty).
    """
    for p in (summary_csv, summary_md, observers_csv, observers_md, kappa_csv):
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
    _write_summary(summary, summary_csv, summary_md, study)
    _write_observers(table, files, observers_csv, observers_md)
    kappa.to_csv(kappa_csv, index_label="observer", na_rep="NaN", float_format="%.6f")


def _num(v, fmt: str, prefix: str = "") -> str:
    return "–" if v is None or not np.isfinite(v) else prefix + format(v, fmt)


def write_power(table: pd.DataFrame, *, power_csv, power_md, study: str = "") -> None:
    """Write the power table (:func:`ddd.psychophysics.analysis.plan_power`) as CSV and Markdown.

    The CSV has the table's columns as they are; the Markdown one row per κ with the copy
    probability, the standard error, the interval half-width (normal approximation and simulated),
    the smallest detectable Δκ (one pair against a value, two independent pairs) and the trials
    needed for each half-width, and says what the numbers assume. Parent folders are created.
    """
    for p in (power_csv, power_md):
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
    table.to_csv(power_csv, index=False, na_rep="NaN", float_format="%.6g")
    a = table.attrs
    ci, power, alpha = a.get("ci", 0.95), a.get("power", 0.8), a.get("alpha", 0.05)
    n, acc = int(table["n"].iloc[0]), float(table["p_a"].iloc[0])
    hw_cols = [c for c in table.columns if c.startswith("trials_for_half_width_")]
    hws = [c.removeprefix("trials_for_half_width_") for c in hw_cols]
    pct = f"{100 * ci:g} %"
    lines = [f"# {study}: what {n} trials per observer can resolve" if study
             else f"# What {n} trials per observer can resolve", "",
             f"Both observers of a pair at the observers' mean accuracy ({100 * acc:.2f} %); trials independent "
             "(copy model of Klein et al. 2025). Half-width: of the " + pct + " interval of one pair's κ, "
             "normal approximation (delta method) and, beside it, half the central " + pct + " range of κ over "
             f"{a.get('n_sim', 2000):,} seeded simulated experiments. Smallest Δκ: the smallest increase of κ a "
             f"two-sided Wald test at level {alpha:g} detects with {100 * power:g} % power, for one pair "
             "against a fixed value of κ, and between two independent pairs (– : not even up to κ_max).", "",
             "| κ | | copy probability | SE | " + pct + " half-width | simulated | smallest Δκ, one pair | "
             "smallest Δκ, two pairs | " + " | ".join(f"trials for ± {h}" for h in hws) + " |",
             "|---:|:---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(hws)]
    for r in table.to_dict("records"):
        lines.append(f"| {_num(r['kappa'], '.4g')} | {_md(r['row'])} | {_num(r['copy'], '.3f')} | "
                     f"{_num(r['se'], '.3f')} | {_num(r['half_width'], '.3f', '± ')} | "
                     f"{_num(r['half_width_simulated'], '.3f', '± ')} | {_num(r['delta_one_pair'], '.3f')} | "
                     f"{_num(r['delta_two_pairs'], '.3f')} | "
                     + " | ".join("–" if not np.isfinite(r[c]) else f"{int(r[c]):,}" for c in hw_cols) + " |")
    if not 0 < acc < 1:
        lines += ["", "The mean accuracy is 0 or 100 %: κ is not defined, nothing can be planned."]
    with open(power_md, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def _inline(text: str) -> str:
    out = html.escape(text.replace(r"\|", "|"), quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))] if line.strip() != "|" else []


def markdown_to_html(md: str) -> str:
    """The Markdown these tables are written in (``# `` headings, paragraphs, pipe tables with an
    alignment row) as an HTML fragment; text escaped."""
    out, lines, i = [], md.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|:- "):
            head = _cells(line)
            aligns = ["right" if c.endswith(":") and not c.startswith(":") else "left" for c in _cells(lines[i + 1])]
            rows = []
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            al = lambda k: f' style="text-align:{aligns[k] if k < len(aligns) else "left"}"'  # noqa: E731
            out.append("<table>\n<thead><tr>" + "".join(f"<th{al(k)}>{_inline(c)}</th>" for k, c in enumerate(head))
                       + "</tr></thead>\n<tbody>\n" + "\n".join(
                           "<tr>" + "".join(f"<td{al(k)}>{_inline(c)}</td>" for k, c in enumerate(r)) + "</tr>"
                           for r in rows) + "\n</tbody>\n</table>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith("#") \
                    and not lines[i].lstrip().startswith("|"):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(out)


_HTML_STYLE = ("body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2125}"
               "table{border-collapse:collapse;margin:1rem 0}th,td{padding:.3rem .7rem;border-bottom:1px solid #d5d9dd}"
               "th{background:#f1f3f5}tbody tr:hover{background:#f8f9fa}p{max-width:60rem}")


def write_html(md_path, html_path, *, title: str) -> None:
    """``html_path``: the Markdown table of ``md_path`` as a self-contained HTML page (the workflow
    report shows it inline)."""
    with open(md_path, encoding="utf-8") as fh:
        body = markdown_to_html(fh.read())
    os.makedirs(os.path.dirname(os.path.abspath(html_path)), exist_ok=True)
    with open(html_path, "w", encoding="utf-8") as fh:
        fh.write(f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                 f"<style>{_HTML_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _sci(p: float) -> str:
    """``0.00000005`` -> ``5.0 × 10⁻⁸`` (small p-values), else 2 significant digits."""
    if not np.isfinite(p) or p >= 1e-3:
        return f"{p:.2g}"
    mant, exp = f"{p:.1e}".split("e")
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return f"{mant} × 10{str(int(exp)).translate(sup)}"


def _plot_accuracy(ax, table: pd.DataFrame, summary: dict, rotate: bool) -> None:
    """Accuracy per observer, sorted, with exact 95 % intervals and the chance and mean lines."""
    m = len(table)
    t = table.iloc[np.argsort(table["accuracy"].to_numpy(), kind="stable")]
    x = np.arange(m)
    acc = 100 * t["accuracy"].to_numpy()
    err = np.vstack([acc - 100 * t["ci_low"].to_numpy(), 100 * t["ci_high"].to_numpy() - acc])
    ax.errorbar(x, acc, yerr=err, fmt="o", color=_style.COLORS["observed"], ecolor="0.55", capsize=3,
                markersize=7, label="observer (exact 95 % CI)")
    ax.axhline(100 * summary["chance"], color=_style.COLORS["zero_line"], lw=1, ls=":", label="chance")
    ax.axhline(100 * summary["accuracy_mean"], color="black", lw=1.2, ls="--",
               label=f"mean {100 * summary['accuracy_mean']:.1f} %")
    # the paper's values (section 3.4): its mean accuracy, and its lowest and highest observer
    ax.axhline(100 * PAPER["accuracy_mean"], color=_PAPER_COLOR, lw=1.4, ls="-.",
               label=f"paper: mean {100 * PAPER['accuracy_mean']:.1f} %")
    for key in ("accuracy_min", "accuracy_max"):
        ax.axhline(100 * PAPER[key], color=_PAPER_COLOR, lw=0.9, ls=(0, (1, 2)),
                   label=f"paper: range {100 * PAPER['accuracy_min']:.1f} – {100 * PAPER['accuracy_max']:.1f} %"
                   if key == "accuracy_min" else None)
    ax.set_xticks(x, t["observer"], rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_xlim(-0.6, m - 0.4)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%): picked the impossible image")
    ax.set_xlabel("observer (sorted by accuracy)")
    ax.set_title(f"Accuracy, {summary['n_trials']} trials (largest p = {_sci(summary['p_value_max'])})")
    ax.legend(loc="lower right")


def _plot_kappa(fig, bx, kappa: pd.DataFrame, summary: dict, rotate: bool) -> None:
    """The kappa matrix between observers (diagonal blank; values in the cells up to 16 observers)."""
    names = list(kappa.index)
    m = len(names)
    k = kappa.to_numpy(dtype=float)
    shown = np.where(np.eye(m, dtype=bool), np.nan, k)
    vmin = min(0.0, float(np.nanmin(shown))) if np.isfinite(shown).any() else 0.0
    im = bx.imshow(shown, cmap=_style.CMAPS["kappa_matrix"], vmin=vmin, vmax=1.0)
    bx.set_xticks(range(m), names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    bx.set_yticks(range(m), names)
    bx.tick_params(length=0)
    if m <= 16:
        for i in range(m):
            for j in range(m):
                if i != j:
                    v = shown[i, j]
                    bx.text(j, i, "–" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center",
                            fontsize=9 if m <= 10 else 7, color="white" if np.isfinite(v) and v > 0.6 else "black")
    cbar = fig.colorbar(im, ax=bx, shrink=0.8, label="κ")
    # reference lines on the colour scale: this experiment's mean κ and the paper's (mean, range)
    if np.isfinite(summary["kappa_mean"]):
        cbar.ax.axhline(summary["kappa_mean"], color="black", lw=2, ls="--")
    cbar.ax.axhline(PAPER["kappa_mean"], color=_PAPER_COLOR, lw=2.2, ls="-.")
    for key in ("kappa_min", "kappa_max"):
        cbar.ax.axhline(PAPER[key], color=_PAPER_COLOR, lw=1.2, ls=(0, (1, 2)))
    cbar.ax.text(1.0, -0.06, f"orange: paper, mean {PAPER['kappa_mean']:.2f} (– ·)\nand range (···)\n"
                 "black - -: this mean", transform=cbar.ax.transAxes, ha="right", va="top", fontsize=8, color="0.25")
    bx.set_title(f"Error consistency: mean κ {summary['kappa_mean']:.3f} "
                 f"(range {summary['kappa_min']:.3f} – {summary['kappa_max']:.3f})")
    for sp in bx.spines.values():
        sp.set_visible(False)


def plot_observers(table: pd.DataFrame, kappa: pd.DataFrame, summary: dict, *, title: str | None = None):
    """Accuracy per observer (exact 95 % intervals, chance and mean lines) and, with two observers
    or more, the kappa matrix between them (values written in the cells up to 16 observers).

    ``table``, ``summary``, ``kappa``: the outputs of
    :func:`ddd.psychophysics.analysis.summarize_observers`. Returns a Figure.
    """
    m = len(table)
    rotate = m > 6
    with _style.style():
        if m >= 2:
            fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.0, 5.2), layout="constrained",
                                         gridspec_kw={"width_ratios": [1.15, 1]})
        else:
            fig, ax = plt.subplots(figsize=(6.5, 5.2), layout="constrained")
        _plot_accuracy(ax, table, summary, rotate)
        if m >= 2:
            _plot_kappa(fig, bx, kappa, summary, rotate)
        if title:
            fig.suptitle(title)
        if m < 2:
            _style.note(fig, "Error consistency between observers needs at least two observers.")
    return fig


def write_figure(table: pd.DataFrame, kappa: pd.DataFrame, summary: dict, png, pdf, *, study: str = "") -> None:
    """:func:`plot_observers`, titled after ``study`` (untitled when empty), saved as ``png`` and ``pdf``."""
    fig = plot_observers(table, kappa, summary, title=f"{study}: which image is harder for the networks?" if study
                         else None)
    _style.save(fig, png, pdf)
