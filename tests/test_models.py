"""Tests of ddd.nets: the architecture registry and the scalable ResNet."""

import math

import pytest
import torch
import torchvision
from torch import nn

from ddd.nets import STEMS, available_models, make_model
from ddd.nets.resnets import ResNet

torch.set_num_threads(1)

# smallest input each torchvision architecture accepts cheaply (AlexNet's three max-pools need > 32 px)
INPUT_SIZE = {"resnet18": 32, "resnet50": 32, "densenet121": 32, "vgg11": 32, "alexnet": 64}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def final_linear(model: nn.Module) -> nn.Linear:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def test_available_models():
    zoo = {"zoo_densenet", "zoo_vgg", "zoo_vit", "zoo_mlp", "zoo_squeezenet", "zoo_bagnet"}  # tests/test_zoo.py
    assert set(available_models()) == {"alexnet", "densenet121", "resnet18", "resnet50", "vgg11"} | zoo
    assert set(INPUT_SIZE) == set(available_models()) - zoo


@pytest.mark.parametrize("arch", sorted(INPUT_SIZE))
def test_every_model_forward(arch):
    torch.manual_seed(0)
    model = make_model(arch, 10).eval()
    assert final_linear(model).out_features == 10
    s = INPUT_SIZE[arch]
    with torch.no_grad():
        y = model(torch.randn(2, 3, s, s))
    assert y.shape == (2, 10) and y.dtype == torch.float32
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
@pytest.mark.parametrize("stem", STEMS)
def test_small_resnets(arch, stem):
    model = make_model(arch, 7, width=4, stem=stem).eval()
    expansion = 1 if arch == "resnet18" else 4
    assert model.fc.in_features == 4 * 8 * expansion and model.fc.out_features == 7
    with torch.no_grad():
        x = torch.randn(3, 3, 8, 8)
        assert model(x).shape == (3, 7)
        assert model.features(x).shape == (3, 4 * 8 * expansion)
    conv, pool = model.stem[0], model.stem[3]
    assert conv.out_channels == 4
    if stem == "imagenet":
        assert (conv.kernel_size, conv.stride) == ((7, 7), (2, 2))
    else:
        assert (conv.kernel_size, conv.stride) == ((3, 3), (1, 1))
    assert isinstance(pool, nn.Identity if stem == "cifar_nopool" else nn.MaxPool2d)
    # stage widths: width x (1, 2, 4, 8) (times the expansion)
    outs = [stage[-1].conv1.in_channels for stage in model.stages]
    assert outs == [4 * expansion if arch == "resnet50" else 4, 8 * expansion, 16 * expansion, 32 * expansion]


def test_stem_resolution():
    """The CIFAR stems keep spatial resolution the ImageNet stem throws away."""
    x = torch.randn(1, 3, 16, 16)
    sizes = {}
    for stem in STEMS:
        model = make_model("resnet18", 10, width=4, stem=stem).eval()
        with torch.no_grad():
            sizes[stem] = model.stem(x).shape[-1]
    assert sizes == {"imagenet": 4, "cifar": 8, "cifar_nopool": 16}


@pytest.mark.parametrize("arch, builder", [("resnet18", torchvision.models.resnet18),
                                           ("resnet50", torchvision.models.resnet50)])
def test_resnet_is_torchvisions_at_width_64(arch, builder):
    ours = make_model(arch, 1000, width=64, stem="imagenet").eval()
    ref = builder(num_classes=1000).eval()
    assert n_params(ours) == n_params(ref)
    assert n_params(ours) == {"resnet18": 11689512, "resnet50": 25557032}[arch]
    ours_sd, ref_sd = ours.state_dict(), ref.state_dict()
    # the same tensors in the same order (names differ: stem/stages vs conv1/bn1/layerN)
    assert [tuple(v.shape) for v in ours_sd.values()] == [tuple(v.shape) for v in ref_sd.values()]
    assert sorted(tuple(v.shape) for v in ours_sd.values()) == sorted(tuple(v.shape) for v in ref_sd.values())
    # the same function: torchvision's weights loaded position by position give the same outputs
    ours.load_state_dict(dict(zip(ours_sd.keys(), ref_sd.values())))
    # in float64: ours runs channels-last with exact rewrites of some convolutions
    # (ddd.nets.layers.ShapeAwareConv2d), which change the order of float32 sums
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours.double()(x), ref.double()(x), rtol=1e-9, atol=1e-9)


def test_resnet_initialisation_is_torchvisions():
    model = make_model("resnet18", 10, width=16, stem="cifar")
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    conv = model.stages[3][0].conv1  # large enough for a stable std estimate
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)


def test_seeded_construction_is_reproducible():
    torch.manual_seed(3)
    a = make_model("resnet18", 10, width=4, stem="cifar")
    torch.manual_seed(3)
    b = make_model("resnet18", 10, width=4, stem="cifar")
    torch.manual_seed(4)
    c = make_model("resnet18", 10, width=4, stem="cifar")
    for (ka, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(va, vb), ka
    assert not torch.equal(a.fc.weight, c.fc.weight)


def test_densenet_cifar_stem():
    model = make_model("densenet121", 10, stem="cifar").eval()
    conv0 = model.features.conv0
    assert (conv0.kernel_size, conv0.stride, conv0.out_channels) == ((3, 3), (1, 1), 64)
    assert isinstance(model.features.pool0, nn.MaxPool2d)  # max-pool kept (docs/reproduction.md#families)
    imagenet = make_model("densenet121", 10)
    assert imagenet.features.conv0.kernel_size == (7, 7)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 16, 16)).shape == (1, 10)  # needs >= 16 px: 3 transitions + pool


def test_densenet_rejects_unknown_stem():
    with pytest.raises(ValueError, match="stem"):
        make_model("densenet121", 10, stem="bogus")


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture 'resnet34'") as err:
        make_model("resnet34", 10)
    for name in available_models():
        assert name in str(err.value)


@pytest.mark.parametrize("arch, options, match", [
    ("vgg11", {"width": 4}, "bad options for architecture 'vgg11'"),
    ("alexnet", {"stem": "cifar"}, "bad options for architecture 'alexnet'"),
    ("resnet18", {"depth": 3}, "bad options"),
    ("densenet121", {"width": 4}, "bad options"),
    ("resnet18", {"stem": "bogus"}, "unknown stem 'bogus'"),
    ("resnet50", {"width": 0}, "width"),
    ("resnet18", {"width": -4}, "width"),
])
def test_bad_options(arch, options, match):
    with pytest.raises(ValueError, match=match):
        make_model(arch, 10, **options)


@pytest.mark.parametrize("num_classes", [1, 0, -3, 10.0, "10", None])
def test_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        make_model("resnet18", num_classes, width=4)


def test_resnet_class_rejects_bad_stem_directly():
    from torchvision.models.resnet import BasicBlock
    with pytest.raises(ValueError, match="stem"):
        ResNet(BasicBlock, (1, 1, 1, 1), 10, width=4, stem="tiny")
