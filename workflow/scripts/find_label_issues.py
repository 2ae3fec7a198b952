"""Adapter: a study's label issues (ddd.analysis.label_issues.label_issue_table) to label_issues.tsv."""
import glob
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.analysis.label_issues import label_issue_table
from ddd.logs import to_file

to_file(snakemake.log[0])
runs = list(snakemake.input.runs)
if snakemake.params.imported:  # an imported study's input is the folder of its converted files
    runs = sorted(glob.glob(os.path.join(runs[0], "*.h5")))
spec = snakemake.params.spec
table = label_issue_table(runs, list_path=spec["list"], column=spec["column"], match=spec["match"])
table.to_csv(snakemake.output.table, sep="\t", index=False)
