# Pretrained models as decision makers (ddd.pretrained; SPEC section 4): one job per model of a
# `pretrained` study, writing the same decisions HDF5 as a training run (one row, epoch 0, with
# class probabilities) to results/{study}/runs/pretrained/{model}.h5.
#
# The wildcard `pretrained_study` only matches studies whose kind is "pretrained"; specs come
# normalised and pre-checked from ddd.config (weights files present, names known).


rule infer_model:
    """Run one pretrained model over the study's evaluation split; record its decisions."""
    output:
        decisions="results/{pretrained_study}/runs/pretrained/{model}.h5",
    params:
        spec=pretrained_spec,
        dataset=pretrained_dataset,
        batch_size=pretrained_batch_size,
        device=CFG.device,
    wildcard_constraints:
        pretrained_study="|".join(map(re.escape, pretrained_studies())) or "NO_STUDY",
        model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    log:
        "logs/{pretrained_study}/infer_model/{model}.log",
    benchmark:
        "benchmarks/{pretrained_study}/infer_model/{model}.tsv"
    threads: 4
    resources:
        gpu=train_gpus(),
        runtime=60,
        mem_mb=16000,
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/infer_model.py"
