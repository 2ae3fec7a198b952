"""The workflow's config, resolved: defaults filled in, cross-checks a schema cannot express.

``resolve_config(config)`` is called once by the workflow (after JSON-schema validation) and
returns a :class:`Config`: its studies (one class per kind, :mod:`ddd.config.studies`), dataset
blocks, analysis options and the ``label_issues`` and ``psychophysics`` blocks. Nothing here is
global: package functions receive values, never this object. Planning only: nothing heavy is
imported (the tests plan every config in a process where torch, numpy, pandas, h5py, scipy and
matplotlib cannot be imported).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

from ddd.config import paths
from ddd.config.blocks import PSYCHOPHYSICS_DEFAULTS, resolve_label_issues, resolve_psychophysics
from ddd.config.datasets import DATASET_DEFAULTS, dataset_of_block, input_size, recipe_kind, resolve_datasets
from ddd.config.studies import (KINDS, ConfigError, ExternalStudy, PretrainedStudy, Study, TrainStudy, ZooStudy,
                                expand_files)
from ddd.experiment import conditions as cond
from ddd.experiment import recipes

__all__ = ["Config", "ConfigError", "STUDY_KINDS", "DATASET_DEFAULTS", "PSYCHOPHYSICS_DEFAULTS", "resolve_config"]

#: Optional extras: import name -> (import name, pip requirement of pyproject.toml's extra).
OPTIONAL = {"cleanlab": ("cleanlab", "cleanlab"), "timm": ("timm", "timm"), "open_clip": ("open_clip", "open_clip_torch")}

#: A study is exactly one of these (the key under ``studies.<name>``).
STUDY_KINDS = tuple(KINDS)


@dataclass
class Config:
    studies: dict = field(default_factory=dict)      # name -> Study
    datasets: dict = field(default_factory=dict)     # name -> dataset block (with "name")
    undefined_kappa: str = "nan"
    n_boot: int = 1000
    n_perm: int = 1000                               # permutations of the swap test of differences
    alpha: float = 0.05                              # level of differences' `significant` (Holm-adjusted)
    p_alternative: str = "greater"                   # alternative of the p-values against independence
    bias_corrected_kappa: bool = False               # add Klein et al.'s kappa' to the pair tables
    pair_resampling: str = "auto"                  # decision-maker differences: all, focused, auto
    export_correctness: bool = False                 # every study's export/ (py-irt JSON lines, long table)
    device: str = "auto"
    rsa_images: int = 1000                           # Figure 7's image subset size and seed
    rsa_seed: int = 1312
    label_issues: dict = field(default_factory=dict)  # study -> {source, list, column, match}
    psychophysics: dict | None = None                # resolved `psychophysics` block; None: no experiment

    def study(self, name: str) -> Study:
        """The study called ``name``; an unknown name lists the configured ones."""
        if name not in self.studies:
            raise ConfigError(f"unknown study {name!r}; configured: {', '.join(self.studies)}")
        return self.studies[name]

    def names(self, kind: str) -> list[str]:
        """The names of the studies of one kind (one of :data:`STUDY_KINDS`)."""
        if kind not in KINDS:
            raise ValueError(f"unknown study kind {kind!r}; allowed: {', '.join(KINDS)}")
        return [n for n, s in self.studies.items() if s.kind == kind]

    def dataset(self, name: str) -> dict:
        """The dataset block of a study (a copy, with ``name``)."""
        return copy.deepcopy(self.study(name).dataset)

    @property
    def train_gpus(self) -> int:
        """GPUs a training or inference job asks for: 1 on CUDA, 0 on the CPU. ``device: auto`` asks for
        one when this machine has an NVIDIA driver loaded (seen without importing torch); on a cluster
        the profile sets it per rule (``profiles/slurm``)."""
        if self.device == "auto":
            return int(os.path.exists("/proc/driver/nvidia/version"))
        return int(self.device == "cuda")

    def optional_packages(self) -> list[tuple[str, str, str]]:
        """``(rule, import name, pip requirement)`` of every optional extra the configured studies need:
        cleanlab for label issues found by cleanlab, timm and open_clip for pretrained models of
        those sources (the workflow checks them before any job: ``workflow/rules/common.smk``)."""
        out = []
        if any(spec["source"] == "cleanlab" for spec in self.label_issues.values()):
            out.append(("find_label_issues", *OPTIONAL["cleanlab"]))
        sources = {m["source"] for s in self.studies.values() if s.kind == "pretrained" for m in s.models.values()}
        out += [("infer_model", *OPTIONAL[source]) for source in ("timm", "open_clip") if source in sources]
        return out

    def targets(self) -> list[str]:
        """Everything the default target asks for: every study's targets and the experiment's."""
        out = [t for s in self.studies.values() for t in s.targets()]
        if self.export_correctness:
            out += [paths.export(s, f) for s in self.studies for f in ("correct.jsonl", "correct_long.tsv.gz")]
        return out + self.psychophysics_targets()

    def psychophysics_targets(self) -> list[str]:
        """The experiment site of ``psychophysics.study`` and, when ``responses`` is set, its analysis."""
        p = self.psychophysics
        if not p:
            return []
        study = p["study"]
        out = [paths.site(study, f) for f in ("manifest.csv", "trials.js", "index.html", "style.css",
                                              "experiment.js", "images")]
        if p["responses"]:
            out += [paths.table(study, t, ext) for t in ("psychophysics_summary", "psychophysics_observers")
                    for ext in ("csv", "md", "html")]
            out += [paths.table(study, "psychophysics_kappa", "csv")]
            out += [paths.table(study, "psychophysics_power", ext) for ext in ("csv", "md", "html")]
            out += [paths.figure(study, "psychophysics", ext) for ext in ("png", "pdf")]
        return out


def resolve_config(config: dict) -> Config:
    """Fill defaults and check a (schema-valid) config; raise :class:`ConfigError` naming the key."""
    datasets = resolve_datasets(config)
    analysis = config.get("analysis") or {}
    cfg = Config(datasets=datasets, undefined_kappa=analysis.get("undefined_kappa", "nan"),
                 n_boot=analysis.get("bootstrap_resamples", 1000), n_perm=analysis.get("permutations", 1000),
                 alpha=analysis.get("alpha", 0.05), p_alternative=analysis.get("p_alternative", "greater"),
                 bias_corrected_kappa=analysis.get("bias_corrected_kappa", False),
                 pair_resampling=analysis.get("pair_resampling", "auto"),
                 export_correctness=analysis.get("export_correctness", False), device=config.get("device", "auto"),
                 rsa_images=analysis.get("rsa_images", 1000), rsa_seed=analysis.get("rsa_seed", 1312))
    studies = _selected(config)
    for name, study in studies.items():
        if len(study) != 1 or set(study) - set(STUDY_KINDS):
            raise ConfigError(f"studies.{name}: exactly one of [{', '.join(STUDY_KINDS)}] is needed, "
                              f"got {sorted(study)}")
        (kind, block), = study.items()
        cfg.studies[name] = _BUILDERS[kind](name, block, datasets)
    label_issues = {s: v for s, v in (config.get("label_issues") or {}).items()
                    if s in cfg.studies or s not in (config.get("studies") or {})}
    cfg.label_issues = resolve_label_issues(label_issues, cfg.studies)
    psychophysics = config.get("psychophysics") or {}
    if psychophysics.get("study") in set(config.get("studies") or {}) - set(cfg.studies):
        psychophysics = {**psychophysics, "study": None}  # its study is not run: no experiment
    cfg.psychophysics = resolve_psychophysics(psychophysics, cfg.studies)
    return cfg


def _selected(config: dict) -> dict:
    """The studies named by ``run`` (all of ``studies`` without it), in ``run``'s order."""
    studies = config.get("studies") or {}
    if not studies:
        raise ConfigError("config has no studies: the Snakefile reads config/config.yaml from the working "
                          "directory (--directory) unless --configfile names another; a config needs `studies:`")
    run = config.get("run")
    if run is None:
        return studies
    unknown = [s for s in run if s not in studies]
    if unknown:
        raise ConfigError(f"run: unknown studies {unknown}; configured: {', '.join(studies)}")
    return {s: studies[s] for s in dict.fromkeys(run)}


def _train_study(name: str, t: dict, datasets: dict) -> TrainStudy:
    """A training study: the family on the dataset, its conditions and the recipe's overrides checked."""
    ds = dataset_of_block(datasets, t["dataset"], f"studies.{name}.train.dataset")
    key = f"{recipe_kind(ds)}-{t['family']}"
    if key not in recipes.FAMILIES:
        raise ConfigError(f"studies.{name}.train: no family {t['family']!r} on dataset "
                          f"{t['dataset']!r}; allowed pairs: {', '.join(recipes.FAMILIES)}")
    conditions = t.get("conditions", "all")
    conditions = list(cond.CONDITIONS) if conditions == "all" else list(conditions)
    bad = [c for c in conditions if c not in cond.CONDITIONS]
    if bad:
        raise ConfigError(f"studies.{name}.train.conditions: unknown {bad}; allowed: {', '.join(cond.CONDITIONS)}")
    fam = recipes.family(recipe_kind(ds), t["family"], recipe=t.get("recipe"),
                         other_arch_options=t.get("other_arch_options"))
    r = fam["recipe"]
    _check_arch(name, "recipe.arch_options", r["arch"], r.get("arch_options") or {})
    _check_arch(name, "other_arch_options", fam["other_arch"], fam.get("other_arch_options") or {})
    if r.get("epochs", 1) < 1:
        raise ConfigError(f"studies.{name}.train.recipe.epochs must be >= 1, got {r['epochs']}")
    if any(m > r["epochs"] for m in r.get("milestones", [])):
        raise ConfigError(f"studies.{name}.train.recipe.milestones {r['milestones']} exceed epochs {r['epochs']}")
    return TrainStudy(name=name, dataset=ds, family=fam, family_name=t["family"], conditions=conditions,
                      instances=t.get("instances", 5))


def _check_arch(study: str, key: str, arch: str, options: dict) -> None:
    from ddd.nets import check_options

    try:
        check_options(arch, options)
    except ValueError as err:
        raise ConfigError(f"studies.{study}.train.{key}: {err}") from None


def _zoo_study(name: str, block: dict, datasets: dict) -> ZooStudy:
    """A zoo study: radically different architectures, each trained once on the same data with the
    ResNet-18 family's recipe of that dataset, the zoo's common overrides and its own."""
    from ddd.nets import available_models, check_options

    ds = dataset_of_block(datasets, block["dataset"], f"studies.{name}.zoo.dataset")
    fam = recipes.family(recipe_kind(ds), "resnet18", recipe=block.get("recipe"))
    models = {}
    for model, spec in block["models"].items():
        if spec["arch"] not in available_models():
            raise ConfigError(f"studies.{name}.zoo.models.{model}.arch: unknown architecture {spec['arch']!r}; "
                              f"allowed: {', '.join(available_models())}")
        size = (spec.get("arch_options") or {}).get("image_size")
        if size is not None and input_size(ds) is not None and size != input_size(ds):
            raise ConfigError(f"studies.{name}.zoo.models.{model}.arch_options.image_size: {size}, but the "
                              f"networks of dataset {ds['name']!r} see {input_size(ds)}x{input_size(ds)} images")
        try:
            check_options(spec["arch"], spec.get("arch_options") or {})
            models[model] = recipes.resolve_zoo(fam, spec)
        except ValueError as err:
            raise ConfigError(f"studies.{name}.zoo.models.{model}: {err}") from None
        if models[model]["epochs"] < 1:
            raise ConfigError(f"studies.{name}.zoo.models.{model}: epochs must be >= 1")
    return ZooStudy(name=name, dataset=ds, family=fam, models=models)


def _pretrained_study(name: str, block: dict, datasets: dict) -> PretrainedStudy:
    """A pretrained study: its dataset checked, the models of ``library_models`` expanded (one spec
    per name, ddd.pretrained.weights.library_models), every model spec normalised and its weights
    file present (nothing is read; the job checks keys and class count before inference). Every
    problem of the study is reported at once: unknown names, then every missing weights file with
    where it belongs and where it comes from."""
    from ddd.pretrained.spec import PretrainedModelError, WeightsNotFoundError, normalize_spec, precheck_model
    from ddd.pretrained.weights import library_models

    where = f"studies.{name}.pretrained"
    ds = dataset_of_block(datasets, block["dataset"], f"{where}.dataset")
    if ds.get("kind") == "digits":
        raise ConfigError(f"{where}.dataset: pretrained models cannot be evaluated on the "
                          "8 x 8 handwritten digits (kind digits); allowed kinds: gaussian, cifar100, imagenet, "
                          "imagefolder")
    problems, missing = [], []
    specs = [(f"{where}.models[{i}]", spec, None) for i, spec in enumerate(block.get("models") or [])]
    if block.get("library_models"):
        listed, bad = library_models(block["library_models"], where=f"{where}.library_models",
                                     n_classes=_known_classes(ds))
        problems += bad
        specs += [(m.key, m.spec, m) for m in listed]
    if not specs and not problems:
        raise ConfigError(f"{where}: no models; list specs under `models` or names under `library_models`")
    models, keys = {}, {}
    for key, spec, listed in specs:
        try:
            spec = normalize_spec(spec)
        except PretrainedModelError as err:
            problems.append(f"{key}: {err}")
            continue
        if spec["name"] in models:
            problems.append(f"{key}: name {spec['name']!r} used twice (also {keys[spec['name']]})")
            continue
        models[spec["name"]], keys[spec["name"]] = spec, key
        try:
            if listed is None:
                precheck_model(spec)
            elif listed.path is None:
                missing.append(f"{spec['name']} ({spec['source']}): {os.path.abspath(listed.expected)}  "
                               f"<- {listed.origin}")
        except WeightsNotFoundError as err:
            missing.append(f"{spec['name']} ({spec['source']}): {err.path}  <- {err.origin}")
        except PretrainedModelError as err:
            problems.append(f"{key}: {err}")
    if problems or missing:
        head = [f"{len(problems)} problem{'s' * (len(problems) != 1)}"] if problems else []
        lines = problems[:]
        if missing:
            head.append(f"{len(missing)} of {len(models)} weights files missing")
            lines.append("missing weights files (nothing is downloaded; put each at the path shown, from the source "
                         "after '<-'):")
            lines += ["  " + m for m in missing]
        raise ConfigError(f"{where}: {', '.join(head)}:\n  " + "\n  ".join(lines))
    return PretrainedStudy(name=name, dataset=ds, models=models, batch_size=block.get("batch_size", 128))


def _known_classes(ds: dict) -> int | None:
    """The class count of a dataset that planning knows without reading it (Gaussian, CIFAR-100)."""
    if ds.get("kind") == "gaussian":
        return ds["n_classes"]
    return 100 if ds.get("kind") == "cifar100" else None


def _external_study(name: str, ext: dict, datasets: dict) -> ExternalStudy:
    """An imported study: files expanded now (a pattern matching nothing is an error)."""
    from ddd.results import IMPORT_FORMATS

    if ext.get("format") not in IMPORT_FORMATS:
        raise ConfigError(f"studies.{name}.external.format must be one of {list(IMPORT_FORMATS)}, "
                          f"got {ext.get('format')!r}")
    try:
        files = expand_files(ext.get("files") or [])
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"studies.{name}.external.files: {err}") from None
    study = ExternalStudy(name=name, files=files, format=ext["format"], intersect=bool(ext.get("intersect", False)))
    if len(set(study.names)) != len(study.names):
        raise ConfigError(f"studies.{name}.external.files: decision makers are named after the file stem and "
                          f"must be unique, got {study.names}")
    return study


_BUILDERS = {"train": _train_study, "zoo": _zoo_study, "pretrained": _pretrained_study, "external": _external_study}
