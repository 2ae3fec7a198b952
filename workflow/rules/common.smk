# Helpers of the workflow: config validation, wildcard constraints and input functions.
# Logic lives in the ddd package (src/ddd); this file only maps config to paths and params.
import sys
from pathlib import Path

from snakemake.utils import validate

# The Snakefile imports the package from the checkout, whether or not it is pip-installed;
# scripts do the same through scripts/_ddd_path.py (the conda envs of --sdm conda hold only
# the dependencies, and Snakemake blocks PYTHONPATH there); see config/README.md.
SRC = str(Path(workflow.basedir).parent / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from ddd.experiment import recipes  # noqa: E402
from ddd.config import resolve_config  # noqa: E402

# Defaults are documentation only: the family decides unset recipe keys (ddd.config).
validate(config, "../schemas/config.schema.yaml", set_default=False)
CFG = resolve_config(config)  # checks what a schema cannot (dataset/family pairs, epochs, ...)


wildcard_constraints:
    study="|".join(map(re.escape, CFG.studies)) or "NO_STUDY",
    training_study="|".join(re.escape(s) for s in CFG.studies if CFG.kind(s) == "train") or "NO_STUDY",
    external_study="|".join(re.escape(s) for s in CFG.studies if CFG.kind(s) == "external") or "NO_STUDY",
    zoo_study="|".join(re.escape(s) for s in CFG.studies if CFG.kind(s) == "zoo") or "NO_STUDY",
    condition="|".join(recipes.CONDITIONS),
    instance=r"\d+",


def final_outputs():
    """Everything the default target asks for: per study, its summary, tables and every figure
    that applies to it (ddd.report.catalog; e.g. the KL figure only for the Gaussian set)."""
    from ddd.report.catalog import TABLES, applicable_figures

    out = []
    for study in CFG.studies:
        out += [f"results/{study}/summary.json", f"results/{study}/split.tsv",
                f"results/{study}/kappa_vs_base.tsv", f"results/{study}/consistency/pairs.tsv"]
        if CFG.kind(study) == "external":  # no base, no epochs, no pixels: the histogram applies
            out += expand("results/{study}/figures/fig02_correct_histogram.{ext}", study=study, ext=["png", "pdf"])
            continue
        if CFG.kind(study) in ("pretrained", "zoo"):  # each network its own condition, no base
            out += expand("results/{study}/figures/{fig}.{ext}", study=study, ext=["png", "pdf"],
                          fig=["fig02_correct_histogram", "fig06_consistency_matrix", "fig09_accuracy"])
            continue
        figures = [f for f, (ok, _) in sorted(applicable_figures(CFG.dataset(study), optional=("fig07_rsa",)).items())
                   if ok]
        out.append(f"results/{study}/rsa.tsv")
        out += expand("results/{study}/figures/{fig}.{ext}", study=study, fig=figures, ext=["png", "pdf"])
        for table, (_, exts) in TABLES.items():
            out += expand("results/{study}/tables/{table}.{ext}", study=study, table=table, ext=exts)
    out += psychophysics_outputs()
    return out


PSYCHOPHYSICS_SITE = ["manifest.csv", "trials.js", "index.html", "style.css", "experiment.js"]
PSYCHOPHYSICS_ANALYSIS = ["tables/psychophysics_summary.csv", "tables/psychophysics_summary.md",
                          "tables/psychophysics_observers.csv", "tables/psychophysics_observers.md",
                          "tables/psychophysics_kappa.csv", "figures/psychophysics.png", "figures/psychophysics.pdf"]


def psychophysics_outputs():
    """The experiment site of `psychophysics.study` and, when `responses` is set, its analysis."""
    p = CFG.psychophysics
    if not p:
        return []
    out = [f"results/{p['study']}/psychophysics/{f}" for f in PSYCHOPHYSICS_SITE]
    out.append(f"results/{p['study']}/psychophysics/images")
    if p["responses"]:
        out += [f"results/{p['study']}/{f}" for f in PSYCHOPHYSICS_ANALYSIS]
    return out


def psychophysics_option(key):
    return lambda wildcards: CFG.psychophysics[key]


def psychophysics_label_issues(wildcards):
    return [CFG.psychophysics["label_issues"]] if CFG.psychophysics["label_issues"] else []


def psychophysics_responses(wildcards):
    return CFG.psychophysics.get("response_files") or []


def paper_preset(wildcards):
    """The paper's family whose published numbers the headline table sets beside this study's."""
    from ddd.report.tables import paper_preset as preset

    return preset(CFG.dataset(wildcards.study)["kind"], CFG.family_name(wildcards.study))


def train_gpus():
    """GPUs a training job asks for: 1 on CUDA, 0 on CPU ("auto" looks for CUDA here)."""
    if CFG.device == "auto":
        import torch

        return int(torch.cuda.is_available())
    return int(CFG.device == "cuda")


def run_recipe(wildcards):
    return CFG.recipe(wildcards.study, wildcards.condition, int(wildcards.instance))


def run_priority(wildcards):
    """Longest runs first (the base trains E + 10 epochs; the other architecture is larger),
    so that no long job is left alone at the end of a local run."""
    r = run_recipe(wildcards)
    return (r["epochs"] + r["extra_epochs"]) * (2 if r["arch"] != CFG.base_arch(wildcards.study) else 1)


def run_runtime(wildcards):
    return CFG.train_resources(wildcards.study, wildcards.condition, int(wildcards.instance))["runtime"]


def run_mem_mb(wildcards):
    return CFG.train_resources(wildcards.study, wildcards.condition, int(wildcards.instance))["mem_mb"]


def run_dataset(wildcards):
    return CFG.dataset(wildcards.study)


def zoo_recipe(wildcards):
    return CFG.zoo_recipe(wildcards.zoo_study, wildcards.model)


def zoo_resource(key):
    return lambda wildcards: CFG.zoo_resources(wildcards.zoo_study, wildcards.model)[key]


def zoo_dataset(wildcards):
    return CFG.dataset(wildcards.zoo_study)


def study_run_files(wildcards):
    return CFG.run_files(wildcards.study)


def external_files(wildcards):
    return CFG.external(wildcards.study)["files"]


def external_option(key):
    return lambda wildcards: CFG.external(wildcards.study)[key]


def label_issue_list(wildcards):
    spec = CFG.label_issues.get(wildcards.study) or {}
    return [spec["list"]] if spec.get("list") else []


def study_label_issues(wildcards):
    """The study's label_issues.tsv when `label_issues` names the study (split.tsv then marks them)."""
    return [f"results/{wildcards.study}/label_issues.tsv"] if wildcards.study in CFG.label_issues else []


def study_entries(wildcards):
    return CFG.entries(wildcards.study)


# Pretrained studies (rules/inference.smk).
def pretrained_studies():
    return [s for s in CFG.studies if CFG.kind(s) == "pretrained"]


def pretrained_spec(wildcards):
    return CFG.pretrained_model(wildcards.pretrained_study, wildcards.model)


def pretrained_dataset(wildcards):
    return CFG.dataset(wildcards.pretrained_study)


def pretrained_batch_size(wildcards):
    return CFG.pretrained_batch_size(wildcards.pretrained_study)
