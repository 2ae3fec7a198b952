"""Pieces the ResNets, the zoo and the small BagNet share: stems, initialisation, the classifier
wrapper and option checks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
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


class ShapeAwareConv2d(nn.Conv2d):
    """``nn.Conv2d`` with two exact rewrites for the shapes of small images and channels-last CPUs.

    - **One-pixel output over the whole input.** When the output is 1x1 and the zero-padded
      window of that one pixel covers the entire input (``padding + input size <= kernel size`` on
      both axes, e.g. a 3x3 conv with padding 1 on a 1x1 input, or stride 2 on a 2x2 input), every
      kernel tap outside the input only multiplies padding zeros. The output is then
      ``x.flatten(1) @ W[:, :, p:p+H, p:p+W].flatten(1).T + bias``, and the gradient of the taps
      that only see padding is exactly zero in both forms. On a CPU the convolution kernels still
      multiply every tap (9x the work on 1x1 inputs); this form skips them.
    - **Strided 1x1 convolutions** (no padding) as the stride-1 convolution of every
      ``stride``-th pixel: the same products and sums. PyTorch 2.14's CPU backward of a strided
      1x1 convolution in channels-last layout crashes (segmentation fault) for some channel
      counts and sizes (e.g. 12 -> 24 channels at 112 px), which the ResNets' downsampling
      shortcuts hit at ImageNet sizes; the rewrite avoids that kernel.

    Same parameters and ``state_dict`` as ``nn.Conv2d``; results equal up to the order of
    floating-point summation. Any other shape (or groups, dilation, non-zero padding modes,
    unbatched input) runs the ordinary convolution.
    """

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if x.dim() != 4 or self.groups != 1 or self.padding_mode != "zeros" or self.dilation != (1, 1) \
                or isinstance(self.padding, str):
            return super()._conv_forward(x, weight, bias)
        (h, w), (kh, kw), (ph, pw), (sh, sw) = x.shape[-2:], self.kernel_size, self.padding, self.stride
        if ph + h <= kh and pw + w <= kw and h + 2 * ph - kh < sh and w + 2 * pw - kw < sw \
                and h + 2 * ph >= kh and w + 2 * pw >= kw:
            taps = weight[:, :, ph:ph + h, pw:pw + w].reshape(weight.shape[0], -1)
            return F.linear(x.reshape(x.shape[0], -1), taps, bias)[:, :, None, None]
        if (kh, kw) == (1, 1) and (ph, pw) == (0, 0) and (sh, sw) != (1, 1):
            return F.conv2d(x[:, :, ::sh, ::sw], weight, bias)
        return super()._conv_forward(x, weight, bias)


def shape_aware_convs(module: nn.Module) -> nn.Module:
    """Every plain ``nn.Conv2d`` in ``module`` becomes a :class:`ShapeAwareConv2d` (in place; the
    parameters and ``state_dict`` are untouched). Returns ``module``."""
    for m in module.modules():
        if type(m) is nn.Conv2d:
            m.__class__ = ShapeAwareConv2d
    return module
