"""The four sources of pretrained models: torchvision, checkpoint builders, timm and open_clip.

Each turns a normalised spec into a :class:`Prepared`: the weights file resolved (the spec's
path, or the file the library's *local* cache would hold; :mod:`ddd.pretrained.weights`), read
into a state dict in the network's key layout, and a function that builds the network.
``ddd.pretrained.load`` compares the two before anything is run. No function here downloads:
``torch.hub``/``timm``/``open_clip`` loaders that could fetch are never called with a URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ddd import nets
from ddd.nets import torchvision_weights
from ddd.nets.checkpoints import unwrap_state_dict
from ddd.pretrained.spec import (ClassCountError, PretrainedModelError, close_matches, local_weights,
                                 missing_weights, torchvision_weights_url)
from ddd.pretrained.weights import hf_cache_dir, hf_cached_file, hub_checkpoint_path, read_weights


@dataclass
class Prepared:
    """A spec made ready to build: ``build()`` makes the network with random weights,
    ``state_dict`` fits it, ``finish(net)`` wraps it (e.g. the CLIP zero-shot head)."""

    spec: dict
    build: Callable[[], nn.Module]
    state_dict: dict
    weights_path: str
    versions: dict = field(default_factory=dict)
    finish: Callable[[nn.Module, torch.device], nn.Module] | None = None


def _read(path: str, spec: dict, **kw):
    return read_weights(path, trust_pickle=spec["trust_pickle"], **kw)


def _optional(module: str, extra: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise PretrainedModelError(f"source needs the optional package {module!r} ({err}): "
                                   f"pip install 'ddd[{extra}]'") from None


def _cached(spec: dict, path: str | None, file_name: str, origin: str) -> str:
    """``path`` (the spec's own file), else ``file_name`` in torch.hub's cache, which must exist."""
    if path is None:
        path = hub_checkpoint_path(file_name)
        if not os.path.isfile(path):
            raise missing_weights(path, spec, origin, cache=True)
    return path


# ---------------------------------------------------------------------------------------------
# torchvision and the checkpoint builders.


def _densenet_fix(sd: dict) -> dict:
    """Old DenseNet checkpoints name ``norm.1`` what torchvision now calls ``norm1`` (as torchvision's loader)."""
    import re
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
                         r"((?:[12])\.(?:weight|bias|running_mean|running_var))$")
    out = {}
    for k, v in sd.items():
        m = pattern.match(k)
        out[m.group(1) + m.group(2) if m else k] = v
    return out


def _torchvision(spec: dict, n_classes: int, **_) -> Prepared:
    import torchvision
    from torchvision import models as tvm
    url = torchvision_weights_url(spec, torchvision_weights.snapshot()["models"])  # the installed torchvision's
    path = _cached(spec, local_weights(spec, url), os.path.basename(url), url)
    sd = unwrap_state_dict(_read(path, spec))
    if spec["model"].startswith("densenet"):
        sd = _densenet_fix(sd)
    options = spec["options"]
    return Prepared(spec, lambda: tvm.get_model(spec["model"], weights=None, num_classes=n_classes, **options),
                    sd, path, {"torchvision_version": torchvision.__version__})


def _checkpoint(spec: dict, n_classes: int, **_) -> Prepared:
    name = spec["model"]
    try:
        info = nets.checkpoint_info(name)
    except KeyError as err:
        raise PretrainedModelError(f"model {spec['name']!r}: {err.args[0]}") from None
    path = local_weights(spec, info.origin)
    if path is None and not info.file_name:
        raise PretrainedModelError(f"model {spec['name']!r}: checkpoint builder {name!r} needs "
                                   f"`weights:` (a local file). Origin: {spec.get('url') or info.origin}")
    path = _cached(spec, path, info.file_name, info.origin)
    obj = _read(path, spec)
    if info.check is not None:
        problems = nets.resolve(info.check)(obj, spec["preprocessing"])
        if problems:
            raise PretrainedModelError(f"model {spec['name']!r} ({path}): " + "; ".join(problems))
    try:
        sd = nets.resolve(info.extract)(obj)
    except ValueError as err:
        raise PretrainedModelError(f"model {spec['name']!r}: {path}: {err}") from None
    options = spec["options"]
    return Prepared(spec, lambda: nets.build_checkpoint_network(name, n_classes, **options), sd, path)


# ---------------------------------------------------------------------------------------------
# timm.


def _timm(spec: dict, n_classes: int, **_) -> Prepared:
    timm = _optional("timm", "timm")
    from ddd.pretrained.names import check_timm_name, library_names
    check_timm_name(spec, library_names("timm"))  # unknown model or tag: the closest names
    origin, cached, where = "", None, None
    try:
        cfg = timm.models.get_pretrained_cfg(spec["model"])
    except Exception:  # noqa: BLE001  (names without a pretrained config)
        cfg = None
    if cfg is not None:
        if cfg.hf_hub_id:
            origin = f"https://huggingface.co/{cfg.hf_hub_id}"
            cached, where = hf_cached_file(cfg.hf_hub_id, ("model.safetensors", "pytorch_model.bin"))
        elif cfg.url:
            origin = cfg.url
            where = hub_checkpoint_path(os.path.basename(cfg.url))
            cached = where if os.path.isfile(where) else None
    path = local_weights(spec, origin)
    if path is None:
        if cached is None:
            raise missing_weights(where or f"(no cached file known for {spec['model']})", spec, origin, cache=True)
        path = cached
    sd = unwrap_state_dict(_read(path, spec))
    options = spec["options"]
    return Prepared(spec, lambda: timm.create_model(spec["model"], pretrained=False, num_classes=n_classes,
                                                    **options),
                    sd, path, {"timm_version": timm.__version__})


# ---------------------------------------------------------------------------------------------
# open_clip, with CLIP's zero-shot head.


def _open_clip_cfg(open_clip, spec: dict) -> dict:
    """The pretrained config of the spec's model and tag ({} without a tag); unknown ones refused."""
    model, tag = spec["model"], spec["pretrained"]
    if model not in open_clip.list_models():
        raise PretrainedModelError(f"model {spec['name']!r}: " + close_matches(model, open_clip.list_models(),
                                   "open_clip model"))
    if tag is None:
        return {}
    tags = open_clip.list_pretrained_tags_by_model(model)
    if tag not in tags:
        raise PretrainedModelError(f"model {spec['name']!r}: open_clip has no pretrained tag {tag!r} for "
                                   f"{model}; tags: {', '.join(tags) or 'none'}")
    return open_clip.get_pretrained_cfg(model, tag) or {}


def _open_clip_cached(spec: dict, cfg: dict, origin: str) -> str:
    """The cached weights of an open_clip tag: the Hugging Face hub cache, else OpenAI's CLIP cache."""
    candidates, path = [], None
    if cfg.get("hf_hub"):
        found, where = hf_cached_file(cfg["hf_hub"].strip("/"),
                                      ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"))
        candidates.append(where)
        path = found
    if path is None and cfg.get("url"):
        for d in (os.path.expanduser("~/.cache/clip"), os.path.join(hf_cache_dir(), "..", "clip")):
            p = os.path.join(d, os.path.basename(cfg["url"]))
            candidates.append(p)
            path = path or (p if os.path.isfile(p) else None)
    if path is None:
        raise missing_weights(" or ".join(candidates) or f"(no pretrained tag given for {spec['model']})", spec,
                              origin, cache=True)
    return path


def _open_clip_network(open_clip, spec: dict, cfg: dict, names: list, templates: list):
    """``(build, finish)``: the bare CLIP model, and the zero-shot classifier around it."""
    from ddd.pretrained.clip import ZeroShotClassifier, zero_shot_weights
    model, options, scale = spec["model"], spec["options"], spec["logit_scale"]
    quick_gelu = bool(cfg.get("quick_gelu", False))

    def finish(clip: nn.Module, device) -> nn.Module:
        clip = clip.to(device).eval()
        tokenizer = open_clip.get_tokenizer(model)
        with torch.inference_mode():
            w = zero_shot_weights(clip.encode_text, tokenizer, names, templates, device=device)
        return ZeroShotClassifier(clip, w, scale=scale)

    def build() -> nn.Module:
        import logging
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # "No pretrained weights loaded": ddd loads them next
        try:
            return open_clip.create_model(model, pretrained=None, force_quick_gelu=quick_gelu, **options)
        finally:
            logging.disable(previous)

    return build, finish


def _open_clip(spec: dict, n_classes: int, *, class_names=None, dataset_kind=None, **_) -> Prepared:
    open_clip = _optional("open_clip", "clip")
    from ddd.pretrained.clip import read_class_names, read_templates
    cfg = _open_clip_cfg(open_clip, spec)
    names = read_class_names(spec["class_names"], dataset_class_names=class_names, n_classes=n_classes,
                             dataset_kind=dataset_kind)
    if len(names) != n_classes:
        raise ClassCountError(f"model {spec['name']!r}: {len(names)} class names for a dataset of "
                              f"{n_classes} classes")
    templates = read_templates(spec["templates"])
    origin = cfg.get("url") or (f"https://huggingface.co/{cfg['hf_hub'].strip('/')}" if cfg.get("hf_hub") else "")
    path = local_weights(spec, origin) or _open_clip_cached(spec, cfg, origin)
    sd = unwrap_state_dict(_read(path, spec, torchscript=True))
    for key in ("input_resolution", "context_length", "vocab_size"):  # OpenAI's JIT files carry these
        sd.pop(key, None)
    build, finish = _open_clip_network(open_clip, spec, cfg, names, templates)
    return Prepared(spec, build, sd, path, {"open_clip_version": open_clip.__version__}, finish=finish)


#: Source name (``ddd.pretrained.spec.SOURCES``) -> ``f(spec, n_classes, *, class_names, dataset_kind)``.
PREPARERS = {"torchvision": _torchvision, "checkpoint": _checkpoint, "timm": _timm, "open_clip": _open_clip}
