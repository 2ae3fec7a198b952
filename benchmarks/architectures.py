"""Training-step throughput of every architecture at its dataset's resolution: ddd's loop
(``ddd.training.loop.train_epoch``: per-step LR, batch chunks, device transfer, loss kept on the device)
against a bare PyTorch loop on the same model, batch size and in-memory data (issue: within 10 %).

    python benchmarks/architectures.py [--device cpu|cuda] [--steps 6] [--batch 16] [--threads 2]

Prints one JSON line per architecture and writes benchmarks/results/architectures_<device>.json.
On a CPU the 224-px networks use a small batch; pass --batch 256 --steps 30 on a GPU.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from ddd.experiment import recipes  # noqa: E402
from ddd.data.loading import InMemoryBatches  # noqa: E402
from ddd.nets import make_model  # noqa: E402
from ddd.training.loop import train_epoch  # noqa: E402

# (name, arch, options, resolution, classes)
CASES = [
    ("resnet18@224", "resnet18", {}, 224, 1000),
    ("resnet50@224", "resnet50", {}, 224, 1000),
    ("densenet121@224", "densenet121", {}, 224, 1000),
    ("vgg11@224", "vgg11", {}, 224, 1000),
    ("alexnet@224", "alexnet", {}, 224, 1000),
    ("resnet18-cifar@32", "resnet18", {"stem": "cifar"}, 32, 100),
    ("densenet121-cifar@32", "densenet121", {"stem": "cifar"}, 32, 100),
    ("resnet18-w16-default@8", "resnet18", {"width": 16, "stem": "cifar"}, 8, 100),
]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare(model, opt, batches, batch, device):
    g = torch.Generator().manual_seed(0)
    for x, y in batches.epoch(batch, generator=g):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def ours(model, opt, batches, recipe, device):
    train_epoch(model, opt, batches, recipe, epoch=1, device=device, generator=torch.Generator().manual_seed(0))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", default=None, help="comma-separated case names")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    results = []
    for name, arch, options, size, classes in CASES:
        if a.only and name not in a.only.split(","):
            continue
        batch = a.batch if size >= 224 else max(a.batch, 256)
        n = batch * a.steps
        images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
        batches = InMemoryBatches(images, torch.randint(0, classes, (n,)), encoding="standard", flip=True)
        recipe = dict(recipes.BASE_RECIPE, batch_size=batch)
        times = {}
        for label in ("bare", "ddd", "bare", "ddd"):  # alternate, keep the best of two
            torch.manual_seed(0)
            model = make_model(arch, classes, **options).to(device)
            if device.type == "cuda":
                model = model.to(memory_format=torch.channels_last)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
            # one warm-up step outside the timing
            bare(model, opt, InMemoryBatches(images[:batch], batches.targets[:batch], encoding="standard",
                                             flip=True), batch, device)
            _sync(device)
            t = time.perf_counter()
            if label == "bare":
                bare(model, opt, batches, batch, device)
            else:
                ours(model, opt, batches, recipe, device)
            _sync(device)
            times[label] = min(times.get(label, float("inf")), time.perf_counter() - t)
        r = {"case": name, "device": str(device), "batch": batch, "images": n,
             "bare_img_per_s": n / times["bare"], "ddd_img_per_s": n / times["ddd"],
             "ddd_over_bare_time": times["ddd"] / times["bare"]}
        print(json.dumps(r), flush=True)
        results.append(r)
    out = a.out or f"benchmarks/results/architectures_{device.type}.json"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    json.dump({"torch": torch.__version__, "threads": a.threads, "results": results}, open(out, "w"), indent=2)


if __name__ == "__main__":
    main()
