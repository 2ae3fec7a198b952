"""The zoo of radically different small architectures (ddd.nets.ZOO): shapes at 8, 32 and 224 px,
sizes, the bag-of-features net's receptive field, seeding, bad options, a short training run."""

import numpy as np
import pytest
import torch
from torch import nn

from ddd.experiment import recipes
from ddd.results.decisions import read_decisions
from ddd.nets import ZOO, available_models, make_model
from ddd.training.run import train_run

torch.set_num_threads(1)

# Options per image size: the ViT and the MLP are built for one image size (the ViT also needs a
# patch size that keeps the token count small); the convolutional nets take any size.
SIZE_OPTIONS = {
    8: {"zoo_vit": {"image_size": 8, "patch_size": 2}, "zoo_mlp": {"image_size": 8}},
    32: {"zoo_vit": {"image_size": 32, "patch_size": 4}, "zoo_mlp": {"image_size": 32},
         "zoo_densenet": {"stem": "cifar"}, "zoo_squeezenet": {"stem": "cifar"}},
    224: {"zoo_vit": {"image_size": 224, "patch_size": 16}, "zoo_mlp": {"image_size": 224, "hidden": (64,)},
          "zoo_densenet": {"stem": "imagenet"}, "zoo_squeezenet": {"stem": "imagenet"},
          "zoo_vgg": {"stem_pool": True}},
}
# Parameter counts of the defaults for 100 classes at 8 px: small, and each in its own range.
PARAM_BOUNDS = {"zoo_densenet": (15_000, 60_000), "zoo_vgg": (200_000, 500_000), "zoo_vit": (15_000, 60_000),
                "zoo_mlp": (400_000, 700_000), "zoo_squeezenet": (15_000, 80_000), "zoo_bagnet": (3_000, 15_000)}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_zoo_is_registered():
    assert set(ZOO) <= set(available_models())
    assert set(PARAM_BOUNDS) == set(ZOO)
    assert len(ZOO) == 6


@pytest.mark.parametrize("size", sorted(SIZE_OPTIONS))
@pytest.mark.parametrize("arch", ZOO)
def test_builds_and_runs_at_every_size(arch, size):
    torch.manual_seed(0)
    model = make_model(arch, 10, **SIZE_OPTIONS[size].get(arch, {})).eval()
    batch = 2 if size < 224 else 1
    with torch.no_grad():
        y = model(torch.randn(batch, 3, size, size))
    assert y.shape == (batch, 10) and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    assert last.out_features == 10  # every zoo net ends in one linear classifier
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())  # no dropout by default


@pytest.mark.parametrize("arch", ZOO)
def test_parameter_counts(arch):
    lo, hi = PARAM_BOUNDS[arch]
    assert lo <= n_params(make_model(arch, 100)) <= hi


@pytest.mark.parametrize("arch", ZOO)
def test_seeded_construction_is_deterministic(arch):
    x = torch.randn(4, 3, 8, 8)
    outs, states = [], []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        m = make_model(arch, 7)
        with torch.no_grad():
            m(x)  # a training-mode pass too (BatchNorm statistics)
            outs.append(m.eval()(x))
        states.append(m.state_dict())
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k
    assert torch.equal(outs[0], outs[1])
    assert any(not torch.equal(states[0][k], states[2][k]) for k in states[0] if states[0][k].is_floating_point())


@pytest.mark.parametrize("rf", [1, 3, 5])
@pytest.mark.parametrize("loc", [(0, 0), (2, 1), "last"])
def test_bagnet_receptive_field(rf, loc):
    """The gradient of one location's logits is non-zero exactly on its rf x rf input window."""
    torch.manual_seed(rf)
    model = make_model("zoo_bagnet", 5, receptive_field=rf, blocks=max(2, (rf - 1) // 2)).double().eval()
    size = 8
    x = torch.randn(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    logits = model.location_logits(x)
    out = size - rf + 1
    assert logits.shape == (1, 5, out, out)
    i, j = (out - 1, out - 1) if loc == "last" else loc
    logits[0, :, i, j].sum().backward()
    touched = (x.grad[0].abs().sum(0) > 0).numpy()
    window = np.zeros((size, size), bool)
    window[i:i + rf, j:j + rf] = True
    np.testing.assert_array_equal(touched, window)
    # the class logits are the location logits averaged over locations
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits.mean((2, 3)))


def test_bagnet_needs_an_image_as_large_as_its_receptive_field():
    model = make_model("zoo_bagnet", 3, receptive_field=5, blocks=2).eval()
    assert model(torch.randn(1, 3, 5, 5)).shape == (1, 3)
    with pytest.raises(ValueError, match="at least 5 px"):
        model(torch.randn(1, 3, 4, 4))


def test_vit_pool_options():
    for pool in ("cls", "mean"):
        torch.manual_seed(0)
        m = make_model("zoo_vit", 4, pool=pool).eval()
        assert (m.cls_token is not None) == (pool == "cls")
        assert m(torch.randn(2, 3, 8, 8)).shape == (2, 4)
        assert m.pos.shape[1] == 16 + (pool == "cls")


@pytest.mark.parametrize("arch, options, x, match", [
    ("zoo_vit", {}, torch.randn(1, 3, 16, 16), "built for 8 px"),
    ("zoo_mlp", {}, torch.randn(1, 3, 16, 16), "built for"),
])
def test_wrong_input_size_is_refused(arch, options, x, match):
    with pytest.raises(ValueError, match=match):
        make_model(arch, 3, **options)(x)


@pytest.mark.parametrize("arch, options, match", [
    ("zoo_vit", {"image_size": 8, "patch_size": 3}, "multiple of patch_size"),
    ("zoo_vit", {"dim": 30, "heads": 4}, "multiple of heads"),
    ("zoo_vit", {"pool": "max"}, "unknown pool"),
    ("zoo_vit", {"depth": 0}, "depth"),
    ("zoo_bagnet", {"receptive_field": 4}, "odd"),
    ("zoo_bagnet", {"receptive_field": 9, "blocks": 3}, "at least 4 blocks"),
    ("zoo_densenet", {"compression": 0}, "compression"),
    ("zoo_densenet", {"blocks": ()}, "at least one"),
    ("zoo_densenet", {"bn_size": -1}, "bn_size"),
    ("zoo_densenet", {"stem": "tiny"}, "unknown stem"),
    ("zoo_squeezenet", {"width": 0}, "width"),
    ("zoo_squeezenet", {"fires": (2, 0)}, "fires"),
    ("zoo_vgg", {"convs": ()}, "at least one"),
    ("zoo_vgg", {"hidden": -1}, "hidden"),
    ("zoo_vgg", {"dropout": 1.0}, "dropout"),
    ("zoo_mlp", {"hidden": (0,)}, "hidden"),
    ("zoo_mlp", {"depth": 3}, "bad options"),
])
def test_bad_options(arch, options, match):
    with pytest.raises(ValueError, match=match):
        make_model(arch, 10, **options)


def test_optional_dropout_and_hidden_layers():
    m = make_model("zoo_vgg", 5, hidden=0)
    assert [x for x in m.modules() if isinstance(x, nn.Linear)] == [m.fc]
    m = make_model("zoo_vgg", 5, dropout=0.5)
    assert any(isinstance(x, nn.Dropout) for x in m.modules())
    m = make_model("zoo_mlp", 5, hidden=(32, 16), batchnorm=False)
    assert not any(isinstance(x, nn.BatchNorm1d) for x in m.modules())
    assert m(torch.randn(2, 3, 8, 8)).shape == (2, 5)


@pytest.mark.parametrize("arch", ZOO)
def test_trains_through_train_run(tmp_path, arch):
    """One short training run per zoo architecture writes decisions and a loadable network."""
    dataset = {"name": "gaussian", "n_classes": 4, "image_size": 8, "train_per_class": 16, "val_per_class": 4,
               "seed": 3, "encoding": "signed_log", "transforms": "small"}
    fam = recipes.family("gaussian", "resnet18", recipe={"epochs": 1, "batch_size": 16, "lr": 0.05,
                                                        "schedule": "onecycle"})
    recipe = recipes.resolve(dict(fam, other_arch=arch), "architecture", 1)
    train_run(recipe, dataset, output=str(tmp_path / "d.h5"), network_output=str(tmp_path / "n.pt"),
              checkpoint_dir=str(tmp_path / "ckpt"), device="cpu", progress=False)
    d = read_decisions(tmp_path / "d.h5")
    assert d.predictions.shape == (2, 16) and d.probabilities.shape == (16, 4)
    model = make_model(arch, 4)
    model.load_state_dict(torch.load(tmp_path / "n.pt", weights_only=True))
