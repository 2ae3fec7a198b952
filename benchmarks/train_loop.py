"""Overhead of ddd's training loop against a bare PyTorch loop (issue: under 10 %), and what
storing decision margins adds to it (issue 17: at most 10 % of a training epoch's time).

Both train the same model on the same in-memory batches with the same batch size and optimiser
for the same number of epochs; ddd's loop also evaluates the whole evaluation split before
training and after every epoch, writes a checkpoint after every epoch and the decisions HDF5 at
the end. ddd's loop runs twice: as it is (with every evaluation's decision margins, computed from
the logits, kept in the checkpoints and written to the decisions file) and with
``train_run(margins=False)``. Reported: seconds of each (best of the repeats), the ratio ddd / bare
and ``margins_overhead`` = (ddd - setup) / (ddd without margins - setup) - 1, measured in one
process, one after the other, rotating the order over repeats (the machine is shared and noisy).

Whole runs on a shared machine vary by more than the margins cost, so their cost is also measured
in parts, each as the median of ``--pairs`` paired timings (with and without, alternating which
goes first): one evaluation of the evaluation split, one checkpoint (holding every epoch's
margins so far) and the decisions file; ``margins_cost_per_epoch`` is the evaluation's and the
checkpoint's extra plus the decisions file's extra spread over the epochs, as a share of a training
epoch of ddd's loop without margins.

    python benchmarks/train_loop.py [--config config/config.yaml] [--epochs 3] [--repeats 2] [--pairs 15]
"""
import argparse
import json
import math
import os
import sys
import statistics
import tempfile
import time

import numpy as np

import torch
import torch.nn.functional as F
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from ddd.experiment import recipes  # noqa: E402
from ddd.config import resolve_config  # noqa: E402
from ddd.data.loading import load_split  # noqa: E402
from ddd.nets import make_model  # noqa: E402
from ddd.training.loop import lr_at  # noqa: E402
from ddd.training.run import train_run  # noqa: E402


def bare_loop(recipe, dataset, epochs):
    train, meta = load_split(dataset, "train")
    torch.manual_seed(recipe["init_seed"])
    model = make_model(recipe["arch"], len(meta.class_names), **recipe["arch_options"])
    opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
                          weight_decay=recipe["weight_decay"])
    start = time.perf_counter()
    steps = math.ceil(len(train) / recipe["batch_size"])
    for epoch in range(epochs):
        g = torch.Generator().manual_seed(epoch)
        for i, (x, y) in enumerate(train.epoch(recipe["batch_size"], generator=g)):
            for group in opt.param_groups:
                group["lr"] = lr_at(recipe, epoch + i / steps)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def ddd_loop(recipe, dataset, epochs, margins=True):
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train_run(dict(recipe, epochs=epochs, extra_epochs=0), dataset, output=f"{tmp}/d.h5",
                  network_output=f"{tmp}/n.pt", checkpoint_dir=f"{tmp}/ckpt", device="cpu", progress=False,
                  margins=margins)
        return time.perf_counter() - start


def ddd_loop_without_margins(recipe, dataset, epochs):
    return ddd_loop(recipe, dataset, epochs, margins=False)


def _paired(with_margins, without, pairs):
    """Median seconds of each and median paired difference, alternating which runs first."""
    a, b = [], []
    for k in range(pairs):
        for fn, store in ([(with_margins, a), (without, b)] if k % 2 == 0 else [(without, b), (with_margins, a)]):
            t = time.perf_counter()
            fn()
            store.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b), statistics.median(x - y for x, y in zip(a, b))


def margin_parts(recipe, dataset, epochs, pairs):
    """What margins add to one evaluation, one checkpoint and the decisions file (module docstring)."""
    from ddd.results.decisions import write_decisions
    from ddd.training.checkpoints import save_checkpoint
    from ddd.training.loop import evaluate

    val, meta = load_split(dataset, "val")
    torch.manual_seed(recipe["init_seed"])
    model = make_model(recipe["arch"], len(meta.class_names), **recipe["arch_options"])
    opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"])
    out = {}

    def ev(margins):
        return lambda: evaluate(model, val, device=torch.device("cpu"), batch_size=1000, seed=0, with_margins=margins)
    out["eval_with_s"], out["eval_without_s"], out["eval_extra_s"] = _paired(ev(True), ev(False), pairs)
    e = ev(True)()
    preds, margins = [e.predictions] * (epochs + 1), [e.margins] * (epochs + 1)
    with tempfile.TemporaryDirectory() as tmp:
        def ckpt(m):
            return lambda: save_checkpoint(f"{tmp}/c{int(m is not None)}", epoch=epochs, model=model, optimizer=opt,
                                           predictions=preds, recipe=recipe, nominal=None, keep=1, margins=m)
        os.makedirs(f"{tmp}/c0")
        os.makedirs(f"{tmp}/c1")
        out["checkpoint_with_s"], out["checkpoint_without_s"], out["checkpoint_extra_s"] = _paired(
            ckpt(margins), ckpt(None), pairs)

        def write(m):
            return lambda: write_decisions(f"{tmp}/d.h5", np.stack(preds), meta.targets, meta.image_ids,
                                           recipe=recipe, margins=None if m is None else np.stack(m),
                                           attrs={"class_names": list(meta.class_names)})
        out["decisions_with_s"], out["decisions_without_s"], out["decisions_extra_s"] = _paired(
            write(margins), write(None), pairs)
    out["extra_per_epoch_s"] = out["eval_extra_s"] + out["checkpoint_extra_s"] + out["decisions_extra_s"] / epochs
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--study", default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pairs", type=int, default=15, help="paired timings of each part of the margins' cost")
    p.add_argument("--out", default="benchmarks/results/train_loop.json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cfg = resolve_config(yaml.safe_load(open(a.config)))
    study = a.study or cfg.names("train")[0]
    recipe = cfg.study(study).recipe("data_order/1")
    dataset = cfg.dataset(study)
    # The setup (generating the data) is excluded from the bare loop's time: count it for ddd too
    # by timing it once and subtracting.
    t = time.perf_counter()
    load_split(dataset, "train"), load_split(dataset, "val")
    setup = time.perf_counter() - t
    bare, ours, plain = [], [], []
    runs = [(bare, bare_loop), (ours, ddd_loop), (plain, ddd_loop_without_margins)]
    for r in range(a.repeats):
        for store, fn in runs[r % 3:] + runs[:r % 3]:
            store.append(fn(recipe, dataset, a.epochs))
    result = {"study": study, "arch": recipe["arch"], "epochs": a.epochs, "batch_size": recipe["batch_size"],
              "threads": a.threads, "bare_s": min(bare), "ddd_s": min(ours), "ddd_setup_s": setup,
              "ddd_minus_setup_s": min(ours) - setup, "ratio": (min(ours) - setup) / min(bare),
              "ddd_without_margins_s": min(plain),
              "ratio_without_margins": (min(plain) - setup) / min(bare),
              "margins_overhead": (min(ours) - setup) / (min(plain) - setup) - 1,
              "runs_s": {"bare": bare, "ddd": ours, "ddd_without_margins": plain},
              "margin_parts": margin_parts(recipe, dataset, a.epochs, a.pairs),
              "device": "cpu", "torch": torch.__version__}
    epoch_s = (min(plain) - setup) / a.epochs  # a training epoch of ddd's loop without margins
    result["epoch_without_margins_s"] = epoch_s
    result["margins_cost_per_epoch"] = result["margin_parts"]["extra_per_epoch_s"] / epoch_s
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump(result, open(a.out, "w"), indent=2)
    print(json.dumps(result, indent=2))
    print(f"overhead of ddd's loop: {100 * (result['ratio'] - 1):+.1f} % (target < 10 %)")
    print(f"margins add {100 * result['margins_overhead']:+.1f} % to ddd's loop, whole runs (target <= 10 %)")
    print(f"margins add {100 * result['margins_cost_per_epoch']:+.2f} % to a training epoch, from paired timings "
          f"of their parts (target <= 10 %)")


if __name__ == "__main__":
    main()
