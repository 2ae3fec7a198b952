rule import_decisions:
    """Convert an imported study's decision files (CSV, model-vs-human) into decisions HDF5 files."""
    input:
        external_files,
    output:
        runs=directory("results/{study}/runs/imported"),
        report="results/{study}/import.json",
    params:
        format=external_option("format"),
        intersect=external_option("intersect"),
    log:
        "logs/{study}/import_decisions.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/import_decisions.py"


rule find_label_issues:
    """Label issues of a study: from a published list of image ids, or found by cleanlab from the
    decision makers' stored class probabilities (out-of-sample: no network trains on evaluation images)."""
    input:
        runs=study_run_files,
        list=label_issue_list,
    output:
        table="results/{study}/label_issues.tsv",
    params:
        spec=lambda w: CFG.label_issues[w.study],
        imported=lambda w: CFG.kind(w.study) == "external",
    log:
        "logs/{study}/find_label_issues.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/find_label_issues.py"


rule summarize_study:
    """Split, accuracies and kappa against the base of a study's decision makers."""
    input:
        runs=study_run_files,
        label_issues=study_label_issues,
    output:
        summary="results/{study}/summary.json",
        split="results/{study}/split.tsv",
        kappas="results/{study}/kappa_vs_base.tsv",
    params:
        entries=study_entries,
        undefined=CFG.undefined_kappa,
    log:
        "logs/{study}/summarize_study.log",
    benchmark:
        "benchmarks/{study}/summarize_study.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/summarize_study.py"


rule compute_consistency:
    """Every pair of decision makers at every epoch, on all and in-between images, with uncertainty."""
    input:
        runs=study_run_files,
        split="results/{study}/split.tsv",
    output:
        pairs="results/{study}/consistency/pairs.tsv",
        summary="results/{study}/consistency/summary.tsv",
        uncertainty="results/{study}/consistency/uncertainty.tsv",
    params:
        entries=study_entries,
        undefined=CFG.undefined_kappa,
        n_boot=CFG.n_boot,
    log:
        "logs/{study}/compute_consistency.log",
    benchmark:
        "benchmarks/{study}/compute_consistency.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/compute_consistency.py"
