# Every figure and table of the paper: one rule each, named after its output; one script for all
# (render_figure.py -> ddd.report.catalog.render -> the function named in the rule's docstring).
# The rule's input (but `runs`, a dependency only), output and params names are that function's
# parameters; tests/test_workflow_wiring.py checks every rule against its function.
# Figure 7 is in representations.smk.


rule fig02_correct_histogram:
    """Figure 2 (ddd.report.figures.histogram.figure_02): how many decision makers classify each image correctly, with the binomial expectation."""
    input:
        split_tsv=paths.split(),
        summary_json=paths.summary(),
    output:
        png=report(
            paths.figure(name="fig02_correct_histogram"),
            caption="../report/fig02_correct_histogram.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig02_correct_histogram"},
        ),
        pdf=paths.figure(name="fig02_correct_histogram", ext="pdf"),
    log:
        "logs/{study}/fig02_correct_histogram.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig03_kappa_vs_base:
    """Figure 3 (ddd.report.figures.kappa.figure_03): error consistency of every run with the base, per condition, with intervals."""
    input:
        kappa_tsv=paths.kappas(),
        summary_json=paths.summary(),
        uncertainty_tsv=paths.consistency(table="uncertainty"),
        conditions_tsv=paths.consistency(table="conditions"),
    output:
        png=report(
            paths.figure(name="fig03_kappa_vs_base"),
            caption="../report/fig03_kappa_vs_base.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig03_kappa_vs_base"},
        ),
        pdf=paths.figure(name="fig03_kappa_vs_base", ext="pdf"),
    log:
        "logs/{study}/fig03_kappa_vs_base.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule fig04_run_correctness:
    """Figure 4 (ddd.report.figures.correctness.figure_04): the base run's correctness, image x epoch."""
    input:
        runs=run_files,
    output:
        png=report(
            paths.figure(name="fig04_run_correctness"),
            caption="../report/fig04_run_correctness.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig04_run_correctness"},
        ),
        pdf=paths.figure(name="fig04_run_correctness", ext="pdf"),
    log:
        "logs/{study}/fig04_run_correctness.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        study="{study}",
    script:
        "../scripts/render_figure.py"


rule fig05_mean_correctness:
    """Figure 5 (ddd.report.figures.correctness.figure_05): mean correctness over the family's runs, image x epoch."""
    input:
        runs=run_files,
    output:
        png=report(
            paths.figure(name="fig05_mean_correctness"),
            caption="../report/fig05_mean_correctness.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig05_mean_correctness"},
        ),
        pdf=paths.figure(name="fig05_mean_correctness", ext="pdf"),
    log:
        "logs/{study}/fig05_mean_correctness.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        study="{study}",
    script:
        "../scripts/render_figure.py"


rule fig06_consistency_matrix:
    """Figure 6 (ddd.report.figures.matrix.figure_06): kappa between conditions, all images and in-between images."""
    input:
        runs=run_files,
        split_tsv=paths.split(),
        summary_json=paths.summary(),
    output:
        png=report(
            paths.figure(name="fig06_consistency_matrix"),
            caption="../report/fig06_consistency_matrix.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig06_consistency_matrix"},
        ),
        pdf=paths.figure(name="fig06_consistency_matrix", ext="pdf"),
    log:
        "logs/{study}/fig06_consistency_matrix.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        undefined=CFG.undefined_kappa,
    script:
        "../scripts/render_figure.py"


rule fig08_gaussian_kl:
    """Figure 8 (ddd.report.figures.gaussian.figure_08): KL divergence between neighbouring Gaussian classes against class accuracy."""
    input:
        runs=run_files,
    output:
        png=report(
            paths.figure(name="fig08_gaussian_kl"),
            caption="../report/fig08_gaussian_kl.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig08_gaussian_kl"},
        ),
        pdf=paths.figure(name="fig08_gaussian_kl", ext="pdf"),
    log:
        "logs/{study}/fig08_gaussian_kl.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        study="{study}",
    script:
        "../scripts/render_figure.py"


rule fig09_accuracy:
    """Figure 9 (ddd.report.figures.accuracy.figure_09): final accuracy per condition."""
    input:
        runs=run_files,
        summary_json=paths.summary(),
    output:
        png=report(
            paths.figure(name="fig09_accuracy"),
            caption="../report/fig09_accuracy.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig09_accuracy"},
        ),
        pdf=paths.figure(name="fig09_accuracy", ext="pdf"),
    log:
        "logs/{study}/fig09_accuracy.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
    script:
        "../scripts/render_figure.py"


rule fig12_decision_changes:
    """Figure 12 (ddd.report.figures.changes.figure_12): label changes and correctness flips between consecutive epochs."""
    input:
        runs=run_files,
    output:
        png=report(
            paths.figure(name="fig12_decision_changes"),
            caption="../report/fig12_decision_changes.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig12_decision_changes"},
        ),
        pdf=paths.figure(name="fig12_decision_changes", ext="pdf"),
    log:
        "logs/{study}/fig12_decision_changes.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        study="{study}",
    script:
        "../scripts/render_figure.py"


rule fig13_example_images:
    """Figure 13 (ddd.report.figures.examples.figure_13): an impossible and a trivial evaluation image."""
    input:
        runs=run_files,
        split_tsv=paths.split(),
        summary_json=paths.summary(),
    output:
        png=report(
            paths.figure(name="fig13_example_images"),
            caption="../report/fig13_example_images.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig13_example_images"},
        ),
        pdf=paths.figure(name="fig13_example_images", ext="pdf"),
    log:
        "logs/{study}/fig13_example_images.log",
    conda:
        "../envs/torch.yaml"  # the Gaussian images are drawn with torch's generator
    params:
        decision_makers=decision_makers,
    script:
        "../scripts/render_figure.py"


rule fig15_class_accuracy:
    """Figure 15 (ddd.report.figures.accuracy.figure_15): class accuracies of the base network, sorted."""
    input:
        runs=run_files,
    output:
        png=report(
            paths.figure(name="fig15_class_accuracy"),
            caption="../report/fig15_class_accuracy.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig15_class_accuracy"},
        ),
        pdf=paths.figure(name="fig15_class_accuracy", ext="pdf"),
    log:
        "logs/{study}/fig15_class_accuracy.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        study="{study}",
    script:
        "../scripts/render_figure.py"


rule differences_vs_base:
    """Do the conditions differ? (ddd.report.figures.differences.figure_differences): each condition's kappa with the base on all and on in-between images, and the differences that survive Holm's adjustment."""
    input:
        conditions_tsv=paths.consistency(table="conditions"),
        differences_tsv=paths.consistency(table="differences"),
        summary_json=paths.summary(),
    output:
        png=report(
            paths.figure(name="differences_vs_base"),
            caption="../report/differences_vs_base.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "differences_vs_base"},
        ),
        pdf=paths.figure(name="differences_vs_base", ext="pdf"),
    log:
        "logs/{study}/differences_vs_base.log",
    conda:
        "../envs/analysis.yaml"
    params:
        alpha=CFG.alpha,
    script:
        "../scripts/render_figure.py"


rule images_data_map:
    """Data map (ddd.report.figures.images.figure_data_map): each image's mean correctness over networks and epochs against its spread over networks."""
    input:
        images_tsv=paths.images(),
        summary_json=paths.summary(),
    output:
        png=report(
            paths.figure(name="images_data_map"),
            caption="../report/images_data_map.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "images_data_map"},
        ),
        pdf=paths.figure(name="images_data_map", ext="pdf"),
    log:
        "logs/{study}/images_data_map.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule images_learning_order:
    """Learning order (ddd.report.figures.images.figure_learning_order): the epoch from which networks stay right against the final number right."""
    input:
        images_tsv=paths.images(),
        summary_json=paths.summary(),
    output:
        png=report(
            paths.figure(name="images_learning_order"),
            caption="../report/images_learning_order.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "images_learning_order"},
        ),
        pdf=paths.figure(name="images_learning_order", ext="pdf"),
    log:
        "logs/{study}/images_learning_order.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule images_difficulty:
    """Item difficulty (ddd.report.figures.images.figure_difficulty): the Rasch difficulty of every image, with the split's thresholds."""
    input:
        images_tsv=paths.images(),
        summary_json=paths.summary(),
    output:
        png=report(
            paths.figure(name="images_difficulty"),
            caption="../report/images_difficulty.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "images_difficulty"},
        ),
        pdf=paths.figure(name="images_difficulty", ext="pdf"),
    log:
        "logs/{study}/images_difficulty.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"


rule table1_class_accuracy:
    """Table 1 (ddd.report.tables.table_1): the 10 highest- and lowest-accuracy classes of the base network."""
    input:
        runs=run_files,
    output:
        csv=report(
            paths.table(name="table1_class_accuracy", ext="csv"),
            caption="../report/table1_class_accuracy.rst",
            category="{study}",
            subcategory="Tables",
            labels={"study": "{study}", "table": "table1_class_accuracy"},
        ),
        tex=paths.table(name="table1_class_accuracy", ext="tex"),
        md=paths.table(name="table1_class_accuracy", ext="md"),
    log:
        "logs/{study}/table1_class_accuracy.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        study="{study}",
    script:
        "../scripts/render_figure.py"


rule headline:
    """Headline numbers (ddd.report.tables.headline): split, accuracies, swap rates and kappa by condition with confidence intervals."""
    input:
        runs=run_files,
        summary_json=paths.summary(),
        kappa_tsv=paths.kappas(),
    output:
        csv=report(
            paths.table(name="headline", ext="csv"),
            caption="../report/headline.rst",
            category="{study}",
            subcategory="Tables",
            labels={"study": "{study}", "table": "headline"},
        ),
        md=paths.table(name="headline", ext="md"),
    log:
        "logs/{study}/headline.log",
    conda:
        "../envs/analysis.yaml"
    params:
        decision_makers=decision_makers,
        paper=paper_of,
        undefined=CFG.undefined_kappa,
    script:
        "../scripts/render_figure.py"
