"""Overhead of ddd's training loop against a bare PyTorch loop (issue: under 10 %).

Both train the same model on the same in-memory batches with the same batch size and optimiser
for the same number of epochs; ddd's loop also evaluates the whole evaluation split before
training and after every epoch, writes a checkpoint after every epoch and the decisions HDF5 at
the end. Reported: seconds of each, and the ratio ddd / bare, measured in one process, one after
the other, alternating the order over repeats (the machine is shared and noisy).

    python benchmarks/train_loop.py [--config config/config.yaml] [--epochs 3] [--repeats 2]
"""
import argparse
import json
import math
import os
import sys
import tempfile
import time

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


def ddd_loop(recipe, dataset, epochs):
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train_run(dict(recipe, epochs=epochs, extra_epochs=0), dataset, output=f"{tmp}/d.h5",
                  network_output=f"{tmp}/n.pt", checkpoint_dir=f"{tmp}/ckpt", device="cpu", progress=False)
        return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--study", default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/train_loop.json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cfg = resolve_config(yaml.safe_load(open(a.config)))
    study = a.study or next(iter(cfg.studies))
    recipe = cfg.recipe(study, "data_order", 1)
    dataset = cfg.dataset(study)
    # The setup (generating the data) is excluded from the bare loop's time: count it for ddd too
    # by timing it once and subtracting.
    t = time.perf_counter()
    load_split(dataset, "train"), load_split(dataset, "val")
    setup = time.perf_counter() - t
    bare, ours = [], []
    for r in range(a.repeats):
        order = [(bare, bare_loop), (ours, ddd_loop)][:: 1 if r % 2 == 0 else -1]
        for store, fn in order:
            store.append(fn(recipe, dataset, a.epochs))
    result = {"study": study, "arch": recipe["arch"], "epochs": a.epochs, "batch_size": recipe["batch_size"],
              "threads": a.threads, "bare_s": min(bare), "ddd_s": min(ours), "ddd_setup_s": setup,
              "ddd_minus_setup_s": min(ours) - setup, "ratio": (min(ours) - setup) / min(bare),
              "device": "cpu", "torch": torch.__version__}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump(result, open(a.out, "w"), indent=2)
    print(json.dumps(result, indent=2))
    print(f"overhead of ddd's loop: {100 * (result['ratio'] - 1):+.1f} % (target < 10 %)")


if __name__ == "__main__":
    main()
