"""Figures of the paper, drawn from the workflow's result tables.

One module per figure family, styling in one place (:mod:`ddd.report.style`):

- :mod:`ddd.report.figures.histogram`: Figure 2 / 17, how many decision makers classify each
  evaluation image correctly, against the binomial(n, mean accuracy) expectation for independent decision makers,
  with the images that have label issues (:mod:`ddd.analysis.label_issues`) where a study has them;
- :mod:`ddd.report.figures.kappa`: Figure 3 / 10 / 11 / 16, error consistency (kappa) of every run
  with the base, per condition, with intervals over images and (condition means) runs;
- :mod:`ddd.report.figures.differences`: ``differences_vs_base`` (not in the paper), each condition's
  κ with the base on all and on in-between images, and which pairs of conditions differ (Holm);
- :mod:`ddd.report.figures.correctness`: Figures 4 and 5, correctness image x epoch (one run; mean over runs);
- :mod:`ddd.report.figures.matrix`: Figure 6, kappa between conditions on all and on in-between images;
- :mod:`ddd.report.figures.rsa`: Figure 7, representational similarity of every network with the base
  (from :mod:`ddd.analysis.rsa`'s table; an optional figure, ``catalog.OPTIONAL_FIGURES``);
- :mod:`ddd.report.figures.gaussian`: Figure 8, KL between neighbouring Gaussian classes and class accuracy;
- :mod:`ddd.report.figures.accuracy`: Figure 9 (final accuracy per condition) and 15 (class accuracies);
- :mod:`ddd.report.figures.changes`: Figure 12, decisions that change from one epoch to the next;
- :mod:`ddd.report.figures.examples`: Figures 13 / 14, an impossible and a trivial example image;
- :mod:`ddd.report.figures.common`: shared inputs and :class:`~ddd.report.figures.common.FigureNotApplicable`;
- :mod:`ddd.report.catalog`: which figures a study can have (``applicable_figures``).

Tables (Table 1, headline numbers) are in :mod:`ddd.report.tables`.

Importing the package selects matplotlib's non-interactive Agg backend, so figures render on
headless machines (workflow jobs, CI).
"""

import matplotlib

matplotlib.use("Agg")
