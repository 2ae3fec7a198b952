"""The workflow deployed the standard Snakemake way: as a module of another Snakefile, in a folder
outside the checkout that holds only that Snakefile and a copy of ``config/`` (what snakedeploy
writes), and the configs composing as documented (a preset merged onto the default runs alone)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import deploy, run_deployed

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / ".test" / "config" / "config.yaml"

def _deploy(folder: Path, config: Path = TINY) -> Path:
    return deploy(folder, config)


def _snakemake(folder: Path, *args, timeout=600):
    return run_deployed(folder, *args, timeout=timeout)


def test_module_plans_from_outside_the_checkout(tmp_path):
    folder = _deploy(tmp_path / "deployed")
    res = _snakemake(folder, "-n")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert re.search(r"^train_run\s+16$", out, re.M), out[-3000:]


@pytest.mark.slow
def test_module_runs_the_tiny_config(tiny_run):
    """The deployed module runs end to end (the session's tiny run, conftest.tiny_run); its jobs
    import the package from the module's checkout: the deployment folder holds only its Snakefile
    and config besides what the run wrote."""
    summary = json.loads((tiny_run / "results" / "tiny-gaussian" / "summary.json").read_text())
    assert summary["n_images"] == 50 and summary["n_decision_makers"] >= 10
    assert (tiny_run / "results" / "tiny-gaussian" / "figures" / "fig02_correct_histogram.png").stat().st_size > 0
    assert {p.name for p in tiny_run.iterdir()} <= {".snakemake", "benchmarks", "checkpoints", "config", "logs",
                                                     "results", "report.html", "workflow"}
    assert not [p for p in (tiny_run / "checkpoints").rglob("*") if p.is_file()]  # removed on success
    assert sorted(p.name for p in (tiny_run / "workflow").iterdir()) == ["Snakefile"]


def test_module_without_the_package_names_what_to_install(tmp_path):
    """A module whose checkout has no src/ and no installed package: one clear planning error."""
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "workflow", copy / "workflow")
    folder = _deploy(tmp_path / "deployed")
    snakefile = folder / "workflow" / "Snakefile"
    snakefile.write_text(snakefile.read_text().replace(str(ROOT / "workflow" / "Snakefile"),
                                                       str(copy / "workflow" / "Snakefile")))
    blocked = ("import sys, importlib.abc\n"
               "class Refuse(importlib.abc.MetaPathFinder):\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'ddd' or name.startswith('ddd.'):\n"
               "            raise ImportError('no ddd here')\n"
               "sys.meta_path.insert(0, Refuse())\n"
               "from snakemake.cli import main\n"
               "sys.argv = ['snakemake'] + sys.argv[1:]\n"
               "main()\n")
    res = subprocess.run([sys.executable, "-c", blocked, "-n", "--cores", "1"], cwd=folder, capture_output=True,
                         text=True, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "the ddd package is neither beside this workflow" in out, out[-2000:]
    assert str(copy / "src") in out


# --- configs that compose ---------------------------------------------------------------------


def _plan(*args, workdir=None):
    """A dry run of the checkout's Snakefile in ``workdir`` (a copy of ``config/`` there by default)."""
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"), "-n",
                          "--cores", "1", *(["--directory", str(workdir)] if workdir else []), *args],
                         capture_output=True, text=True, timeout=180)
    return res.returncode, res.stdout + res.stderr


@pytest.fixture
def clean_copy(tmp_path):
    """A working directory holding a copy of ``config/`` and nothing else (no results yet)."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path


def _jobs(out: str) -> dict:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M)}


def test_default_plans_its_own_studies(clean_copy):
    code, out = _plan(workdir=clean_copy)
    assert code == 0, out[-3000:]
    jobs = _jobs(out)
    assert jobs["train_run"] == 11 and jobs["train_zoo_model"] == 7
    assert "results/laptop-gaussian/" in out and "results/gaussian-resnet18/" not in out


def test_a_preset_merged_onto_the_default_runs_alone(clean_copy):
    """--configfile merges onto config/config.yaml (the Snakefile's configfile); the preset's `run`
    keeps every study of the default out, and the paper's `gaussian` dataset keeps the paper's sizes."""
    code, out = _plan("--configfile", str(clean_copy / "config/paper/gaussian-resnet18.yaml"), workdir=clean_copy)
    assert code == 0, out[-3000:]
    jobs = _jobs(out)
    assert jobs["train_run"] == 31 and "train_zoo_model" not in jobs and "psychophysics_stimuli" not in jobs
    assert "laptop-" not in out


def test_preset_dataset_is_the_papers(tmp_path):
    """What a merged preset trains on: the paper's Gaussian parameters, not the default's 8 px."""
    sys.path.insert(0, str(ROOT / "src"))
    from snakemake.utils import update_config

    from ddd.config import resolve_config
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "config" / "paper" / "gaussian-resnet18.yaml").read_text()))
    cfg = resolve_config(config)
    assert list(cfg.studies) == ["gaussian-resnet18"]
    ds = cfg.dataset("gaussian-resnet18")
    assert (ds["image_size"], ds["train_per_class"], ds["encoding"]) == (224, 20000, "unit")


def test_test_folder_plans_the_tiny_config(tmp_path):
    shutil.copytree(ROOT / ".test", tmp_path / ".test")
    code, out = _plan(workdir=tmp_path / ".test")
    assert code == 0, out[-3000:]
    assert _jobs(out)["train_run"] == 16 and "laptop-" not in out


def test_run_names_unknown_studies(clean_copy):
    code, out = _plan("--config", "run=[nope]", workdir=clean_copy)
    assert code != 0 and "run: unknown studies ['nope']" in out and "laptop-gaussian" in out, out[-2000:]


def test_device_is_no_reason_to_train_again(tmp_path):
    """`device: auto` -> `cpu` on a machine without a GPU: nothing would come out different, so
    nothing is planned again (device is a resource, not a param)."""
    folder = tmp_path / "wd"
    (folder / "config").mkdir(parents=True)
    config = yaml.safe_load(TINY.read_text())
    config["device"] = "auto"
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakefile = str(ROOT / "workflow" / "Snakefile")
    run = subprocess.run([sys.executable, "-m", "snakemake", "-s", snakefile, "--cores", "2", "--directory",
                          str(folder), "results/tiny-gaussian/runs/base/1.h5"], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    code, out = _plan("results/tiny-gaussian/runs/base/1.h5", "--config", "device=cpu", workdir=folder)
    assert code == 0 and "Nothing to be done" in out, out[-2000:]


# --- optional extras checked before any job ----------------------------------------------------

CLEANLAB_CONFIG = {"run": ["t"], "label_issues": {"t": {"source": "cleanlab"}},
                   "studies": {"t": {"train": {"dataset": "gaussian", "family": "resnet18", "instances": 1,
                                               "conditions": ["base"]}}}}


def test_conda_env_without_an_extra_is_refused_at_planning(tmp_path):
    """--sdm conda: an env file that lacks what the config needs (cleanlab for label issues) stops
    planning with the rule, the package and the env file, before conda builds anything."""
    shutil.copytree(ROOT / "workflow", tmp_path / "checkout" / "workflow")
    (tmp_path / "checkout" / "src").symlink_to(ROOT / "src")
    env = tmp_path / "checkout" / "workflow" / "envs" / "labels.yaml"
    env.write_text("".join(line for line in env.read_text().splitlines(True) if "cleanlab" not in line))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CLEANLAB_CONFIG))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(tmp_path / "checkout" / "workflow" / "Snakefile"),
                          "-n", "--cores", "1", "--sdm", "conda", "--directory", str(tmp_path), "--configfile",
                          str(tmp_path / "c.yaml")], capture_output=True, text=True, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and f"the package 'cleanlab' is not in the environment of rule find_label_issues ({env})" \
        in out, out[-2000:]


def test_missing_extra_is_refused_at_planning_without_conda(tmp_path):
    """Without conda the jobs import from this environment: cleanlab missing here stops planning."""
    from test_planning import _plan_light  # planning where cleanlab (and the heavy packages) cannot be imported
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CLEANLAB_CONFIG))
    code, out = _plan_light(tmp_path, tmp_path / "c.yaml")
    assert code != 0 and "rule find_label_issues needs the package 'cleanlab', which is not installed" in out, \
        out[-2000:]


def test_jobs_run_the_code_that_planned(tmp_path):
    """Another `ddd` ahead on the path (PYTHONPATH: another checkout, an older install): planning and
    every job still run this checkout's package (workflow/scripts/_ddd_path.py puts it first)."""
    other = tmp_path / "other" / "ddd"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise ImportError('the other ddd was imported')\n")
    folder = tmp_path / "wd"
    (folder / "config").mkdir(parents=True)
    shutil.copy(TINY, folder / "config" / "config.yaml")
    env = {**os.environ, "PYTHONPATH": str(other.parent)}
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"), "--cores", "1",
                          "--directory", str(folder), "results/tiny-gaussian/runs/base/1.h5"], env=env,
                         capture_output=True, text=True, timeout=600)
    logs = "".join(p.read_text() for p in (folder / "logs").rglob("*.log")) if (folder / "logs").exists() else ""
    assert res.returncode == 0, (res.stdout + res.stderr)[-2000:] + logs[-2000:]
    assert "the other ddd" not in res.stdout + res.stderr + logs
