"""Images per second of pretrained-model inference: ddd.pretrained.infer against a bare forward loop.

All runs read the same evaluation images through the same dataset and preprocessing (the one
``infer`` builds for the spec), the same DataLoader settings (``--workers`` processes decoding and
preprocessing the images) and batch size, and run the same network (random weights saved to a
local file, loaded through the ``torchvision`` source). Three runs per repeat, in alternating order:

- ``bare``: ``DataLoader`` + ``model(x).argmax(1)``, nothing else;
- ``loop``: ddd's inference loop (``make_loader`` + ``predict``: predictions, float16 softmax
  probabilities and decision margins, kept on the device and copied to the host once);
- ``job``: the whole ``infer()`` call (also the spec and state-dict checks, building the network,
  hashing the weights file and writing the decisions HDF5). What it adds once per job
  (``job_fixed_s``, ``job_fixed_cpu_s``) weighs on a few hundred images, not on a 50,000-image pass.

The goal (issue 20): ddd's loop at >= 0.95 of the bare loop's images/s. Ratios are bare time /
ddd time (1.0 = no overhead): the median over the repeats of each repeat's pair of runs (run side
by side, so that a busy moment of a shared machine hits both), the same from CPU time (the
process's and its finished DataLoader workers'), and from the fastest run of each
(``*_ratio_of_best``).

    python benchmarks/inference.py [--root FOLDER_WITH_val/] [--models resnet18 squeezenet1_1]
        [--n-images 64] [--image-size 256] [--batch-size 32] [--repeats 7] [--workers 1] [--threads 1] [--device auto]

Without ``--root`` a temporary ImageFolder of random JPEGs (3 classes) is written first.
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from ddd.nets.device import resolve_device  # noqa: E402
from ddd.pretrained.infer import _model_and_data, infer, make_loader, predict  # noqa: E402
from ddd.pretrained.preprocess import resolve_spec  # noqa: E402
from ddd.pretrained.spec import normalize_spec  # noqa: E402


def fake_folder(root, n_images, size, n_classes=3, seed=0):
    from PIL import Image
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        folder = os.path.join(root, "val", f"class{i % n_classes}")
        os.makedirs(folder, exist_ok=True)
        pixels = rng.integers(0, 256, size=(size, size + size // 3, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"img{i:05d}.JPEG"), quality=90)
    return root


def timed(fn):
    """(wall s, CPU s of this process and of its finished children, i.e. the DataLoader workers)."""
    def cpu():
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    c, t = cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t, cpu() - c


@torch.inference_mode()
def bare_loop(model, ds, *, batch_size, workers, device):
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers,
                                         pin_memory=device.type == "cuda")
    preds = [model(x.to(device, non_blocking=True)).argmax(1) for x, _ in loader]
    return torch.cat(preds).cpu()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=None, help="an ImageFolder dataset (val/<class>/...); default: generated")
    p.add_argument("--models", nargs="+", default=["resnet18", "squeezenet1_1"])
    p.add_argument("--n-images", type=int, default=64)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="benchmarks/results/inference.json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = a.root or fake_folder(os.path.join(tmp, "data"), a.n_images, a.image_size)
        dataset = {"name": "bench", "kind": "imagefolder", "root": root}
        rows = []
        for name in a.models:
            spec = normalize_spec({"name": name, "source": "torchvision", "model": name,
                                   "weights": os.path.join(tmp, f"{name}.pth")})
            n_classes = len([d for d in os.listdir(os.path.join(root, "val"))
                             if os.path.isdir(os.path.join(root, "val", d))])
            torch.manual_seed(0)
            bare_model = torchvision.models.get_model(name, num_classes=n_classes).eval()
            torch.save(bare_model.state_dict(), spec["weights"])
            bare_model = bare_model.to(device)
            # ddd's dataset (its preprocessing) and network, as infer() builds them
            ds, _, _, ddd_model = _model_and_data(resolve_spec(spec)[0], dataset, device)  # as infer() resolves it
            runs = {
                "bare": lambda: bare_loop(bare_model, ds, batch_size=a.batch_size, workers=a.workers, device=device),
                "loop": lambda: predict(ddd_model, make_loader(ds, batch_size=a.batch_size, num_workers=a.workers,
                                                               device=device), device=device),
                "job": lambda: infer(spec, dataset, out=os.path.join(tmp, f"{name}.h5"), device=str(device),
                                     batch_size=a.batch_size, num_workers=a.workers, progress=False),
            }
            times = {k: [] for k in runs}
            bare_loop(bare_model, ds, batch_size=a.batch_size, workers=a.workers, device=device)  # warm-up
            for r in range(a.repeats):
                for k in list(runs)[:: 1 if r % 2 == 0 else -1]:
                    times[k].append(timed(runs[k]))
            n = len(ds)
            wall = {k: min(t[0] for t in v) for k, v in times.items()}

            def paired(kind, i):  # median over the repeats of bare / kind, each repeat's runs side by side
                return float(np.median([b[i] / t[i] for b, t in zip(times["bare"], times[kind])]))
            row = {"model": name, "n_images": n, "batch_size": a.batch_size, "workers": a.workers,
                   **{f"{k}_images_per_s": n / wall[k] for k in runs},
                   **{f"{k}_wall_s": [round(t[0], 3) for t in v] for k, v in times.items()},
                   **{f"{k}_cpu_s": [round(t[1], 3) for t in v] for k, v in times.items()},
                   "loop_ratio": paired("loop", 0), "loop_cpu_ratio": paired("loop", 1),
                   "loop_ratio_of_best": wall["bare"] / wall["loop"],
                   "job_ratio": paired("job", 0), "job_cpu_ratio": paired("job", 1),
                   "job_ratio_of_best": wall["bare"] / wall["job"],
                   # what a job adds once (checks, building, hashing, writing): median of job - loop
                   "job_fixed_s": float(np.median([j[0] - lo[0] for j, lo in zip(times["job"], times["loop"])])),
                   "job_fixed_cpu_s": float(np.median([j[1] - lo[1] for j, lo in zip(times["job"], times["loop"])]))}
            rows.append(row)
            print(f"{name:>14}: bare {row['bare_images_per_s']:7.1f} img/s   ddd loop {row['loop_images_per_s']:7.1f}"
                  f" img/s ({row['loop_ratio']:.3f} of bare; CPU time {row['loop_cpu_ratio']:.3f})   ddd job "
                  f"{row['job_images_per_s']:7.1f} img/s ({row['job_ratio']:.3f}; CPU time {row['job_cpu_ratio']:.3f}; "
                  f"once per job {row['job_fixed_cpu_s']:.2f} CPU s)")
    result = {"device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
              "cuda": ("measured" if device.type == "cuda" else
                       "not measured: no GPU machine was lent to this task; rerun with --device cuda on one"),
              "goal": "ddd's loop >= 0.95 of the bare loop's images/s (loop_ratio)",
              "threads": a.threads, "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
              "torch": torch.__version__, "root": a.root or "generated", "image_size": a.image_size,
              "repeats": a.repeats, "models": rows}
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
