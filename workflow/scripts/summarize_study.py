"""Adapter: summarise a study's decision makers (ddd.study.summarize)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.logs import to_file
from ddd.study import Entry, summarize, write_summary

to_file(snakemake.log[0])
summary, split, kappas = summarize(
    [Entry(**e) for e in snakemake.params.entries],
    study=snakemake.wildcards.study,
    undefined=snakemake.params.undefined,
)
write_summary(summary, split, kappas, summary_path=snakemake.output.summary,
              split_path=snakemake.output.split, kappa_path=snakemake.output.kappas)
