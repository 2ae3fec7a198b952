# Representational similarity (Figure 7): final-layer activations of every network of a training
# study on a fixed, seeded subset of evaluation images, RDMs and their correlation with the base's
# (ddd.analysis.representations). Config: analysis.rsa_images (subset size, default 1000),
# analysis.rsa_seed (1312). Every network is read at its nominal final epoch E (networks/*.pt;
# the base's too, not after its extra epochs), so a run bit-identical to the base (a "hardware"
# run on the CPU) scores r = 1.


rule rsa_vs_base:
    """Correlation of every network's RDM (1 - Pearson, penultimate activations) with the base network's."""
    input:
        networks=lambda wildcards: [
            paths.network(wildcards.study, run) for run in study_of(wildcards).runs()
        ],
    output:
        table=paths.rsa_table(),
        rdms=paths.rsa_rdms(),
    log:
        "logs/{study}/rsa_vs_base.log",
    benchmark:
        "benchmarks/{study}/rsa_vs_base.tsv"
    wildcard_constraints:
        study=studies_of("train"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=CFG.train_gpus,
        device=CFG.device,
    params:
        names=lambda wildcards: study_of(wildcards).runs(),
        recipes=lambda wildcards: {
            run: identity(study_of(wildcards).recipe(run))
            for run in study_of(wildcards).runs()
        },
        dataset=dataset,
        size=CFG.rsa_images,
        seed=CFG.rsa_seed,
    script:
        "../scripts/rsa_vs_base.py"


rule fig07_rsa:
    """Figure 7 (ddd.report.figures.rsa.figure_07): representational similarity of every condition's final network with the base."""
    input:
        rsa_tsv=paths.rsa_table(),
        rdms_npz=paths.rsa_rdms(),
    output:
        png=report(
            paths.figure(name="fig07_rsa"),
            caption="../report/fig07_rsa.rst",
            category="{study}",
            subcategory="Figures",
            labels={"study": "{study}", "figure": "fig07_rsa"},
        ),
        pdf=paths.figure(name="fig07_rsa", ext="pdf"),
    log:
        "logs/{study}/fig07_rsa.log",
    benchmark:
        "benchmarks/{study}/fig07_rsa.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        study="{study}",
    script:
        "../scripts/render_figure.py"
