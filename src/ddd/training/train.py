"""Train one run (one network of one condition) and record every evaluation image's decision.

One call of :func:`train_run` is one job: it evaluates the whole evaluation split before training
(epoch 0) and after every epoch, writes a checkpoint after every epoch, resumes from the last
valid checkpoint when run again, and at the end writes the decisions file (``ddd.results.decisions``)
and the network at the nominal final epoch E (``recipe["epochs"]``; the base run trains
``extra_epochs`` more, recorded in its decisions only). Seeding follows the authors' scheme
(SPEC section 3): the global seed once, the init seed before building the network,
``order_seed + order_stride * instance + e`` before training epoch ``e`` (fixing sample order,
augmentation and dropout) and ``eval_seed`` before every evaluation.

The loop is device-agnostic and keeps the GPU busy: no ``.item()`` or host copies inside an
epoch; predictions are gathered on the device and copied once per evaluation.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ddd import __version__
from ddd.data.loading import dataset_size, half_split, load_split
from ddd.results.decisions import write_decisions
from ddd.nets.architectures import make_model

log = logging.getLogger(__name__)


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


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def _set_determinism(deterministic: bool) -> None:
    # Only matters on CUDA: the "hardware non-determinism" condition turns these off.
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


@torch.no_grad()
def evaluate(model, batches, *, device, batch_size: int, seed: int, channels_last: bool = False,
             with_probabilities: bool = False):
    """Top-1 predictions (and optionally softmax probabilities) on a whole split, in order.

    Returns
    -------
    predictions int64 (N,), probabilities float16 (N, C) or None.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    preds, probs = [], []
    for x, _ in batches.epoch(batch_size, generator=generator, shuffle=False):
        x = x.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        logits = model(x).float()
        preds.append(logits.argmax(1))
        if with_probabilities:
            probs.append(logits.softmax(1).half())
    model.train()
    p = torch.cat(preds).cpu().numpy()
    return p, (torch.cat(probs).cpu().numpy() if with_probabilities else None)


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
        model(x.to(device, non_blocking=True))
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
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
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


def _atomic_save(obj, path: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _has_nominal(recipe: dict, epoch: int) -> bool:
    """Whether a checkpoint after ``epoch`` must carry the weights of the nominal final epoch E.

    Only runs with extra epochs have them apart from ``model``, and only once past E.
    """
    return recipe["extra_epochs"] > 0 and epoch > recipe["epochs"]


def _load_checkpoint(checkpoint_dir: str, recipe: dict):
    """The newest checkpoint that loads and matches the recipe, or None. Bad ones are logged.

    A checkpoint past the nominal final epoch E of a run with extra epochs must also hold the
    weights at E (``nominal_model``, the same tensors' names and shapes as ``model``).
    """
    for path in sorted(glob.glob(os.path.join(checkpoint_dir, "epoch_*.pt")), reverse=True):
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
            keys = {"epoch", "model", "optimizer", "predictions", "recipe"}
            if not isinstance(ckpt, dict) or not keys <= set(ckpt):
                raise ValueError(f"missing keys {sorted(keys - set(ckpt))}")
            if ckpt["recipe"] != json.dumps(recipe, sort_keys=True):
                log.warning("checkpoint %s belongs to another recipe; ignoring it", path)
                continue
            if len(ckpt["predictions"]) != ckpt["epoch"] + 1:
                raise ValueError("predictions do not match the epoch")
            if _has_nominal(recipe, ckpt["epoch"]):
                nominal = ckpt.get("nominal_model")
                if not isinstance(nominal, dict):
                    raise ValueError(f"no weights of the nominal final epoch {recipe['epochs']}")
                shapes = {k: tuple(v.shape) for k, v in ckpt["model"].items()}
                if {k: tuple(getattr(v, "shape", ())) for k, v in nominal.items()} != shapes:
                    raise ValueError(f"the weights of epoch {recipe['epochs']} do not match the model's")
            return ckpt
        except Exception as err:  # a corrupt or partial file: fall back to the previous one
            log.warning("checkpoint %s is unusable (%s); trying the previous one", path, err)
    return None


def train_run(recipe: dict, dataset: dict, *, output: str, network_output: str, checkpoint_dir: str,
              device: str = "auto", threads: int = 1, eval_batch_size: int = 1000,
              keep_checkpoints: int = 2, progress: bool = True, stop_after: int | None = None) -> None:
    """Train one network and write its decisions.

    Parameters
    ----------
    recipe : a resolved recipe (``ddd.experiment.recipes.resolve``).
    dataset : the dataset's config block (``name`` plus its parameters).
    output : path of the decisions HDF5 (predictions of shape (E + extra + 1, N)).
    network_output : path of the network's ``state_dict`` (torch.save) at the nominal final epoch
        E = ``recipe["epochs"]``, the state every analysis reads as the decision maker's final one.
        With ``extra_epochs`` > 0 (the base run) training goes on to E + extra for the decisions
        (the plus-epoch conditions read the base's decisions at E + 1, E + 10), but the weights
        written are those after epoch E: a copy is kept in memory when the loop passes E, saved
        in every later checkpoint (``nominal_model``) so a resumed run still writes them, and
        written at the end. With ``extra_epochs`` == 0 the final weights are those of E (no copy).
    checkpoint_dir : where per-epoch checkpoints go; removed after success.
    device : ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``.
    threads : CPU threads (intra-op) and DataLoader workers.
    stop_after : stop (without writing outputs) after this many epochs; for tests of resumption.
    """
    start_time = time.time()
    dev = resolve_device(device)
    torch.set_num_threads(max(1, threads))
    _set_determinism(recipe["deterministic"])
    cuda = dev.type == "cuda"
    total_epochs = recipe["epochs"] + recipe["extra_epochs"]
    if recipe["epochs"] < 1 or recipe["batch_size"] < recipe["batch_splits"]:
        raise ValueError("recipe needs epochs >= 1 and batch_size >= batch_splits")

    workers = max(0, threads - 1)  # DataLoader workers for file datasets; the main thread trains
    val, val_meta = load_split(dataset, "val", num_workers=workers, pin_memory=cuda)
    subset = None
    if recipe["train_subset"] != "all":  # "half1" / "half2": disjoint halves, seeded
        subset = half_split(dataset_size(dataset, "train"), int(recipe["train_subset"][-1]),
                            seed=recipe["subset_seed"])
    train, _ = load_split(dataset, "train", subset=subset, num_workers=workers, pin_memory=cuda)
    n_classes = len(val_meta.class_names)

    torch.manual_seed(recipe["global_seed"])
    torch.manual_seed(recipe["init_seed"])
    model = make_model(recipe["arch"], n_classes, **recipe["arch_options"]).to(dev)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = recipe["bn_momentum"]
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
                                nesterov=recipe["nesterov"], weight_decay=recipe["weight_decay"])

    os.makedirs(checkpoint_dir, exist_ok=True)
    nominal = None  # with extra epochs: the state_dict after epoch E (on the CPU), once past it
    ckpt = _load_checkpoint(checkpoint_dir, recipe)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        predictions = list(ckpt["predictions"])
        first = ckpt["epoch"] + 1
        if _has_nominal(recipe, ckpt["epoch"]):
            nominal = ckpt["nominal_model"]
        elif recipe["extra_epochs"] > 0 and ckpt["epoch"] == recipe["epochs"]:
            nominal = ckpt["model"]  # loaded from disk: not shared with the model's tensors
        log.info("resuming from checkpoint at epoch %d of %d", ckpt["epoch"], total_epochs)
    else:
        log.info("no usable checkpoint in %s; training from scratch", checkpoint_dir)
        p0, _ = evaluate(model, val, device=dev, batch_size=eval_batch_size,
                         seed=recipe["eval_seed"], channels_last=cuda)
        predictions, first = [p0], 1
        log.info("epoch 0: accuracy %.4f", np.mean(p0 == val_meta.targets))

    for epoch in range(first, total_epochs + 1):
        epoch_start = time.time()
        seed = recipe["order_seed"] + recipe["order_stride"] * recipe["instance"] + epoch - 1
        torch.manual_seed(seed)
        loss_mean = train_epoch(model, optimizer, train, recipe, epoch=epoch, device=dev,
                                generator=torch.Generator().manual_seed(seed), progress=progress)
        final = epoch == total_epochs
        precise_bn(model, train, device=dev, n_images=recipe["precise_bn"], batch_size=recipe["batch_size"],
                   seed=recipe["eval_seed"] + epoch)
        p, probs = evaluate(model, val, device=dev, batch_size=eval_batch_size, seed=recipe["eval_seed"],
                            channels_last=cuda, with_probabilities=final)
        predictions.append(p)
        log.info("epoch %d: loss %.4f accuracy %.4f lr %.5f (%.1f s)", epoch,
                 loss_mean.item(), np.mean(p == val_meta.targets),
                 lr_at(recipe, epoch), time.time() - epoch_start)
        if epoch == recipe["epochs"] and not final:  # extra epochs follow: keep the weights of E
            nominal = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if not final:
            state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "predictions": np.stack(predictions), "recipe": json.dumps(recipe, sort_keys=True)}
            if _has_nominal(recipe, epoch):
                state["nominal_model"] = nominal
            _atomic_save(state, os.path.join(checkpoint_dir, f"epoch_{epoch:04d}.pt"))
            for old in sorted(glob.glob(os.path.join(checkpoint_dir, "epoch_*.pt")))[:-keep_checkpoints]:
                os.remove(old)
        if stop_after is not None and epoch >= stop_after and not final:
            log.info("stopping after epoch %d as asked", epoch)
            return

    os.makedirs(os.path.dirname(os.path.abspath(network_output)), exist_ok=True)
    # the weights at E: the copy kept when the loop (or a resumed checkpoint) passed E, if any
    _atomic_save(model.state_dict() if nominal is None else nominal, network_output)
    write_decisions(
        output, np.stack(predictions), val_meta.targets, val_meta.image_ids,
        epochs=np.arange(total_epochs + 1), recipe=recipe, probabilities=probs,
        attrs={"kind": "trained", "class_names": list(val_meta.class_names),
               "seeds": {k: recipe[k] for k in ("global_seed", "init_seed", "order_seed", "eval_seed")},
               "dataset": dataset, "dataset_fingerprint": val_meta.fingerprint,
               "torch_version": torch.__version__, "ddd_version": __version__,
               "device": str(dev) if not cuda else torch.cuda.get_device_name(dev),
               "platform": platform.platform(), "wall_time_s": time.time() - start_time,
               "deterministic_hardware": (not cuda) or recipe["deterministic"]})
    for path in glob.glob(os.path.join(checkpoint_dir, "epoch_*.pt")):
        os.remove(path)
    try:
        os.rmdir(checkpoint_dir)
    except OSError:
        pass
    log.info("done: %s (%.1f s)", output, time.time() - start_time)
