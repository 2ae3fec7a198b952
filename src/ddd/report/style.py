"""Figure style in one place: rcParams, palette, sizes, display names and saving.

Figures are drawn inside :func:`style` (a context manager), so importing or plotting never
changes the caller's global matplotlib state; :func:`apply` sets the same parameters globally
(e.g. for a notebook). Sizes and fonts are chosen for a report display about 700 px wide.
"""

from __future__ import annotations

import contextlib
import os

import matplotlib as mpl
import matplotlib.pyplot as plt

from ddd.analysis.correctness import MAX_IMAGE_ROWS as _MAX_IMAGE_ROWS
from ddd.experiment.conditions import CONDITIONS, DISPLAY_NAMES

__all__ = ["CONDITIONS", "DISPLAY_NAMES", "SHORT_NAMES", "COLORS", "ALPHA", "SIZES", "PNG_DPI", "RC",
           "CMAPS", "CONDITION_COLORS", "MAX_IMAGE_ROWS", "apply", "style", "display_name", "short_name",
           "condition_color", "note", "save"]

#: Colours: observed data blue, label issues red, the binomial expectation green (drawn with
#: ``ALPHA["expectation"]``, as the authors), kappa dots black.
COLORS = {
    "observed": "#1f77b4",
    "label_issues": "#d62728",
    "expectation": "#2ca02c",
    "kappa": "black",
    "zero_line": "0.5",
    "undefined": "0.35",
    "note": "0.3",
    "matrix_missing": "white",
    "accuracy": "black",
    "kl": "#7b3294",
    "class_accuracy": "#1f77b4",
    "kappa_run_interval": "#3b75af",
    "kappa_mean_interval": "black",
    "subset_all": "#1f77b4",
    "subset_in_between": "#d95f02",
    "significant": "black",
}
ALPHA = {"expectation": 0.5, "kappa_runs": 0.5, "kappa_mean": 1.0, "kappa_run_interval": 0.85}
#: Figure sizes in inches (width, height).
SIZES = {"histogram": (7.0, 5.0), "kappa": (9.0, 5.5), "correctness": (6.5, 6.0),
         "kappa_matrix": (12.0, 6.6), "gaussian_kl": (13.0, 4.4), "accuracy": (9.0, 5.5),
         "decision_changes": (11.0, 5.2), "examples": (2.6, 5.0), "class_accuracy": (6.5, 5.0),
         "differences": (12.0, 11.5)}
#: Marker areas (points^2) of the kappa figure (also the dots of the accuracy figure).
MARKER_SIZES = {"kappa_runs": 30, "kappa_mean": 110, "kappa_identical": 240}
#: Colour maps: correct light, wrong dark (Figures 4 and 5, as the authors), kappa matrix Blues.
CMAPS = {"run_correctness": "Blues_r", "mean_correctness": "Reds_r", "kappa_matrix": "Blues",
         "kappa_difference": "RdBu_r"}
#: Image x epoch figures at ImageNet scale: at most this many image rows are drawn; larger sets
#: are shown as means of consecutive sorted images (``ddd.report.figures.correctness.bin_rows``).
MAX_IMAGE_ROWS = _MAX_IMAGE_ROWS
#: Short condition names for the axes of the kappa matrix (12 rows must fit).
SHORT_NAMES = {
    "base": "Base", "plus_1_epoch": "+1 epoch", "plus_10_epochs": "+10 epochs", "optimizer": "Optimiser",
    "batch_size": "Batch size", "init": "Initialisation", "learning_rate": "Learning rate",
    "hardware": "Hardware", "data_order": "Data order", "architecture": "Architecture",
    "half_data": "Half data", "combined": "Combined", "different_data": "Different data",
}
#: One colour per condition (lines of Figure 12); 13 distinct colours, so none repeats (the
#: authors' default cycle repeated after 10).
CONDITION_COLORS = dict(zip(CONDITIONS, (
    "#000000", "#7f7f7f", "#bcbd22", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#aec7e8", "#98df8a")))
_EXTRA_COLORS = ("#ffbb78", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")
PNG_DPI = 150

RC = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 10.5,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # embed TrueType, text stays editable and searchable in the PDF
}


def apply() -> None:
    """Set the figure style globally (``matplotlib.rcParams``)."""
    mpl.rcParams.update(RC)


@contextlib.contextmanager
def style():
    """Context manager: the figure style, restoring the previous rcParams on exit."""
    with mpl.rc_context(RC):
        yield


def display_name(condition: str) -> str:
    """Display name of a condition id; unknown ids with underscores as spaces."""
    return DISPLAY_NAMES.get(condition, str(condition).replace("_", " "))


def short_name(condition: str) -> str:
    """Short display name of a condition id (matrix axes); falls back to :func:`display_name`."""
    return SHORT_NAMES.get(condition, display_name(condition))


def condition_color(condition: str, index: int = 0) -> str:
    """Line colour of a condition; conditions outside the 13 get further colours by ``index``."""
    return CONDITION_COLORS.get(condition, _EXTRA_COLORS[index % len(_EXTRA_COLORS)])


def note(fig, text: str | None) -> None:
    """A note under the figure (e.g. why a panel is empty); nothing if ``text`` is empty."""
    if not text:
        return
    # Below everything already drawn (legends under the axes included): lay the figure out once,
    # then place the text under its tight bounding box; saving with bbox_inches="tight" keeps it.
    # Freeze the layout first: figure legends are anchored to the figure's box, which saving with
    # bbox_inches="tight" replaces, so pin them where the layout put them.
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    fig.set_layout_engine("none")
    to_fig = fig.transFigure.inverted()
    for legend in fig.legends:
        legend.set_bbox_to_anchor(legend.get_window_extent(renderer).transformed(to_fig), transform=fig.transFigure)
        legend.set_loc("center")
    bottom = fig.get_tightbbox(renderer).y0 / fig.get_figheight()
    fig.text(0.5, min(0.0, bottom) - 0.01, text, ha="center", va="top", fontsize=RC["legend.fontsize"],
             color=COLORS["note"], fontstyle="italic", wrap=True, gid="figure_note")


def save(fig, png_path, pdf_path) -> None:
    """Save ``fig`` as PNG (``PNG_DPI``) and PDF, creating parent folders, then close it."""
    try:
        for path in (png_path, pdf_path):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(png_path, dpi=PNG_DPI, bbox_inches="tight", format="png")
        fig.savefig(pdf_path, bbox_inches="tight", format="pdf")
    finally:
        plt.close(fig)
