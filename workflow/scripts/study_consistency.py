"""Adapter: all pairs, every epoch, every subset, with uncertainty and differences (ddd.analysis.consistency.study_consistency)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.analysis.consistency import study_consistency
from ddd.logs import to_file

to_file(snakemake.log[0])
study_consistency(
    snakemake.params.decision_makers,
    snakemake.input.split,
    pairs_path=snakemake.output.pairs,
    summary_path=snakemake.output.summary,
    uncertainty_path=snakemake.output.uncertainty,
    differences_path=snakemake.output.differences,
    conditions_path=snakemake.output.conditions,
    undefined=snakemake.params.undefined,
    n_boot=snakemake.params.n_boot,
    n_perm=snakemake.params.n_perm,
    alpha=snakemake.params.alpha,
    alternative=snakemake.params.alternative,
    bias_corrected=snakemake.params.bias_corrected,
    pair_resampling=snakemake.params.pair_resampling,
)
