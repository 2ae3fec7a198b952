"""Representations of trained networks (Figure 7): activations on a seeded image subset, every
network's RDM correlation with the base, and the RDMs the figure shows.

The RDMs and their comparison (numpy or rsatoolbox): :mod:`ddd.analysis.rsa`. Networks are read
through :mod:`ddd.results.networks`, the tables written through :mod:`ddd.results.representations`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch import nn

from ddd.analysis.rsa import DEFAULT_SEED, DEFAULT_SIZE, _backend, _varying, rdm, rsa_correlation, subset
from ddd.results.networks import read_network

__all__ = ["final_linear", "activations", "load_network", "rsa_vs_base", "example_rdms", "rsa_study"]

log = logging.getLogger(__name__)


def final_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """``(name, module)`` of the model's final linear layer: the last ``nn.Linear`` it registers."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer; pass layer=<module name>")
    return found[-1]


def _batches(images, batch_size: int, seed: int):
    """Yield float32 image batches from a tensor / array (N, 3, H, W) or a ddd batches object."""
    if hasattr(images, "epoch"):  # ddd.data.loading.InMemoryBatches / LoaderBatches: in order, seeded
        torch.manual_seed(seed)
        for x, _ in images.epoch(batch_size, generator=torch.Generator().manual_seed(seed), shuffle=False):
            yield x
        return
    x = torch.as_tensor(images)
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, channels, H, W), got {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise ValueError(f"images must be float (encoded network input), got {x.dtype}")
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size].float()


@torch.no_grad()
def activations(model: nn.Module, images, *, layer: str = "penultimate", batch_size: int = 256,
                device: str | torch.device = "cpu", seed: int = DEFAULT_SEED) -> np.ndarray:
    """Activations of a network on images, streamed in batches.

    Parameters
    ----------
    model : a network (its mode is restored afterwards; it runs in eval mode).
    images : float tensor or array (N, 3, H, W) of encoded network input, or a ddd batches object
        (``ddd.data.loading.load_split``'s first return; read in order, unshuffled).
    layer : ``"penultimate"``: the input of the final linear layer (:func:`final_linear`), checked
        to be the layer that produces the model's output; or a module name of
        ``model.named_modules()``, whose output is taken (flattened per image).
    batch_size : images per forward pass.
    device : where the forward passes run.
    seed : torch seed set before the first batch (random evaluation transforms, dropout-free).

    Returns
    -------
    float32 array (N, D).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    modules = dict(model.named_modules())
    if layer == "penultimate":
        name, target = final_linear(model)
    elif layer in modules and layer:
        name, target = layer, modules[layer]
    else:
        raise ValueError(f"unknown layer {layer!r}: use 'penultimate' or a module name, e.g. "
                         f"{[n for n in modules if n][-5:]}")
    captured: list[torch.Tensor] = []

    def hook(module, inputs, output):
        captured.append(inputs[0] if layer == "penultimate" else output)
        if layer == "penultimate":
            captured.append(output)

    was_training = model.training
    model.eval()
    dev = torch.device(device)
    handle = target.register_forward_hook(hook)
    out, checked = [], False
    try:
        for x in _batches(images, batch_size, seed):
            captured.clear()
            y = model(x.to(dev))
            if not captured:
                raise ValueError(f"layer {name!r} was not called in the forward pass of {type(model).__name__}")
            a = captured[0]
            if layer == "penultimate" and not checked:
                if captured[-1].shape != y.shape or not torch.equal(captured[-1], y):
                    raise ValueError(f"the last linear layer ({name!r}) of {type(model).__name__} does not "
                                     f"produce its output; pass layer=<module name>")
                checked = True
            out.append(a.reshape(len(a), -1).float().cpu().numpy())
    finally:
        handle.remove()
        model.train(was_training)
    if not out:
        raise ValueError("images is empty")
    return np.concatenate(out).astype(np.float32, copy=False)


def load_network(path, recipe: dict, num_classes: int, *, device: str | torch.device = "cpu") -> nn.Module:
    """A trained network: ``ddd.nets.make_model(recipe["arch"], num_classes, **recipe["arch_options"])``
    with the ``state_dict`` saved at ``path`` (``results/<study>/networks/...pt``), in eval mode."""
    from ddd.nets import make_model

    state = read_network(path)
    model = make_model(recipe["arch"], num_classes, **recipe.get("arch_options", {}))
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{path} does not fit architecture {recipe['arch']!r} with options "
                         f"{recipe.get('arch_options', {})}: {str(err).splitlines()[0]}") from None
    return model.to(device).eval()


def _subset_images(dataset_config: dict, size: int, seed: int):
    """The seeded subset of the evaluation split: (batches in order, number of classes)."""
    from ddd.data.loading import dataset_size, load_split

    idx = subset(dataset_size(dataset_config, "val"), size=size, seed=seed)
    images, meta = load_split(dataset_config, "val", subset=idx)  # only the subset's pixels
    return images, len(meta.class_names)


def _check_networks(networks: dict, recipes: dict) -> None:
    if not networks:
        raise ValueError("no networks given")
    missing = [n for n in networks if n not in recipes]
    if missing:
        raise ValueError(f"no recipe for networks {missing}")


def _pick_base(networks: dict, recipes: dict, base: str | None) -> str:
    _check_networks(networks, recipes)
    if base is None:
        bases = [n for n in networks if recipes[n].get("condition") == "base"]
        if not bases:
            raise ValueError(f"no network of condition 'base' among {list(networks)}; pass base=")
        base = bases[0]
    if base not in networks:
        raise ValueError(f"base {base!r} is not among the networks {list(networks)}")
    return base


def rsa_vs_base(networks: dict, recipes: dict, dataset_config: dict, *, size: int = DEFAULT_SIZE,
                seed: int = DEFAULT_SEED, base: str | None = None, batch_size: int = 250,
                device: str = "cpu", backend: str = "auto") -> pd.DataFrame:
    """Correlation of every network's RDM with the base network's, on one seeded image subset.

    Parameters
    ----------
    networks : ``{name: path of a state_dict .pt}``, e.g. ``{"base/1": ".../networks/base/1.pt", ...}``.
    recipes : ``{name: resolved recipe}`` (``ddd.experiment.recipes.resolve``; ``arch``, ``arch_options``,
        ``condition``, ``run_instance``, ``epochs``, ``eval_seed`` are read).
    dataset_config : the study's dataset block (``ddd.data.loading.load_split``).
    size, seed : the image subset (:func:`subset`; the same for every network).
    base : name of the base network (default: the one whose recipe's condition is ``"base"``).
    batch_size, device : forward passes.
    backend : :func:`rsa_correlation`'s back end.

    Returns
    -------
    DataFrame, one row per network in ``networks`` order, with columns condition, instance, name,
    other (the network compared with), arch, epoch (the epoch the weights are from: the nominal
    final epoch E, ``epochs``; :func:`ddd.training.run.train_run` saves every network at E, the base's
    too, not after its extra epochs), r_vs_base, n_images, dims (D), backend; the base's own row
    has r_vs_base 1, and a network bit-identical to the base (e.g. a "hardware" run on the CPU)
    scores 1. As for kappa (docs/reproduction.md#conditions), the two networks of ``different_data``
    appear against the base as ``half_data``, and one more row ``different_data`` compares them
    with each other.

    Memory: the base's activations (n x D) and one other network's at a time (two for different
    data), plus the back end's RDM blocks; n = ``size``.
    """
    base = _pick_base(networks, recipes, base)
    images, n_classes = _subset_images(dataset_config, size, seed)

    def acts(name):
        model = load_network(networks[name], recipes[name], n_classes, device=device)
        return activations(model, images, batch_size=batch_size, device=device,
                           seed=recipes[name].get("eval_seed", DEFAULT_SEED))

    base_acts = acts(base)
    rows, kept = [], {}
    for name in networks:
        r = recipes[name]
        a = base_acts if name == base else acts(name)
        condition = r.get("condition", name)
        if name == base:
            value, n_used, used = 1.0, int(_varying(a).sum()), _backend(backend, len(a))
        else:
            value, n_used, used = rsa_correlation(base_acts, a, backend=backend)
        if condition == "different_data":  # each against the base is "half data" (docs/reproduction.md#conditions)
            condition = "half_data"
            kept[name] = a
        rows.append(_row(condition, r, name, base, value, n_used, a, used))
        log.info("%s vs %s: r = %.4f (%d images, D = %d, %s)", name, base, value, n_used, a.shape[1], used)
    if len(kept) == 2:  # "different data": the two networks on disjoint halves, with each other
        (first, a1), (second, a2) = kept.items()
        value, n_used, used = rsa_correlation(a1, a2, backend=backend)
        rows.append(_row("different_data", recipes[second], second, first, value, n_used, a2, used))
        log.info("%s vs %s: r = %.4f", second, first, value)
    return pd.DataFrame(rows)


def example_rdms(table: pd.DataFrame, networks: dict, recipes: dict, dataset_config: dict, *,
                 size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED, k: int = 1, batch_size: int = 250,
                 device: str = "cpu") -> dict:
    """The RDMs Figure 7 shows: the base network's and those of the ``k`` networks least similar to it.

    Parameters
    ----------
    table : :func:`rsa_vs_base`'s table (its base row and ``r_vs_base`` choose the networks).
    networks, recipes, dataset_config, size, seed, batch_size, device : as for :func:`rsa_vs_base`
        (use the same ``size`` and ``seed``).
    k : how many of the least similar networks (rows compared with the base, finite r).

    Returns
    -------
    ``{name: float16 (n, n) RDM}``, the base first, then by increasing r.
    """
    _check_networks(networks, recipes)
    if "r_vs_base" not in table.columns or not (table["condition"] == "base").any():
        raise ValueError("table must be rsa_vs_base's, with its base row")
    base = str(table.loc[table["condition"] == "base", "name"].iloc[0])
    vs_base = table[(table["other"].astype(str) == base) & (table["name"].astype(str) != base)]
    vs_base = vs_base[np.isfinite(vs_base["r_vs_base"].astype(float))].sort_values("r_vs_base", kind="stable")
    names = [base] + list(dict.fromkeys(vs_base["name"].astype(str)))[:max(0, k)]
    images, n_classes = _subset_images(dataset_config, size, seed)
    out = {}
    for name in names:
        model = load_network(networks[name], recipes[name], n_classes, device=device)
        out[name] = rdm(activations(model, images, batch_size=batch_size, device=device,
                                    seed=recipes[name].get("eval_seed", DEFAULT_SEED))).astype(np.float16)
    return out


def _row(condition, recipe, name, other, value, n_used, acts, backend) -> dict:
    return {"condition": condition, "instance": recipe.get("run_instance", 1), "name": name, "other": other,
            "arch": recipe["arch"], "epoch": recipe.get("epochs", 0),
            "r_vs_base": value, "n_images": n_used, "dims": int(acts.shape[1]), "backend": backend}


def rsa_study(networks: dict, recipes: dict, dataset_config: dict, *, table_path, rdms_path,
              size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED, device: str = "auto", threads: int = 1) -> pd.DataFrame:
    """:func:`rsa_vs_base` and :func:`example_rdms` of a study's networks, written to ``rsa.tsv`` and
    ``rsa_rdms.npz`` (:mod:`ddd.results.representations`); returns the table."""
    from ddd.nets.device import resolve_device
    from ddd.results.representations import write_rdms, write_rsa_table

    torch.set_num_threads(threads)
    options = {"size": size, "seed": seed, "device": str(resolve_device(device))}
    table = rsa_vs_base(networks, recipes, dataset_config, **options)
    write_rsa_table(table, table_path)
    write_rdms(example_rdms(table, networks, recipes, dataset_config, **options), rdms_path)
    return table
