"""Figures 13 / 14: example images, an impossible one (top) over a trivial one (bottom).

Choice (the authors: seed 1312, from the bottom or top 1,000 of the family's final-epoch mean
ranking, whose ties made the pick within a level arbitrary): images are ranked by the number of
the study's n distinct decision makers that classify them correctly at the final epoch
(``split.tsv``'s ``n_correct``). The *impossible* candidates are the images no decision maker gets
right (the strict rule's impossible category); if there is none, the ``pool`` (default 1,000)
lowest-ranked images and every image tied with the last of them. The *trivial* candidates are the
images all n get right, or else the top ``pool`` likewise. ``numpy.random.default_rng(seed).choice``
draws ``n_pairs`` images from each candidate list (in evaluation order; impossible first, then
trivial). Each image's class and number right are printed under it, and the row title says
"Hardest" / "Easiest" instead of "Impossible" / "Trivial" where the fallback was used.

Pixels are shown un-normalised, without axes: the Gaussian set is regenerated from the dataset
parameters stored in the decisions file (the image id is the index in the validation split);
ImageNet and ImageFolder images are read from their files (ImageNet resized to 256 and centre
cropped to 224, the evaluation view; other folders as stored); CIFAR-100 from the python-pickle
release or an ImageFolder export. :func:`examples_available` says whether a study's pixels can be
found, so the workflow requests the figure only then.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np

from ddd.report import style as _style
from ddd.report.applicability import _kind, examples_available  # noqa: F401  (re-exported)
from ddd.report.figures.common import (FigureNotApplicable, as_entries, base_entry, dataset_of, load_runs, read_split, read_summary,
                     study_title)

__all__ = ["choose_examples", "load_image", "examples_available", "plot_examples", "figure_13",
           "POOL", "SEED"]

POOL = 1000
SEED = 1312


def _candidates(counts: np.ndarray, pool: int, *, lowest: bool) -> np.ndarray:
    """Indices of the ``pool`` lowest (highest) counts and every image tied with the last of them."""
    if lowest:
        limit = np.sort(counts)[min(pool, counts.size) - 1]
        return np.flatnonzero(counts <= limit)
    limit = np.sort(counts)[::-1][min(pool, counts.size) - 1]
    return np.flatnonzero(counts >= limit)


def choose_examples(n_correct, *, n: int | None = None, pool: int = POOL, n_pairs: int = 1,
                    seed: int = SEED) -> tuple[np.ndarray, np.ndarray, dict]:
    """Seeded choice of impossible and trivial example images (module docstring).

    Parameters
    ----------
    n_correct : int (N,), per image the number of decision makers right at the final epoch.
    n : number of decision makers (default ``max(n_correct)``): ``n_correct == n`` is trivial.
    pool : size of the fallback bottom / top pools (ties with the pool's last image included).
    n_pairs : images drawn from each candidate list (without replacement; fewer if one is smaller).
    seed : seed of ``numpy.random.default_rng``.

    Returns
    -------
    (impossible indices int64 (k,), trivial indices int64 (k,), info) with k = min(n_pairs,
    candidates); ``info``: ``impossible_rule`` / ``trivial_rule`` ("category" or "pool") and the
    numbers of candidates ``n_impossible_candidates``, ``n_trivial_candidates``.
    """
    counts = np.asarray(n_correct)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"n_correct must be a non-empty 1-D array, got shape {counts.shape}")
    if int(pool) != pool or pool < 1 or int(n_pairs) != n_pairs or n_pairs < 1:
        raise ValueError(f"pool and n_pairs must be positive integers, got {pool!r}, {n_pairs!r}")
    n = int(counts.max()) if n is None else int(n)
    low, high = np.flatnonzero(counts == 0), np.flatnonzero(counts == n)
    info = {"impossible_rule": "category", "trivial_rule": "category"}
    if low.size == 0:
        low, info["impossible_rule"] = _candidates(counts, int(pool), lowest=True), "pool"
    if high.size == 0:
        high, info["trivial_rule"] = _candidates(counts, int(pool), lowest=False), "pool"
    info.update(n_impossible_candidates=int(low.size), n_trivial_candidates=int(high.size))
    k = min(int(n_pairs), low.size, high.size)
    rng = np.random.default_rng(seed)
    return (np.sort(rng.choice(low, size=k, replace=False)).astype(np.int64),
            np.sort(rng.choice(high, size=k, replace=False)).astype(np.int64), info)


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


def figure_13(split_tsv, summary_json, entries, *, png, pdf, pool: int = POOL, n_pairs: int = 1,
              seed: int = SEED, base: str = "base") -> None:
    """Write Figure 13 / 14 of a study.

    Parameters
    ----------
    split_tsv : ``split.tsv`` (image_id, target, n_correct): the final-epoch ranking.
    summary_json : ``summary.json`` (``n_decision_makers``, ``study``).
    entries : the study's decision makers; the base decisions file (or the first, without a base)
        gives the dataset (attribute ``dataset``) and the class names.
    png, pdf : output paths.
    pool, n_pairs, seed : the choice (:func:`choose_examples`).

    Raises
    ------
    FigureNotApplicable if the study's pixels cannot be found (:func:`examples_available`).
    """
    entries = as_entries(entries)
    try:
        e = base_entry(entries, base=base)
    except FigureNotApplicable:
        e = entries[0]
    d = load_runs([e.path])[e.path]
    ds = dataset_of(d)
    ok, reason = examples_available(ds)
    if not ok:
        raise FigureNotApplicable(f"example images: {reason}")
    split = read_split(split_tsv)
    counts = split["n_correct"].to_numpy()
    names = d.attrs.get("class_names") or []
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
