"""Adapter: make the figure or table named after the rule (ddd.report.catalog.render).

The rule's input named ``runs`` only makes the job wait for the decisions files; the figure reads
them through its ``decision_makers`` parameter.
"""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.logs import to_file
from ddd.report.catalog import render

to_file(snakemake.log[0])
render(
    snakemake.rule,
    inputs={k: v for k, v in snakemake.input.items() if k != "runs"},
    outputs=dict(snakemake.output.items()),
    options=dict(snakemake.params.items()),
)
