"""Each image's story, drawn from ``images.tsv`` (:mod:`ddd.analysis.images`); not in the paper.

- :func:`figure_data_map`: a data map (Swayamdipta et al. 2020, with correctness in place of
  confidence): mean correctness over networks × epochs against its spread over networks, one dot
  per image, coloured by the all-but-one category. Above :data:`MAX_DOTS` images a seeded uniform
  sample of that many is drawn (the note says so).
- :func:`figure_learning_order`: the epoch from which the networks stay right (median over those
  that learn the image) against the final number of decision makers right.
- :func:`figure_difficulty`: the distribution of the Rasch difficulty, coloured by category, with
  the split's thresholds where the categories meet and the images with no finite difficulty counted.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ddd.report import style as _style
from ddd.report.catalog import FigureNotApplicable
from ddd.results.images import read_images
from ddd.results.study import read_summary

__all__ = ["figure_data_map", "figure_learning_order", "figure_difficulty", "MAX_DOTS", "CATEGORY_COLORS"]

MAX_DOTS = 5000
SEED = 1312
CATEGORY_ORDER = ("trivial", "in_between", "impossible")
CATEGORY_COLORS = {"trivial": "#2ca02c", "in_between": "#1f77b4", "impossible": "#d62728"}
_LABELS = {"trivial": "trivial", "in_between": "in-between", "impossible": "impossible"}


def _rule(images: pd.DataFrame) -> str:
    for rule in ("all_but_one", "strict"):
        if rule in images and images[rule].astype(str).isin(CATEGORY_ORDER).any():
            return rule
    raise FigureNotApplicable("images.tsv has no split categories (too few decision makers for either rule)")


def _title(summary_json, what: str) -> str:
    study = read_summary(summary_json).get("study", "") if summary_json else ""
    return (f"{study}: " if study else "") + what


def _legend(ax, rule: str) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, [_LABELS.get(lab, lab) for lab in labels], title=f"{rule.replace('_', '-')} rule",
                  loc="best", frameon=False)


def figure_data_map(images_tsv, summary_json, *, png, pdf) -> None:
    """Data map: ``mean_correct_epochs`` (y) against ``sd_over_networks`` (x), one dot per image."""
    images = read_images(images_tsv)
    rule = _rule(images)
    df = images.dropna(subset=["mean_correct_epochs", "sd_over_networks"])
    if df.empty:
        raise FigureNotApplicable("no learning dynamics (one evaluation per decision maker)")
    note = f"all {len(df):,} images"
    if len(df) > MAX_DOTS:
        df = df.sample(n=MAX_DOTS, random_state=SEED)
        note = f"a uniform sample of {MAX_DOTS:,} of {len(images):,} images (seed {SEED})"
    with _style.style():
        fig, ax = plt.subplots(figsize=(7.0, 5.5), layout="constrained")
        sns.scatterplot(data=df, x="sd_over_networks", y="mean_correct_epochs", hue=rule,
                        hue_order=[c for c in CATEGORY_ORDER if c in set(df[rule])], palette=CATEGORY_COLORS,
                        s=12, alpha=0.6, linewidth=0, ax=ax, gid="data_map_images")
        ax.set_xlabel("spread over networks (sd of each network's mean correctness over epochs)")
        ax.set_ylabel("mean correctness over networks × epochs")
        ax.set_ylim(-0.03, 1.03)
        _legend(ax, rule)
        ax.set_title(_title(summary_json, "data map"))
        _style.note(fig, f"One dot per image ({note}); epochs 1 to each network's last evaluation.")
    _style.save(fig, png, pdf)


def figure_learning_order(images_tsv, summary_json, *, png, pdf) -> None:
    """First epoch from which the networks stay right (median over networks) by final number right."""
    images = read_images(images_tsv)
    rule = _rule(images)
    df = images.dropna(subset=["first_learned_median"])
    if images["first_learned_median"].isna().all():
        raise FigureNotApplicable("no learning dynamics (one evaluation per decision maker, or no image is learned)")
    never = int(images["first_learned_median"].isna().sum())
    with _style.style():
        fig, ax = plt.subplots(figsize=(8.0, 5.0), layout="constrained")
        order = sorted(df["n_correct"].unique())
        sns.boxplot(data=df, x="n_correct", y="first_learned_median", order=order, color="0.85", fliersize=0,
                    ax=ax, linewidth=0.8)
        sample = df if len(df) <= MAX_DOTS else df.sample(n=MAX_DOTS, random_state=SEED)
        sns.stripplot(data=sample, x="n_correct", y="first_learned_median", order=order, hue=rule,
                      hue_order=[c for c in CATEGORY_ORDER if c in set(sample[rule])], palette=CATEGORY_COLORS,
                      size=2.5, alpha=0.5, jitter=0.3, ax=ax)
        ax.set_xlabel("decision makers right at the final epoch")
        ax.set_ylabel("epoch from which networks stay right (median)")
        _legend(ax, rule)
        ax.set_title(_title(summary_json, "learning order"))
        dots = "every image" if len(sample) == len(df) else f"a uniform sample of {MAX_DOTS:,} (seed {SEED})"
        _style.note(fig, f"Boxes: quartiles over images; dots: {dots}. {never:,} images no network learns "
                    "are not shown.")
    _style.save(fig, png, pdf)


def figure_difficulty(images_tsv, summary_json, *, png, pdf) -> None:
    """Distribution of the Rasch difficulty by category, with the split's thresholds."""
    images = read_images(images_tsv)
    rule = _rule(images)
    fitted = images[images["irt_status"] == "fitted"]
    counts = images["irt_status"].value_counts().to_dict()
    if fitted.empty:
        raise FigureNotApplicable(f"no image has a fitted difficulty (statuses: {counts})")
    with _style.style():
        fig, ax = plt.subplots(figsize=(7.5, 5.0), layout="constrained")
        sns.histplot(data=fitted, x="irt_difficulty", hue=rule,
                     hue_order=[c for c in CATEGORY_ORDER if c in set(fitted[rule])], palette=CATEGORY_COLORS,
                     bins=40, multiple="stack", linewidth=0, ax=ax)
        for lo, hi in (("trivial", "in_between"), ("in_between", "impossible")):
            a, b = fitted.loc[fitted[rule] == lo, "irt_difficulty"], fitted.loc[fitted[rule] == hi, "irt_difficulty"]
            if len(a) and len(b):
                x = (a.max() + b.min()) / 2
                ax.axvline(x, color="0.2", linestyle="--", linewidth=1, gid="difficulty_threshold")
                ax.text(x, 1.0, f" {_LABELS[lo]} | {_LABELS[hi]}", transform=ax.get_xaxis_transform(),
                        ha="center", va="bottom", fontsize=9, color="0.2")
        ax.set_xlabel("Rasch difficulty (logits; higher is harder)")
        ax.set_ylabel("images")
        legend = ax.get_legend()
        if legend is not None:
            legend.set_title(f"{rule.replace('_', '-')} rule")
            for text in legend.get_texts():
                text.set_text(_LABELS.get(text.get_text(), text.get_text()))
        ax.set_title(_title(summary_json, "item difficulty (IRT)"), pad=18)
        _style.note(fig, f"Rasch model fitted with girth on final correctness; not drawn: "
                    f"{counts.get('all_right', 0):,} images right for all and {counts.get('none_right', 0):,} "
                    f"right for none (no finite difficulty), {counts.get('at_bound', 0):,} at girth's bound, "
                    f"{counts.get('not_fitted', 0):,} not fitted. Dashed: where the categories meet.")
    _style.save(fig, png, pdf)
