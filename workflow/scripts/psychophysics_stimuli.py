"""Adapter: choose the pairs, write their images and the experiment site (ddd.psychophysics.stimuli.write_stimuli)."""
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.logs import to_file
from ddd.psychophysics.stimuli import write_stimuli

to_file(snakemake.log[0])
p = snakemake.params
write_stimuli(
    snakemake.input.split,
    p.dataset,
    os.path.dirname(snakemake.output.manifest),
    study=snakemake.wildcards.study,
    rule=p.rule,
    n_pairs=p.pairs,
    n_practice=p.practice,
    seed=p.seed,
    label_issues=snakemake.input.label_issues[0] if snakemake.input.label_issues else None,
    breaks_every=p.breaks_every,
    shuffle=p.shuffle,
    display_size=p.display_size,
    timing=dict(p.timing),
)
