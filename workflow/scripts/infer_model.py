"""Adapter: run one pretrained model (ddd.pretrained.infer) with the rule's params."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.logs import to_file
from ddd.pretrained.infer import infer

to_file(snakemake.log[0])
infer(
    snakemake.params.spec,
    snakemake.params.dataset,
    out=snakemake.output.decisions,
    device=snakemake.resources.device,
    batch_size=snakemake.params.batch_size,
    num_workers=max(0, snakemake.threads - 1),  # decode + preprocess; the main thread runs the model
    threads=snakemake.threads,
)
