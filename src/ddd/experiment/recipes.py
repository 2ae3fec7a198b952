"""Training recipes and families, as data.

A *recipe* is one flat dict that fully determines a training run (together with the dataset).
A *family* is a base network on a dataset with its "different architecture" (docs/reproduction.md#families);
the 13 conditions (:mod:`ddd.experiment.conditions`) are overrides of the family's base recipe that
depend on the instance number. Nothing here trains: :mod:`ddd.training` takes a resolved recipe and
runs it.
"""

from __future__ import annotations

import copy

from ddd.experiment.conditions import CONDITIONS, LR_SCALES, PLUS_EPOCHS, instances_of, trained_conditions

# The common recipe (docs/reproduction.md#training-recipe-and-seeds). Every key is a knob of ddd.training.run.train_run.
BASE_RECIPE: dict = {
    "arch": "resnet18",         # a name from ddd.nets.available_models()
    "arch_options": {},         # e.g. {"width": 16, "stem": "cifar"} for small images
    "epochs": 30,               # E: the nominal length; evaluations happen at 0..E (+extra)
    "extra_epochs": 0,          # trained beyond E at the final LR (the base run: 10)
    "batch_size": 256,          # images per optimiser batch
    "batch_splits": 1,          # "different batch size": each batch fed as this many chunks, one step each
    "lr": 0.1,                  # peak learning rate
    "schedule": "step",         # "step": x gamma at each milestone; "onecycle": linear warm-up, cosine down to lr*gamma^2 at E
    "milestones": [10, 20],     # epochs at which the step schedule multiplies the LR by gamma
    "gamma": 0.1,
    "warmup_fraction": 0.25,    # onecycle: fraction of the E epochs spent warming up
    "momentum": 0.9,
    "nesterov": False,          # "different optimiser": SGD with Nesterov momentum
    "weight_decay": 1e-4,       # on all parameters, as the authors
    "bn_momentum": 0.1,         # BatchNorm running-statistics momentum (PyTorch's default, the paper's)
    "global_seed": 1312,        # set once at the start of the job
    "init_seed": 1312,          # "different initialisation": 1312 + instance
    "order_seed": 1312,         # before training epoch e: reseed order_seed + order_stride * instance + e
    "order_stride": 0,          # "different data order": 100
    "instance": 0,              # the instance number the seeds are offset by
    "eval_seed": 1312,          # reseeded before every evaluation (random eval transforms see the same crops)
    "train_subset": "all",      # "all", or "half1" / "half2" of a seeded (1312) split of the training set
    "subset_seed": 1312,
    "deterministic": True,      # False: cudnn.benchmark on, deterministic algorithms off ("hardware")
    "bf16": False,              # autocast to bfloat16 on CUDA (off in the paper's presets)
    "precise_bn": 0,            # > 0: before each evaluation, BatchNorm statistics re-estimated on this many training images (off in the paper)
}


#: The value of each recipe key that reproduces what ddd did before the key existed (a feature
#: switched off). A job's identity (:func:`identity`) leaves such keys out, so a release that adds
#: a key at this value reruns nothing; any other value is a change of meaning and reruns the job.
NEUTRAL: dict = {
    "extra_epochs": 0, "batch_splits": 1, "nesterov": False, "order_stride": 0, "instance": 0,
    "train_subset": "all", "deterministic": True, "bf16": False, "precise_bn": 0, "bn_momentum": 0.1,
    "arch_options": {},
}


def canonical(value):
    """``value`` with every mapping's keys sorted, recursively (lists keep their order): two configs
    that differ only in the order of their keys give equal reprs, so Snakemake sees equal params."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def identity(recipe: dict) -> dict:
    """What a training job computes, as its params: the recipe without its :data:`NEUTRAL` keys at
    their neutral value, keys sorted (:func:`canonical`). :func:`complete` gives the recipe back."""
    return canonical({k: v for k, v in recipe.items() if k not in NEUTRAL or v != NEUTRAL[k]})


def complete(identity_: dict) -> dict:
    """The full recipe of a job's :func:`identity` (its :data:`NEUTRAL` keys restored)."""
    return {**copy.deepcopy(NEUTRAL), **copy.deepcopy(identity_)}


def scaled_milestones(epochs: int) -> list[int]:
    """The paper's step schedule scaled to ``epochs``: the LR drops at 1/3 and 2/3 of them."""
    return sorted({min(epochs, max(1, round(epochs / 3))), min(epochs, max(1, round(2 * epochs / 3)))})


def _overrides(condition: str, instance: int, family: dict) -> dict:
    """Recipe overrides of one (condition, instance) relative to the family's base recipe."""
    other = {"arch": family["other_arch"], "arch_options": family.get("other_arch_options", {}),
             **family.get("other_overrides", {})}
    lr = family["recipe"].get("lr", BASE_RECIPE["lr"])
    varied_lr = {"lr": round(lr * LR_SCALES[(instance - 1) % len(LR_SCALES)], 10)}
    order = {"order_stride": 100, "instance": instance}
    init = {"init_seed": BASE_RECIPE["init_seed"] + instance, "instance": instance}
    return {
        "base": {"extra_epochs": max(PLUS_EPOCHS.values())},
        "optimizer": {"nesterov": True},
        "batch_size": {"batch_splits": 2},
        "init": init,
        "learning_rate": {**varied_lr, "instance": instance},
        "hardware": {"deterministic": False, "instance": instance},
        "data_order": order,
        "architecture": other,
        "different_data": {"train_subset": f"half{instance}", "instance": instance},
        "combined": {**other, "nesterov": True, **order, **init, **varied_lr},
    }[condition]


def resolve(family: dict, condition: str, instance: int) -> dict:
    """The full recipe of one run.

    Parameters
    ----------
    family : dict with ``recipe`` (overrides of :data:`BASE_RECIPE`, e.g. epochs, batch size),
        ``other_arch`` (the "different architecture"), optional ``other_arch_options`` and
        ``other_overrides`` (e.g. a smaller batch for DenseNet-121).
    condition : a trained condition (see :func:`trained_conditions`).
    instance : 1-based instance number.
    """
    if condition not in CONDITIONS or condition in ("plus_1_epoch", "plus_10_epochs", "half_data"):
        raise ValueError(f"condition {condition!r} is not trained on its own; trained: "
                         f"{', '.join(trained_conditions(CONDITIONS))}")
    most = instances_of(condition, len(LR_SCALES))
    if not 1 <= instance <= most:
        raise ValueError(f"condition {condition!r} has instances 1..{most}, got {instance}")
    unknown = set(family["recipe"]) - set(BASE_RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; allowed: {', '.join(BASE_RECIPE)}")
    recipe = copy.deepcopy(BASE_RECIPE)
    recipe.update(copy.deepcopy(family["recipe"]))
    recipe.update(copy.deepcopy(_overrides(condition, instance, family)))
    recipe["condition"], recipe["run_instance"] = condition, instance
    return recipe


# The paper's five families (docs/reproduction.md#families), keyed "<dataset>-<family>". "recipe" overrides
# BASE_RECIPE; the "different architecture" has its own options and overrides (DenseNet-121 on
# ImageNet trains with batch 64).
# "gpu_minutes_per_epoch": an estimate of one training epoch plus its evaluation at the paper's
# data size on one 2080 Ti-class GPU (the paper's hardware), from published throughputs; it
# sizes the SLURM runtime of each job (:func:`training_resources`) and the README's
# GPU-hour table. "mem_mb": host memory of a training job (DataLoader workers included).
FAMILIES: dict[str, dict] = {
    "imagenet-resnet18": {"recipe": {"arch": "resnet18", "epochs": 90, "milestones": [30, 60]},
                          "other_arch": "densenet121", "other_overrides": {"batch_size": 64},
                          "gpu_minutes_per_epoch": 24, "mem_mb": 32000},
    "imagenet-vgg11": {"recipe": {"arch": "vgg11", "epochs": 30, "milestones": [10, 20]},
                       "other_arch": "alexnet", "gpu_minutes_per_epoch": 55, "mem_mb": 32000},
    "imagenet-densenet121": {"recipe": {"arch": "densenet121", "epochs": 30, "milestones": [10, 20],
                                        "batch_size": 64},
                             "other_arch": "resnet50", "other_overrides": {"batch_size": 64},
                             "gpu_minutes_per_epoch": 60, "mem_mb": 32000},
    "cifar100-resnet18": {"recipe": {"arch": "resnet18", "arch_options": {"stem": "cifar"},
                                     "epochs": 30, "milestones": [10, 20]},
                          "other_arch": "densenet121", "other_arch_options": {"stem": "cifar"},
                          "gpu_minutes_per_epoch": 1, "mem_mb": 8000},
    "gaussian-resnet18": {"recipe": {"arch": "resnet18", "epochs": 30, "milestones": [10, 20]},
                          "other_arch": "resnet50", "gpu_minutes_per_epoch": 35, "mem_mb": 16000},
}


def family(dataset: str, name: str, *, recipe: dict | None = None, other_arch_options: dict | None = None) -> dict:
    """The family ``<dataset>-<name>`` with config overrides applied to its base recipe.

    ``recipe`` overrides the paper's recipe (e.g. fewer epochs for the laptop default);
    ``other_arch_options`` replaces the different architecture's options.
    """
    key = f"{dataset}-{name}"
    if key not in FAMILIES:
        raise ValueError(f"unknown family {key!r}; allowed: {', '.join(FAMILIES)}")
    fam = copy.deepcopy(FAMILIES[key])
    fam["recipe"].update(copy.deepcopy(recipe or {}))
    if other_arch_options is not None:
        fam["other_arch_options"] = copy.deepcopy(other_arch_options)
    if "epochs" in (recipe or {}) and "milestones" not in (recipe or {}):
        fam["recipe"]["milestones"] = scaled_milestones(fam["recipe"]["epochs"])
    return fam


def resolve_zoo(family: dict, model: dict) -> dict:
    """The full recipe of one network of a zoo study: radically different architectures trained
    once each on the same data with the family's recipe (the paper's section 3.2 without
    pretrained weights).

    Parameters
    ----------
    family : a family (:func:`family`) whose ``recipe`` already holds the zoo's common overrides.
    model : ``{"arch": name, "arch_options": {...}, "recipe": {...}}``; ``recipe`` overrides the
        common recipe for this network only (e.g. a transformer's learning rate).

    The network trains E epochs (no extra epochs), with the base's seeds.
    """
    if "arch" not in model:
        raise ValueError("a zoo model needs `arch`")
    unknown = set(model.get("recipe") or {}) - set(BASE_RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; allowed: {', '.join(BASE_RECIPE)}")
    bad = {"arch", "arch_options", "extra_epochs"} & set(model.get("recipe") or {})
    if bad:
        raise ValueError(f"set {sorted(bad)} on the zoo model itself, not in its recipe")
    recipe = copy.deepcopy(BASE_RECIPE)
    recipe.update(copy.deepcopy(family["recipe"]))
    recipe.update(copy.deepcopy(model.get("recipe") or {}))
    if "epochs" in (model.get("recipe") or {}) and "milestones" not in (model.get("recipe") or {}):
        recipe["milestones"] = scaled_milestones(recipe["epochs"])
    recipe.update(arch=model["arch"], arch_options=copy.deepcopy(model.get("arch_options") or {}),
                  extra_epochs=0, condition="zoo", run_instance=1)
    return recipe


def training_resources(family: dict, dataset: dict, epochs: int) -> dict:
    """Slurm-style resources of one training job: ``runtime`` (minutes) and ``mem_mb``.

    Runtime = 1.5 x the family's GPU minutes per paper-scale epoch x the epochs trained x the share
    of the paper's training pixels this dataset has (Gaussian sizes scale it; local image datasets
    count as the paper's), at least 10 minutes. Jobs killed at the limit resume from their last
    checkpoint when resubmitted.
    """
    scale = 1.0
    if dataset["kind"] == "gaussian":
        scale = (dataset["n_classes"] * dataset["train_per_class"] * dataset["image_size"] ** 2) / (100 * 20000 * 224 ** 2)
    elif dataset["kind"] == "digits":
        scale = 1797 * 8 ** 2 / (100 * 20000 * 224 ** 2)  # at most every digit trains
    minutes = 1.5 * family["gpu_minutes_per_epoch"] * epochs * scale
    return {"runtime": max(10, int(minutes + 0.5)), "mem_mb": family["mem_mb"] if scale >= 0.1 else 4000}
