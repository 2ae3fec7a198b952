# Analysis of a study's decisions (ddd.analysis): imports, label issues, the summary and split,
# and every pair's error consistency.


rule import_decisions:
    """Convert an imported study's decision files (CSV, model-vs-human) into decisions HDF5 files."""
    input:
        lambda wildcards: study_of(wildcards).files,
    output:
        runs=directory(paths.imported_runs()),
        report=paths.import_report(),
    log:
        "logs/{study}/import_decisions.log",
    wildcard_constraints:
        study=studies_of("external"),
    conda:
        "../envs/analysis.yaml"
    params:
        format=lambda wildcards: study_of(wildcards).format,
        intersect=lambda wildcards: study_of(wildcards).intersect,
    script:
        "../scripts/import_decisions.py"


rule find_label_issues:
    """Label issues of a study: from a published list of image ids, or found by cleanlab from the
    decision makers' stored class probabilities (out-of-sample: no network trains on evaluation images).
    """
    input:
        runs=run_files,
        list=label_issue_list,
    output:
        table=paths.label_issues(),
    log:
        "logs/{study}/find_label_issues.log",
    conda:
        "../envs/labels.yaml"
    params:
        spec=lambda wildcards: canonical(CFG.label_issues[wildcards.study]),
        decision_makers=decision_makers,
    script:
        "../scripts/find_label_issues.py"


rule summarize_study:
    """Split, accuracies and kappa against the base of a study's decision makers."""
    input:
        runs=run_files,
        label_issues=study_label_issues,
    output:
        summary=paths.summary(),
        split=paths.split(),
        kappas=paths.kappas(),
    log:
        "logs/{study}/summarize_study.log",
    benchmark:
        "benchmarks/{study}/summarize_study.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        undefined=CFG.undefined_kappa,
    script:
        "../scripts/summarize_study.py"


rule study_consistency:
    """Every pair of decision makers at every epoch, on all and in-between images, with uncertainty;
    the differences of κ that share a decision maker, with intervals and Holm-adjusted p-values.
    """
    input:
        runs=run_files,
        split=paths.split(),
    output:
        pairs=paths.consistency(table="pairs"),
        summary=paths.consistency(table="summary"),
        uncertainty=paths.consistency(table="uncertainty"),
        differences=paths.consistency(table="differences"),
        conditions=paths.consistency(table="conditions"),
    log:
        "logs/{study}/study_consistency.log",
    benchmark:
        "benchmarks/{study}/study_consistency.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        undefined=CFG.undefined_kappa,
        n_boot=CFG.n_boot,
        n_perm=CFG.n_perm,
        alpha=CFG.alpha,
        alternative=CFG.p_alternative,
        bias_corrected=CFG.bias_corrected_kappa,
        pair_resampling=CFG.pair_resampling,
    script:
        "../scripts/study_consistency.py"


rule image_table:
    """One row per evaluation image: difficulty (IRT), learning dynamics, most frequent (wrong) answers."""
    input:
        runs=run_files,
        split=paths.split(),
    output:
        images=paths.images(),
    log:
        "logs/{study}/image_table.log",
    benchmark:
        "benchmarks/{study}/image_table.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
    script:
        "../scripts/image_table.py"


rule export_correctness:
    """The correctness matrix for other tools: py-irt JSON lines and a tidy long table (on request)."""
    input:
        runs=run_files,
    output:
        jsonl=paths.export(file="correct.jsonl"),
        long=paths.export(file="correct_long.tsv.gz"),
    log:
        "logs/{study}/export_correctness.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
    script:
        "../scripts/export_correctness.py"
