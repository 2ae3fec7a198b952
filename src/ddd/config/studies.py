"""Study kinds as classes with one interface: decision makers, run files, targets, jobs, resources.

A study is one of :data:`KINDS` (the key under ``studies.<name>`` in the config):

``train``     the 13 controlled conditions of a family (:class:`TrainStudy`)
``zoo``       radically different architectures, each trained once on the same data (:class:`ZooStudy`)
``pretrained`` published models run over a dataset's evaluation split (:class:`PretrainedStudy`)
``external``  decisions made elsewhere, imported (:class:`ExternalStudy`)

Every kind answers the same questions, so nothing else branches on the kind: its
:meth:`~Study.decision_makers`, the decisions files the analysis reads (:meth:`~Study.run_files`),
the figures and tables it has (:meth:`~Study.figures`, :meth:`~Study.tables`), everything the
default target asks for (:meth:`~Study.targets`), and for the kinds that run jobs, each job's
recipe or spec and its Slurm resources. Resolving a study checks what a schema cannot (planning
only: nothing heavy is imported).
"""

from __future__ import annotations

import copy
import glob
import os
from dataclasses import dataclass, field
from typing import ClassVar

from ddd.config import paths
from ddd.experiment import conditions as cond
from ddd.experiment import recipes
from ddd.experiment.makers import DecisionMaker
from ddd.report.catalog import IMPORTED_FIGURES, MODEL_FIGURES, TABLES, applicable_figures

__all__ = ["KINDS", "ConfigError", "Study", "TrainStudy", "ZooStudy", "PretrainedStudy", "ExternalStudy",
           "expand_files"]


class ConfigError(ValueError):
    """A config that is valid JSON-schema-wise but cannot run."""


@dataclass
class Study:
    """What every study kind has; subclasses fill in the kind-specific parts."""

    kind: ClassVar[str] = ""
    name: str
    dataset: dict | None = None

    def decision_makers(self) -> list[DecisionMaker]:
        raise NotImplementedError

    def run_files(self) -> list[str]:
        """What the analysis rules take as input: the decisions files (sorted)."""
        return sorted({m.path for m in self.decision_makers()})

    def figures(self) -> list[str]:
        """The figures this study has (names of :data:`ddd.report.catalog.FIGURES`)."""
        return list(MODEL_FIGURES)

    def tables(self) -> dict[str, tuple[str, ...]]:
        """The tables this study has: ``{name: extensions}``."""
        return {}

    def targets(self) -> list[str]:
        """Every file the default target asks for."""
        out = [paths.summary(self.name), paths.split(self.name), paths.kappas(self.name),
               paths.consistency(self.name, "pairs"), paths.images(self.name)]
        out += [paths.figure(self.name, f, ext) for f in self.figures() for ext in ("png", "pdf")]
        out += [paths.table(self.name, t, ext) for t, exts in self.tables().items() for ext in exts]
        return out


@dataclass
class TrainStudy(Study):
    """The 13 controlled conditions of one family on one dataset."""

    kind: ClassVar[str] = "train"
    family: dict = field(default_factory=dict)
    family_name: str = "resnet18"
    conditions: list = field(default_factory=list)
    instances: int = 5

    @property
    def epochs(self) -> int:
        """The nominal final epoch E of the family's recipe."""
        return self.family["recipe"].get("epochs", recipes.BASE_RECIPE["epochs"])

    @property
    def base_arch(self) -> str:
        return self.family["recipe"]["arch"]

    def runs(self) -> list[str]:
        """Run ids (``<condition>/<instance>``) of every network the study trains."""
        return cond.runs(self.conditions, instances=self.instances)

    def recipe(self, run: str) -> dict:
        """The resolved recipe of one run; refuses runs the study does not have."""
        if run not in self.runs():
            raise ConfigError(f"study {self.name!r} has no run {run}; runs: {', '.join(self.runs())}")
        return recipes.resolve(self.family, *cond.parse_run(run))

    def resources(self, run: str) -> dict:
        """Slurm-style ``runtime`` (minutes) and ``mem_mb`` of one training job."""
        r = self.recipe(run)
        return recipes.training_resources(self.family, self.dataset, r["epochs"] + r["extra_epochs"])

    def priority(self, run: str) -> int:
        """Longest runs first (the base trains E + 10 epochs; the other architecture is larger)."""
        r = self.recipe(run)
        return (r["epochs"] + r["extra_epochs"]) * (2 if r["arch"] != self.base_arch else 1)

    def decision_makers(self) -> list[DecisionMaker]:
        return cond.decision_makers(self.conditions, instances=self.instances, epochs=self.epochs,
                                    decisions=lambda run: paths.decisions(self.name, run))

    def figures(self) -> list[str]:
        return [f for f, (ok, _) in sorted(applicable_figures(self.dataset, optional=("fig07_rsa",)).items()) if ok]

    def tables(self) -> dict[str, tuple[str, ...]]:
        return {t: exts for t, (_, exts) in TABLES.items()}

    def targets(self) -> list[str]:
        out = super().targets()
        return out[:4] + [paths.rsa_table(self.name)] + out[4:]


@dataclass
class ZooStudy(Study):
    """Radically different architectures, each trained once with the dataset's ResNet-18 recipe."""

    kind: ClassVar[str] = "zoo"
    family: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)  # name -> resolved recipe

    def runs(self) -> list[str]:
        return [f"zoo/{m}" for m in self.models]

    def recipe(self, model: str) -> dict:
        if model not in self.models:
            raise ConfigError(f"study {self.name!r} has no zoo model {model!r}; models: {', '.join(self.models)}")
        return copy.deepcopy(self.models[model])

    def resources(self, model: str) -> dict:
        """As a training run of the study's dataset with the ResNet-18 family's throughput."""
        return recipes.training_resources(self.family, self.dataset, self.recipe(model)["epochs"])

    def decision_makers(self) -> list[DecisionMaker]:
        return [DecisionMaker(n, n, paths.decisions(self.name, f"zoo/{n}"), r["epochs"]) for n, r in self.models.items()]


@dataclass
class PretrainedStudy(Study):
    """Published models, each run once over the dataset's evaluation split."""

    kind: ClassVar[str] = "pretrained"
    models: dict = field(default_factory=dict)  # name -> normalised spec
    batch_size: int = 128

    def runs(self) -> list[str]:
        return [f"pretrained/{m}" for m in self.models]

    def spec(self, model: str) -> dict:
        """The normalised spec of one model (:func:`ddd.pretrained.spec.normalize_spec`)."""
        if model not in self.models:
            raise ConfigError(f"study {self.name!r} has no pretrained model {model!r}; models: "
                              f"{', '.join(self.models)}")
        return copy.deepcopy(self.models[model])

    def decision_makers(self) -> list[DecisionMaker]:
        return [DecisionMaker(n, n, paths.decisions(self.name, f"pretrained/{n}"), 0) for n in self.models]


@dataclass
class ExternalStudy(Study):
    """Decisions made elsewhere (CSV, model-vs-human), converted into decisions files."""

    kind: ClassVar[str] = "external"
    files: list = field(default_factory=list)
    format: str = "csv"
    intersect: bool = False

    @property
    def names(self) -> list[str]:
        """Decision makers are named after their files' stems."""
        return [os.path.splitext(os.path.basename(f))[0] for f in self.files]

    def decision_makers(self) -> list[DecisionMaker]:
        return [DecisionMaker(n, "imported", f"{paths.imported_runs(self.name)}/{n}.h5", 0) for n in self.names]

    def run_files(self) -> list[str]:
        """The folder of the converted files (one job writes them all)."""
        return [paths.imported_runs(self.name)]

    def figures(self) -> list[str]:
        return list(IMPORTED_FIGURES)


KINDS = {k.kind: k for k in (TrainStudy, ZooStudy, PretrainedStudy, ExternalStudy)}


def expand_files(patterns) -> list[str]:
    """Expand glob patterns (``*``, ``?``, ``[``, ``**``) in order; each must match at least one file.

    Plain paths must exist. A file matched twice is listed once (first position).
    """
    patterns = [patterns] if isinstance(patterns, (str, os.PathLike)) else list(patterns)
    if not patterns:
        raise ValueError("no input files given")
    out, seen = [], set()
    for pattern in map(os.fspath, patterns):
        if glob.has_magic(pattern):
            found = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
            if not found:
                raise FileNotFoundError(f"pattern {pattern!r} matches no file")
        elif os.path.isfile(pattern):
            found = [pattern]
        elif os.path.isdir(pattern):
            raise FileNotFoundError(f"{pattern!r} is a folder; give its files, e.g. {os.path.join(pattern, '*.csv')!r}")
        else:
            raise FileNotFoundError(f"input file {pattern!r} does not exist")
        for p in found:
            key = os.path.realpath(p)
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out
