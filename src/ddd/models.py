"""Network architectures, built by name from one registry.

``make_model(arch, num_classes, **options)`` is the only constructor the rest of ``ddd`` uses.
ResNets are built here from torchvision's blocks so that width and stem can be scaled for small
images; at ``width=64`` and ``stem="imagenet"`` they are exactly torchvision's ResNet-18/50
(a test checks the parameter counts). The other architectures are torchvision's own.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.resnet import BasicBlock, Bottleneck

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
STEMS = ("imagenet", "cifar", "cifar_nopool")


def register_model(name: str):
    """Decorator: register a builder ``f(num_classes, **options) -> nn.Module`` under ``name``."""
    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn
    return wrap


def available_models() -> list[str]:
    """Names accepted by :func:`make_model`."""
    return sorted(_REGISTRY)


def make_model(arch: str, num_classes: int, **options) -> nn.Module:
    """Build an untrained network.

    Parameters
    ----------
    arch : a name from :func:`available_models`.
    num_classes : size of the output layer.
    **options : architecture options (ResNets: ``width``, ``stem``; DenseNet: ``stem``).
    """
    if arch not in _REGISTRY:
        raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(available_models())}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    try:
        return _REGISTRY[arch](num_classes, **options)
    except TypeError as err:
        raise ValueError(f"bad options for architecture {arch!r}: {err}") from None


class ResNet(nn.Module):
    """ResNet with a scalable width and a choice of stem.

    Parameters
    ----------
    block : torchvision's ``BasicBlock`` or ``Bottleneck``.
    layers : blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
    num_classes : outputs.
    width : channels of the first stage (64 in the paper); stages use width x (1, 2, 4, 8).
    stem : ``"imagenet"`` (7x7 stride-2 conv + max-pool), ``"cifar"`` (3x3 stride-1 conv, max-pool
        kept, as the paper's CIFAR variant) or ``"cifar_nopool"``.
    """

    def __init__(self, block, layers, num_classes: int, *, width: int = 64, stem: str = "imagenet"):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"unknown stem {stem!r}; allowed: {', '.join(STEMS)}")
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        if stem == "imagenet":
            conv = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        else:
            conv = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        pool = nn.Identity() if stem == "cifar_nopool" else nn.MaxPool2d(3, stride=2, padding=1)
        self.stem = nn.Sequential(conv, nn.BatchNorm2d(width), nn.ReLU(inplace=True), pool)
        self.inplanes = width
        self.stages = nn.Sequential(*[
            self._stage(block, width * 2 ** i, n, stride=1 if i == 0 else 2) for i, n in enumerate(layers)
        ])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _stage(self, block, planes: int, n: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes) for _ in range(1, n)]
        return nn.Sequential(*blocks)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations, shape (batch, channels)."""
        return torch.flatten(self.pool(self.stages(self.stem(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("resnet18")
def _resnet18(num_classes, *, width=64, stem="imagenet"):
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, width=width, stem=stem)


@register_model("resnet50")
def _resnet50(num_classes, *, width=64, stem="imagenet"):
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, width=width, stem=stem)


@register_model("densenet121")
def _densenet121(num_classes, *, stem="imagenet"):
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; allowed: {', '.join(STEMS)}")
    net = tvm.densenet121(num_classes=num_classes)
    if stem != "imagenet":  # CIFAR variant: 3x3 stride-1 first conv (max-pool kept for "cifar")
        net.features.conv0 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(net.features.conv0.weight)  # as torchvision initialises convs
        if stem == "cifar_nopool":
            net.features.pool0 = nn.Identity()
    return net


@register_model("vgg11")
def _vgg11(num_classes):
    return tvm.vgg11(num_classes=num_classes)


@register_model("alexnet")
def _alexnet(num_classes):
    return tvm.alexnet(num_classes=num_classes)
