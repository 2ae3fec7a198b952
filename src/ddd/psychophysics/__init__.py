"""The paper's psychophysical experiment (section 3.4, SPEC section 6), ready for a lab.

- :mod:`~ddd.psychophysics.stimuli`: seeded pairs of one trivial and one impossible evaluation
  image of a study, their un-normalised images and the static experiment site
  (``static/``: ``index.html``, ``style.css``, ``experiment.js``; ``trials.js`` is written);
- :mod:`~ddd.psychophysics.server`: the optional collection server
  (``python -m ddd.psychophysics serve <site>``), 127.0.0.1 only, one CSV per observer;
- :mod:`~ddd.psychophysics.analysis`: accuracy per observer, binomial p-values against chance and
  error consistency between observers, with a table and a figure.

Submodules are imported on use: the stimuli need no matplotlib, the analysis no torch.
"""

__all__ = ["stimuli", "server", "analysis"]
