"""Make the checkout's ``src/ddd`` importable from a rule's script.

Snakemake puts this folder on ``sys.path`` when it runs a script, in a venv and in a conda env
alike; the conda envs hold only the dependencies, so scripts import ``ddd`` from the checkout.
"""
import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[2] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
