rule fig02_correct_histogram:
    """Figure 2: how many decision makers classify each image correctly, with the binomial expectation."""
    input:
        split="results/{study}/split.tsv",
        summary="results/{study}/summary.json",
    output:
        png=report(
            "results/{study}/figures/fig02_correct_histogram.png",
            caption="../report/fig02_correct_histogram.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "Figure 2: correct histogram"},
        ),
        pdf="results/{study}/figures/fig02_correct_histogram.pdf",
    log:
        "logs/{study}/fig02_correct_histogram.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/fig02_correct_histogram.py"


rule fig03_kappa_vs_base:
    """Figure 3: error consistency of every run with the base, per condition."""
    input:
        kappas="results/{study}/kappa_vs_base.tsv",
        summary="results/{study}/summary.json",
    output:
        png=report(
            "results/{study}/figures/fig03_kappa_vs_base.png",
            caption="../report/fig03_kappa_vs_base.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "Figure 3: kappa vs base"},
        ),
        pdf="results/{study}/figures/fig03_kappa_vs_base.pdf",
    log:
        "logs/{study}/fig03_kappa_vs_base.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/fig03_kappa_vs_base.py"
