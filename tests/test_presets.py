"""The paper presets plan exactly 31 training jobs each, against tiny fake dataset copies."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / "config" / "paper").glob("*.yaml"))
SOTA = ROOT / "config" / "paper" / "imagenet-sota.yaml"
TRAINING_PRESETS = [p for p in PRESETS if p != SOTA]   # the pretrained preset trains nothing


def _plan(preset: Path, *extra: str):
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"),
                          "-n", "--cores", "1", "--configfile", str(preset), *extra],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    return res.returncode, res.stdout + res.stderr


def test_every_family_has_a_preset():
    names = {p.stem for p in PRESETS}
    assert {"imagenet-resnet18", "imagenet-vgg11", "imagenet-densenet121", "cifar100-resnet18",
            "gaussian-resnet18"} <= names


@pytest.mark.parametrize("preset", TRAINING_PRESETS, ids=[p.stem for p in TRAINING_PRESETS])
def test_preset_plans_31_training_jobs(preset, fake_imagenet, fake_cifar_pickle):
    code, out = _plan(preset, "--config", f"imagenet_root={fake_imagenet}", f"cifar100_root={fake_cifar_pickle}")
    assert code == 0, out[-2000:]
    m = re.search(r"^train_run\s+(\d+)$", out, re.M)
    assert m and int(m.group(1)) == 31, out[-2000:]


def test_sota_preset_plans_one_inference_job_per_model(sota_preset, fake_imagenet):
    """The eleven pretrained models, their weights files present (empty stand-ins: planning only
    checks that they exist), plan eleven inference jobs and no training."""
    import yaml
    assert len(yaml.safe_load(SOTA.read_text())["studies"]["imagenet-sota"]["pretrained"]["models"]) == 11
    preset = sota_preset
    code, out = _plan(preset, "--config", f"imagenet_root={fake_imagenet}")
    assert code == 0, out[-2000:]
    assert re.search(r"^infer_model\s+11$", out, re.M) and not re.search(r"^train_run\s", out, re.M), out[-2000:]
    # without the files: refused at planning, naming every missing file
    code, out = _plan(SOTA, "--config", f"imagenet_root={fake_imagenet}")
    assert code != 0 and "11 of 11 weights files missing" in out, out[-2000:]
    assert "weights/simclr-resnet50-x1.pth" in out and "weights/ViT-B-32.pt" in out, out[-2000:]


def test_preset_with_missing_dataset_fails_at_planning(tmp_path):
    code, out = _plan(ROOT / "config" / "paper" / "imagenet-resnet18.yaml", "--config",
                      f"imagenet_root={tmp_path / 'nowhere'}")
    assert code != 0
    assert str(tmp_path / "nowhere") in out and "Expected layout" in out and "train/" in out
    code, out = _plan(ROOT / "config" / "paper" / "cifar100-resnet18.yaml")
    assert code != 0 and "cifar100_root is not set" in out
