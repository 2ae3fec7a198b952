"""Adapter: summarise a study's decision makers (ddd.analysis.summary.summarize)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.logs import to_file
from ddd.analysis.summary import Entry, summarize, write_summary

import pandas as pd

to_file(snakemake.log[0])
summary, split, kappas = summarize(
    [Entry(**e) for e in snakemake.params.entries],
    study=snakemake.wildcards.study,
    undefined=snakemake.params.undefined,
)
if snakemake.input.label_issues:  # label_issues.tsv: a label_issue column, and their count
    from ddd.analysis.label_issues import add_label_issue_column

    issues = pd.read_csv(snakemake.input.label_issues[0], sep="\t", dtype={"image_id": str})
    split = add_label_issue_column(split, issues.loc[issues["label_issue"].astype(bool), "image_id"])
    summary["n_label_issues"] = int(split["label_issue"].sum())
write_summary(summary, split, kappas, summary_path=snakemake.output.summary,
              split_path=snakemake.output.split, kappa_path=snakemake.output.kappas)
