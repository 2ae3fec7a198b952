"""Zoo-sized pretrained studies (issue 20, item 2): models named by their libraries' names with one
shared weights folder, one decision maker and one inference job per name, and every missing
weights file listed at planning with where it belongs and where it comes from. Plus weights that do
not fit, refused before inference naming the file. Nothing is downloaded: weights are random."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from ddd.config import resolve_config
from ddd.config.studies import ConfigError
from ddd.nets import torchvision_weights
from ddd.pretrained import timm_weights
from ddd.pretrained.weights import library_models, torch_hub_dir

TIMM = ["resnet50.a1_in1k", "resnet18.tv_in1k", "resnet152.tv2_in1k", "convnext_tiny.fb_in1k", "convnext_small",
        "vit_base_patch16_224.augreg_in21k_ft_in1k", "vit_small_patch16_224", "deit_tiny_patch16_224.fb_in1k",
        "efficientnet_b0.ra_in1k", "mobilenetv3_large_100", "regnety_016.tv2_in1k",
        "swin_tiny_patch4_window7_224.ms_in1k", "densenet121.tv_in1k", "inception_v3.tv_in1k", "hrnet_w44.ms_in1k",
        "resnet50.fb_swsl_ig1b_ft_in1k", "beit_base_patch16_224", "levit_128.fb_dist_in1k", "gcvit_tiny.in1k",
        "cspnext_s.rsb_a1_in1k"]
TORCHVISION = ["resnet18", "resnet50.IMAGENET1K_V1", "resnet152", "vgg16", "vgg11_bn", "alexnet", "squeezenet1_1",
               "densenet121", "mobilenet_v3_large", "efficientnet_b0", "vit_b_16.IMAGENET1K_SWAG_E2E_V1",
               "convnext_tiny"]


def _expected_files():
    """Full name -> (file in the weights folder, its origin), worked out here from the snapshots'
    raw entries (the libraries' naming), independently of ddd.pretrained.weights."""
    snap, tv = timm_weights.load(), torchvision_weights.models()
    out = {}
    for name in TIMM:
        full = name if "." in name else f"{name}.{snap['default'][name]}"
        entry = snap["models"][full]
        if "url" in entry:
            out[full] = (os.path.basename(entry["url"]), entry["url"])
        else:
            hub = entry.get("hub", f"timm/{full}")
            out[full] = (f"{hub}/model.safetensors", f"https://huggingface.co/{hub}")
    for name in TORCHVISION:
        model, _, tag = name.partition(".")
        urls = tv[model]
        if not tag:
            tag = next(t for t, u in urls.items() if t != "DEFAULT" and u == urls["DEFAULT"])
        out[f"{model}.{tag}"] = (os.path.basename(urls[tag]), urls[tag])
    return out


def _config(root, folder, **library):
    return {"imagenet_root": str(root), "run": ["zoo"],
            "studies": {"zoo": {"pretrained": {"dataset": "imagenet", "batch_size": 4, "library_models": {
                "weights_folder": str(folder), "timm": TIMM, "torchvision": TORCHVISION, **library}}}}}


def test_a_zoo_of_32_names_lists_every_missing_file_at_once(fake_imagenet, tmp_path):
    expected = _expected_files()
    assert len(expected) == 32
    assert expected["gcvit_tiny.in1k"][0].endswith(".pth")                    # a timm file from a URL
    assert expected["cspnext_s.rsb_a1_in1k"][0].startswith("munehiro-k/")     # a hub repository not timm's
    assert "resnet152.IMAGENET1K_V2" in expected and "convnext_small.in12k_ft_in1k" in expected  # defaults
    folder = tmp_path / "weights"
    present = sorted(expected)[::3]
    for name in present:
        (folder / expected[name][0]).parent.mkdir(parents=True, exist_ok=True)
        (folder / expected[name][0]).write_bytes(b"")
    with pytest.raises(ConfigError) as err:
        resolve_config(_config(fake_imagenet, folder))
    msg = str(err.value)
    absent = [n for n in expected if n not in present]
    assert f"{len(absent)} of 32 weights files missing" in msg and "problem" not in msg.split(":")[1]
    lines = [line.strip() for line in msg.splitlines() if "  <- " in line]
    assert len(lines) == len(absent)
    for name in absent:
        file, origin = expected[name]
        line = next(line for line in lines if line.startswith(f"{name} ("))
        assert f"{folder / file}  <- {origin}" in line, line
    # all present: 32 decision makers, each spec naming its file
    for name in absent:
        (folder / expected[name][0]).parent.mkdir(parents=True, exist_ok=True)
        (folder / expected[name][0]).write_bytes(b"")
    study = resolve_config(_config(fake_imagenet, folder)).study("zoo")
    assert sorted(m.name for m in study.decision_makers()) == sorted(expected)
    assert study.spec("resnet152.IMAGENET1K_V2")["weights"] == str(folder / "resnet152-f82ba261.pth")
    assert study.spec("resnet152.IMAGENET1K_V2")["tag"] == "IMAGENET1K_V2"
    assert study.spec("hrnet_w44.ms_in1k")["model"] == "hrnet_w44.ms_in1k"
    # timm's other file name is accepted too
    (folder / "timm" / "resnet50.a1_in1k" / "model.safetensors").unlink()
    (folder / "timm" / "resnet50.a1_in1k" / "pytorch_model.bin").write_bytes(b"")
    study = resolve_config(_config(fake_imagenet, folder)).study("zoo")
    assert study.spec("resnet50.a1_in1k")["weights"].endswith("timm/resnet50.a1_in1k/pytorch_model.bin")


def test_unknown_and_unusable_names_are_listed_with_close_matches(fake_imagenet, tmp_path):
    cfg = _config(fake_imagenet, tmp_path, timm=["resnt50", "resnet50.nope", "eva02_tiny_patch14_224.mim_in22k",
                                                 "resnet50", "resnet50.a1_in1k"],
                  torchvision=["resnet99", "resnet50.IMAGENET9K", "resnet50.DEFAULT"])
    cfg["studies"]["zoo"]["pretrained"]["models"] = [
        {"name": "resnet50.IMAGENET1K_V2", "source": "torchvision", "model": "resnet50",
         "weights": str(tmp_path / "mine.pth")}]
    with pytest.raises(ConfigError) as err:
        resolve_config(cfg)
    msg = str(err.value)
    assert "studies.zoo.pretrained: 7 problems, 2 of 2 weights files missing" in msg
    assert re.search(r"library_models\.timm\[0\]: unknown timm .* 'resnt50'; close matches: resnet50", msg)
    assert re.search(r"library_models\.timm\[1\]: .*no pretrained weights 'resnet50.nope'; tags of resnet50: "
                     r"a1_in1k, a1h_in1k", msg)
    assert "timm[2]: timm's eva02_tiny_patch14_224.mim_in22k has no classifier" in msg
    assert "timm[4]: name 'resnet50.a1_in1k' used twice (also studies.zoo.pretrained.library_models.timm[3])" in msg
    assert re.search(r"torchvision\[0\]: unknown torchvision classification model 'resnet99'; close matches: .*"
                     r"resnet18", msg)
    assert "torchvision[1]: torchvision has no weights 'IMAGENET9K' for resnet50; allowed tags: IMAGENET1K_V1" in msg
    assert ("torchvision[2]: name 'resnet50.IMAGENET1K_V2' used twice (also studies.zoo.pretrained.models[0])"
            in msg)
    assert f"resnet50.IMAGENET1K_V2 (torchvision): {tmp_path / 'mine.pth'}  <- https://download" in msg
    # where the dataset's class count is known at planning, timm weights with another count are refused
    _, problems = library_models({"weights_folder": None, "timm": ["resnet18.tv_in1k"]}, n_classes=100)
    assert problems == ["library_models.timm[0]: timm's resnet18.tv_in1k has 1000 classes but the dataset has 100"]
    with pytest.raises(ConfigError, match="no models; list specs under `models` or names under `library_models`"):
        resolve_config({"imagenet_root": str(fake_imagenet), "studies": {"z": {"pretrained": {
            "dataset": "imagenet"}}}})


def test_weights_folder_null_looks_in_the_libraries_caches(fake_imagenet, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    assert torch_hub_dir() == torch.hub.get_dir() == str(tmp_path / "torch" / "hub")
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert torch_hub_dir() == torch.hub.get_dir() == str(tmp_path / "xdg" / "torch" / "hub")
    cfg = _config(fake_imagenet, "x", timm=["resnet50.a1_in1k", "gcvit_tiny.in1k"], torchvision=["resnet18"])
    cfg["studies"]["zoo"]["pretrained"]["library_models"]["weights_folder"] = None
    with pytest.raises(ConfigError) as err:
        resolve_config(cfg)
    msg = str(err.value)
    assert "3 of 3 weights files missing" in msg
    hub = tmp_path / "xdg" / "torch" / "hub" / "checkpoints"
    assert f"{hub / 'resnet18-f37072fd.pth'}  <- https://download.pytorch.org/models/resnet18-f37072fd.pth" in msg
    assert str(hub / "gcvit_tiny_224_nvidia-ac783954.pth") in msg
    snapshot = tmp_path / "hf" / "models--timm--resnet50.a1_in1k" / "snapshots" / "abc"
    assert str(tmp_path / "hf" / "models--timm--resnet50.a1_in1k" / "snapshots") in msg
    for path in (snapshot / "model.safetensors", hub / "resnet18-f37072fd.pth",
                 hub / "gcvit_tiny_224_nvidia-ac783954.pth"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    study = resolve_config(cfg).study("zoo")
    assert [study.spec(n)["weights"] for n in study.models] == [None] * 3   # the job looks in the cache


# Snakemake with every heavy package findable (the workflow checks that timm is installed where the
# jobs run) but not importable: importing one while the Snakefile is read fails loudly.
_BLOCKED = """
import importlib.abc, importlib.util, sys
HEAVY = %r
class Refuse(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            return importlib.util.spec_from_loader(name, self)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        raise ImportError(f"planning imported the heavy package {module.__name__!r}")
sys.meta_path.insert(0, Refuse())
from snakemake.cli import main
sys.argv = ["snakemake"] + sys.argv[1:]
main()
"""


def _plan_light(workdir, configfile):
    from test_planning import HEAVY, SNAKEFILE
    res = subprocess.run([sys.executable, "-c", _BLOCKED % (HEAVY,), "-s", str(SNAKEFILE), "-n", "--cores", "1",
                          "--directory", str(workdir), "--configfile", str(configfile)],
                         capture_output=True, text=True, timeout=180)
    return res.returncode, res.stdout + res.stderr


def test_dry_run_plans_one_inference_job_per_model_without_heavy_imports(fake_imagenet, tmp_path):
    from test_planning import HEAVY
    probe = (_BLOCKED % (HEAVY,)).replace("from snakemake.cli import main",
                                          "assert importlib.util.find_spec('timm'); import timm")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "planning imported the heavy package 'timm'" in res.stderr  # the blocker blocks
    expected = _expected_files()
    folder = tmp_path / "weights"
    for file, _ in expected.values():
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / file).write_bytes(b"")
    config = tmp_path / "zoo.yaml"
    config.write_text(yaml.safe_dump(_config(fake_imagenet, folder)))
    code, out = _plan_light(tmp_path, config)
    assert code == 0, out[-3000:]
    assert re.search(r"^infer_model\s+32$", out, re.M), out[-3000:]
    for name in expected:
        assert f"results/zoo/runs/pretrained/{name}.h5" in out
    # three files gone: one planning error naming all three, no job run
    gone = sorted(expected)[:3]
    for name in gone:
        (folder / expected[name][0]).unlink()
    code, out = _plan_light(tmp_path, config)
    assert code != 0 and "3 of 32 weights files missing" in out, out[-3000:]
    assert all(str(folder / expected[n][0]) in out for n in gone)


def test_snapshots_are_the_installed_libraries():
    """The JSON files planning reads are what the pinned libraries report (regenerate after an upgrade:
    python -m ddd.pretrained.timm_weights, python -m ddd.nets.torchvision_weights)."""
    pytest.importorskip("torchvision")
    assert torchvision_weights.snapshot() == torchvision_weights.load()
    pytest.importorskip("timm", reason="timm is an optional extra (pip install 'ddd[timm]')")
    assert timm_weights.snapshot() == timm_weights.load()


# --- the jobs of a zoo, and weights that do not fit -------------------------------------------------


def _imagenet(root):
    return {"name": "imagenet", "kind": "imagenet", "root": str(root), "config_key": "imagenet_root"}


@pytest.fixture
def no_image_read(monkeypatch):
    from ddd.data import images as imagedata

    def refuse(self, i):
        raise AssertionError("an image was read")
    monkeypatch.setattr(imagedata.ImageFolderSplit, "__getitem__", refuse)


def test_zoo_jobs_read_the_shared_folder_and_refuse_weights_that_do_not_fit(fake_imagenet, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm", reason="timm is an optional extra (pip install 'ddd[timm]')")
    from safetensors.torch import save_file

    from ddd.data import images as imagedata
    from ddd.pretrained.infer import infer
    from ddd.pretrained.spec import ClassCountError, PretrainedModelError
    from ddd.results.decisions import read_decisions

    folder = tmp_path / "weights"
    path = folder / "timm" / "test_resnet.r160_in1k" / "model.safetensors"
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    save_file(timm.create_model("test_resnet", num_classes=3).state_dict(), str(path))
    tv_path = folder / "squeezenet1_1-b8a52dc0.pth"
    import torchvision
    torch.save(torchvision.models.squeezenet1_1(num_classes=3).state_dict(), tv_path)
    cfg = _config(fake_imagenet, folder, timm=["test_resnet"], torchvision=["squeezenet1_1"],
                  preprocessing={"resize": 40, "crop": 32})
    study = resolve_config(cfg).study("zoo")
    assert list(study.models) == ["test_resnet.r160_in1k", "squeezenet1_1.IMAGENET1K_V1"]
    for name in study.models:
        out = tmp_path / f"{name}.h5"
        infer(study.spec(name), study.dataset, out=out, device="cpu", batch_size=4, progress=False)
        d = read_decisions(out)
        assert d.predictions.shape == (1, 6)
    # weights that do not fit are refused before any image is read, naming the file
    monkeypatch.setattr(imagedata.ImageFolderSplit, "__getitem__",
                        lambda self, i: (_ for _ in ()).throw(AssertionError("an image was read")))
    spec = study.spec("test_resnet.r160_in1k")
    save_file(timm.create_model("test_resnet", num_classes=5).state_dict(), str(path))
    with pytest.raises(ClassCountError, match=re.escape(f"weights {path}") + ".*has 5 classes but the dataset has 3"):
        infer(spec, study.dataset, out=tmp_path / "x.h5", device="cpu", progress=False)
    save_file(timm.create_model("test_convnext", num_classes=3).state_dict(), str(path))
    with pytest.raises(PretrainedModelError, match=re.escape(f"weights {path}") + ".*does not fit the network"):
        infer(spec, study.dataset, out=tmp_path / "x.h5", device="cpu", progress=False)
    path.write_bytes(b"")  # the empty stand-in a dry run accepts
    with pytest.raises(PretrainedModelError, match=re.escape(f"cannot read weights file {path}")):
        infer(spec, study.dataset, out=tmp_path / "x.h5", device="cpu", progress=False)
    torch.save(torchvision.models.squeezenet1_0(num_classes=3).state_dict(), tv_path)   # another network's keys
    with pytest.raises(PretrainedModelError, match=re.escape(f"weights {tv_path}") + ".*shape mismatches"):
        infer(study.spec("squeezenet1_1.IMAGENET1K_V1"), study.dataset, out=tmp_path / "x.h5", device="cpu",
              progress=False)
    assert not (tmp_path / "x.h5").exists()


# --- the inference loop (issue 20, item 4) ------------------------------------------------------------


def test_predict_waits_for_the_device_only_once_at_the_end(monkeypatch):
    """No per-batch copy to the host or read of a value (each would wait for a GPU): the results stay on
    the device and are copied once; the answers are the logits' (known)."""
    torch = pytest.importorskip("torch")
    from ddd.pretrained.infer import predict

    torch.manual_seed(1)
    batches = [(torch.randn(4, 5), torch.tensor([0, 1, 2, 2])) for _ in range(6)]
    model = torch.nn.Linear(5, 3)
    calls = []
    for method in ("cpu", "item", "tolist", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, method)
        monkeypatch.setattr(torch.Tensor, method,
                            lambda self, *a, _m=method, _o=original, **k: (calls.append(_m), _o(self, *a, **k))[1])
    preds, probs, margins = predict(model, batches, device=torch.device("cpu"))
    assert calls == ["cpu"] * 3   # predictions, probabilities, margins: once each, after the loop
    monkeypatch.undo()
    with torch.no_grad():
        logits = model(torch.cat([x for x, _ in batches]))
    y = torch.cat([t for _, t in batches])
    assert preds.tolist() == logits.argmax(1).tolist()
    np = pytest.importorskip("numpy")
    np.testing.assert_allclose(probs.astype(np.float32), logits.softmax(1).numpy(), atol=1e-3)
    others = logits.clone()
    others[torch.arange(len(y)), y] = float("-inf")
    np.testing.assert_allclose(margins.astype(np.float32), (logits[torch.arange(len(y)), y] - others.amax(1)).numpy(),
                               atol=1e-2)


def test_worker_processes_give_the_same_decisions_in_order(fake_imagenet, tmp_path):
    torch = pytest.importorskip("torch")
    import torchvision

    from ddd.pretrained.infer import infer, make_loader
    from ddd.results.decisions import read_decisions

    torch.manual_seed(2)
    weights = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), weights)
    spec = {"name": "r18", "source": "torchvision", "model": "resnet18", "weights": str(weights),
            "preprocessing": {"resize": 40, "crop": 32}}
    for workers in (0, 2):
        infer(spec, _imagenet(fake_imagenet), out=tmp_path / f"{workers}.h5", device="cpu", batch_size=2,
              num_workers=workers, progress=False)
    a, b = read_decisions(tmp_path / "0.h5"), read_decisions(tmp_path / "2.h5")
    assert a.image_ids.tolist() == b.image_ids.tolist() and a.predictions.tolist() == b.predictions.tolist()
    assert (a.probabilities == b.probabilities).all()
    with pytest.raises(ValueError, match="num_workers must be an integer >= 0, got -1"):
        make_loader([], batch_size=2, num_workers=-1, device=torch.device("cpu"))
