"""Adapter: the correctness matrix for other tools (ddd.analysis.images.export_correctness)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.analysis.images import export_correctness
from ddd.logs import to_file

to_file(snakemake.log[0])
export_correctness(snakemake.params.decision_makers, jsonl_path=snakemake.output.jsonl,
                   long_path=snakemake.output.long)
