"""ImageNet-1k's class names for tables and figures, as the libraries ship them.

``imagenet_classes.tsv`` (next to this module) lists the 1000 classes in the standard class index
order, one ``<wnid>\\t<name>`` a line: the wnids as timm ships them (``timm.data.ImageNetInfo``,
sorted: the standard index order is the sorted wnid order, which is also the order of an
ImageFolder's class folders) and the names of torchvision's weights (``meta["categories"]``, in
the standard index order; all distinct, e.g. "crane" for the machine n03126707 and "crane bird"
for n02012849). A test checks the file against both libraries; ``python -m ddd.data.imagenet_classes``
regenerates it. Read without torch, so the report (which runs without it) can use it.

:func:`display_class_names` gives a dataset's classes their names only when its class folders
are exactly ImageNet-1k's 1000 wnids; any other dataset (another class count, other folder
names) keeps its folder names. docs/reproduction.md#imagenet.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

FILE_NAME = "imagenet_classes.tsv"
N_CLASSES = 1000


@lru_cache(maxsize=1)
def load() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(wnids, names) of ImageNet-1k's classes in the standard index order (1000 each)."""
    wnids, names = [], []
    for i, line in enumerate(files("ddd.data").joinpath(FILE_NAME).read_text(encoding="utf-8").splitlines(), 1):
        wnid, sep, name = line.partition("\t")
        if not sep or not wnid.startswith("n") or not name:
            raise ValueError(f"{FILE_NAME} line {i}: expected '<wnid>\\t<name>', got {line!r}")
        wnids.append(wnid)
        names.append(name)
    if len(wnids) != N_CLASSES or wnids != sorted(wnids) or len(set(names)) != N_CLASSES:
        raise ValueError(f"{FILE_NAME}: expected {N_CLASSES} sorted wnids with unique names, got {len(wnids)} "
                         f"(sorted: {wnids == sorted(wnids)}, unique names: {len(set(names))})")
    return tuple(wnids), tuple(names)


def display_class_names(class_names) -> list[str]:
    """The names to show for a dataset's classes (C names in label order, as stored in a
    decisions file's ``class_names``).

    ImageNet-1k (exactly the 1000 wnids, in the standard order, as the class folders of
    ``val/`` are): the libraries' class names, e.g. ``n01440764`` -> ``tench``. Anything else
    (another class count, other or reordered names): the names unchanged, as strings.
    """
    names = [str(c) for c in class_names]
    wnids, pretty = load()
    if len(names) == N_CLASSES and tuple(names) == wnids:
        return list(pretty)
    return names


def snapshot() -> list[tuple[str, str]]:
    """(wnid, name) pairs from the installed timm (wnids) and torchvision (names)."""
    from timm.data import ImageNetInfo
    from torchvision.models import ResNet50_Weights
    info = ImageNetInfo()
    wnids = [info.index_to_label_name(i) for i in range(info.num_classes())]
    names = list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
    if len(wnids) != N_CLASSES or len(names) != N_CLASSES or wnids != sorted(wnids):
        raise ValueError(f"timm gives {len(wnids)} wnids (sorted: {wnids == sorted(wnids)}), torchvision "
                         f"{len(names)} names; expected {N_CLASSES} each")
    return list(zip(wnids, names))


def main() -> None:
    """Write the file from the installed timm and torchvision next to this module."""
    path = files("ddd.data").joinpath(FILE_NAME)
    with open(path, "w", encoding="utf-8") as f:  # type: ignore[arg-type]
        f.writelines(f"{wnid}\t{name}\n" for wnid, name in snapshot())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
