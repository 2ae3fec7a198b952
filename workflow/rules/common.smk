# Helpers of the workflow: config validation, wildcard constraints and input functions.
# Logic lives in the ddd package (src/ddd); this file only maps the resolved config to the rules.
import sys
from pathlib import Path

from snakemake.utils import validate

# The Snakefile imports the package from the checkout, whether or not it is pip-installed;
# scripts do the same through scripts/_ddd_path.py (config/README.md, "How rules import the package").
SRC = str(Path(workflow.basedir).parent / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from ddd.config import paths, resolve_config  # noqa: E402
from ddd.experiment.conditions import CONDITIONS  # noqa: E402
from ddd.experiment.makers import to_params  # noqa: E402
from ddd.experiment.paper import paper_preset  # noqa: E402

# Defaults are documentation only: the family decides unset recipe keys (ddd.config).
validate(config, "../schemas/config.schema.yaml", set_default=False)
CFG = resolve_config(config)  # checks what a schema cannot (dataset/family pairs, epochs, ...)


def studies_of(kind):
    """A wildcard pattern matching the studies of one kind (ddd.config.studies.KINDS)."""
    return "|".join(map(re.escape, CFG.names(kind))) or "NO_STUDY"


wildcard_constraints:
    study="|".join(map(re.escape, CFG.studies)) or "NO_STUDY",
    condition="|".join(CONDITIONS),
    instance=r"\d+",
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def study_of(wildcards):
    return CFG.study(wildcards.study)


def run_of(wildcards):
    """The run id of a training job (``<condition>/<instance>``) or of a model's job (its name)."""
    return f"{wildcards.condition}/{wildcards.instance}" if "condition" in wildcards.keys() else wildcards.model


def decision_makers(wildcards):
    """The study's decision makers as plain data (ddd.experiment.makers.to_params)."""
    return to_params(study_of(wildcards).decision_makers())


def run_files(wildcards):
    return study_of(wildcards).run_files()


def dataset(wildcards):
    return CFG.dataset(wildcards.study)


def recipe(wildcards):
    return study_of(wildcards).recipe(run_of(wildcards))


def job_resource(key):
    return lambda wildcards: study_of(wildcards).resources(run_of(wildcards))[key]


def label_issue_list(wildcards):
    spec = CFG.label_issues.get(wildcards.study) or {}
    return [spec["list"]] if spec.get("list") else []


def study_label_issues(wildcards):
    """The study's label_issues.tsv when `label_issues` names the study (split.tsv then marks them)."""
    return [paths.label_issues(wildcards.study)] if wildcards.study in CFG.label_issues else []


def paper_of(wildcards):
    """The paper's family whose published numbers the headline table sets beside this study's."""
    s = study_of(wildcards)
    return paper_preset(s.dataset["kind"], s.family_name)


def psychophysics_option(key):
    return lambda wildcards: CFG.psychophysics[key]


def psychophysics_label_issues(wildcards):
    return [CFG.psychophysics["label_issues"]] if CFG.psychophysics["label_issues"] else []


def psychophysics_responses(wildcards):
    return CFG.psychophysics.get("response_files") or []
