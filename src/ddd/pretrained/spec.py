"""Model specs of pretrained decision makers, and their preprocessing.

Light on purpose (standard library only at import): planning normalises every spec and runs
:func:`precheck_model` without torch. docs/reproduction.md#pretrained-models.

A spec is a plain dict (one entry of a ``pretrained`` study's ``models`` list)::

    name: resnet152                 # the decision maker's name (file stem of its decisions)
    source: torchvision             # torchvision | timm | open_clip | checkpoint
    model: resnet152                # library model name, or a checkpoint builder (ddd.nets.checkpoint_builders())
    weights: weights/resnet152-f82ba261.pth   # local file; null: the library's local cache
    preprocessing: auto             # the library's own (default); or a mapping of overrides:
      resize: 256                   # shorter side (int), [h, w] (no aspect kept) or null
      crop: 224                     # centre crop (int or [h, w]) or null
      mean: [0.485, 0.456, 0.406]
      std: [0.229, 0.224, 0.225]
      interpolation: bilinear       # bilinear | bicubic | nearest (antialiased, on the PIL image)
    options: {}                     # keyword arguments of the constructor / builder
    url: null                       # where to obtain the weights (shown in errors; text only)
    trust_pickle: false             # read the file with torch.load(weights_only=False)

Source-specific keys: ``torchvision``: ``tag`` (a member of the model's Weights enum, default
``DEFAULT``; names the cached file when ``weights`` is null). ``open_clip``: ``pretrained`` (the
open_clip pretrained tag, e.g. ``openai``; names the cached file and the QuickGELU setting),
``templates`` (a file with one prompt template per line, ``{}`` standing for the class name;
null: the 80 ImageNet templates of OpenAI's CLIP, as shipped by open_clip), ``class_names`` (a
file with one class name per line in the dataset's class order, or ``<folder>\\t<name>`` lines;
null: open_clip's 1000 ImageNet names on a 1000-class ImageNet, else the dataset's folder names)
and ``logit_scale`` (100, the paper's).

Preprocessing (docs/reproduction.md#pretrained-models): ``auto`` (or leaving the key out) takes
the library's own for ``torchvision`` (the weights enum's ``transforms()``), ``timm`` (the
pretrained config: input size, crop_pct, crop_mode, interpolation, mean, std) and ``open_clip``
(the model config's image size and the pretrained tag's mean, std, interpolation and resize
mode); a ``checkpoint`` builder declares its own (:data:`DEFAULT_PREPROCESSING`, the standard
Resize(256) + CenterCrop(224) with ImageNet's mean/std, with the builder's changes: SimCLR has
mean 0, std 1). A mapping replaces only the keys it gives. Resolving a library's values imports
the library, so it happens in the job (:func:`ddd.pretrained.preprocess.resolve_preprocessing`);
here the keys and values are only checked, and a normalised spec of a library source keeps just
its overrides.
"""

from __future__ import annotations

import copy
import difflib
import os
import re

from ddd.data import IMAGENET_MEAN, IMAGENET_STD

SOURCES = ("torchvision", "timm", "open_clip", "checkpoint")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
DEFAULT_PREPROCESSING = {"resize": 256, "crop": 224, "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                         "interpolation": "bilinear"}
PREPROCESSING_KEYS = tuple(DEFAULT_PREPROCESSING)
LIBRARY_SOURCES = ("torchvision", "timm", "open_clip")  # preprocessing: auto resolves in the library
_COMMON = {"name", "source", "model", "weights", "preprocessing", "options", "url", "trust_pickle"}
_EXTRA = {"torchvision": {"tag"}, "timm": set(), "checkpoint": set(),
          "open_clip": {"pretrained", "templates", "class_names", "logit_scale"}}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHOW = 5


class PretrainedModelError(ValueError):
    """A model spec, its weights or its fit to the dataset is wrong; raised before inference."""


class WeightsNotFoundError(PretrainedModelError, FileNotFoundError):
    """The weights file is not where the spec (or the library's cache) says."""


class ClassCountError(PretrainedModelError):
    """The model's number of classes is not the dataset's."""


def _size(value, key: str, where: str):
    if value is None:
        return None
    if isinstance(value, bool):
        raise PretrainedModelError(f"{where}.{key} must be a positive integer, [height, width] or null, got {value!r}")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        return [int(v) for v in value]
    raise PretrainedModelError(f"{where}.{key} must be a positive integer, [height, width] or null, got {value!r}")


def _triple(value, key: str, where: str, *, positive: bool):
    ok = isinstance(value, (list, tuple)) and len(value) == 3 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok or (positive and any(v <= 0 for v in value)):
        what = "three positive numbers" if positive else "three numbers"
        raise PretrainedModelError(f"{where}.{key} must be {what} (R, G, B), got {value!r}")
    return [float(v) for v in value]


def check_preprocessing(pre: dict, *, where: str = "preprocessing", complete: bool = True) -> dict:
    """Validate a preprocessing dict; returns it with lists for sizes/mean/std.

    ``complete``: every key of :data:`PREPROCESSING_KEYS` is needed (what :class:`Preprocess`
    takes); else ``pre`` holds overrides, any subset of the keys. Unknown keys are named with
    the allowed ones."""
    if not isinstance(pre, dict):
        raise PretrainedModelError(f"{where} must be a mapping of {list(PREPROCESSING_KEYS)} or 'auto', got {pre!r}")
    unknown = sorted(set(pre) - set(PREPROCESSING_KEYS), key=str)
    if unknown:
        raise PretrainedModelError(f"{where}: unknown keys {unknown}; allowed: {list(PREPROCESSING_KEYS)}")
    missing = [k for k in PREPROCESSING_KEYS if k not in pre]
    if complete and missing:
        raise PretrainedModelError(f"{where}: missing keys {missing} (a library source's preprocessing is "
                                   "completed in the job by ddd.pretrained.preprocess.resolve_preprocessing)")
    out = {}
    if "resize" in pre:
        out["resize"] = _size(pre["resize"], "resize", where)
    if "crop" in pre:
        out["crop"] = _size(pre["crop"], "crop", where)
    if "mean" in pre:
        out["mean"] = _triple(pre["mean"], "mean", where, positive=False)
    if "std" in pre:
        out["std"] = _triple(pre["std"], "std", where, positive=True)
    if "interpolation" in pre:
        if pre["interpolation"] not in INTERPOLATIONS:
            raise PretrainedModelError(f"{where}.interpolation must be one of {list(INTERPOLATIONS)}, "
                                       f"got {pre['interpolation']!r}")
        out["interpolation"] = pre["interpolation"]
    return {k: out[k] for k in PREPROCESSING_KEYS if k in out}


def preprocessing_overrides(value, *, where: str = "preprocessing") -> dict:
    """The overrides a spec's ``preprocessing`` value gives: ``auto``/null/missing -> {}, a mapping
    -> its checked keys."""
    if value is None or value == "auto":
        return {}
    if isinstance(value, str):
        raise PretrainedModelError(f"{where} must be 'auto' or a mapping of any of {list(PREPROCESSING_KEYS)}, "
                                   f"got {value!r}")
    return check_preprocessing(value, where=where, complete=False)


def normalize_spec(spec: dict) -> dict:
    """Check a model spec's keys and types and fill its defaults (no file or library is touched
    except the builder registry for ``checkpoint``). Returns a new dict; raises
    :class:`PretrainedModelError` naming the key."""
    if not isinstance(spec, dict):
        raise PretrainedModelError(f"a model spec must be a dict, got {type(spec).__name__}")
    where = f"model {spec.get('name', '?')!r}"
    missing = [k for k in ("name", "source", "model") if not spec.get(k)]
    if missing:
        raise PretrainedModelError(f"{where}: missing {missing} (a spec needs name, source and model)")
    name, source = spec["name"], spec["source"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise PretrainedModelError(f"model name {name!r} must match {_NAME.pattern} (it names the decisions file)")
    if source not in SOURCES:
        raise PretrainedModelError(f"{where}: unknown source {source!r}; allowed: {', '.join(SOURCES)}")
    if not isinstance(spec["model"], str):
        raise PretrainedModelError(f"{where}: model must be a string, got {spec['model']!r}")
    unknown = sorted(set(spec) - _COMMON - _EXTRA[source])
    if unknown:
        raise PretrainedModelError(f"{where}: unknown keys {unknown} for source {source}; allowed: "
                                   f"{sorted(_COMMON | _EXTRA[source])}")
    out = copy.deepcopy(spec)
    weights = out.get("weights")
    if weights is not None and (not isinstance(weights, str) or not weights):
        raise PretrainedModelError(f"{where}: weights must be a file path or null, got {weights!r}")
    out["weights"] = weights
    options = out.get("options") or {}
    if not isinstance(options, dict):
        raise PretrainedModelError(f"{where}: options must be a mapping, got {options!r}")
    out["options"] = options
    out["url"] = out.get("url")
    out["trust_pickle"] = bool(out.get("trust_pickle", False))
    pre = preprocessing_overrides(out.get("preprocessing"), where=f"{where}: preprocessing")
    if source not in LIBRARY_SOURCES:  # a checkpoint builder's defaults are known without torch
        pre = check_preprocessing({**default_preprocessing(out), **pre}, where=f"{where}: preprocessing")
    out["preprocessing"] = pre
    if source == "torchvision":
        out["tag"] = out.get("tag") or "DEFAULT"
    if source == "open_clip":
        out["pretrained"] = out.get("pretrained")
        out["templates"] = out.get("templates")
        out["class_names"] = out.get("class_names")
        scale = out.get("logit_scale", 100.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise PretrainedModelError(f"{where}: logit_scale must be a positive number, got {scale!r}")
        out["logit_scale"] = float(scale)
    return out


def default_preprocessing(spec: dict) -> dict:
    """The preprocessing of a ``checkpoint`` spec for keys it leaves out: the standard one with
    the builder's changes. (Library sources: :func:`ddd.pretrained.preprocess.library_preprocessing`.)"""
    if spec["source"] in LIBRARY_SOURCES:
        raise PretrainedModelError(f"model {spec.get('name', '?')!r}: the preprocessing of a {spec['source']} "
                                   "model comes from the library (ddd.pretrained.preprocess.library_preprocessing)")
    pre = dict(DEFAULT_PREPROCESSING)
    from ddd.nets import checkpoint_builders, checkpoint_info
    if spec["model"] in checkpoint_builders():
        pre.update(checkpoint_info(spec["model"]).preprocessing)
    return pre


# ---------------------------------------------------------------------------------------------
# Planning-time checks: names known, local weights file present.


def close_matches(name: str, names, what: str) -> str:
    """``unknown <what> '<name>'``, with the close matches among ``names`` if there are any."""
    close = difflib.get_close_matches(name, list(names), n=_SHOW, cutoff=0.5)
    return f"unknown {what} {name!r}" + (f"; close matches: {', '.join(close)}" if close else "")


def missing_weights(path: str, spec: dict, origin: str, *, cache: bool) -> WeightsNotFoundError:
    """The error for a weights file that is not at ``path`` (the spec's file, or the cache's when ``cache``)."""
    how = ("It is looked up in the library's local cache (set `weights:` to a file instead)"
           if cache else "Put the file there, or point `weights:` at your copy")
    where = spec.get("url") or origin or "the model's original release"
    err = WeightsNotFoundError(f"model {spec['name']!r}: weights file {path} does not exist. {how}. "
                               f"Obtain it from: {where}. Nothing is downloaded.")
    err.path, err.origin = path, where  # planning lists every missing file at once (ddd.config)
    return err


def local_weights(spec: dict, origin: str) -> str | None:
    """The absolute path of the spec's ``weights`` file, None when ``weights`` is null; raises
    :class:`WeightsNotFoundError` (naming ``origin``) when the file is missing."""
    if spec["weights"] is None:
        return None
    path = os.path.abspath(os.path.expanduser(spec["weights"]))
    if not os.path.isfile(path):
        raise missing_weights(path, spec, origin, cache=False)
    return path


def torchvision_weights_url(spec: dict, models: dict[str, dict[str, str]]) -> str:
    """The URL of the spec's torchvision weights (``model``, ``tag``), looked up in ``models``
    (name -> {tag -> URL}: the snapshot :mod:`ddd.nets.torchvision_weights` or the installed
    torchvision's). Raises :class:`PretrainedModelError` for an unknown model or tag."""
    if spec["model"] not in models:
        raise PretrainedModelError(f"model {spec['name']!r}: " + close_matches(spec["model"], models,
                                   "torchvision classification model"))
    tags = models[spec["model"]]
    if spec["tag"] not in tags:
        raise PretrainedModelError(f"model {spec['name']!r}: torchvision has no weights {spec['tag']!r} for "
                                   f"{spec['model']}; allowed tags: {', '.join(tags)}")
    return tags[spec["tag"]]


def precheck_model(spec: dict) -> str | None:
    """Cheap checks for planning, no file read and nothing heavy imported: the spec is valid, a
    torchvision, timm or open_clip model (and weights tag) or checkpoint builder name is known
    (close matches listed; timm and open_clip from :mod:`ddd.pretrained.names`' snapshot when it
    fits the version the job runs), and a local weights file exists. The preprocessing's keys are
    checked; a library's values are resolved in the job. Returns the weights file's absolute path,
    or None when ``weights`` is null (the job looks in the cache). Raises
    :class:`PretrainedModelError` (``WeightsNotFoundError``)."""
    spec = normalize_spec(spec)
    origin = ""
    if spec["source"] == "checkpoint":
        from ddd.nets import checkpoint_builders, checkpoint_info
        if spec["model"] not in checkpoint_builders():
            raise PretrainedModelError(f"model {spec['name']!r}: "
                                       + close_matches(spec["model"], checkpoint_builders(), "checkpoint builder"))
        origin = checkpoint_info(spec["model"]).origin
    elif spec["source"] == "torchvision":
        from ddd.nets import torchvision_weights
        origin = torchvision_weights_url(spec, torchvision_weights.models())
    else:
        from ddd.pretrained import names
        known = names.planning_names(spec["source"])
        if known is not None:
            names.check_name(spec, known)
        if spec["source"] == "timm" and "." in spec["model"]:
            origin = f"https://huggingface.co/timm/{spec['model']}"
    return local_weights(spec, origin)


class Preprocess:
    """The spec's preprocessing as a picklable callable (DataLoader workers).

    Geometric steps run on the PIL image (resize with antialiasing, then centre crop), then the
    pixels become float32 in [0, 1] and are normalised: ``(x - mean) / std`` per channel.
    Calling it returns a float32 tensor (3, h, w).
    """

    def __init__(self, preprocessing: dict):
        from torchvision.transforms import InterpolationMode, v2
        pre = check_preprocessing(preprocessing)
        steps = []
        if pre["resize"] is not None:
            steps.append(v2.Resize(pre["resize"], interpolation=InterpolationMode(pre["interpolation"]),
                                   antialias=True))
        if pre["crop"] is not None:
            steps.append(v2.CenterCrop(pre["crop"]))
        self.steps = v2.Compose(steps) if steps else None
        self.mean, self.std = tuple(pre["mean"]), tuple(pre["std"])

    def __call__(self, image):
        import numpy as np
        import torch
        from PIL import Image
        if isinstance(image, Image.Image):
            image = image.convert("RGB")
        if self.steps is not None:
            image = self.steps(image)
        if isinstance(image, Image.Image):
            x = torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1)
        else:
            x = image.as_subclass(torch.Tensor)
        if x.dtype != torch.uint8 or x.ndim != 3 or x.shape[0] != 3:
            raise ValueError(f"expected an RGB image, got {x.dtype} {tuple(x.shape)}")
        x = x.to(torch.float32).div_(255.0)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(3, 1, 1)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Preprocess({self.steps!r}, mean={self.mean}, std={self.std})"
