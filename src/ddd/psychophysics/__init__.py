"""The paper's psychophysical experiment (section 3.4; ``docs/reproduction.md#psychophysics``), ready for a lab.

The last stage of the pipeline: it reads a study's ``split.tsv`` (:mod:`ddd.results.study`) and
nothing outside it imports from here.

- :mod:`~ddd.psychophysics.stimuli`: seeded pairs of one trivial and one impossible evaluation
  image of a study and their un-normalised images;
- :mod:`~ddd.psychophysics.site`: the experiment site's files, written and read back
  (``manifest.csv``, ``trials.js``; ``static/``: ``index.html``, ``style.css``, ``experiment.js``);
- :mod:`~ddd.psychophysics.responses`: the observers' response files (one trial a row), written
  by the server, read by the analysis, with one check of a trial for both;
- :mod:`~ddd.psychophysics.server`: the optional collection server
  (``python -m ddd.psychophysics serve <site>``), 127.0.0.1 only, one CSV per observer;
- :mod:`~ddd.psychophysics.analysis`: accuracy per observer, binomial p-values against chance and
  error consistency between observers;
- :mod:`~ddd.psychophysics.report`: their tables and figure.

Submodules are imported on use: the stimuli need no matplotlib, the analysis no torch.
"""

__all__ = ["stimuli", "site", "responses", "server", "analysis", "report"]
