# The psychophysical experiment (paper section 3.4, README "Psychophysics"): stimuli and a static
# experiment site for `psychophysics.study`, and the analysis of the responses in
# `psychophysics.responses`. The science is in ddd.psychophysics; the scripts only unpack.
PSY_STUDY = re.escape(CFG.psychophysics["study"]) if CFG.psychophysics else "NO_STUDY"


rule psychophysics_stimuli:
    """Seeded pairs of one trivial and one impossible evaluation image, their images and the experiment site."""
    input:
        split=paths.split(),
        label_issues=psychophysics_label_issues,
    output:
        manifest=paths.site(file="manifest.csv"),
        trials=paths.site(file="trials.js"),
        page=paths.site(file="index.html"),
        css=paths.site(file="style.css"),
        js=paths.site(file="experiment.js"),
        images=directory(paths.site(file="images")),
    log:
        "logs/{study}/psychophysics_stimuli.log",
    wildcard_constraints:
        study=PSY_STUDY,
    conda:
        "../envs/torch.yaml"
    params:
        dataset=dataset,
        rule=psychophysics_option("rule"),
        pairs=psychophysics_option("pairs"),
        practice=psychophysics_option("practice"),
        seed=psychophysics_option("seed"),
        breaks_every=psychophysics_option("breaks_every"),
        shuffle=psychophysics_option("shuffle"),
        display_size=psychophysics_option("display_size"),
        timing=psychophysics_timing,
    script:
        "../scripts/psychophysics_stimuli.py"


rule psychophysics_analysis:
    """Accuracy per observer, binomial p against chance, error consistency between observers, and what the
    trials per observer can resolve (interval half-widths, smallest detectable difference of kappa, trials
    needed: tables/psychophysics_power.csv and .md). The report shows the tables inline (HTML pages made from
    the Markdown) and the figure with the paper's values as reference lines."""
    input:
        responses=psychophysics_responses,
        manifest=paths.site(file="manifest.csv"),
    output:
        summary_csv=paths.table(name="psychophysics_summary", ext="csv"),
        summary_md=paths.table(name="psychophysics_summary", ext="md"),
        summary_html=report(
            paths.table(name="psychophysics_summary", ext="html"),
            caption="../report/psychophysics_summary.rst",
            category="{study}",
            subcategory="Psychophysics",
            labels={"study": "{study}", "table": "psychophysics_summary"},
        ),
        observers_csv=paths.table(name="psychophysics_observers", ext="csv"),
        observers_md=paths.table(name="psychophysics_observers", ext="md"),
        observers_html=report(
            paths.table(name="psychophysics_observers", ext="html"),
            caption="../report/psychophysics_observers.rst",
            category="{study}",
            subcategory="Psychophysics",
            labels={"study": "{study}", "table": "psychophysics_observers"},
        ),
        kappa_csv=paths.table(name="psychophysics_kappa", ext="csv"),
        power_csv=paths.table(name="psychophysics_power", ext="csv"),
        power_md=paths.table(name="psychophysics_power", ext="md"),
        power_html=report(
            paths.table(name="psychophysics_power", ext="html"),
            caption="../report/psychophysics_power.rst",
            category="{study}",
            subcategory="Psychophysics",
            labels={"study": "{study}", "table": "psychophysics_power"},
        ),
        png=report(
            paths.figure(name="psychophysics", ext="png"),
            caption="../report/psychophysics.rst",
            category="{study}",
            subcategory="Psychophysics",
            labels={"study": "{study}", "figure": "psychophysics"},
        ),
        pdf=paths.figure(name="psychophysics", ext="pdf"),
    log:
        "logs/{study}/psychophysics_analysis.log",
    wildcard_constraints:
        study=PSY_STUDY,
    conda:
        "../envs/analysis.yaml"
    params:
        undefined=CFG.undefined_kappa,
    script:
        "../scripts/psychophysics_analysis.py"
