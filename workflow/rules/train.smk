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
