"""The exact pins of pyproject.toml and the workflow's conda environments agree."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV_FILES = sorted((ROOT / "workflow" / "envs").glob("*.yaml"))
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*==\s*([^\s;,]+)\s*$")
CONDA_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*=\s*([^\s=<>!]+)\s*$")  # name=ver (not ==)


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def pyproject_pins() -> dict[str, str]:
    pins = {}
    for dep in pyproject()["project"]["dependencies"]:
        m = PIN.match(dep)
        assert m, f"pyproject.toml dependency {dep!r} is not an exact `name==version` pin"
        pins[norm(m.group(1))] = m.group(3)
    return pins


def env_pins(path: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(pip pins, conda pins, unpinned conda names) of one environment file."""
    env = yaml.safe_load(open(path))
    pip, conda, unpinned = {}, {}, []
    for dep in env.get("dependencies") or []:
        if isinstance(dep, dict):
            for entry in dep.get("pip", []):
                m = PIN.match(entry)
                assert m, f"{path.name}: pip entry {entry!r} is not an exact `name==version` pin"
                assert norm(m.group(1)) not in pip, f"{path.name}: {entry!r} listed twice"
                pip[norm(m.group(1))] = m.group(3)
        else:
            m = CONDA_PIN.match(str(dep))
            if m:
                conda[norm(m.group(1))] = m.group(2)
            else:
                unpinned.append(str(dep).strip())
    return pip, conda, unpinned


def test_pyproject_pins_are_exact():
    deps = pyproject()["project"]["dependencies"]
    assert deps
    pins = pyproject_pins()
    assert len(pins) == len(deps)  # no package twice
    for extra, entries in pyproject()["project"].get("optional-dependencies", {}).items():
        for dep in entries:
            assert PIN.match(dep), f"optional dependency [{extra}] {dep!r} is not an exact pin"


def test_torch_pins():
    pins = pyproject_pins()
    assert pins["torch"] == "2.14.1"
    assert pins["torchvision"] == "0.29.1"


def test_env_files_exist():
    assert {p.name for p in ENV_FILES} == {"torch.yaml", "analysis.yaml", "pretrained.yaml", "labels.yaml"}


def test_extras_live_in_their_own_envs():
    """Optional extras (cleanlab: AGPL; timm, open_clip) only in the env of the rule that needs them;
    the analysis env holds no torch (its rules never import it)."""
    where = {p.name: set(env_pins(p)[0]) for p in ENV_FILES}
    assert where["labels.yaml"] - where["analysis.yaml"] == {"cleanlab"}
    assert where["pretrained.yaml"] - where["torch.yaml"] == {"timm", "open-clip-torch"}
    assert not {"torch", "torchvision", "cleanlab", "timm", "open-clip-torch"} & where["analysis.yaml"]
    assert not {"cleanlab", "timm", "open-clip-torch"} & where["torch.yaml"]


def extra_pins() -> dict[str, str]:
    """The exact pins of pyproject.toml's optional extras (cleanlab, timm, open_clip, ...)."""
    pins = {}
    for entries in pyproject()["project"].get("optional-dependencies", {}).values():
        for dep in entries:
            m = PIN.match(dep)
            pins[norm(m.group(1))] = m.group(3)
    return pins


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_equal_pyproject(path):
    project = {**extra_pins(), **pyproject_pins()}
    pip, conda, unpinned = env_pins(path)
    assert pip, f"{path.name} pins nothing through pip"
    for name, version in pip.items():
        assert name in project, f"{path.name}: {name} is pinned here but not a pyproject.toml dependency or extra"
        assert version == project[name], f"{path.name}: {name}=={version}, pyproject.toml has {project[name]}"
    for name, version in conda.items():
        if name == "python":  # not a package dependency: must satisfy requires-python
            req = pyproject()["project"]["requires-python"]
            m = re.fullmatch(r">=\s*(\d+)\.(\d+)", req)
            assert m, req
            assert tuple(map(int, version.split(".")[:2])) >= (int(m.group(1)), int(m.group(2))), \
                f"{path.name}: python={version} does not satisfy {req}"
            continue
        assert name in project, f"{path.name}: conda {name}={version} is not a pyproject.toml dependency"
        assert version == project[name], f"{path.name}: {name}={version}, pyproject.toml has {project[name]}"
    assert set(unpinned) <= {"pip"}, f"{path.name}: unpinned conda packages {unpinned}"
    assert not set(pip) & set(conda), f"{path.name}: installed both by conda and pip: {set(pip) & set(conda)}"


def test_torch_env_has_the_training_stack():
    pip, _, _ = env_pins(ROOT / "workflow" / "envs" / "torch.yaml")
    assert pip["torch"] == "2.14.1" and pip["torchvision"] == "0.29.1"
    assert {"numpy", "h5py", "pyyaml"} <= set(pip)


def test_parsers_normalise_names():
    assert norm("PyYAML") == norm("pyyaml") == "pyyaml"
    assert norm("snakemake_executor-plugin.slurm") == "snakemake-executor-plugin-slurm"
    assert PIN.match("torch==2.14.1").groups() == ("torch", None, "2.14.1")
    assert not PIN.match("torch>=2.14") and not PIN.match("torch")
    assert CONDA_PIN.match("python=3.11").groups() == ("python", "3.11")
    assert not CONDA_PIN.match("pip")


def test_installed_versions_match_pins():
    """The environment running the tests has what pyproject.toml pins (local build tags like +cu130 ignored)."""
    from importlib.metadata import PackageNotFoundError, version
    for name, pinned in pyproject_pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            pytest.fail(f"{name} is pinned but not installed")
        assert installed.split("+")[0] == pinned, f"{name}: installed {installed}, pinned {pinned}"


def test_package_version_is_the_projects():
    import ddd
    assert ddd.__version__ == pyproject()["project"]["version"]
