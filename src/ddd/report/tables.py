"""Tables of a study: Table 1 (best and worst classes of the base network) and the headline numbers.

Table 1 (``table_1``): the ``k`` (10) classes on which the base network is most accurate at its
final epoch, best first, beside the ``k`` on which it is least accurate, *worst first* (as the
paper's Table 1, whose caption names 'earthstar' the highest and 'screen, CRT screen', the first
of the second column, the lowest). Ties are broken by class index, lower first, in both columns.
With fewer than 2k classes, k = classes // 2 so that the columns do not overlap. Class names come
from the decisions file's ``class_names`` attribute (ImageNet: the wnid folder names; the paper
printed WordNet synonyms).

Headline (``headline``): one row per number, with the paper's published value beside it where the
study is one of the paper's presets (:data:`PAPER`, keyed by family, e.g. ``imagenet-resnet18``):

- split fractions under both rules (strict: all / none right; all but one: >= n-1 / <= 1 right)
  and the in-between fraction relative to independent decision makers;
- final accuracy of the distinct decision makers: mean, min, max, sd (ddof 1);
- decision changes per epoch (``ddd.report.figures.changes``): the fraction of images whose predicted
  label changes and whose correctness flips, averaged over the transitions 0 -> 1 .. E-1 -> E, for
  the base run and averaged over all runs;
- mean kappa with the base per condition (``kappa_vs_base.tsv``'s rows: half data = each half
  network with the base, different data = the two halves with each other), with a percentile
  bootstrap confidence interval over images: images are resampled with replacement ``n_boot``
  times (``numpy.random.default_rng(seed)``), every pair's kappa is recomputed on each resample from
  its 2 x 2 counts (one matrix product for all pairs), the condition mean is taken on each
  resample, and the interval is the (1 -+ ci) / 2 percentiles of those means (resamples where a
  condition's kappa is undefined for every pair are left out and counted in the note).

Paper values: the text of Meding, Buschoff, Geirhos & Wichmann, "Trivial or impossible" (ICLR 2022,
the version in ``shared/paper/trivial-or-impossible.md``) for split fractions, accuracies and the
swap rate; kappa values are read off the paper's Figures 3, 10, 11 and 16 as printed in the
authors' notebooks (two decimals; see ``shared/notes/figures.md``), so they are approximate.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from ddd.analysis.kappa import pair_table
from ddd.report.figures.changes import per_run_changes
from ddd.report.figures.common import (as_entries, base_entry, class_accuracy, correct_matrix, load_runs, read_kappas,
                             read_summary)
from ddd.report.figures.kappa import condition_order
from ddd.experiment.recipes import CONDITIONS

__all__ = ["class_accuracy_table", "table_1", "condition_kappa_ci", "headline_rows", "headline", "PAPER",
           "HEADLINE_COLUMNS", "paper_preset"]

HEADLINE_COLUMNS = ("key", "quantity", "value", "ci_low", "ci_high", "ci_method", "n", "paper", "paper_source",
                    "note")
_PAPER_TEXT = "paper text (ICLR 2022)"


def _kappa_readoffs(values, figure: str, notes: dict | None = None) -> dict:
    src = f"read off the paper's Figure {figure} (authors' notebook output, 2 decimals)"
    notes = notes or {}
    return {f"kappa.{c}": (v, src + (f"; {notes[c]}" if c in notes else "")) for c, v in zip(CONDITIONS, values)}


_FIG16_NOTE = "the figure's large marker is the first model, not the mean (authors' code)"
#: Published numbers per paper preset (family key): ``{headline key: (value, source)}``.
PAPER: dict[str, dict] = {
    "imagenet-resnet18": {
        "split.strict.trivial": (0.482, f"{_PAPER_TEXT}, section 3.1: 48.2 % learned by all 13 models"),
        "split.strict.impossible": (0.143, f"{_PAPER_TEXT}, section 3.1: 14.3 % misclassified by all"),
        "split.strict.in_between": (0.375, f"{_PAPER_TEXT}, section 3.1: 37.5 %"),
        "accuracy.mean": (0.6905, f"{_PAPER_TEXT}, section 3.1: mean 69.05 % after 90 epochs"),
        "accuracy.min": (0.6587, f"{_PAPER_TEXT}, section 3.1: range 65.87 % to 71.47 %"),
        "accuracy.max": (0.7147, f"{_PAPER_TEXT}, section 3.1: range 65.87 % to 71.47 %"),
        "accuracy.sd": (0.0160, f"{_PAPER_TEXT}, section 3.1: standard deviation 1.60 %"),
        "changes.label_change.base": (0.1237, f"{_PAPER_TEXT}, section 3.1: 'on average 12.37 % of the "
                                               "decisions swap every epoch' (6,184 images); which swap is "
                                               "meant is not stated nor traceable to the authors' code"),
        **_kappa_readoffs((1.00, .87, .85, .70, .70, .70, .70, .70, .69, .67, .66, .65, .64), "3"),
    },
    "imagenet-vgg11": _kappa_readoffs((1.0, .94, .93, .74, .68, .745, .735, .745, .74, .555, .68, .56, .70), "10",
                                      {"architecture": "AlexNet"}),
    "imagenet-densenet121": _kappa_readoffs((1.0, .81, .78, .72, .675, .72, .71, .72, .70, .71, .675, .685, .66),
                                            "11", {"architecture": "ResNet-50"}),
    "cifar100-resnet18": _kappa_readoffs((1.0, .96, .93, .69, .67, .68, .68, .69, .67, .66, .55, .62, .54), "16",
                                         {c: _FIG16_NOTE for c in CONDITIONS}),
    "gaussian-resnet18": _kappa_readoffs(
        (1.0, .92, .92, .84, .80, .79, .84, .88, .795, .49, .775, .49, .74), "16",
        {**{c: _FIG16_NOTE for c in CONDITIONS},
         "init": "models between .77 and .81 (midpoint)", "hardware": "models between .87 and .89 (midpoint)",
         "data_order": "models between .77 and .82 (midpoint)", "half_data": ".75 and .80 (mean)",
         "combined": ".49 marked, one model at .40"}),
    "imagenet-sota": {
        "split.all_but_one.trivial": (0.460, f"{_PAPER_TEXT}, section 3.2: 46.0 % (11 SOTA models, all but one)"),
        "split.all_but_one.impossible": (0.115, f"{_PAPER_TEXT}, section 3.2: 11.5 %"),
        "split.all_but_one.in_between": (0.425, f"{_PAPER_TEXT}, section 3.2: 42.5 %"),
        "accuracy.min": (0.55, "published accuracies of the 11 models (SPEC section 4): CORnet-RT .55"),
        "accuracy.max": (0.81, "published accuracies of the 11 models (SPEC section 4): SWSL .81"),
    },
}


def paper_preset(dataset: str, family: str) -> str | None:
    """The :data:`PAPER` key of a training study (``"<dataset kind>-<family>"``, e.g.
    ``imagenet-resnet18``), or None if the paper has no numbers for it. The Gaussian default gets
    the paper's Gaussian numbers (Figure 16 read-offs) only."""
    key = f"{dataset}-{family}"
    return key if key in PAPER else None


# ---------------------------------------------------------------------------------------------
# Table 1


def class_accuracy_table(class_acc, class_names=None, *, k: int = 10) -> pd.DataFrame:
    """The k best and k worst classes (module docstring).

    Parameters
    ----------
    class_acc : float (C,), NaN for classes without images (left out).
    class_names : C names (default ``class <index>``).
    k : rows.

    Returns
    -------
    DataFrame with k' = min(k, classes // 2) (at least 1) rows: rank, highest_class, highest_index,
    highest_accuracy, lowest_class, lowest_index, lowest_accuracy.
    """
    acc = np.asarray(class_acc, dtype=np.float64)
    if acc.ndim != 1:
        raise ValueError(f"class accuracies must be 1-D, got shape {acc.shape}")
    names = [f"class {i}" for i in range(acc.size)] if class_names is None else [str(c) for c in class_names]
    if len(names) < acc.size:
        raise ValueError(f"{len(names)} class names for {acc.size} classes")
    idx = np.flatnonzero(np.isfinite(acc))
    if idx.size == 0:
        raise ValueError("no class has evaluation images")
    kk = max(1, min(int(k), idx.size // 2))
    best = idx[np.lexsort((idx, -acc[idx]))][:kk]
    worst = idx[np.lexsort((idx, acc[idx]))][:kk]
    return pd.DataFrame({"rank": np.arange(1, kk + 1),
                         "highest_class": [names[i] for i in best], "highest_index": best,
                         "highest_accuracy": acc[best],
                         "lowest_class": [names[i] for i in worst], "lowest_index": worst,
                         "lowest_accuracy": acc[worst]})


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


def table_1(entries, *, csv, tex, md, base: str = "base", k: int = 10, study: str = "") -> pd.DataFrame:
    """Write Table 1 of a study from the base decision maker (read at its epoch); returns the table.

    Parameters
    ----------
    entries : the study's decision makers (``ddd.report.figures.common``).
    csv, tex, md : output paths.
    k : classes per column.
    study : study name for the caption.
    """
    e = base_entry(entries, base=base)
    d = load_runs([e.path])[e.path]
    names = list(d.attrs.get("class_names") or [])
    c = max(len(names), int(d.targets.max()) + 1)
    names += [f"class {i}" for i in range(len(names), c)]
    table = class_accuracy_table(class_accuracy(d.correct(e.epoch), d.targets, c), names, k=k)
    n = len(table)
    caption = (f"{study + ': ' if study else ''}the {n} classes with the highest and the {n} with the lowest "
               f"accuracy of the base network ({e.name}, epoch {e.epoch}); highest first in the left column, "
               f"lowest first in the right; ties broken by class index.")
    write_table_1(table, csv=csv, tex=tex, md=md, caption=caption)
    return table


# ---------------------------------------------------------------------------------------------
# Headline numbers


def condition_kappa_ci(correct, pairs, groups, *, ci: float = 0.95, n_boot: int = 1000, seed=1312,
                       undefined: str = "nan") -> pd.DataFrame:
    """Mean kappa per group of pairs with a percentile bootstrap interval over images (module docstring).

    Parameters
    ----------
    correct : bool (M, N).
    pairs : sequence of P index pairs (i, j) into the rows of ``correct``.
    groups : sequence of P group names (one per pair).
    ci, n_boot, seed : confidence level, resamples, seed of ``numpy.random.default_rng``.
    undefined : kappa of undefined pairs (``ddd.analysis.kappa``).

    Returns
    -------
    DataFrame, one row per group in first-seen order: group, kappa (nanmean over its pairs on all
    images), ci_low, ci_high, n_pairs, n_boot_undefined.
    """
    c = np.asarray(correct)
    if c.ndim != 2 or c.dtype != bool or c.shape[1] == 0:
        raise ValueError(f"correct must be bool (M, N >= 1), got {c.dtype} shape {c.shape}")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    groups = list(groups)
    if len(groups) != len(pairs):
        raise ValueError(f"{len(groups)} groups for {len(pairs)} pairs")
    if not (0 < ci < 1) or int(n_boot) != n_boot or n_boot < 2:
        raise ValueError(f"need 0 < ci < 1 and n_boot >= 2, got {ci!r}, {n_boot!r}")
    names = list(dict.fromkeys(groups))
    member = np.array([[g == h for g in groups] for h in names], dtype=bool).reshape(len(names), len(pairs))
    m, n = c.shape
    i, j = pairs[:, 0], pairs[:, 1]
    both = (c[i] & c[j])

    def group_means(kap):  # kap (r, P) -> (r, G)
        out = np.full((kap.shape[0], len(names)), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for g in range(len(names)):
                out[:, g] = np.nanmean(kap[:, member[g]], axis=1)
        return out

    k_all = c.sum(axis=1)
    point = group_means(pair_table(n, k_all[i], k_all[j], both.sum(axis=1), undefined=undefined)["kappa"][None, :])[0]
    rng = np.random.default_rng(seed)
    chunk = max(1, 2 ** 22 // n)
    cf, bf = c.astype(np.float32), both.astype(np.float32)
    boots = np.empty((int(n_boot), len(names)))
    for s in range(0, int(n_boot), chunk):
        r = min(chunk, int(n_boot) - s)
        idx = rng.integers(0, n, size=(r, n))
        w = np.bincount((idx + n * np.arange(r)[:, None]).ravel(), minlength=r * n).reshape(r, n).astype(np.float32)
        k = np.rint(w @ cf.T).astype(np.int64)
        kab = np.rint(w @ bf.T).astype(np.int64)
        boots[s:s + r] = group_means(pair_table(n, k[:, i], k[:, j], kab, undefined=undefined)["kappa"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(boots, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
    return pd.DataFrame({"group": names, "kappa": point, "ci_low": lo, "ci_high": hi,
                         "n_pairs": member.sum(axis=1), "n_boot_undefined": np.isnan(boots).sum(axis=0)})


def _split_rows(summary: dict) -> list[dict]:
    rows = []
    labels = {"strict": "all / none right", "all_but_one": "at least n-1 / at most 1 right"}
    for rule, label in labels.items():
        s = (summary.get("split") or {}).get(rule) or {}
        for cat in ("trivial", "impossible", "in_between"):
            rows.append({"key": f"split.{rule}.{cat}",
                         "quantity": f"{cat.replace('_', '-')} fraction, {rule} rule ({label})",
                         "value": s.get(cat, np.nan), "n": summary.get("n_images"),
                         "note": s.get("note", "")})
        ratio = (summary.get("in_between_vs_independent") or {}).get(rule)
        rows.append({"key": f"split.{rule}.in_between_vs_independent",
                     "quantity": f"in-between fraction / expected for independent decision makers, {rule} rule",
                     "value": np.nan if ratio is None else ratio, "note": s.get("note", "")})
    return rows


def _accuracy_rows(summary: dict) -> list[dict]:
    n = summary.get("n_decision_makers")
    rng = summary.get("accuracy_range") or [np.nan, np.nan]
    note = "distinct decision makers (identical ones merged)" if summary.get("merged") else "distinct decision makers"
    return [{"key": "accuracy.mean", "quantity": "final accuracy, mean", "value": summary.get("mean_accuracy", np.nan),
             "n": n, "note": note},
            {"key": "accuracy.min", "quantity": "final accuracy, minimum", "value": rng[0], "n": n, "note": note},
            {"key": "accuracy.max", "quantity": "final accuracy, maximum", "value": rng[1], "n": n, "note": note},
            {"key": "accuracy.sd", "quantity": "final accuracy, standard deviation (ddof 1)",
             "value": summary.get("accuracy_sd", np.nan), "n": n, "note": note}]


def _change_rows(entries) -> list[dict]:
    per_run, runs = per_run_changes(entries)
    base = next((r for r in runs if r.condition == "base"), None)
    rows = []
    for key, label in (("label_change", "predicted label changes"), ("correctness_flip", "correctness flips")):
        if base is not None:
            d = per_run[(per_run["run"] == base.name) & (per_run["epoch"] < base.epoch)]
            rows.append({"key": f"changes.{key}.base", "quantity": f"{label} per epoch, base run (fraction of images)",
                         "value": d[key].mean() if len(d) else np.nan, "n": len(d),
                         "note": f"mean over the transitions 0 -> 1 .. {base.epoch - 1} -> {base.epoch}"})
        means = [per_run[(per_run["run"] == r.name) & (per_run["epoch"] < r.epoch)][key].mean() for r in runs]
        means = [v for v in means if np.isfinite(v)]
        rows.append({"key": f"changes.{key}.all_runs", "quantity": f"{label} per epoch, mean over runs",
                     "value": float(np.mean(means)) if means else np.nan, "n": len(means),
                     "note": "each run's mean over its transitions up to its final epoch, then the mean over runs"})
    return rows


def _kappa_rows(entries, kappas: pd.DataFrame, *, ci, n_boot, seed, undefined) -> list[dict]:
    if kappas.empty:
        return []
    correct, _ = correct_matrix(entries)
    pos = {e.name: i for i, e in enumerate(entries)}
    unknown = sorted((set(kappas["name"]) | set(kappas["other"])) - set(pos))
    if unknown:
        raise ValueError(f"kappa table names decision makers that are not among the entries: {unknown}")
    pairs = [(pos[a], pos[b]) for a, b in zip(kappas["name"], kappas["other"])]
    res = condition_kappa_ci(correct, pairs, list(kappas["condition"]), ci=ci, n_boot=n_boot, seed=seed,
                             undefined=undefined).set_index("group")
    rows = []
    for cond in condition_order(kappas["condition"], CONDITIONS):
        r = res.loc[cond]
        sub = kappas[(kappas["condition"] == cond) & (kappas["name"] != kappas["other"])]
        ident = int(sub["identical"].astype(str).str.lower().isin(("true", "1")).sum()) if "identical" in sub else 0
        note = []
        if r["n_boot_undefined"]:
            note.append(f"{int(r['n_boot_undefined'])} resamples undefined")
        if ident:
            note.append(f"{int(ident)} of {int(r['n_pairs'])} pairs with identical decisions")
        if not np.isfinite(r["kappa"]):
            note.append("kappa undefined for every pair")
        what = ("the two networks on disjoint halves, with each other" if cond == "different_data"
                else "each half-data network with the base" if cond == "half_data" else "with the base")
        rows.append({"key": f"kappa.{cond}", "quantity": f"mean kappa, {cond.replace('_', ' ')} ({what})",
                     "value": r["kappa"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n": int(r["n_pairs"]),
                     "ci_method": f"{ci:.0%} percentile bootstrap over images, {n_boot} resamples, seed {seed}",
                     "note": "; ".join(note)})
    return rows


def headline_rows(entries, summary: dict, kappas: pd.DataFrame, *, paper: str | None = None, ci: float = 0.95,
                  n_boot: int = 1000, seed: int = 1312, undefined: str = "nan") -> pd.DataFrame:
    """The headline table as a DataFrame (columns :data:`HEADLINE_COLUMNS`; module docstring).

    ``paper``: key of :data:`PAPER` whose published numbers fill the ``paper`` column (None: none).
    """
    entries = as_entries(entries)
    rows = [{"key": "n_decision_makers", "quantity": "distinct decision makers (identical ones merged)",
             "value": summary.get("n_decision_makers", np.nan),
             "note": "; ".join(f"{k} = {', '.join(v)}" for k, v in (summary.get("merged") or {}).items())},
            {"key": "n_images", "quantity": "evaluation images", "value": summary.get("n_images", np.nan)}]
    rows += _split_rows(summary) + _accuracy_rows(summary) + _change_rows(entries)
    rows += _kappa_rows(entries, kappas, ci=ci, n_boot=n_boot, seed=seed, undefined=undefined)
    df = pd.DataFrame(rows).reindex(columns=HEADLINE_COLUMNS)
    if paper is not None:
        if paper not in PAPER:
            raise ValueError(f"unknown paper preset {paper!r}; known: {', '.join(PAPER)}")
        published = PAPER[paper]
        df["paper"] = [published.get(k, (np.nan, ""))[0] for k in df["key"]]
        df["paper_source"] = [published.get(k, (np.nan, ""))[1] for k in df["key"]]
    for col in ("paper_source", "note", "ci_method"):
        df[col] = df[col].astype(object).where(df[col].notna(), "")
    df["n"] = df["n"].astype("Int64")
    return df


def _fmt(key: str, v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)) or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if key.startswith(("split.", "accuracy.", "changes.")) and not key.endswith("vs_independent"):
        return f"{100 * float(v):.1f} %"
    if key.startswith("n_"):
        return f"{int(v):,}"
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


def headline(entries, summary_json, kappa_tsv, *, csv, md, paper: str | None = None, ci: float = 0.95,
             n_boot: int = 1000, seed: int = 1312, undefined: str = "nan") -> pd.DataFrame:
    """Write ``headline.{csv,md}`` of a study; returns the table.

    Parameters
    ----------
    entries : the study's decision makers (``ddd.report.figures.common``).
    summary_json, kappa_tsv : the study's ``summary.json`` and ``kappa_vs_base.tsv``.
    csv, md : output paths.
    paper : key of :data:`PAPER` (e.g. the family ``imagenet-resnet18``) for the paper column;
        None: no paper column values.
    ci, n_boot, seed : bootstrap of the kappa means.
    undefined : kappa of undefined pairs (the study's ``analysis.undefined_kappa``).
    """
    summary = read_summary(summary_json)
    df = headline_rows(entries, summary, read_kappas(kappa_tsv), paper=paper, ci=ci, n_boot=n_boot, seed=seed,
                       undefined=undefined)
    src = f"; paper column: {paper} preset" if paper else ""
    write_headline(df, csv=csv, md=md, title=f"{summary.get('study', '')} headline numbers{src}")
    return df
