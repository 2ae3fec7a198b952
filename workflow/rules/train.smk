# Training (ddd.training): one job per network of a training study (13 conditions) or a zoo.


rule train_run:
    """Train one network of one condition; record its decisions at every epoch."""
    output:
        decisions=paths.decisions(),
        network=paths.network(),
    params:
        recipe=recipe,
        dataset=dataset,
        checkpoint_dir="checkpoints/{study}/{condition}/{instance}",
        device=CFG.device,
    wildcard_constraints:
        study=studies_of("train"),
    log:
        "logs/{study}/train_run/{condition}/{instance}.log",
    benchmark:
        "benchmarks/{study}/train_run/{condition}/{instance}.tsv"
    threads: 1
    priority: lambda wildcards: study_of(wildcards).priority(run_of(wildcards))
    resources:
        gpu=CFG.train_gpus,
        runtime=job_resource("runtime"),
        mem_mb=job_resource("mem_mb"),
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/train_run.py"


rule train_zoo_model:
    """Train one network of a zoo (a radically different architecture); record its decisions."""
    output:
        decisions=paths.decisions(run="zoo/{model}"),
        network=paths.network(run="zoo/{model}"),
    params:
        recipe=recipe,
        dataset=dataset,
        checkpoint_dir="checkpoints/{study}/zoo/{model}",
        device=CFG.device,
    wildcard_constraints:
        study=studies_of("zoo"),
    log:
        "logs/{study}/train_zoo_model/{model}.log",
    benchmark:
        "benchmarks/{study}/train_zoo_model/{model}.tsv"
    threads: 1
    resources:
        gpu=CFG.train_gpus,
        runtime=job_resource("runtime"),
        mem_mb=job_resource("mem_mb"),
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/train_run.py"
