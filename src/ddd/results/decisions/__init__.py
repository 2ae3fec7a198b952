"""Read and write *decisions* files: what one decision maker answered for every evaluation image.

This package is the only code that knows the on-disk format (writer: :mod:`.write`; readers:
:mod:`.read`, :mod:`.epochs`; shared types and checks: :mod:`.core`). One HDF5 file per run holds

``predictions``   int16 (int32 if a class index exceeds int16) ``(E+1, N)``: top-1 class of every
                  evaluation image at every evaluation epoch (row 0 = before training; one row for
                  pretrained models), gzip-compressed; ``-1`` = no answer (model-vs-human's ``na``).
``targets``       int ``(N,)``; ``image_ids``: UTF-8 strings ``(N,)``; ``epochs``: int ``(E+1,)``.
``probabilities`` optional float16 ``(N, C)``: class probabilities of the final row.
``features``      optional float16 ``(K, D)`` with ``feature_ids`` ``(K,)``: penultimate activations
                  on a subset of the images.
``image_info/*``  optional per-image columns ``(N,)`` (strings or numbers) in the group
                  ``image_info``, e.g. ``condition`` for imported model-vs-human data.
``margins``       optional float16 ``(E+1, N)`` (version 3 on): every evaluation's decision margins.
``correct_bits``  uint8 ``(E+1, ceil(N / 8))`` (version 4): ``np.packbits(predictions == targets,
                  axis=1)``, uncompressed, one evaluation per chunk: what the readers of correctness
                  read (:func:`read_correct`, :func:`read_correct_rows`, :class:`EpochReader`), N / 8
                  bytes per epoch instead of a gzip chunk of predictions. :func:`read_decisions`
                  checks it against predictions and targets, so the writer's own read-back does too.

File attributes: ``format = "ddd-decisions"``, ``format_version = 4``, ``recipe`` (JSON of the
resolved recipe), ``n_classes`` (when known: from ``probabilities`` or a ``class_names`` list),
``checksums`` (below) and whatever the writer adds. Scalars and strings are stored as they are;
dicts, lists, tuples and None as JSON strings whose names are listed in the ``json_attrs``
attribute, so reading decodes exactly those. Files are written to a sibling, read back and verified,
and renamed into place, so an interrupted write never leaves a file that looks complete.

Integrity (format versions 2 to 4). A changed byte is never read as data; every failure to read is a
:class:`DecisionsFormatError` (``FileNotFoundError`` for a missing file) whose message names the file.

- HDF5 metadata: files use the HDF5 1.10 file format (:data:`~ddd.results.decisions.core.HDF5_LIBVER`),
  whose superblock, object headers (attributes, links, dataspaces, dtypes) and chunk indexes carry
  checksums that HDF5 verifies when it loads them.
- Chunks: every dataset is chunked with HDF5's fletcher32 filter (applied after gzip, so checked
  before decompression) on every read, partial reads included. Strings are fixed-length UTF-8, so
  they live in these chunks (variable-length strings would sit in HDF5's unchecked global heap).
- Hashes: the attribute ``checksums`` (JSON) holds the SHA-256 of every dataset (dtype, shape,
  bytes; :func:`~ddd.results.decisions.core.array_digest`), of every row of ``predictions``,
  ``correct_bits`` and ``margins``, and of all other attributes. The file must hold exactly the datasets listed. A whole dataset read is
  verified against its hash; a row of ``predictions``, ``correct_bits`` or ``margins`` against the row's (the per-epoch readers);
  attributes whenever they are returned or used (:func:`read_decisions`, :func:`read_final`).
- Values: predictions must lie in ``[0, n_classes)`` or be ``-1``, targets in ``[0, n_classes)``,
  epochs increase; shapes and dtypes are checked from the metadata before any data is read.

Version 1 (files written before checksums: variable-length strings, no ``checksums``, HDF5's
earliest file format) is still read, so that nothing computed is lost, with the class-range and
shape checks but without hashes (logged once per file); versions 2 and 3 are read fully verified
(their correctness from predictions and targets); versions above 4 are refused.

Reading many files one epoch at a time (the all-pairs engine, :mod:`ddd.analysis.engine`): :func:`read_ids_epochs`
reads only ids and epochs, :func:`read_correct_rows` only one row of ``correct_bits`` (older
versions: of ``predictions``) per file, and :class:`EpochReader` does the same for epoch after epoch,
reading ahead in bands so that every file is opened once per band and every chunk read once.
"""

from ddd.results.decisions.core import (BITS_SINCE, FORMAT, FORMAT_VERSION, MARGINS_SINCE, NO_ANSWER, READABLE_VERSIONS,
                                        Decisions, DecisionsFormatError, check_same_images, check_same_study)
from ddd.results.decisions.epochs import EpochReader, EpochRows, read_correct_rows
from ddd.results.decisions.read import (FileInfo, FinalDecisions, read_correct, read_decisions, read_file_info,
                                        read_final, read_ids_digest, read_ids_epochs, read_image_info, read_many,
                                        read_margins)
from ddd.results.decisions.write import write_decisions

__all__ = ["BITS_SINCE", "FORMAT", "FORMAT_VERSION", "MARGINS_SINCE", "NO_ANSWER", "READABLE_VERSIONS", "Decisions",
           "DecisionsFormatError", "EpochReader", "EpochRows", "FileInfo", "FinalDecisions", "check_same_images",
           "check_same_study", "read_correct", "read_correct_rows", "read_decisions", "read_file_info", "read_final",
           "read_ids_digest", "read_ids_epochs", "read_image_info", "read_many", "read_margins", "write_decisions"]
