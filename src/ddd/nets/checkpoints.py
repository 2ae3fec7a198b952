"""Checkpoints that ship as plain state dicts: finding the state dict in a released file, and
the builders of torchvision-layout networks (docs/reproduction.md#pretrained-models).

The registry (:data:`ddd.nets.REGISTRY`) names, for every checkpoint builder, its build function,
how to find the state dict in the file as released (``extract``), which input it expects when
that differs from the standard ImageNet preprocessing, and where the file comes from (text
only: nothing is ever downloaded). ``ddd.pretrained`` compares the extracted keys and shapes
with the built network before any image is read.

Key layouts, and how far they were checked (read from the original code; the released files
themselves were not available here, so no builder was run on real weights):

- ``resnet50_sin`` (Geirhos et al. 2019, rgeirhos/texture-vs-shape): torchvision ResNet-50 saved
  from ``DataParallel``: ``{"state_dict": {"module.conv1.weight", ...}, ...}``. The prefix is
  stripped. Layout read from model-vs-human's ``texture_shape_models.py``.
- ``resnet50_l2_eps1`` (Salman et al. 2020, MadryLab/robustness): ``{"model": {...}}`` (some
  copies ``{"state_dict": ...}``) holding an ``AttackerModel``: ``module.normalizer.new_mean`` /
  ``new_std`` (the input normaliser, ImageNet statistics, inputs clamped to [0, 1] first),
  ``module.model.*`` (a torchvision ResNet-50) and ``module.attacker.*`` (a second reference to
  the same network). Only ``module.model.*`` (or ``model.*``) is kept, as model-vs-human does;
  the normaliser's statistics are checked against the spec's mean/std instead of being applied
  inside the network. Layout read from model-vs-human's ``robust_models.py`` and the
  robustness library's ``InputNormalize``.
- ``simclr_resnet50x1`` (Chen et al. 2020, converted from TensorFlow by tonylins/simclr-converter):
  ``{"state_dict": {...}}`` with torchvision ResNet-50 key names (the converter fills a
  torchvision-layout ResNet module by module). SimCLR was trained on inputs in [0, 1] *without*
  mean/std normalisation, so this builder's default preprocessing has mean 0 and std 1; this is
  what model-vs-human's ``Unnormalize`` layer achieves after its ImageNet normalisation. Note:
  the converter assigns the TF head's bias to ``model.fc.weight.bias`` (an attribute, not the
  parameter), so ``fc.bias`` in the converted file is that of a freshly initialised layer; ddd
  loads the file as it is, like model-vs-human. Layout read from ``convert.py`` and
  model-vs-human's ``simclr.py``.
- ``bagnet9`` / ``bagnet17`` / ``bagnet33`` (Brendel & Bethge 2019,
  wielandbrendel/bag-of-local-features-models): :class:`ddd.nets.bagnet.BagNet` reproduces the
  original module names; the original loads the release into the bare network, so keys carry no
  prefix (a ``module.`` prefix is stripped anyway).
- ``cornet_rt`` (Kubilius et al. 2019, dicarlolab/CORnet): :class:`ddd.nets.cornet.CORnetRT`
  reproduces ``cornet_rt.py``'s names; the release is saved from ``DataParallel``:
  ``{"state_dict": {"module.V1.conv_input.weight", ...}}``.
- ``torchvision``: any torchvision classification network (option ``arch``), for other plain
  state dicts (``{"state_dict"|"model": ...}`` unwrapped, ``module.`` stripped).
"""

from __future__ import annotations

import difflib
from collections import OrderedDict

import torch
from torch import nn

# ---------------------------------------------------------------------------------------------
# Finding the state dict inside a released file.

_WRAPPERS = ("state_dict", "model", "model_state_dict", "net", "network")


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def strip_prefix(sd: dict, prefix: str) -> dict:
    """``sd`` with ``prefix`` removed from every key, if *every* key has it; otherwise unchanged."""
    if sd and all(k.startswith(prefix) for k in sd):
        return OrderedDict((k[len(prefix):], v) for k, v in sd.items())
    return sd


def unwrap_state_dict(obj) -> dict:
    """The state dict in a loaded checkpoint: ``obj`` itself if it maps names to tensors, else
    the first of ``obj["state_dict"|"model"|"model_state_dict"|"net"|"network"]`` that does;
    a ``module.`` prefix (``DataParallel``) on every key is stripped.

    Raises ValueError naming the top-level keys when none is found.
    """
    sd = obj if _is_state_dict(obj) else None
    if sd is None and isinstance(obj, dict):
        for key in _WRAPPERS:
            if _is_state_dict(obj.get(key)):
                sd = obj[key]
                break
    if sd is None:
        what = f"a dict with keys {sorted(map(str, obj))[:10]}" if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"found no state dict (name -> tensor) in the file: it holds {what}; "
                         f"looked at the top level and under {list(_WRAPPERS)}")
    return strip_prefix(sd, "module.")


def robust_extract(obj) -> dict:
    """robustness-library checkpoint -> torchvision ResNet state dict (``module.model.*`` only)."""
    sd = obj
    if isinstance(obj, dict) and not _is_state_dict(obj):
        for key in ("model", "state_dict"):
            if _is_state_dict(obj.get(key)):
                sd = obj[key]
                break
    if not _is_state_dict(sd):
        return unwrap_state_dict(obj)  # raises with the keys found
    for prefix in ("module.model.", "model."):
        kept = OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))
        if kept:
            return kept
    return strip_prefix(sd, "module.")  # already a bare ResNet state dict


def robust_check(obj, preprocessing: dict) -> list:
    """The stored input normaliser must match the spec's mean/std (it is replaced by them)."""
    sd = obj.get("model", obj.get("state_dict", obj)) if isinstance(obj, dict) else {}
    problems = []
    for key, name in (("new_mean", "mean"), ("new_std", "std")):
        stored = next((v for k, v in sd.items() if k.endswith(f"normalizer.{key}")), None) \
            if isinstance(sd, dict) else None
        if stored is None:
            continue
        stored = stored.flatten().double()
        want = torch.tensor(preprocessing[name], dtype=torch.float64)
        if stored.shape != want.shape or not torch.allclose(stored, want, atol=1e-4):
            problems.append(f"the checkpoint's input normaliser has {name} {stored.tolist()} but the "
                            f"spec's preprocessing has {preprocessing[name]}: set preprocessing.{name} "
                            "to the stored values")
    return problems


# ---------------------------------------------------------------------------------------------
# torchvision-layout builders.


def _tv(arch: str, num_classes: int, **options) -> nn.Module:
    from torchvision import models as tvm
    return tvm.get_model(arch, weights=None, num_classes=num_classes, **options)


def torchvision_any(num_classes, *, arch, **options):
    """Any torchvision classification network ``arch``; other options go to its constructor."""
    from torchvision import models as tvm
    names = tvm.list_models(module=tvm)
    if arch not in names:
        close = difflib.get_close_matches(arch, names, n=5, cutoff=0.5)
        raise ValueError(f"unknown torchvision classification model {arch!r}"
                         + (f"; did you mean {', '.join(close)}?" if close else ""))
    return _tv(arch, num_classes, **options)


def torchvision_resnet50(num_classes):
    """torchvision's ResNet-50 (``resnet50_sin``, ``resnet50_l2_eps1``, ``simclr_resnet50x1``)."""
    return _tv("resnet50", num_classes)
