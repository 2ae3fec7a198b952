"""CORnet-RT (Kubilius et al. 2019), with the module names of dicarlolab/CORnet's ``cornet_rt.py``
(``V1``/``V2``/``V4``/``IT`` with ``conv_input``, ``norm_input``, ``conv1``, ``norm1``;
``decoder.linear``), so that the release loads as it is (checkpoint builder ``cornet_rt``;
docs/reproduction.md#pretrained-models).
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


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


def cornet_rt(num_classes, *, times=5):
    return CORnetRT(times=times, num_classes=num_classes)
