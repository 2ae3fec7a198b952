"""All pairs of decision makers, at every stored epoch, on every subset of images: the streaming engine.

Beside κ every row carries the agreement beyond κ of :mod:`ddd.analysis.agreement`: CAPA in its
discrete form (same top-1 class, chance-adjusted for C classes) with its parts, and decision-margin
consistency where the decisions files store margins (format version 3; NaN for older files and
imported decisions, which the log says once).

Decision makers are :class:`ddd.experiment.makers.DecisionMaker` objects (or their dicts): each
contributes every epoch its decisions file stores up to its own ``epoch`` (its learning history;
a model evaluated once contributes epoch 0). At every epoch shared by at least two decision
makers, every pair of them is compared on the whole set (subset ``"all"``) and on each named
subset of images, with one population count over bit-packed rows per (epoch, subset) instead of a
loop over pairs (:mod:`ddd.analysis.bitcount`; exact integer counts, so the numbers equal
:func:`ddd.analysis.uncertainty.pairwise` to the last bit).

Memory: one epoch's correctness (``agreement=False``: M x N / 8 bytes, bit-packed; with agreement
M x N bool, predictions int16 and margins float16, 5 bytes per decision) and the reader's read-ahead
(:class:`ddd.results.decisions.EpochReader`: ``correct_bits`` of decisions format 4, at most 320 MiB
for all files, i.e. 53 epochs of 1,000 x 50,000; with agreement one row per file of predictions and
margins), the blocks of :func:`ddd.analysis.agreement.same_wrong_counts` (<= 2^22 decisions), a few
(M, M) matrices per subset and the M (M-1) / 2 rows of one block.
Cost per epoch and subset: κ's counts M (M + 1) / 2 x ceil(N / 64) AND + POPCNT on numba's threads
(:func:`ddd.analysis.bitcount.both_counts`, about 0.02 s for 1,000 x 50,000 on 2 cores; a subset is
counted through its packed mask, as costly as the whole set), the margins' float32 product O(M² N)
(only where margins are stored), CAPA's counting of equal wrong answers O(M N) plus M² per (image,
class) that many decision makers chose (:func:`ddd.analysis.agreement.same_wrong_counts`).
``agreement=False`` skips the last two and reads ``correct_bits`` only, without unpacking them
(:meth:`ddd.results.decisions.EpochReader.words`; older files: predictions). Without a ``pairs_path``
only the summary is made, straight from the counts (κ, its undefined flag, c_obs and c_exp: no
bounds, no per-pair table), with the same numbers as summarising the pairs table, in two worker
threads (one per subset, as a rule) while the next epoch is read and counted.
Image ids of every file are checked against the first file's before anything is compared
(a file whose stored SHA-256 of its ids equals the first file's holds the same ids and is not read;
identical arrays are accepted at once, anything else goes through
:func:`ddd.results.decisions.check_same_images` and is refused with its message); they are not
kept. With agreement, disjoint subsets (e.g. the ``condition=<value>`` subsets of imported data)
cost no extra pass: the whole set's counts are their sum plus the rest's.

Output (:func:`all_pairs`, written through :mod:`ddd.results.pairs`): ``pairs.tsv``, one row per
pair, epoch and subset (:data:`COLUMNS`, + ``p_value``), streamed block by block; ``summary.tsv``,
one row per epoch, subset and pair of groups (``groups`` maps decision makers to e.g. their
condition; default one group ``"all"``; the within-group rows cover distinct pairs only).

Python API::

    from ddd.analysis.engine import all_pairs, iter_pairs
    summary = all_pairs(makers, subsets={"in_between": mask}, pairs_path="pairs.tsv",
                        summary_path="pairs_summary.tsv", groups={"base": "base", ...})
    frame = pd.concat(iter_pairs(makers))      # small studies: everything in memory
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from ddd.analysis.agreement import (MarginMoments, agreement_table, margin_moments, margin_table,
                                     same_wrong_counts)
from ddd.analysis.bitcount import both_counts, pack
from ddd.analysis.kappa import pair_counts, pair_table
from ddd.analysis.uncertainty import ALTERNATIVES, p_values_from_counts
from ddd.experiment.makers import as_decision_makers
from ddd.results.decisions import (EpochReader, check_same_images, read_file_info, read_ids_digest,
                                   read_ids_epochs)
from ddd.results.pairs import AGREEMENT_PAIR_COLUMNS
from ddd.results.pairs import PAIR_COLUMNS as COLUMNS
from ddd.results.pairs import SUMMARY_COLUMNS, PairsWriter, write_pairs_summary

__all__ = ["COLUMNS", "SUMMARY_COLUMNS", "all_pairs", "iter_pairs", "resolve_makers", "summarize_pairs"]

log = logging.getLogger(__name__)

UNDEFINED = ("nan", "mvh")


def resolve_makers(makers) -> tuple[list, dict, np.ndarray]:
    """Check decision makers against their files.

    Returns
    -------
    makers : list of :class:`~ddd.experiment.makers.DecisionMaker`, in the given order
    epochs : ``{name: [stored epochs <= its epoch]}``
    image_ids : str (N,), the common image ids (order of the files)
    """
    makers = as_decision_makers(makers)
    if len(makers) < 2:
        raise ValueError(f"all pairs need at least 2 decision makers, got {len(makers)}")
    stored_epochs, epochs, ref = {}, {}, None
    for m in makers:
        if m.path not in stored_epochs:  # ids are checked once per file and not kept (N strings each)
            digest, stored_epochs[m.path] = read_ids_digest(m.path)
            if ref is None:
                ids, _ = read_ids_epochs(m.path)  # verified against that digest
                ref = (m, ids, np.char.encode(ids, "utf-8"), digest)
            elif digest is None or digest != ref[3]:  # equal digests: the same ids, not read again
                raw, _ = read_ids_epochs(m.path, decode=False)
                if not np.array_equal(raw, ref[2]):
                    check_same_images(ref[1], read_ids_epochs(m.path)[0],
                                      names=(f"{ref[0].name} ({ref[0].path})", f"{m.name} ({m.path})"))
        stored = stored_epochs[m.path]
        if m.epoch not in set(stored.tolist()):
            raise ValueError(f"decision maker {m.name}: epoch {m.epoch} not in {m.path} "
                             f"(stored epochs {stored.min()}..{stored.max()})")
        epochs[m.name] = [int(e) for e in stored if e <= m.epoch]
    return makers, epochs, ref[1]


def _subset_masks(subsets, ids: np.ndarray) -> dict:
    masks = {"all": None}
    for name, sel in (subsets or {}).items():
        if not isinstance(name, str) or not name or name == "all" or any(ch in name for ch in "\t\n\r"):
            raise ValueError(f"subset names must be non-empty strings other than 'all' without tabs or "
                             f"newlines, got {name!r}")
        sel = np.asarray(sel)
        if sel.dtype == bool:
            if sel.shape != ids.shape:
                raise ValueError(f"subset {name!r}: boolean mask must have shape ({len(ids)},) (one per image, "
                                 f"in the files' order), got {sel.shape}")
            masks[name] = sel
        elif sel.ndim == 1 and sel.dtype.kind in "UO":
            unknown = np.setdiff1d(sel.astype(str), ids)
            if unknown.size:
                raise ValueError(f"subset {name!r}: {unknown.size} image ids not in the decisions files, "
                                 f"e.g. {unknown[:5].tolist()}")
            masks[name] = np.isin(ids, sel.astype(str))
        else:
            raise ValueError(f"subset {name!r} must be a bool mask (N,) or a list of image ids, got "
                             f"{sel.dtype} shape {sel.shape}")
    return masks


def _labels(held: dict, epochs) -> list[int]:
    count: dict[int, int] = {}
    for stored in held.values():
        for e in stored:
            count[e] = count.get(e, 0) + 1
    if epochs is None:
        labels = sorted(e for e, k in count.items() if k >= 2)
        if not labels:
            raise ValueError("no epoch is shared by two decision makers")
        return labels
    labels = [int(e) for e in np.atleast_1d(epochs)]
    lonely = [e for e in labels if count.get(e, 0) < 2]
    if lonely:
        raise ValueError(f"epochs {lonely} are held by fewer than 2 decision makers")
    return labels


class _Counts(NamedTuple):
    """What one subset's pair rows need, additive over disjoint sets of images."""
    n: int
    both: np.ndarray                       #: int64 (M, M): images right for both (diagonal: each one's)
    same_wrong: np.ndarray | None          #: int64 (M, M): images both got wrong with the same class
    margins: MarginMoments | None          #: None when no decision maker of the epoch stores margins

    def __add__(self, other: "_Counts") -> "_Counts":
        margins = None if self.margins is None else self.margins + other.margins
        same = None if self.same_wrong is None else self.same_wrong + other.same_wrong
        return _Counts(self.n + other.n, self.both + other.both, same, margins)


def _part_counts(rows, masks: list, n_keys: int | None, with_margins: bool) -> list:
    same = same_wrong_counts(rows.predictions, rows.correct, masks, n_keys=n_keys)
    moments = margin_moments(rows.margins, masks) if with_margins else [None] * len(masks)
    return [_Counts(*pair_counts(rows.correct, mask=mask), s, mo) for mask, s, mo in zip(masks, same, moments)]


def _counts(rows, masks: dict, disjoint: bool, n_keys: int | None, words_masks: dict):
    """``(subset, _Counts)`` for "all" and every subset; disjoint subsets give "all" as their sum plus the rest.

    ``rows``: :class:`~ddd.results.decisions.EpochRows` (agreement), or the bit-packed correctness uint64
    (M, W) of :meth:`~ddd.results.decisions.EpochReader.words` (κ only), counted by population count on
    the whole set and on each subset (``words_masks``: the subsets packed alike), each pass as costly as
    the whole set's."""
    if isinstance(rows, np.ndarray):
        for subset, (n, words) in words_masks.items():
            yield subset, _Counts(n, both_counts(rows, mask=words), None, None)
        return
    with_margins = bool(rows.has_margins.any())
    if not disjoint:
        yield from zip(masks, _part_counts(rows, list(masks.values()), n_keys, with_margins))
        return
    named = {s: m for s, m in masks.items() if s != "all"}
    rest = ~np.any(list(named.values()), axis=0)
    *parts, total = _part_counts(rows, [*named.values(), rest], n_keys, with_margins)
    for part in parts:
        total = total + part
    yield "all", total
    yield from zip(named, parts)


def _classes(makers, n_classes):
    """``(C for CAPA or None, upper bound of class indices or None)`` from the files (or ``n_classes``),
    logging files without margins once."""
    infos = {m.path: read_file_info(m.path) for m in makers}
    stated = {p: i.n_classes for p, i in infos.items() if i.n_classes is not None}
    without = [m.name for m in makers if not infos[m.path].has_margins]
    if without:
        log.info("%d of %d decision makers have no stored margins (decisions files before format version 3, "
                 "imported decisions): their margin_consistency is NaN (e.g. %s)", len(without), len(makers),
                 ", ".join(without[:5]))
    if n_classes is not None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
            raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
        bigger = {p: c for p, c in stated.items() if c > n_classes}
        if bigger:
            path, c = next(iter(bigger.items()))
            raise ValueError(f"n_classes={n_classes}, but {path} has {c} classes")
        return int(n_classes), int(n_classes)
    if len(set(stated.values())) > 1:
        (p1, c1), *rest = stated.items()
        p2, c2 = next((p, c) for p, c in rest if c != c1)
        raise ValueError(f"decisions files of one comparison state different numbers of classes: {p1} has {c1}, "
                         f"{p2} has {c2}")
    if not stated:
        log.info("no decisions file states its number of classes (no class_names or probabilities): capa and "
                 "capa_c_exp are NaN (pass n_classes to compute them)")
        return None, None
    c = next(iter(stated.values()))
    if len(stated) < len(infos):
        log.info("%d of %d decisions files do not state their number of classes; CAPA uses the others' C=%d",
                 len(infos) - len(stated), len(infos), c)
        return c, None
    return c, c


class _Plan(NamedTuple):
    """What every epoch of a comparison shares (:func:`_plan`)."""
    makers: list
    names: list
    held: dict
    masks: dict
    labels: list
    disjoint: bool
    agreement: bool
    n_classes: int | None
    n_keys: int | None
    words_masks: dict  #: {subset: (images in it, uint64 (W,) mask of bitcount.pack or None for "all")}


def _plan(makers, *, subsets, epochs, agreement: bool, n_classes) -> _Plan:
    makers, held, ids = resolve_makers(makers)
    c, n_keys = _classes(makers, n_classes) if agreement else (None, None)
    masks = _subset_masks(subsets, ids)
    named = [m for s, m in masks.items() if s != "all"]
    disjoint = bool(named) and int(np.sum(named, axis=0, dtype=np.int64).max()) <= 1
    words_masks = {s: (len(ids), None) if m is None else (int(np.count_nonzero(m)), pack(m)) for s, m in masks.items()}
    return _Plan(makers, [m.name for m in makers], held, masks, _labels(held, epochs), disjoint, agreement, c,
                 n_keys, words_masks)


def _each_epoch(plan: _Plan) -> Iterator[tuple]:
    """``(epoch, active decision makers (indices into plan.makers), [(subset, _Counts), ...])`` per epoch."""
    reader = EpochReader()
    for label in plan.labels:
        active = np.array([k for k, m in enumerate(plan.makers) if label in plan.held[m.name]])
        t0 = time.perf_counter()
        paths = [plan.makers[k].path for k in active]
        epochs = [label] * active.size
        rows = reader.rows(paths, epochs) if plan.agreement else reader.words(paths, epochs)
        t1 = time.perf_counter()
        parts = list(_counts(rows, plan.masks, plan.disjoint, plan.n_keys, plan.words_masks))
        t2 = time.perf_counter()
        yield label, active, parts
        log.info("epoch %s: %d decision makers, read %.2fs, counts %.2fs, tables %.2fs", label, active.size,
                 t1 - t0, t2 - t1, time.perf_counter() - t2)


def iter_pairs(makers, *, subsets=None, epochs=None, undefined: str = "nan", p_value: bool = False,
               alternative: str = "greater", bias_corrected: bool = False,
               n_classes: int | None = None, agreement: bool = True) -> Iterator[pd.DataFrame]:
    """Yield one tidy DataFrame per (epoch, subset): every pair of the decision makers holding that epoch.

    Parameters
    ----------
    makers : >= 2 decision makers (module docstring), unique names, same images
    subsets : dict ``{name: bool mask (N,) in the files' image order, or list of image ids}``, optional;
        the whole set is always subset ``"all"``; an empty subset gives rows with ``n = 0`` and NaN
    epochs : epochs to compute, optional (default: every epoch held by >= 2 decision makers)
    undefined : {"nan", "mvh"} (``ddd.analysis.kappa``)
    p_value : add the exact conditional ``p_value`` against independent observers
        (``ddd.analysis.uncertainty.p_values_from_counts``) and ``p_alternative`` naming its alternative
    alternative : {"greater", "less", "two-sided"} of that p-value
    bias_corrected : add ``kappa_bias_corrected`` (κ′, :func:`ddd.analysis.kappa.pair_table`)
    n_classes : C of CAPA's chance term (default: the ``n_classes`` the decisions files state; they
        must agree; none stated: ``capa`` is NaN, the log says so)
    agreement : compute the agreement beyond κ (default). ``False`` reads correctness only (about
        half the time for 1,000 decision makers) and leaves those columns NaN (``margin_n`` 0)

    Yields
    ------
    DataFrame with :data:`COLUMNS` (+ ``kappa_bias_corrected``, ``p_value``, ``p_alternative``), pairs ``a, b``
    in the order of ``makers``; ``a`` and ``b`` are categoricals over all names. The agreement columns
    (:data:`ddd.analysis.agreement.AGREEMENT_COLUMNS`): ``agree_obs`` (share of images with the same
    top-1 class), ``capa_c_exp``, ``capa``, ``same_wrong`` (share of the images both got wrong on which
    they chose the same class), ``margin_n`` (images where both have margins) and ``margin_consistency``
    (Pearson r of the margins; NaN without margins).
    """
    _check_options(undefined, alternative)
    plan = _plan(makers, subsets=subsets, epochs=epochs, agreement=agreement, n_classes=n_classes)
    for label, active, parts in _each_epoch(plan):
        for subset, counts in parts:
            yield _frame(counts, active, plan.names, label, subset, undefined=undefined, p_value=p_value,
                         alternative=alternative, bias_corrected=bias_corrected, n_classes=plan.n_classes)


def _check_options(undefined: str, alternative: str) -> None:
    if undefined not in UNDEFINED:
        raise ValueError(f"undefined must be one of {UNDEFINED} for all pairs, got {undefined!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")


def _frame(counts, active, names, label, subset, *, undefined, p_value, alternative, bias_corrected=False,
           n_classes=None) -> pd.DataFrame:
    """Every pair of the ``active`` decision makers at one epoch on one subset."""
    i, j = np.triu_indices(active.size, k=1)
    n, both = counts.n, counts.both
    k = np.diag(both)
    cols = pair_table(n, k[i], k[j], both[i, j], undefined=undefined, bias_corrected=bias_corrected)
    extra = {"kappa_bias_corrected": cols.pop("kappa_bias_corrected")} if bias_corrected else {}
    if counts.same_wrong is None:  # agreement=False
        cols.update({c: np.full(i.size, np.nan) for c in AGREEMENT_PAIR_COLUMNS})
    else:
        cols.update(agreement_table(n, k[i], k[j], both[i, j], counts.same_wrong[i, j], n_classes=n_classes))
    if counts.margins is None:
        cols.update(margin_n=np.zeros(i.size, np.int64), margin_consistency=np.full(i.size, np.nan))
    else:
        cols.update(margin_table(counts.margins, i, j))
    frame = pd.DataFrame({"a": pd.Categorical.from_codes(active[i], names),
                          "b": pd.Categorical.from_codes(active[j], names),
                          "epoch": np.full(i.size, label), "subset": subset, **cols, **extra})
    if p_value:
        frame["p_value"] = p_values_from_counts(n, k[i], k[j], both[i, j], alternative=alternative)
        frame["p_alternative"] = alternative
    return frame


def _group_codes(names, groups: Mapping | None) -> tuple[list, np.ndarray]:
    """Group labels (in order of first appearance in ``groups``) and each name's group index."""
    if groups is None:
        return ["all"], np.zeros(len(names), dtype=np.int64)
    missing = sorted({str(x) for x in names} - set(map(str, groups)))
    if missing:
        raise ValueError(f"groups has no entry for decision makers {missing[:5]}")
    groups = {str(k): v for k, v in groups.items()}
    labels = list(dict.fromkeys(groups.values()))
    order = {g: r for r, g in enumerate(labels)}
    return labels, np.array([order[groups[str(x)]] for x in names], dtype=np.int64)


def summarize_pairs(pairs: pd.DataFrame, *, groups: Mapping | None = None) -> pd.DataFrame:
    """Summary of a pairs table (from :func:`iter_pairs` or ``pairs.tsv``) per epoch, subset and pair of groups.

    Parameters
    ----------
    pairs : DataFrame with at least ``a, b, epoch, subset, kappa, kappa_undefined, c_obs, c_exp``
    groups : ``{decision maker name: group}``, optional (default: every decision maker in group ``"all"``);
        group pairs are unordered, ``group_a`` being the one whose first member comes first in ``groups``

    Returns
    -------
    DataFrame with :data:`SUMMARY_COLUMNS`; kappa statistics over defined kappas only (NaN if none)
    """
    codes_a, names_a = pd.factorize(pairs["a"])
    codes_b, names_b = pd.factorize(pairs["b"])
    labels, of_a = _group_codes(list(names_a), groups)
    _, of_b = _group_codes(list(names_b), groups)
    ga, gb = of_a[codes_a], of_b[codes_b]
    return _summarize(pairs["epoch"].to_numpy(), pairs["subset"].to_numpy(), np.minimum(ga, gb),
                      np.maximum(ga, gb), labels, pairs["kappa"].to_numpy(),
                      pairs["kappa_undefined"].to_numpy(dtype=bool), pairs["c_obs"].to_numpy(),
                      pairs["c_exp"].to_numpy())


def _summarize(epoch, subset, group_a, group_b, labels, kappa, undef, c_obs, c_exp) -> pd.DataFrame:
    """:func:`summarize_pairs` of per-pair arrays (R,); ``epoch`` and ``subset`` arrays (R,) or scalars,
    groups as indices into ``labels``. Grouped by one integer key: pandas' group means (compensated
    sums in row order), standard deviations and quantiles, whose values do not depend on how the key is built."""
    g = len(labels)
    scalar = np.ndim(epoch) == 0 and np.ndim(subset) == 0
    if scalar:
        key = group_a * g + group_b
    else:
        e_codes, e_values = pd.factorize(np.broadcast_to(epoch, kappa.shape))
        s_codes, s_values = pd.factorize(np.broadcast_to(subset, kappa.shape))
        key = ((e_codes.astype(np.int64) * len(s_values) + s_codes) * g + group_a) * g + group_b
    frame = pd.DataFrame({"key": key, "kappa": kappa, "undef": undef, "c_obs": c_obs, "c_exp": c_exp})
    grouped = frame.groupby("key", sort=False)
    out = grouped.agg(n_pairs=("kappa", "size"), n_undefined=("undef", "sum"), kappa_mean=("kappa", "mean"),
                      kappa_sd=("kappa", "std"), c_obs_mean=("c_obs", "mean"), c_exp_mean=("c_exp", "mean"))
    q = grouped["kappa"].quantile([0.05, 0.5, 0.95]).unstack()
    out["kappa_q05"], out["kappa_median"], out["kappa_q95"] = q[0.05], q[0.5], q[0.95]
    key = out.index.to_numpy()
    labels = np.array(labels, dtype=object)
    out = out.reset_index(drop=True)
    out["group_a"], out["group_b"] = labels[key // g % g], labels[key % g]
    if scalar:
        out["epoch"], out["subset"] = np.full(len(out), epoch), subset
    else:
        rest = key // (g * g)
        out["epoch"], out["subset"] = e_values[rest // len(s_values)], s_values[rest % len(s_values)]
    return out[list(SUMMARY_COLUMNS)]


def _summary_of_counts(counts: "_Counts", active, of_group, labels, label, subset, *, undefined) -> pd.DataFrame:
    """The summary rows of one epoch and subset straight from the counts (no pairs table): the
    same numbers as :func:`summarize_pairs` of :func:`iter_pairs`' frame."""
    i, j = np.triu_indices(active.size, k=1)
    k = np.diag(counts.both)
    cols = pair_table(counts.n, k[i], k[j], counts.both[i, j], undefined=undefined, bounds=False)
    ga, gb = of_group[active[i]], of_group[active[j]]
    return _summarize(label, subset, np.minimum(ga, gb), np.maximum(ga, gb), labels, cols["kappa"],
                      cols["kappa_undefined"], cols["c_obs"], cols["c_exp"])


def all_pairs(makers, *, pairs_path=None, summary_path=None, groups: Mapping | None = None, subsets=None,
              epochs=None, undefined: str = "nan", p_value: bool = False,
              alternative: str = "greater", bias_corrected: bool = False,
              n_classes: int | None = None, agreement: bool = True) -> pd.DataFrame:
    """Stream every pair, epoch and subset to ``pairs_path`` and return (and write) the summary.

    Parameters are those of :func:`iter_pairs` and :func:`summarize_pairs`; ``pairs_path`` and
    ``summary_path`` (optional; :mod:`ddd.results.pairs`) appear only when everything succeeded.

    Returns
    -------
    summary : DataFrame with :data:`SUMMARY_COLUMNS`
    """
    makers = as_decision_makers(makers)
    _check_options(undefined, alternative)
    if groups is not None:
        missing = [m.name for m in makers if m.name not in groups]
        if missing:
            raise ValueError(f"groups has no entry for decision makers {missing[:5]}")
    plan = _plan(makers, subsets=subsets, epochs=epochs, agreement=agreement, n_classes=n_classes)
    labels, of_group = _group_codes(plan.names, groups)
    parts, pending, t0 = [], [], time.perf_counter()
    with PairsWriter(pairs_path) as writer, ThreadPoolExecutor(max_workers=2) as tables:
        for label, active, counts in _each_epoch(plan):
            done, pending = pending, []
            for subset, c in counts:
                if pairs_path is None:  # the summary alone, straight from the counts, while the next epoch is read
                    pending.append(tables.submit(_summary_of_counts, c, active, of_group, labels, label, subset,
                                                 undefined=undefined))
                    continue
                frame = _frame(c, active, plan.names, label, subset, undefined=undefined, p_value=p_value,
                               alternative=alternative, bias_corrected=bias_corrected, n_classes=plan.n_classes)
                writer.write(frame)
                parts.append(summarize_pairs(frame, groups=groups))
            parts += [f.result() for f in done]  # the previous epoch's, made while this one was counted
        parts += [f.result() for f in pending]
        summary = pd.concat(parts, ignore_index=True)
        if summary_path is not None:
            write_pairs_summary(summary, summary_path)
    rows = writer.rows
    log.info("all pairs: %d rows in %.1fs", rows, time.perf_counter() - t0)
    return summary
