# The psychophysical experiment (paper section 3.4, README "Psychophysics"): stimuli and a static
# experiment site for `psychophysics.study`, and the analysis of the responses in
# `psychophysics.responses`. The science is in ddd.psychophysics; the scripts only unpack.
PSY_STUDY = re.escape(CFG.psychophysics["study"]) if CFG.psychophysics else "NO_STUDY"


rule psychophysics_stimuli:
    """Seeded pairs of one trivial and one impossible evaluation image, their images and the experiment site."""
    input:
        split="results/{study}/split.tsv",
        label_issues=psychophysics_label_issues,
    output:
        manifest="results/{study}/psychophysics/manifest.csv",
        trials="results/{study}/psychophysics/trials.js",
        page="results/{study}/psychophysics/index.html",
        css="results/{study}/psychophysics/style.css",
        js="results/{study}/psychophysics/experiment.js",
        images=directory("results/{study}/psychophysics/images"),
    wildcard_constraints:
        study=PSY_STUDY,
    params:
        dataset=run_dataset,
        rule=psychophysics_option("rule"),
        pairs=psychophysics_option("pairs"),
        practice=psychophysics_option("practice"),
        seed=psychophysics_option("seed"),
        breaks_every=psychophysics_option("breaks_every"),
        shuffle=psychophysics_option("shuffle"),
        display_size=psychophysics_option("display_size"),
    log:
        "logs/{study}/psychophysics_stimuli.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/psychophysics_stimuli.py"


rule psychophysics_analysis:
    """Accuracy per observer, binomial p against chance, error consistency between observers."""
    input:
        responses=psychophysics_responses,
        manifest="results/{study}/psychophysics/manifest.csv",
    output:
        summary_csv=report(
            "results/{study}/tables/psychophysics_summary.csv",
            caption="../report/psychophysics_summary.rst",
            category="{study}",
            labels={"study": "{study}", "table": "psychophysics_summary"},
        ),
        summary_md="results/{study}/tables/psychophysics_summary.md",
        observers_csv=report(
            "results/{study}/tables/psychophysics_observers.csv",
            caption="../report/psychophysics_observers.rst",
            category="{study}",
            labels={"study": "{study}", "table": "psychophysics_observers"},
        ),
        observers_md="results/{study}/tables/psychophysics_observers.md",
        kappa_csv="results/{study}/tables/psychophysics_kappa.csv",
        png=report(
            "results/{study}/figures/psychophysics.png",
            caption="../report/psychophysics.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "psychophysics"},
        ),
        pdf="results/{study}/figures/psychophysics.pdf",
    wildcard_constraints:
        study=PSY_STUDY,
    params:
        undefined=CFG.undefined_kappa,
    log:
        "logs/{study}/psychophysics_analysis.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/psychophysics_analysis.py"
