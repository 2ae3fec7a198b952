"""Results: the file formats of ``results/``, one owner module per kind of file.

- :mod:`ddd.results.decisions`: decisions HDF5 files (``runs/<run>.h5``);
- :mod:`ddd.results.networks`: trained networks (``networks/<run>.pt``);
- :mod:`ddd.results.study`: ``summary.json``, ``split.tsv``, ``kappa_vs_base.tsv``, ``label_issues.tsv``;
- :mod:`ddd.results.pairs`: ``consistency/{pairs,summary,uncertainty}.tsv``;
- :mod:`ddd.results.representations`: ``rsa.tsv``, ``rsa_rdms.npz``;
- :mod:`ddd.results.imports`: decisions made elsewhere (CSV, model-vs-human) converted to decisions files.

This module holds only names planning needs; it imports nothing.
"""

#: Formats of decisions made elsewhere that :mod:`ddd.results.imports` reads.
IMPORT_FORMATS = ("csv", "modelvshuman")
