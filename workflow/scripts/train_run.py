"""Adapter: train one run (ddd.training.run.train_run) with the rule's params."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.experiment.recipes import complete
from ddd.logs import to_file
from ddd.training.run import train_run

to_file(snakemake.log[0])
train_run(
    complete(snakemake.params.recipe),  # the job's identity back to the full recipe
    snakemake.params.dataset,
    output=snakemake.output.decisions,
    network_output=snakemake.output.network,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    device=snakemake.resources.device,
    threads=snakemake.threads,
)
