# Pretrained models as decision makers (ddd.pretrained; docs/reproduction.md#pretrained-models):
# one job per model of a `pretrained` study, writing the same decisions HDF5 as a training run
# (one row, epoch 0, with class probabilities). Specs, also those a `library_models` list names,
# come normalised and pre-checked from ddd.config (weights files present, names known).


rule infer_model:
    """Run one pretrained model over the study's evaluation split; record its decisions."""
    output:
        decisions=paths.decisions(run="pretrained/{model}"),
    log:
        "logs/{study}/infer_model/{model}.log",
    benchmark:
        "benchmarks/{study}/infer_model/{model}.tsv"
    wildcard_constraints:
        study=studies_of("pretrained"),
    conda:
        "../envs/pretrained.yaml"
    threads: 4
    resources:
        gpu=CFG.train_gpus,
        device=CFG.device,
        runtime=60,
        mem_mb=16000,
    params:
        spec=lambda wildcards: canonical(study_of(wildcards).spec(wildcards.model)),
        dataset=dataset,
        batch_size=lambda wildcards: study_of(wildcards).batch_size,
    script:
        "../scripts/infer_model.py"
