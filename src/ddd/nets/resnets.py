"""ResNets with a scalable width and stem, and torchvision's DenseNet-121, VGG-11 and AlexNet.

The ResNets are built from torchvision's blocks so that width and stem can be scaled for small
images; at ``width=64`` and ``stem="imagenet"`` they are exactly torchvision's ResNet-18/50 (a
test checks the parameter counts). DenseNet-121, VGG-11 and AlexNet are torchvision's own
(DenseNet-121 with the paper's CIFAR stem as an option; docs/reproduction.md#families).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.resnet import BasicBlock, Bottleneck

from ddd.nets.layers import channels_last, check_stem, shape_aware_convs


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
        check_stem(stem)
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
        shape_aware_convs(self)  # exact rewrites of 1x1-pixel and strided 1x1 convs (ddd.nets.layers)

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
        """Penultimate activations, shape (batch, channels). The input is switched to channels-last
        memory layout first (:func:`~ddd.nets.layers.channels_last`, as the zoo's nets)."""
        return torch.flatten(self.pool(self.stages(self.stem(channels_last(x)))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def resnet18(num_classes, *, width=64, stem="imagenet"):
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, width=width, stem=stem)


def resnet50(num_classes, *, width=64, stem="imagenet"):
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, width=width, stem=stem)


def densenet121(num_classes, *, stem="imagenet"):
    """torchvision's DenseNet-121; ``stem="cifar"``: a 3x3 stride-1 first conv, max-pool kept
    (``"cifar_nopool"``: without it)."""
    check_stem(stem)
    net = tvm.densenet121(num_classes=num_classes)
    if stem != "imagenet":  # CIFAR variant: 3x3 stride-1 first conv (max-pool kept for "cifar")
        net.features.conv0 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(net.features.conv0.weight)  # as torchvision initialises convs
        if stem == "cifar_nopool":
            net.features.pool0 = nn.Identity()
    return net


def vgg11(num_classes):
    return tvm.vgg11(num_classes=num_classes)


def alexnet(num_classes):
    return tvm.alexnet(num_classes=num_classes)
