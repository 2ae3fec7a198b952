"""Train one run (one network of one condition) and record every evaluation image's decision.

One call of :func:`train_run` is one job: it evaluates the whole evaluation split before training
(epoch 0) and after every epoch (top-1 predictions and decision margins, the true-class logit minus
the largest other logit, of every image), writes a checkpoint after every epoch, resumes from the last
valid (verified, same recipe) checkpoint when run again (:mod:`ddd.training.checkpoints`), holds
the checkpoint folder's lock throughout (a second trainer on it refuses), and at the end writes the
decisions file (``ddd.results.decisions``) and the network at the nominal final epoch E
(``recipe["epochs"]``; the base run trains ``extra_epochs`` more, recorded in its decisions only).
Seeding follows the authors' scheme (docs/reproduction.md#training-recipe-and-seeds): the
global seed once, the init seed before building the network, ``order_seed + order_stride *
instance + e`` before training epoch ``e`` (fixing sample order, augmentation and dropout) and
``eval_seed`` before every evaluation. The loop itself is :mod:`ddd.training.loop`.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import dataclass

import numpy as np
import torch

from ddd import __version__
from ddd.data.loading import EvalSet, dataset_size, half_split, load_split
from ddd.nets import make_model
from ddd.nets.device import resolve_device
from ddd.results.decisions import write_decisions
from ddd.training.checkpoints import (atomic_save, folder_lock, has_nominal, load_checkpoint,
                                      remove_checkpoints, save_checkpoint)
from ddd.training.loop import evaluate, lr_at, precise_bn, set_determinism, train_epoch

log = logging.getLogger(__name__)


@dataclass
class _Job:
    """What every step of one run needs: the recipe, the device and the data."""

    recipe: dict
    dev: torch.device
    train: object
    val: object
    val_meta: EvalSet
    eval_batch_size: int
    progress: bool
    margins: bool = True

    @property
    def cuda(self) -> bool:
        return self.dev.type == "cuda"

    @property
    def total_epochs(self) -> int:
        return self.recipe["epochs"] + self.recipe["extra_epochs"]

    def evaluate(self, model, *, with_probabilities: bool = False):
        return evaluate(model, self.val, device=self.dev, batch_size=self.eval_batch_size,
                        seed=self.recipe["eval_seed"], channels_last=True, with_probabilities=with_probabilities,
                        with_margins=self.margins)


def _load_data(recipe: dict, dataset: dict, *, threads: int, cuda: bool):
    """``(train batches, val batches, val EvalSet)``; ``train_subset`` "half1"/"half2": disjoint seeded halves."""
    workers = max(0, threads - 1)  # DataLoader workers for file datasets; the main thread trains
    val, val_meta = load_split(dataset, "val", num_workers=workers, pin_memory=cuda)
    subset = None
    if recipe["train_subset"] != "all":  # "half1" / "half2": disjoint halves, seeded
        subset = half_split(dataset_size(dataset, "train"), int(recipe["train_subset"][-1]),
                            seed=recipe["subset_seed"])
    train, _ = load_split(dataset, "train", subset=subset, num_workers=workers, pin_memory=cuda)
    return train, val, val_meta


def _build(recipe: dict, n_classes: int, dev: torch.device):
    """The seeded network (BatchNorm momentum set, channels-last weights on every device) and its SGD
    optimiser."""
    torch.manual_seed(recipe["global_seed"])
    torch.manual_seed(recipe["init_seed"])
    model = make_model(recipe["arch"], n_classes, **recipe["arch_options"]).to(dev)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = recipe["bn_momentum"]
    model = model.to(memory_format=torch.channels_last)  # faster on CPUs too (config/README.md)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
                                nesterov=recipe["nesterov"], weight_decay=recipe["weight_decay"])
    return model, optimizer


def _start(job: _Job, model, optimizer, checkpoint_dir: str):
    """Resume from the newest usable checkpoint, or evaluate epoch 0: ``(predictions, margins, first
    epoch, nominal)``, ``nominal`` the state_dict after epoch E (on the CPU) once past it, else None;
    ``margins`` a list parallel to ``predictions`` (None without margins)."""
    recipe = job.recipe
    nominal = None
    ckpt = load_checkpoint(checkpoint_dir, recipe)
    if ckpt is None:
        log.info("no usable checkpoint in %s; training from scratch", checkpoint_dir)
        e0 = job.evaluate(model)
        log.info("epoch 0: accuracy %.4f", np.mean(e0.predictions == job.val_meta.targets))
        return [e0.predictions], ([e0.margins] if job.margins else None), 1, nominal
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    if has_nominal(recipe, ckpt["epoch"]):
        nominal = ckpt["nominal_model"]
    elif recipe["extra_epochs"] > 0 and ckpt["epoch"] == recipe["epochs"]:
        nominal = ckpt["model"]  # loaded from disk: not shared with the model's tensors
    log.info("resuming from checkpoint at epoch %d of %d", ckpt["epoch"], job.total_epochs)
    margins = None
    if job.margins:
        stored = ckpt.get("margins")
        if stored is None:  # a checkpoint written before margins were kept: those epochs have none
            log.warning("checkpoint of epoch %d holds no decision margins (written by an older ddd): epochs "
                        "0..%d get NaN margins", ckpt["epoch"], ckpt["epoch"])
            stored = np.full(np.shape(ckpt["predictions"]), np.nan, dtype=np.float16)
        margins = list(stored)
    return list(ckpt["predictions"]), margins, ckpt["epoch"] + 1, nominal


def _epoch(job: _Job, model, optimizer, epoch: int):
    """Train epoch ``epoch`` (seeded), re-estimate BatchNorm, evaluate: an
    :class:`~ddd.training.loop.Evaluation`, probabilities after the last epoch only."""
    recipe, epoch_start = job.recipe, time.time()
    seed = recipe["order_seed"] + recipe["order_stride"] * recipe["instance"] + epoch - 1
    torch.manual_seed(seed)
    loss_mean = train_epoch(model, optimizer, job.train, recipe, epoch=epoch, device=job.dev,
                            generator=torch.Generator().manual_seed(seed), progress=job.progress)
    precise_bn(model, job.train, device=job.dev, n_images=recipe["precise_bn"], batch_size=recipe["batch_size"],
               seed=recipe["eval_seed"] + epoch)
    ev = job.evaluate(model, with_probabilities=epoch == job.total_epochs)
    log.info("epoch %d: loss %.4f accuracy %.4f lr %.5f (%.1f s)", epoch,
             loss_mean.item(), np.mean(ev.predictions == job.val_meta.targets),
             lr_at(recipe, epoch), time.time() - epoch_start)
    return ev


def _write_outputs(job: _Job, weights: dict, predictions: list, probs, *, dataset: dict, output: str,
                   network_output: str, start_time: float, margins: list | None = None) -> None:
    """The network's ``weights`` (those at E) and the decisions file of every epoch (with the margins)."""
    recipe, meta = job.recipe, job.val_meta
    os.makedirs(os.path.dirname(os.path.abspath(network_output)), exist_ok=True)
    atomic_save(weights, network_output)
    write_decisions(
        output, np.stack(predictions), meta.targets, meta.image_ids,
        epochs=np.arange(job.total_epochs + 1), recipe=recipe, probabilities=probs,
        margins=None if margins is None else np.stack(margins),
        attrs={"kind": "trained", "class_names": list(meta.class_names),
               "seeds": {k: recipe[k] for k in ("global_seed", "init_seed", "order_seed", "eval_seed")},
               "dataset": dataset, "dataset_fingerprint": meta.fingerprint,
               "torch_version": torch.__version__, "ddd_version": __version__,
               "device": str(job.dev) if not job.cuda else torch.cuda.get_device_name(job.dev),
               "platform": platform.platform(), "wall_time_s": time.time() - start_time,
               "deterministic_hardware": (not job.cuda) or recipe["deterministic"]})


def _setup(recipe: dict, dataset: dict, *, device: str, threads: int, eval_batch_size: int,
           progress: bool, margins: bool = True) -> _Job:
    """Threads, cuDNN determinism, the recipe's sanity and the data."""
    dev = resolve_device(device)
    torch.set_num_threads(max(1, threads))
    set_determinism(recipe["deterministic"])
    if recipe["epochs"] < 1 or recipe["batch_size"] < recipe["batch_splits"]:
        raise ValueError("recipe needs epochs >= 1 and batch_size >= batch_splits")
    train, val, val_meta = _load_data(recipe, dataset, threads=threads, cuda=dev.type == "cuda")
    return _Job(recipe, dev, train, val, val_meta, eval_batch_size, progress, margins)


def train_run(recipe: dict, dataset: dict, *, output: str, network_output: str, checkpoint_dir: str,
              device: str = "auto", threads: int = 1, eval_batch_size: int = 1000,
              keep_checkpoints: int = 2, progress: bool = True, stop_after: int | None = None,
              margins: bool = True) -> None:
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
    checkpoint_dir : where per-epoch checkpoints go; removed after success. Locked for the whole run:
        if another process trains into it, :class:`~ddd.training.checkpoints.CheckpointFolderInUse`
        is raised at once (no waiting), naming the folder and that process.
    device : ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``.
    threads : CPU threads (intra-op) and DataLoader workers.
    keep_checkpoints : how many of the newest checkpoints to keep (at least 1; with 2, a damaged
        newest one falls back to the one before).
    stop_after : stop (without writing outputs) after this many epochs; for tests of resumption.
    margins : store every evaluation's decision margins (the decisions file's ``margins``; default).
        ``False`` only to measure what they cost (``benchmarks/train_loop.py``).
    """
    if keep_checkpoints < 1:
        raise ValueError(f"keep_checkpoints must be at least 1, not {keep_checkpoints}")
    start_time = time.time()
    with folder_lock(checkpoint_dir):  # before anything else: a second trainer refuses at once
        _train(recipe, dataset, output=output, network_output=network_output, checkpoint_dir=checkpoint_dir,
               device=device, threads=threads, eval_batch_size=eval_batch_size, keep_checkpoints=keep_checkpoints,
               progress=progress, stop_after=stop_after, start_time=start_time, margins=margins)


def _train(recipe: dict, dataset: dict, *, output: str, network_output: str, checkpoint_dir: str, device: str,
           threads: int, eval_batch_size: int, keep_checkpoints: int, progress: bool, stop_after: int | None,
           start_time: float, margins: bool = True) -> None:
    """:func:`train_run`'s work, holding the checkpoint folder's lock."""
    job = _setup(recipe, dataset, device=device, threads=threads, eval_batch_size=eval_batch_size,
                 progress=progress, margins=margins)
    model, optimizer = _build(recipe, len(job.val_meta.class_names), job.dev)
    predictions, margins, first, nominal = _start(job, model, optimizer, checkpoint_dir)
    probs = None
    for epoch in range(first, job.total_epochs + 1):
        ev = _epoch(job, model, optimizer, epoch)
        predictions.append(ev.predictions)
        probs = ev.probabilities
        if margins is not None:
            margins.append(ev.margins)
        final = epoch == job.total_epochs
        if epoch == recipe["epochs"] and not final:  # extra epochs follow: keep the weights of E
            nominal = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if not final:
            save_checkpoint(checkpoint_dir, epoch=epoch, model=model, optimizer=optimizer, predictions=predictions,
                            recipe=recipe, nominal=nominal, keep=keep_checkpoints, margins=margins)
        if stop_after is not None and epoch >= stop_after and not final:
            log.info("stopping after epoch %d as asked", epoch)
            return
    # the weights at E: the copy kept when the loop (or a resumed checkpoint) passed E, if any
    _write_outputs(job, model.state_dict() if nominal is None else nominal, predictions, probs, dataset=dataset,
                   output=output, network_output=network_output, start_time=start_time, margins=margins)
    remove_checkpoints(checkpoint_dir)  # the lock file too: the lock is released as the folder goes
    log.info("done: %s (%.1f s)", output, time.time() - start_time)
