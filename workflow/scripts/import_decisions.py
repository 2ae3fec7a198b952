"""Adapter: import external decision files (ddd.results.imports.import_files)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.results.imports import import_files
from ddd.logs import to_file

to_file(snakemake.log[0])
import_files(list(snakemake.input), format=snakemake.params.format, out_dir=snakemake.output.runs,
             intersect=snakemake.params.intersect, report_path=snakemake.output.report)
