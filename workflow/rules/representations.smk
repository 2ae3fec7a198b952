# Representational similarity (Figure 7): final-layer activations of every network of a training
# study on a fixed, seeded subset of evaluation images, RDMs and their correlation with the base's
# (ddd.analysis.rsa). Config: analysis.rsa_images (subset size, default 1000), analysis.rsa_seed (1312).
# Every network is read at its nominal final epoch E (networks/*.pt; the base's too, not after its
# extra epochs), so a run bit-identical to the base (a "hardware" run on the CPU) scores r = 1.


rule rsa_vs_base:
    """Correlation of every network's RDM (1 - Pearson, penultimate activations) with the base network's."""
    input:
        networks=lambda w: [f"results/{w.study}/networks/{run.path}.pt" for run in CFG.runs(w.study)],
    output:
        table="results/{study}/rsa.tsv",
        rdms="results/{study}/rsa_rdms.npz",
    wildcard_constraints:
        study="|".join(re.escape(s) for s in CFG.studies if CFG.kind(s) == "train") or "NO_STUDY",
    params:
        names=lambda w: [run.path for run in CFG.runs(w.study)],
        recipes=lambda w: {run.path: CFG.recipe(w.study, run.condition, run.instance) for run in CFG.runs(w.study)},
        dataset=run_dataset,
        size=CFG.rsa_images,
        seed=CFG.rsa_seed,
        device=CFG.device,
    log:
        "logs/{study}/rsa_vs_base.log",
    benchmark:
        "benchmarks/{study}/rsa_vs_base.tsv"
    threads: 1
    resources:
        gpu=train_gpus(),
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/rsa_vs_base.py"


rule fig07_rsa:
    """Figure 7: representational similarity of every condition's final network with the base."""
    input:
        rsa_tsv="results/{study}/rsa.tsv",
        rdms_npz="results/{study}/rsa_rdms.npz",
    output:
        png=report(
            "results/{study}/figures/fig07_rsa.png",
            caption="../report/fig07_rsa.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "fig07_rsa"},
        ),
        pdf="results/{study}/figures/fig07_rsa.pdf",
    params:
        study="{study}",
    log:
        "logs/{study}/fig07_rsa.log",
    benchmark:
        "benchmarks/{study}/fig07_rsa.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/render_figure.py"
