"""Builders for pretrained weights that ship as plain state dicts (the ``checkpoint`` source).

A builder knows one published checkpoint: how to build its network (``build(num_classes,
**options)``), how to find the state dict inside the file as released (``extract``), which
input it expects when that differs from the standard ImageNet preprocessing
(``preprocessing``), and where the file comes from (``origin``, text only: nothing is ever
downloaded). ``ddd.pretrained`` compares the extracted keys and shapes with the built network
before any image is read.

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
  wielandbrendel/bag-of-local-features-models): :class:`BagNet` below reproduces the original
  ``pytorchnet.py`` module names (``conv1``, ``conv2``, ``bn1``, ``layer1..4`` of bottlenecks with
  ``conv1..3``/``bn1..3``/``downsample.0/1``, ``fc``); the original loads the release into the
  bare network, so keys carry no prefix (a ``module.`` prefix is stripped anyway).
- ``cornet_rt`` (Kubilius et al. 2019, dicarlolab/CORnet): :class:`CORnetRT` below reproduces
  ``cornet_rt.py``'s names (``V1``/``V2``/``V4``/``IT`` with ``conv_input``, ``norm_input``,
  ``conv1``, ``norm1``; ``decoder.linear``); the release is saved from ``DataParallel``:
  ``{"state_dict": {"module.V1.conv_input.weight", ...}}``.
- ``torchvision``: any torchvision classification network (option ``arch``), for other plain
  state dicts (``{"state_dict"|"model": ...}`` unwrapped, ``module.`` stripped).
"""

from __future__ import annotations

import difflib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Builder:
    """One registered checkpoint builder; see the module docstring."""

    name: str
    build: Callable[..., nn.Module]
    extract: Callable[[object], dict]
    origin: str = ""
    file_name: str | None = None
    preprocessing: dict = field(default_factory=dict)
    check: Callable[[object, dict], list] | None = None  # (loaded file, preprocessing) -> problems


BUILDERS: dict[str, Builder] = {}


def register_builder(name: str, *, extract, origin: str = "", file_name: str | None = None,
                     preprocessing: dict | None = None, check=None):
    """Decorator: register ``build(num_classes, **options) -> nn.Module`` as checkpoint builder ``name``."""
    def wrap(build):
        if name in BUILDERS:
            raise ValueError(f"checkpoint builder {name!r} registered twice")
        BUILDERS[name] = Builder(name, build, extract, origin, file_name, dict(preprocessing or {}), check)
        return build
    return wrap


def available_builders() -> list[str]:
    return sorted(BUILDERS)


def get_builder(name: str) -> Builder:
    """The builder registered as ``name``; an unknown name lists the close matches."""
    if name not in BUILDERS:
        close = difflib.get_close_matches(name, BUILDERS, n=5, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown checkpoint builder {name!r}.{hint} Registered: {', '.join(available_builders())}")
    return BUILDERS[name]


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


def _robust_extract(obj) -> dict:
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


def _robust_check(obj, preprocessing: dict) -> list:
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


def _torchvision(arch: str, num_classes: int, **options) -> nn.Module:
    from torchvision import models as tvm
    return tvm.get_model(arch, weights=None, num_classes=num_classes, **options)


@register_builder("torchvision", extract=unwrap_state_dict,
                  origin="your own file: a state dict of torchvision.models.<arch> (option arch)")
def _torchvision_any(num_classes, *, arch, **options):
    from torchvision import models as tvm
    names = tvm.list_models(module=tvm)
    if arch not in names:
        close = difflib.get_close_matches(arch, names, n=5, cutoff=0.5)
        raise ValueError(f"unknown torchvision classification model {arch!r}"
                         + (f"; did you mean {', '.join(close)}?" if close else ""))
    return _torchvision(arch, num_classes, **options)


@register_builder(
    "resnet50_sin", extract=unwrap_state_dict, file_name="resnet50_train_60_epochs-c8e5653e.pth.tar",
    origin="https://bitbucket.org/robert_geirhos/texture-vs-shape-pretrained-models/raw/"
           "6f41d2e86fc60566f78de64ecff35cc61eb6436f/resnet50_train_60_epochs-c8e5653e.pth.tar "
           "(rgeirhos/texture-vs-shape: ResNet-50 trained on Stylized-ImageNet)")
def _resnet50_sin(num_classes):
    return _torchvision("resnet50", num_classes)


@register_builder(
    "resnet50_l2_eps1", extract=_robust_extract, check=_robust_check, file_name="resnet50_l2_eps1.ckpt",
    origin="https://huggingface.co/madrylab/robust-imagenet-models/resolve/main/resnet50_l2_eps1.ckpt "
           "(MadryLab/robustness, microsoft/robust-models-transfer: ResNet-50, L2 eps 1.0)")
def _resnet50_l2_eps1(num_classes):
    return _torchvision("resnet50", num_classes)


@register_builder(
    "simclr_resnet50x1", extract=unwrap_state_dict, file_name="simclr-resnet50-x1",
    preprocessing={"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)},
    origin="google-research/simclr's ResNet-50 (1x) with its supervised linear head, converted to "
           "PyTorch with tonylins/simclr-converter (convert.py <tf checkpoint> <out.pth>); "
           "model-vs-human's copy: Google Drive file id 1a6IO4xhWy8cdyAuWv0BxSONz7lMcKbZE")
def _simclr_resnet50x1(num_classes):
    return _torchvision("resnet50", num_classes)


# ---------------------------------------------------------------------------------------------
# BagNet (Brendel & Bethge 2019), with the original module names.


class BagNetBottleneck(nn.Module):
    """ResNet bottleneck whose middle conv has no padding (kernel 1 or 3); the residual is
    cropped at the bottom/right to the output's size, as in the original."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, kernel_size: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=kernel_size, stride=stride, padding=0, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        if residual.size(-1) != out.size(-1):
            diff = residual.size(-1) - out.size(-1)
            residual = residual[:, :, :-diff, :-diff]
        return self.relu(out + residual)


class BagNet(nn.Module):
    """BagNet: a ResNet-50 whose 3x3 convolutions are replaced by 1x1 ones except in the first
    ``kernel3[i]`` blocks of stage ``i``, limiting the receptive field (33 px for BagNet-33).

    Input (B, 3, H, W); output logits (B, num_classes). The final average pool spans the whole
    map (the original's ``AvgPool2d(x.size(2))``, which assumes H = W).
    """

    def __init__(self, layers=(3, 4, 6, 3), *, strides=(2, 2, 2, 1), kernel3=(1, 1, 1, 1),
                 num_classes: int = 1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=1, stride=1, padding=0, bias=False)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, stride=1, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=0.001)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(64, layers[0], strides[0], kernel3[0])
        self.layer2 = self._make_layer(128, layers[1], strides[1], kernel3[1])
        self.layer3 = self._make_layer(256, layers[2], strides[2], kernel3[2])
        self.layer4 = self._make_layer(512, layers[3], strides[3], kernel3[3])
        self.fc = nn.Linear(512 * BagNetBottleneck.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, (2.0 / n) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes: int, blocks: int, stride: int, kernel3: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, kernel_size=1, stride=stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
        layers = [BagNetBottleneck(self.inplanes, planes, stride, downsample, kernel_size=1 if kernel3 == 0 else 3)]
        self.inplanes = planes * 4
        for i in range(1, blocks):
            layers.append(BagNetBottleneck(self.inplanes, planes, kernel_size=1 if kernel3 <= i else 3))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv2(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = nn.functional.avg_pool2d(x, (x.size(2), x.size(3)), stride=1)  # the original's AvgPool2d(H)
        return self.fc(torch.flatten(x, 1))


_BAGNET_URL = ("https://bitbucket.org/wielandbrendel/bag-of-feature-pretrained-models/raw/"
               "249e8fa82c0913623a807d9d35eeab9da7dcc2a8/")
for _name, _file, _k3 in (("bagnet9", "bagnet8-34f4ccd2.pth.tar", (1, 1, 0, 0)),
                          ("bagnet17", "bagnet16-105524de.pth.tar", (1, 1, 1, 0)),
                          ("bagnet33", "bagnet32-2ddd53ed.pth.tar", (1, 1, 1, 1))):
    def _bagnet(num_classes, *, strides=(2, 2, 2, 1), _k3=_k3):
        return BagNet((3, 4, 6, 3), strides=tuple(strides), kernel3=_k3, num_classes=num_classes)
    register_builder(_name, extract=unwrap_state_dict, file_name=_file,
                     origin=f"{_BAGNET_URL}{_file} (wielandbrendel/bag-of-local-features-models; "
                            "the file name counts the receptive field from 0)")(_bagnet)


# ---------------------------------------------------------------------------------------------
# CORnet-RT (Kubilius et al. 2019), with the original module names.


class CORblockRT(nn.Module):
    """One area of CORnet-RT: input conv (+GroupNorm, ReLU) added to the area's state, then a
    3x3 conv (+GroupNorm, ReLU) giving the new output = state."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1):
        super().__init__()
        self.out_channels = out_channels
        self.conv_input = nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=stride,
                                    padding=kernel_size // 2)
        self.norm_input = nn.GroupNorm(32, out_channels)
        self.nonlin_input = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(32, out_channels)
        self.nonlin1 = nn.ReLU(inplace=True)

    def out_size(self, size: int) -> int:
        """Spatial size of this block's output for an input of ``size`` pixels."""
        c = self.conv_input
        return (size + 2 * c.padding[0] - c.kernel_size[0]) // c.stride[0] + 1

    def forward(self, inp=None, state=None, *, zeros_like=None):
        """``inp`` None (t = 0 above V1): the input is zeros of ``zeros_like``'s shape."""
        if inp is None:
            inp = zeros_like
        else:
            inp = self.nonlin_input(self.norm_input(self.conv_input(inp)))
        skip = inp if state is None else inp + state
        return self.nonlin1(self.norm1(self.conv1(skip)))


class CORnetRT(nn.Module):
    """CORnet-RT: V1 -> V2 -> V4 -> IT, unrolled over ``times`` steps, then avgpool + linear.

    At t = 0 only V1 sees the image; the areas above start from zero input (the original uses
    fixed 56/28/14/7 maps for 224 px; here the sizes follow the input). At step t every area
    takes the previous step's output of the area below and its own state. Input (B, 3, H, W),
    output logits (B, num_classes).
    """

    AREAS = ("V1", "V2", "V4", "IT")

    def __init__(self, times: int = 5, num_classes: int = 1000):
        super().__init__()
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        self.times = times
        self.V1 = CORblockRT(3, 64, kernel_size=7, stride=4)
        self.V2 = CORblockRT(64, 128, stride=2)
        self.V4 = CORblockRT(128, 256, stride=2)
        self.IT = CORblockRT(256, 512, stride=2)
        self.decoder = nn.Sequential(OrderedDict([
            ("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
            ("linear", nn.Linear(512, num_classes))]))

    def forward(self, x):
        b, hw = x.shape[0], (x.shape[2], x.shape[3])
        outputs, states = {}, {}
        for i, area in enumerate(self.AREAS):
            block = getattr(self, area)
            hw = (block.out_size(hw[0]), block.out_size(hw[1]))
            out = block(x) if i == 0 else block(None, zeros_like=x.new_zeros((b, block.out_channels, *hw)))
            outputs[area] = states[area] = out
        for _ in range(1, self.times):
            new = {}
            for i, area in enumerate(self.AREAS):
                inp = x if i == 0 else outputs[self.AREAS[i - 1]]
                new[area] = states[area] = getattr(self, area)(inp, states[area])
            outputs = new
        return self.decoder(outputs["IT"])


@register_builder(
    "cornet_rt", extract=unwrap_state_dict, file_name="cornet_rt-933c001c.pth",
    origin="https://s3.amazonaws.com/cornet-models/cornet_rt-933c001c.pth (dicarlolab/CORnet, "
           "cornet.get_model('rt', pretrained=True))")
def _cornet_rt(num_classes, *, times=5):
    return CORnetRT(times=times, num_classes=num_classes)
