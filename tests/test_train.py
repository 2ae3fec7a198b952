"""Training: one run end to end, resumption bit for bit, corrupt checkpoints, the LR schedule."""
import glob
import os

import numpy as np
import pytest
import torch

from ddd.experiment import recipes
from ddd.results.decisions import read_decisions
from ddd.training import checkpoints
from ddd.training.loop import lr_at
from ddd.training.run import train_run

DATASET = {"name": "gaussian", "n_classes": 4, "image_size": 4, "train_per_class": 24,
           "val_per_class": 6, "seed": 7, "encoding": "signed_log", "transforms": "small"}
FAMILY = recipes.family("gaussian", "resnet18",
                        recipe={"epochs": 3, "batch_size": 16, "lr": 0.05,
                                "arch_options": {"width": 4, "stem": "cifar"}},
                        other_arch_options={"width": 4, "stem": "cifar"})


def _run(tmp_path, name, condition="data_order", instance=1, **kw):
    recipe = recipes.resolve(FAMILY, condition, instance)
    out = tmp_path / f"{name}.h5"
    train_run(recipe, DATASET, output=str(out), network_output=str(tmp_path / f"{name}.pt"),
              checkpoint_dir=str(tmp_path / f"ckpt_{name}"), device="cpu", progress=False, **kw)
    return out


def test_decisions_file_holds_every_epoch(tmp_path):
    d = read_decisions(_run(tmp_path, "a"))
    assert d.predictions.shape == (4, 24)  # E + 1 evaluations x N images
    assert d.epochs.tolist() == [0, 1, 2, 3]
    assert d.targets.tolist() == np.repeat(np.arange(4), 6).tolist()
    assert d.image_ids.tolist() == [str(i) for i in range(24)]
    assert d.probabilities.shape == (24, 4) and d.probabilities.dtype == np.float16
    assert np.allclose(d.probabilities.astype(float).sum(1), 1, atol=1e-2)
    # every evaluation's decision margins: > 0 exactly where the top-1 prediction is right
    assert d.margins.shape == (4, 24) and d.margins.dtype == np.float16 and np.isfinite(d.margins).all()
    right, margin = d.correct(), d.margins.astype(float)
    assert (margin[right] >= 0).all() and (margin[~right] <= 0).all()
    assert (margin != 0).mean() > 0.9
    assert d.attrs["recipe"]["condition"] == "data_order"
    assert d.attrs["torch_version"] == torch.__version__
    assert d.attrs["dataset_fingerprint"] and d.attrs["device"] == "cpu"
    assert not (tmp_path / "ckpt_a").exists()  # checkpoints are removed after success
    assert (tmp_path / "a.pt").exists()


def test_base_trains_ten_extra_epochs(tmp_path):
    d = read_decisions(_run(tmp_path, "base", condition="base"))
    assert d.predictions.shape[0] == 3 + 10 + 1


E = FAMILY["recipe"]["epochs"]


def _evaluate_saved(path, condition="base", instance=1):
    """Top-1 predictions of a saved network on the evaluation split, as train_run evaluates."""
    from ddd.data.loading import load_split
    from ddd.nets import make_model
    from ddd.training.loop import evaluate

    recipe = recipes.resolve(FAMILY, condition, instance)
    val, meta = load_split(DATASET, "val")
    model = make_model(recipe["arch"], len(meta.class_names), **recipe["arch_options"])
    model.load_state_dict(torch.load(path, weights_only=True))
    return evaluate(model, val, device=torch.device("cpu"), batch_size=1000, seed=recipe["eval_seed"])[0]


def _same_weights(a, b):
    a, b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_base_network_is_saved_at_the_nominal_final_epoch(tmp_path):
    d = read_decisions(_run(tmp_path, "base", condition="base"))
    assert d.predictions.shape[0] == E + 10 + 1
    # the fixture discriminates: the decisions after the extra epochs differ from those at E
    assert not np.array_equal(d.predictions[E], d.predictions[-1])
    np.testing.assert_array_equal(_evaluate_saved(tmp_path / "base.pt"), d.predictions[E])
    # bit for bit the network of the same recipe trained for E epochs only
    recipe = dict(recipes.resolve(FAMILY, "base", 1), extra_epochs=0)
    train_run(recipe, DATASET, output=str(tmp_path / "e.h5"), network_output=str(tmp_path / "e.pt"),
              checkpoint_dir=str(tmp_path / "ckpt_e"), device="cpu", progress=False)
    assert _same_weights(tmp_path / "base.pt", tmp_path / "e.pt")


@pytest.mark.parametrize("stop", [E, E + 2])
def test_resume_after_the_nominal_epoch_keeps_its_weights(tmp_path, stop):
    full = read_decisions(_run(tmp_path, "full", condition="base"))
    assert not os.path.exists(_run(tmp_path, "cut", condition="base", stop_after=stop))
    newest = torch.load(sorted(glob.glob(str(tmp_path / "ckpt_cut" / "epoch_*.pt")))[-1], weights_only=False)
    assert newest["epoch"] == stop and ("nominal_model" in newest) == (stop > E)
    resumed = read_decisions(_run(tmp_path, "cut", condition="base"))
    np.testing.assert_array_equal(full.predictions, resumed.predictions)
    np.testing.assert_array_equal(full.probabilities, resumed.probabilities)
    assert _same_weights(tmp_path / "full.pt", tmp_path / "cut.pt")
    np.testing.assert_array_equal(_evaluate_saved(tmp_path / "cut.pt"), full.predictions[E])


def test_checkpoint_past_e_without_the_weights_of_e_is_unusable(tmp_path, caplog):
    _run(tmp_path, "full", condition="base")
    _run(tmp_path, "cut", condition="base", stop_after=E + 2)
    recipe = recipes.resolve(FAMILY, "base", 1)
    for path in glob.glob(str(tmp_path / "ckpt_cut" / "epoch_*.pt")):  # as written before the fix
        ckpt = torch.load(path, weights_only=False)
        del ckpt["nominal_model"]
        checkpoints._write(path, ckpt, epoch=ckpt["epoch"], recipe=recipe)  # with a valid checksum
    with caplog.at_level("WARNING"):
        _run(tmp_path, "cut", condition="base")  # falls back to training from scratch
    assert "no weights of the nominal final epoch" in caplog.text
    assert _same_weights(tmp_path / "full.pt", tmp_path / "cut.pt")


def test_without_extra_epochs_the_final_weights_are_saved(tmp_path):
    _run(tmp_path, "cut", stop_after=2)
    assert all("nominal_model" not in torch.load(p, weights_only=False)
               for p in glob.glob(str(tmp_path / "ckpt_cut" / "epoch_*.pt")))  # no copy kept
    d = read_decisions(_run(tmp_path, "cut"))
    assert d.predictions.shape[0] == E + 1
    np.testing.assert_array_equal(_evaluate_saved(tmp_path / "cut.pt", "data_order"), d.predictions[E])


def test_resume_gives_identical_decisions(tmp_path):
    full = read_decisions(_run(tmp_path, "full"))
    # the interrupted run stops after epoch 1, leaving only a checkpoint
    assert not os.path.exists(_run(tmp_path, "cut", stop_after=1))
    assert glob.glob(str(tmp_path / "ckpt_cut" / "epoch_*.pt"))
    resumed = read_decisions(_run(tmp_path, "cut"))
    np.testing.assert_array_equal(full.predictions, resumed.predictions)
    np.testing.assert_array_equal(full.probabilities, resumed.probabilities)
    np.testing.assert_array_equal(full.margins, resumed.margins)
    a = torch.load(tmp_path / "full.pt")
    b = torch.load(tmp_path / "cut.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_corrupt_checkpoint_falls_back(tmp_path, caplog):
    full = read_decisions(_run(tmp_path, "full"))
    _run(tmp_path, "cut", stop_after=2)
    newest = sorted(glob.glob(str(tmp_path / "ckpt_cut" / "epoch_*.pt")))[-1]
    with open(newest, "r+b") as fh:  # truncate: a kill during a (non-atomic) write
        fh.truncate(100)
    with caplog.at_level("WARNING"):
        resumed = read_decisions(_run(tmp_path, "cut"))
    assert "unusable" in caplog.text
    np.testing.assert_array_equal(full.predictions, resumed.predictions)


def test_runs_that_should_share_randomness_do(tmp_path):
    a = read_decisions(_run(tmp_path, "h1", condition="hardware", instance=1))
    b = read_decisions(_run(tmp_path, "h2", condition="hardware", instance=2))
    np.testing.assert_array_equal(a.predictions, b.predictions)  # CPU is deterministic
    c = read_decisions(_run(tmp_path, "o2", condition="data_order", instance=2))
    assert not np.array_equal(a.predictions[1:], c.predictions[1:])
    np.testing.assert_array_equal(a.predictions[0], c.predictions[0])  # same init


def test_lr_schedules():
    r = dict(recipes.BASE_RECIPE, epochs=30, milestones=[10, 20])
    assert lr_at(r, 0) == pytest.approx(0.1)
    assert lr_at(r, 10) == pytest.approx(0.01)
    assert lr_at(r, 25) == pytest.approx(0.001)
    assert lr_at(r, 35) == pytest.approx(0.001)  # after E: stays at the final rate
    o = dict(r, schedule="onecycle", warmup_fraction=0.25, epochs=8)
    assert lr_at(o, 0) == pytest.approx(0.1 / 25)
    assert lr_at(o, 2) == pytest.approx(0.1)
    assert lr_at(o, 8) == pytest.approx(0.1 * 0.01)
    assert lr_at(o, 18) == pytest.approx(0.1 * 0.01)


@pytest.mark.parametrize("kind", ["imagenet", "cifar100"])
def test_trains_on_local_image_datasets(tmp_path, kind, fake_imagenet, fake_cifar_pickle):
    root = fake_imagenet if kind == "imagenet" else fake_cifar_pickle
    dataset = {"name": kind, "kind": kind, "root": str(root)}
    fam = recipes.family(kind, "resnet18", recipe={"epochs": 1, "batch_size": 4, "lr": 0.01,
                                                   "arch_options": {"width": 4, "stem": "cifar"}})
    recipe = recipes.resolve(fam, "different_data", 1)  # half of the training images
    out = tmp_path / "d.h5"
    train_run(recipe, dataset, output=str(out), network_output=str(tmp_path / "n.pt"),
              checkpoint_dir=str(tmp_path / "ckpt"), device="cpu", progress=False)
    d = read_decisions(out)
    from ddd.data.images import ImageFolderSplit
    from ddd.data.cifar import load_cifar100_pickle
    if kind == "imagenet":
        ids = ImageFolderSplit(root, "val", name="imagenet").image_ids
        assert d.image_ids[0].startswith("n01440764/ILSVRC2012_val_")
    else:
        ids = load_cifar100_pickle(root, "val")[2]
    assert d.image_ids.tolist() == list(ids)
    assert d.predictions.shape == (2, len(ids))
    assert d.attrs["dataset_fingerprint"].startswith(kind)


class _Batches:
    """The .epoch() interface of ddd.data's batch sources, over fixed tensors."""

    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def epoch(self, batch_size, *, generator, shuffle=True):
        order = torch.randperm(len(self.x), generator=generator) if shuffle else torch.arange(len(self.x))
        for i in range(0, len(self.x), batch_size):
            idx = order[i:i + batch_size]
            yield self.x[idx], torch.zeros(len(idx), dtype=torch.long)


def test_precise_bn_estimates_the_plain_average_and_restores_momentum():
    from ddd.training.loop import precise_bn

    x = torch.randn(64, 3, 4, 4) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1) + 5
    bn = torch.nn.BatchNorm2d(3, momentum=0.1)
    bn.running_mean.fill_(100.0)
    model = torch.nn.Sequential(bn)
    precise_bn(model, _Batches(x), device="cpu", n_images=0, batch_size=16, seed=0)
    assert torch.all(bn.running_mean == 100.0)  # off: untouched
    precise_bn(model, _Batches(x), device="cpu", n_images=64, batch_size=16, seed=0)
    torch.testing.assert_close(bn.running_mean, x.mean(dim=(0, 2, 3)))  # equal batches: the plain mean
    batch_vars = torch.stack([x[i].var(dim=(0, 2, 3), unbiased=True) for i in
                              torch.randperm(64, generator=torch.Generator().manual_seed(0)).view(4, 16)])
    torch.testing.assert_close(bn.running_var, batch_vars.mean(0))  # the average of the batches' variances
    assert bn.momentum == 0.1
    precise_bn(model, _Batches(x), device="cpu", n_images=20, batch_size=16, seed=0)
    assert int(bn.num_batches_tracked) == 2  # stops once it has seen n_images (two batches of 16)


def test_resuming_a_checkpoint_without_margins_gives_nan_for_its_epochs(tmp_path, caplog):
    """Checkpoints written before margins were kept are still resumed from; the margins of the
    epochs they cover are unknown (NaN, with a warning), the later ones computed."""
    full = read_decisions(_run(tmp_path, "full"))
    _run(tmp_path, "cut", stop_after=2)
    recipe = recipes.resolve(FAMILY, "data_order", 1)
    for path in glob.glob(str(tmp_path / "ckpt_cut" / "epoch_*.pt")):  # as an older ddd wrote them
        ckpt = torch.load(path, weights_only=False)
        del ckpt["margins"]
        checkpoints._write(path, ckpt, epoch=ckpt["epoch"], recipe=recipe)
    with caplog.at_level("WARNING"):
        resumed = read_decisions(_run(tmp_path, "cut"))
    assert "holds no decision margins" in caplog.text
    np.testing.assert_array_equal(full.predictions, resumed.predictions)
    assert np.isnan(resumed.margins[:3]).all()
    np.testing.assert_array_equal(full.margins[3:], resumed.margins[3:])


def test_without_margins_and_the_margin_function():
    from ddd.analysis.agreement import decision_margins as numpy_margins
    from ddd.training.loop import decision_margins
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.5]])
    targets = torch.tensor([0, 2, 1])
    assert decision_margins(logits, targets).tolist() == [1.0, -2.0, 0.0]
    z = torch.randn(50, 7, generator=torch.Generator().manual_seed(0))
    t = torch.randint(0, 7, (50,), generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(decision_margins(z, t).numpy(), numpy_margins(z.numpy(), t.numpy()), atol=1e-6)


def test_margins_can_be_left_out(tmp_path):
    d = read_decisions(_run(tmp_path, "plain", margins=False))
    assert d.margins is None and d.predictions.shape == (4, 24)
