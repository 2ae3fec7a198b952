"""Each image's story: difficulty, learning dynamics and wrong answers, one row per image.

:func:`image_table` builds ``results/<study>/images.tsv`` (written by :mod:`ddd.results.images`)
from a study's decision makers and its split. Definitions (README "Each image's story"):

*Final decisions* are those of the study's distinct decision makers, each at its final epoch;
identical ones are merged first, as for the split, so ``n_correct`` equals ``split.tsv``'s.

- ``mean_correct``: mean correctness over those decision makers.
- ``mean_correct_epochs``: mean over networks × evaluations, where a *network* is a decisions file.
  Its evaluations are epochs 1 to the last epoch any decision maker uses from it, so the base's
  file runs to E + 10 when the plus-epoch conditions are in the study. Epoch 0 (before training)
  is left out.
- ``sd_over_networks``: the standard deviation over networks of each network's mean correctness over
  those evaluations: how much the networks disagree about an image (the variability of a data map).
- ``first_learned_median``, ``first_learned_q25``, ``first_learned_q75``: per network, the first
  epoch from which it stays right until its last evaluation, summarised over the networks that
  learn the image; ``n_networks_never_learned``: the networks that end wrong or never stay right.
- ``forgetting_events``: right → wrong between consecutive evaluations (epoch 1 onwards), summed
  over networks (Toneva et al. 2019); ``never_forgotten``: learned by some network at some epoch and
  never forgotten by any.
- ``top_prediction``, ``top_prediction_share``: the most frequent final prediction (ties: the
  smallest class index) and its share of the decision makers; ``top_wrong_prediction``,
  ``top_wrong_share``: the same among the wrong decisions (empty when all are right). A share near
  1 means the networks that err agree on the wrong class.
- ``irt_difficulty``, ``irt_status``: :func:`ddd.analysis.irt.rasch_difficulty` on the final
  correctness; with fewer than 2 distinct decision makers (or ``irt=False``) no model is fitted and
  every status is ``not_fitted``.

Studies whose decision makers were evaluated once (pretrained, imported) have no learning
dynamics: those columns are empty and ``n_evaluations`` is 1.

Cost and memory (issue 19, 1,000 decision makers x 50,000 images x 91 epochs): the learning
dynamics are read epoch by epoch for all networks at once through
:meth:`ddd.results.decisions.EpochReader.read` (correctness only) and kept as two small integers per
network and image (evaluations right, the epoch the current run of right answers began), O(M E N)
time and about 3 bytes x M x N; the summaries over networks go by blocks of images. The most frequent
answers sort each image's M answers (O(M N log M)); the final predictions are held as int16. The
Rasch fit (:mod:`ddd.analysis.irt`) fits one image per distinct number right. The numbers equal the
implementation before (``tests/test_scale_equality.py``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ddd.analysis.irt import rasch_difficulty
from ddd.analysis.split import merge_identical
from ddd.experiment.makers import as_decision_makers
from ddd.results.decisions import read_decisions, read_final

__all__ = ["image_table", "learning_dynamics", "most_frequent", "study_images", "export_correctness"]

log = logging.getLogger(__name__)


def most_frequent(predictions, *, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Most frequent value per column and its share among the counted entries.

    Parameters
    ----------
    predictions : int (M, N)
    mask : bool (M, N), optional: count only these entries (e.g. the wrong decisions)

    Returns
    -------
    value : int64 (N,), the most frequent value (ties: the smallest); -1 where nothing is counted
    share : float64 (N,), its count over the counted entries; NaN where nothing is counted
    """
    p = np.asarray(predictions)
    if p.ndim != 2 or p.dtype.kind not in "iu":
        raise ValueError(f"predictions must be an integer (M, N) array, got {p.dtype} {p.shape}")
    m = None if mask is None else np.asarray(mask, dtype=bool)
    if m is not None and m.shape != p.shape:
        raise ValueError(f"mask must have the shape of predictions {p.shape}, got {m.shape}")
    n_rows, n_cols = p.shape
    best = np.full(n_cols, -1, dtype=np.int64)
    best_n = np.zeros(n_cols, dtype=np.int64)
    counted = np.full(n_cols, n_rows, dtype=np.int64) if m is None else m.sum(axis=0)
    # Sort each image's answers (entries not counted become a value above every answer), find the
    # runs of equal values, keep the longest (the first, i.e. smallest value, among equals): O(M N log M).
    dtype = p.dtype if p.size == 0 or p.max() < np.iinfo(p.dtype).max else np.int64
    top = np.iinfo(dtype).max
    step = max(1, 2 ** 22 // max(n_rows, 1))
    for a in range(0, n_cols, step) if n_rows else []:
        cols = slice(a, min(a + step, n_cols))
        x = p[:, cols].astype(dtype, copy=True)
        if m is not None:
            x[~m[:, cols]] = top
        x = np.sort(x.T, axis=1)
        k = x.shape[0]
        start = np.ones(x.shape, dtype=bool)
        start[:, 1:] = x[:, 1:] != x[:, :-1]
        at = np.flatnonzero(start.ravel())
        length = np.diff(np.append(at, x.size))
        value = x.ravel()[at]
        row = at // n_rows
        if m is not None:
            length[value == top] = 0
        first = np.searchsorted(row, np.arange(k))
        longest = np.maximum.reduceat(length, first)
        hit = length == longest[row]
        pick = np.flatnonzero(hit)
        pick = pick[np.searchsorted(row[pick], np.arange(k))]
        ok = longest > 0
        best[cols] = np.where(ok, value[pick].astype(np.int64), -1)
        best_n[cols] = np.where(ok, longest, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(counted > 0, best_n / np.maximum(counted, 1), np.nan)
    return best, share


def learning_dynamics(correct) -> dict:
    """Per image, the learning dynamics of one network from its correctness over evaluations.

    Parameters
    ----------
    correct : bool (T, N), evaluations in epoch order (epoch 0 left out by the caller)

    Returns
    -------
    dict of (N,) arrays: ``mean`` (correctness over the T evaluations), ``first_learned`` (index of
    the first evaluation from which it stays right to the last; -1 if it ends wrong), ``forgetting``
    (right → wrong transitions), ``ever_right`` (bool)
    """
    c = np.asarray(correct, dtype=bool)
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValueError(f"correct must be a non-empty (T, N) array, got shape {c.shape}")
    t = c.shape[0]
    stays = np.logical_and.accumulate(c[::-1], axis=0)[::-1]  # right from this evaluation to the last
    first = np.where(stays[-1], np.argmax(stays, axis=0), -1)
    forgetting = (c[:-1] & ~c[1:]).sum(axis=0) if t > 1 else np.zeros(c.shape[1], dtype=np.int64)
    return {"mean": c.mean(axis=0), "first_learned": first, "forgetting": forgetting, "ever_right": c.any(axis=0)}


def _last_epochs(makers) -> dict:
    """``{path: last epoch any decision maker uses from it}``, one entry per decisions file in study order."""
    last: dict = {}
    for m in makers:
        last[m.path] = max(last.get(m.path, -1), m.epoch)
    return last


def image_table(makers, split: pd.DataFrame, *, irt: bool = True) -> tuple[pd.DataFrame, dict]:
    """One row per image: the columns of the module docstring.

    Parameters
    ----------
    makers : the study's decision makers (DecisionMaker objects or their dicts).
    split : the study's split table (``ddd.results.study.read_split``): image_id, target, n_correct,
        one column per rule, optionally label_issue.
    irt : fit the item difficulty (:func:`ddd.analysis.irt.rasch_difficulty`).

    Returns
    -------
    table : DataFrame, one row per image in the order of the decisions files.
    info : dict with ``n_decision_makers`` (distinct), ``n_networks``, ``n_evaluations`` (max over
        networks), ``irt`` (the fit's summary) and ``notes``.
    """
    makers = as_decision_makers(makers)
    final = read_final(makers, stored_dtype=True)
    ids = final.image_ids.astype(str)
    by_id = split.set_index(split["image_id"].astype(str))
    missing = [i for i in ids[:1000] if i not in by_id.index]
    if missing or len(by_id) != len(ids):
        raise ValueError(f"split.tsv does not hold the decisions' images (e.g. {missing[:3]}; "
                         f"{len(by_id)} rows for {len(ids)} images)")
    split = by_id.loc[ids]
    targets = final.targets
    p = final.predictions  # the files' int16 (M, N) as a rule: kept narrow (1,000 x 50,000: 100 MB, not 400)
    narrow = np.int16 if p.size == 0 or (p.min() >= -2 ** 15 and p.max() < 2 ** 15) else np.int32
    p = p.astype(narrow, copy=False)
    final = final._replace(predictions=None)
    preds, kept, _ = merge_identical(p, [m.name for m in makers])
    del p
    correct = preds == targets[None, :]
    n_correct = correct.sum(axis=0)
    if not np.array_equal(n_correct, split["n_correct"].to_numpy(np.int64)):
        raise ValueError("split.tsv's n_correct differs from the decisions' (the split is stale: summarise the study again)")
    table = pd.DataFrame({"image_id": ids, "target": targets, "n_correct": n_correct,
                          "n_decision_makers": len(kept)})
    for rule in ("strict", "all_but_one"):
        table[rule] = split[rule].to_numpy() if rule in split else ""
    table["label_issue"] = split["label_issue"].to_numpy() if "label_issue" in split else False
    table["mean_correct"] = correct.mean(axis=0)
    notes = []
    dyn, n_eval = _dynamics(makers, targets, ids, notes)
    table = pd.concat([table, dyn], axis=1)
    wrong = ~correct
    top, share = most_frequent(preds)
    top_wrong, wrong_share = most_frequent(preds, mask=wrong)
    table["top_prediction"], table["top_prediction_share"] = top, share
    table["top_wrong_prediction"] = pd.array(np.where(top_wrong >= 0, top_wrong, 0), dtype="Int64")
    table.loc[top_wrong < 0, "top_wrong_prediction"] = pd.NA
    table["top_wrong_share"] = wrong_share
    fit = {"model": "not fitted"}
    table["irt_difficulty"], table["irt_status"] = np.nan, "not_fitted"
    if irt and len(kept) >= 2:
        diff, status, fit = rasch_difficulty(correct)
        table["irt_difficulty"], table["irt_status"] = diff, status
    elif irt:
        fit = {"model": "not fitted", "error": f"{len(kept)} distinct decision maker: an item response model "
                                               "needs at least 2"}
        notes.append(f"no item difficulty: {fit['error']}")
        log.warning(notes[-1])
    info = {"n_decision_makers": len(kept), "n_networks": int(dyn.attrs.get("n_networks", 0)),
            "n_evaluations": n_eval, "irt": fit, "notes": notes}
    return table, info


def _dynamics(makers, targets, ids, notes) -> tuple[pd.DataFrame, int]:
    """The learning-dynamics columns, epoch by epoch over all networks (decisions files).

    Each epoch's correctness of the networks that evaluated it comes from
    :meth:`ddd.results.decisions.EpochReader.words` (bit-packed, not unpacked); per network and image
    only the number of right evaluations and the epoch its current run of right answers began are kept
    (a few bytes per network and image), updated by one compiled pass per evaluation
    (:func:`ddd.analysis._dynamics.step`), the same quantities as :func:`learning_dynamics` of each
    network's (T, N) history. The quartiles of the first-learned epochs are counted per image
    (:func:`ddd.analysis._dynamics.first_learned_quantiles`, equal to ``np.nanpercentile``). Targets and
    image ids were checked against the study's by ``read_final``.
    """
    from ddd.results.decisions import EpochReader, read_file_info

    networks = _last_epochs(makers)
    n = len(ids)
    paths, evals = [], []
    for path, last in networks.items():
        stored = read_file_info(path).epochs
        rows = stored[(stored >= 1) & (stored <= last)]
        if rows.size >= 1:
            paths.append(path)
            evals.append(rows)
    n_eval = max([1, *(len(e) for e in evals)])
    empty = pd.DataFrame(index=range(n))
    if not paths or n_eval < 2:
        notes.append("one evaluation per decision maker: no learning dynamics (those columns are empty)")
        log.info(notes[-1])
        frame = empty.assign(mean_correct_epochs=np.nan, sd_over_networks=np.nan, first_learned_median=np.nan,
                             first_learned_q25=np.nan, first_learned_q75=np.nan,
                             n_networks_never_learned=pd.array([pd.NA] * n, dtype="Int64"),
                             forgetting_events=pd.array([pd.NA] * n, dtype="Int64"),
                             never_forgotten=pd.array([pd.NA] * n, dtype="boolean"), n_evaluations=1)
        frame.attrs["n_networks"] = len(networks)
        return frame, 1
    k = len(paths)
    top = max(int(e.max()) for e in evals)
    right = np.zeros((k, n), dtype=np.uint8 if n_eval <= 255 else np.uint16 if n_eval < 2 ** 16 else np.uint32)
    since = np.full((k, n), -1, dtype=np.int16 if top < 2 ** 15 else np.int32)  # epoch the current right run began
    forget = np.zeros(n, dtype=np.int64)
    ever = np.zeros(n, dtype=bool)
    reader = EpochReader()
    words = np.empty((k, -(-n // 64)), dtype=np.uint64)  # one evaluation of every network, bit-packed
    union = np.unique(np.concatenate(evals))
    member = np.zeros((len(union), k), dtype=bool)
    for i, e in enumerate(evals):
        member[np.searchsorted(union, e), i] = True
    from ddd.analysis._dynamics import first_learned_quantiles, step

    for epoch, held in zip(union.tolist(), member):
        who = np.flatnonzero(held)
        bits = reader.words([paths[i] for i in who], [epoch] * len(who), out=words[:len(who)])
        step(bits.view(np.uint8), who.astype(np.int64), epoch, right, since, forget, ever)
    t = np.array([len(e) for e in evals], dtype=np.float64)
    mean, sd = np.empty(n), np.empty(n)
    q25, med, q75 = np.empty(n), np.empty(n), np.empty(n)
    first_learned_quantiles(since, top, q25, med, q75)
    width = max(2, 2 ** 21 // k)
    starts = list(range(0, n, width))
    if len(starts) > 1 and n - starts[-1] == 1:  # no block of one column: reductions sum as over all
        starts.pop()
    for a, b in zip(starts, [*starts[1:], n]):
        cols = slice(a, b)
        means = right[:, cols] / t[:, None]  # each network's mean over its evaluations (as c.mean(axis=0))
        mean[cols], sd[cols] = means.mean(axis=0), means.std(axis=0)
    frame = empty.assign(mean_correct_epochs=mean, sd_over_networks=sd,
                         first_learned_median=med, first_learned_q25=q25, first_learned_q75=q75,
                         n_networks_never_learned=(since < 0).sum(axis=0), forgetting_events=forget,
                         never_forgotten=ever & (forget == 0), n_evaluations=n_eval)
    frame.attrs["n_networks"] = k
    return frame, n_eval


def study_images(makers, split_tsv, *, images_path, irt: bool = True) -> dict:
    """Write ``images.tsv`` of a study (:func:`image_table`); returns the table's ``info``."""
    from ddd.results.images import write_images
    from ddd.results.study import read_split

    table, info = image_table(makers, read_split(split_tsv), irt=irt)
    log.info("images.tsv: %d images, %d distinct decision makers, %d networks, up to %d evaluations; IRT: %s",
             len(table), info["n_decision_makers"], info["n_networks"], info["n_evaluations"], info["irt"])
    for note in info["notes"]:
        log.info("note: %s", note)
    write_images(table, images_path)
    return info


def export_correctness(makers, *, jsonl_path, long_path) -> int:
    """Write the correctness matrix for other tools: py-irt JSON lines (final epoch) and the tidy long
    table (every decision maker at every stored epoch up to its final one); returns the long table's rows."""
    from ddd.results.images import write_long_table, write_pyirt_jsonl

    makers = as_decision_makers(makers)
    final = read_final(makers)
    write_pyirt_jsonl(final.correct, [m.name for m in makers], final.image_ids, jsonl_path)

    def blocks():
        for m in makers:
            d = read_decisions(m.path, load_probabilities=False)
            rows = np.flatnonzero(d.epochs <= m.epoch)
            for r in rows:
                yield pd.DataFrame({"decision_maker": m.name, "image_id": d.image_ids, "epoch": int(d.epochs[r]),
                                    "correct": (d.predictions[r] == d.targets).astype(np.int8)})

    return write_long_table(blocks(), long_path)
