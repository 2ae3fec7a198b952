"""Adapter: analyse the observers' responses (ddd.psychophysics.analysis.analyse)."""
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.logs import to_file
from ddd.psychophysics.analysis import analyse

to_file(snakemake.log[0])
summary = analyse(
    list(snakemake.input.responses),
    snakemake.input.manifest,
    study=snakemake.wildcards.study,
    undefined=snakemake.params.undefined,
    **dict(snakemake.output.items()),
)
logging.getLogger("psychophysics").info("%s", summary)
