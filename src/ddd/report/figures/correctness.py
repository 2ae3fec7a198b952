"""Figures 4 and 5: correctness of every evaluation image at every epoch (image x epoch).

Figure 4 shows one run (the base network): white where the image is classified correctly at that
epoch, dark blue where not (cmap ``Blues_r``), rows sorted by the image's mean correctness over
the epochs shown, correct on top. Figure 5 shows the mean correctness over the study's runs (cmap
``Reds_r``), rows sorted by the final epoch's value.

Row rule (both figures): N images are sorted, then, if N exceeds ``max_rows`` (default
:data:`ddd.report.style.MAX_IMAGE_ROWS` = 2,000), cut into consecutive bins of
``b = ceil(N / max_rows)`` sorted images (the last bin may hold fewer) and each drawn row is the mean
of its bin (:func:`bin_rows`); the y label states ``b``. The matrix is drawn as one image
(``imshow``, nearest-neighbour, rasterised in the PDF), never cell by cell, so 50,000 images x 91
epochs render in about a second.

Ties: Figure 4 sorts stably (equal means keep evaluation order). Figure 5 sorts by the final
epoch's mean, ties by the mean over all epochs shown (both descending), then evaluation order;
the authors' unstable argsort left the order within a level arbitrary.

Figure 5 averages over *runs* (decisions files), each once, at the epochs 0..E that every run has
(E = the nominal final epoch; the base run's 10 extra epochs are not used). The plus-epoch
decision makers are the base run and so are not separate rows (the authors' code copied the base
row for them, weighting it three times); runs with identical predictions at every shown epoch
(hardware non-determinism on a CPU) are merged, as in the split.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from ddd.report import style as _style
from ddd.report.figures.common import FigureNotApplicable, base_entry, load_runs, runs_of

__all__ = ["sort_by_mean", "sort_by_final", "bin_rows", "run_correctness", "mean_correctness",
           "plot_correctness_image", "figure_04", "figure_05", "XLABEL", "GID_IMAGE"]

XLABEL = "Epoch"
GID_IMAGE = "correctness_image"


def _check_matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (epochs, images), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}): no epochs or no images")
    return x


def sort_by_mean(correct) -> np.ndarray:
    """Image order (int64 (N,)) by mean correctness over epochs, descending, stable.

    ``correct``: bool or float (T epochs, N images)."""
    c = _check_matrix(correct, "correct").astype(np.float64)
    return np.argsort(-c.mean(axis=0), kind="stable")


def sort_by_final(mean) -> np.ndarray:
    """Image order (int64 (N,)) by the final epoch's value, descending; ties by the mean over all
    epochs, descending; then evaluation order. ``mean``: float (T, N)."""
    m = _check_matrix(mean, "mean").astype(np.float64)
    # lexsort: last key is primary; negate for descending, arange keeps it deterministic.
    return np.lexsort((np.arange(m.shape[1]), -m.mean(axis=0), -m[-1]))


def bin_rows(matrix, max_rows: int = _style.MAX_IMAGE_ROWS) -> tuple[np.ndarray, int]:
    """Average consecutive rows so that at most ``max_rows`` remain.

    Parameters
    ----------
    matrix : float (N, T), rows already sorted.
    max_rows : int >= 1.

    Returns
    -------
    (binned float64 (ceil(N / b), T), b) with ``b = ceil(N / max_rows)`` rows per bin (the last bin
    may hold fewer); ``b = 1`` returns the rows unchanged (as float64).
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"matrix must be 2-D with at least one row, got shape {x.shape}")
    if int(max_rows) != max_rows or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
    n = x.shape[0]
    b = math.ceil(n / int(max_rows))
    if b == 1:
        return x, 1
    starts = np.arange(0, n, b)
    sums = np.add.reduceat(x, starts, axis=0)
    sizes = np.diff(np.append(starts, n))
    return sums / sizes[:, None], b


def run_correctness(predictions, targets) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of Figure 4.

    Parameters
    ----------
    predictions : int (T, N), one run's top-1 predictions at T epochs.
    targets : int (N,).

    Returns
    -------
    (matrix bool (N, T) with rows sorted by :func:`sort_by_mean`, order int64 (N,): the image index
    of each row).
    """
    p = _check_matrix(predictions, "predictions")
    t = np.asarray(targets)
    if t.shape != (p.shape[1],):
        raise ValueError(f"targets must have shape ({p.shape[1]},), got {t.shape}")
    correct = p == t[None, :]
    order = sort_by_mean(correct)
    return correct[:, order].T, order


def mean_correctness(correct) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of Figure 5 from correctness ``(R runs, T epochs, N images)`` (bool).

    Returns
    -------
    (matrix float64 (N, T): mean over runs, rows sorted by :func:`sort_by_final`; order int64 (N,)).
    """
    c = np.asarray(correct)
    if c.ndim != 3 or 0 in c.shape:
        raise ValueError(f"correctness must be a non-empty (runs, epochs, images) array, got shape {c.shape}")
    mean = c.mean(axis=0, dtype=np.float64)
    order = sort_by_final(mean)
    return mean[:, order].T, order


def _epoch_ticks(epochs: np.ndarray) -> np.ndarray:
    span = int(epochs[-1] - epochs[0])
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 10 ** 9) if span / s <= 12)
    return np.arange(math.ceil(epochs[0] / step) * step, epochs[-1] + 1, step)


def plot_correctness_image(matrix, epochs, *, cmap: str, n_images: int | None = None,
                           max_rows: int = _style.MAX_IMAGE_ROWS, ylabel: str, colorbar_label: str,
                           title: str | None = None, note: str | None = None):
    """Draw a sorted image x epoch matrix as one raster image.

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
    matplotlib Figure; the image artist has ``gid`` :data:`GID_IMAGE` and holds the drawn (binned)
    array; ``fig.ddd_bin_size`` is the number of images per row.
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
        # Columns at their epochs: half a step either side (equal steps assumed for the extent).
        step = float(np.median(np.diff(epochs))) if len(epochs) > 1 else 1.0
        extent = (epochs[0] - step / 2, epochs[-1] + step / 2, n, 0)
        im = ax.imshow(drawn, aspect="auto", interpolation="nearest", cmap=cmap, vmin=0, vmax=1,
                       extent=extent, rasterized=True, gid=GID_IMAGE)
        ax.set_xticks(_epoch_ticks(epochs))
        ax.set_xlabel(XLABEL)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        cb = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
        cb.set_label(colorbar_label)
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
        _style.note(fig, note)
    fig.ddd_bin_size = b
    return fig


def figure_04(entries, *, png, pdf, base: str = "base", last_epoch: int | None = None,
              max_rows: int = _style.MAX_IMAGE_ROWS, study: str = "") -> None:
    """Write Figure 4: the base run's correctness, image x epoch.

    Parameters
    ----------
    entries : the study's decision makers (``ddd.report.figures.common`` docstring); the first of
        condition ``base`` names the run and its final epoch E.
    png, pdf : output paths.
    last_epoch : last epoch shown (default E, as the paper's 0..90; the base run's extra epochs
        are shown if set higher); every stored epoch up to it is a column.
    max_rows : row rule, see the module docstring.
    study : study name for the title.

    Raises
    ------
    FigureNotApplicable if the study has no base decision maker.
    """
    e = base_entry(entries, base=base)
    d = load_runs([e.path])[e.path]
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


def _run_mean(entries):
    """Mean correctness (T, N) over the distinct runs at their shared epochs 0..E, identical runs merged.

    Files are read one at a time (ImageNet: 31 runs x 91 epochs x 50,000 images never held at once).
    Returns (mean float64 (T, N), epochs (T,), kept run names, merged {kept: [names]})."""
    import hashlib

    from ddd.results.decisions import check_same_images, read_decisions, read_ids_epochs
    runs = runs_of(entries)
    last = min(r.epoch for r in runs)
    shared = None
    for r in runs:
        _, ep = read_ids_epochs(r.path)
        ep = set(ep[ep <= last].tolist())
        shared = ep if shared is None else shared & ep
    epochs = np.array(sorted(shared or ()), dtype=np.int64)
    if epochs.size == 0:
        raise FigureNotApplicable(f"the runs share no evaluation epoch <= {last}")
    total = None
    seen: dict[bytes, str] = {}
    kept, merged = [], {}
    ref = None
    for r in runs:
        d = read_decisions(r.path, load_probabilities=False)
        if ref is None:
            ref = d
        else:
            check_same_images(ref.image_ids, d.image_ids, names=(ref.path, r.path))
            if not np.array_equal(ref.targets, d.targets):
                raise ValueError(f"{r.path} has other targets than {ref.path} for the same images")
        preds = np.ascontiguousarray(d.predictions[np.searchsorted(d.epochs, epochs)]).astype(np.int64)
        key = hashlib.blake2b(preds.tobytes(), digest_size=16).digest()
        if key in seen:
            merged.setdefault(seen[key], []).append(r.name)
            continue
        seen[key] = r.name
        kept.append(r.name)
        c = preds == d.targets[None, :]
        total = c.astype(np.int32) if total is None else total + c
    return total / float(len(kept)), epochs, kept, merged


def figure_05(entries, *, png, pdf, max_rows: int = _style.MAX_IMAGE_ROWS, study: str = "") -> None:
    """Write Figure 5: mean correctness over the study's runs, image x epoch (module docstring).

    Parameters
    ----------
    entries : the study's decision makers; every distinct decisions file is one run.
    png, pdf : output paths.
    max_rows : row rule, see the module docstring.
    study : study name for the title.
    """
    mean, epochs, names, merged = _run_mean(entries)
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
