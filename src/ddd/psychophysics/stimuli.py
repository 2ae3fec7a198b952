"""Stimuli of the psychophysical experiment (paper section 3.4; ``docs/reproduction.md#psychophysics``).

Two-alternative forced choice: every trial shows one *trivial* and one *impossible* evaluation
image of a study side by side; the observer says which one is harder for the network.

Choice (:func:`choose_pairs`)
-----------------------------
The candidates are the study's evaluation images in the ``trivial`` and ``impossible`` categories
of ``split.tsv`` (read by :func:`ddd.results.study.read_split`) under one rule (``strict`` by
default: right for all / none of the distinct decision makers; ``all_but_one``: >= n-1 / <= 1),
minus any image listed in a label-issue file (:func:`read_id_list`), in evaluation order.
``numpy.random.default_rng(seed)`` draws, without replacement, ``n_practice + n_pairs`` trivial
images, then as many impossible ones; the i-th trivial and the i-th impossible image form pair i.
The first ``n_practice`` pairs are the practice pairs ``P1 .. Pk`` (shown with feedback), the
others the main pairs ``1 .. n_pairs``. The impossible image's side is drawn by the same generator
as a permutation of a balanced list (within the practice and within the main pairs: half left,
half right, the odd one left), so a side bias cannot make an observer look better or worse than
chance.

Images (:func:`stimulus_image`)
-------------------------------
Un-normalised pixels, as the network saw them before normalisation (:mod:`ddd.data.pixels`):
ImageNet and ImageFolder datasets through their evaluation view (Resize(256) + CenterCrop(224),
bilinear); CIFAR-100 and the Gaussian set as stored. Images smaller than ``display_size`` (224)
are enlarged by the largest integer factor that fits, repeating pixels (nearest neighbour, no
smoothing): 8 px Gaussian images become 224 px blocks of 28 x 28, CIFAR's 32 px become 224. The
page shows every image at its pixel size with ``image-rendering: pixelated``. Files are PNGs named
after the pair and side (``images/<pair>-L.png``), so their names say nothing about the answer.

Site
----
:func:`write_stimuli` writes the images, then the site around them
(:func:`ddd.psychophysics.site.write_site`: ``manifest.csv``, ``trials.js`` and the page), which
owns the site's files.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ddd.data.pixels import NoPixelsError, eval_image
from ddd.psychophysics.site import DISPLAY_SIZE, MANIFEST_COLUMNS, check_timing, write_site
from ddd.results.study import read_split

__all__ = ["RULES", "choose_pairs", "read_id_list", "stimulus_image", "enlarge", "write_images",
           "write_stimuli"]

RULES = ("strict", "all_but_one")


def read_id_list(path) -> list[str]:
    """Image ids listed in a text file, one per line (blank lines and ``#`` comments ignored).

    Used for label-issue lists (and any other images to keep out of the experiment, e.g. the
    authors removed images showing people). Ids are compared as strings with ``split.tsv``'s
    ``image_id`` (ImageNet: ``<wnid>/<file>.JPEG``; Gaussian: the decimal index).
    """
    ids = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                ids.append(line)
    return ids


def _balanced_sides(rng: np.random.Generator, n: int) -> np.ndarray:
    sides = np.array(["left"] * ((n + 1) // 2) + ["right"] * (n // 2), dtype=object)
    return rng.permutation(sides) if n else sides


def choose_pairs(image_ids, categories, *, n_pairs: int = 149, n_practice: int = 5, seed: int = 0,
                 exclude=(), rule: str = "strict") -> pd.DataFrame:
    """Seeded pairs of one trivial and one impossible image (module docstring).

    Parameters
    ----------
    image_ids : str (N,), the evaluation images (unique).
    categories : str (N,), each image's category under ``rule`` (``trivial``, ``impossible``,
        ``in_between``).
    n_pairs : main pairs (>= 1); n_practice : practice pairs (>= 0).
    seed : seed of ``numpy.random.default_rng``.
    exclude : image ids never to show (label issues); ids not among ``image_ids`` are ignored.
    rule : only named in the error message when there are too few candidates.

    Returns
    -------
    DataFrame with :data:`MANIFEST_COLUMNS` except the image file columns: one row per pair,
    practice pairs ``P1..Pk`` first, then ``1..n_pairs``; ``practice`` bool.

    Raises
    ------
    ValueError if there are fewer than ``n_pairs + n_practice`` candidates in either category.
    """
    ids = np.asarray(image_ids).astype(str)
    cats = np.asarray(categories).astype(str)
    if ids.ndim != 1 or ids.shape != cats.shape or ids.size == 0:
        raise ValueError(f"image_ids and categories must be non-empty 1-D arrays of equal length, got "
                         f"{ids.shape} and {cats.shape}")
    if len(set(ids.tolist())) != ids.size:
        raise ValueError("image_ids are not unique")
    for name, value, low in (("n_pairs", n_pairs, 1), ("n_practice", n_practice, 0)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    n_pairs, n_practice = int(n_pairs), int(n_practice)
    excluded = np.isin(ids, np.asarray(list(exclude), dtype=str)) if len(exclude) else np.zeros(ids.size, bool)
    trivial = ids[(cats == "trivial") & ~excluded]
    impossible = ids[(cats == "impossible") & ~excluded]
    need = n_pairs + n_practice
    if trivial.size < need or impossible.size < need:
        raise ValueError(
            f"{need} pairs ({n_pairs} + {n_practice} practice) need {need} trivial and {need} impossible images, "
            f"but the {rule!r} split has {trivial.size} trivial and {impossible.size} impossible ones"
            f"{f' after excluding {int(excluded.sum())} listed images' if excluded.any() else ''}: lower "
            f"psychophysics.pairs / practice"
            f"{', or use rule all_but_one' if rule == 'strict' else ''}")
    rng = np.random.default_rng(seed)
    t = rng.choice(trivial, size=need, replace=False)
    i = rng.choice(impossible, size=need, replace=False)
    sides = np.concatenate([_balanced_sides(rng, n_practice), _balanced_sides(rng, n_pairs)])
    left = np.where(sides == "left", i, t)
    right = np.where(sides == "left", t, i)
    pairs = [f"P{k + 1}" for k in range(n_practice)] + [str(k + 1) for k in range(n_pairs)]
    return pd.DataFrame({"pair": pairs, "practice": [k < n_practice for k in range(need)],
                         "left_id": left, "right_id": right, "impossible_side": sides.astype(str),
                         "trivial_id": t, "impossible_id": i})


def enlarge(image: np.ndarray, *, display_size: int = DISPLAY_SIZE) -> np.ndarray:
    """Enlarge a small image by the largest integer factor ``f`` with ``f * max(H, W) <= display_size``,
    repeating pixels (no smoothing); images at least that large are returned unchanged.

    uint8 (H, W, 3) -> uint8 (f H, f W, 3).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    f = display_size // max(image.shape[:2])
    if f <= 1:
        return image
    return np.repeat(np.repeat(image, f, axis=0), f, axis=1)


def stimulus_image(dataset: dict, image_id: str, *, display_size: int = DISPLAY_SIZE) -> np.ndarray:
    """Un-normalised pixels of one evaluation image as shown in the experiment: uint8 (H, W, 3).

    ``dataset``: the study's dataset block (``ddd.config.Config.dataset``: ``kind``, and the
    Gaussian parameters or ``root``). See the module docstring for the views and the enlargement.
    """
    try:
        pixels = eval_image(dataset, image_id)
    except NoPixelsError as err:
        raise ValueError(f"{err}: the experiment needs a dataset with images "
                         "(gaussian, imagenet, cifar100 or an imagefolder)") from None
    return enlarge(np.ascontiguousarray(pixels), display_size=display_size)


def write_images(out_dir, manifest: pd.DataFrame, dataset: dict, *, display_size: int = DISPLAY_SIZE) -> None:
    """Write every pair's two images to ``out_dir/images/<pair>-{L,R}.png`` (:func:`stimulus_image`)
    and add their paths relative to ``out_dir`` to ``manifest`` as ``left_image`` / ``right_image``."""
    from PIL import Image
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    for side, tag in (("left", "L"), ("right", "R")):
        files = []
        for pair, image_id in zip(manifest["pair"], manifest[f"{side}_id"]):
            rel = f"images/{pair}-{tag}.png"
            Image.fromarray(stimulus_image(dataset, image_id, display_size=display_size)).save(
                os.path.join(out_dir, rel), format="PNG")
            files.append(rel)
        manifest[f"{side}_image"] = files


def write_stimuli(split_tsv, dataset: dict, out_dir, *, study: str, rule: str = "strict", n_pairs: int = 149,
                  n_practice: int = 5, seed: int = 0, label_issues=None, breaks_every: int = 50,
                  shuffle: bool = True, display_size: int = DISPLAY_SIZE, timing: dict | None = None) -> pd.DataFrame:
    """Choose the pairs of a study, write their images and the experiment site into ``out_dir``.

    Parameters
    ----------
    split_tsv : the study's ``split.tsv`` (``image_id`` and one category column per rule).
    dataset : the study's dataset block (:func:`stimulus_image`).
    out_dir : the site folder (``results/<study>/psychophysics``); images go to ``out_dir/images``.
    study, rule, n_pairs, n_practice, seed : :func:`choose_pairs`.
    label_issues : optional path of an id list (:func:`read_id_list`) of images to exclude.
    breaks_every, shuffle, display_size, timing : :func:`ddd.psychophysics.site.write_site`.

    Returns
    -------
    The manifest (one row per pair, :data:`MANIFEST_COLUMNS`).
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}")
    check_timing(timing)  # before any image is written
    if isinstance(display_size, bool) or int(display_size) != display_size or display_size < 16:
        raise ValueError(f"display_size must be an integer >= 16, got {display_size!r}")
    split = read_split(split_tsv)
    if rule not in split.columns:
        raise ValueError(f"{split_tsv} has no {rule!r} column (too few decision makers for that rule?); "
                         f"columns: {', '.join(split.columns)}")
    exclude = read_id_list(label_issues) if label_issues else []
    manifest = choose_pairs(split["image_id"].to_numpy(), split[rule].to_numpy(), n_pairs=n_pairs,
                            n_practice=n_practice, seed=seed, exclude=exclude, rule=rule)
    write_images(out_dir, manifest, dataset, display_size=display_size)
    n_excluded = len(set(exclude) & set(split["image_id"]))
    write_site(out_dir, manifest, study=study, breaks_every=breaks_every, shuffle=shuffle,
               display_size=display_size, timing=timing,
               info={"rule": rule, "seed": int(seed), "label_issues_excluded": n_excluded})
    return manifest.loc[:, list(MANIFEST_COLUMNS)]
