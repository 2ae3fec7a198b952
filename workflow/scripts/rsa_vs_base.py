"""Adapter: representational similarity of every network of a study with its base (ddd.analysis.rsa.rsa_vs_base)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
import numpy as np
import torch
from ddd.logs import to_file
from ddd.analysis.rsa import example_rdms, rsa_vs_base
from ddd.training.train import resolve_device

to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
names = list(snakemake.params.names)
networks = dict(zip(names, snakemake.input.networks))
options = {"size": snakemake.params.size, "seed": snakemake.params.seed,
           "device": str(resolve_device(snakemake.params.device))}
table = rsa_vs_base(networks, snakemake.params.recipes, snakemake.params.dataset, **options)
table.to_csv(snakemake.output.table, sep="\t", index=False, na_rep="NaN")
rdms = example_rdms(table, networks, snakemake.params.recipes, snakemake.params.dataset, **options)
np.savez_compressed(snakemake.output.rdms, names=np.array(list(rdms), dtype=str),
                    **{f"rdm_{i}": m for i, m in enumerate(rdms.values())})
