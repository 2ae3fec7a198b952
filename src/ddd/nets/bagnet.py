"""Bag-of-local-features networks (BagNet, Brendel & Bethge 2019): the released ImageNet models
and the zoo's small one.

- :class:`BagNet` reproduces the original ``pytorchnet.py`` of wielandbrendel/bag-of-local-features-models
  module by module (``conv1``, ``conv2``, ``bn1``, ``layer1..4`` of bottlenecks with
  ``conv1..3``/``bn1..3``/``downsample.0/1``, ``fc``), so that the released weights load as they are
  (checkpoint builders ``bagnet9``, ``bagnet17``, ``bagnet33``; docs/reproduction.md#pretrained-models).
- :class:`SmallBagNet` is the zoo's (``zoo_bagnet``): the same idea for tiny images, a receptive
  field of a few pixels (docs/reproduction.md#families).
"""

from __future__ import annotations

import torch
from torch import nn

from ddd.nets.layers import channels_last, check_positive, init_conv_bn

# ---------------------------------------------------------------------------------------------
# The released BagNets, with the original module names.


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


def _bagnet(num_classes, strides, kernel3) -> BagNet:
    return BagNet((3, 4, 6, 3), strides=tuple(strides), kernel3=kernel3, num_classes=num_classes)


def bagnet9(num_classes, *, strides=(2, 2, 2, 1)):
    """BagNet-9 (the release's ``bagnet8``): 3x3 convolutions in the first block of stages 1 and 2."""
    return _bagnet(num_classes, strides, (1, 1, 0, 0))


def bagnet17(num_classes, *, strides=(2, 2, 2, 1)):
    """BagNet-17 (the release's ``bagnet16``): 3x3 convolutions in the first block of stages 1 to 3."""
    return _bagnet(num_classes, strides, (1, 1, 1, 0))


def bagnet33(num_classes, *, strides=(2, 2, 2, 1)):
    """BagNet-33 (the release's ``bagnet32``): 3x3 convolutions in the first block of every stage."""
    return _bagnet(num_classes, strides, (1, 1, 1, 1))


# ---------------------------------------------------------------------------------------------
# The zoo's small BagNet.


class _BagBlock(nn.Module):
    """Residual bottleneck of 1x1 - (kxk valid) - 1x1 convs; the skip path is cropped to the valid
    output, so the block widens the receptive field by k - 1 pixels and no more."""

    def __init__(self, channels: int, mid: int, kernel: int):
        super().__init__()
        self.crop = (kernel - 1) // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        c = self.crop
        skip = x[..., c:x.shape[-2] - c, c:x.shape[-1] - c] if c else x
        return self.relu(self.body(x) + skip)


class SmallBagNet(nn.Module):
    """A bag-of-local-features network (BagNet, Brendel & Bethge 2019) with a small receptive field.

    Every output location sees only a ``receptive_field`` x ``receptive_field`` window of the
    input: all convolutions are 1x1 except ``(receptive_field - 1) / 2`` unpadded 3x3 ones, and
    nothing mixes locations before the end. Location (i, j) of :meth:`location_logits` depends
    on input pixels [i, i + rf) x [j, j + rf) only; the class logits are their average over
    locations (computed as the linear classifier applied to the averaged features, which is the
    same thing). Images must be at least ``receptive_field`` pixels on a side.
    """

    def __init__(self, num_classes: int, *, receptive_field: int = 3, width: int = 16, blocks: int = 3):
        super().__init__()
        check_positive(receptive_field=receptive_field, width=width, blocks=blocks)
        if receptive_field % 2 == 0:
            raise ValueError(f"receptive_field must be odd (1, 3, 5, ...), got {receptive_field}")
        n3 = (receptive_field - 1) // 2
        if n3 > blocks:
            raise ValueError(f"receptive_field {receptive_field} needs at least {n3} blocks, got blocks={blocks}")
        self.receptive_field = receptive_field
        kernels = [3 if i < n3 else 1 for i in range(blocks)]
        self.stem = nn.Sequential(nn.Conv2d(3, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*[_BagBlock(width, width, k) for k in kernels])
        self.fc = nn.Linear(width, num_classes)
        init_conv_bn(self)

    def local_features(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, width, H - rf + 1, W - rf + 1): the features of every local window."""
        if min(x.shape[-2:]) < self.receptive_field:
            raise ValueError(f"images must be at least {self.receptive_field} px on a side (the receptive "
                             f"field), got {tuple(x.shape[-2:])}")
        return self.blocks(self.stem(channels_last(x)))

    def location_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of every location, (batch, classes, H - rf + 1, W - rf + 1)."""
        f = self.local_features(x)
        return torch.einsum("bchw,kc->bkhw", f, self.fc.weight) + self.fc.bias[None, :, None, None]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate representation: local features averaged over locations, (batch, width)."""
        return self.local_features(x).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def zoo_bagnet(num_classes, *, receptive_field=3, width=16, blocks=3):
    return SmallBagNet(num_classes, receptive_field=receptive_field, width=width, blocks=blocks)
