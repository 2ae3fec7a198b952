"""Pieces the ResNets, the zoo and the small BagNet share: stems, initialisation, the classifier
wrapper and option checks."""

from __future__ import annotations

import torch
from torch import nn

from ddd.nets import STEMS


def check_stem(stem: str) -> None:
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; allowed: {', '.join(STEMS)}")


def check_positive(**values) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")


def small_stem(stem: str, out_channels: int) -> nn.Sequential:
    """The ResNets' stems (:data:`STEMS`) with ``out_channels``: ``"cifar"`` 3x3 stride-1 conv then a
    3x3 stride-2 max-pool (an 8 px image continues at 4 px), ``"cifar_nopool"`` the conv only,
    ``"imagenet"`` 7x7 stride-2 conv then the max-pool (224 px images)."""
    check_stem(stem)
    if stem == "imagenet":
        conv = nn.Conv2d(3, out_channels, 7, stride=2, padding=3, bias=False)
    else:
        conv = nn.Conv2d(3, out_channels, 3, padding=1, bias=False)
    layers = [conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    if stem != "cifar_nopool":
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    return nn.Sequential(*layers)


def init_conv_bn(module: nn.Module) -> None:
    """torchvision's initialisation: Kaiming-normal convs (fan out), BN weight 1 / bias 0,
    linear layers PyTorch's default."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def pool_to_linear(features: nn.Module, channels: int, num_classes: int) -> tuple[nn.Module, nn.Linear]:
    """``features`` followed by a global average pool and flatten, and the linear classifier."""
    return nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1)), nn.Linear(channels, num_classes)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """The batch in channels-last (NHWC) memory layout; values unchanged. On a CPU, max-pooling runs
    up to 15x and a small convolutional net's training step up to 1.7x faster so; the training
    loop itself keeps CPU batches NCHW, so the zoo's convolutional nets switch on entry."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


class Classifier(nn.Module):
    """``fc(features(x))``: ``features`` gives (batch, D), ``fc`` is the final linear layer. The input
    is switched to channels-last memory layout first (:func:`channels_last`)."""

    def __init__(self, features: nn.Module, fc: nn.Linear):
        super().__init__()
        self.features, self.fc = features, fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(channels_last(x)))
