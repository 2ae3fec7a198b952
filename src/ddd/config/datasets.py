"""Dataset blocks of the config: defaults filled in, and local copies checked before anything runs."""

from __future__ import annotations

from ddd.config.studies import ConfigError

__all__ = ["DATASET_DEFAULTS", "DATASET_KINDS", "resolve_datasets", "dataset_of_block", "check_dataset", "recipe_kind",
           "input_size", "evaluation_images"]

#: Defaults of the generated kinds: the Gaussian set's are the paper's (docs/reproduction.md#gaussian-noise);
#: scikit-learn's handwritten digits (:mod:`ddd.data.digits`) are split half and half, seeded.
DATASET_DEFAULTS = {
    "gaussian": {"n_classes": 100, "image_size": 224, "train_per_class": 20000, "val_per_class": 500,
                 "seed": 1312, "encoding": "unit", "transforms": "small"},
    "digits": {"val_fraction": 0.5, "seed": 1312, "encoding": "unit", "augment": "shift"},
}
#: Kinds a block under ``datasets`` may have (local copies are named by their own keys).
DATASET_KINDS = tuple(DATASET_DEFAULTS)


def resolve_datasets(config: dict) -> dict:
    """Every dataset a study may name: ``{name: block}`` with ``name``, ``kind`` and its parameters
    (``root`` and the config key that sets it for local copies).

    Gaussian-noise datasets: the built-in ``gaussian`` and every other block under ``datasets`` with
    ``kind: gaussian``, each with the paper's parameters where it sets none. Handwritten digits:
    every block with ``kind: digits`` (scikit-learn's copy, nothing to download), with
    :data:`DATASET_DEFAULTS` where it sets none; its split parameters are checked here.
    """
    datasets = {}
    blocks = {"gaussian": {}, **(config.get("datasets") or {})}
    for name, block in blocks.items():
        block = dict(block or {})
        kind = block.pop("kind", "gaussian")
        if name == "gaussian" and kind != "gaussian":
            raise ConfigError(f"datasets.gaussian.kind: the built-in name `gaussian` is the Gaussian-noise set, "
                              f"not {kind!r}; give the {kind} dataset another name")
        if kind not in DATASET_KINDS:
            raise ConfigError(f"datasets.{name}.kind: {kind!r} is not a kind defined here (allowed: "
                              f"{', '.join(DATASET_KINDS)}); local copies go under imagenet_root, cifar100_root "
                              "or imagefolders")
        datasets[name] = {"name": name, "kind": kind, **DATASET_DEFAULTS[kind], **block}
        if kind == "digits":
            _check_digits(name, datasets[name])
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


def _check_digits(name: str, ds: dict) -> None:
    """A digits block's keys and values (the schema says the same; this names the limits of the split)."""
    from ddd.data.digits import check_params

    unknown = sorted(set(ds) - {"name", "kind", *DATASET_DEFAULTS["digits"]})
    if unknown:
        raise ConfigError(f"datasets.{name}: unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(map(repr, unknown))} for kind digits; allowed: "
                          f"{', '.join(DATASET_DEFAULTS['digits'])}")
    try:
        check_params(ds["val_fraction"], ds["seed"], ds["encoding"], ds["augment"])
    except ValueError as err:
        message = str(err).removeprefix("digits dataset: ")
        key = next((k for k in DATASET_DEFAULTS["digits"] if k in message), None)
        if key and message.startswith(f"{key} "):
            message = message.removeprefix(f"{key} ")
        raise ConfigError(f"datasets.{name}{'.' + key if key else ''}: {message}") from None


def dataset_of_block(datasets: dict, name: str, where: str) -> dict:
    """The dataset a study block names (``where``: its config key), checked (:func:`check_dataset`)."""
    if name not in datasets:
        raise ConfigError(f"{where}: unknown dataset {name!r}; allowed: {', '.join(sorted(datasets))} "
                          "(add a folder under `imagefolders:`)")
    check_dataset(datasets[name])
    return dict(datasets[name])


def check_dataset(ds: dict) -> None:
    """A local dataset's root is set and laid out as expected (fast: no image is opened)."""
    if ds["kind"] in DATASET_KINDS:  # generated, or read from an installed package: nothing to check
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
    """Which family recipes a dataset trains with: folder datasets take ImageNet's (224 px), the
    handwritten digits (8 px) the Gaussian set's (ResNet-18 with ResNet-50 as the different
    architecture, whose small-image options the laptop default found)."""
    return {"imagefolder": "imagenet", "digits": "gaussian"}.get(ds["kind"], ds["kind"])


def input_size(ds: dict) -> int | None:
    """Pixels per side of the images a network of this dataset sees: the Gaussian set's own size
    (``transforms: small``) or 224 (``paper``: RandomResizedCrop(224)), CIFAR-100 32, ImageNet and
    image folders 224 (their evaluation crop), the handwritten digits 8."""
    if ds["kind"] == "gaussian":
        return ds["image_size"] if ds.get("transforms", "small") == "small" else 224
    return {"cifar100": 32, "imagenet": 224, "imagefolder": 224, "digits": 8}.get(ds["kind"])


def evaluation_images(ds: dict) -> int | None:
    """How many evaluation images the dataset has, where planning knows it without reading a folder
    (Gaussian: classes x val_per_class; digits: from its class counts and ``val_fraction``; CIFAR-100
    10,000; ImageNet 50,000; image folders: None)."""
    if ds["kind"] == "gaussian":
        return ds["n_classes"] * ds["val_per_class"]
    if ds["kind"] == "digits":
        from ddd.data.digits import split_counts
        return split_counts(ds["val_fraction"])["val"]
    return {"cifar100": 10_000, "imagenet": 50_000}.get(ds["kind"])
