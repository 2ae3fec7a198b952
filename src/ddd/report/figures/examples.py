"""Figures 13 / 14: example images, an impossible one (top) over a trivial one (bottom).

The choice: :func:`ddd.analysis.examples.choose_examples`. Each image's class (ImageNet-1k: its
name, :func:`ddd.data.imagenet_classes.display_class_names`) and number right are printed under it, and the row title says "Hardest" / "Easiest" instead of "Impossible" / "Trivial"
where the choice fell back to the lowest / highest ranked images.

Pixels are shown un-normalised, without axes: the Gaussian set is regenerated from the dataset
parameters stored in the decisions file (the image id is the index in the validation split);
ImageNet and ImageFolder images are read from their files (ImageNet resized to 256 and centre
cropped to 224, the evaluation view; other folders as stored); CIFAR-100 from the python-pickle
release or an ImageFolder export. :func:`examples_available` says whether a study's pixels can be
found, so the workflow requests the figure only then.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ddd.analysis.examples import POOL, SEED, choose_examples
from ddd.data.imagenet_classes import display_class_names
from ddd.experiment.makers import as_decision_makers, base_maker
from ddd.report import style as _style
from ddd.report.catalog import examples_available
from ddd.report.figures.common import FigureNotApplicable, dataset_of, study_title
from ddd.results.decisions import read_decisions
from ddd.results.study import read_split, read_summary

__all__ = ["load_image", "plot_examples", "figure_13"]


def load_image(dataset: dict, image_id: str) -> np.ndarray:
    """Pixels of one evaluation image, uint8 (H, W, 3), un-normalised (:func:`ddd.data.pixels.eval_image`)."""
    from ddd.data.pixels import NoPixelsError, eval_image
    try:
        return eval_image(dataset, image_id)
    except NoPixelsError as err:
        raise FigureNotApplicable(str(err)) from None


def plot_examples(impossible: list, trivial: list, *, captions_top=None, captions_bottom=None,
                  labels=("Impossible", "Trivial"), title: str | None = None, note: str | None = None):
    """Impossible images in the top row, trivial ones in the bottom row, without axes.

    ``impossible``, ``trivial``: lists of uint8 (H, W, 3) arrays of equal length k >= 1; captions:
    k strings each; labels: the row titles. Returns a Figure with 2 x k axes (row-major).
    """
    k = len(impossible)
    if k == 0 or len(trivial) != k:
        raise ValueError(f"need equally many impossible and trivial images (>= 1), got {k} and {len(trivial)}")
    w, h = _style.SIZES["examples"]
    with _style.style():
        fig, axes = plt.subplots(2, k, figsize=(w * k, h), layout="constrained", squeeze=False)
        for row, (images, caps, label) in enumerate(((impossible, captions_top, labels[0]),
                                                     (trivial, captions_bottom, labels[1]))):
            for j, img in enumerate(images):
                ax = axes[row, j]
                ax.imshow(img, interpolation="nearest" if max(img.shape[:2]) < 64 else "antialiased")
                ax.set_xticks([])
                ax.set_yticks([])
                for s in ax.spines.values():
                    s.set_visible(False)
                ax.set_title(label, fontsize=_style.RC["axes.titlesize"])
                if caps:
                    ax.set_xlabel(caps[j], fontsize=_style.RC["legend.fontsize"])
        if title:
            fig.suptitle(title)
        _style.note(fig, note)
    return fig


def figure_13(split_tsv, summary_json, decision_makers, *, png, pdf, pool: int = POOL, n_pairs: int = 1,
              seed: int = SEED, base: str = "base") -> None:
    """Write Figure 13 / 14 of a study.

    Parameters
    ----------
    split_tsv : ``split.tsv`` (image_id, target, n_correct): the final-epoch ranking.
    summary_json : ``summary.json`` (``n_decision_makers``, ``study``).
    decision_makers : the study's decision makers; the base decisions file (or the first, without a base)
        gives the dataset (attribute ``dataset``) and the class names.
    png, pdf : output paths.
    pool, n_pairs, seed : the choice (:func:`choose_examples`).

    Raises
    ------
    FigureNotApplicable if the study's pixels cannot be found (:func:`examples_available`).
    """
    makers = as_decision_makers(decision_makers)
    e = base_maker(makers, base=base) or makers[0]
    d = read_decisions(e.path, load_probabilities=False)
    ds = dataset_of(d)
    ok, reason = examples_available(ds)
    if not ok:
        raise FigureNotApplicable(f"example images: {reason}")
    split = read_split(split_tsv)
    counts = split["n_correct"].to_numpy()
    names = display_class_names(d.attrs.get("class_names") or [])  # ImageNet-1k: names, not wnids
    summary = read_summary(summary_json)
    n = int(summary.get("n_decision_makers", counts.max()))
    lo, hi, info = choose_examples(counts, n=n, pool=pool, n_pairs=n_pairs, seed=seed)
    labels = ("Impossible" if info["impossible_rule"] == "category" else f"Hardest {pool:,}",
              "Trivial" if info["trivial_rule"] == "category" else f"Easiest {pool:,}")
    notes = [f"No image is {w} for all {n} decision makers: drawn from the {pool:,} {x} ranked images."
             for w, x, r in (("wrong", "lowest", info["impossible_rule"]), ("right", "highest", info["trivial_rule"]))
             if r == "pool"]

    def caption(i):
        t = int(split["target"].iloc[i]) if "target" in split.columns else None
        cls = names[t] if t is not None and t < len(names) else (str(t) if t is not None else "")
        return f"{cls}\n{int(counts[i])} of {n} right"

    ids = split["image_id"].astype(str).to_numpy()
    fig = plot_examples([load_image(ds, ids[i]) for i in lo], [load_image(ds, ids[i]) for i in hi],
                        captions_top=[caption(i) for i in lo], captions_bottom=[caption(i) for i in hi],
                        labels=labels, title=study_title(summary, "example images"), note=" ".join(notes) or None)
    _style.save(fig, png, pdf)
