"""Adapter: one row per image with its difficulty and learning dynamics (ddd.analysis.images.study_images)."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snakemake.script import snakemake

import _ddd_path  # noqa: F401  (puts the checkout's src/ on sys.path)
from ddd.analysis.images import study_images
from ddd.logs import to_file

to_file(snakemake.log[0])
study_images(snakemake.params.decision_makers, snakemake.input.split, images_path=snakemake.output.images)
