"""Un-normalised pixels of one evaluation image, as a person would see it (Figures 13/14 and the
psychophysics stimuli): the Gaussian set regenerated from its parameters; CIFAR-100 (32 px) and
scikit-learn's handwritten digits (8 px) as stored; ImageNet and image folders in the evaluation
view, Resize(256) (shorter side, bilinear) + CenterCrop(224), without the network's normalisation.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["imagenet_view", "eval_image"]


class NoPixelsError(ValueError):
    """The dataset has no images here (imported or pretrained decisions without files, no root)."""


def imagenet_view(image):
    """Resize(256) (shorter side, bilinear) + CenterCrop(224), no normalisation: PIL in, PIL out."""
    from PIL import Image
    w, h = image.size
    s = 256 / min(w, h)
    image = image.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
    w, h = image.size
    left, top = max(0, (w - 224) // 2), max(0, (h - 224) // 2)
    return image.crop((left, top, left + 224, top + 224))


def eval_image(dataset: dict, image_id: str) -> np.ndarray:
    """Pixels of one evaluation image: uint8 (H, W, 3).

    ``dataset``: a study's dataset block (``ddd.config.Config.dataset``) or a decisions file's
    ``dataset`` attribute: ``kind`` (or ``name``) and the Gaussian parameters or ``root``.
    Raises :class:`NoPixelsError` when the dataset has no images here, ``ValueError`` for an id
    the dataset does not have.
    """
    kind = (dataset or {}).get("kind", (dataset or {}).get("name"))
    if kind == "gaussian":
        from ddd.data.gaussian import gaussian_image, gaussian_spec
        return np.ascontiguousarray(np.transpose(gaussian_image(gaussian_spec(dataset), "val", int(image_id)), (1, 2, 0)))
    if kind == "digits":  # scikit-learn's copy, 8 x 8 as stored
        from ddd.data.digits import eval_image as digits_image
        return digits_image(dataset, image_id)
    if kind not in ("imagenet", "imagefolder", "cifar100"):
        raise NoPixelsError(f"no pixels for dataset {kind!r} (imported or pretrained decisions without image files)")
    from PIL import Image

    from ddd.data.folders import cifar100_source, split_dir
    from ddd.data.cifar import load_cifar100_pickle
    root = dataset.get("root")
    if not root:
        raise NoPixelsError(f"the {kind} dataset has no root folder recorded")
    if kind == "cifar100" and cifar100_source(root).kind == "pickle":
        images, _, ids, _ = load_cifar100_pickle(root, "val")
        hit = np.flatnonzero(ids == str(image_id))
        if hit.size != 1:
            raise ValueError(f"image id {image_id!r} is not in the CIFAR-100 test split at {root}")
        return np.ascontiguousarray(np.transpose(images[hit[0]], (1, 2, 0)))
    path = os.path.join(split_dir(kind, root, "val"), str(image_id))
    with Image.open(path) as im:
        im = im.convert("RGB")
        if kind in ("imagenet", "imagefolder"):  # 224-px datasets: the networks' evaluation crop
            im = imagenet_view(im)
        return np.asarray(im, dtype=np.uint8)
