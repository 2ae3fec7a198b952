"""Image datasets read from local copies: ImageNet, CIFAR-100 and any ImageFolder tree.

SPEC section 2. Nothing is downloaded: every dataset lives under a configured local path, and a
missing or malformed directory raises :class:`DatasetLayoutError`, whose message names the path,
says what is missing and shows the expected layout.

Layouts
-------
- ``imagenet``: ILSVRC-2012 as an ImageFolder, ``root/train/<wnid>/<image>.JPEG`` and
  ``root/val/<wnid>/<image>.JPEG`` (the validation images sorted into class folders).
- ``cifar100``: either the python-pickle release (``root/cifar-100-python/{train,test,meta}``, or
  ``root`` pointing at the ``cifar-100-python`` folder itself), or an ImageFolder export
  ``root/train/<class>/<image>.png`` with ``root/test/`` or ``root/val/`` for evaluation.
- ``imagefolder``: any ``root/train/<class>/...`` and ``root/val/<class>/...`` tree.

Order and ids
-------------
Folder datasets follow torchvision's ImageFolder: classes are the sorted class-folder names,
images are sorted by (class, path within the class folder), so on ImageNet's validation set
``label = index // 50``. Hidden entries (names starting with ``.``) are ignored, as are files
whose extension is not in :data:`IMAGE_EXTENSIONS` (case-insensitive). An image id is the path
relative to the split folder with forward slashes (``n01440764/ILSVRC2012_val_00000293.JPEG``);
for the pickle release it is the stored file name (``beaver_s_000001.png``). The ``"val"`` split
of CIFAR-100 is its test set.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

SPLITS = ("train", "val")
NAMES = ("imagenet", "cifar100", "imagefolder")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_PICKLE_DIR = "cifar-100-python"
CIFAR_PICKLE_FILES = {"train": "train", "val": "test"}
CONFIG_KEYS = {"imagenet": "imagenet_root", "cifar100": "cifar100_root", "imagefolder": None}
_VAL_DIRS = {"imagenet": ("val",), "imagefolder": ("val",), "cifar100": ("test", "val")}
_SHOW = 5  # how many differing names an error message lists


class DatasetLayoutError(FileNotFoundError):
    """A dataset directory is missing or does not have the expected layout."""


class DatasetFormatError(ValueError):
    """A dataset file exists but its content is not what the layout promises."""


# ---------------------------------------------------------------------------------------------
# Layout descriptions and checks.

_LAYOUTS = {
    "imagenet": """\
  {root}/
    train/
      n01440764/
        n01440764_10026.JPEG
        ...
      ...                  (one folder per class: the 1000 wnids)
    val/
      n01440764/
        ILSVRC2012_val_00000293.JPEG
        ...
      ...                  (the same class folders as train/, 50 images each)""",
    "cifar100": """\
  either the python-pickle release (cifar-100-python.tar.gz, extracted):
  {root}/
    cifar-100-python/      (or point the path at this folder itself)
      train
      test
      meta
  or an ImageFolder export:
  {root}/
    train/
      apple/
        <image>.png
        ...
      ...                  (one folder per class)
    test/                  (or val/; the same class folders as train/)
      apple/
        <image>.png
        ...""",
    "imagefolder": """\
  {root}/
    train/
      <class>/
        <image>.jpg        (extensions: {extensions})
        ...
      ...                  (one folder per class)
    val/
      <class>/
        <image>.jpg
        ...
      ...                  (the same class folders as train/)""",
}

_TITLES = {"imagenet": "ImageNet (ILSVRC-2012)", "cifar100": "CIFAR-100", "imagefolder": "ImageFolder"}


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown image dataset {name!r}; allowed: {', '.join(NAMES)}")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")


def layout_text(name: str, root: str | os.PathLike) -> str:
    """The expected directory layout of dataset ``name`` under ``root``, as a small tree."""
    _check_name(name)
    return _LAYOUTS[name].format(root=os.fspath(root).rstrip("/\\") or "/",
                                 extensions=" ".join(IMAGE_EXTENSIONS))


def _layout_error(name: str, root, problem: str, *, config_key: str | None = None,
                  hint: str | None = None) -> DatasetLayoutError:
    key = CONFIG_KEYS[name] if config_key is None else config_key
    where = (f"Set `{key}` to the folder shown as the root above (e.g. --config {key}=/data/{name})."
             if key else "Point the dataset's path at the folder shown as the root above.")
    lines = [f"{_TITLES[name]} dataset at {os.fspath(root)}: {problem}.",
             "Expected layout:", layout_text(name, root)]
    if hint:
        lines.append(hint)
    lines.append(where + " Nothing is downloaded.")
    return DatasetLayoutError("\n".join(lines))


def _is_image_name(file_name: str) -> bool:
    return not file_name.startswith(".") and os.path.splitext(file_name)[1].lower() in IMAGE_EXTENSIONS


def _class_dirs(split_dir: str) -> list[str]:
    """Sorted names of the (non-hidden) subfolders of ``split_dir``."""
    with os.scandir(split_dir) as it:
        return sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())


def _has_image(class_dir: str) -> bool:
    """Whether ``class_dir`` (recursively) holds at least one image; stops at the first."""
    stack = [class_dir]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.name.startswith("."):
                    continue
                if e.is_dir():
                    stack.append(e.path)
                elif _is_image_name(e.name):
                    return True
    return False


def _loose_images(split_dir: str) -> bool:
    """Whether ``split_dir`` holds image files directly (e.g. ImageNet's flat val/ folder)."""
    with os.scandir(split_dir) as it:
        return any(_is_image_name(e.name) and e.is_file() for e in it)


def _differing(a: list[str], b: list[str]) -> str:
    def first(names):
        shown = ", ".join(names[:_SHOW])
        return shown + (f" (and {len(names) - _SHOW} more)" if len(names) > _SHOW else "")
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    parts = []
    if only_a:
        parts.append(f"only in train/: {first(only_a)}")
    if only_b:
        parts.append(f"only in the evaluation folder: {first(only_b)}")
    return "; ".join(parts)


def _check_split_dir(name: str, root, split_dir: Path, *, config_key) -> list[str]:
    """Check one split folder of a folder dataset; return its sorted class names."""
    if not split_dir.is_dir():
        what = "is a file, not a folder" if split_dir.exists() else "is missing"
        raise _layout_error(name, root, f"{split_dir} {what}", config_key=config_key)
    classes = _class_dirs(os.fspath(split_dir))
    if not classes:
        hint = None
        if _loose_images(os.fspath(split_dir)):
            hint = (f"{split_dir} holds images directly: sort them into one folder per class "
                    "(for ImageNet's val/, e.g. with the devkit's ground truth or valprep.sh).")
        raise _layout_error(name, root, f"{split_dir} holds no class folders", config_key=config_key,
                            hint=hint)
    for c in classes:
        if not _has_image(os.path.join(split_dir, c)):
            raise _layout_error(
                name, root, f"class folder {split_dir / c} holds no images (accepted extensions, "
                f"any case: {' '.join(IMAGE_EXTENSIONS)})", config_key=config_key)
    return classes


def _val_dir(name: str, root: Path, *, config_key=None) -> Path:
    """The evaluation folder of a folder dataset (``val/``; for CIFAR-100 ``test/`` or ``val/``)."""
    present = [d for d in _VAL_DIRS[name] if (root / d).is_dir()]
    if len(present) > 1:
        raise _layout_error(name, root, f"both {' and '.join(d + '/' for d in present)} exist, so the "
                            "evaluation folder is ambiguous; keep only one", config_key=config_key)
    return root / (present[0] if present else _VAL_DIRS[name][0])


def _check_folder_layout(name: str, root: Path, *, config_key) -> None:
    train = _check_split_dir(name, root, root / "train", config_key=config_key)
    val_dir = _val_dir(name, root, config_key=config_key)
    val = _check_split_dir(name, root, val_dir, config_key=config_key)
    if train != val:
        raise _layout_error(name, root, f"train/ and {val_dir.name}/ hold different class folders "
                            f"({len(train)} vs {len(val)}): {_differing(train, val)}",
                            config_key=config_key)


class Cifar100Source(NamedTuple):
    """Where a CIFAR-100 copy is and in which form: ``kind`` is ``"pickle"`` (``path`` = the folder
    holding train/test/meta) or ``"folder"`` (``path`` = the folder holding train/ and test/ or val/)."""
    kind: str
    path: Path


def cifar100_source(root: str | os.PathLike, *, config_key: str | None = None) -> Cifar100Source:
    """Find out whether ``root`` holds the CIFAR-100 pickle release or an ImageFolder export.

    Checks only what is needed to decide (fast); :func:`check_layout` checks the rest.

    Raises
    ------
    DatasetLayoutError if ``root`` holds neither.
    """
    root = Path(root)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise _layout_error("cifar100", root, f"{root} {what}", config_key=config_key)
    if (root / CIFAR_PICKLE_DIR).is_dir():
        return Cifar100Source("pickle", root / CIFAR_PICKLE_DIR)
    if any((root / f).is_file() for f in ("train", "test", "meta")):
        return Cifar100Source("pickle", root)
    if (root / "train").is_dir():
        return Cifar100Source("folder", root)
    hint = None
    archives = sorted(p.name for p in root.glob("cifar-100-python.tar*"))
    if archives:
        hint = f"Found {archives[0]}: extract it in place (tar xzf {root / archives[0]} -C {root})."
    raise _layout_error("cifar100", root, "found neither cifar-100-python/{train,test,meta} nor train/ "
                        "class folders", config_key=config_key, hint=hint)


def _check_cifar_pickle(root: Path, folder: Path, *, config_key) -> None:
    for file_name in ("train", "test", "meta"):
        path = folder / file_name
        if not path.is_file():
            raise _layout_error("cifar100", root, f"{path} is missing", config_key=config_key)
        if path.stat().st_size == 0:
            raise _layout_error("cifar100", root, f"{path} is empty", config_key=config_key)


def check_layout(name: str, root: str | os.PathLike, *, config_key: str | None = None) -> None:
    """Check, quickly, that ``root`` holds dataset ``name`` in an expected layout.

    Folder layouts: both split folders exist, each holds at least one class folder, every class
    folder holds at least one image, and train and evaluation folders hold the same class names.
    Pickle release: the three files exist and are not empty (their content is checked on load).
    No image is opened.

    Parameters
    ----------
    name : ``"imagenet"``, ``"cifar100"`` or ``"imagefolder"``.
    root : the configured dataset path.
    config_key : the config key that holds ``root``, named in the message (default
        ``imagenet_root`` / ``cifar100_root``; none for ``imagefolder``).

    Raises
    ------
    DatasetLayoutError naming the path, what is missing and the expected layout.
    """
    _check_name(name)
    root = Path(root)
    if name == "cifar100":
        source = cifar100_source(root, config_key=config_key)
        if source.kind == "pickle":
            _check_cifar_pickle(root, source.path, config_key=config_key)
        else:
            _check_folder_layout(name, root, config_key=config_key)
        return
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise _layout_error(name, root, f"{root} {what}", config_key=config_key)
    _check_folder_layout(name, root, config_key=config_key)


# ---------------------------------------------------------------------------------------------
# Folder datasets.


def _list_class(class_dir: str, prefix: str) -> list[str]:
    """Relative paths ``prefix/<sub>/<file>`` of every image under ``class_dir``, sorted."""
    found, stack = [], [(class_dir, prefix)]
    while stack:
        directory, rel = stack.pop()
        with os.scandir(directory) as it:
            for e in it:
                if e.name.startswith("."):
                    continue
                if e.is_dir():
                    stack.append((e.path, f"{rel}/{e.name}"))
                elif _is_image_name(e.name):
                    found.append(f"{rel}/{e.name}")
    found.sort()
    return found


def split_dir(name: str, root: str | os.PathLike, split: str) -> Path:
    """The folder of ``split`` of folder dataset ``name`` (for CIFAR-100: its ImageFolder export)."""
    _check_name(name)
    _check_split(split)
    root = Path(root)
    return root / "train" if split == "train" else _val_dir(name, root)


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
# CIFAR-100 python-pickle release.

_NUMPY_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a dataset file cannot run code."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_GLOBALS and not (module == "numpy.dtypes" and name.endswith("DType")):
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core."):  # pickles written with numpy 1.x
            module = "numpy._core." + module[len("numpy.core."):]
        return super().find_class(module, name)


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _ArrayUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated, not a pickle, foreign objects, ...
        raise DatasetFormatError(f"{path} is not a readable CIFAR-100 pickle file: "
                                 f"{type(e).__name__}: {e}") from e
    if not isinstance(obj, dict):
        raise DatasetFormatError(f"{path}: expected a dict, found {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _field(d: dict, key: str, path: Path):
    if key not in d:
        raise DatasetFormatError(f"{path} lacks the key {key!r} (found: {', '.join(map(str, d))})")
    return d[key]


def _decode(s) -> str:
    return s.decode("utf-8", errors="replace") if isinstance(s, bytes) else str(s)


def _pickle_folder(root: str | os.PathLike) -> Path:
    source = cifar100_source(root)
    if source.kind != "pickle":
        raise _layout_error("cifar100", root, f"{root} holds an ImageFolder export, not the "
                            "python-pickle release (use ImageFolderSplit(..., name='cifar100'))")
    return source.path


def load_cifar100_pickle(root: str | os.PathLike, split: str):
    """Read one split of the CIFAR-100 python-pickle release.

    Parameters
    ----------
    root : the folder holding ``cifar-100-python/``, or that folder itself.
    split : ``"train"`` (file ``train``) or ``"val"`` (file ``test``).

    Returns
    -------
    images : uint8 array (N, 3, 32, 32) (the release's rows are R, G, B planes of 32 x 32).
    targets : int64 array (N,), the fine labels.
    image_ids : str array (N,), the stored file names.
    class_names : list of the fine label names (100).

    Raises
    ------
    DatasetLayoutError if a file is missing; DatasetFormatError naming the file if its content
    is corrupted or mis-shaped, or its file names are not unique.
    """
    _check_split(split)
    folder = _pickle_folder(root)
    path, meta_path = folder / CIFAR_PICKLE_FILES[split], folder / "meta"
    for p in (path, meta_path):
        if not p.is_file():
            raise _layout_error("cifar100", root, f"{p} is missing")
    d, meta = _read_pickle(path), _read_pickle(meta_path)
    class_names = [_decode(s) for s in _field(meta, "fine_label_names", meta_path)]
    data = _field(d, "data", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise DatasetFormatError(f"{path}: 'data' must be a uint8 array (N, 3072), found "
                                 f"{type(data).__name__} {getattr(data, 'dtype', '')} {shape}")
    n = len(data)
    targets = np.asarray(_field(d, "fine_labels", path))
    file_names = _field(d, "filenames", path)
    if targets.shape != (n,) or not np.issubdtype(targets.dtype, np.integer):
        raise DatasetFormatError(f"{path}: 'fine_labels' must be {n} integers, found shape {targets.shape}")
    if len(file_names) != n:
        raise DatasetFormatError(f"{path}: 'filenames' has {len(file_names)} entries for {n} images")
    if n and (targets.min() < 0 or targets.max() >= len(class_names)):
        raise DatasetFormatError(f"{path}: fine labels outside [0, {len(class_names)}) "
                                 f"({meta_path} names {len(class_names)} classes)")
    image_ids = np.array([_decode(s) for s in file_names], dtype=str)
    unique, counts = np.unique(image_ids, return_counts=True)
    if len(unique) != n:
        raise DatasetFormatError(f"{path}: file names are not unique, so they cannot serve as image "
                                 f"ids (e.g. {', '.join(unique[counts > 1][:_SHOW])})")
    images = np.require(data.reshape(n, 3, 32, 32), dtype=np.uint8, requirements=["C", "W"])
    return images, targets.astype(np.int64), image_ids, class_names


# ---------------------------------------------------------------------------------------------
# Transforms (SPEC section 2).


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
