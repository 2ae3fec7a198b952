rule fig02_correct_histogram:
    """Figure 2: how many decision makers classify each image correctly, with the binomial expectation."""
    input:
        split_tsv="results/{study}/split.tsv",
        summary_json="results/{study}/summary.json",
    output:
        png=report(
            "results/{study}/figures/fig02_correct_histogram.png",
            caption="../report/fig02_correct_histogram.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig02_correct_histogram"},
        ),
        pdf="results/{study}/figures/fig02_correct_histogram.pdf",
    log:
        "logs/{study}/fig02_correct_histogram.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig03_kappa_vs_base:
    """Figure 3: error consistency of every run with the base, per condition."""
    input:
        kappa_tsv="results/{study}/kappa_vs_base.tsv",
        summary_json="results/{study}/summary.json",
    output:
        png=report(
            "results/{study}/figures/fig03_kappa_vs_base.png",
            caption="../report/fig03_kappa_vs_base.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig03_kappa_vs_base"},
        ),
        pdf="results/{study}/figures/fig03_kappa_vs_base.pdf",
    log:
        "logs/{study}/fig03_kappa_vs_base.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig04_run_correctness:
    """Figure 4: the base run's correctness, image x epoch."""
    input:
        runs=study_run_files,
    output:
        png=report(
            "results/{study}/figures/fig04_run_correctness.png",
            caption="../report/fig04_run_correctness.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig04_run_correctness"},
        ),
        pdf="results/{study}/figures/fig04_run_correctness.pdf",
    params:
        entries=study_entries,
        study="{study}",
    log:
        "logs/{study}/fig04_run_correctness.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig05_mean_correctness:
    """Figure 5: mean correctness over the family's runs, image x epoch."""
    input:
        runs=study_run_files,
    output:
        png=report(
            "results/{study}/figures/fig05_mean_correctness.png",
            caption="../report/fig05_mean_correctness.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig05_mean_correctness"},
        ),
        pdf="results/{study}/figures/fig05_mean_correctness.pdf",
    params:
        entries=study_entries,
        study="{study}",
    log:
        "logs/{study}/fig05_mean_correctness.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig06_consistency_matrix:
    """Figure 6: kappa between conditions, all images and in-between images."""
    input:
        runs=study_run_files,
        split_tsv="results/{study}/split.tsv",
        summary_json="results/{study}/summary.json",
    output:
        png=report(
            "results/{study}/figures/fig06_consistency_matrix.png",
            caption="../report/fig06_consistency_matrix.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig06_consistency_matrix"},
        ),
        pdf="results/{study}/figures/fig06_consistency_matrix.pdf",
    params:
        entries=study_entries,
        undefined=CFG.undefined_kappa,
    log:
        "logs/{study}/fig06_consistency_matrix.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig08_gaussian_kl:
    """Figure 8: KL divergence between neighbouring Gaussian classes against class accuracy."""
    input:
        runs=study_run_files,
    output:
        png=report(
            "results/{study}/figures/fig08_gaussian_kl.png",
            caption="../report/fig08_gaussian_kl.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig08_gaussian_kl"},
        ),
        pdf="results/{study}/figures/fig08_gaussian_kl.pdf",
    params:
        entries=study_entries,
        study="{study}",
    log:
        "logs/{study}/fig08_gaussian_kl.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig09_accuracy:
    """Figure 9: final accuracy per condition."""
    input:
        runs=study_run_files,
        summary_json="results/{study}/summary.json",
    output:
        png=report(
            "results/{study}/figures/fig09_accuracy.png",
            caption="../report/fig09_accuracy.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig09_accuracy"},
        ),
        pdf="results/{study}/figures/fig09_accuracy.pdf",
    params:
        entries=study_entries,
    log:
        "logs/{study}/fig09_accuracy.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig12_decision_changes:
    """Figure 12: label changes and correctness flips between consecutive epochs."""
    input:
        runs=study_run_files,
    output:
        png=report(
            "results/{study}/figures/fig12_decision_changes.png",
            caption="../report/fig12_decision_changes.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig12_decision_changes"},
        ),
        pdf="results/{study}/figures/fig12_decision_changes.pdf",
    params:
        entries=study_entries,
        study="{study}",
    log:
        "logs/{study}/fig12_decision_changes.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig13_example_images:
    """Figure 13: an impossible and a trivial evaluation image."""
    input:
        runs=study_run_files,
        split_tsv="results/{study}/split.tsv",
        summary_json="results/{study}/summary.json",
    output:
        png=report(
            "results/{study}/figures/fig13_example_images.png",
            caption="../report/fig13_example_images.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig13_example_images"},
        ),
        pdf="results/{study}/figures/fig13_example_images.pdf",
    params:
        entries=study_entries,
    log:
        "logs/{study}/fig13_example_images.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig15_class_accuracy:
    """Figure 15: class accuracies of the base network, sorted."""
    input:
        runs=study_run_files,
    output:
        png=report(
            "results/{study}/figures/fig15_class_accuracy.png",
            caption="../report/fig15_class_accuracy.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig15_class_accuracy"},
        ),
        pdf="results/{study}/figures/fig15_class_accuracy.pdf",
    params:
        entries=study_entries,
        study="{study}",
    log:
        "logs/{study}/fig15_class_accuracy.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule table1_class_accuracy:
    """Table 1: the 10 highest- and lowest-accuracy classes of the base network."""
    input:
        runs=study_run_files,
    output:
        csv=report(
            "results/{study}/tables/table1_class_accuracy.csv",
            caption="../report/table1_class_accuracy.rst",
            category="{study}",
            labels={"study": "{study}", "table": "table1_class_accuracy"},
        ),
        tex="results/{study}/tables/table1_class_accuracy.tex",
        md="results/{study}/tables/table1_class_accuracy.md",
    params:
        entries=study_entries,
        study="{study}",
    log:
        "logs/{study}/table1_class_accuracy.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule headline:
    """Headline numbers: split, accuracies, swap rates and kappa by condition with confidence intervals."""
    input:
        runs=study_run_files,
        summary_json="results/{study}/summary.json",
        kappa_tsv="results/{study}/kappa_vs_base.tsv",
    output:
        csv=report(
            "results/{study}/tables/headline.csv",
            caption="../report/headline.rst",
            category="{study}",
            labels={"study": "{study}", "table": "headline"},
        ),
        md="results/{study}/tables/headline.md",
    params:
        entries=study_entries,
        paper=paper_preset,
        undefined=CFG.undefined_kappa,
    log:
        "logs/{study}/headline.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"
