"""The UCI handwritten digits as scikit-learn ships them: natural images, offline.

scikit-learn's :func:`sklearn.datasets.load_digits` reads ``sklearn/datasets/data/digits.csv.gz``
inside the installed package (nothing is downloaded): 1,797 images of 8 x 8 pixels, each pixel
the number of set bits (0..16) in a 4 x 4 block of a 32 x 32 NIST bitmap, ten classes (the digits
0..9, 174 to 183 images each). ddd turns them into a dataset kind (``kind: digits``):

Split
    Stratified and seeded: for each class (in digit order) a permutation of its images, drawn from
    one ``numpy.random.default_rng(seed)``, sends the first ``round(val_fraction * n_class)``
    (halves rounded up) to the evaluation split and the rest to training. With the defaults
    (``val_fraction`` 0.5, ``seed`` 1312) that is 901 evaluation and 896 training images, 87 to 92
    of each class in each. Both splits are class-major, within a class in ``load_digits`` order.
Image ids
    The image's index in ``load_digits`` order, in decimal (``"0"`` .. ``"1796"``).
Pixels
    A count ``v`` is stored as the uint8 ``round(v * 255 / 16)`` (0 black .. 255 white, invertible),
    the same in the three RGB channels, so every network and figure of ddd takes the images as
    they are. The network input is :func:`ddd.data.gaussian.encode` of those values
    (``encoding``); training augments with random one-pixel shifts (``augment: shift``, zero
    padding, which is the background) or not at all (``none``). No flips: digits are not mirror
    symmetric.
Fingerprint
    :func:`fingerprint`: a hash of the split's image ids, targets and pixels (so of the file and
    of ``seed`` and ``val_fraction``), with the encoding and augmentation appended by the loader.

Planning (:mod:`ddd.config.datasets`) uses :func:`check_params` and :func:`split_counts`, which
import nothing beyond the standard library; numpy is imported by the functions that read data, and
scikit-learn only inside :func:`digits_arrays`. Without scikit-learn the loader raises a
``ModuleNotFoundError`` that says what to install.
"""

from __future__ import annotations

import hashlib
import math
from numbers import Integral, Real

__all__ = ["DIGITS_IMAGES", "CLASS_COUNTS", "IMAGE_SIZE", "ENCODINGS", "AUGMENTS", "check_params", "split_counts",
           "digits_arrays", "stratified_split", "digits_split", "fingerprint", "eval_image"]

#: Images and images per class of scikit-learn's copy (checked when it is read).
DIGITS_IMAGES = 1797
CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
IMAGE_SIZE = 8
MAX_COUNT = 16  # a pixel counts set bits in a 4 x 4 block
ENCODINGS = ("unit", "standard", "imagenet")
AUGMENTS = ("shift", "none")
SPLITS = ("train", "val")
_REQUIREMENT = "scikit-learn==1.9.1"


def check_params(val_fraction, seed, encoding: str = "unit", augment: str = "shift") -> None:
    """Raise ``ValueError`` naming the key when a digits parameter is out of range: every class must
    keep at least one image in each split."""
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, Real):
        raise ValueError(f"digits dataset: val_fraction must be a number, got {val_fraction!r}")
    smallest = min(CLASS_COUNTS)
    low, high = 0.5 / smallest, 1 - 0.5 / smallest
    if not low <= val_fraction < high:
        raise ValueError(f"digits dataset: val_fraction must leave every class images in both splits "
                         f"({low:.4f} <= val_fraction < {high:.4f}; the smallest class has {smallest}), "
                         f"got {val_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"digits dataset: seed must be a non-negative integer, got {seed!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"digits dataset: unknown encoding {encoding!r}; allowed: {', '.join(ENCODINGS)}")
    if augment not in AUGMENTS:
        raise ValueError(f"digits dataset: unknown augment {augment!r}; allowed: {', '.join(AUGMENTS)}")


def _n_val(n: int, val_fraction: float) -> int:
    """Evaluation images of a class of ``n``: ``val_fraction * n`` rounded, halves up."""
    return math.floor(val_fraction * n + 0.5)


def split_counts(val_fraction: float = 0.5) -> dict[str, int]:
    """``{"train": n, "val": n}``: the split sizes, from the class counts alone (no data read)."""
    val = sum(_n_val(n, val_fraction) for n in CLASS_COUNTS)
    return {"train": DIGITS_IMAGES - val, "val": val}


def digits_arrays():
    """scikit-learn's copy of the digits: ``(images uint8 (1797, 8, 8), targets int64 (1797,))``,
    pixels ``round(count * 255 / 16)``.

    Raises ``ModuleNotFoundError`` (``name="sklearn"``) naming what to install when scikit-learn is
    missing, ``ValueError`` when the file is not the 1,797 images of 8 x 8 counts 0..16 it should be.
    """
    import numpy as np

    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ModuleNotFoundError(
            f"the digits dataset (kind: digits) is read from scikit-learn's copy of the UCI handwritten digits, "
            f"and scikit-learn is not importable here ({err}): install it, e.g. `pip install '{_REQUIREMENT}'` "
            f"(a dependency of ddd in pyproject.toml: `pip install -e .`; with --sdm conda add "
            f"`{_REQUIREMENT}` to workflow/envs/torch.yaml)", name="sklearn") from err
    bunch = load_digits()
    counts, targets = np.asarray(bunch.images), np.asarray(bunch.target)
    if counts.shape != (DIGITS_IMAGES, IMAGE_SIZE, IMAGE_SIZE) or targets.shape != (DIGITS_IMAGES,):
        raise ValueError(f"scikit-learn's digits: expected {DIGITS_IMAGES} images of {IMAGE_SIZE}x{IMAGE_SIZE}, got "
                         f"images {counts.shape} and targets {targets.shape}")
    if counts.min() < 0 or counts.max() > MAX_COUNT or not np.array_equal(counts, np.round(counts)):
        raise ValueError(f"scikit-learn's digits: pixels must be whole counts 0..{MAX_COUNT}")
    if tuple(np.bincount(targets.astype(np.int64), minlength=10)) != CLASS_COUNTS:
        raise ValueError(f"scikit-learn's digits: images per class {np.bincount(targets).tolist()}, "
                         f"expected {list(CLASS_COUNTS)}")
    pixels = np.floor(counts * (255.0 / MAX_COUNT) + 0.5).astype(np.uint8)
    return pixels, targets.astype(np.int64)


def stratified_split(targets, val_fraction: float, seed: int) -> dict:
    """``{"train": indices, "val": indices}`` into ``targets``: per class (in label order) a permutation
    from one ``default_rng(seed)``; its first ``round(val_fraction * n)`` go to ``val``. Each split is
    class-major and, within a class, in ascending index order (int64 arrays)."""
    import numpy as np

    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    out = {"train": [], "val": []}
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        perm = rng.permutation(members)
        k = _n_val(len(members), val_fraction)
        out["val"].append(np.sort(perm[:k]))
        out["train"].append(np.sort(perm[k:]))
    return {s: np.concatenate(v).astype(np.int64) for s, v in out.items()}


def digits_split(config: dict, split: str):
    """One split of the configured digits dataset.

    Parameters
    ----------
    config : the dataset block (``val_fraction``, ``seed``; other keys ignored here).
    split : ``"train"`` or ``"val"``.

    Returns
    -------
    ``(images uint8 (N, 3, 8, 8), targets int64 (N,), image ids str (N,), class names)``.
    """
    import numpy as np

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    val_fraction, seed = config.get("val_fraction", 0.5), config.get("seed", 1312)
    check_params(val_fraction, seed, config.get("encoding", "unit"), config.get("augment", "shift"))
    pixels, targets = digits_arrays()
    idx = stratified_split(targets, val_fraction, seed)[split]
    images = np.ascontiguousarray(np.repeat(pixels[idx][:, None], 3, axis=1))
    return images, targets[idx], np.array([str(i) for i in idx]), [str(d) for d in range(10)]


def fingerprint(images, targets, image_ids) -> str:
    """16 hex characters identifying a split: its image ids, targets and pixels (in order)."""
    import numpy as np

    h = hashlib.sha256(b"digits-v1\n")
    h.update("\n".join(map(str, image_ids)).encode() + b"\n")
    h.update(np.ascontiguousarray(targets, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    return h.hexdigest()[:16]


def eval_image(config: dict, image_id: str):
    """Pixels of one evaluation image as a person sees it: uint8 (8, 8, 3)."""
    import numpy as np

    images, _, ids, _ = digits_split(config, "val")
    hit = np.flatnonzero(ids == str(image_id))
    if hit.size != 1:
        raise ValueError(f"image id {str(image_id)!r} is not in the digits evaluation split "
                         f"(val_fraction {config.get('val_fraction', 0.5)}, seed {config.get('seed', 1312)})")
    return np.ascontiguousarray(np.transpose(images[hit[0]], (1, 2, 0)))
