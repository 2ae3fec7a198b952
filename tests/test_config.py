"""Tests of the workflow config: the JSON schema, config/config.yaml, ddd.config.resolve_config and the
study kinds it resolves to (ddd.config.studies)."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from ddd.config.resolve import DATASET_DEFAULTS, ConfigError, resolve_config
from ddd.config.schema import check_schema
from ddd.config.studies import TrainStudy, ZooStudy
from ddd.experiment import conditions as cond
from ddd.experiment import recipes
from ddd.experiment.makers import DecisionMaker
from ddd.nets import make_model

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
CONFIG_FILE = ROOT / "config" / "config.yaml"
STUDY = "laptop-gaussian"
ZOO = "laptop-zoo"


@pytest.fixture(scope="module")
def schema():
    return yaml.safe_load(open(SCHEMA))


@pytest.fixture
def cfg():
    return yaml.safe_load(open(CONFIG_FILE))


def minimal(**train):
    return {"studies": {"s": {"train": {"dataset": "gaussian", "family": "resnet18", **train}}}}


def check(config):
    check_schema(config, SCHEMA)


# --- the default config ------------------------------------------------------------------------------


def test_default_config_is_schema_valid(cfg):
    check(copy.deepcopy(cfg))


def test_default_config_resolves(cfg):
    c = resolve_config(cfg)
    assert list(c.studies) == [STUDY, ZOO]
    zoo = c.study(ZOO)
    assert isinstance(zoo, ZooStudy) and zoo.kind == "zoo" and len(zoo.decision_makers()) == 7
    assert c.names("zoo") == [ZOO] and c.names("train") == [STUDY]
    s = c.study(STUDY)
    assert isinstance(s, TrainStudy) and s.kind == "train"
    assert s.instances == 1 and s.epochs == 8 and s.dataset["name"] == "gaussian-8px"
    assert s.conditions == list(cond.CONDITIONS)
    assert s.runs() == cond.runs(cond.CONDITIONS, instances=1)
    assert len(s.runs()) == 11
    assert c.device == "auto" and c.undefined_kappa == "nan"
    ds = c.dataset(STUDY)
    assert ds == {"name": "gaussian-8px", "kind": "gaussian", "n_classes": 100, "image_size": 8, "train_per_class": 1000,
                  "val_per_class": 50, "seed": 1312, "encoding": "log_abs", "transforms": "small"}
    ds["seed"] = 0  # a copy
    assert c.dataset(STUDY)["seed"] == 1312


def test_default_config_recipes(cfg):
    lr = cfg["studies"][STUDY]["train"]["recipe"]["lr"]  # the configured peak LR (0.1 at present)
    c = resolve_config(cfg)
    s = c.study(STUDY)
    base = s.recipe("base/1")
    assert (base["epochs"], base["extra_epochs"], base["lr"], base["schedule"], base["weight_decay"]) == \
        (8, 10, lr, "onecycle", 0.0005)
    assert base["arch"] == "resnet18" and base["arch_options"] == {"width": 16, "stem": "cifar"}
    assert base["milestones"] == [3, 5]  # scaled to E = 8 (unused by onecycle)
    arch = s.recipe("architecture/1")
    assert arch["arch"] == "resnet50" and arch["arch_options"] == {"width": 12, "stem": "cifar"}
    # "different learning rate": 1.48 x the configured LR (0.148 for LR 0.1)
    assert s.recipe("learning_rate/1")["lr"] == pytest.approx(1.48 * lr, rel=1e-9)
    if lr == 0.1:
        assert s.recipe("learning_rate/1")["lr"] == 0.148
    # every run resolves, and every architecture it names builds and runs on the configured images
    built = {}
    size = c.dataset(STUDY)["image_size"]
    import torch
    for r in s.runs():
        rec = s.recipe(r)
        key = (rec["arch"], tuple(sorted(rec["arch_options"].items())))
        if key not in built:
            model = make_model(rec["arch"], c.dataset(STUDY)["n_classes"], **rec["arch_options"]).eval()
            with torch.no_grad():
                built[key] = model(torch.zeros(1, 3, size, size)).shape
    assert set(built.values()) == {(1, 100)} and len(built) == 2


def test_default_config_entries(cfg):
    c = resolve_config(cfg)
    s = c.study(STUDY)
    entries = s.decision_makers()
    names = [e.name for e in entries]
    assert len(names) == len(set(names)) == 13  # 11 networks + plus 1 / plus 10 epochs
    by = {e.name: e for e in entries}
    assert by["base"] == DecisionMaker("base", "base", f"results/{STUDY}/runs/base/1.h5", 8)
    assert by["plus_1_epoch"].path == by["base"].path and by["plus_1_epoch"].epoch == 9
    assert by["plus_10_epochs"].epoch == 18
    assert by["init"].path == f"results/{STUDY}/runs/init/1.h5" and by["init"].epoch == 8
    assert by["different_data/2"].path == f"results/{STUDY}/runs/different_data/2.h5"
    assert "half_data" not in {e.condition for e in entries}
    # the analysis reads every network's decisions file once
    assert s.run_files() == sorted({e.path for e in entries}) and len(s.run_files()) == 11


def test_config_refuses_runs_and_studies_it_does_not_have(cfg):
    c = resolve_config(cfg)
    s = c.study(STUDY)
    with pytest.raises(ConfigError, match="no run init/2"):
        s.recipe("init/2")  # instances: 1
    with pytest.raises(ConfigError, match="no run init/2"):
        s.resources("init/2")
    with pytest.raises(ConfigError, match="no run plus_1_epoch/1"):
        s.recipe("plus_1_epoch/1")
    with pytest.raises(ConfigError, match="unknown study 'nope'"):
        c.study("nope")
    with pytest.raises(ConfigError, match="unknown study"):
        c.dataset("nope")


# --- resolve_config: defaults and errors -------------------------------------------------------------


def test_minimal_config_gets_the_papers_defaults():
    config = minimal()
    check(copy.deepcopy(config))
    c = resolve_config(config)
    s = c.study("s")
    assert s.instances == 5 and len(s.runs()) == 31 and s.epochs == 30
    assert c.dataset("s") == {"name": "gaussian", "kind": "gaussian", **DATASET_DEFAULTS["gaussian"]}
    assert s.recipe("base/1")["milestones"] == [10, 20]
    assert c.device == "auto" and c.undefined_kappa == "nan"
    # the built-in image datasets are known, without a root until one is configured
    assert c.datasets["imagenet"] == {"name": "imagenet", "kind": "imagenet", "root": None,
                                      "config_key": "imagenet_root"}
    assert c.datasets["cifar100"] == {"name": "cifar100", "kind": "cifar100", "root": None,
                                      "config_key": "cifar100_root"}
    assert sorted(c.datasets) == ["cifar100", "gaussian", "imagenet"]


def test_image_dataset_blocks(fake_imagenet, fake_cifar_pickle, fake_imagefolder):
    config = {"imagenet_root": str(fake_imagenet), "cifar100_root": str(fake_cifar_pickle),
              "imagefolders": {"pets": str(fake_imagefolder)},
              "studies": {"i": {"train": {"dataset": "imagenet", "family": "vgg11"}},
                          "c": {"train": {"dataset": "cifar100", "family": "resnet18"}},
                          "p": {"train": {"dataset": "pets", "family": "densenet121"}}}}
    check(copy.deepcopy(config))
    c = resolve_config(config)
    assert c.dataset("i") == {"name": "imagenet", "kind": "imagenet", "root": str(fake_imagenet),
                              "config_key": "imagenet_root"}
    assert c.dataset("c") == {"name": "cifar100", "kind": "cifar100", "root": str(fake_cifar_pickle),
                              "config_key": "cifar100_root"}
    assert c.dataset("p") == {"name": "pets", "kind": "imagefolder", "root": str(fake_imagefolder),
                              "config_key": "imagefolders.pets"}
    # an image folder trains with the ImageNet recipes (224 px): DenseNet-121 at batch 64
    assert c.study("p").base_arch == "densenet121" and c.study("p").recipe("base/1")["batch_size"] == 64
    assert c.study("c").recipe("base/1")["arch_options"] == {"stem": "cifar"}
    c.dataset("p")["root"] = "elsewhere"  # a copy
    assert c.dataset("p")["root"] == str(fake_imagefolder)


def test_unknown_dataset_is_refused_by_resolve_config():
    config = minimal()
    config["studies"]["s"]["train"]["dataset"] = "mnist"
    check(copy.deepcopy(config))  # any string passes the schema: image folders are named by the user
    with pytest.raises(ConfigError, match=re.escape(
            "studies.s.train.dataset: unknown dataset 'mnist'; allowed: cifar100, gaussian, imagenet")):
        resolve_config(config)
    # a configured image folder is allowed, and named in the message
    config["imagefolders"] = {"pets": "/nowhere"}
    config["studies"]["s"]["train"]["dataset"] = "mnist"
    with pytest.raises(ConfigError, match=re.escape("allowed: cifar100, gaussian, imagenet, pets")):
        resolve_config(config)


def test_imagefolder_may_not_shadow_a_built_in_dataset(fake_imagefolder):
    config = minimal()
    config["imagefolders"] = {"imagenet": str(fake_imagefolder)}
    check(copy.deepcopy(config))
    with pytest.raises(ConfigError, match=re.escape(
            "imagefolders.imagenet: the name is taken by a built-in dataset")):
        resolve_config(config)


@pytest.mark.parametrize("dataset, family, key", [
    ("imagenet", "resnet18", "imagenet_root"),
    ("cifar100", "resnet18", "cifar100_root"),
    ("pets", "vgg11", "imagefolders.pets"),
])
def test_image_dataset_root_is_checked(tmp_path, dataset, family, key):
    config = {"studies": {"s": {"train": {"dataset": dataset, "family": family}}}}
    if dataset == "pets":
        config["imagefolders"] = {"pets": ""}
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)} is not set"):
        resolve_config(copy.deepcopy(config))
    # given, the root's layout is checked (an empty folder has none); the message names path and key
    if dataset == "pets":
        config["imagefolders"] = {"pets": str(tmp_path)}
    else:
        config[key] = str(tmp_path)
    with pytest.raises(ConfigError, match="Expected layout") as err:
        resolve_config(config)
    assert str(tmp_path) in str(err.value) and f"`{key}`" in str(err.value)


def test_condition_subset():
    c = resolve_config(minimal(conditions=["optimizer", "plus_10_epochs"], instances=3))
    assert c.study("s").runs() == ["base/1", "optimizer/1"]
    assert [e.name for e in c.study("s").decision_makers()] == ["base", "plus_10_epochs", "optimizer"]


def test_config_does_not_modify_its_input(cfg):
    before = copy.deepcopy(cfg)
    c = resolve_config(cfg)
    c.study(STUDY).recipe("base/1")["arch_options"]["width"] = 3
    assert cfg == before
    assert c.study(STUDY).recipe("base/1")["arch_options"]["width"] == 16  # a recipe is a copy
    assert resolve_config(cfg).study(STUDY).recipe("base/1")["arch_options"]["width"] == 16


@pytest.mark.parametrize("family", ["vgg11", "densenet121"])
def test_unknown_dataset_family_pair(family):
    config = minimal()
    config["studies"]["s"]["train"]["family"] = family
    check(copy.deepcopy(config))  # schema-valid, but no such family on the Gaussian set
    with pytest.raises(ConfigError, match=rf"studies\.s\.train: no family '{family}' on dataset 'gaussian'"):
        resolve_config(config)


def test_milestones_beyond_epochs():
    config = minimal(recipe={"epochs": 5, "milestones": [3, 6]})
    check(copy.deepcopy(config))
    with pytest.raises(ConfigError, match=r"studies\.s\.train\.recipe\.milestones \[3, 6\] exceed epochs 5"):
        resolve_config(config)
    resolve_config(minimal(recipe={"epochs": 6, "milestones": [3, 6]}))  # == E is allowed


def test_no_studies():
    for config in ({}, {"studies": {}}, {"studies": None}, {"device": "cpu"}):
        with pytest.raises(ConfigError, match="no studies"):
            resolve_config(config)


def test_study_kind_and_conditions_errors():
    with pytest.raises(ConfigError, match=r"studies\.s: exactly one of \[train, zoo, pretrained, external\]"):
        resolve_config({"studies": {"s": {}}})
    with pytest.raises(ConfigError, match=r"studies\.s\.train\.conditions: unknown \['warp'\]"):
        resolve_config(minimal(conditions=["base", "warp"]))
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        resolve_config(minimal(recipe={"epochs": 0}))


def test_architecture_option_values_are_checked_at_planning():
    """Values planning can judge without building (stems, sizes) are refused with the key and the
    allowed values, for the base, the different architecture and a zoo's networks alike."""
    with pytest.raises(ConfigError, match=r"studies\.s\.train\.recipe\.arch_options: .*unknown stem 'big'; "
                                          r"allowed: imagenet, cifar, cifar_nopool"):
        resolve_config(minimal(recipe={"arch_options": {"stem": "big"}}))
    with pytest.raises(ConfigError, match=r"studies\.s\.train\.other_arch_options: .*width must be a positive "
                                          r"integer, got 0"):
        resolve_config(minimal(other_arch_options={"width": 0}))
    with pytest.raises(ConfigError, match=r"studies\.s\.train\.recipe\.arch_options: .*unknown options 'depth'"):
        resolve_config(minimal(recipe={"arch_options": {"depth": 3}}))
    zoo = {"studies": {"z": {"zoo": {"dataset": "gaussian", "models": {
        "vit": {"arch": "zoo_vit", "arch_options": {"patch_size": 2.5}}}}}}}
    with pytest.raises(ConfigError, match=r"studies\.z\.zoo\.models\.vit: .*patch_size must be a positive integer"):
        resolve_config(zoo)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_dataset_and_analysis_overrides():
    config = minimal()
    config["datasets"] = {"gaussian": {"image_size": 16, "encoding": "standard"}}
    config["analysis"] = {"undefined_kappa": "mvh"}
    config["device"] = "cpu"
    check(copy.deepcopy(config))
    c = resolve_config(config)
    ds = c.dataset("s")
    assert ds["image_size"] == 16 and ds["encoding"] == "standard" and ds["n_classes"] == 100
    assert c.undefined_kappa == "mvh" and c.device == "cpu"


# --- schema validation -------------------------------------------------------------------------------


def _refused(config, *needles):
    with pytest.raises(ConfigError) as err:
        check(config)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value)[:500])


def test_schema_refuses_unknown_top_level_key(cfg):
    cfg["learning_rate"] = 0.1
    _refused(cfg, "the config: unknown key 'learning_rate'; allowed: run, studies,")


def test_schema_refuses_unknown_recipe_key(cfg):
    cfg["studies"][STUDY]["train"]["recipe"]["learnin_rate"] = 0.1
    _refused(cfg, f"studies.{STUDY}.train.recipe: unknown key 'learnin_rate'; allowed: epochs, batch_size, lr,")


def test_schema_refuses_unknown_keys_elsewhere(cfg):
    for where in ("study", "train", "dataset", "arch_options"):
        c = copy.deepcopy(cfg)
        t = c["studies"][STUDY]["train"]
        {"study": c["studies"][STUDY], "train": t, "dataset": c["datasets"]["gaussian-8px"],
         "arch_options": t["recipe"]["arch_options"]}[where]["bogus_key"] = 1
        _refused(c, "unknown key 'bogus_key'; allowed: ")


def test_schema_refuses_wrong_type(cfg):
    cfg["studies"][STUDY]["train"]["recipe"]["epochs"] = "ten"
    _refused(cfg, f"studies.{STUDY}.train.recipe.epochs: 'ten' is not an integer")


def test_schema_refuses_negative_epochs(cfg):
    cfg["studies"][STUDY]["train"]["recipe"]["epochs"] = -3
    _refused(cfg, f"studies.{STUDY}.train.recipe.epochs: -3 must be >= 1")


def test_schema_refuses_unknown_condition(cfg):
    cfg["studies"][STUDY]["train"]["conditions"] = ["base", "warp_speed"]
    _refused(cfg, f"studies.{STUDY}.train.conditions[1]: unknown condition 'warp_speed'; allowed: base, "
                  "plus_1_epoch, plus_10_epochs, optimizer")


@pytest.mark.parametrize("path, value, needle", [
    (("train", "instances"), 6, "instances"),
    (("train", "instances"), 0, "instances"),
    (("train", "recipe", "schedule"), "cosine", "'cosine'"),
    (("train", "recipe", "lr"), 0, "lr"),
    (("train", "recipe", "milestones"), [0, 5], "milestones"),
    (("train", "recipe", "arch_options", "stem"), "big", "'big'"),
    (("train", "recipe", "arch_options", "width"), 0, "width"),
    (("train", "conditions"), [], "conditions"),
    (("train", "conditions"), ["base", "base"], "conditions"),
])
def test_schema_refuses_bad_values(cfg, path, value, needle):
    node = cfg["studies"][STUDY]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _refused(cfg, needle)


def test_schema_refuses_bad_top_level_values(cfg):
    for key, value in (("device", "tpu"), ("analysis", {"undefined_kappa": "zero"})):
        c = copy.deepcopy(cfg)
        c[key] = value
        _refused(c, repr(value) if isinstance(value, str) else "'zero'")
    c = copy.deepcopy(cfg)
    c["studies"]["bad name!"] = c["studies"][STUDY]
    _refused(c, "bad name!")
    c = copy.deepcopy(cfg)
    del c["studies"][STUDY]["train"]["family"]
    _refused(c, f"studies.{STUDY}.train: missing key 'family'")
    # dataset roots: a string or null; image folders: name -> path string
    for key, value, needle in (("imagenet_root", 3, "imagenet_root: 3 is not a string or null"),
                               ("cifar100_root", ["a"], "cifar100_root: ['a'] is not a string or null"),
                               ("imagefolders", {"pets": 3}, "imagefolders.pets: 3 is not a string"),
                               ("imagefolders", {"pets": None}, "imagefolders.pets: None is not a string"),
                               ("imagefolders", {"bad name!": "/x"}, "'bad name!' does not match")):
        c = copy.deepcopy(cfg)
        c[key] = value
        _refused(c, needle)
    c = copy.deepcopy(cfg)
    c.update(imagenet_root=None, cifar100_root="/data/cifar100", imagefolders={"pets": "/data/pets"})
    check(c)


def _properties(node, path="$"):
    """Yield (path, schema) for every entry of every `properties` mapping, recursively."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                for name, sub in value.items():
                    yield f"{path}.{name}", sub
                    yield from _properties(sub, f"{path}.{name}")
            else:
                yield from _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _properties(item, f"{path}[{i}]")


def test_every_schema_property_has_description_and_default(schema):
    props = list(_properties(schema))
    paths = [p for p, _ in props]
    assert len(props) > 30
    assert any("$defs" in p for p in paths)  # the walk reaches $defs
    missing = [p for p, sub in props if "description" not in sub or "default" not in sub]
    assert not missing, missing
    # the walk itself finds an undocumented key, however deep
    probe = {"$defs": {"x": {"properties": {"a": {"type": "object", "description": "", "default": {},
                                                   "properties": {"b": {"default": 1}}}}}}}
    assert [p for p, sub in _properties(probe) if "description" not in sub] == ["$/$defs/x.a.b"]
    # the schema's own additionalProperties (a study) is documented as well
    study = schema["properties"]["studies"]["additionalProperties"]
    assert "description" in study and "default" in study


def test_schema_defaults_agree_with_the_code(schema):
    """A default in the schema is the value the code uses when the key is absent."""
    train = schema["properties"]["studies"]["additionalProperties"]["properties"]["train"]["properties"]
    assert train["recipe"]["$ref"] == "#/$defs/recipe"
    for key, sub in schema["$defs"]["recipe"]["properties"].items():
        if key != "arch_options":
            assert sub["default"] == recipes.BASE_RECIPE[key], key
    assert schema["$defs"]["recipe"]["properties"]["milestones"]["default"] == \
        recipes.FAMILIES["gaussian-resnet18"]["recipe"]["milestones"]
    assert train["instances"]["default"] == resolve_config(minimal()).study("s").instances == 5
    assert train["conditions"]["default"] == "all"
    gauss = schema["$defs"]["gaussian"]["properties"]
    assert {k: v["default"] for k, v in gauss.items() if k != "kind"} == DATASET_DEFAULTS["gaussian"]
    assert schema["properties"]["device"]["default"] == resolve_config(minimal()).device
    assert schema["properties"]["analysis"]["properties"]["undefined_kappa"]["default"] == \
        resolve_config(minimal()).undefined_kappa
    arch = schema["$defs"]["arch_options"]["properties"]
    assert (arch["width"]["default"], arch["stem"]["default"]) == (64, "imagenet")
    # dataset roots and image folders: unset by default, as the code reads them
    top = schema["properties"]
    resolved = resolve_config(minimal())
    for key in ("imagenet_root", "cifar100_root"):
        assert top[key]["default"] is None and top[key]["type"] == ["string", "null"], key
        assert resolved.datasets[key.removesuffix("_root")]["root"] is None
    assert top["imagefolders"]["default"] == {} and top["imagefolders"]["type"] == "object"
    assert top["imagefolders"]["additionalProperties"] == {"type": "string"}
    assert sorted(resolved.datasets) == ["cifar100", "gaussian", "imagenet"]  # no image folder by default
    # the dataset is any string (resolve_config checks it), with the default the code documents
    assert train["dataset"]["default"] == "gaussian" and train["dataset"]["type"] == "string"
    assert "enum" not in train["dataset"]
    for name in resolved.datasets:
        assert name in train["dataset"]["description"], name
    # enums agree with the code
    conds = train["conditions"]["oneOf"][1]["items"]["enum"]
    assert tuple(conds) == cond.CONDITIONS
    assert set(train["family"]["enum"]) == {key.split("-", 1)[1] for key in recipes.FAMILIES}
    # every family of the paper is reachable from a built-in dataset and a schema family
    pairs = {f"{d}-{f}" for d in resolved.datasets for f in train["family"]["enum"]}
    assert pairs & set(recipes.FAMILIES) == set(recipes.FAMILIES)


def test_paper_configs_are_valid(fake_imagenet, fake_cifar_pickle):
    """config/paper/*.yaml pass the schema and resolve once their dataset root is set (to a fake copy)."""
    roots = {"imagenet_root": str(fake_imagenet), "cifar100_root": str(fake_cifar_pickle)}
    paths = sorted((ROOT / "config" / "paper").glob("*.yaml"))
    assert {p.stem for p in paths} >= {"imagenet-resnet18", "imagenet-vgg11", "imagenet-densenet121",
                                       "cifar100-resnet18", "gaussian-resnet18"}
    for path in paths:
        config = yaml.safe_load(open(path))
        check(copy.deepcopy(config))
        (study, spec), = config["studies"].items()
        if "pretrained" in spec:  # weights files are the user's: tests/test_presets.py plans it
            continue
        dataset = spec["train"]["dataset"]
        key = f"{dataset}_root"
        if dataset == "gaussian":
            assert not set(roots) & set(config), path.name
            c = resolve_config(config)
        else:
            assert key in roots, path.name
            # the preset ships without a root: resolving it names the key to set
            assert config[key] is None, path.name
            with pytest.raises(ConfigError, match=rf"^{key} is not set"):
                resolve_config(copy.deepcopy(config))
            config[key] = roots[key]
            check(copy.deepcopy(config))
            c = resolve_config(config)
            assert c.dataset(study) == {"name": dataset, "kind": dataset, "root": roots[key], "config_key": key}
        assert c.study(study).family_name == spec["train"]["family"]
        assert len(c.study(study).runs()) == 31, path.name


# --- configs that compose: `run` and named Gaussian datasets --------------------------------------


def test_run_selects_studies_and_what_belongs_to_them(cfg):
    """A preset merged onto the default names its study under `run`: the default's studies, their
    experiment and their label issues are neither planned nor checked."""
    cfg["studies"]["other"] = {"train": {"dataset": "gaussian", "family": "resnet18"}}
    cfg["label_issues"] = {STUDY: {"source": "list", "list": "/nowhere.txt"}}  # would fail if checked
    cfg["run"] = ["other"]
    check(copy.deepcopy(cfg))
    c = resolve_config(cfg)
    assert list(c.studies) == ["other"] and c.psychophysics is None and c.label_issues == {}
    assert c.dataset("other")["image_size"] == 224  # the paper's gaussian, not the default's 8 px
    cfg["run"] = [STUDY, "other", STUDY]  # now the default's label issues are checked
    with pytest.raises(ConfigError, match="label_issues.laptop-gaussian.list: /nowhere.txt is not a file"):
        resolve_config(cfg)
    del cfg["label_issues"]
    c = resolve_config(cfg)
    assert list(c.studies) == [STUDY, "other"] and c.psychophysics["study"] == STUDY
    cfg["run"] = ["other", "nope"]
    with pytest.raises(ConfigError, match=r"run: unknown studies \['nope'\]; configured: laptop-gaussian"):
        resolve_config(cfg)
    cfg["run"] = []
    _refused(cfg, "run: at least 1 entries needed, got 0")


def test_psychophysics_of_an_unknown_study_is_still_an_error(cfg):
    cfg["psychophysics"]["study"] = "nope"
    with pytest.raises(ConfigError, match="psychophysics.study: unknown study 'nope'"):
        resolve_config(cfg)


def test_named_gaussian_datasets():
    """Any name with `kind: gaussian` is a Gaussian set with the paper's values where it sets none;
    the schema asks for `kind` there, and the name may not be taken twice."""
    config = minimal(dataset="small")
    config["datasets"] = {"small": {"kind": "gaussian", "image_size": 16}}
    check(copy.deepcopy(config))
    ds = resolve_config(config).dataset("s")
    assert ds == {**DATASET_DEFAULTS["gaussian"], "name": "small", "kind": "gaussian", "image_size": 16}
    config["datasets"] = {"small": {"image_size": 16}}
    _refused(config, "datasets.small: missing key 'kind'")
    config["datasets"] = {"imagenet": {"kind": "gaussian"}}
    with pytest.raises(ConfigError, match="datasets.imagenet: the name is taken by a built-in dataset"):
        resolve_config(config)
    config = minimal(dataset="small")
    config["datasets"] = {"small": {"kind": "gaussian"}}
    config["imagefolders"] = {"small": "/data/small"}
    with pytest.raises(ConfigError, match="imagefolders.small: the name is taken by datasets.small"):
        resolve_config(config)


def test_optional_packages_follow_the_config(cfg, tmp_path):
    """What the workflow checks before any job: cleanlab only for label issues found by cleanlab,
    timm and open_clip only for pretrained models of those sources."""
    assert resolve_config(cfg).optional_packages() == []
    cfg["label_issues"] = {STUDY: {"source": "cleanlab"}}
    assert resolve_config(cfg).optional_packages() == [("find_label_issues", "cleanlab", "cleanlab")]
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"")
    cfg["studies"]["p"] = {"pretrained": {"dataset": "gaussian", "models": [
        {"name": "a", "source": "timm", "model": "resnet18", "weights": str(weights)},
        {"name": "b", "source": "torchvision", "model": "resnet18", "weights": str(weights)}]}}
    cfg["run"] = ["p"]
    assert resolve_config(cfg).optional_packages() == [("infer_model", "timm", "timm")]


def test_schema_problems_all_at_once_one_line_each(cfg):
    """Every problem of a config, each on one line with its key, value and what is allowed; never a
    dump of the schema."""
    cfg["studies"]["both"] = {"train": {"dataset": "gaussian", "family": "resnet18"},
                              "zoo": {"dataset": "gaussian", "models": {"a": {"arch": "zoo_mlp"}, "b": {"arch": "zoo_vgg"}}}}
    cfg["studies"]["lonely"] = {"zoo": {"dataset": "gaussian", "models": {"a": {"arch": "zoo_mlp"}}}}
    cfg["device"] = "tpu"
    with pytest.raises(ConfigError) as err:
        check(cfg)
    lines = str(err.value).splitlines()
    assert lines[0] == "the config has 3 problems (workflow/schemas/config.schema.yaml):"
    assert lines[1:] == ["  device: unknown value 'tpu'; allowed: auto, cpu, cuda",
                         "  studies.both: exactly one of external, pretrained, zoo, train; got train, zoo",
                         "  studies.lonely.zoo.models: at least 2 entries needed, got 1"]


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    from ddd.config.schema import check_yaml
    bad = tmp_path / "config.yaml"
    bad.write_text("studies:\n  a:\n    train: {dataset: gaussian\n  b: 1\n")
    with pytest.raises(ConfigError, match=r"config\.yaml, line 4, column \d+: not valid YAML"):
        check_yaml(bad)
    bad.write_bytes("studies: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"config\.yaml is not UTF-8 text \(byte 12\)"):
        check_yaml(bad)
    check_yaml(tmp_path / "absent.yaml")  # Snakemake reports a missing file itself


def test_what_planning_can_know_is_refused_at_planning(tmp_path):
    """More experiment pairs than the evaluation set can hold, a zoo network sized for other images,
    and a folder given as an imported file are refused before any job."""
    config = minimal()
    config["datasets"] = {"gaussian": {"n_classes": 5, "val_per_class": 10, "image_size": 8}}
    config["psychophysics"] = {"study": "s", "pairs": 24, "practice": 2}
    with pytest.raises(ConfigError, match=r"psychophysics.pairs: 24 pairs and 2 practice pairs need 52 distinct "
                                          r"images, but 's' has 50 evaluation images"):
        resolve_config(config)
    config["psychophysics"]["pairs"] = 23
    resolve_config(config)
    zoo = {"studies": {"z": {"zoo": {"dataset": "gaussian", "models": {
        "vit": {"arch": "zoo_vit", "arch_options": {"image_size": 16, "patch_size": 2}},
        "mlp": {"arch": "zoo_mlp", "arch_options": {"image_size": 8}}}}}},
        "datasets": {"gaussian": {"image_size": 8}}}
    with pytest.raises(ConfigError, match=r"studies.z.zoo.models.vit.arch_options.image_size: 16, but the networks of "
                                          r"dataset 'gaussian' see 8x8 images"):
        resolve_config(zoo)
    (tmp_path / "decisions").mkdir()
    ext = {"studies": {"e": {"external": {"format": "csv", "files": [str(tmp_path / "decisions")]}}}}
    with pytest.raises(ConfigError, match=r"decisions' is a folder; give its files, e.g. .*decisions/\*\.csv"):
        resolve_config(ext)
