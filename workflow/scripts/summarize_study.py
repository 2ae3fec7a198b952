"""Adapter: summarise a study's decision makers (ddd.analysis.summary.summarize_study)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.analysis.summary import summarize_study
from ddd.logs import to_file

to_file(snakemake.log[0])
summarize_study(
    snakemake.params.decision_makers,
    study=snakemake.wildcards.study,
    summary_path=snakemake.output.summary,
    split_path=snakemake.output.split,
    kappa_path=snakemake.output.kappas,
    label_issues_tsv=snakemake.input.label_issues[0] if snakemake.input.label_issues else None,
    undefined=snakemake.params.undefined,
)
