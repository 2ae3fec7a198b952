"""Run a pretrained model over a dataset's evaluation split and write its decisions.

The output is the decisions HDF5 of a training run (``ddd.results.decisions``) with one row of
predictions (epoch 0), the targets, image ids, the float16 class probabilities and the float16
decision margins (true-class logit minus the largest other logit), so every analysis treats a
pretrained model like a trained network.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ddd import __version__
from ddd.data.loading import EvalSet
from ddd.results.decisions import write_decisions
from ddd.nets.device import resolve_device
from ddd.pretrained.load import build_prepared, prepare
from ddd.pretrained.preprocess import resolve_spec
from ddd.pretrained.spec import Preprocess
from ddd.pretrained.weights import sha256_file

log = logging.getLogger(__name__)


class ArrayImages(Dataset):
    """uint8 images (N, 3, H, W) as PIL images through ``transform``; items ``(x, label)``.
    ``images`` may be a callable ``i -> uint8 (3, H, W)`` (generated data) with ``n`` items."""

    def __init__(self, images, targets: np.ndarray, transform, *, n: int | None = None):
        self.images, self.targets, self.transform = images, np.asarray(targets), transform
        self.n = len(self.targets) if n is None else n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        from PIL import Image
        arr = self.images(i) if callable(self.images) else self.images[i]
        image = Image.fromarray(np.ascontiguousarray(np.asarray(arr).transpose(1, 2, 0)))
        return self.transform(image), int(self.targets[i])


class _Gaussian:
    """Picklable generator of the Gaussian set's evaluation images."""

    def __init__(self, spec, indices):
        self.spec, self.indices = spec, indices

    def __call__(self, i: int):
        from ddd.data.gaussian import gaussian_image
        return gaussian_image(self.spec, "val", int(self.indices[i]))


def eval_dataset(dataset: dict, transform) -> tuple[Dataset, EvalSet]:
    """The evaluation split of a configured dataset with ``transform`` applied to every image.

    Parameters
    ----------
    dataset : the dataset's config block (``kind`` or ``name``, ``root`` for local copies;
        the Gaussian set's parameters).
    transform : callable on an RGB PIL image, e.g. :class:`Preprocess`.

    Returns
    -------
    (torch Dataset of ``(x, label)``, EvalSet with targets (N,), image ids (N,), class names (C)
    and the fingerprint a training run on the same data records). Only file names are listed
    here: no image is read.
    """
    kind = dataset.get("kind", dataset.get("name"))
    if kind == "gaussian":
        from ddd.data.gaussian import gaussian_spec
        from ddd.data.loading import GaussianNoise
        spec = gaussian_spec(dataset)
        ds = GaussianNoise(spec, "val")
        meta = EvalSet(ds.targets, ds.image_ids, ds.class_names, spec.fingerprint())
        return ArrayImages(_Gaussian(spec, ds.indices), ds.targets, transform), meta
    if kind not in ("cifar100", "imagenet", "imagefolder"):
        raise ValueError(f"unknown dataset kind {kind!r}; allowed: gaussian, cifar100, imagenet, imagefolder")
    from ddd.data import images as img
    root = dataset.get("root")
    if not root:
        key = dataset.get("config_key") or f"{kind}_root"
        raise ValueError(f"{key} is not set: point it at your local copy (nothing is downloaded)")
    if kind == "cifar100" and img.cifar100_source(root).kind == "pickle":
        images, targets, ids, names = img.load_cifar100_pickle(root, "val")
        fp = f"cifar100-{img.fingerprint('cifar100', root, 'val')}"
        return ArrayImages(images, targets, transform), EvalSet(targets, ids, list(names), fp)
    ds = img.ImageFolderSplit(root, "val", transform=transform, name=kind)
    return ds, EvalSet(np.asarray(ds.targets), np.asarray(ds.image_ids), list(ds.class_names),
                       f"{kind}-{ds.fingerprint()}")


def make_loader(ds: Dataset, *, batch_size: int, num_workers: int, device: torch.device) -> DataLoader:
    """The evaluation loader of :func:`infer`: in order, ``num_workers`` worker processes decoding and
    preprocessing images (0: in the main process), batches in pinned memory on CUDA so that the copy
    to the device can run asynchronously, each worker ``prefetch_factor`` = 2 batches ahead."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an integer >= 0, got {num_workers!r}")
    return DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                      pin_memory=device.type == "cuda", persistent_workers=False)


@torch.inference_mode()
def predict(model, loader, *, device, progress: bool = False, total: int | None = None):
    """Top-1 predictions, softmax probabilities and decision margins of ``model`` over ``loader``, in order.

    The margin of an image is its true-class logit (the loader's label) minus the largest other
    logit (:func:`ddd.training.loop.decision_margins`); NaN where the label is not one of the
    model's outputs (then the class counts differ, which :func:`infer` refuses).

    Returns
    -------
    predictions int64 (N,), probabilities float16 (N, C), margins float16 (N,). Results stay on
    the device until the end (one copy to the host): nothing in the loop waits for the device,
    so on CUDA the next batch is decoded and copied while the model runs.
    """
    from tqdm import tqdm

    from ddd.training.loop import decision_margins
    cuda = device.type == "cuda"
    preds, probs, margins = [], [], []
    for x, y in tqdm(loader, total=total, disable=not progress, desc="inference", file=sys.stderr,
                     mininterval=5):
        x = x.to(device, non_blocking=cuda)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        logits = model(x)
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
            raise ValueError(f"the model returned {type(logits).__name__} "
                             f"{tuple(getattr(logits, 'shape', ()))}, expected logits (B, C)")
        logits = logits.float()
        preds.append(logits.argmax(1))
        probs.append(logits.softmax(1).half())
        y = torch.as_tensor(y).to(logits.device, non_blocking=cuda).long()
        known = (y >= 0) & (y < logits.shape[1])
        known &= logits.shape[1] >= 2  # a margin needs another class
        m = decision_margins(logits, torch.where(known, y, 0)) if logits.shape[1] >= 2 else logits[:, 0]
        margins.append(torch.where(known, m, float("nan")).clamp(-65504, 65504).half())
    return torch.cat(preds).cpu().numpy(), torch.cat(probs).cpu().numpy(), torch.cat(margins).cpu().numpy()


def _model_and_data(spec: dict, dataset: dict, dev: torch.device):
    """The evaluation split with the spec's preprocessing, and the checked network on ``dev``."""
    ds, meta = eval_dataset(dataset, Preprocess(spec["preprocessing"]))
    kind = dataset.get("kind", dataset.get("name"))
    prepared = prepare(spec, n_classes=len(meta.class_names), class_names=meta.class_names, dataset_kind=kind)
    model = build_prepared(prepared, device=dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return ds, meta, prepared, model


def _write(out, spec: dict, dataset: dict, meta: EvalSet, prepared, predictions, probabilities, *,
           dev: torch.device, batch_size: int, start: float, loop_s: float, margins=None,
           preprocessing: dict | None = None) -> None:
    """The decisions file of one pretrained model (``ddd.results.decisions``). ``spec`` has its
    resolved preprocessing (also in the recipe); ``preprocessing``: where it comes from
    (:func:`ddd.pretrained.preprocess.resolve_spec`), attribute ``preprocessing``."""
    weights_sha = sha256_file(prepared.weights_path)
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(out))), exist_ok=True)
    import torchvision
    write_decisions(
        out, predictions[None, :].astype(np.int64), meta.targets, meta.image_ids, epochs=np.array([0]),
        recipe=spec, probabilities=probabilities, margins=None if margins is None else margins[None, :],
        attrs={"kind": "pretrained", "model_spec": spec, "class_names": list(meta.class_names),
               "weights_file": prepared.weights_path, "weights_sha256": weights_sha,
               "dataset": dataset, "dataset_fingerprint": meta.fingerprint,
               "torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
               "ddd_version": __version__, **prepared.versions,
               "device": str(dev) if dev.type != "cuda" else torch.cuda.get_device_name(dev),
               "platform": platform.platform(), "batch_size": batch_size,
               "wall_time_s": time.time() - start, "inference_s": loop_s,
               **({"preprocessing": preprocessing} if preprocessing is not None else {})})


def infer(spec: dict, dataset: dict, *, out, device: str = "auto", batch_size: int = 64,
          num_workers: int = 0, progress: bool = True, threads: int | None = None) -> dict:
    """Run one pretrained model over the evaluation split of ``dataset`` and write its decisions.

    Everything is checked before the first image is read: the spec, the weights file, the state
    dict against the network and the class count against the dataset's. The preprocessing is the
    library's (:func:`ddd.pretrained.preprocess.resolve_spec`) with the spec's keys on top; the
    resolved one is in the file's recipe and ``model_spec``, its origin in ``preprocessing``.

    Parameters
    ----------
    spec : a model spec (see ``ddd.pretrained.spec``).
    dataset : the dataset's config block (``Config.dataset(study)``).
    out : path of the decisions HDF5: predictions (1, N), targets (N,), image ids (N,),
        probabilities float16 (N, C), margins float16 (1, N); written to a sibling and renamed into place.
    device : ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``.
    batch_size, num_workers : DataLoader settings (workers decode and preprocess images).
    threads : CPU threads for torch (default: leave as is).

    Returns
    -------
    dict: ``accuracy``, ``n_images``, ``wall_time_s``, ``images_per_s`` (inference loop only),
    ``weights_path``.
    """
    start = time.time()
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    spec, preprocessing = resolve_spec(spec)  # the library's preprocessing, the spec's keys on top
    dev = resolve_device(device)
    ds, meta, prepared, model = _model_and_data(spec, dataset, dev)
    loader = make_loader(ds, batch_size=batch_size, num_workers=num_workers, device=dev)
    t = time.time()
    predictions, probabilities, margins = predict(model, loader, device=dev, progress=progress,
                                                  total=-(-len(ds) // batch_size))
    loop_s = time.time() - t
    if probabilities.shape[1] != len(meta.class_names):
        raise ValueError(f"model {spec['name']!r} gave {probabilities.shape[1]} outputs for a dataset of "
                         f"{len(meta.class_names)} classes")
    accuracy = float(np.mean(predictions == meta.targets))
    _write(out, spec, dataset, meta, prepared, predictions, probabilities, dev=dev, batch_size=batch_size,
           start=start, loop_s=loop_s, margins=margins, preprocessing=preprocessing)
    log.info("%s: accuracy %.4f on %d images (%.1f images/s), %s", spec["name"], accuracy, len(ds),
             len(ds) / max(loop_s, 1e-9), out)
    return {"accuracy": accuracy, "n_images": len(ds), "wall_time_s": time.time() - start,
            "images_per_s": len(ds) / max(loop_s, 1e-9), "weights_path": prepared.weights_path}
