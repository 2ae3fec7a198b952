"""Read and write *decisions* files: what one decision maker answered for every evaluation image.

This package is the only code that knows the on-disk format (writer: :mod:`.write`; readers:
:mod:`.read`, :mod:`.epochs`; shared types and checks: :mod:`.core`). One HDF5 file per run holds

``predictions``   int16 (int32 if a class index exceeds int16) ``(E+1, N)``: top-1 class of every
                  evaluation image at every evaluation epoch (row 0 = before training; one row for
                  pretrained models), gzip-compressed.
``targets``       int ``(N,)``; ``image_ids``: UTF-8 strings ``(N,)``; ``epochs``: int ``(E+1,)``.
``probabilities`` optional float16 ``(N, C)``: class probabilities of the final row.
``features``      optional float16 ``(K, D)`` with ``feature_ids`` ``(K,)``: penultimate activations
                  on a subset of the images.
``image_info/*``  optional per-image columns ``(N,)`` (strings or numbers) in the group
                  ``image_info``, e.g. ``condition`` for imported model-vs-human data.

File attributes: ``format = "ddd-decisions"``, ``format_version = 1``, ``recipe`` (JSON of the
resolved recipe) and whatever the writer adds. Scalars and strings are stored as they are; dicts,
lists, tuples and None as JSON strings whose names are listed in the ``json_attrs`` attribute, so
reading decodes exactly those. Files are written to a sibling and renamed into place, so an
interrupted write never leaves a file that looks complete.

Reading many files one epoch at a time (the all-pairs engine, :mod:`ddd.analysis.engine`): :func:`read_ids_epochs`
reads only ids and epochs, :func:`read_correct_rows` only one row of ``predictions`` per file, and
:class:`EpochReader` does the same for epoch after epoch while decompressing every chunk only once.
"""

from ddd.results.decisions.core import (FORMAT, FORMAT_VERSION, Decisions, DecisionsFormatError, check_same_images,
                                        check_same_study)
from ddd.results.decisions.epochs import EpochReader, read_correct_rows
from ddd.results.decisions.read import (FinalDecisions, read_correct, read_decisions, read_final, read_ids_epochs,
                                        read_image_info, read_many)
from ddd.results.decisions.write import write_decisions

__all__ = ["FORMAT", "FORMAT_VERSION", "Decisions", "DecisionsFormatError", "EpochReader", "FinalDecisions",
           "check_same_images", "check_same_study", "read_correct", "read_correct_rows", "read_decisions",
           "read_final", "read_ids_epochs", "read_image_info", "read_many", "write_decisions"]
