"""Adapter: representational similarity of every network of a study with its base (ddd.analysis.representations.rsa_study)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.analysis.representations import rsa_study
from ddd.experiment.recipes import complete
from ddd.logs import to_file

to_file(snakemake.log[0])
rsa_study(dict(zip(snakemake.params.names, snakemake.input.networks)),
          {run: complete(r) for run, r in snakemake.params.recipes.items()},
          snakemake.params.dataset, table_path=snakemake.output.table, rdms_path=snakemake.output.rdms,
          size=snakemake.params.size, seed=snakemake.params.seed, device=snakemake.resources.device,
          threads=snakemake.threads)
