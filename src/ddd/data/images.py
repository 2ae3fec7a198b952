"""Folder datasets as torch Datasets, the paper's transforms, split sizes and fingerprints.

Layouts, order and image ids: :mod:`ddd.data.folders`; the CIFAR-100 pickle release:
:mod:`ddd.data.cifar`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ddd.data import IMAGENET_MEAN, IMAGENET_STD
from ddd.data.cifar import load_cifar100_pickle
from ddd.data.folders import (CIFAR_PICKLE_FILES, DatasetFormatError, _check_name, _check_split, _check_split_dir,
                      _layout_error, _list_class, cifar100_source, split_dir)


def _load_rgb(path: str):
    from PIL import Image, UnidentifiedImageError
    try:
        with open(path, "rb") as f:
            image = Image.open(f)
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise DatasetFormatError(f"cannot read image {path}: {e}") from e


def _pil_to_uint8(image) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1).contiguous()


class ImageFolderSplit(Dataset):
    """One split of a folder dataset (ImageNet, ``imagefolder``, CIFAR-100 ImageFolder export).

    Parameters
    ----------
    root : the dataset folder (holding ``train/`` and ``val/``; CIFAR-100: ``test/`` or ``val/``).
    split : ``"train"`` or ``"val"``.
    transform : optional callable applied to the RGB PIL image (e.g. :func:`imagenet_transform`).
    subset : optional int array of indices into the split (e.g. one half for "different data").
    name : ``"imagenet"``, ``"imagefolder"`` or ``"cifar100"``: the layout shown in errors and,
        for CIFAR-100, the evaluation folder's name.

    Items are ``(image, label)``: the transform's output, or without a transform a uint8 tensor
    (3, H, W); label an int. Listing the files happens once, here (ImageNet's train split: a few
    seconds). Paths are kept in a numpy bytes array, which DataLoader workers share without
    copy-on-write growth.

    Raises
    ------
    DatasetLayoutError if the split folder is missing, has no class folders or an empty one.
    """

    def __init__(self, root: str | os.PathLike, split: str, *, transform=None,
                 subset: np.ndarray | None = None, name: str = "imagefolder"):
        _check_name(name)
        _check_split(split)
        self.root, self.split, self.name, self.transform = Path(root), split, name, transform
        if name == "cifar100" and cifar100_source(root).kind == "pickle":
            raise ValueError(f"{root} holds the CIFAR-100 python-pickle release, not an ImageFolder "
                             "export: read it with load_cifar100_pickle")
        self.directory = split_dir(name, root, split)
        self.class_names = _check_split_dir(name, self.root, self.directory, config_key=None)
        rel, targets = [], []
        for label, c in enumerate(self.class_names):
            files = _list_class(os.path.join(self.directory, c), c)
            rel.extend(files)
            targets.extend([label] * len(files))
        self._relpaths = np.array([os.fsencode(p) for p in rel], dtype=np.bytes_)
        self._targets = np.asarray(targets, dtype=np.int64)
        n = len(self._targets)
        if subset is None:
            self.indices = np.arange(n, dtype=np.int64)
        else:
            self.indices = np.asarray(subset, dtype=np.int64)
            if self.indices.ndim != 1 or (len(self.indices) and
                                          (self.indices.min() < 0 or self.indices.max() >= n)):
                raise IndexError(f"subset indices must be a 1-d array in [0, {n})")

    def __len__(self) -> int:
        return len(self.indices)

    def path(self, i: int) -> str:
        """Absolute path of item ``i``."""
        return os.path.join(self.directory, os.fsdecode(self._relpaths[self.indices[i]]))

    def __getitem__(self, i: int):
        index = int(self.indices[i])
        image = _load_rgb(os.path.join(self.directory, os.fsdecode(self._relpaths[index])))
        x = _pil_to_uint8(image) if self.transform is None else self.transform(image)
        return x, int(self._targets[index])

    @property
    def targets(self) -> np.ndarray:
        """int64 array (len,) of labels."""
        return self._targets[self.indices]

    @property
    def image_ids(self) -> np.ndarray:
        """str array (len,) of image ids: paths relative to the split folder, forward slashes."""
        return np.array([os.fsdecode(p) for p in self._relpaths[self.indices]], dtype=str)

    def fingerprint(self) -> str:
        """Hash of the full split's relative paths and file sizes (see :func:`fingerprint`)."""
        h = hashlib.sha256(b"folder-v1\n")
        for rel in self._relpaths:
            size = os.stat(os.path.join(self.directory, os.fsdecode(rel))).st_size
            h.update(rel + b"\t" + str(size).encode() + b"\n")
        return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Transforms (docs/reproduction.md#datasets).


def normalize_imagenet(x: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std normalisation.

    Parameters
    ----------
    x : float tensor (..., 3, H, W) with values in [0, 1].

    Returns
    -------
    float tensor of the same shape, dtype and device: ``(x - mean) / std`` per channel.
    """
    if not torch.is_floating_point(x) or x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"expected a float tensor (..., 3, H, W), got {x.dtype} {tuple(x.shape)}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - mean) / std


class ImageTransform:
    """Geometric steps (on a PIL image or uint8 tensor), then float32 in [0, 1], then ImageNet
    normalisation. Calling it returns a float32 tensor (3, H, W). Picklable (DataLoader workers)."""

    def __init__(self, steps: list):
        from torchvision.transforms import v2
        self.steps = v2.Compose(steps) if steps else None

    def __call__(self, image) -> torch.Tensor:
        if self.steps is not None:
            image = self.steps(image)
        if isinstance(image, torch.Tensor):
            x = image.as_subclass(torch.Tensor)
        else:
            from PIL import Image
            if not isinstance(image, Image.Image):
                raise TypeError(f"expected a PIL image or a uint8 tensor, got {type(image).__name__}")
            x = _pil_to_uint8(image.convert("RGB"))
        if x.dtype != torch.uint8 or x.ndim != 3 or x.shape[0] != 3:
            raise ValueError(f"expected a uint8 tensor (3, H, W), got {x.dtype} {tuple(x.shape)}")
        return normalize_imagenet(x.to(torch.float32).div_(255.0))

    def __repr__(self) -> str:
        return f"ImageTransform({self.steps!r})"


def imagenet_transform(*, train: bool) -> ImageTransform:
    """The paper's ImageNet transform: train ``RandomResizedCrop(224)`` + horizontal flip, eval
    ``Resize(256)`` + ``CenterCrop(224)``; then ImageNet normalisation. Output float32 (3, 224, 224)."""
    from torchvision.transforms import v2
    if train:
        return ImageTransform([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip()])
    return ImageTransform([v2.Resize(256, antialias=True), v2.CenterCrop(224)])


def cifar_transform(*, train: bool) -> ImageTransform:
    """The paper's CIFAR-100 transform: train ``RandomCrop(32, padding=4)`` + horizontal flip, eval
    none; then ImageNet normalisation. Output float32 (3, 32, 32)."""
    from torchvision.transforms import v2
    if train:
        return ImageTransform([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])
    return ImageTransform([])


# ---------------------------------------------------------------------------------------------
# Sizes and fingerprints.


def split_size(name: str, root: str | os.PathLike, split: str) -> int:
    """Number of images in ``split`` (lists the folder, or reads the pickle file)."""
    _check_name(name)
    if name == "cifar100" and cifar100_source(root).kind == "pickle":
        return len(load_cifar100_pickle(root, split)[1])
    return len(ImageFolderSplit(root, split, name=name))


_CHUNK = 2 ** 20


def _file_digest(path: Path) -> str:
    """Size and sha256 of the first and last MiB of a file (cheap for CIFAR's 150 MB pickles)."""
    size = path.stat().st_size
    h = hashlib.sha256(f"{path.name}\t{size}\n".encode())
    with open(path, "rb") as f:
        h.update(f.read(_CHUNK))
        if size > 2 * _CHUNK:
            f.seek(size - _CHUNK)
            h.update(f.read(_CHUNK))
        elif size > _CHUNK:
            h.update(f.read())
    return h.hexdigest()


def fingerprint(name: str, root: str | os.PathLike, split: str) -> str:
    """A short hash of the identity of one split's data, cheap enough to compute per job.

    Folder layouts: the sorted relative image paths with their file sizes (one ``stat`` per
    image; an in-place edit that keeps a file's size is not seen). Pickle release: the split
    file's and the meta file's sizes and the sha256 of their first and last MiB. The dataset
    name is not part of it (the same folder read as ``imagenet`` or ``imagefolder`` is the same
    data); transforms and encodings are the caller's to add.

    Returns
    -------
    16 hex characters.
    """
    _check_name(name)
    _check_split(split)
    if name == "cifar100":
        source = cifar100_source(root)
        if source.kind == "pickle":
            h = hashlib.sha256(b"cifar100-pickle-v1\n")
            for file_name in (CIFAR_PICKLE_FILES[split], "meta"):
                path = source.path / file_name
                if not path.is_file():
                    raise _layout_error("cifar100", root, f"{path} is missing")
                h.update(_file_digest(path).encode())
            return h.hexdigest()[:16]
    return ImageFolderSplit(root, split, name=name).fingerprint()

