"""Adapter: Figure 3, kappa of every run with the base (ddd.figures.kappa.figure_03)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.figures.kappa import figure_03
from ddd.logs import to_file

to_file(snakemake.log[0])
figure_03(snakemake.input.kappas, snakemake.input.summary,
          png=snakemake.output.png, pdf=snakemake.output.pdf)
