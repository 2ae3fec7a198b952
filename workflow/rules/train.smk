# Training (ddd.training): one job per network of a training study (13 conditions) or a zoo.
# `device` is a resource, not a param: where a job runs is no reason to train it again (params
# changes rerun jobs; `device: auto` and `cpu` give the same networks on a machine without a GPU).
# One thread per job: on CPUs two single-thread jobs beat one two-thread job, and the longest
# jobs start first (`priority`); measured in config/README.md, "Speed and numerics of the default".


rule train_run:
    """Train one network of one condition; record its decisions at every epoch."""
    output:
        decisions=paths.decisions(),
        network=paths.network(),
    log:
        "logs/{study}/train_run/{condition}/{instance}.log",
    benchmark:
        "benchmarks/{study}/train_run/{condition}/{instance}.tsv"
    wildcard_constraints:
        study=studies_of("train"),
    priority: lambda wildcards: study_of(wildcards).priority(run_of(wildcards))
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=CFG.train_gpus,
        device=CFG.device,
        runtime=job_resource("runtime"),
        mem_mb=job_resource("mem_mb"),
    params:
        recipe=recipe,
        dataset=dataset,
        checkpoint_dir="checkpoints/{study}/{condition}/{instance}",
    script:
        "../scripts/train_run.py"


rule train_zoo_model:
    """Train one network of a zoo (a radically different architecture); record its decisions."""
    output:
        decisions=paths.decisions(run="zoo/{model}"),
        network=paths.network(run="zoo/{model}"),
    log:
        "logs/{study}/train_zoo_model/{model}.log",
    benchmark:
        "benchmarks/{study}/train_zoo_model/{model}.tsv"
    wildcard_constraints:
        study=studies_of("zoo"),
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        gpu=CFG.train_gpus,
        device=CFG.device,
        runtime=job_resource("runtime"),
        mem_mb=job_resource("mem_mb"),
    params:
        recipe=recipe,
        dataset=dataset,
        checkpoint_dir="checkpoints/{study}/zoo/{model}",
    script:
        "../scripts/train_run.py"
