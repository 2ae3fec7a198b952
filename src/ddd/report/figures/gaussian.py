"""Figure 8 (Gaussian set only): KL divergence between neighbouring classes against class accuracy.

Panels: KL against sigma_i; the base network's accuracy on class i against sigma_i; and their
scatter (the numbers: :mod:`ddd.analysis.gaussian`).

Drawn with plain matplotlib, not seaborn: each panel is one unaggregated series with nothing for
seaborn to map (no grouping, no estimate), and ``sns.lineplot`` drops NaN rows, so it would join
the line across a class without evaluation images, where ``plot`` leaves a gap.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from ddd.analysis.accuracy import maker_class_accuracy
from ddd.analysis.gaussian import SKIP_DEFAULT, gaussian_kl_data
from ddd.report import style as _style
from ddd.report.catalog import is_gaussian
from ddd.report.figures.common import FigureNotApplicable, base_of, dataset_of
from ddd.results.decisions import read_decisions

__all__ = ["plot_gaussian_kl", "figure_08", "GID_KL", "GID_ACCURACY", "GID_SCATTER"]

XLABEL = "Class (standard deviation σ)"
KL_LABEL = "KL(class σ, class σ + 1)"
GID_KL, GID_ACCURACY, GID_SCATTER = "kl_line", "accuracy_line", "kl_accuracy_scatter"


def plot_gaussian_kl(data: dict, *, title: str | None = None, note: str | None = None):
    """Three panels from :func:`gaussian_kl_data`: KL against sigma, accuracy against sigma, scatter.

    Returns a matplotlib Figure with three axes; lines and the scatter carry ``gid`` :data:`GID_KL`,
    :data:`GID_ACCURACY` and :data:`GID_SCATTER`.
    """
    with _style.style():
        fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=_style.SIZES["gaussian_kl"], layout="constrained")
        a1.plot(data["sigma"][:-1], data["kl"], color=_style.COLORS["kl"], linewidth=2, gid=GID_KL)
        a1.set_yscale("log")
        a1.set_xlabel(XLABEL)
        a1.set_ylabel(KL_LABEL)
        a2.plot(data["sigma"], data["accuracy"], color=_style.COLORS["class_accuracy"], linewidth=2,
                gid=GID_ACCURACY)
        a2.set_ylim(-0.02, 1.05)
        a2.set_xlabel(XLABEL)
        a2.set_ylabel("Base network's accuracy on class σ")
        if data["scatter_kl"].size:
            a3.scatter(data["scatter_kl"], data["scatter_accuracy"], s=18, color="black", alpha=0.7,
                       linewidths=0, gid=GID_SCATTER)
            a3.set_xscale("log")
        else:
            a3.text(0.5, 0.5, f"no classes beyond the first {data['skip']}", transform=a3.transAxes, ha="center",
                    va="center", color=_style.COLORS["note"], fontstyle="italic")
        a3.set_ylim(-0.02, 1.05)
        a3.set_xlabel(KL_LABEL)
        a3.set_ylabel("Accuracy on class σ")
        a3.set_title(f"Classes σ > {data['skip']}", fontsize=_style.RC["axes.labelsize"])
        if title:
            fig.suptitle(title)
        _style.note(fig, note)
    return fig


def figure_08(decision_makers, *, png, pdf, base: str = "base", skip: int = SKIP_DEFAULT, study: str = "") -> None:
    """Write Figure 8 of a Gaussian study.

    Parameters
    ----------
    decision_makers : the study's decision makers; the base one (condition ``base``) is read at its epoch.
    png, pdf : output paths.
    skip : classes left out of the scatter (paper caption 20; the authors' code 25).
    study : study name for the title.

    Raises
    ------
    FigureNotApplicable if the study has no base decision maker or its dataset is not Gaussian.
    """
    e = base_of(decision_makers, base=base)
    d = read_decisions(e.path, load_probabilities=False)
    ds = dataset_of(d)
    if not is_gaussian(ds):
        raise FigureNotApplicable(f"the KL figure needs the Gaussian set; {e.path} was evaluated on "
                                  f"{ds.get('kind', ds.get('name', 'an unnamed dataset'))!r}")
    names = d.attrs.get("class_names") or []
    n_classes = int(ds.get("n_classes", len(names) or int(d.targets.max()) + 1))
    acc, _ = maker_class_accuracy(e, n_classes=n_classes)
    data = gaussian_kl_data(acc, skip=skip)
    what = f"KL between neighbouring classes and accuracy of the base network (epoch {e.epoch})"
    fig = plot_gaussian_kl(data, title=(f"{study}: " if study else "") + what)
    _style.save(fig, png, pdf)
