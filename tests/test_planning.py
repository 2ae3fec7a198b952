"""Planning imports nothing heavy, and every figure rule fits its function.

A cluster's login node may hold only Snakemake and its Slurm plugin: reading the Snakefile (dry
run, lint, DAG) must then work. Every config in ``config/`` and ``.test/`` is planned in a process
where torch, torchvision, matplotlib, scipy, h5py, numba and the optional extras cannot be imported
(numpy and pandas stay: the Slurm plugin itself imports them).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
HEAVY = ("torch", "torchvision", "matplotlib", "scipy", "h5py", "seaborn", "PIL", "timm", "open_clip",
         "cleanlab", "rsatoolbox", "sklearn", "numba", "llvmlite")

# Runs Snakemake's command line with a finder in front of every other that refuses the heavy
# packages, so that any import of them while the Snakefile is read fails loudly.
_BLOCKED_SNAKEMAKE = f"""
import importlib.abc, sys
HEAVY = {HEAVY!r}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError(f"planning imported the heavy package {{name!r}}")
sys.meta_path.insert(0, Refuse())
from snakemake.cli import main
sys.argv = ["snakemake"] + sys.argv[1:]
main()
"""


def _plan_light(workdir: Path, configfile: Path, *extra: str) -> tuple[int, str]:
    res = subprocess.run([sys.executable, "-c", _BLOCKED_SNAKEMAKE, "-s", str(SNAKEFILE), "-n", "--cores", "1",
                          "--directory", str(workdir), "--configfile", str(configfile), *extra],
                         capture_output=True, text=True, timeout=180)
    return res.returncode, res.stdout + res.stderr


CONFIGS = sorted([ROOT / "config" / "config.yaml", *(ROOT / "config" / "paper").glob("*.yaml"),
                  *(ROOT / ".test" / "config").glob("*.yaml")])


def test_the_blocker_blocks(tmp_path):
    res = subprocess.run([sys.executable, "-c", _BLOCKED_SNAKEMAKE.replace("from snakemake.cli import main",
                                                                           "import torch")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "planning imported the heavy package 'torch'" in res.stderr


@pytest.fixture(scope="module")
def plain_python(venv_factory):
    """A login node's Python: Snakemake, its Slurm plugin and snakefmt, nothing else."""
    import tomllib
    pins = {}
    for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"] + \
            [d for ds in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"].values()
             for d in ds]:
        name, _, version = dep.partition("==")
        pins[name] = version
    venv = venv_factory("plain-snakemake", [f"{n}=={pins[n]}" for n in ("snakemake", "snakemake-executor-plugin-slurm",
                                                                         "snakefmt")])
    return venv / "bin" / "python"


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c.relative_to(ROOT)) for c in CONFIGS])
def test_every_config_plans_in_a_plain_snakemake_environment(config, plain_python, tmp_path, fake_imagenet,
                                                             fake_cifar_pickle, sota_preset):
    configs = [config]
    if config.name == "imagenet-sota.yaml":  # planned where the extras are installed: tests/test_presets.py
        configs = [sota_preset]
    elif config.name == "slurm-timelimit.yaml":  # an addition to the tiny config (tests/test_slurm.py)
        configs = [ROOT / ".test" / "config" / "config.yaml", config]
    res = subprocess.run([str(plain_python), "-m", "snakemake", "-s", str(SNAKEFILE), "-n", "--cores", "1",
                          "--directory", str(tmp_path), "--configfile", *map(str, configs), "--config",
                          f"imagenet_root={fake_imagenet}", f"cifar100_root={fake_cifar_pickle}"],
                         capture_output=True, text=True, timeout=180)
    out = res.stdout + res.stderr
    if config.name == "imagenet-sota.yaml":  # timm and open_clip models: jobs in this environment would fail
        assert res.returncode != 0 and "rule infer_model needs the package 'timm', which is not installed" in out, \
            out[-3000:]
        return
    assert res.returncode == 0, out[-3000:]
    assert re.search(r"^total\s+\d+$", out, re.M), out[-3000:]


def test_lint_and_format_in_a_plain_snakemake_environment(plain_python):
    res = subprocess.run([str(plain_python), "-m", "snakemake", "-s", str(SNAKEFILE), "--lint"], cwd=ROOT,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and "Lints for" not in res.stdout + res.stderr, (res.stdout + res.stderr)[-3000:]
    res = subprocess.run([str(plain_python), "-m", "snakefmt", "--check", str(ROOT / "workflow")],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]


@pytest.mark.parametrize("config", [ROOT / "config" / "config.yaml", ROOT / ".test" / "config" / "config.yaml"],
                         ids=["default", "tiny"])
def test_planning_imports_nothing_heavy(config, tmp_path):
    """Even where torch and the rest are installed (this environment), planning never imports them."""
    code, out = _plan_light(tmp_path, config)
    assert code == 0, out[-3000:]
    assert "planning imported the heavy package" not in out


def test_gpu_count_on_a_cuda_config_without_torch(tmp_path):
    """``device: cuda`` asks Slurm for one GPU per training job; planning it must not import torch."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["device"] = "cuda"
    path = tmp_path / "cuda.yaml"
    path.write_text(yaml.safe_dump(config))
    code, out = _plan_light(tmp_path, path, "--printshellcmds")
    assert code == 0, out[-3000:]
    assert re.search(r"gpu=1", out), out[-3000:]


# --- figure wiring: every figure and table rule against its function's signature ----------------

_RULE_NAMES = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
root = Path(sys.argv[1])
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                      config_settings=ConfigSettings(configfiles=[root / "config" / "config.yaml"]),
                      snakefile=root / "workflow" / "Snakefile", workdir=root)
    rules = {r.name: {k: sorted(getattr(r, k)._names) for k in ("input", "output", "params")}
             for r in wf._workflow.rules}
print("RULES" + json.dumps(rules))
"""


@pytest.fixture(scope="module")
def rules():
    res = subprocess.run([sys.executable, "-c", _RULE_NAMES, str(ROOT)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RULES")), None)
    assert line, res.stdout[-2000:] + res.stderr[-2000:]
    return json.loads(line[len("RULES"):])


def test_every_figure_and_table_has_a_rule(rules):
    from ddd.report.catalog import FIGURES, TABLES
    missing = [n for n in sorted({*FIGURES, *TABLES}) if n not in rules]
    assert not missing, f"catalog entries without a rule: {missing}"


def test_every_figure_rule_fits_its_function(rules):
    """Input (but ``runs``, a dependency only), output and params names are the function's parameters."""
    from ddd.report.catalog import FIGURES, TABLES, wiring_problems
    problems = []
    for name in sorted({*FIGURES, *TABLES}):
        r = rules[name]
        problems += wiring_problems(name, [n for n in r["input"] if n != "runs"] + r["output"] + r["params"])
    assert not problems, "\n".join(problems)


def test_wiring_check_finds_a_renamed_input():
    from ddd.report.catalog import wiring_problems
    problems = wiring_problems("fig02_correct_histogram", ["split", "summary_json", "png", "pdf"])
    assert any("'split'" in p for p in problems) and any("'split_tsv'" in p for p in problems)
