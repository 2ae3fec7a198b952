rule train_run:
    """Train one network of one condition; record its decisions at every epoch."""
    output:
        decisions="results/{study}/runs/{condition}/{instance}.h5",
        network="results/{study}/networks/{condition}/{instance}.pt",
    params:
        recipe=run_recipe,
        dataset=run_dataset,
        checkpoint_dir="checkpoints/{study}/{condition}/{instance}",
        device=CFG.device,
    log:
        "logs/{study}/train_run/{condition}/{instance}.log",
    benchmark:
        "benchmarks/{study}/train_run/{condition}/{instance}.tsv"
    threads: 1
    priority: run_priority
    resources:
        gpu=train_gpus(),
        runtime=run_runtime,
        mem_mb=run_mem_mb,
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/train_run.py"


rule train_zoo_model:
    """Train one network of a zoo (a radically different architecture); record its decisions."""
    output:
        decisions="results/{zoo_study}/runs/zoo/{model}.h5",
        network="results/{zoo_study}/networks/zoo/{model}.pt",
    params:
        recipe=zoo_recipe,
        dataset=zoo_dataset,
        checkpoint_dir="checkpoints/{zoo_study}/zoo/{model}",
        device=CFG.device,
    log:
        "logs/{zoo_study}/train_zoo_model/{model}.log",
    benchmark:
        "benchmarks/{zoo_study}/train_zoo_model/{model}.tsv"
    threads: 1
    resources:
        gpu=train_gpus(),
        runtime=zoo_resource("runtime"),
        mem_mb=zoo_resource("mem_mb"),
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/train_run.py"
