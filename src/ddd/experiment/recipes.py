"""Training recipes, families and the 13 conditions, as data.

A *recipe* is one flat dict that fully determines a training run (together with the dataset).
A *family* is a base network on a dataset with its "different architecture"; the 13 *conditions*
(SPEC section 3) are overrides of the family's base recipe that depend on the instance number.
Nothing here trains: :mod:`ddd.training.train` takes a resolved recipe and runs it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

# The common recipe (SPEC section 3). Every key is a knob of ddd.training.train.train_run.
BASE_RECIPE: dict = {
    "arch": "resnet18",         # a name from ddd.nets.architectures.available_models()
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

# The 13 conditions, in the paper's order (Figure 3). "runs" = trained networks per condition.
CONDITIONS: tuple[str, ...] = (
    "base", "plus_1_epoch", "plus_10_epochs", "optimizer", "batch_size", "init", "learning_rate",
    "hardware", "data_order", "architecture", "half_data", "combined", "different_data",
)
DISPLAY_NAMES = {
    "base": "Base", "plus_1_epoch": "Plus 1 epoch", "plus_10_epochs": "Plus 10 epochs",
    "optimizer": "Different optimiser", "batch_size": "Different batch size",
    "init": "Different initialisation", "learning_rate": "Different learning rate",
    "hardware": "Hardware non-determinism", "data_order": "Different data order",
    "architecture": "Different architecture", "half_data": "Half data", "combined": "Combined",
    "different_data": "Different data",
}
MULTI_INSTANCE = ("init", "learning_rate", "hardware", "data_order", "combined")
LR_SCALES = (1.48, 1.49, 1.50, 1.51, 1.52)  # x the base LR: 0.148 .. 0.152 for LR 0.1
PLUS_EPOCHS = {"plus_1_epoch": 1, "plus_10_epochs": 10}


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


@dataclass(frozen=True)
class Run:
    """One trained network: ``runs/{condition}/{instance}``."""
    condition: str
    instance: int

    @property
    def path(self) -> str:
        return f"{self.condition}/{self.instance}"


@dataclass(frozen=True)
class DecisionMaker:
    """One row of the analysis: a run at one epoch (``epoch=None``: the run's nominal final epoch E)."""
    name: str
    condition: str
    run: Run
    epoch_offset: int = 0


def trained_conditions(conditions) -> list[str]:
    """Conditions that need networks of their own (plus-epoch and half-data reuse others)."""
    need = set()
    for c in conditions:
        need.add({"plus_1_epoch": "base", "plus_10_epochs": "base", "half_data": "different_data"}.get(c, c))
    return [c for c in CONDITIONS if c in need]


def runs(conditions, *, instances: int) -> list[Run]:
    """Every network to train for these conditions (the base always)."""
    _check_conditions(conditions)
    if instances < 1:
        raise ValueError(f"instances must be >= 1, got {instances}")
    out = []
    for c in trained_conditions(set(conditions) | {"base"}):
        n = instances if c in MULTI_INSTANCE else 2 if c == "different_data" else 1
        out += [Run(c, i) for i in range(1, n + 1)]
    return out


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
    most = len(LR_SCALES) if condition in MULTI_INSTANCE else 2 if condition == "different_data" else 1
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


def decision_makers(conditions, *, instances: int) -> list[DecisionMaker]:
    """The distinct decision makers of a family, in condition order.

    Plus-epoch conditions are the base run's later epochs; half data contributes nothing of its
    own (its two networks are those of different data, SPEC section 3).
    """
    by_cond: dict[str, list[Run]] = {}
    for r in runs(conditions, instances=instances):
        by_cond.setdefault(r.condition, []).append(r)
    wanted = set(conditions) | {"base"}
    if "half_data" in wanted:  # half data is judged on the networks of different data
        wanted.add("different_data")
    out = []
    for c in CONDITIONS:
        if c not in wanted:
            continue
        if c in PLUS_EPOCHS:
            out.append(DecisionMaker(c, c, Run("base", 1), PLUS_EPOCHS[c]))
        elif c != "half_data":
            out += [DecisionMaker(c if len(by_cond[c]) == 1 else f"{c}/{r.instance}", c, r)
                    for r in by_cond[c]]
    return out


def _check_conditions(conditions) -> None:
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        raise ValueError(f"unknown condition(s) {bad}; allowed: {', '.join(CONDITIONS)}")


# The paper's five families (SPEC section 3), keyed "<dataset>-<family>". "recipe" overrides
# BASE_RECIPE; the "different architecture" has its own options and overrides (DenseNet-121 on
# ImageNet trains with batch 64).
# "gpu_minutes_per_epoch": an estimate of one training epoch plus its evaluation at the paper's
# data size on one 2080 Ti-class GPU (the paper's hardware), from published throughputs; it
# sizes the SLURM runtime of each job (ddd.config.Config.train_resources) and the README's
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
        e = fam["recipe"]["epochs"]  # keep the paper's schedule shape: /10 at 1/3 and 2/3
        fam["recipe"]["milestones"] = sorted({min(e, max(1, round(e / 3))), min(e, max(1, round(2 * e / 3)))})
    return fam


def resolve_zoo(family: dict, model: dict) -> dict:
    """The full recipe of one network of a zoo study: radically different architectures trained
    once each on the same data with the family's recipe (issue 6, the paper's section 3.2 without
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
        e = recipe["epochs"]
        recipe["milestones"] = sorted({min(e, max(1, round(e / 3))), min(e, max(1, round(2 * e / 3)))})
    recipe.update(arch=model["arch"], arch_options=copy.deepcopy(model.get("arch_options") or {}),
                  extra_epochs=0, condition="zoo", run_instance=1)
    return recipe
