"""Dataset blocks of the config: defaults filled in, and local copies checked before anything runs."""

from __future__ import annotations

from ddd.config.studies import ConfigError

__all__ = ["DATASET_DEFAULTS", "resolve_datasets", "dataset_of_block", "check_dataset", "recipe_kind", "input_size",
           "evaluation_images"]

#: The Gaussian set's defaults: the paper's (docs/reproduction.md#gaussian-noise).
DATASET_DEFAULTS = {
    "gaussian": {"n_classes": 100, "image_size": 224, "train_per_class": 20000, "val_per_class": 500,
                 "seed": 1312, "encoding": "unit", "transforms": "small"},
}


def resolve_datasets(config: dict) -> dict:
    """Every dataset a study may name: ``{name: block}`` with ``name``, ``kind`` and its parameters
    (``root`` and the config key that sets it for local copies).

    Gaussian-noise datasets: the built-in ``gaussian`` and every other block under ``datasets`` (with
    ``kind: gaussian``), each with the paper's parameters where it sets none.
    """
    datasets = {}
    blocks = {"gaussian": {}, **(config.get("datasets") or {})}
    for name, block in blocks.items():
        block = dict(block or {})
        if block.pop("kind", "gaussian") != "gaussian":
            raise ConfigError(f"datasets.{name}.kind: only gaussian datasets are defined here; local copies "
                              "go under imagenet_root, cifar100_root or imagefolders")
        datasets[name] = {"name": name, "kind": "gaussian", **DATASET_DEFAULTS["gaussian"], **block}
    for kind in ("imagenet", "cifar100"):
        if kind in datasets:
            raise ConfigError(f"datasets.{kind}: the name is taken by a built-in dataset; choose another")
        datasets[kind] = {"name": kind, "kind": kind, "root": config.get(f"{kind}_root"),
                          "config_key": f"{kind}_root"}
    for name, root in (config.get("imagefolders") or {}).items():
        if name in datasets:
            what = "a built-in dataset" if name in ("gaussian", "imagenet", "cifar100") else f"datasets.{name}"
            raise ConfigError(f"imagefolders.{name}: the name is taken by {what}; "
                              f"choose another (taken: {', '.join(sorted(datasets))})")
        datasets[name] = {"name": name, "kind": "imagefolder", "root": root, "config_key": f"imagefolders.{name}"}
    return datasets


def dataset_of_block(datasets: dict, name: str, where: str) -> dict:
    """The dataset a study block names (``where``: its config key), checked (:func:`check_dataset`)."""
    if name not in datasets:
        raise ConfigError(f"{where}: unknown dataset {name!r}; allowed: {', '.join(sorted(datasets))} "
                          "(add a folder under `imagefolders:`)")
    check_dataset(datasets[name])
    return dict(datasets[name])


def check_dataset(ds: dict) -> None:
    """A local dataset's root is set and laid out as expected (fast: no image is opened)."""
    if ds["kind"] == "gaussian":
        return
    from ddd.data.folders import DatasetLayoutError, check_layout
    if not ds.get("root"):
        raise ConfigError(f"{ds['config_key']} is not set: point it at your local copy, e.g. "
                          f"--config {ds['config_key']}=/data/{ds['name']} (nothing is downloaded)")
    try:
        check_layout(ds["kind"], ds["root"], config_key=ds["config_key"])
    except DatasetLayoutError as err:
        raise ConfigError(str(err)) from None


def recipe_kind(ds: dict) -> str:
    """Which family recipes a dataset trains with: folder datasets take ImageNet's (224 px)."""
    return "imagenet" if ds["kind"] == "imagefolder" else ds["kind"]


def input_size(ds: dict) -> int | None:
    """Pixels per side of the images a network of this dataset sees: the Gaussian set's own size
    (``transforms: small``) or 224 (``paper``: RandomResizedCrop(224)), CIFAR-100 32, ImageNet and
    image folders 224 (their evaluation crop)."""
    if ds["kind"] == "gaussian":
        return ds["image_size"] if ds.get("transforms", "small") == "small" else 224
    return {"cifar100": 32, "imagenet": 224, "imagefolder": 224}.get(ds["kind"])


def evaluation_images(ds: dict) -> int | None:
    """How many evaluation images the dataset has, where planning knows it without reading a folder
    (Gaussian: classes x val_per_class; CIFAR-100 10,000; ImageNet 50,000; image folders: None)."""
    if ds["kind"] == "gaussian":
        return ds["n_classes"] * ds["val_per_class"]
    return {"cifar100": 10_000, "imagenet": 50_000}.get(ds["kind"])
