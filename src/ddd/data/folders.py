"""Local image datasets (ImageNet, CIFAR-100, any ImageFolder tree): layout, checks and order.

Light on purpose (``os`` and ``pathlib`` only): planning checks every configured dataset folder
with :func:`check_layout` before any job runs.

docs/reproduction.md#datasets. Nothing is downloaded: every dataset lives under a configured local path, and a
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

import os
from pathlib import Path
from typing import NamedTuple

SPLITS = ("train", "val")
NAMES = ("imagenet", "cifar100", "imagefolder")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
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
