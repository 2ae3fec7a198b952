"""A job's params are a canonical identity of what it computes: only a change of meaning reruns it.

Reordering any mapping of a config, or writing a recipe key at the value that reproduces what ddd
did before the key existed (:data:`ddd.experiment.recipes.NEUTRAL`), plans nothing again; at paper
scale a rerun of every training job would discard GPU-months.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ddd.experiment.recipes import BASE_RECIPE, NEUTRAL, canonical, complete, identity

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / ".test" / "config" / "config.yaml"
TARGETS = ["results/tiny-gaussian/runs/base/1.h5", "results/tiny-gaussian/runs/architecture/1.h5"]


def _reversed(value):
    """Every mapping with its keys in reverse order (lists unchanged)."""
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


def _snakemake(wd: Path, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"),
                           "--cores", "2", "--directory", str(wd), *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    wd = tmp_path_factory.mktemp("params")
    (wd / "config").mkdir()
    (wd / "config" / "config.yaml").write_text(TINY.read_text())
    res = _snakemake(wd, *TARGETS)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return wd


def _plan_with(wd: Path, config: dict) -> str:
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    res = _snakemake(wd, "-n", *TARGETS)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return res.stdout + res.stderr


def test_reordered_config_and_neutral_keys_plan_nothing(trained):
    config = _reversed(yaml.safe_load(TINY.read_text()))
    recipe = config["studies"]["tiny-gaussian"]["train"]["recipe"]
    recipe.update(precise_bn=0, bf16=False, bn_momentum=0.1)  # defaults written out
    assert "Nothing to be done" in _plan_with(trained, config)


def test_a_change_of_meaning_reruns(trained):
    config = yaml.safe_load(TINY.read_text())
    config["studies"]["tiny-gaussian"]["train"]["recipe"]["precise_bn"] = 100
    out = _plan_with(trained, config)
    assert "Nothing to be done" not in out and "train_run" in out
    (trained / "config" / "config.yaml").write_text(TINY.read_text())


def test_identity_round_trip():
    recipe = {**BASE_RECIPE, "arch_options": {"width": 4, "stem": "cifar"}, "precise_bn": 0, "lr": 0.05}
    ident = identity(recipe)
    assert list(ident) == sorted(ident) and list(ident["arch_options"]) == ["stem", "width"]
    assert not {k for k in NEUTRAL if k != "arch_options"} & set(ident)
    assert complete(ident) == recipe
    assert identity({**recipe, "arch_options": {"stem": "cifar", "width": 4}}) == ident
    assert repr(identity(recipe)) == repr(identity(dict(reversed(list(recipe.items())))))
    assert canonical({"b": [{"d": 1, "c": 2}], "a": 1}) == {"a": 1, "b": [{"c": 2, "d": 1}]}


def test_a_release_adding_keys_at_their_neutral_value_changes_no_identity():
    """The recipe of a release without the NEUTRAL keys (as before they existed) and the full recipe
    of this one have the same identity, so the jobs of the older release are not rerun."""
    recipe = {**BASE_RECIPE, "lr": 0.05, "epochs": 2}
    older = {k: v for k, v in recipe.items() if k not in NEUTRAL}
    assert identity(older) == identity(recipe)
    assert identity({**recipe, "precise_bn": 10}) != identity(recipe)


def test_neutral_values_are_the_base_recipes():
    """A neutral value is what the base recipe uses: a recipe that sets nothing has no neutral key
    in its identity, and every neutral key is a recipe key."""
    assert set(NEUTRAL) <= set(BASE_RECIPE)
    assert all(BASE_RECIPE[k] == v for k, v in NEUTRAL.items())
