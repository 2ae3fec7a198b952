"""Adapter: Figure 2, the correct-count histogram (ddd.figures.histogram.figure_02)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.figures.histogram import figure_02
from ddd.logs import to_file

to_file(snakemake.log[0])
figure_02(snakemake.input.split, snakemake.input.summary,
          png=snakemake.output.png, pdf=snakemake.output.pdf)
