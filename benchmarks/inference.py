"""Images per second of pretrained-model inference: ddd.pretrained.infer against a bare loop.

Both read the same evaluation images through the same preprocessing, DataLoader settings and
batch size, and run the same network (random weights saved to a local file, loaded through the
``torchvision`` source). ddd's run also checks the spec and the state dict, hashes the weights
file, keeps the softmax probabilities and writes the decisions HDF5; the bare loop only keeps
the argmax. Reported per model: images/s of each (best of the repeats, alternating the order)
and the ratio ddd / bare of the wall times (1.0 = no overhead).

    python benchmarks/inference.py [--root FOLDER_WITH_val/] [--models resnet18 squeezenet1_1]
        [--n-images 192] [--image-size 256] [--batch-size 64] [--workers 1] [--device auto]

Without ``--root`` a temporary ImageFolder of random JPEGs (3 classes) is written first.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from ddd.data.images import ImageFolderSplit  # noqa: E402
from ddd.nets.device import resolve_device  # noqa: E402
from ddd.pretrained.infer import infer  # noqa: E402
from ddd.pretrained.preprocess import resolve_preprocessing  # noqa: E402
from ddd.pretrained.spec import Preprocess, normalize_spec  # noqa: E402


def fake_folder(root, n_images, size, n_classes=3, seed=0):
    from PIL import Image
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        folder = os.path.join(root, "val", f"class{i % n_classes}")
        os.makedirs(folder, exist_ok=True)
        pixels = rng.integers(0, 256, size=(size, size + size // 3, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"img{i:05d}.JPEG"), quality=90)
    return root


@torch.inference_mode()
def bare_loop(model, ds, *, batch_size, workers, device):
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers,
                                         pin_memory=device.type == "cuda")
    model = model.to(device).eval()
    start = time.perf_counter()
    preds = [model(x.to(device, non_blocking=True)).argmax(1) for x, _ in loader]
    torch.cat(preds).cpu()
    return time.perf_counter() - start


def ddd_run(spec, dataset, *, batch_size, workers, device, tmp):
    start = time.perf_counter()
    infer(spec, dataset, out=os.path.join(tmp, f"{spec['name']}.h5"), device=str(device), batch_size=batch_size,
          num_workers=workers, progress=False)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=None, help="an ImageFolder dataset (val/<class>/...); default: generated")
    p.add_argument("--models", nargs="+", default=["resnet18", "squeezenet1_1"])
    p.add_argument("--n-images", type=int, default=192)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
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
            ds = ImageFolderSplit(root, "val", transform=Preprocess(resolve_preprocessing(spec)), name="imagefolder")
            model = torchvision.models.get_model(name, num_classes=len(ds.class_names))
            torch.save(model.state_dict(), spec["weights"])
            bare, ours = [], []
            for r in range(a.repeats):
                order = [(bare, lambda: bare_loop(model, ds, batch_size=a.batch_size, workers=a.workers,
                                                  device=device)),
                         (ours, lambda: ddd_run(spec, dataset, batch_size=a.batch_size, workers=a.workers,
                                                device=device, tmp=tmp))]
                for store, fn in order[:: 1 if r % 2 == 0 else -1]:
                    store.append(fn())
            n = len(ds)
            row = {"model": name, "n_images": n, "batch_size": a.batch_size, "workers": a.workers,
                   "bare_s": min(bare), "ddd_s": min(ours), "bare_images_per_s": n / min(bare),
                   "ddd_images_per_s": n / min(ours), "ratio": min(ours) / min(bare)}
            rows.append(row)
            print(f"{name:>16}: bare {row['bare_images_per_s']:8.1f} img/s   ddd {row['ddd_images_per_s']:8.1f} img/s"
                  f"   ddd/bare time {row['ratio']:.3f}")
    result = {"device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
              "threads": a.threads, "torch": torch.__version__, "root": a.root or "generated",
              "image_size": a.image_size, "models": rows}
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
