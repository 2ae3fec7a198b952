"""Tests of ddd.experiment.conditions and ddd.experiment.recipes: the 13 conditions, their runs, decision
makers and resolved recipes."""

import copy
from collections import Counter

import pytest

from ddd.experiment import conditions, recipes
from ddd.experiment.conditions import (CONDITIONS, DISPLAY_NAMES, MULTI_INSTANCE, parse_run, runs,
                                       trained_conditions)
from ddd.experiment.makers import DecisionMaker
from ddd.experiment.recipes import BASE_RECIPE, FAMILIES, family, resolve
from ddd.nets import available_models

TRAINED = ["base", "optimizer", "batch_size", "init", "learning_rate", "hardware", "data_order",
           "architecture", "combined", "different_data"]
GAUSSIAN = FAMILIES["gaussian-resnet18"]
E = 30  # the nominal final epoch the decision makers below are built for


def path(run):
    """The decisions file of a run id (the study's path grammar is tested in test_config.py)."""
    return f"runs/{run}.h5"


def decision_makers(conds, *, instances):
    return conditions.decision_makers(conds, instances=instances, epochs=E, decisions=path)


def run_id(condition, instance):
    """A run id, ``<condition>/<instance>``."""
    return f"{condition}/{instance}"


def test_conditions_in_the_papers_order():
    assert CONDITIONS == ("base", "plus_1_epoch", "plus_10_epochs", "optimizer", "batch_size", "init",
                          "learning_rate", "hardware", "data_order", "architecture", "half_data", "combined",
                          "different_data")
    assert len(CONDITIONS) == 13
    assert list(DISPLAY_NAMES) == list(CONDITIONS)
    assert set(MULTI_INSTANCE) == {"init", "learning_rate", "hardware", "data_order", "combined"}


def test_trained_conditions():
    assert trained_conditions(CONDITIONS) == TRAINED
    assert trained_conditions(["plus_1_epoch"]) == ["base"]
    assert trained_conditions(["half_data", "init"]) == ["init", "different_data"]


def test_31_runs_per_family():
    rs = runs(CONDITIONS, instances=5)
    assert len(rs) == 31  # SPEC section 3
    assert len(set(rs)) == 31
    counts = Counter(parse_run(r)[0] for r in rs)
    assert counts == {"base": 1, "optimizer": 1, "batch_size": 1, "init": 5, "learning_rate": 5, "hardware": 5,
                      "data_order": 5, "architecture": 1, "combined": 5, "different_data": 2}
    assert [parse_run(r)[1] for r in rs if parse_run(r)[0] == "init"] == [1, 2, 3, 4, 5]
    assert rs[0] == run_id("base", 1)
    # condition order follows the paper
    order = [c for c in TRAINED if c in counts]
    assert list(dict.fromkeys(parse_run(r)[0] for r in rs)) == order


def test_run_counts_at_two_instances():
    rs = runs(CONDITIONS, instances=2)
    assert len(rs) == 16  # 5 single + 5 x 2 multi + 2 different data
    counts = Counter(parse_run(r)[0] for r in rs)
    assert counts["init"] == counts["combined"] == 2 and counts["different_data"] == 2
    assert counts["base"] == counts["architecture"] == 1
    assert len(runs(CONDITIONS, instances=1)) == 11


def test_runs_subset_and_errors():
    assert runs(["optimizer"], instances=5) == [run_id("base", 1), run_id("optimizer", 1)]
    assert runs([], instances=3) == [run_id("base", 1)]  # the base always
    assert runs(["plus_10_epochs"], instances=5) == [run_id("base", 1)]
    assert runs(["half_data"], instances=5) == [run_id("base", 1), run_id("different_data", 1),
                                                run_id("different_data", 2)]
    with pytest.raises(ValueError, match="unknown condition.*'warp'"):
        runs(["base", "warp"], instances=2)
    with pytest.raises(ValueError, match="instances"):
        runs(CONDITIONS, instances=0)


def test_run_path():
    assert run_id("init", 3) == "init/3"
    assert parse_run("init/3") == ("init", 3)
    assert all(run_id(*parse_run(r)) == r for r in runs(CONDITIONS, instances=5))
    for bad in ("init", "warp/1", "init/x", "Base/1"):
        with pytest.raises(ValueError, match="<condition>/<instance>"):
            parse_run(bad)


def test_decision_makers_all_conditions():
    dms = decision_makers(CONDITIONS, instances=5)
    names = [d.name for d in dms]
    assert len(names) == len(set(names))  # distinct
    assert len(dms) == 33  # 31 networks + the base's two later epochs; half data adds nothing
    by_name = {d.name: d for d in dms}
    assert by_name["base"] == DecisionMaker("base", "base", path(run_id("base", 1)), E, 0)
    assert by_name["plus_1_epoch"].path == path(run_id("base", 1)) and by_name["plus_1_epoch"].offset == 1
    assert by_name["plus_1_epoch"].epoch == E + 1
    assert by_name["plus_10_epochs"].path == path(run_id("base", 1)) and by_name["plus_10_epochs"].offset == 10
    assert by_name["plus_10_epochs"].epoch == E + 10
    assert not [d for d in dms if d.condition == "half_data"]
    dd = [d for d in dms if d.condition == "different_data"]
    assert [d.path for d in dd] == [path(run_id("different_data", 1)), path(run_id("different_data", 2))]
    assert [d.name for d in dd] == ["different_data/1", "different_data/2"]
    assert [d.name for d in dms if d.condition == "init"] == [f"init/{i}" for i in range(1, 6)]
    assert by_name["optimizer"].path == path(run_id("optimizer", 1))
    # every network appears exactly once at offset 0, at the nominal final epoch E
    assert sorted(d.path for d in dms if d.offset == 0) == sorted(map(path, runs(CONDITIONS, instances=5)))
    assert {d.epoch for d in dms if d.offset == 0} == {E}
    assert all(d.epoch == E + d.offset for d in dms)
    # condition order
    conds = list(dict.fromkeys(d.condition for d in dms))
    assert conds == [c for c in CONDITIONS if c != "half_data"]


def test_decision_makers_single_instance_names():
    dms = decision_makers(CONDITIONS, instances=1)
    names = [d.name for d in dms]
    assert "init" in names and "combined" in names and "init/1" not in names
    assert "different_data/1" in names and "different_data/2" in names
    assert len(names) == len(set(names)) == 13


def test_decision_makers_subset():
    dms = decision_makers(["plus_1_epoch"], instances=5)
    assert [(d.name, d.offset) for d in dms] == [("base", 0), ("plus_1_epoch", 1)]


def test_decision_makers_half_data_alone_keeps_its_networks():
    dms = decision_makers(["half_data"], instances=2)
    trained = {path(r) for r in runs(["half_data"], instances=2)}
    assert {d.path for d in dms} == trained


# --- resolve -----------------------------------------------------------------------------------------


def test_resolve_base():
    r = resolve(GAUSSIAN, "base", 1)
    assert r["extra_epochs"] == 10  # the base trains E + 10 so that plus 1 / plus 10 exist
    assert r["arch"] == "resnet18" and r["epochs"] == 30 and r["milestones"] == [10, 20]
    assert r["condition"] == "base" and r["run_instance"] == 1
    assert set(r) == set(BASE_RECIPE) | {"condition", "run_instance"}
    for key in ("lr", "momentum", "weight_decay", "batch_size", "nesterov", "batch_splits", "global_seed",
                "init_seed", "order_seed", "order_stride", "eval_seed", "train_subset", "deterministic", "gamma"):
        assert r[key] == BASE_RECIPE[key], key
    assert (r["lr"], r["momentum"], r["weight_decay"], r["batch_size"]) == (0.1, 0.9, 1e-4, 256)
    assert r["init_seed"] == r["order_seed"] == r["global_seed"] == r["eval_seed"] == 1312
    assert r["deterministic"] is True and r["nesterov"] is False and r["train_subset"] == "all"


def _diff(recipe):
    base = resolve(GAUSSIAN, "base", 1)
    return {k: v for k, v in recipe.items()
            if k not in ("condition", "run_instance", "extra_epochs") and v != base[k]}


def test_resolve_single_conditions():
    assert _diff(resolve(GAUSSIAN, "optimizer", 1)) == {"nesterov": True}
    assert _diff(resolve(GAUSSIAN, "batch_size", 1)) == {"batch_splits": 2}
    assert _diff(resolve(GAUSSIAN, "architecture", 1)) == {"arch": "resnet50"}
    # only the base trains the extra epochs
    for c in TRAINED:
        inst = 1
        assert resolve(GAUSSIAN, c, inst)["extra_epochs"] == (10 if c == "base" else 0), c


@pytest.mark.parametrize("i", range(1, 6))
def test_resolve_multi_instance_conditions(i):
    assert _diff(resolve(GAUSSIAN, "init", i)) == {"init_seed": 1312 + i, "instance": i}
    lr = resolve(GAUSSIAN, "learning_rate", i)["lr"]
    assert lr == [0.148, 0.149, 0.150, 0.151, 0.152][i - 1]
    assert _diff(resolve(GAUSSIAN, "learning_rate", i)) == {"lr": lr, "instance": i}
    assert _diff(resolve(GAUSSIAN, "hardware", i)) == {"deterministic": False, "instance": i}
    assert _diff(resolve(GAUSSIAN, "data_order", i)) == {"order_stride": 100, "instance": i}
    combined = resolve(GAUSSIAN, "combined", i)
    assert _diff(combined) == {"arch": "resnet50", "nesterov": True, "order_stride": 100, "instance": i,
                               "init_seed": 1312 + i, "lr": lr}
    assert combined["deterministic"] is True and combined["batch_splits"] == 1


def test_resolve_different_data():
    assert resolve(GAUSSIAN, "different_data", 1)["train_subset"] == "half1"
    assert resolve(GAUSSIAN, "different_data", 2)["train_subset"] == "half2"
    assert _diff(resolve(GAUSSIAN, "different_data", 2)) == {"train_subset": "half2", "instance": 2}
    assert resolve(GAUSSIAN, "different_data", 1)["subset_seed"] == 1312


def test_resolve_learning_rate_scales_with_family_lr():
    fam = family("gaussian", "resnet18", recipe={"lr": 0.2})
    assert [resolve(fam, "learning_rate", i)["lr"] for i in range(1, 6)] == [0.296, 0.298, 0.3, 0.302, 0.304]
    assert resolve(fam, "base", 1)["lr"] == 0.2


@pytest.mark.parametrize("condition", ["plus_1_epoch", "plus_10_epochs", "half_data", "warp", "Base"])
def test_resolve_refuses_untrained_conditions(condition):
    with pytest.raises(ValueError, match=f"condition '{condition}' is not trained"):
        resolve(GAUSSIAN, condition, 1)


def test_resolve_refuses_unknown_recipe_keys():
    fam = copy.deepcopy(GAUSSIAN)
    fam["recipe"]["learning_rate"] = 0.3
    with pytest.raises(ValueError, match="unknown recipe keys.*learning_rate"):
        resolve(fam, "base", 1)


def test_resolve_does_not_alias_its_inputs():
    fam = family("gaussian", "resnet18", recipe={"arch_options": {"width": 4}},
                 other_arch_options={"width": 4, "stem": "cifar"})
    before = copy.deepcopy(fam)
    r = resolve(fam, "architecture", 1)
    r["arch_options"]["width"] = 99
    r2 = resolve(fam, "base", 1)
    r2["arch_options"]["width"] = 98
    r2["milestones"].append(5)
    assert fam == before
    assert BASE_RECIPE["arch_options"] == {} and BASE_RECIPE["milestones"] == [10, 20]


def test_architecture_condition_uses_other_arch_options():
    fam = family("gaussian", "resnet18", recipe={"arch_options": {"width": 16, "stem": "cifar"}},
                 other_arch_options={"width": 8, "stem": "cifar_nopool"})
    assert resolve(fam, "base", 1)["arch_options"] == {"width": 16, "stem": "cifar"}
    for c in ("architecture", "combined"):
        r = resolve(fam, c, 1)
        assert r["arch"] == "resnet50" and r["arch_options"] == {"width": 8, "stem": "cifar_nopool"}


# --- families ----------------------------------------------------------------------------------------


def test_families_are_the_papers():
    assert set(FAMILIES) == {"imagenet-resnet18", "imagenet-vgg11", "imagenet-densenet121",
                             "cifar100-resnet18", "gaussian-resnet18"}
    expect = {  # family: (arch, epochs, batch, other arch) -- SPEC section 3
        "imagenet-resnet18": ("resnet18", 90, 256, "densenet121"),
        "imagenet-vgg11": ("vgg11", 30, 256, "alexnet"),
        "imagenet-densenet121": ("densenet121", 30, 64, "resnet50"),
        "cifar100-resnet18": ("resnet18", 30, 256, "densenet121"),
        "gaussian-resnet18": ("resnet18", 30, 256, "resnet50"),
    }
    for key, (arch, epochs, batch, other) in expect.items():
        r = resolve(FAMILIES[key], "base", 1)
        assert (r["arch"], r["epochs"], r["batch_size"], FAMILIES[key]["other_arch"]) == \
            (arch, epochs, batch, other), key
        assert r["milestones"] == ([30, 60] if epochs == 90 else [10, 20]), key
        assert r["arch"] in available_models() and FAMILIES[key]["other_arch"] in available_models()


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_every_family_resolves_every_trained_condition(key):
    fam = FAMILIES[key]
    for r in runs(CONDITIONS, instances=5):
        condition, instance = parse_run(r)
        recipe = resolve(fam, condition, instance)
        assert recipe["condition"] == condition and recipe["run_instance"] == instance
        other = condition in ("architecture", "combined")
        assert recipe["arch"] == (fam["other_arch"] if other else fam["recipe"]["arch"])
        assert set(recipe) == set(BASE_RECIPE) | {"condition", "run_instance"}


def test_family_specific_overrides():
    rn = FAMILIES["imagenet-resnet18"]
    assert resolve(rn, "base", 1)["batch_size"] == 256
    arch = resolve(rn, "architecture", 1)
    assert (arch["arch"], arch["batch_size"]) == ("densenet121", 64)
    assert resolve(rn, "combined", 3)["batch_size"] == 64
    dn = FAMILIES["imagenet-densenet121"]
    assert resolve(dn, "base", 1)["batch_size"] == 64
    assert (resolve(dn, "architecture", 1)["arch"], resolve(dn, "architecture", 1)["batch_size"]) == ("resnet50", 64)
    cifar = FAMILIES["cifar100-resnet18"]
    assert resolve(cifar, "base", 1)["arch_options"] == {"stem": "cifar"}
    assert resolve(cifar, "architecture", 1)["arch_options"] == {"stem": "cifar"}
    assert resolve(cifar, "architecture", 1)["arch"] == "densenet121"
    vgg = FAMILIES["imagenet-vgg11"]
    assert (resolve(vgg, "combined", 1)["arch"], resolve(vgg, "combined", 1)["arch_options"]) == ("alexnet", {})


def test_family_overrides_and_milestone_scaling():
    fam = family("gaussian", "resnet18", recipe={"epochs": 9})
    assert fam["recipe"]["epochs"] == 9 and fam["recipe"]["milestones"] == [3, 6]
    assert family("gaussian", "resnet18", recipe={"epochs": 90})["recipe"]["milestones"] == [30, 60]
    assert family("gaussian", "resnet18", recipe={"epochs": 8})["recipe"]["milestones"] == [3, 5]
    # explicit milestones win
    fam = family("gaussian", "resnet18", recipe={"epochs": 9, "milestones": [4]})
    assert fam["recipe"]["milestones"] == [4]
    # no epochs override: the paper's schedule
    assert family("imagenet", "resnet18", recipe={"lr": 0.05})["recipe"]["milestones"] == [30, 60]
    assert family("imagenet", "resnet18")["recipe"] == FAMILIES["imagenet-resnet18"]["recipe"]
    # other_arch_options replaces the family's
    fam = family("cifar100", "resnet18", other_arch_options={"stem": "cifar_nopool"})
    assert fam["other_arch_options"] == {"stem": "cifar_nopool"}
    # FAMILIES itself is never modified
    assert FAMILIES["gaussian-resnet18"]["recipe"]["epochs"] == 30
    assert "other_arch_options" not in FAMILIES["gaussian-resnet18"]
    assert FAMILIES["cifar100-resnet18"]["other_arch_options"] == {"stem": "cifar"}


@pytest.mark.parametrize("epochs", [
    1,
    2, 3, 4])
def test_scaled_milestones_are_valid_for_short_runs(epochs):
    """Scaled milestones stay within 1..E, as the schema demands of user-given ones."""
    ms = family("gaussian", "resnet18", recipe={"epochs": epochs})["recipe"]["milestones"]
    assert all(1 <= m <= epochs for m in ms), ms


def test_family_unknown():
    with pytest.raises(ValueError, match="unknown family 'gaussian-vgg11'"):
        family("gaussian", "vgg11")
    with pytest.raises(ValueError, match="allowed: .*imagenet-resnet18"):
        family("mnist", "resnet18")


def test_module_constants_untouched_by_everything_above():
    # guards against the tests (or the code) mutating shared state
    assert recipes.BASE_RECIPE["epochs"] == 30 and recipes.BASE_RECIPE["extra_epochs"] == 0
    assert conditions.LR_SCALES == (1.48, 1.49, 1.50, 1.51, 1.52)
    assert conditions.PLUS_EPOCHS == {"plus_1_epoch": 1, "plus_10_epochs": 10}


@pytest.mark.parametrize("condition, instance", [("different_data", 3), ("init", 0), ("base", 2)])
def test_resolve_refuses_impossible_instances(condition, instance):
    with pytest.raises(ValueError, match="instance"):
        resolve(GAUSSIAN, condition, instance)
