"""Speed-only forms of layers give the same results as the plain ones (ddd.nets.layers)."""

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from ddd.nets import make_model
from ddd.nets.layers import ShapeAwareConv2d, shape_aware_convs

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

# (in, out, kernel, stride, padding, bias, input size, the form ShapeAwareConv2d uses)
CASES = [
    (8, 5, 3, 1, 1, False, 1, "product"),  # 3x3 conv on a 1x1 input: only the centre tap sees it
    (8, 5, 3, 2, 1, True, 2, "product"),   # stride 2 on 2x2: the window holds the whole input
    (8, 5, 1, 1, 0, True, 1, "product"),   # 1x1 conv on a 1x1 input
    (4, 6, 3, 1, 0, False, 3, "product"),  # valid 3x3 conv on a 3x3 input
    (8, 5, 3, 1, 1, False, 2, "conv"),     # 2x2 output: the ordinary convolution
    (8, 5, 1, 2, 0, False, 2, "subsample"),  # strided 1x1 conv: every other pixel, stride 1
    (8, 5, 1, 2, 0, True, 5, "subsample"),
    (8, 5, 1, 1, 0, False, 3, "conv"),
    (8, 5, 3, 1, 1, False, 4, "conv"),
]


@pytest.mark.parametrize("cin, cout, k, stride, pad, bias, size, form", CASES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_shape_aware_conv_equals_conv(cin, cout, k, stride, pad, bias, size, form, channels_last, monkeypatch):
    torch.manual_seed(0)
    ref = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=bias).double()
    ours = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=bias).double()
    ours.load_state_dict(ref.state_dict())
    shape_aware_convs(ours)
    assert type(ours) is ShapeAwareConv2d and ours.state_dict().keys() == ref.state_dict().keys()
    x = torch.randn(7, cin, size, size, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    calls = []
    conv2d = torch.nn.functional.conv2d
    monkeypatch.setattr(torch.nn.functional, "conv2d",
                        lambda *a, **kw: calls.append(len(a) + len(kw)) or conv2d(*a, **kw))
    y = ours(x_ours)
    # each form exactly where it applies: no convolution, a stride-1 one (3 arguments), the ordinary one
    assert calls == {"product": [], "subsample": [3], "conv": [7]}[form]
    y_ref = ref(x_ref)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(y_ref)
    y.backward(g)
    y_ref.backward(g)
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-12, atol=1e-12)
    if bias:
        torch.testing.assert_close(ours.bias.grad, ref.bias.grad, rtol=1e-12, atol=1e-12)


def test_shape_aware_convs_leaves_other_layers():
    class Custom(nn.Conv2d):
        pass
    model = nn.Sequential(nn.Conv2d(3, 4, 3), Custom(4, 4, 3), nn.Linear(4, 2))
    shape_aware_convs(model)
    assert [type(m) for m in model] == [ShapeAwareConv2d, Custom, nn.Linear]


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_resnet_trains_channels_last_on_cpu_at_large_sizes(arch):
    """Training steps in channels-last layout at 128 px (where PyTorch's strided 1x1 convolution
    backward crashes the process), in a child process so that a crash fails only this test."""
    code = (f"import torch, torch.nn.functional as F\nfrom ddd.nets import make_model\n"
            f"m = make_model({arch!r}, 10, width=4, stem='cifar').to(memory_format=torch.channels_last)\n"
            f"x = torch.randn(4, 3, 128, 128).contiguous(memory_format=torch.channels_last)\n"
            f"for _ in range(3):\n    F.cross_entropy(m(x), torch.arange(4)).backward()\nprint('ok')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode, proc.stderr[-2000:])


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_small_resnet_equals_plain_convolutions(arch):
    """The 8 px ResNets reach 1x1 pixel in their last stages and downsample with strided 1x1
    convolutions: same outputs as plain convolutions."""
    torch.manual_seed(0)
    ours = make_model(arch, 10, width=8, stem="cifar").double().eval()
    assert sum(type(m) is ShapeAwareConv2d for m in ours.modules()) > 0
    plain = make_model(arch, 10, width=8, stem="cifar").double().eval()
    plain.load_state_dict(ours.state_dict())
    for m in plain.modules():
        if type(m) is ShapeAwareConv2d:
            m.__class__ = nn.Conv2d
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), plain(x), rtol=1e-10, atol=1e-10)
