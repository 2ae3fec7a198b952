"""A pretrained model's preprocessing as its library defines it, with the spec's overrides on top.

``preprocessing: auto`` (the default of the ``torchvision``, ``timm`` and ``open_clip``
sources) is resolved here, from the configuration each library ships with the model, without
downloading anything (docs/reproduction.md#pretrained-models):

- torchvision: the weights enum member's ``transforms()`` (``ImageClassification``):
  Resize(``resize_size``) of the shorter side, CenterCrop(``crop_size``), its interpolation, mean
  and std. E.g. ResNet-50 ``IMAGENET1K_V2``: Resize(232) + CenterCrop(224), bilinear.
- timm: the pretrained config (``timm.get_pretrained_cfg``) through
  ``timm.data.resolve_data_config``, read as ``timm.data.create_transform`` builds its evaluation
  transform: crop mode ``center``: Resize(floor(size / crop_pct)) of the shorter side +
  CenterCrop(size); ``squash``: Resize([floor(h / crop_pct), floor(w / crop_pct)]) without keeping
  the aspect + CenterCrop([h, w]); interpolation, mean and std as configured.
- open_clip: the model config's ``vision_cfg.image_size`` and the pretrained tag's config merged
  onto open_clip's ``PreprocessCfg`` defaults (OpenAI's mean/std, bicubic, resize mode
  ``shortest``), read as ``open_clip.image_transform_v2`` builds its evaluation transform:
  ``shortest``: Resize(size) + CenterCrop(size); ``squash``: Resize([size, size]), no crop.

Transforms ddd cannot express with its five keys (timm's ``border`` crop mode and a non-square
``center`` size, open_clip's ``longest`` resize mode: resize the longest side and pad) are
refused, naming the model, unless the spec sets ``resize`` and ``crop`` itself. The resolved
values equal the library's transform; tests/test_preprocess.py builds both for every
torchvision classification weight and dozens of timm and open_clip configurations and compares
their parameters and their output on an image.
"""

from __future__ import annotations

import math
from functools import lru_cache

from ddd.pretrained.spec import (LIBRARY_SOURCES, PREPROCESSING_KEYS, PretrainedModelError, check_preprocessing,
                                 default_preprocessing, normalize_spec, torchvision_weights_url)

__all__ = ["library_preprocessing", "resolve_preprocessing", "resolve_spec"]


def _what(spec: dict) -> str:
    return f"model {spec['name']!r} ({spec['source']} {spec['model']})"


@lru_cache(maxsize=1)
def _torchvision_models() -> dict:
    from ddd.nets import torchvision_weights
    return torchvision_weights.snapshot()["models"]  # the installed torchvision's


def _torchvision(spec: dict) -> tuple[dict, str]:
    from torchvision import models as tvm
    torchvision_weights_url(spec, _torchvision_models())  # unknown model or tag: the closest names
    weights = tvm.get_model_weights(spec["model"])[spec["tag"]]
    t = weights.transforms()
    fields = ("resize_size", "crop_size", "mean", "std", "interpolation", "antialias")
    if type(t).__name__ != "ImageClassification" or not all(hasattr(t, f) for f in fields) or t.antialias is False:
        raise PretrainedModelError(f"{_what(spec)}: the weights' transforms() is {type(t).__name__}, not "
                                   "ImageClassification; set every preprocessing key")
    pre = {"resize": int(t.resize_size[0]), "crop": int(t.crop_size[0]), "mean": list(t.mean),
           "std": list(t.std), "interpolation": t.interpolation.value}
    return pre, f"torchvision {type(weights).__name__}.{weights.name}.transforms()"


def _timm_size(size):
    h, w = size
    return h if h == w else [h, w]


def _timm(spec: dict) -> tuple[dict, str]:
    from ddd.pretrained.names import check_timm_name, library_names
    from ddd.pretrained.sources import _optional
    timm = _optional("timm", "timm")
    from timm.data import resolve_data_config
    check_timm_name(spec, library_names("timm"))
    cfg = timm.get_pretrained_cfg(spec["model"])
    if cfg is None:
        raise PretrainedModelError(f"{_what(spec)}: timm has no pretrained config for it; set every "
                                   f"preprocessing key ({', '.join(PREPROCESSING_KEYS)})")
    data = resolve_data_config(pretrained_cfg=cfg.to_dict())
    h, w = (int(v) for v in data["input_size"][-2:])
    crop_pct, mode = data["crop_pct"], data["crop_mode"] or "center"
    scale = [math.floor(h / crop_pct), math.floor(w / crop_pct)]
    if mode == "squash":
        resize = scale
    elif mode in ("center", None) and scale[0] == scale[1]:
        resize = scale[0]
    else:
        resize = None  # border, or center with a non-square size: not expressible
    pre = {"resize": resize, "crop": _timm_size((h, w)), "mean": [float(v) for v in data["mean"]],
           "std": [float(v) for v in data["std"]], "interpolation": data["interpolation"]}
    what = f"timm pretrained config {cfg.architecture}.{cfg.tag} (crop_pct {crop_pct}, crop_mode {mode})"
    if resize is None:
        how = "resize the longest side, then pad" if mode == "border" else "keep the aspect, non-square size"
        pre["unsupported"] = f"timm's crop mode {mode!r} with input size {h}x{w} ({how})"
    return pre, what


def _open_clip(spec: dict) -> tuple[dict, str]:
    from dataclasses import asdict

    from ddd.pretrained.names import check_open_clip_name, library_names
    from ddd.pretrained.sources import _optional
    open_clip = _optional("open_clip", "clip")
    from open_clip.transform import PreprocessCfg, merge_preprocess_dict
    check_open_clip_name(spec, library_names("open_clip"))
    model, tag = spec["model"], spec.get("pretrained")
    cfg = asdict(PreprocessCfg())
    if tag is not None:
        cfg = merge_preprocess_dict(cfg, open_clip.get_pretrained_cfg(model, tag) or {})
    size = (open_clip.get_model_config(model) or {}).get("vision_cfg", {}).get("image_size", 224)
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    interpolation = "bilinear" if cfg["interpolation"] == "bilinear" else "bicubic"  # as image_transform
    pre = {"mean": [float(v) for v in cfg["mean"]], "std": [float(v) for v in cfg["std"]],
           "interpolation": interpolation}
    mode = cfg["resize_mode"]
    if mode == "squash":
        pre.update(resize=[h, w], crop=None)
    elif mode == "shortest" and h == w:
        pre.update(resize=h, crop=h)
    else:
        how = "resize the longest side, then pad" if mode == "longest" else "keep the aspect, non-square size"
        pre.update(resize=None, crop=None, unsupported=f"open_clip's resize mode {mode!r} with size {h}x{w} ({how})")
    return pre, f"open_clip {model}" + (f" pretrained {tag!r}" if tag else "") + f" (resize_mode {mode})"


_LIBRARIES = {"torchvision": _torchvision, "timm": _timm, "open_clip": _open_clip}


def library_preprocessing(spec: dict) -> tuple[dict, str]:
    """The preprocessing the spec's library defines for its model (imports the library; nothing
    is downloaded), and where it comes from (text).

    ``checkpoint`` specs: the builder's declared preprocessing
    (:func:`ddd.pretrained.spec.default_preprocessing`). Raises :class:`PretrainedModelError` for a
    model or tag the library does not know (close names listed).

    Returns
    -------
    (dict with the five keys of :data:`ddd.pretrained.spec.PREPROCESSING_KEYS`, plus ``unsupported``
    when the library's resize/crop cannot be expressed; description)
    """
    spec = normalize_spec(spec)
    if spec["source"] not in LIBRARY_SOURCES:
        return default_preprocessing(spec), f"checkpoint builder {spec['model']}"
    return _LIBRARIES[spec["source"]](spec)


def _resolve(spec: dict) -> tuple[dict, dict, str]:
    """(complete preprocessing, the library's values, where they come from) of a normalised spec."""
    overrides = spec["preprocessing"]
    if spec["source"] not in LIBRARY_SOURCES:  # normalised complete already
        library, origin = default_preprocessing(spec), f"checkpoint builder {spec['model']}"
    else:
        library, origin = library_preprocessing(spec)
    unsupported = library.pop("unsupported", None)
    if unsupported and not {"resize", "crop"} <= set(overrides):
        raise PretrainedModelError(f"{_what(spec)}: {origin}: {unsupported} cannot be expressed as "
                                   "resize + centre crop; set preprocessing.resize and preprocessing.crop")
    resolved = check_preprocessing({**library, **overrides}, where=f"{_what(spec)}: preprocessing")
    return resolved, library, origin


def resolve_preprocessing(spec: dict) -> dict:
    """The spec's complete preprocessing: the library's (:func:`library_preprocessing`) with the
    spec's ``preprocessing`` keys on top (all five keys, checked). Idempotent: a resolved spec
    resolves to the same."""
    return _resolve(normalize_spec(spec))[0]


def resolve_spec(spec: dict) -> tuple[dict, dict]:
    """The normalised spec with its complete preprocessing, and a record for the decisions file:
    ``{"resolved": the complete preprocessing, "from": where the library's values come from,
    "library": its values, "overrides": the keys whose value differs from the library's}``."""
    spec = normalize_spec(spec)
    resolved, library, origin = _resolve(spec)
    library = check_preprocessing(library, where=f"{_what(spec)}: the library's preprocessing", complete=False)
    out = dict(spec)
    out["preprocessing"] = resolved
    return out, {"resolved": resolved, "from": origin, "library": library,
                 "overrides": {k: v for k, v in resolved.items() if v != library.get(k)}}
