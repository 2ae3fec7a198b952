"""The paper's synthetic Gaussian-noise dataset, generated on the fly.

The embedded dataset is the paper's synthetic *Gaussian noise* set (docs/reproduction.md#gaussian-noise): class ``k``
(0-based) holds images whose pixels are i.i.d. ``N(128, sigma_k^2)`` with ``sigma_k = k + 1``,
per pixel and RGB channel, rounded and clipped to uint8. Nothing is stored: every image is
generated from ``(seed, split, index)`` alone, so any image can be regenerated on its own and
two processes always see the same pixels.

Image order is class-major (``label = index // per_class``), as for ImageNet's validation set.
Image ids are the decimal indices (docs/reproduction.md#image-ids).

Importing this module imports no torch (Figure 8 needs only :func:`sigma_of_label`); generating
pixels does (:func:`gaussian_image` draws from torch's generator). The torch Dataset is
:class:`ddd.data.loading.GaussianNoise`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

SPLITS = ("train", "val")
ENCODINGS = ("unit", "standard", "signed_log", "log_abs", "imagenet")


def sigma_of_label(label: int | np.ndarray) -> int | np.ndarray:
    """Standard deviation of class ``label`` (0-based): ``sigma = label + 1``.

    Written out on purpose: the authors' folder names sorted as strings scrambled this mapping.
    """
    return label + 1


def label_of_sigma(sigma: int | np.ndarray) -> int | np.ndarray:
    """Inverse of :func:`sigma_of_label`."""
    return sigma - 1


def _image_seed(seed: int, split: str, index: int) -> int:
    """A 63-bit seed that depends on (seed, split, index) only."""
    digest = hashlib.blake2b(f"ddd-gaussian/{seed}/{split}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def encode(images, encoding: str):
    """Map uint8 pixel values to network input.

    Parameters
    ----------
    images : uint8 or float tensor, any shape, values in [0, 255].
    encoding : ``"unit"`` (x / 255, the authors' ToTensor without normalisation),
        ``"standard"`` ((x - 128) / 64) or ``"signed_log"`` (sign(d) log(1 + |d|) / log(128)
        with d = x - 128, which keeps sigma = 1 and sigma = 100 both visible), ``"log_abs"``
        (log(1 + |d|) / log(128): the same without the sign, which carries nothing about sigma;
        an image's mean is then a statistic of its sigma) or ``"imagenet"``
        (x / 255 normalised with ImageNet's mean and std; images (..., 3, H, W)).

    Returns
    -------
    float32 tensor of the same shape.
    """
    import torch

    x = images.to(torch.float32)
    if encoding == "unit":
        return x / 255.0
    d = x - 128.0
    if encoding == "standard":
        return d / 64.0
    if encoding == "signed_log":
        return torch.sign(d) * torch.log1p(d.abs()) / float(np.log(128.0))
    if encoding == "log_abs":
        return torch.log1p(d.abs()) / float(np.log(128.0))
    if encoding == "imagenet":  # x / 255, then ImageNet mean/std (CIFAR-100, as the paper)
        from ddd.data.images import normalize_imagenet
        return normalize_imagenet(x / 255.0)
    raise ValueError(f"unknown encoding {encoding!r}; allowed: {', '.join(ENCODINGS)}")


@dataclass(frozen=True)
class GaussianSpec:
    """Everything that defines a Gaussian-noise dataset (and so its fingerprint).

    Attributes
    ----------
    n_classes : number of classes; class k has sigma k + 1.
    image_size : height = width in pixels.
    train_per_class, val_per_class : images per class in each split.
    seed : dataset seed (independent of the training seeds).
    """

    n_classes: int = 100
    image_size: int = 224
    train_per_class: int = 20000
    val_per_class: int = 500
    seed: int = 1312

    def __post_init__(self):
        for key in ("n_classes", "image_size", "train_per_class", "val_per_class"):
            value = getattr(self, key)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"gaussian dataset: {key} must be a positive integer, got {value!r}")

    def per_class(self, split: str) -> int:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
        return self.train_per_class if split == "train" else self.val_per_class

    def fingerprint(self) -> str:
        """A short hash of the generator version and every parameter."""
        text = "gaussian-v1/" + "/".join(f"{k}={v}" for k, v in sorted(asdict(self).items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def gaussian_image(spec: GaussianSpec, split: str, index: int) -> np.ndarray:
    """Generate one image.

    Returns
    -------
    uint8 array of shape (3, image_size, image_size).
    """
    return gaussian_images(spec, split, [index])[0]


def gaussian_images(spec: GaussianSpec, split: str, indices) -> np.ndarray:
    """Generate many images: the same pixels as :func:`gaussian_image` of each index (each image has its
    own seeded stream), with one generator re-seeded per image and the arithmetic done once for all
    (about 3x faster for the 105,000 images of the laptop default).

    Parameters
    ----------
    indices : int (K,), each in ``[0, n_classes * per_class(split))``

    Returns
    -------
    uint8 array (K, 3, image_size, image_size)
    """
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    n = spec.n_classes * spec.per_class(split)
    bad = indices[(indices < 0) | (indices >= n)]
    if bad.size:
        raise IndexError(f"index {int(bad[0])} out of range for the {split} split of {n} images")
    import torch  # the generator that made every image so far: its streams define the dataset

    size = spec.image_size
    z = torch.empty((len(indices), 3, size, size), dtype=torch.float32)
    gen = torch.Generator()
    for k, index in enumerate(indices.tolist()):
        gen.manual_seed(_image_seed(spec.seed, split, index))
        torch.randn((3, size, size), generator=gen, dtype=torch.float32, out=z[k])
    sigma = torch.from_numpy(sigma_of_label(indices // spec.per_class(split)).astype(np.float32))
    pixels = torch.round(128.0 + sigma[:, None, None, None] * z).clamp_(0, 255)
    return pixels.to(torch.uint8).numpy()


def ideal_observer_accuracy(spec: GaussianSpec, *, n_samples: int = 2000, seed: int = 0) -> np.ndarray:
    """Per-class accuracy of the maximum-likelihood observer on the sample variance.

    The observer knows the mean (128) and assigns an image to the sigma under which its sample
    variance ``v`` is most likely for unclipped normal pixels (``argmax_s -m/2 log s^2 - m v / 2s^2``,
    m = 3 H W), i.e. it ignores clipping; the images it sees are simulated like the dataset's
    (rounded, clipped to [0, 255]). It is the reference of docs/reproduction.md#the-laptop-default
    (mean accuracy 0.23, 0.34, 0.44 at 8, 16, 32 px). Returns a float array (n_classes,).
    """
    rng = np.random.default_rng(seed)
    m = 3 * spec.image_size ** 2
    sigmas = np.arange(1, spec.n_classes + 1, dtype=float)
    acc = np.empty(spec.n_classes)
    chunk = max(1, 2 ** 22 // m)
    for k, s in enumerate(sigmas):
        right = 0
        for start in range(0, n_samples, chunk):
            n = min(chunk, n_samples - start)
            x = np.clip(np.round(128 + s * rng.standard_normal((n, m), dtype=np.float32)), 0, 255)
            v = np.mean((x - 128.0) ** 2, axis=1)
            loglik = -np.log(sigmas[None, :] ** 2) - v[:, None] / sigmas[None, :] ** 2
            right += int(np.sum(np.argmax(loglik, axis=1) == k))
        acc[k] = right / n_samples
    return acc


def gaussian_spec(config: dict) -> GaussianSpec:
    """A :class:`GaussianSpec` from the ``gaussian`` block of the config (extra keys ignored)."""
    keys = ("n_classes", "image_size", "train_per_class", "val_per_class", "seed")
    return GaussianSpec(**{k: config[k] for k in keys if k in config})
