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

from ..recipes import CONDITIONS, DISPLAY_NAMES

__all__ = ["CONDITIONS", "DISPLAY_NAMES", "COLORS", "ALPHA", "SIZES", "PNG_DPI", "RC", "apply", "style",
           "display_name", "save"]

#: Colours: observed data blue, label issues red, the binomial expectation green (drawn with
#: ``ALPHA["expectation"]``, as the authors), kappa dots black.
COLORS = {
    "observed": "#1f77b4",
    "label_issues": "#d62728",
    "expectation": "#2ca02c",
    "kappa": "black",
    "zero_line": "0.5",
    "undefined": "0.35",
}
ALPHA = {"expectation": 0.5, "kappa_runs": 0.5, "kappa_mean": 1.0}
#: Figure sizes in inches (width, height).
SIZES = {"histogram": (7.0, 5.0), "kappa": (9.0, 5.5)}
#: Marker areas (points^2) of the kappa figure.
MARKER_SIZES = {"kappa_runs": 30, "kappa_mean": 110, "kappa_identical": 240}
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


def save(fig, png_path, pdf_path) -> None:
    """Save ``fig`` as PNG (``PNG_DPI``) and PDF, creating parent folders, then close it."""
    try:
        for path in (png_path, pdf_path):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(png_path, dpi=PNG_DPI, bbox_inches="tight", format="png")
        fig.savefig(pdf_path, bbox_inches="tight", format="pdf")
    finally:
        plt.close(fig)
