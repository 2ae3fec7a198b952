"""Trained networks: ``networks/<run>.pt``, each network's ``state_dict`` at its nominal final epoch E.

One writer (training) and one reader (representational similarity): torch's own format, read
with ``weights_only=True`` (tensors only, no code), written to a sibling file and renamed into
place so that an interrupted job never leaves a file that looks complete.
"""

from __future__ import annotations

import os

from ddd.results.files import ResultsFileError, replace_atomically

__all__ = ["write_network", "read_network"]


def write_network(state_dict: dict, path) -> None:
    """Write a network's ``state_dict`` to ``path`` atomically (parent folders created)."""
    import torch

    replace_atomically(path, lambda tmp: torch.save(state_dict, tmp))


def read_network(path) -> dict:
    """The ``state_dict`` stored at ``path``; a missing or unreadable file is an error naming it."""
    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"network file {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, ...
        raise ResultsFileError(f"{path} is not a readable network file (truncated or corrupt?): "
                         f"{type(err).__name__}: {err}") from err
