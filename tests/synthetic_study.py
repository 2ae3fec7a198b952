"""A synthetic study with a known answer, shared by the figure and table tests.

100 evaluation images of 4 classes: images 0-39 are right for every decision maker at its final
epoch (trivial), 40-59 wrong for every one (impossible), 60-99 right with probability 1/2,
independently per run. Every run is wrong at epoch 0 and at its final answers from epoch 1 on, so
one transition changes anything. The base run stores E + 10 epochs for the plus-epoch conditions.
"""

import numpy as np

from ddd.analysis.summary import summarize
from ddd.experiment.makers import DecisionMaker
from ddd.results import study as study_tables
from ddd.results.decisions import write_decisions

C, K = 4, 25            # classes, images per class
N = C * K               # 100 evaluation images
E = 4                   # nominal final epoch; the base run stores E + 10
TRIVIAL = np.arange(0, 40)       # right for every decision maker at its final epoch
IMPOSSIBLE = np.arange(40, 60)   # wrong for every one
RANDOM = np.arange(60, 100)      # right with probability 1/2, independently per run
RUNS = ("base/1", "init/1", "init/2", "architecture/1", "different_data/1", "different_data/2")
GAUSS = {"name": "gaussian", "kind": "gaussian", "n_classes": C, "image_size": 4, "train_per_class": 2,
         "val_per_class": K, "seed": 1312, "encoding": "unit", "transforms": "small"}


def final_correct(seed: int) -> np.ndarray:
    c = np.zeros(N, dtype=bool)
    c[TRIVIAL] = True
    c[RANDOM] = np.random.default_rng(seed).random(RANDOM.size) < 0.5
    return c


def predictions(correct_rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Right -> the target, wrong -> the next class."""
    return np.where(correct_rows, targets[None, :], (targets[None, :] + 1) % C).astype(np.int64)


def write_run(path, correct_rows, *, dataset=GAUSS, epochs=None):
    targets = np.arange(N) // K
    path.parent.mkdir(parents=True, exist_ok=True)
    write_decisions(path, predictions(correct_rows, targets), targets, [str(i) for i in range(N)],
                    epochs=epochs, recipe={"synthetic": True},
                    attrs={"dataset": dataset, "class_names": [f"sigma={k + 1}" for k in range(C)]})


def trajectory(final: np.ndarray, n_epochs: int) -> np.ndarray:
    """Epoch 0 all wrong, every later epoch = ``final``: one transition changes anything."""
    rows = np.repeat(final[None, :], n_epochs, axis=0)
    rows[0] = False
    return rows


def write_study(root, entries, study: str) -> dict:
    """Summarize the decision makers (dicts) and write the study tables through their owner
    (:mod:`ddd.results.study`); returns a dict of the paths and the entries."""
    summary, split, kappas = summarize([DecisionMaker(**e) for e in entries], study=study)
    out = {"entries": entries, "summary": str(root / "summary.json"), "split": str(root / "split.tsv"),
           "kappas": str(root / "kappa_vs_base.tsv"), "root": root}
    study_tables.write_summary(summary, out["summary"])
    study_tables.write_split(split, out["split"])
    study_tables.write_kappas(kappas, out["kappas"])
    return out


def make_study(root, *, runs=RUNS, dataset=GAUSS) -> dict:
    """Write the runs and the study tables; returns :func:`write_study`'s dict."""
    entries = []
    for i, run in enumerate(runs):
        cond, inst = run.split("/")
        path = root / "runs" / cond / f"{inst}.h5"
        write_run(path, trajectory(final_correct(i), E + 11 if cond == "base" else E + 1), dataset=dataset)
        multi = sum(r.startswith(cond + "/") for r in runs) > 1
        entries.append({"name": run if multi else cond, "condition": cond, "path": str(path), "epoch": E})
        if cond == "base":
            entries += [{"name": "plus_1_epoch", "condition": "plus_1_epoch", "path": str(path), "epoch": E + 1,
                         "offset": 1},
                        {"name": "plus_10_epochs", "condition": "plus_10_epochs", "path": str(path),
                         "epoch": E + 10, "offset": 10}]
    return write_study(root, entries, "synthetic")
