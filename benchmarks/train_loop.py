"""ddd's training loop against a bare PyTorch loop doing the same work (issue 19: ratio >= 0.9),
and what storing decision margins adds to it (issue 17: at most 10 % of a training epoch's time).

The bare loop is what one would write by hand for the same recipe: the same network (from
``make_model``, channels-last weights and batches as ddd's loop), the same in-memory batches,
batch size, precision (float32), SGD and per-step learning rate, for the same number of epochs,
with an evaluation of the whole evaluation split (top-1 predictions gathered on the device and
copied once) before training and after every epoch, preceded by the recipe's BatchNorm
re-estimation (``precise_bn``: reset the statistics, forward that many training images). ddd's
loop does the same and also seeds every step of the authors' scheme, computes and keeps every
evaluation's decision margins, writes a verified checkpoint after every epoch and the decisions
HDF5 and the network at the end. The generation of the data is timed once and subtracted from
ddd's time (the bare loop gets its data before its clock starts).

Times are the process's CPU seconds on a CPU (the loops run in this one process, so on a shared
machine they do not count the neighbours' time; with ``--threads`` > 1 they count every thread)
and wall seconds on CUDA (``--device cuda``, synchronised at the end). Reported: seconds of each
(best of the repeats), ``ratio`` = bare / (ddd - setup) (goal >= 0.9),
the same against a bare loop that only trains (``ratio_vs_training_only``, what the evaluations
and BatchNorm re-estimation cost on top), and ``margins_overhead`` = (ddd - setup) / (ddd without
margins - setup) - 1; all measured in one process, one after the other, rotating the order over
repeats (the machine is shared and noisy).

Whole runs on a shared machine vary by more than the margins cost, so their cost is also measured
in parts, each as the median of ``--pairs`` paired timings (with and without, alternating which
goes first): one evaluation of the evaluation split, one checkpoint (holding every epoch's
margins so far) and the decisions file; ``margins_cost_per_epoch`` is the evaluation's and the
checkpoint's extra plus the decisions file's extra spread over the epochs, as a share of a training
epoch of ddd's loop without margins.

CPU only here (no GPU in this benchmark's runs so far); the loop has no per-batch host
synchronisation (no ``.item()``/``.cpu()`` inside an epoch), so the same comparison on CUDA is
``--device cuda``.

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
from ddd.config import resolve_config  # noqa: E402
from ddd.data.loading import load_split  # noqa: E402
from ddd.nets import make_model  # noqa: E402
from ddd.training.loop import lr_at  # noqa: E402
from ddd.training.run import train_run  # noqa: E402


def bare_loop(recipe, dataset, epochs, *, device="cpu", evaluations=True):
    """Seconds of a hand-written loop over the same work (module docstring); ``evaluations=False``:
    training steps only."""
    train, meta = load_split(dataset, "train")
    val, _ = load_split(dataset, "val")
    torch.manual_seed(recipe["init_seed"])
    model = make_model(recipe["arch"], len(meta.class_names), **recipe["arch_options"]).to(device)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
                          nesterov=recipe["nesterov"], weight_decay=recipe["weight_decay"])
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]

    def evaluate():
        if recipe["precise_bn"] > 0 and bns:
            for m in bns:
                m.reset_running_stats()
                m.momentum = None
            seen = 0
            with torch.no_grad():
                for x, _ in train.epoch(recipe["batch_size"], generator=torch.Generator().manual_seed(0)):
                    model(x.to(device).contiguous(memory_format=torch.channels_last))
                    seen += len(x)
                    if seen >= recipe["precise_bn"]:
                        break
            for m in bns:
                m.momentum = recipe["bn_momentum"]
        model.eval()
        with torch.no_grad():
            preds = [model(x.to(device).contiguous(memory_format=torch.channels_last)).argmax(1)
                     for x, _ in val.epoch(1000, shuffle=False)]
        model.train()
        return torch.cat(preds).cpu().numpy()

    start = _clock()
    if evaluations:
        evaluate()
    steps = math.ceil(len(train) / recipe["batch_size"])
    for epoch in range(epochs):
        g = torch.Generator().manual_seed(epoch)
        for i, (x, y) in enumerate(train.epoch(recipe["batch_size"], generator=g)):
            x, y = x.to(device).contiguous(memory_format=torch.channels_last), y.to(device)
            for group in opt.param_groups:
                group["lr"] = lr_at(recipe, epoch + i / steps)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if evaluations:
            evaluate()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return _clock() - start


def bare_training_only(recipe, dataset, epochs, *, device="cpu"):
    return bare_loop(recipe, dataset, epochs, device=device, evaluations=False)


def ddd_loop(recipe, dataset, epochs, *, device="cpu", margins=True):
    with tempfile.TemporaryDirectory() as tmp:
        start = _clock()
        train_run(dict(recipe, epochs=epochs, extra_epochs=0), dataset, output=f"{tmp}/d.h5",
                  network_output=f"{tmp}/n.pt", checkpoint_dir=f"{tmp}/ckpt", device=device, progress=False,
                  threads=torch.get_num_threads(), margins=margins)
        return _clock() - start


def ddd_loop_without_margins(recipe, dataset, epochs, *, device="cpu"):
    return ddd_loop(recipe, dataset, epochs, device=device, margins=False)


def _paired(with_margins, without, pairs):
    """Median seconds of each and median paired difference, alternating which runs first."""
    a, b = [], []
    for k in range(pairs):
        for fn, store in ([(with_margins, a), (without, b)] if k % 2 == 0 else [(without, b), (with_margins, a)]):
            t = _clock()
            fn()
            store.append(_clock() - t)
    return statistics.median(a), statistics.median(b), statistics.median(x - y for x, y in zip(a, b))


def margin_parts(recipe, dataset, epochs, pairs):
    """What margins add to one evaluation, one checkpoint and the decisions file (module docstring)."""
    from ddd.results.decisions import write_decisions
    from ddd.training.checkpoints import save_checkpoint
    from ddd.training.loop import evaluate

    val, meta = load_split(dataset, "val")
    torch.manual_seed(recipe["init_seed"])
    model = make_model(recipe["arch"], len(meta.class_names), **recipe["arch_options"])
    model = model.to(memory_format=torch.channels_last)  # as ddd's loop
    opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"])
    out = {}

    def ev(margins):
        return lambda: evaluate(model, val, device=torch.device("cpu"), batch_size=1000, seed=0, channels_last=True,
                                with_margins=margins)
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


_CLOCK = {"fn": time.process_time}


def _clock():
    """CPU seconds of this process on a CPU (set in main; wall seconds on CUDA)."""
    return _CLOCK["fn"]()


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        return ""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--study", default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pairs", type=int, default=15, help="paired timings of each part of the margins' cost")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--out", default="benchmarks/results/train_loop.json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.device != "cpu":
        _CLOCK["fn"] = time.perf_counter
    cfg = resolve_config(yaml.safe_load(open(a.config)))
    study = a.study or cfg.names("train")[0]
    recipe = cfg.study(study).recipe("data_order/1")
    dataset = cfg.dataset(study)
    # The setup (generating the data) is excluded from the bare loop's time: count it for ddd too
    # by timing it once and subtracting.
    t = _clock()
    load_split(dataset, "train"), load_split(dataset, "val")
    setup = _clock() - t
    bare, bare_train, ours, plain = [], [], [], []
    runs = [(bare, bare_loop), (ours, ddd_loop), (bare_train, bare_training_only), (plain, ddd_loop_without_margins)]
    for r in range(a.repeats):
        for store, fn in runs[r % 4:] + runs[:r % 4]:
            store.append(fn(recipe, dataset, a.epochs, device=a.device))
    ddd_s = min(ours) - setup
    result = {"study": study, "arch": recipe["arch"], "arch_options": recipe["arch_options"], "epochs": a.epochs,
              "batch_size": recipe["batch_size"], "precise_bn": recipe["precise_bn"], "threads": a.threads,
              "bare_s": min(bare), "ddd_s": min(ours), "ddd_setup_s": setup, "ddd_minus_setup_s": ddd_s,
              "ratio": min(bare) / ddd_s, "overhead": ddd_s / min(bare) - 1,
              "bare_training_only_s": min(bare_train), "ratio_vs_training_only": min(bare_train) / ddd_s,
              "ddd_without_margins_s": min(plain),
              "ratio_without_margins": min(bare) / (min(plain) - setup),
              "margins_overhead": ddd_s / (min(plain) - setup) - 1,
              "runs_s": {"bare": bare, "bare_training_only": bare_train, "ddd": ours, "ddd_without_margins": plain},
              "margin_parts": margin_parts(recipe, dataset, a.epochs, a.pairs),
              "device": a.device, "clock": "process CPU seconds" if a.device == "cpu" else "wall seconds",
              "torch": torch.__version__, "cpu": _cpu_model()}
    epoch_s = (min(plain) - setup) / a.epochs  # a training epoch of ddd's loop without margins
    result["epoch_without_margins_s"] = epoch_s
    result["margins_cost_per_epoch"] = result["margin_parts"]["extra_per_epoch_s"] / epoch_s
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump(result, open(a.out, "w"), indent=2)
    print(json.dumps(result, indent=2))
    print(f"ratio bare / ddd's loop: {result['ratio']:.3f} (goal >= 0.9); against a bare loop that only trains: "
          f"{result['ratio_vs_training_only']:.3f}")
    print(f"margins add {100 * result['margins_overhead']:+.1f} % to ddd's loop, whole runs (target <= 10 %)")
    print(f"margins add {100 * result['margins_cost_per_epoch']:+.2f} % to a training epoch, from paired timings "
          f"of their parts (target <= 10 %)")


if __name__ == "__main__":
    main()
