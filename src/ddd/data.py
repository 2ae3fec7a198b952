"""Evaluation and training datasets.

The embedded dataset is the paper's synthetic *Gaussian noise* set (SPEC section 2): class ``k``
(0-based) holds images whose pixels are i.i.d. ``N(128, sigma_k^2)`` with ``sigma_k = k + 1``,
per pixel and RGB channel, rounded and clipped to uint8. Nothing is stored: every image is
generated from ``(seed, split, index)`` alone, so any image can be regenerated on its own and
two processes always see the same pixels.

Image order is class-major (``label = index // per_class``), as for ImageNet's validation set.
Image ids are the decimal indices (SPEC: "the index for generated data").
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

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


def encode(images: torch.Tensor, encoding: str) -> torch.Tensor:
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
        from .imagedata import normalize_imagenet
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
    n = spec.n_classes * spec.per_class(split)
    if not 0 <= index < n:
        raise IndexError(f"index {index} out of range for the {split} split of {n} images")
    label = index // spec.per_class(split)
    gen = torch.Generator().manual_seed(_image_seed(spec.seed, split, index))
    z = torch.randn((3, spec.image_size, spec.image_size), generator=gen, dtype=torch.float32)
    pixels = torch.round(128.0 + float(sigma_of_label(label)) * z).clamp_(0, 255)
    return pixels.to(torch.uint8).numpy()


class GaussianNoise(Dataset):
    """The Gaussian-noise dataset as a torch Dataset, generated on the fly.

    Parameters
    ----------
    spec : the dataset's parameters.
    split : ``"train"`` or ``"val"``.
    encoding : see :func:`encode`.
    transform : optional callable applied to the encoded (3, H, W) float tensor.
    subset : optional array of indices into the split (e.g. one half for "different data").

    Items are ``(image, label)`` with image a float32 tensor (3, H, W) and label an int.
    """

    def __init__(self, spec: GaussianSpec, split: str, *, encoding: str = "unit",
                 transform=None, subset: np.ndarray | None = None):
        spec.per_class(split)  # validates split
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; allowed: {', '.join(ENCODINGS)}")
        self.spec, self.split, self.encoding, self.transform = spec, split, encoding, transform
        n = spec.n_classes * spec.per_class(split)
        self.indices = np.arange(n) if subset is None else np.asarray(subset, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = int(self.indices[i])
        x = encode(torch.from_numpy(gaussian_image(self.spec, self.split, index)), self.encoding)
        if self.transform is not None:
            x = self.transform(x)
        return x, index // self.spec.per_class(self.split)

    @property
    def targets(self) -> np.ndarray:
        """int64 array (len,) of labels."""
        return (self.indices // self.spec.per_class(self.split)).astype(np.int64)

    @property
    def image_ids(self) -> np.ndarray:
        """str array (len,) of image ids (the decimal index within the split)."""
        return np.array([str(i) for i in self.indices])

    @property
    def class_names(self) -> list[str]:
        return [f"sigma={sigma_of_label(k)}" for k in range(self.spec.n_classes)]


def ideal_observer_accuracy(spec: GaussianSpec, *, n_samples: int = 2000, seed: int = 0) -> np.ndarray:
    """Per-class accuracy of the maximum-likelihood observer on the sample variance.

    The observer knows the mean (128) and assigns an image to the sigma under which its sample
    variance ``v`` is most likely for unclipped normal pixels (``argmax_s -m/2 log s^2 - m v / 2s^2``,
    m = 3 H W), i.e. it ignores clipping; the images it sees are simulated like the dataset's
    (rounded, clipped to [0, 255]). This is SPEC section 7's reference (mean accuracy 0.23, 0.34,
    0.44 at 8, 16, 32 px). Returns a float array (n_classes,).
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


# ---------------------------------------------------------------------------------------------
# Loading: one entry point for every dataset, and fast in-memory batching for small images.

GAUSSIAN_TRANSFORMS = ("small", "paper")
MATERIALISE_LIMIT_BYTES = 4 * 2 ** 30  # generate small datasets once into memory (uint8)


@dataclass
class EvalSet:
    """What every consumer of an evaluation split needs besides the pixels.

    Attributes
    ----------
    targets : int64 (N,); image_ids : str (N,); class_names : list of C names;
    fingerprint : str identifying the data and its version.
    """
    targets: np.ndarray
    image_ids: np.ndarray
    class_names: list
    fingerprint: str


def gaussian_spec(config: dict) -> GaussianSpec:
    """A :class:`GaussianSpec` from the ``gaussian`` block of the config (extra keys ignored)."""
    keys = ("n_classes", "image_size", "train_per_class", "val_per_class", "seed")
    return GaussianSpec(**{k: config[k] for k in keys if k in config})


class InMemoryBatches:
    """Batches of a split held in memory as uint8, with vectorised augmentation.

    Parameters
    ----------
    images : uint8 tensor (N, 3, H, W); targets : int64 tensor (N,).
    encoding : see :func:`encode`.
    flip : random horizontal flips (train).
    crop_padding : random crops of the original size from the image zero-padded by this many
        pixels on each side (CIFAR's ``RandomCrop(32, padding=4)``); 0: none.

    ``epoch(batch_size, generator, shuffle)`` yields ``(x float32 (B, 3, H, W), y int64 (B,))``;
    the generator fixes both the order and the augmentation.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, *, encoding: str, flip: bool,
                 crop_padding: int = 0):
        self.images, self.targets, self.encoding, self.flip = images, targets, encoding, flip
        self.crop_padding = crop_padding

    def _crop(self, images: torch.Tensor, generator) -> torch.Tensor:
        b, _, h, w = images.shape
        p = self.crop_padding
        padded = torch.nn.functional.pad(images, (p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (b,), generator=generator)
        ox = torch.randint(0, 2 * p + 1, (b,), generator=generator)
        rows = (oy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w))[:, None, None, :]
        return padded[torch.arange(b)[:, None, None, None], torch.arange(3)[None, :, None, None], rows, cols]

    def __len__(self) -> int:
        return len(self.targets)

    def epoch(self, batch_size: int, *, generator: torch.Generator | None = None, shuffle: bool = True):
        n = len(self.targets)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            images = self.images[idx]
            if self.crop_padding:
                images = self._crop(images, generator)
            x = encode(images, self.encoding)
            if self.flip:
                flip = torch.rand(len(idx), generator=generator) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            yield x, self.targets[idx]


class LoaderBatches:
    """Batches through a torch DataLoader (large or on-the-fly datasets); same interface."""

    def __init__(self, dataset, *, num_workers: int = 0, pin_memory: bool = False):
        self.dataset, self.num_workers, self.pin_memory = dataset, num_workers, pin_memory

    def __len__(self) -> int:
        return len(self.dataset)

    def epoch(self, batch_size: int, *, generator: torch.Generator | None = None, shuffle: bool = True):
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
            num_workers=self.num_workers, pin_memory=self.pin_memory,
            persistent_workers=False)
        yield from loader


def _paper_transform(*, train: bool):
    """The authors' Gaussian transforms: RandomResizedCrop(224) (+ flip for training)."""
    from torchvision.transforms import v2
    steps = [v2.RandomResizedCrop(224, antialias=True)]
    if train:
        steps.append(v2.RandomHorizontalFlip())
    return v2.Compose(steps)


def load_split(config: dict, split: str, *, subset: np.ndarray | None = None, num_workers: int = 0,
               pin_memory: bool = False):
    """Batches and metadata of one split of the configured dataset.

    Parameters
    ----------
    config : the dataset's config block: ``kind`` (``"gaussian"``, ``"cifar100"``, ``"imagenet"``
        or ``"imagefolder"``; default ``name``), and its parameters (``root`` for local copies).
    split : ``"train"`` or ``"val"``.
    subset : optional indices into the split (training on half the data).
    num_workers, pin_memory : DataLoader settings for datasets read from files.

    Returns
    -------
    (batches, EvalSet) where batches has ``epoch(batch_size, generator=, shuffle=)``.
    """
    kind = config.get("kind", config.get("name"))
    if kind == "gaussian":
        return _gaussian_split(config, split, subset=subset, num_workers=num_workers, pin_memory=pin_memory)
    if kind not in ("cifar100", "imagenet", "imagefolder"):
        raise ValueError(f"unknown dataset kind {kind!r}; allowed: gaussian, cifar100, imagenet, imagefolder")
    from . import imagedata as img
    root, train = config["root"], split == "train"
    fp = f"{kind}-{img.fingerprint(kind, root, split)}"
    if kind == "cifar100" and img.cifar100_source(root).kind == "pickle":
        images, targets, ids, names = img.load_cifar100_pickle(root, split)
        if subset is not None:
            images, targets, ids = images[subset], targets[subset], ids[subset]
        batches = InMemoryBatches(torch.from_numpy(images), torch.from_numpy(targets), encoding="imagenet",
                                  flip=train, crop_padding=4 if train else 0)
        return batches, EvalSet(targets, ids, list(names), fp)
    transform = (img.cifar_transform if kind == "cifar100" else img.imagenet_transform)(train=train)
    ds = img.ImageFolderSplit(root, split, transform=transform, subset=subset, name=kind)
    return (LoaderBatches(ds, num_workers=num_workers, pin_memory=pin_memory),
            EvalSet(np.asarray(ds.targets), np.asarray(ds.image_ids), list(ds.class_names), fp))


def _gaussian_split(config: dict, split: str, *, subset, num_workers: int, pin_memory: bool):
    spec = gaussian_spec(config)
    transforms = config.get("transforms", "small")
    if transforms not in GAUSSIAN_TRANSFORMS:
        raise ValueError(f"gaussian.transforms must be one of {GAUSSIAN_TRANSFORMS}, got {transforms!r}")
    encoding = config.get("encoding", "unit")
    ds = GaussianNoise(spec, split, encoding=encoding, subset=subset,
                       transform=_paper_transform(train=split == "train") if transforms == "paper" else None)
    meta = EvalSet(ds.targets, ds.image_ids, ds.class_names,
                   f"{spec.fingerprint()}-{encoding}-{transforms}")
    if transforms == "small" and len(ds) * 3 * spec.image_size ** 2 <= MATERIALISE_LIMIT_BYTES:
        images = torch.from_numpy(np.stack([gaussian_image(spec, split, int(i)) for i in ds.indices]))
        batches = InMemoryBatches(images, torch.from_numpy(ds.targets), encoding=encoding,
                                  flip=split == "train")
    else:
        batches = LoaderBatches(ds, num_workers=num_workers, pin_memory=pin_memory)
    return batches, meta


def half_split(n: int, half: int, *, seed: int = 1312) -> np.ndarray:
    """Indices of one of two disjoint random halves of ``range(n)`` (``half`` in {1, 2}), sorted."""
    if half not in (1, 2):
        raise ValueError(f"half must be 1 or 2, got {half}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2] if half == 1 else perm[n // 2:])


def dataset_size(config: dict, split: str) -> int:
    """Number of images in a split of the configured dataset (no image is read)."""
    kind = config.get("kind", config.get("name"))
    if kind == "gaussian":
        spec = gaussian_spec(config)
        return spec.n_classes * spec.per_class(split)
    if kind not in ("cifar100", "imagenet", "imagefolder"):
        raise ValueError(f"unknown dataset kind {kind!r}; allowed: gaussian, cifar100, imagenet, imagefolder")
    from .imagedata import split_size
    return split_size(kind, config["root"], split)
