"""Loading: one entry point for every dataset, and fast in-memory batching for small images.

:func:`load_split` returns the batches of one split and its :class:`EvalSet` (targets, image ids,
class names, fingerprint), whatever the dataset: the Gaussian set generated (into memory when it
fits, :data:`MATERIALISE_LIMIT_BYTES`), CIFAR-100's pickle release and scikit-learn's handwritten
digits (:mod:`ddd.data.digits`) in memory, folder datasets through a DataLoader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from ddd.data import KINDS
from ddd.data.gaussian import (ENCODINGS, GaussianSpec, encode, gaussian_image, gaussian_images, gaussian_spec,
                               sigma_of_label)

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


class GaussianNoise(Dataset):
    """The Gaussian-noise dataset as a torch Dataset, generated on the fly.

    Parameters
    ----------
    spec : the dataset's parameters.
    split : ``"train"`` or ``"val"``.
    encoding : see :func:`ddd.data.gaussian.encode`.
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
    config : the dataset's config block: ``kind`` (``"gaussian"``, ``"digits"``, ``"cifar100"``,
        ``"imagenet"`` or ``"imagefolder"``; default ``name``), and its parameters (``root`` for
        local copies).
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
    if kind == "digits":
        return _digits_split(config, split, subset=subset)
    if kind not in ("cifar100", "imagenet", "imagefolder"):
        raise ValueError(f"unknown dataset kind {kind!r}; allowed: {', '.join(KINDS)}")
    from ddd.data import images as img
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
        images = torch.from_numpy(gaussian_images(spec, split, ds.indices))
        batches = InMemoryBatches(images, torch.from_numpy(ds.targets), encoding=encoding,
                                  flip=split == "train")
    else:
        batches = LoaderBatches(ds, num_workers=num_workers, pin_memory=pin_memory)
    return batches, meta


def _digits_split(config: dict, split: str, *, subset):
    """scikit-learn's handwritten digits (:mod:`ddd.data.digits`), in memory; the fingerprint is the
    full split's, with the encoding and augmentation appended."""
    from ddd.data.digits import digits_split, fingerprint
    images, targets, ids, names = digits_split(config, split)
    encoding, augment = config.get("encoding", "unit"), config.get("augment", "shift")
    fp = f"digits-{fingerprint(images, targets, ids)}-{encoding}-{augment}"
    if subset is not None:
        subset = np.asarray(subset, dtype=np.int64)
        if subset.ndim != 1 or (len(subset) and (subset.min() < 0 or subset.max() >= len(targets))):
            raise IndexError(f"subset indices must be a 1-d array in [0, {len(targets)})")
        images, targets, ids = images[subset], targets[subset], ids[subset]
    shift = split == "train" and augment == "shift"
    batches = InMemoryBatches(torch.from_numpy(images), torch.from_numpy(targets), encoding=encoding,
                              flip=False, crop_padding=1 if shift else 0)
    return batches, EvalSet(targets, ids, list(names), fp)


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
    if kind == "digits":
        from ddd.data.digits import split_counts
        if split not in split_counts():
            raise ValueError(f"unknown split {split!r}; allowed: train, val")
        return split_counts(config.get("val_fraction", 0.5))[split]
    if kind not in ("cifar100", "imagenet", "imagefolder"):
        raise ValueError(f"unknown dataset kind {kind!r}; allowed: {', '.join(KINDS)}")
    from ddd.data.images import split_size
    return split_size(kind, config["root"], split)
