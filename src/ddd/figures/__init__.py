"""Figures of the paper, drawn from the workflow's result tables.

One module per figure family, styling in one place (:mod:`ddd.figures.style`):

- :mod:`ddd.figures.histogram`: Figure 2 / 17, how many decision makers classify each
  evaluation image correctly, against the binomial expectation for independent decision makers;
- :mod:`ddd.figures.kappa`: Figure 3 / 10 / 11 / 16, error consistency (kappa) of every run
  with the base, per condition.

Importing the package selects matplotlib's non-interactive Agg backend, so figures render on
headless machines (workflow jobs, CI).
"""

import matplotlib

matplotlib.use("Agg")
