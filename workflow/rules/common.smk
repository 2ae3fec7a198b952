# Helpers of the workflow: config validation, wildcard constraints and input functions.
# Logic lives in the ddd package (src/ddd); this file only maps the resolved config to the rules.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The package comes from the checkout this file belongs to (src/ beside workflow/), found from this
# file's own location, so that the workflow also works as a module of another Snakefile; scripts do
# the same through scripts/_ddd_path.py. A deployment without the checkout's files (a module read
# from GitHub) needs the package installed (config/README.md, "How rules import the package").
SRC = Path(str(workflow.current_basedir)).parents[1] / "src"
if (SRC / "ddd" / "__init__.py").is_file():
    if str(SRC) in sys.path:
        sys.path.remove(str(SRC))
    sys.path.insert(0, str(SRC))
try:
    import ddd  # noqa: F401,E402
except ImportError:
    raise WorkflowError(
        f"the ddd package is neither beside this workflow ({SRC}) nor installed: install it into "
        "Snakemake's environment (pip install 'ddd @ git+<repository>@<tag>') or deploy from a clone"
    )

from ddd.config import paths, resolve_config  # noqa: E402
from ddd.config.schema import check_schema, check_yaml  # noqa: E402
from ddd.experiment.conditions import CONDITIONS  # noqa: E402
from ddd.experiment.makers import to_params  # noqa: E402
from ddd.experiment.paper import paper_preset  # noqa: E402
from ddd.experiment.recipes import canonical, identity  # noqa: E402

# The default config, relative to the working directory (`--directory .test` reads .test's). A
# --configfile is merged on top of it: presets name their own studies under `run`, so nothing of
# the default runs with them (config/README.md). Its YAML is checked first: Snakemake's message for
# a syntax error names neither the file nor the line.
check_yaml("config/config.yaml")


configfile: "config/config.yaml"


# Every problem at once, one line each (Snakemake's own validation dumps the schema). Defaults are
# documentation only: the family decides unset recipe keys (ddd.config).
check_schema(config, workflow.source_path("../schemas/config.schema.yaml"))
CFG = resolve_config(
    config
)  # checks what a schema cannot (dataset/family pairs, epochs, ...)


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
    return (
        f"{wildcards.condition}/{wildcards.instance}"
        if "condition" in wildcards.keys()
        else wildcards.model
    )


def decision_makers(wildcards):
    """The study's decision makers as plain data (ddd.experiment.makers.to_params)."""
    return to_params(study_of(wildcards).decision_makers())


def run_files(wildcards):
    return study_of(wildcards).run_files()


def dataset(wildcards):
    return canonical(CFG.dataset(wildcards.study))


def recipe(wildcards):
    """A training job's recipe as its identity: keys sorted, neutral keys left out, so that only a
    change of meaning reruns it (ddd.experiment.recipes.identity; the script completes it).
    """
    return identity(study_of(wildcards).recipe(run_of(wildcards)))


def job_resource(key):
    return lambda wildcards: study_of(wildcards).resources(run_of(wildcards))[key]


def label_issue_list(wildcards):
    spec = CFG.label_issues.get(wildcards.study) or {}
    return [spec["list"]] if spec.get("list") else []


def study_label_issues(wildcards):
    """The study's label_issues.tsv when `label_issues` names the study (split.tsv then marks them)."""
    return (
        [paths.label_issues(wildcards.study)]
        if wildcards.study in CFG.label_issues
        else []
    )


def paper_of(wildcards):
    """The paper's family whose published numbers the headline table sets beside this study's."""
    s = study_of(wildcards)
    return paper_preset(s.dataset["kind"], s.family_name)


def psychophysics_timing(wildcards):
    """The experiment's timing settings (iti_ms, fixation_mark, fixation_ms, stimulus_ms,
    max_response_ms, fullscreen) as one params dict."""
    keys = (
        "iti_ms",
        "fixation_mark",
        "fixation_ms",
        "stimulus_ms",
        "max_response_ms",
        "fullscreen",
    )
    return {key: CFG.psychophysics[key] for key in keys}


def psychophysics_option(key):
    return lambda wildcards: CFG.psychophysics[key]


def psychophysics_label_issues(wildcards):
    return (
        [CFG.psychophysics["label_issues"]] if CFG.psychophysics["label_issues"] else []
    )


def psychophysics_responses(wildcards):
    return CFG.psychophysics.get("response_files") or []


def check_software():
    """Before any job runs: every optional extra the configured studies need (cleanlab, timm,
    open_clip) is where the job that needs it will import it. With --sdm conda, listed in the env file
    (rules renamed by a deploying Snakefile, or read from GitHub, are not checked); otherwise:
    importable here, where the jobs run. The message names the rule, the package and where it goes.
    """
    import importlib.util

    from snakemake.settings.types import DeploymentMethod

    use_conda = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    for rule_name, module, requirement in CFG.optional_packages():
        if not use_conda:
            try:
                found = importlib.util.find_spec(module) is not None
            except ImportError:
                found = False
            if not found:
                raise WorkflowError(
                    f"rule {rule_name} needs the package {requirement!r}, which is not installed in this "
                    f"environment: pip install -e '.[labels,timm,clip]' (or --sdm conda: "
                    f"workflow/envs/ has it)"
                )
            continue
        try:
            job_rule = workflow.get_rule(rule_name)
        except Exception:  # renamed by a deploying Snakefile (use ... as), not checked
            continue
        env = Path(str(job_rule.basedir), str(job_rule.conda_env)).resolve()
        if env.is_file() and requirement.lower() not in env_requirements(env):
            raise WorkflowError(
                f"the package {requirement!r} is not in the environment of rule {rule_name} ({env}), which "
                "needs it; add it to the env file's pip section, as in this workflow's own"
            )


def env_requirements(path):
    """The names of the packages a conda env file installs (conda and pip, lower case)."""
    import yaml

    names = []
    for dep in yaml.safe_load(Path(path).read_text()).get("dependencies") or []:
        for entry in dep.get("pip", []) if isinstance(dep, dict) else [dep]:
            names.append(
                re.split(r"[=<>!\[ ;]", str(entry).strip(), maxsplit=1)[0].lower()
            )
    return names
