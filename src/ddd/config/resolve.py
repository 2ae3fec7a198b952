"""The workflow's config, resolved: defaults filled in, cross-checks a schema cannot express.

``resolve_config(config)`` is called once by the workflow (after JSON-schema validation) and
returns a :class:`Config` whose methods give each rule its explicit parameters. Nothing here is
global: package functions receive values, never this object.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

from ddd.experiment import recipes

DATASET_DEFAULTS = {
    "gaussian": {"n_classes": 100, "image_size": 224, "train_per_class": 20000, "val_per_class": 500,
                 "seed": 1312, "encoding": "unit", "transforms": "small"},
}


#: A study is exactly one of these (the key under ``studies.<name>``).
STUDY_KINDS = ("train", "external", "pretrained", "zoo")


class ConfigError(ValueError):
    """A config that is valid JSON-schema-wise but cannot run."""


@dataclass
class Config:
    studies: dict = field(default_factory=dict)      # name -> resolved study dict
    datasets: dict = field(default_factory=dict)     # name -> dataset block (with "name")
    undefined_kappa: str = "nan"
    n_boot: int = 1000
    device: str = "auto"
    rsa_images: int = 1000                           # Figure 7's image subset size and seed
    rsa_seed: int = 1312
    label_issues: dict = field(default_factory=dict)  # study -> {source, list, column, match}
    psychophysics: dict | None = None                # resolved `psychophysics` block; None: no experiment

    def _study(self, study: str) -> dict:
        if study not in self.studies:
            raise ConfigError(f"unknown study {study!r}; configured: {', '.join(self.studies)}")
        return self.studies[study]

    def dataset(self, study: str) -> dict:
        """The dataset block of a study (with ``name``)."""
        return copy.deepcopy(self.datasets[self._study(study)["dataset"]])

    def recipe(self, study: str, condition: str, instance: int) -> dict:
        """The resolved recipe of one run; refuses runs the study does not have."""
        s = self._study(study)
        if recipes.Run(condition, instance) not in s["runs"]:
            raise ConfigError(f"study {study!r} has no run {condition}/{instance}; runs: "
                              f"{', '.join(r.path for r in s['runs'])}")
        return recipes.resolve(s["family"], condition, instance)

    def family_name(self, study: str) -> str:
        """The family id of a training study (``resnet18``, ``vgg11``, ``densenet121``)."""
        return self._study(study)["family_name"]

    def base_arch(self, study: str) -> str:
        """The base architecture of a training study."""
        return self._study(study)["family"]["recipe"]["arch"]

    def train_resources(self, study: str, condition: str, instance: int) -> dict:
        """SLURM-style resources of one training job: ``runtime`` (minutes) and ``mem_mb``.

        Runtime = 1.5 x the family's GPU minutes per paper-scale epoch x the run's epochs x the
        share of the paper's training pixels this config uses (Gaussian sizes scale it; local
        image datasets count as the paper's), at least 10 minutes. Jobs killed at the limit
        resume from their last checkpoint when resubmitted (--retries).
        """
        s = self._study(study)
        fam = s["family"]
        r = self.recipe(study, condition, instance)
        scale = 1.0
        ds = self.datasets[s["dataset"]]
        if ds["kind"] == "gaussian":
            scale = (ds["n_classes"] * ds["train_per_class"] * ds["image_size"] ** 2) / (100 * 20000 * 224 ** 2)
        minutes = 1.5 * fam["gpu_minutes_per_epoch"] * (r["epochs"] + r["extra_epochs"]) * scale
        return {"runtime": max(10, int(minutes + 0.5)), "mem_mb": fam["mem_mb"] if scale >= 0.1 else 4000}

    def runs(self, study: str) -> list:
        return list(self._study(study)["runs"])

    def kind(self, study: str) -> str:
        """The study's kind: one of :data:`STUDY_KINDS`."""
        return self._study(study)["kind"]

    def external(self, study: str) -> dict:
        """An imported study's ``files`` (globs expanded), ``format`` and ``intersect``."""
        return copy.deepcopy(self._study(study)["external"])

    def pretrained_model(self, study: str, model: str) -> dict:
        """The resolved spec of one model of a pretrained study (ddd.pretrained.normalize_spec)."""
        s = self._study(study)
        if s["kind"] != "pretrained" or model not in s["models"]:
            raise ConfigError(f"study {study!r} has no pretrained model {model!r}")
        return copy.deepcopy(s["models"][model])

    def pretrained_batch_size(self, study: str) -> int:
        return self._study(study)["batch_size"]

    def zoo_recipe(self, study: str, model: str) -> dict:
        """The resolved recipe of one network of a zoo study (ddd.experiment.recipes.resolve_zoo)."""
        s = self._study(study)
        if s["kind"] != "zoo" or model not in s["models"]:
            raise ConfigError(f"study {study!r} has no zoo model {model!r}")
        return copy.deepcopy(s["models"][model])

    def zoo_resources(self, study: str, model: str) -> dict:
        """SLURM-style ``runtime`` (minutes) and ``mem_mb`` of one zoo network: as a training run of
        the study's dataset with the ResNet-18 family's throughput (the zoo's nets are smaller)."""
        s = self._study(study)
        r = self.zoo_recipe(study, model)
        ds = self.datasets[s["dataset"]]
        fam = s["family"]
        scale = 1.0
        if ds["kind"] == "gaussian":
            scale = (ds["n_classes"] * ds["train_per_class"] * ds["image_size"] ** 2) / (100 * 20000 * 224 ** 2)
        minutes = 1.5 * fam["gpu_minutes_per_epoch"] * r["epochs"] * scale
        return {"runtime": max(10, int(minutes + 0.5)), "mem_mb": fam["mem_mb"] if scale >= 0.1 else 4000}

    def run_files(self, study: str) -> list[str]:
        """What the analysis rules take as input: the runs' decisions files, or the folder of an
        imported study's converted files."""
        if self.kind(study) == "external":
            return [f"results/{study}/runs/imported"]
        return sorted({e["path"] for e in self.entries(study)})

    def entries(self, study: str) -> list[dict]:
        """Decision makers of a study as dicts (name, condition, path, epoch) for the analysis."""
        s = self._study(study)
        if s["kind"] == "zoo":
            return [{"name": n, "condition": n, "path": f"results/{study}/runs/zoo/{n}.h5",
                     "epoch": r["epochs"]} for n, r in s["models"].items()]
        if s["kind"] == "pretrained":
            return [{"name": n, "condition": n, "path": f"results/{study}/runs/pretrained/{n}.h5",
                     "epoch": 0} for n in s["models"]]
        if s["kind"] == "external":
            return [{"name": n, "condition": "imported", "path": f"results/{study}/runs/imported/{n}.h5",
                     "epoch": 0} for n in s["names"]]
        return [{"name": dm.name, "condition": dm.condition,
                 "path": f"results/{study}/runs/{dm.run.path}.h5",
                 "epoch": s["epochs"] + dm.epoch_offset} for dm in s["decision_makers"]]


def resolve_config(config: dict) -> Config:
    """Fill defaults and check a (schema-valid) config; raise :class:`ConfigError` naming the key."""
    datasets = {}
    for name, defaults in DATASET_DEFAULTS.items():
        block = {**defaults, **(config.get("datasets", {}) or {}).get(name, {})}
        datasets[name] = {"name": name, "kind": name, **block}
    for kind in ("imagenet", "cifar100"):
        datasets[kind] = {"name": kind, "kind": kind, "root": config.get(f"{kind}_root"),
                          "config_key": f"{kind}_root"}
    for name, root in (config.get("imagefolders") or {}).items():
        if name in datasets:
            raise ConfigError(f"imagefolders.{name}: the name is taken by a built-in dataset; "
                              f"choose another (built-in: {', '.join(sorted(datasets))})")
        datasets[name] = {"name": name, "kind": "imagefolder", "root": root,
                          "config_key": f"imagefolders.{name}"}
    cfg = Config(datasets=datasets,
                 undefined_kappa=(config.get("analysis") or {}).get("undefined_kappa", "nan"),
                 n_boot=(config.get("analysis") or {}).get("bootstrap_resamples", 1000),
                 device=config.get("device", "auto"),
                 rsa_images=(config.get("analysis") or {}).get("rsa_images", 1000),
                 rsa_seed=(config.get("analysis") or {}).get("rsa_seed", 1312))
    studies = config.get("studies") or {}
    if not studies:
        raise ConfigError("config has no studies: run from the repository root (profiles/default loads "
                          "config/config.yaml) or pass --configfile; a config needs `studies:`")
    for name, study in studies.items():
        if len(study) != 1 or set(study) - set(STUDY_KINDS):
            raise ConfigError(f"studies.{name}: exactly one of [{', '.join(STUDY_KINDS)}] is needed, "
                              f"got {sorted(study)}")
        if "zoo" in study:
            cfg.studies[name] = _zoo_study(name, study["zoo"], datasets)
            continue
        if "pretrained" in study:
            cfg.studies[name] = _pretrained_study(name, study["pretrained"], datasets)
            continue
        if "external" in study:
            cfg.studies[name] = _external_study(name, study["external"])
            continue
        t = study["train"]
        if t["dataset"] not in datasets:
            raise ConfigError(f"studies.{name}.train.dataset: unknown dataset {t['dataset']!r}; "
                              f"allowed: {', '.join(sorted(datasets))} (add a folder under `imagefolders:`)")
        ds = datasets[t["dataset"]]
        _check_dataset(ds)
        recipe_kind = "imagenet" if ds["kind"] == "imagefolder" else ds["kind"]  # 224 px recipes
        key = f"{recipe_kind}-{t['family']}"
        if key not in recipes.FAMILIES:
            raise ConfigError(f"studies.{name}.train: no family {t['family']!r} on dataset "
                              f"{t['dataset']!r}; allowed pairs: {', '.join(recipes.FAMILIES)}")
        conditions = t.get("conditions", "all")
        conditions = list(recipes.CONDITIONS) if conditions == "all" else list(conditions)
        bad = [c for c in conditions if c not in recipes.CONDITIONS]
        if bad:
            raise ConfigError(f"studies.{name}.train.conditions: unknown {bad}; allowed: "
                              f"{', '.join(recipes.CONDITIONS)}")
        fam = recipes.family(recipe_kind, t["family"], recipe=t.get("recipe"),
                             other_arch_options=t.get("other_arch_options"))
        r = fam["recipe"]
        if r.get("epochs", 1) < 1:
            raise ConfigError(f"studies.{name}.train.recipe.epochs must be >= 1, got {r['epochs']}")
        if any(m > r["epochs"] for m in r.get("milestones", [])):
            raise ConfigError(f"studies.{name}.train.recipe.milestones {r['milestones']} exceed epochs "
                              f"{r['epochs']}")
        instances = t.get("instances", 5)
        cfg.studies[name] = {
            "kind": "train",
            "dataset": t["dataset"], "family": fam, "family_name": t["family"], "conditions": conditions,
            "epochs": r.get("epochs", recipes.BASE_RECIPE["epochs"]), "instances": instances,
            "runs": recipes.runs(conditions, instances=instances),
            "decision_makers": recipes.decision_makers(conditions, instances=instances),
        }
    cfg.label_issues = _label_issues(config.get("label_issues") or {}, cfg)
    cfg.psychophysics = _psychophysics(config.get("psychophysics") or {}, cfg)
    return cfg


PSYCHOPHYSICS_DEFAULTS = {"study": None, "pairs": 149, "practice": 5, "rule": "strict", "seed": 0,
                          "breaks_every": 50, "shuffle": True, "display_size": 224, "label_issues": None,
                          "responses": None}


def _psychophysics(block: dict, cfg: Config) -> dict | None:
    """The `psychophysics` block with defaults, or None without a study; checks the study, the files
    and that the responses folder holds CSV files (ddd.psychophysics)."""
    p = {**PSYCHOPHYSICS_DEFAULTS, **block}
    if p["study"] is None:
        return None
    if p["study"] not in cfg.studies:
        raise ConfigError(f"psychophysics.study: unknown study {p['study']!r}; configured studies: "
                          f"{', '.join(cfg.studies)}")
    kind = cfg.studies[p["study"]]["kind"]
    if not cfg.studies[p["study"]].get("dataset"):  # imported decisions: no pixels to show
        raise ConfigError(f"psychophysics.study: {p['study']!r} is a study of kind {kind!r}, whose images the "
                          "experiment cannot show; choose a study with a dataset (" + ", ".join(
                              s for s, v in cfg.studies.items() if v.get("dataset")) + ")")
    if p["label_issues"] is not None and not os.path.isfile(p["label_issues"]):
        raise ConfigError(f"psychophysics.label_issues: {p['label_issues']} is not a file (a list of image ids, "
                          "one per line)")
    if p["responses"] is not None:
        folder = p["responses"]
        if not os.path.isdir(folder):
            raise ConfigError(f"psychophysics.responses: {folder} is not a folder (the observers' response CSV "
                              "files go there)")
        files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                       if f.lower().endswith(".csv") and not f.startswith(".")
                       and os.path.isfile(os.path.join(folder, f)))
        if not files:
            raise ConfigError(f"psychophysics.responses: {folder} holds no .csv file yet; collect responses "
                              "first, or set responses to null")
        p["response_files"] = files
    return p


def _check_dataset(ds: dict) -> None:
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


def _external_study(name: str, ext: dict) -> dict:
    """An imported study: files expanded now (a pattern matching nothing is an error)."""
    from ddd.results.imports import FORMATS, expand_files
    if ext.get("format") not in FORMATS:
        raise ConfigError(f"studies.{name}.external.format must be one of {list(FORMATS)}, got {ext.get('format')!r}")
    try:
        files = expand_files(ext.get("files") or [])
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"studies.{name}.external.files: {err}") from None
    names = [os.path.splitext(os.path.basename(f))[0] for f in files]
    if len(set(names)) != len(names):
        raise ConfigError(f"studies.{name}.external.files: decision makers are named after the file stem and "
                          f"must be unique, got {names}")
    return {"kind": "external", "dataset": None, "names": names,
            "external": {"files": files, "format": ext["format"], "intersect": bool(ext.get("intersect", False))}}


def _pretrained_study(name: str, block: dict, datasets: dict) -> dict:
    """A pretrained study: its dataset checked, every model spec normalised and its local weights
    file present (nothing is read; the job checks keys and class count before inference)."""
    from ddd.pretrained import PretrainedModelError, normalize_spec, precheck_model
    if block["dataset"] not in datasets:
        raise ConfigError(f"studies.{name}.pretrained.dataset: unknown dataset {block['dataset']!r}; "
                          f"allowed: {', '.join(sorted(datasets))} (add a folder under `imagefolders:`)")
    _check_dataset(datasets[block["dataset"]])
    models = {}
    for i, spec in enumerate(block["models"]):
        try:
            spec = normalize_spec(spec)
            precheck_model(spec)
        except PretrainedModelError as err:
            raise ConfigError(f"studies.{name}.pretrained.models[{i}]: {err}") from None
        if spec["name"] in models:
            raise ConfigError(f"studies.{name}.pretrained.models: name {spec['name']!r} used twice")
        models[spec["name"]] = spec
    return {"kind": "pretrained", "dataset": block["dataset"], "models": models,
            "batch_size": block.get("batch_size", 128)}


def _zoo_study(name: str, block: dict, datasets: dict) -> dict:
    """A zoo study: radically different architectures, each trained once on the same data with the
    ResNet-18 family's recipe of that dataset, the zoo's common overrides and its own."""
    from ddd.nets.architectures import available_models, make_model
    if block["dataset"] not in datasets:
        raise ConfigError(f"studies.{name}.zoo.dataset: unknown dataset {block['dataset']!r}; "
                          f"allowed: {', '.join(sorted(datasets))} (add a folder under `imagefolders:`)")
    ds = datasets[block["dataset"]]
    _check_dataset(ds)
    recipe_kind = "imagenet" if ds["kind"] == "imagefolder" else ds["kind"]
    fam = recipes.family(recipe_kind, "resnet18", recipe=block.get("recipe"))
    models = {}
    for model, spec in block["models"].items():
        if spec["arch"] not in available_models():
            raise ConfigError(f"studies.{name}.zoo.models.{model}.arch: unknown architecture {spec['arch']!r}; "
                              f"allowed: {', '.join(available_models())}")
        try:
            make_model(spec["arch"], 2, **(spec.get("arch_options") or {}))  # options fit the builder
            models[model] = recipes.resolve_zoo(fam, spec)
        except ValueError as err:
            raise ConfigError(f"studies.{name}.zoo.models.{model}: {err}") from None
        if models[model]["epochs"] < 1:
            raise ConfigError(f"studies.{name}.zoo.models.{model}: epochs must be >= 1")
    return {"kind": "zoo", "dataset": block["dataset"], "family": fam, "models": models}


def _label_issues(block: dict, cfg: Config) -> dict:
    """`label_issues`: every study named exists, a list file exists, cleanlab is installed."""
    out = {}
    for study, spec in block.items():
        if study not in cfg.studies:
            raise ConfigError(f"label_issues.{study}: unknown study; configured: {', '.join(cfg.studies)}")
        spec = {"source": "list", "list": None, "column": None, "match": "exact", **spec}
        if spec["source"] == "list":
            if not spec["list"]:
                raise ConfigError(f"label_issues.{study}: source `list` needs `list: <file of image ids>`")
            if not os.path.isfile(spec["list"]):
                raise ConfigError(f"label_issues.{study}.list: {spec['list']} is not a file (a list of label-error "
                                  f"image ids, one a line, or a CSV with an id column)")
        else:
            if spec["list"]:
                raise ConfigError(f"label_issues.{study}: give `list` or `source: cleanlab`, not both")
            import importlib.util
            if importlib.util.find_spec("cleanlab") is None:
                raise ConfigError(f"label_issues.{study}: source cleanlab needs the optional extra "
                                  f"(pip install -e '.[labels]'; cleanlab is AGPL-licensed)")
        out[study] = spec
    return out
