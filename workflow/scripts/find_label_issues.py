"""Adapter: a study's label issues to label_issues.tsv (ddd.analysis.label_issues.study_label_issues)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.analysis.label_issues import study_label_issues
from ddd.logs import to_file

to_file(snakemake.log[0])
spec = snakemake.params.spec
study_label_issues(snakemake.params.decision_makers, snakemake.output.table, list_path=spec["list"],
                   column=spec["column"], match=spec["match"])
