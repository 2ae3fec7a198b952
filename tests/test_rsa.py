"""Representational similarity (ddd.analysis.rsa, ddd.analysis.representations) and Figure 7: activations
of every architecture, the seeded subset, RDMs, both back ends, bounded memory, the study-level table, its
files (ddd.results.representations) and the figure."""

import tracemalloc

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from torch import nn

from ddd.experiment import recipes
from ddd.data.loading import load_split
from ddd.report.figures.rsa import GID_MEAN, GID_RDM, GID_RUNS, figure_07, plot_rsa_vs_base
from ddd.nets import available_models, make_model
from ddd.analysis.representations import activations, example_rdms, final_linear, load_network, rsa_vs_base
from ddd.analysis.rsa import compare_rdms, rdm, rsa_correlation, subset
from ddd.results.representations import read_rdms, read_rsa_table, write_rdms, write_rsa_table

torch.set_num_threads(1)

# smallest cheap input per architecture (AlexNet's three max-pools need > 32 px)
INPUT = {"alexnet": 64, "densenet121": 32, "resnet18": 32, "resnet50": 32, "vgg11": 32}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def has_rsatoolbox() -> bool:
    try:
        import rsatoolbox  # noqa: F401
        return True
    except ImportError:
        return False


# activations --------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", available_models())
def test_penultimate_activations_of_every_architecture(arch):
    torch.manual_seed(0)
    model = make_model(arch, 6).eval()
    size = INPUT.get(arch, 8)
    x = torch.randn(5, 3, size, size)
    a = activations(model, x, batch_size=2)
    name, fc = final_linear(model)
    assert a.shape == (5, fc.in_features) and a.dtype == np.float32
    with torch.no_grad():  # the activations really are the final layer's input
        torch.testing.assert_close(fc(torch.from_numpy(a)), model(x), rtol=1e-3, atol=1e-4)
    if hasattr(model, "features") and arch.startswith(("resnet", "zoo_")):
        with torch.no_grad():
            np.testing.assert_allclose(a, model.features(x).numpy(), rtol=1e-3, atol=1e-4)  # batch sizes differ


def test_activations_from_batches_and_in_any_batch_size():
    ds = {"name": "gaussian", "n_classes": 3, "image_size": 8, "train_per_class": 2, "val_per_class": 5,
          "seed": 1, "encoding": "signed_log"}
    batches, meta = load_split(ds, "val")
    torch.manual_seed(0)
    model = make_model("zoo_bagnet", 3)
    model.train()
    a = activations(model, batches, batch_size=4)
    assert model.training  # mode restored
    x = torch.cat([b for b, _ in batches.epoch(100, shuffle=False)])
    np.testing.assert_allclose(a, activations(model, x, batch_size=15), rtol=1e-6)
    np.testing.assert_allclose(a, activations(model, x.numpy(), batch_size=1), rtol=1e-5, atol=1e-6)
    assert a.shape == (15, 16)


def test_activations_of_a_named_layer_and_errors():
    torch.manual_seed(0)
    model = make_model("zoo_vgg", 4).eval()
    x = torch.randn(3, 3, 8, 8)
    a = activations(model, x, layer="features.0")  # the first conv's output, flattened
    assert a.shape == (3, 16 * 8 * 8)
    with pytest.raises(ValueError, match="unknown layer"):
        activations(model, x, layer="nope")
    with pytest.raises(ValueError, match="float"):
        activations(model, torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="shape"):
        activations(model, torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="batch_size"):
        activations(model, x, batch_size=0)

    class Scaled(nn.Module):  # the last linear layer is not the output layer
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return 2 * self.fc(x.flatten(1)[:, :4])

    with pytest.raises(ValueError, match="does not produce its output"):
        activations(Scaled(), torch.randn(2, 1, 2, 2))
    with pytest.raises(ValueError, match="no nn.Linear"):
        activations(nn.Conv2d(3, 2, 1), x)


# subset -------------------------------------------------------------------------------------------

def test_subset_is_fixed_seeded_and_sorted():
    a = subset(5000, size=1000, seed=1312)
    assert a.shape == (1000,) and a.dtype == np.int64
    assert np.all(np.diff(a) > 0) and a.min() >= 0 and a.max() < 5000
    np.testing.assert_array_equal(a, subset(5000, size=1000, seed=1312))
    assert not np.array_equal(a, subset(5000, size=1000, seed=1))
    np.testing.assert_array_equal(subset(30, size=1000), np.arange(30))  # all when size >= N


@pytest.mark.parametrize("kwargs, match", [
    ({"n_images": 0}, "n_images"), ({"n_images": 10, "size": 0}, "size"),
    ({"n_images": 10, "size": 1}, "at least 2"), ({"n_images": 10, "size": 2.5}, "size"),
])
def test_subset_validates(kwargs, match):
    n = kwargs.pop("n_images")
    with pytest.raises(ValueError, match=match):
        subset(n, **kwargs)


# RDMs and their comparison ------------------------------------------------------------------------

def test_rdm_is_one_minus_pearson():
    acts = np.random.default_rng(0).normal(size=(12, 7)).astype(np.float32)
    m = rdm(acts)
    assert m.shape == (12, 12) and m.dtype == np.float32
    np.testing.assert_allclose(m, 1 - np.corrcoef(acts), atol=1e-5)
    assert np.all(np.diag(m) == 0) and np.allclose(m, m.T)
    acts[3] = 2.0  # a constant vector has no correlation
    m = rdm(acts)
    assert np.isnan(m[3]).all() and np.isnan(m[:, 3]).all() and np.isfinite(np.delete(m, 3, 0)[:, [0, 1, 2]]).all()


def test_compare_rdms_is_pearson_over_the_upper_triangle():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 5)), rng.normal(size=(20, 9))
    ra, rb = rdm(a), rdm(b)
    iu = np.triu_indices(20, 1)
    assert compare_rdms(ra, rb) == pytest.approx(stats.pearsonr(ra[iu], rb[iu])[0], abs=1e-6)
    assert compare_rdms(ra, ra) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="square"):
        compare_rdms(ra, rb[:5, :5])


@pytest.mark.parametrize("block", [3, 7, 512])
def test_streamed_numpy_backend_equals_the_full_rdms(block):
    rng = np.random.default_rng(2)
    a = rng.normal(size=(40, 6))
    b = a @ rng.normal(size=(6, 4)) + 0.5 * rng.normal(size=(40, 4))
    r, n, backend = rsa_correlation(a, b, backend="numpy", block=block)
    assert (n, backend) == (40, "numpy")
    assert r == pytest.approx(compare_rdms(rdm(a), rdm(b)), abs=1e-5)


def test_numpy_and_rsatoolbox_agree():
    if not has_rsatoolbox():
        pytest.skip("rsatoolbox (the optional extra ddd[rsa]) is not installed")
    rng = np.random.default_rng(3)
    for n, d1, d2 in ((10, 3, 5), (200, 64, 16)):
        a = rng.normal(size=(n, d1)).astype(np.float32)
        b = np.tanh(a @ rng.normal(size=(d1, d2))) + 0.3 * rng.normal(size=(n, d2))
        r_np, _, be1 = rsa_correlation(a, b, backend="numpy")
        r_tb, _, be2 = rsa_correlation(a, b, backend="rsatoolbox")
        assert (be1, be2) == ("numpy", "rsatoolbox")
        assert r_np == pytest.approx(r_tb, abs=1e-5)
    assert rsa_correlation(a, b)[2] == "rsatoolbox"  # auto prefers it for small subsets


def test_rsatoolbox_missing(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "rsatoolbox", None)
    a = np.random.default_rng(4).normal(size=(10, 3))
    assert rsa_correlation(a, a)[2] == "numpy"  # auto falls back
    with pytest.raises(ImportError, match=r"ddd\[rsa\]"):
        rsa_correlation(a, a, backend="rsatoolbox")


def test_rsa_correlation_properties_and_errors():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(30, 8))
    # Pearson per image: invariant to a per-image offset and positive scale
    scaled = a * rng.uniform(0.5, 2, size=(30, 1)) + rng.normal(size=(30, 1))
    assert rsa_correlation(a, scaled, backend="numpy")[0] == pytest.approx(1.0, abs=1e-5)
    b = a.copy()
    b[[2, 7]] = 0.0  # dead units: these images are dropped from the comparison
    r, n, _ = rsa_correlation(a, b, backend="numpy")
    assert n == 28 and r == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="same images"):
        rsa_correlation(a, a[:10])
    with pytest.raises(ValueError, match="N >= 3"):
        rsa_correlation(a[:2], a[:2])
    with pytest.raises(ValueError, match="finite"):
        rsa_correlation(a * np.nan, a)
    with pytest.raises(ValueError, match="unknown backend"):
        rsa_correlation(a, a, backend="torch")


def test_numpy_backend_memory_is_bounded():
    """3,000 images: a full float32 RDM is 36 MB; the streamed back end stays far below."""
    n = 3000
    rng = np.random.default_rng(6)
    a = rng.normal(size=(n, 16)).astype(np.float32)
    b = (a + rng.normal(size=(n, 16))).astype(np.float32)
    tracemalloc.start()
    r, _, _ = rsa_correlation(a, b, backend="numpy", block=128)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert 0 < r < 1
    assert peak < n * n * 4 / 3, f"peak {peak / 2**20:.1f} MiB"  # a third of one float32 RDM


# the study-level table ------------------------------------------------------------------------------

DATASET = {"name": "gaussian", "kind": "gaussian", "n_classes": 4, "image_size": 8, "train_per_class": 4,
           "val_per_class": 10, "seed": 2, "encoding": "signed_log", "transforms": "small"}
FAMILY = recipes.family("gaussian", "resnet18", recipe={"epochs": 2, "arch_options": {"width": 4, "stem": "cifar"}},
                        other_arch_options={"width": 4, "stem": "cifar"})


def _networks(tmp_path, runs):
    nets, recs = {}, {}
    for cond, inst, seed in runs:
        r = recipes.resolve(FAMILY, cond, inst)
        torch.manual_seed(seed)
        model = make_model(r["arch"], 4, **r["arch_options"])
        with torch.no_grad():  # non-trivial BatchNorm statistics
            model(torch.randn(16, 3, 8, 8))
        path = tmp_path / f"{cond}_{inst}.pt"
        torch.save(model.state_dict(), path)
        nets[f"{cond}/{inst}"], recs[f"{cond}/{inst}"] = str(path), r
    return nets, recs


def test_rsa_vs_base(tmp_path):
    nets, recs = _networks(tmp_path, [("base", 1, 0), ("hardware", 1, 0), ("init", 1, 1), ("architecture", 1, 2),
                                      ("different_data", 1, 3), ("different_data", 2, 4)])
    table = rsa_vs_base(nets, recs, DATASET, size=25, seed=7, backend="numpy")
    assert list(table.columns) == ["condition", "instance", "name", "other", "arch", "epoch", "r_vs_base",
                                   "n_images", "dims", "backend"]
    assert table["condition"].tolist() == ["base", "hardware", "init", "architecture", "half_data", "half_data",
                                           "different_data"]
    t = table.set_index(["condition", "name"])
    assert t.loc[("base", "base/1"), "r_vs_base"] == 1.0
    assert t.loc[("hardware", "hardware/1"), "r_vs_base"] == pytest.approx(1.0, abs=1e-6)  # same weights
    assert t.loc[("base", "base/1"), "epoch"] == 2 and t.loc[("init", "init/1"), "epoch"] == 2  # E, the base's too
    assert t.loc[("architecture", "architecture/1"), "arch"] == "resnet50"
    assert t.loc[("architecture", "architecture/1"), "dims"] == 4 * 8 * 4
    assert t.loc[("different_data", "different_data/2"), "other"] == "different_data/1"
    assert set(table["n_images"]) == {25}
    # by hand: the same subset, activations and comparison
    idx = subset(40, size=25, seed=7)
    images, _ = load_split(DATASET, "val", subset=idx)
    a = activations(load_network(nets["base/1"], recs["base/1"], 4), images)
    b = activations(load_network(nets["init/1"], recs["init/1"], 4), images)
    assert t.loc[("init", "init/1"), "r_vs_base"] == pytest.approx(compare_rdms(rdm(a), rdm(b)), abs=1e-5)
    # the figure's RDMs: the base and the least similar network (compared with the base)
    least = table.iloc[1:-1].sort_values("r_vs_base")["name"].iloc[0]
    rdms = example_rdms(table, nets, recs, DATASET, size=25, seed=7)
    assert list(rdms) == ["base/1", least]
    assert rdms["base/1"].shape == (25, 25) and rdms["base/1"].dtype == np.float16
    np.testing.assert_allclose(rdms["base/1"], rdm(a), atol=2e-3)
    assert list(example_rdms(table, nets, recs, DATASET, size=25, seed=7, k=0)) == ["base/1"]
    with pytest.raises(ValueError, match="base row"):
        example_rdms(table[table["condition"] != "base"], nets, recs, DATASET)


def test_trained_networks_bit_identical_to_the_base_score_one(tmp_path):
    """On the CPU a "hardware" run is the base without its extra epochs; both networks are saved at E."""
    from ddd.training.run import train_run

    nets, recs = {}, {}
    for cond in ("base", "hardware"):
        r = recs[f"{cond}/1"] = recipes.resolve(FAMILY, cond, 1)
        nets[f"{cond}/1"] = str(tmp_path / f"{cond}.pt")
        train_run(r, DATASET, output=str(tmp_path / f"{cond}.h5"), network_output=nets[f"{cond}/1"],
                  checkpoint_dir=str(tmp_path / f"ckpt_{cond}"), device="cpu", progress=False)
    a, b = (torch.load(nets[n], weights_only=True) for n in ("base/1", "hardware/1"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    table = rsa_vs_base(nets, recs, DATASET, size=25, seed=7, backend="numpy").set_index("name")
    assert table.loc["hardware/1", "r_vs_base"] == pytest.approx(1.0, abs=1e-6)
    assert table["epoch"].tolist() == [2, 2]


def test_rsa_vs_base_errors(tmp_path):
    nets, recs = _networks(tmp_path, [("base", 1, 0), ("init", 1, 1)])
    with pytest.raises(ValueError, match="no recipe"):
        rsa_vs_base(nets, {"base/1": recs["base/1"]}, DATASET, size=5)
    with pytest.raises(ValueError, match="no network of condition 'base'"):
        rsa_vs_base({"init/1": nets["init/1"]}, recs, DATASET, size=5)
    with pytest.raises(ValueError, match="no networks"):
        rsa_vs_base({}, recs, DATASET)
    wrong = dict(recs["init/1"], arch="zoo_mlp", arch_options={})
    with pytest.raises(ValueError, match="does not fit architecture 'zoo_mlp'"):
        rsa_vs_base(nets, {**recs, "init/1": wrong}, DATASET, size=5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rsa_vs_base({**nets, "init/1": str(tmp_path / "none.pt")}, recs, DATASET, size=5)


# Figure 7 -----------------------------------------------------------------------------------------

def rsa_table():
    rows = [("base", "base/1", 1.0), ("init", "init/1", 0.8), ("init", "init/2", 0.6),
            ("architecture", "architecture/1", 0.4), ("hardware", "hardware/1", np.nan),
            ("different_data", "different_data/2", 0.3), ("half_data", "different_data/1", 0.5)]
    return pd.DataFrame(rows, columns=["condition", "name", "r_vs_base"])


def test_plot_rsa_vs_base():
    fig = plot_rsa_vs_base(rsa_table(), title="t")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["Base", "Different initialisation", "Hardware non-determinism", "Different architecture",
                      "Half data", "Different data"]  # the paper's order
    # seaborn: the strip plot makes one scatter collection per condition, the point plot one Line2D
    runs = np.concatenate([c.get_offsets() for c in ax.collections if c.get_gid() == GID_RUNS])
    means = next(line for line in ax.lines if line.get_gid() == GID_MEAN).get_xydata()
    assert len(runs) == 6  # the NaN is not drawn
    np.testing.assert_allclose(means[1], [1, 0.7])
    assert len(means) == 5  # no mean for a condition without a defined r
    assert any(t.get_text() == "undefined" for t in ax.texts)


def test_figure_07_writes_files_with_rdms(tmp_path):
    table = rsa_table().assign(epoch=2, n_images=20)
    write_rsa_table(table, tmp_path / "rsa.tsv")
    m = rdm(np.random.default_rng(0).normal(size=(20, 5))).astype(np.float16)
    write_rdms({"base/1": m, "architecture/1": m}, tmp_path / "rdms.npz")
    back = read_rsa_table(tmp_path / "rsa.tsv")  # the NaN survives the round trip
    assert back["r_vs_base"].isna().tolist() == table["r_vs_base"].isna().tolist()
    rdms = read_rdms(tmp_path / "rdms.npz")
    assert list(rdms) == ["base/1", "architecture/1"] and rdms["base/1"].dtype == np.float16
    figure_07(tmp_path / "rsa.tsv", png=tmp_path / "f.png", pdf=tmp_path / "f.pdf", rdms_npz=tmp_path / "rdms.npz",
              study="toy")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "f.pdf").stat().st_size > 0
    fig = plot_rsa_vs_base(table, rdms={"base/1": m, "architecture/1": m})
    # seaborn heat maps: one QuadMesh per RDM, holding the whole matrix
    meshes = [c for a in fig.axes for c in a.collections if c.get_gid() == GID_RDM]
    assert len(meshes) == 2 and all(c.get_array().shape == (20, 20) for c in meshes)


def test_figure_07_validates():
    with pytest.raises(ValueError, match="lacks columns"):
        plot_rsa_vs_base(pd.DataFrame({"condition": ["base"], "r": [1.0]}))
