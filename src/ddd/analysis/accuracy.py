"""Accuracies: per class (Figures 8 and 15, Table 1) and per decision maker (Figure 9).

Table 1: the ``k`` (10) classes on which the base network is most accurate at its final epoch,
best first, beside the ``k`` on which it is least accurate, *worst first* (as the paper's Table 1,
whose caption names 'earthstar' the highest and 'screen, CRT screen', the first of the second
column, the lowest). Ties are broken by class index, lower first, in both columns. With fewer than
2k classes, k = classes // 2 so that the columns do not overlap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ddd.experiment.conditions import CONDITIONS, condition_order
from ddd.results.decisions import read_decisions

__all__ = ["class_accuracy", "maker_class_accuracy", "sorted_class_accuracy", "class_accuracy_table",
           "condition_accuracy"]


def class_accuracy(correct, targets, n_classes: int | None = None) -> np.ndarray:
    """Per-class accuracy, float64 (C,): mean correctness over the images of each class; NaN for a
    class without images. ``C = n_classes`` (default: max target + 1)."""
    correct = np.asarray(correct, dtype=bool)
    targets = np.asarray(targets, dtype=np.int64)
    if correct.shape != targets.shape or correct.ndim != 1:
        raise ValueError(f"correct and targets must be 1-D of equal length, got {correct.shape} and {targets.shape}")
    if targets.size == 0:
        raise ValueError("no images")
    c = int(targets.max()) + 1 if n_classes is None else int(n_classes)
    if targets.min() < 0 or targets.max() >= c:
        raise ValueError(f"targets must lie in [0, {c})")
    total = np.bincount(targets, minlength=c).astype(np.float64)
    right = np.bincount(targets, weights=correct.astype(np.float64), minlength=c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, right / np.where(total > 0, total, 1), np.nan)


def condition_accuracy(accuracy: dict, conditions: dict, *, order=CONDITIONS) -> pd.DataFrame:
    """Accuracy of every decision maker with its condition, conditions in ``order``.

    Parameters
    ----------
    accuracy : {decision maker name: accuracy}.
    conditions : {decision maker name: condition}; names missing here are left out.

    Returns
    -------
    DataFrame with columns condition, name, accuracy, x (the condition's position), sorted by x.
    """
    rows = [{"condition": conditions[n], "name": n, "accuracy": float(a)} for n, a in accuracy.items()
            if n in conditions]
    df = pd.DataFrame(rows, columns=["condition", "name", "accuracy"])
    conds = condition_order(df["condition"], order)
    df["x"] = df["condition"].map({c: i for i, c in enumerate(conds)}).astype(int)
    return df.sort_values("x", kind="stable").reset_index(drop=True)


def sorted_class_accuracy(class_acc) -> tuple[np.ndarray, np.ndarray]:
    """``(accuracy sorted descending, class index of each)``; classes without images (NaN) left out;
    ties broken by class index (lower first)."""
    acc = np.asarray(class_acc, dtype=np.float64)
    if acc.ndim != 1:
        raise ValueError(f"class accuracies must be 1-D, got shape {acc.shape}")
    idx = np.flatnonzero(np.isfinite(acc))
    order = idx[np.lexsort((idx, -acc[idx]))]
    return acc[order], order


def class_accuracy_table(class_acc, class_names=None, *, k: int = 10) -> pd.DataFrame:
    """The k best and k worst classes (module docstring).

    Parameters
    ----------
    class_acc : float (C,), NaN for classes without images (left out).
    class_names : C names (default ``class <index>``).
    k : rows.

    Returns
    -------
    DataFrame with k' = min(k, classes // 2) (at least 1) rows: rank, highest_class, highest_index,
    highest_accuracy, lowest_class, lowest_index, lowest_accuracy.
    """
    acc = np.asarray(class_acc, dtype=np.float64)
    if acc.ndim != 1:
        raise ValueError(f"class accuracies must be 1-D, got shape {acc.shape}")
    names = [f"class {i}" for i in range(acc.size)] if class_names is None else [str(c) for c in class_names]
    if len(names) < acc.size:
        raise ValueError(f"{len(names)} class names for {acc.size} classes")
    idx = np.flatnonzero(np.isfinite(acc))
    if idx.size == 0:
        raise ValueError("no class has evaluation images")
    kk = max(1, min(int(k), idx.size // 2))
    best = idx[np.lexsort((idx, -acc[idx]))][:kk]
    worst = idx[np.lexsort((idx, acc[idx]))][:kk]
    return pd.DataFrame({"rank": np.arange(1, kk + 1),
                         "highest_class": [names[i] for i in best], "highest_index": best,
                         "highest_accuracy": acc[best],
                         "lowest_class": [names[i] for i in worst], "lowest_index": worst,
                         "lowest_accuracy": acc[worst]})


def maker_class_accuracy(maker, *, n_classes: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Per-class accuracy of one decision maker at its epoch, and the class names.

    ``n_classes`` default: as many as the file names, at least max target + 1; classes without a
    stored name are called ``class <index>``.

    Returns
    -------
    (float64 (C,), C names)
    """
    d = read_decisions(maker.path, load_probabilities=False)
    names = list(d.attrs.get("class_names") or [])
    c = max(len(names), int(d.targets.max()) + 1) if n_classes is None else int(n_classes)
    names += [f"class {i}" for i in range(len(names), c)]
    return class_accuracy(d.correct(maker.epoch), d.targets, c), names
