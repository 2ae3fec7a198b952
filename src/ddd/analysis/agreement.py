"""Agreement beyond κ: chance-adjusted agreement on the predicted classes (CAPA, discrete) and
decision-margin consistency, for one pair or for all pairs at once.

κ (:mod:`ddd.analysis.kappa`) compares correctness only: two networks wrong on an image agree, whether
both answer "cat" or one "cat" and the other "truck". Two measures look further.

**CAPA, discrete** (Goel et al. 2025, "Great Models Think Alike and this Undermines AI Oversight",
arXiv:2502.04313: κ_p with one-hot outputs, as their package ``lm-sim`` computes it with
``prob=False``). For decision makers a and b over the same n images with C classes:

    c_obs = (1/n) Σ_x [ŷ_a(x) = ŷ_b(x)]              share of images with the same top-1 class
    c_exp = p_a p_b + (1 − p_a)(1 − p_b) / (C − 1)     chance agreement
    CAPA  = (c_obs − c_exp) / (1 − c_exp)

with p_a, p_b the accuracies. The chance term is the agreement of two independent decision makers
with these accuracies whose errors spread evenly over the C − 1 wrong classes: both right, or both
wrong and on the same wrong class. Two networks wrong in the same way raise c_obs, two wrong
differently do not. With C = 2 there is one wrong class and CAPA equals κ. A no-answer (-1,
model-vs-human's ``na``) is wrong and agrees with nothing, another no-answer included. CAPA is NaN
for n = 0, for an unknown C (no ``class_names``), and where c_exp = 1 (both 100 % right, or C = 2
and both 100 % wrong); exactly 0 where exactly one of the two is 100 % right (as κ).

``same_wrong`` is the descriptive part: among the images both got wrong, the share on which they
chose the same class (NaN where none).

**Decision-margin consistency** (Alvarez & Konkle 2024, "Decision-margin consistency: a principled
metric for human and machine performance alignment", UniReps workshop; their code,
harvard-visionlab/decision-margin-consistency). A network's decision margin on an image is its
true-class logit minus its largest other logit (> 0 exactly where it is right; their code divides by
√2, which no correlation sees); the consistency of two networks is the Pearson correlation of their
margins over the images. Here over the images where both margins are finite; NaN where either
decision maker stores no margins (decisions files before format version 3, imported decisions),
fewer than 2 images have both, or either's margins are constant (to float32 precision) on them.

All pairs at once (the engine, :mod:`ddd.analysis.engine`, one epoch at a time):

- :func:`same_wrong_counts`: for every pair, the images both got wrong with the same class. Each
  wrong decision is a key (image, class). Per block of images every decision writes its position
  into its key's slot of a table; where another decision's position stands after all writes, the
  key is shared (one pass, O(M N), no sort), and keys only one decision maker chose drop out. A
  key chosen by k decision makers adds 1 to its k(k − 1)/2 pairs: for k = 2 the pair is read off
  directly, for k <= max(2, M / 32) the members are enumerated (numpy), for larger k through one
  float32 product of the one-hot matrix of those keys (BLAS, M² per key; an image has fewer than
  32 such keys, and fewer than C). The cost is O(M N) plus M² per widely shared key: far below
  κ's product O(M² N) when wrong answers scatter (ImageNet's 1,000 classes), up to about
  min(C − 1, 32) κ products when many decision makers spread their wrong answers evenly over a
  few classes. Memory is bounded by blocks of 2^22 decisions and 64 MiB products.
- :func:`margin_moments`: per pair the sums n, Σx, Σx², Σxy over the images where both have margins,
  with one float32 product per block of images (four when some decision maker has margins on only
  some images); additive over disjoint image sets, each row shifted by its own mean first (the
  correlation does not change; the sums do not cancel).

Python API::

    from ddd.analysis.agreement import capa, same_wrong_share, margin_consistency, agreement_matrices
    capa(pred_a, pred_b, targets, n_classes=10)          # float
    margin_consistency(margins_a, margins_b)             # Pearson r, float
    agreement_matrices(predictions, targets, n_classes=10, margins=margins)   # dict of (M, M)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ddd.results.decisions import NO_ANSWER
from ddd.results.pairs import AGREEMENT_PAIR_COLUMNS as AGREEMENT_COLUMNS

__all__ = ["AGREEMENT_COLUMNS", "MarginMoments", "agreement_matrices", "agreement_table", "capa",
           "decision_margins", "margin_consistency", "margin_moments", "margin_table", "same_wrong_counts",
           "same_wrong_share"]

#: Columns :func:`agreement_table` and :func:`margin_table` add to a pair table (``AGREEMENT_COLUMNS``,
#: owned by :mod:`ddd.results.pairs`).

_BLOCK = 2 ** 22          # decisions per block of images (keys, counts)
_PRODUCT = 2 ** 24        # float32 entries of one one-hot or margin block (64 MiB)
_REL_VAR = 1e-7           # variance below this share of the sum of squares: constant (float32 precision)


# -- one pair ------------------------------------------------------------------------------------------------------

def _pair(pred_a, pred_b, targets):
    a, b, t = (np.asarray(x) for x in (pred_a, pred_b, targets))
    if a.ndim != 1 or a.shape != b.shape or a.shape != t.shape:
        raise ValueError(f"pred_a, pred_b and targets must be 1-D of the same length, got shapes {a.shape}, "
                         f"{b.shape}, {t.shape}")
    for x, name in ((a, "pred_a"), (b, "pred_b"), (t, "targets")):
        if not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"{name} must be integer class indices, got {x.dtype}")
    return a, b, t


def capa(pred_a, pred_b, targets, *, n_classes: int | None) -> float:
    """Discrete CAPA of two decision makers' top-1 predictions (module docstring).

    Parameters
    ----------
    pred_a, pred_b : int (N,) predicted classes (-1: no answer)
    targets : int (N,) true classes
    n_classes : C, the number of classes (None: unknown, NaN)
    """
    a, b, t = _pair(pred_a, pred_b, targets)
    ra, rb = a == t, b == t
    same_wrong = int(np.sum((a == b) & ~ra & ~rb & (a != NO_ANSWER)))
    return float(agreement_table(a.size, int(ra.sum()), int(rb.sum()), int(np.sum(ra & rb)), same_wrong,
                                 n_classes=n_classes)["capa"])


def same_wrong_share(pred_a, pred_b, targets) -> float:
    """Among the images both got wrong, the share on which they chose the same class (NaN if none)."""
    a, b, t = _pair(pred_a, pred_b, targets)
    both_wrong = (a != t) & (b != t)
    if not both_wrong.any():
        return float("nan")
    return float(np.mean((a == b)[both_wrong] & (a[both_wrong] != NO_ANSWER)))


def margin_consistency(margins_a, margins_b) -> float:
    """Decision-margin consistency: Pearson r of two decision makers' margins over the images where
    both are finite (NaN: fewer than 2 such images, or constant margins)."""
    x, y = np.asarray(margins_a, dtype=np.float64), np.asarray(margins_b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"margins_a and margins_b must be 1-D of the same length, got {x.shape} and {y.shape}")
    both = np.isfinite(x) & np.isfinite(y)
    x, y = x[both], y[both]
    if x.size < 2:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    vx, vy = float(x @ x), float(y @ y)
    if vx <= 0 or vy <= 0:
        return float("nan")
    return float(np.clip((x @ y) / np.sqrt(vx * vy), -1.0, 1.0))


def decision_margins(logits, targets) -> np.ndarray:
    """True-class logit minus the largest other logit, float64 (N,), from logits (N, C >= 2) and
    targets (N,) (what training and inference store, there computed on the device)."""
    z, t = np.asarray(logits, dtype=np.float64), np.asarray(targets)
    if z.ndim != 2 or z.shape[1] < 2 or t.shape != (z.shape[0],):
        raise ValueError(f"logits must be (N, C >= 2) and targets (N,), got {z.shape} and {t.shape}")
    rows = np.arange(z.shape[0])
    true = z[rows, t]
    other = z.copy()
    other[rows, t] = -np.inf
    return true - other.max(axis=1)


# -- from counts ----------------------------------------------------------------------------------------------------

def agreement_table(n, k_a, k_b, k_ab, same_wrong, *, n_classes: int | None) -> dict:
    """CAPA's columns from exact counts, elementwise with broadcasting.

    Parameters
    ----------
    n : images; k_a, k_b, k_ab : images right for a, for b, for both
    same_wrong : images both got wrong with the same class (no-answers never count)
    n_classes : C (None, or < 2: ``capa`` and ``capa_c_exp`` are NaN)

    Returns
    -------
    dict of float64 arrays ``agree_obs`` (c_obs), ``capa_c_exp`` (c_exp), ``capa``, ``same_wrong``
    (share among the images both got wrong)
    """
    n, k_a, k_b, k_ab, sw = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64)
                                                   for v in (n, k_a, k_b, k_ab, same_wrong)))
    both_wrong = n - k_a - k_b + k_ab
    if np.any((k_ab < 0) | (k_ab > np.minimum(k_a, k_b)) | (both_wrong < 0) | (sw < 0) | (sw > both_wrong)):
        raise ValueError("impossible counts: need 0 <= k_ab <= min(k_a, k_b), k_a + k_b - k_ab <= n and "
                         "0 <= same_wrong <= n - k_a - k_b + k_ab")
    ok = n > 0
    nn = np.where(ok, n, 1).astype(np.float64)
    agree = np.where(ok, (k_ab + sw) / nn, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(both_wrong > 0, sw / np.where(both_wrong > 0, both_wrong, 1), np.nan)
    nan = np.full(n.shape, np.nan)
    if n_classes is None or n_classes < 2:
        return {"agree_obs": agree, "capa_c_exp": nan, "capa": nan.copy(), "same_wrong": share}
    wrong_ways = float(n_classes - 1)
    # c_exp from the integer counts: (k_a k_b (C-1) + (n-k_a)(n-k_b)) / (n^2 (C-1))
    c_exp = np.where(ok, (k_a * k_b * wrong_ways + (n - k_a) * (n - k_b)) / (nn * nn * wrong_ways), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (agree - c_exp) / (1.0 - c_exp)
    perfect_a, perfect_b = ok & (k_a == n), ok & (k_b == n)
    value = np.where(perfect_a != perfect_b, 0.0, value)  # one 100 % right: agreement is the other's accuracy
    value = np.where(~ok | (c_exp >= 1.0), np.nan, value)
    return {"agree_obs": agree, "capa_c_exp": c_exp, "capa": value, "same_wrong": share}


class MarginMoments(NamedTuple):
    """Per pair (i, j), over the images where both have finite margins: their number ``n`` and the sums
    ``sx`` (Σ x_i), ``sxx`` (Σ x_i²), ``sxy`` (Σ x_i x_j), of margins shifted by each row's own
    constant; ``sx[j, i]`` is Σ x_j. float64 (M, M) each; additive over disjoint sets of images."""
    n: np.ndarray
    sx: np.ndarray
    sxx: np.ndarray
    sxy: np.ndarray

    def __add__(self, other: "MarginMoments") -> "MarginMoments":
        return MarginMoments(*(a + b for a, b in zip(self, other)))


def margin_table(moments: MarginMoments, i, j) -> dict:
    """``margin_n`` (images where both have margins) and ``margin_consistency`` (Pearson r) of pairs
    (i[k], j[k]) from :class:`MarginMoments`; NaN for fewer than 2 images or constant margins."""
    n = moments.n[i, j]
    sx, sy = moments.sx[i, j], moments.sx[j, i]
    sxx, syy, sxy = moments.sxx[i, j], moments.sxx[j, i], moments.sxy[i, j]
    ok = n >= 2
    nn = np.where(ok, n, 1.0)
    vx, vy = sxx - sx * sx / nn, syy - sy * sy / nn
    ok &= (vx > _REL_VAR * sxx) & (vy > _REL_VAR * syy)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (sxy - sx * sy / nn) / np.sqrt(np.where(ok, vx * vy, 1.0))
    return {"margin_n": np.rint(n).astype(np.int64), "margin_consistency": np.where(ok, np.clip(r, -1.0, 1.0), np.nan)}


# -- all pairs ------------------------------------------------------------------------------------------------------

def _masks(masks, n: int) -> list:
    out = []
    for mask in masks:
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (n,) or mask.dtype != bool:
                raise ValueError(f"masks must be None or bool ({n},), got {mask.dtype} shape {mask.shape}")
        out.append(mask)
    return out


def same_wrong_counts(predictions, correct, masks=(None,), *, n_keys: int | None = None) -> list:
    """For every pair, the images both got wrong with the same predicted class (module docstring).

    Parameters
    ----------
    predictions : int (M, N) top-1 classes (-1: no answer, which agrees with nothing)
    correct : bool (M, N) correctness (each decision maker's own targets)
    masks : sequence of None (all images) or bool (N,): count only these images, one result each
    n_keys : an upper bound on the class indices + 1 (default: the largest prediction + 1)

    Returns
    -------
    list of int64 (M, M), one per mask, symmetric; the diagonal is each one's number of wrong answers
    (no-answers left out)
    """
    pred, corr = np.asarray(predictions), np.asarray(correct)
    if pred.ndim != 2 or corr.shape != pred.shape or corr.dtype != bool or not np.issubdtype(pred.dtype, np.integer):
        raise ValueError(f"predictions must be int (M, N) and correct bool of the same shape, got {pred.dtype} "
                         f"{pred.shape} and {corr.dtype} {corr.shape}")
    m, n = pred.shape
    masks = _masks(masks, n)
    upper = [np.zeros(m * m, np.int64) for _ in masks]    # enumerated pairs (either order), flat
    dense = [np.zeros((m, m), np.float64) for _ in masks]  # one-hot products of widely shared keys
    diag = [np.zeros(m, np.int64) for _ in masks]
    if m == 0 or n == 0:
        return [np.zeros((m, m), np.int64) for _ in masks]
    keys = int(n_keys) if n_keys is not None else int(max(pred.max(initial=0), 0)) + 1
    width = max(1, min(n, _BLOCK // max(m, 1)))
    width = max(1, min(width, _BLOCK // keys))  # a slot per (image, class) of the block: <= _BLOCK slots
    width = max(1, min(width, _PRODUCT // max(m, 1) // 32))  # an image has < 32 widely shared keys
    table = np.empty(width * keys, np.int32) if width * keys <= _BLOCK else None  # never needs clearing
    small = max(2, m // 32)  # keys chosen by at most this many decision makers: pairs enumerated
    codes, images = [], []
    pending = 0

    def flush():
        nonlocal codes, images, pending
        if codes:
            c, im = np.concatenate(codes), np.concatenate(images)
            for k, mask in enumerate(masks):
                upper[k] += np.bincount(c if mask is None else c[mask[im]], minlength=m * m)
        codes, images, pending = [], [], 0

    answers_all = pred.min(initial=0) >= 0  # no no-answers: no test for them
    wide_cols, wide_makers, wide_images, wide_count = [], [], [], 0
    wide_step = max(1, _PRODUCT // m)  # one-hot columns per product (<= 64 MiB; a block's fit)

    def multiply_wide():
        nonlocal wide_cols, wide_makers, wide_images, wide_count
        if wide_count:
            onehot = np.zeros((m, wide_count), np.float32)
            onehot[np.concatenate(wide_makers), np.concatenate(wide_cols)] = 1.0
            where = np.concatenate(wide_images)
            for kk, mask in enumerate(masks):
                part = onehot if mask is None else onehot[:, mask[where]]
                if part.shape[1]:
                    dense[kk] += part @ part.T
        wide_cols, wide_makers, wide_images, wide_count = [], [], [], 0

    def add_pairs(first, second, image):
        nonlocal pending
        codes.append(first * m + second)
        images.append(image)
        pending += first.size
        if pending >= _BLOCK:
            flush()

    for start in range(0, n, width):
        p = pred[:, start:start + width]
        wrong = ~corr[:, start:start + width]
        if not answers_all:
            wrong &= p != NO_ANSWER
        for k, mask in enumerate(masks):
            diag[k] += (wrong if mask is None else wrong[:, mask[start:start + width]]).sum(axis=1)
        flat = np.flatnonzero(wrong.T)  # the wrong decisions image by image (so the slots below are
        if flat.size < 2:               # visited in order), decision makers ascending within an image
            continue
        cls = p.T.ravel()[flat].astype(np.int64)
        if cls.max() >= keys:
            raise ValueError(f"a prediction ({int(cls.max())}) is not below n_keys={keys}")
        key = (flat // m) * keys + cls
        if table is not None:  # each decision writes its position into its key's slot; one per key wins
            pos = np.arange(flat.size, dtype=np.int32)
            table[key] = pos
            winner = table[key]
            lost = np.flatnonzero(winner != pos)  # a key of k decisions has k - 1 losers
            winner = winner[lost]
        else:  # an image has more classes than a block holds slots: group the keys by sorting
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            winner = first[inverse.ravel()]
            lost = np.flatnonzero(winner != np.arange(flat.size))
            winner = winner[lost]
        if not lost.size:
            continue
        # the shared keys, numbered 0..U-1 in the order of their winning decision
        lead = np.zeros(flat.size, bool)
        lead[winner] = True
        leaders = np.flatnonzero(lead)
        col = (np.cumsum(lead, dtype=np.int64) - 1)[winner]  # key of each losing decision
        size = np.bincount(col, minlength=leaders.size) + 1  # decision makers per shared key
        k_lost = size[col]
        two = k_lost == 2  # the most common: the pair is the winner and the one loser
        if two.any():
            add_pairs(flat[winner[two]] % m, flat[lost[two]] % m, flat[lost[two]] // m + start)
        few_keys = (size > 2) & (size <= small)
        if few_keys.any():  # keys of a few decision makers: members side by side, every pair enumerated
            sel = few_keys[col]
            k_of = np.concatenate([size[few_keys], k_lost[sel]])
            key_of = np.concatenate([np.flatnonzero(few_keys), col[sel]])
            entry = np.concatenate([leaders[few_keys], lost[sel]])
            order = np.lexsort((key_of, k_of))
            k_of, entry = k_of[order], entry[order]
            bounds = np.flatnonzero(np.diff(k_of)) + 1
            for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, k_of.size]):
                k = int(k_of[lo])
                members = (flat[entry[lo:hi]] % m).reshape(-1, k)  # one row per key
                first_image = flat[entry[lo:hi:k]] // m + start
                ii, jj = np.triu_indices(k, 1)
                step = max(1, _BLOCK // len(ii))
                for s0 in range(0, len(members), step):
                    block = members[s0:s0 + step]
                    add_pairs((block[:, ii]).ravel(), (block[:, jj]).ravel(),
                              np.repeat(first_image[s0:s0 + step], len(ii)))
        wide_keys = size > small
        if wide_keys.any():  # widely shared keys: columns of a one-hot (M, keys) matrix, multiplied in
            wide = np.flatnonzero(wide_keys)  # batches (few, large products: BLAS is fast on those)
            if wide_count + wide.size > wide_step:
                multiply_wide()
            renumber = np.full(size.size, -1, np.int64)
            renumber[wide] = np.arange(wide.size) + wide_count
            sel = wide_keys[col]
            wide_cols.append(np.concatenate([renumber[wide], renumber[col[sel]]]))
            wide_makers.append(flat[np.concatenate([leaders[wide], lost[sel]])] % m)
            wide_images.append(flat[leaders[wide]] // m + start)
            wide_count += wide.size
    multiply_wide()
    flush()
    out = []
    for u, d, g in zip(upper, dense, diag):
        u = u.reshape(m, m)
        total = u + u.T + np.rint(d).astype(np.int64)
        np.fill_diagonal(total, g)
        out.append(total)
    return out


def margin_moments(margins, masks=(None,)) -> list:
    """:class:`MarginMoments` of every pair, one per mask (None: all images; bool (N,)).

    ``margins``: float (M, N), NaN where a decision maker has no margin (a whole row for decision
    makers without margins; infinite values are refused). Rows are shifted by a constant near their
    mean first (the correlation does not change; the sums do not cancel). Every decision maker with
    margins on all images or on none (the usual case): one float32 product per block of images, of
    the shifted margins with a row of ones added (so that it gives the sums too); else four.
    """
    x = np.asarray(margins)
    if x.ndim != 2 or x.dtype.kind != "f":
        raise ValueError(f"margins must be float (M, N), got {x.dtype} shape {x.shape}")
    m, n = x.shape
    masks = _masks(masks, n)
    step = max(1, _PRODUCT // max(m, 1))
    missing = np.isnan(x).sum(axis=1)  # the reader gives NaN for no margin
    if not np.isfinite(x[missing == 0]).all():
        raise ValueError("margins must be finite or NaN")
    full, partial = missing == 0, (missing > 0) & (missing < n)
    # each row's shift: the mean of its first (up to) 4,096 finite margins; any constant would do
    head = x[:, :4096].astype(np.float32)
    seen = np.isfinite(head)
    shift = (np.where(seen, head, 0).sum(axis=1) / np.maximum(seen.sum(axis=1), 1))[:, None]
    out = []
    for mask in masks:
        cols = None if mask is None else np.flatnonzero(mask)
        size = n if cols is None else cols.size
        if not partial.any():  # every decision maker has margins on all images or on none
            rows = np.flatnonzero(full)
            r = rows.size
            g = np.zeros((r + 1, r + 1))  # Gram matrix of the shifted margins and a row of ones: sums too
            z = np.empty((r + 1, min(step, max(size, 1))), np.float32)
            for b in range(0, size, step):
                idx = slice(b, b + step) if cols is None else cols[b:b + step]
                block = x[:, idx]
                width = block.shape[1]
                np.subtract(block if r == m else block[rows], shift[rows], out=z[:r, :width], casting="unsafe")
                z[r, :width] = 1.0
                g += z[:, :width] @ z[:, :width].T
            f = full.astype(np.float64)
            mom = MarginMoments(np.outer(f, f) * size, np.zeros((m, m)), np.zeros((m, m)), np.zeros((m, m)))
            mom.sx[np.ix_(rows, rows)] = g[:r, r][:, None]
            mom.sxx[np.ix_(rows, rows)] = np.diag(g)[:r, None]
            mom.sxy[np.ix_(rows, rows)] = g[:r, :r]
        else:  # some decision maker lacks margins on some images: pairwise-complete sums, four products
            mom = MarginMoments(*(np.zeros((m, m)) for _ in range(4)))
            for b in range(0, size, step):
                idx = slice(b, b + step) if cols is None else cols[b:b + step]
                block = x[:, idx].astype(np.float32)
                finite = np.isfinite(block)
                w = finite.astype(np.float32)
                z = np.where(finite, block - shift, np.float32(0)).astype(np.float32)
                mom = mom + MarginMoments(w @ w.T, z @ w.T, (z * z) @ w.T, z @ z.T)
        out.append(mom)
    return out


def agreement_matrices(predictions, targets, *, n_classes: int | None, margins=None) -> dict:
    """All pairs of M decision makers in memory: ``{"agree_obs", "capa_c_exp", "capa", "same_wrong",
    "margin_n", "margin_consistency": float (M, M)}`` (margins optional, float (M, N), NaN = none).

    ``predictions``: int (M, N); ``targets``: int (N,). The diagonal compares a decision maker with itself.
    """
    pred = np.asarray(predictions)
    correct = pred == np.asarray(targets)[None, :]
    m, n = pred.shape
    both = correct.astype(np.int64) @ correct.T.astype(np.int64)
    k = np.diag(both)
    same = same_wrong_counts(pred, correct)[0]
    out = agreement_table(n, k[:, None], k[None, :], both, same, n_classes=n_classes)
    if margins is None:
        margins = np.full(pred.shape, np.nan)
    i, j = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    out.update(margin_table(margin_moments(margins)[0], i, j))
    return out
