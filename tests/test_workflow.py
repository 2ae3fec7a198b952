"""End to end: the workflow on the tiny config (.test/config/config.yaml), and bad configs."""
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_deployed
from ddd.results.decisions import read_decisions

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile")]
TINY = ROOT / ".test" / "config" / "config.yaml"


def _workdir(tmp_path, config: dict | None = None) -> Path:
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    if config is None:
        shutil.copy(TINY, tmp_path / "config" / "config.yaml")
    else:
        (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _snakemake(workdir: Path, *args, timeout=600):
    return subprocess.run([*SNAKEMAKE, "--directory", str(workdir), "--cores", "2",
                           "--configfile", str(workdir / "config" / "config.yaml"), *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_every_declared_output_exists(tiny_run):
    wd, study = tiny_run, "tiny-gaussian"
    sys.path.insert(0, str(ROOT / "src"))
    from ddd.config import resolve_config

    cfg = resolve_config(yaml.safe_load(TINY.read_text()))
    runs = cfg.study(study).runs()
    assert len(runs) == 16  # instances: 2
    for run in runs:
        for path in (f"results/{study}/runs/{run}.h5", f"results/{study}/networks/{run}.pt",
                     f"logs/{study}/train_run/{run}.log", f"benchmarks/{study}/train_run/{run}.tsv"):
            assert (wd / path).stat().st_size > 0, path
        d = read_decisions(wd / f"results/{study}/runs/{run}.h5")
        assert d.predictions.shape == ((13 if run.startswith("base/") else 3), 50)
    for path in ("summary.json", "split.tsv", "kappa_vs_base.tsv",
                 "figures/fig02_correct_histogram.png", "figures/fig02_correct_histogram.pdf",
                 "figures/fig03_kappa_vs_base.png", "figures/fig03_kappa_vs_base.pdf"):
        assert (wd / "results" / study / path).stat().st_size > 0, path
    assert not list((wd / "checkpoints").rglob("*.pt")) if (wd / "checkpoints").exists() else True

    s = json.loads((wd / f"results/{study}/summary.json").read_text())
    for key in ("n_images", "n_decision_makers", "mean_accuracy", "accuracy", "kappa_vs_base", "split"):
        assert key in s
    assert s["n_images"] == 50
    for rule in ("strict", "all_but_one"):
        fr = s["split"][rule]
        assert fr["trivial"] + fr["impossible"] + fr["in_between"] == pytest.approx(1)
    # hardware runs are identical to the base on CPU: merged before the split, and said so
    assert {"hardware/1", "hardware/2"} <= set(s["identical_to_compared"])
    assert "hardware/1" not in s["accuracy"] and s["n_decision_makers"] == len(s["accuracy"])
    assert s["kappa_vs_base"]["hardware"] == pytest.approx(1.0)
    assert set(s["kappa_vs_base"]) == {"base", "plus_1_epoch", "plus_10_epochs", "optimizer", "batch_size",
                                       "init", "learning_rate", "hardware", "data_order", "architecture",
                                       "half_data", "combined", "different_data"}


@pytest.mark.slow
def test_rerun_does_nothing_and_report_builds(tiny_run):
    """tiny_run (conftest) is the tiny config deployed as a module: run again, nothing is to be done."""
    res = run_deployed(tiny_run, "-n")
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr
    res = run_deployed(tiny_run, "--report", str(tiny_run / "report.html"))
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tiny_run / "report.html").stat().st_size > 10_000


def _bad(tmp_path, mutate):
    config = yaml.safe_load(TINY.read_text())
    mutate(config)
    wd = _workdir(tmp_path, config)
    res = _snakemake(wd, "-n", timeout=120)
    assert res.returncode != 0
    assert not (wd / "results").exists()
    return res.stdout + res.stderr


def test_unknown_key_is_refused(tmp_path):
    out = _bad(tmp_path, lambda c: c["studies"]["tiny-gaussian"]["train"]["recipe"].update(epoch=3))
    assert "studies.tiny-gaussian.train.recipe: unknown key 'epoch'; allowed: epochs," in out
    assert "description" not in out  # one line per problem, not a dump of the schema


def test_wrong_type_and_negative_epochs_are_refused(tmp_path):
    out = _bad(tmp_path, lambda c: c["studies"]["tiny-gaussian"]["train"]["recipe"].update(epochs=-1))
    assert "epochs" in out and "-1" in out
    out = _bad(tmp_path / "b", lambda c: c["datasets"]["gaussian"].update(image_size="big"))
    assert "image_size" in out or "big" in out


def test_unknown_condition_is_refused(tmp_path):
    out = _bad(tmp_path, lambda c: c["studies"]["tiny-gaussian"]["train"].update(conditions=["base", "dropout"]))
    assert "dropout" in out and "different_data" in out  # names the allowed values


def test_lint_reports_nothing(tmp_path):
    wd = _workdir(tmp_path)
    res = _snakemake(wd, "--lint", timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Lints for" not in res.stdout + res.stderr


@pytest.mark.slow
def test_imported_study(tmp_path):
    """A study made of CSV files: aligned by id (rows shuffled), analysed like a trained one."""
    import numpy as np

    rng = np.random.default_rng(0)
    targets = np.arange(60) % 6
    hard = np.arange(60) >= 40  # images 40.. are impossible, 0..19 trivial, 20..39 random
    (tmp_path / "decisions").mkdir()
    for k in range(4):
        right = np.where(np.arange(60) < 20, True, np.where(hard, False, rng.random(60) < 0.5))
        pred = np.where(right, targets, (targets + 1) % 6)
        order = rng.permutation(60)
        lines = ["image_id,target,prediction"] + [f"img{i:02d},{targets[i]},{pred[i]}" for i in order]
        (tmp_path / "decisions" / f"model{k}.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "issues.txt").write_text("# published label errors\nimg41\nimg45\nimg50\n")
    config = {"studies": {"mine": {"external": {"format": "csv", "files": [str(tmp_path / "decisions" / "*.csv")]}}},
              "label_issues": {"mine": {"list": str(tmp_path / "issues.txt")}}}
    wd = _workdir(tmp_path / "wd", config)
    res = _snakemake(wd)
    assert res.returncode == 0, res.stderr[-3000:]
    s = json.loads((wd / "results/mine/summary.json").read_text())
    assert s["n_images"] == 60 and s["n_decision_makers"] == 4
    assert s["split"]["strict"]["trivial"] >= 20 / 60 and s["split"]["strict"]["impossible"] >= 20 / 60
    import pandas as pd

    pairs = pd.read_csv(wd / "results/mine/consistency/pairs.tsv", sep="\t")
    assert set(pairs["subset"]) == {"all", "in_between"} and len(pairs[pairs.subset == "all"]) == 6
    assert (wd / "results/mine/figures/fig02_correct_histogram.png").stat().st_size > 0
    split = pd.read_csv(wd / "results/mine/split.tsv", sep="\t")
    assert sorted(split.loc[split.label_issue, "image_id"]) == ["img41", "img45", "img50"]
    assert s["n_label_issues"] == 3


TINY_ZOO = {
    "studies": {"zoo": {"zoo": {
        "dataset": "gaussian",
        "recipe": {"epochs": 2, "batch_size": 32, "lr": 0.05},
        "models": {"resnet": {"arch": "resnet18", "arch_options": {"width": 4, "stem": "cifar"}},
                   "mlp": {"arch": "zoo_mlp", "arch_options": {"image_size": 4, "hidden": [32]},
                           "recipe": {"lr": 0.02, "epochs": 3}}}}}},
    "datasets": {"gaussian": {"n_classes": 5, "image_size": 4, "train_per_class": 40, "val_per_class": 10,
                              "encoding": "signed_log"}},
    "device": "cpu",
}


def test_zoo_study(tmp_path):
    """A zoo: each architecture trained once with its own recipe, one decision maker each, analysed
    with Figures 2, 6 (kappa between networks) and 9."""
    sys.path.insert(0, str(ROOT / "src"))
    from ddd.results.decisions import read_decisions

    wd = _workdir(tmp_path, TINY_ZOO)
    res = _snakemake(wd)
    assert res.returncode == 0, res.stderr[-3000:]
    mlp = read_decisions(wd / "results/zoo/runs/zoo/mlp.h5")
    assert mlp.attrs["recipe"]["arch"] == "zoo_mlp" and mlp.attrs["recipe"]["lr"] == 0.02
    assert mlp.predictions.shape == (4, 50)  # epochs 0..3: its own recipe's 3 epochs
    assert read_decisions(wd / "results/zoo/runs/zoo/resnet.h5").attrs["recipe"]["epochs"] == 2
    s = json.loads((wd / "results/zoo/summary.json").read_text())
    assert s["n_decision_makers"] == 2 and set(s["accuracy"]) == {"resnet", "mlp"}
    for fig in ("fig02_correct_histogram", "fig06_consistency_matrix", "fig09_accuracy"):
        assert (wd / f"results/zoo/figures/{fig}.png").stat().st_size > 0


def test_zoo_bad_architecture_is_refused_before_any_job(tmp_path):
    config = copy.deepcopy(TINY_ZOO)
    config["studies"]["zoo"]["zoo"]["models"]["mlp"]["arch"] = "transformer9000"
    res = _snakemake(_workdir(tmp_path / "a", config), "-n")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "studies.zoo.zoo.models.mlp.arch" in out and "zoo_vit" in out, out[-2000:]
    config["studies"]["zoo"]["zoo"]["models"]["mlp"] = {"arch": "zoo_mlp", "arch_options": {"depth": 3}}
    res = _snakemake(_workdir(tmp_path / "b", config), "-n")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "studies.zoo.zoo.models.mlp" in out and "depth" in out, out[-2000:]
