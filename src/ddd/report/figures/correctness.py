"""Figures 4 and 5: correctness of every evaluation image at every epoch (image x epoch).

Figure 4 shows one run (the base network): white where the image is classified correctly at that
epoch, dark blue where not (cmap ``Blues_r``), correct on top. Figure 5 shows the mean correctness
over the study's runs (cmap ``Reds_r``). Sorting, merging and binning: :mod:`ddd.analysis.correctness`.

Row rule (both figures): if N exceeds ``max_rows`` (default 2,000), each drawn row is the mean of
``b = ceil(N / max_rows)`` consecutive sorted images; the y label states ``b``. The matrix is drawn
with ``sns.heatmap``: one QuadMesh of at most ``max_rows`` x T cells (rasterised, so the PDF holds
one raster image), never 50,000 rows cell by cell; 2,000 x 91 cells render in well under a second
(measured: faster than the former ``imshow``), and the cells are exact, one per drawn value.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from ddd.analysis.correctness import MAX_IMAGE_ROWS, bin_rows, run_correctness, run_mean, shared_epochs, sort_by_final
from ddd.report import style as _style
from ddd.report.figures.common import FigureNotApplicable, base_of
from ddd.results.decisions import read_decisions

__all__ = ["plot_correctness_image", "figure_04", "figure_05", "XLABEL", "GID_IMAGE"]

XLABEL = "Epoch"
GID_IMAGE = "correctness_image"


def _epoch_ticks(epochs: np.ndarray) -> np.ndarray:
    span = int(epochs[-1] - epochs[0])
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 10 ** 9) if span / s <= 12)
    return np.arange(math.ceil(epochs[0] / step) * step, epochs[-1] + 1, step)


def _data_ticks(ax, epochs: np.ndarray, n: int, rows: int) -> None:
    """Ticks in data units on the heat map's cell axes: column k (centred at k + 0.5) is
    ``epochs[k]``, ticked at the round epochs that are stored; the ``rows`` rows span images 0..n
    (row r from r n / rows to (r + 1) n / rows), ticked at round image numbers."""
    column = {int(e): k for k, e in enumerate(epochs)}
    ticks = [int(t) for t in _epoch_ticks(epochs) if int(t) in column]
    ax.set_xticks([column[t] + 0.5 for t in ticks], [str(t) for t in ticks], rotation=0)
    images = MaxNLocator(nbins=9, steps=[1, 2, 2.5, 5, 10], integer=True).tick_values(0, n)
    images = images[(images >= 0) & (images <= n)]
    ax.set_yticks(images * rows / n, [f"{int(v)}" for v in images], rotation=0, va="center")


def plot_correctness_image(matrix, epochs, *, cmap: str, n_images: int | None = None,
                           max_rows: int = MAX_IMAGE_ROWS, ylabel: str, colorbar_label: str,
                           title: str | None = None, note: str | None = None):
    """Draw a sorted image x epoch matrix as a heat map (``sns.heatmap``, rasterised).

    Parameters
    ----------
    matrix : float or bool (N, T), rows sorted (values in [0, 1], 1 = correct).
    epochs : int (T,), the epoch of each column (consecutive or not; columns are drawn at their epoch).
    cmap : matplotlib colour map name (1 light, 0 dark).
    n_images : N for the y axis (default ``len(matrix)``).
    max_rows : see :func:`bin_rows`; the y label gets the bin rule appended when rows are binned.
    ylabel, colorbar_label, title, note : texts.

    Returns
    -------
    matplotlib Figure; the heat map's QuadMesh has ``gid`` :data:`GID_IMAGE` and holds the drawn
    (binned) array; ``fig.ddd_bin_size`` is the number of images per row. The axes are seaborn's
    cell axes, ticked in data units: epochs on x, image numbers 0..N on y.
    """
    m = np.asarray(matrix, dtype=np.float64)
    epochs = np.asarray(epochs)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] != len(epochs) or len(epochs) == 0:
        raise ValueError(f"matrix must be (N >= 1, T = {len(epochs)}), got shape {m.shape}")
    n = m.shape[0] if n_images is None else int(n_images)
    drawn, b = bin_rows(m, max_rows)
    if b > 1:
        ylabel = f"{ylabel}\n(each row: mean of {b} consecutive sorted images)"
    with _style.style():
        fig, ax = plt.subplots(figsize=_style.SIZES["correctness"], layout="constrained")
        sns.heatmap(drawn, ax=ax, cmap=cmap, vmin=0, vmax=1, rasterized=True, xticklabels=False,
                    yticklabels=False, cbar_kws={"shrink": 0.8, "pad": 0.02, "label": colorbar_label})
        mesh = ax.collections[0]
        mesh.set_gid(GID_IMAGE)
        mesh.colorbar.outline.set_linewidth(_style.RC["axes.linewidth"])  # seaborn hides the outline
        _data_ticks(ax, epochs, n, drawn.shape[0])
        ax.set_xlabel(XLABEL)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        for spine in ax.spines.values():  # heatmap removes the frame: all four sides, as before
            spine.set_visible(True)
        _style.note(fig, note)
    fig.ddd_bin_size = b
    return fig


def figure_04(decision_makers, *, png, pdf, base: str = "base", last_epoch: int | None = None,
              max_rows: int = MAX_IMAGE_ROWS, study: str = "") -> None:
    """Write Figure 4: the base run's correctness, image x epoch.

    Parameters
    ----------
    decision_makers : the study's decision makers; the first of condition ``base`` names the run
        and its final epoch E.
    png, pdf : output paths.
    last_epoch : last epoch shown (default E, as the paper's 0..90; the base run's extra epochs
        are shown if set higher); every stored epoch up to it is a column.
    max_rows : row rule, see the module docstring.
    study : study name for the title.

    Raises
    ------
    FigureNotApplicable if the study has no base decision maker.
    """
    e = base_of(decision_makers, base=base)
    d = read_decisions(e.path, load_probabilities=False)
    last = e.epoch if last_epoch is None else int(last_epoch)
    cols = np.flatnonzero(d.epochs <= last)
    if cols.size == 0:
        raise FigureNotApplicable(f"{e.path} stores no epoch <= {last}")
    matrix, _ = run_correctness(d.predictions[cols], d.targets)
    epochs = d.epochs[cols]
    note = None
    if cols.size == 1:
        note = "Only one evaluation is stored for this decision maker: a single column."
    what = f"{_style.display_name(e.condition).lower()} run ({e.name}), correct (light) or wrong (dark)"
    fig = plot_correctness_image(matrix, epochs, cmap=_style.CMAPS["run_correctness"], max_rows=max_rows,
                                 ylabel=f"Evaluation image ({matrix.shape[0]:,}), sorted by mean correctness",
                                 colorbar_label="Correct (1) or wrong (0)" if matrix.shape[0] <= max_rows
                                 else "Fraction of the row's images correct",
                                 title=(f"{study}: " if study else "") + what, note=note)
    _style.save(fig, png, pdf)


def figure_05(decision_makers, *, png, pdf, max_rows: int = MAX_IMAGE_ROWS, study: str = "") -> None:
    """Write Figure 5: mean correctness over the study's runs, image x epoch (module docstring).

    Parameters
    ----------
    decision_makers : the study's decision makers; every distinct decisions file is one run.
    png, pdf : output paths.
    max_rows : row rule, see the module docstring.
    study : study name for the title.
    """
    epochs = shared_epochs(decision_makers)
    if epochs.size == 0:
        raise FigureNotApplicable("the runs share no evaluation epoch up to the earliest final epoch")
    mean, names, merged = run_mean(decision_makers, epochs)
    order = sort_by_final(mean)
    matrix = mean[:, order].T
    notes = []
    if len(names) == 1:
        notes.append("Only one run: the mean is that run's correctness.")
    if merged:
        notes.append("Runs with identical predictions merged: "
                     + "; ".join(f"{k} = {', '.join(v)}" for k, v in merged.items()) + ".")
    title = (f"{study}: " if study else "") + f"mean correctness over {len(names)} runs"
    fig = plot_correctness_image(matrix, epochs, cmap=_style.CMAPS["mean_correctness"], max_rows=max_rows,
                                 ylabel=f"Evaluation image ({matrix.shape[0]:,}), sorted by the final epoch",
                                 colorbar_label="Fraction of runs correct", title=title,
                                 note=" ".join(notes) or None)
    _style.save(fig, png, pdf)
