rule summarize_study:
    """Split, accuracies and kappa against the base of a study's decision makers."""
    input:
        study_run_files,
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
