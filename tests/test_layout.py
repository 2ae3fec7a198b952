"""The package's layout: subpackages by pipeline stage, imports pointing one way.

Stages, from the bottom: what a study is made of (``experiment``), the data, the networks, the
results' file formats, training and pretrained inference (which write results), the analysis, the
report and the psychophysics (which show analyses), and the config (planning reads the light parts
of every stage). A module may import its own stage and the stages below, never one above.
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ddd"
RANK = {"logs": 0, "experiment": 0, "data": 1, "nets": 2, "results": 3, "training": 4, "pretrained": 4,
        "analysis": 5, "report": 6, "psychophysics": 7, "config": 8}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def _modules():
    return [p for p in sorted(SRC.rglob("*.py")) if p.relative_to(SRC).parts[0] != "__init__.py"]


def test_every_stage_is_ranked():
    stages = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in _modules()} - {"__main__"}
    assert stages == set(RANK), f"unranked stages: {sorted(stages - set(RANK))}, gone: {sorted(set(RANK) - stages)}"


def test_imports_point_down_the_pipeline():
    wrong = []
    for path in _modules():
        stage = path.relative_to(SRC).parts[0].removesuffix(".py")
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] == "ddd" and len(parts) > 1 and RANK[parts[1]] > RANK[stage]:
                wrong.append(f"{path.relative_to(SRC)} ({stage}) imports {module} ({parts[1]})")
    assert not wrong, "imports of a later stage:\n" + "\n".join(wrong)


def test_relative_imports_stay_inside_their_subpackage():
    """Relative imports never climb out of a stage (``from ..x``), so the check above sees every edge."""
    climbing = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            depth = len(path.relative_to(SRC).parts) - 1
            if isinstance(node, ast.ImportFrom) and node.level > depth:
                climbing.append(f"{path.relative_to(SRC)}: from {'.' * node.level}{node.module or ''}")
    assert not climbing, climbing


def test_documented_imports_exist():
    """Every ``from ddd... import ...`` and every ``ddd.<stage>.<name>`` the README and docs/ show names
    something that exists."""
    import importlib
    import re

    root = SRC.parents[1]
    texts = {p: p.read_text() for p in [root / "README.md", root / "config" / "README.md",
                                         *sorted((root / "docs").glob("*.md"))]}
    missing = []
    for path, text in texts.items():
        for module, names in re.findall(r"^\s*from (ddd[\w.]*) import ([\w, ]+)$", text, re.M):
            mod = importlib.import_module(module)
            missing += [f"{path.name}: {module}.{n}" for n in map(str.strip, names.split(",")) if not hasattr(mod, n)]
        for ref in set(re.findall(r"\bddd(?:\.[A-Za-z_]\w*)+", text)):
            parts = ref.split(".")
            for i in range(len(parts), 1, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:i]))
                except ImportError:
                    continue
                for attr in parts[i:]:
                    obj = getattr(obj, attr, None)
                if obj is None:
                    missing.append(f"{path.name}: {ref}")
                break
            else:
                missing.append(f"{path.name}: {ref}")
    assert not missing, missing
