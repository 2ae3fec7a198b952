"""Make the checkout's ``src/ddd`` importable from a rule's script, ahead of any other copy.

Snakemake puts this folder on ``sys.path`` when it runs a script, in a venv and in a conda env
alike; the conda envs hold only the dependencies, so scripts import ``ddd`` from the checkout this
file belongs to (also when the workflow is a module of another Snakefile). The checkout's ``src``
goes first even if ``sys.path`` already lists it further back (Snakemake's script preamble
appends the parent process's ``sys.path`` after site-packages), so a job never runs another copy
of the package than the one that planned it. Without a checkout (a module read from GitHub) the
installed package is used.
"""
import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[2] / "src")
if Path(_SRC, "ddd", "__init__.py").is_file():
    while _SRC in sys.path:
        sys.path.remove(_SRC)
    sys.path.insert(0, _SRC)


def _missing_package_hook(kind, value, traceback, _previous=sys.excepthook):
    """A job that fails for a package its environment lacks says which rule, environment and package."""
    if isinstance(value, ModuleNotFoundError) and value.name:
        import __main__

        rule = getattr(getattr(__main__, "snakemake", None), "rule", "?")
        env = Path(sys.prefix + ".yaml")  # Snakemake keeps each conda env's file beside it
        name = next((line.split(":", 1)[1].strip() for line in env.read_text().splitlines()
                     if line.startswith("name:")), None) if env.is_file() else None
        where = (f"workflow/envs/{name.removeprefix('ddd-')}.yaml" if name else "the environment file of the rule")
        print(f"rule {rule}: the package {value.name.split('.')[0]!r} is missing from this job's environment "
              f"({sys.prefix}); add it to {where}", file=sys.stderr)
    _previous(kind, value, traceback)


sys.excepthook = _missing_package_hook
