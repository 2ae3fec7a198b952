"""The training loop's parts: the learning-rate schedule, one training epoch, evaluation and
BatchNorm re-estimation (docs/reproduction.md#training-recipe-and-seeds).

Device-agnostic and keeping the GPU busy: no ``.item()`` or host copies inside an epoch;
predictions (and decision margins) are gathered on the device and copied once per evaluation.
Batches go in channels-last memory layout on every device, as the model's weights
(:func:`ddd.training.run._build`): on a CPU that makes the small ResNets' steps 1.2-1.4x faster
(config/README.md#speed-and-numerics-of-the-default).
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ddd.nets.layers import channels_last as to_channels_last


def lr_at(recipe: dict, t: float) -> float:
    """Learning rate at training time ``t`` in epochs (fractional), for the recipe's schedule.

    ``step``: ``lr * gamma ** (number of milestones <= t)``. ``onecycle``: linear warm-up from
    lr/25 over ``warmup_fraction * E`` epochs, then cosine down to ``lr * gamma ** 2`` at E.
    After E (the base run's extra epochs) the rate stays at its final value.
    """
    lr, epochs = recipe["lr"], recipe["epochs"]
    if recipe["schedule"] == "step":
        return lr * recipe["gamma"] ** sum(t >= m for m in recipe["milestones"])
    if recipe["schedule"] == "onecycle":
        final = lr * recipe["gamma"] ** 2
        warm = recipe["warmup_fraction"] * epochs
        if t < warm:
            return lr / 25 + (lr - lr / 25) * t / warm
        frac = min(1.0, (t - warm) / max(epochs - warm, 1e-9))
        return final + (lr - final) * 0.5 * (1 + math.cos(math.pi * frac))
    raise ValueError(f"unknown schedule {recipe['schedule']!r}; allowed: step, onecycle")


def set_determinism(deterministic: bool) -> None:
    """cuDNN's deterministic algorithms on or off (only matters on CUDA: the "hardware
    non-determinism" condition turns them off, and benchmark mode on)."""
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


class Evaluation(NamedTuple):
    """One evaluation of a whole split (:func:`evaluate`), images in order."""
    predictions: np.ndarray          #: int64 (N,) top-1 classes
    probabilities: np.ndarray | None  #: float16 (N, C) softmax, or None
    margins: np.ndarray | None       #: float16 (N,) decision margins, or None


def decision_margins(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """True-class logit minus the largest other logit, per row (float32, on the logits' device;
    > 0 exactly where the top-1 prediction is right, up to ties). Needs C >= 2."""
    true = logits.gather(1, targets[:, None])[:, 0]
    return true - logits.scatter(1, targets[:, None], float("-inf")).amax(1)


@torch.no_grad()
def evaluate(model, batches, *, device, batch_size: int, seed: int, channels_last: bool = False,
             with_probabilities: bool = False, with_margins: bool = False) -> Evaluation:
    """Top-1 predictions (and optionally softmax probabilities and decision margins) on a whole split, in order.

    Margins (:func:`decision_margins`) are the per-image signal of decision-margin consistency
    (:mod:`ddd.analysis.agreement`); computed on the device from the logits already there (one
    scatter and one max per batch) and copied with the predictions, once per evaluation.

    Returns
    -------
    :class:`Evaluation`: predictions int64 (N,), probabilities float16 (N, C) or None, margins float16 (N,) or None.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    preds, probs, margins = [], [], []
    for x, y in batches.epoch(batch_size, generator=generator, shuffle=False):
        x = x.to(device, non_blocking=True)
        if channels_last:
            x = to_channels_last(x)
        logits = model(x).float()
        preds.append(logits.argmax(1))
        if with_probabilities:
            probs.append(logits.softmax(1).half())
        if with_margins:
            margins.append(decision_margins(logits, y.to(device, non_blocking=True).long()).clamp(-65504, 65504).half())
    model.train()
    p = torch.cat(preds).cpu().numpy()
    return Evaluation(p, torch.cat(probs).cpu().numpy() if with_probabilities else None,
                      torch.cat(margins).cpu().numpy() if with_margins else None)


@torch.no_grad()
def precise_bn(model, batches, *, device, n_images: int, batch_size: int, seed: int) -> None:
    """Re-estimate every BatchNorm layer's running statistics as the plain average over the first
    ``n_images`` training images of a seeded order (train mode, no gradients, augmentation as in
    training), instead of the exponential average left by the last steps. ``n_images <= 0`` or no
    BatchNorm: nothing. The layers' momenta are restored afterwards.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if n_images <= 0 or not bns:
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    seen = 0
    for x, _ in batches.epoch(batch_size, generator=torch.Generator().manual_seed(seed), shuffle=True):
        model(to_channels_last(x.to(device, non_blocking=True)))
        seen += len(x)
        if seen >= n_images:
            break
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum


def train_epoch(model, optimizer, batches, recipe: dict, *, epoch: int, device, generator=None,
                progress: bool = False) -> torch.Tensor:
    """One training epoch (1-based ``epoch``) over ``batches``; returns the mean loss (a tensor).

    Each batch is fed as ``recipe["batch_splits"]`` chunks with one optimiser step each; the LR
    follows :func:`lr_at` per step. No host synchronisation inside the epoch.
    """
    cuda = torch.device(device).type == "cuda"
    n_batches = math.ceil(len(batches) / recipe["batch_size"])
    steps_per_epoch = n_batches * recipe["batch_splits"]
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and recipe["bf16"])
    loss_sum, step = torch.zeros((), device=device), 0
    bar = tqdm(batches.epoch(recipe["batch_size"], generator=generator, shuffle=True), total=n_batches,
               disable=not progress, desc=f"epoch {epoch}", file=sys.stderr, mininterval=5)
    for x, y in bar:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        x = to_channels_last(x)  # as the model's weights (ddd.training.run._build)
        for xc, yc in zip(x.chunk(recipe["batch_splits"]), y.chunk(recipe["batch_splits"])):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(recipe, epoch - 1 + step / steps_per_epoch)
            with autocast:
                loss = F.cross_entropy(model(xc), yc)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            step += 1
    return loss_sum / max(step, 1)
