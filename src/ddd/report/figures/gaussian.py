"""Figure 8 (Gaussian set only): KL divergence between neighbouring classes against class accuracy.

Class k (0-based) has standard deviation ``sigma_k = k + 1`` (:func:`ddd.data.sigma_of_label`;
the authors' folder names sorted as strings scrambled this mapping). The paper's eq. 1,

    KL(class_i, class_{i+1}) = log(sigma_{i+1} / sigma_i) + sigma_i^2 / (2 sigma_{i+1}^2) - 1/2,

is the KL divergence between the one-dimensional normals N(128, sigma_i^2) and N(128, sigma_{i+1}^2)
(per pixel and channel; clipping to [0, 255] ignored). Panels: KL against sigma_i; the base
network's accuracy on class i against sigma_i; and their scatter, leaving out the first ``skip``
classes (paper caption: 20, the authors' code: 25) and the last class (no neighbour above).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ddd.data.gaussian import sigma_of_label
from ddd.report import style as _style
from ddd.report.applicability import is_gaussian  # noqa: F401  (re-exported)
from ddd.report.figures.common import FigureNotApplicable, base_entry, class_accuracy, dataset_of, load_runs

__all__ = ["kl_neighbours", "gaussian_kl_data", "plot_gaussian_kl", "figure_08", "is_gaussian",
           "SKIP_DEFAULT", "GID_KL", "GID_ACCURACY", "GID_SCATTER"]

SKIP_DEFAULT = 20
XLABEL = "Class (standard deviation σ)"
KL_LABEL = "KL(class σ, class σ + 1)"
GID_KL, GID_ACCURACY, GID_SCATTER = "kl_line", "accuracy_line", "kl_accuracy_scatter"


def kl_neighbours(sigma) -> np.ndarray:
    """Eq. 1 for consecutive entries of ``sigma`` (K,): float64 (K-1,), entry i = KL(N(sigma_i), N(sigma_{i+1}))."""
    s = np.asarray(sigma, dtype=np.float64)
    if s.ndim != 1 or s.size < 2 or not np.all(s > 0):
        raise ValueError(f"sigma must be a 1-D array of at least two positive values, got {s!r}")
    a, b = s[:-1], s[1:]
    return np.log(b / a) + a ** 2 / (2 * b ** 2) - 0.5


def gaussian_kl_data(class_acc, *, skip: int = SKIP_DEFAULT) -> dict:
    """The numbers of Figure 8 from the per-class accuracy (C,) of a Gaussian set (class k: sigma k+1).

    Returns
    -------
    dict ``sigma`` (C,), ``accuracy`` (C,), ``kl`` (C-1,) (KL between class i and i+1, at sigma_i),
    ``scatter_sigma``, ``scatter_kl``, ``scatter_accuracy``: the classes i >= ``skip`` with a
    neighbour above and a defined accuracy.
    """
    acc = np.asarray(class_acc, dtype=np.float64)
    if acc.ndim != 1 or acc.size < 2:
        raise ValueError(f"need the accuracy of at least two classes, got shape {acc.shape}")
    if int(skip) != skip or skip < 0:
        raise ValueError(f"skip must be a non-negative integer, got {skip!r}")
    sigma = sigma_of_label(np.arange(acc.size)).astype(np.float64)
    kl = kl_neighbours(sigma)
    idx = np.arange(int(skip), acc.size - 1)
    idx = idx[np.isfinite(acc[idx])]
    return {"sigma": sigma, "accuracy": acc, "kl": kl, "scatter_sigma": sigma[idx], "scatter_kl": kl[idx],
            "scatter_accuracy": acc[idx], "skip": int(skip)}


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


def figure_08(entries, *, png, pdf, base: str = "base", skip: int = SKIP_DEFAULT, study: str = "") -> None:
    """Write Figure 8 of a Gaussian study.

    Parameters
    ----------
    entries : the study's decision makers; the base one (condition ``base``) is read at its epoch.
    png, pdf : output paths.
    skip : classes left out of the scatter (paper caption 20; the authors' code 25).
    study : study name for the title.

    Raises
    ------
    FigureNotApplicable if the study has no base decision maker or its dataset is not Gaussian.
    """
    e = base_entry(entries, base=base)
    d = load_runs([e.path])[e.path]
    ds = dataset_of(d)
    if not is_gaussian(ds):
        raise FigureNotApplicable(f"the KL figure needs the Gaussian set; {e.path} was evaluated on "
                                  f"{ds.get('kind', ds.get('name', 'an unnamed dataset'))!r}")
    names = d.attrs.get("class_names") or []
    n_classes = int(ds.get("n_classes", len(names) or int(d.targets.max()) + 1))
    acc = class_accuracy(d.correct(e.epoch), d.targets, n_classes)
    data = gaussian_kl_data(acc, skip=skip)
    what = f"KL between neighbouring classes and accuracy of the base network (epoch {e.epoch})"
    fig = plot_gaussian_kl(data, title=(f"{study}: " if study else "") + what)
    _style.save(fig, png, pdf)
