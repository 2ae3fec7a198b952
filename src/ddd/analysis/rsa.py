"""Representational similarity analysis (Figure 7): how alike are two networks' final-layer codes?

For a fixed, seeded subset of evaluation images (:func:`subset`), each network's *penultimate*
activations are recorded: the input of its final linear layer (:func:`activations`, a forward
hook; every architecture of :mod:`ddd.nets.architectures` ends in one). Per network, the representational
dissimilarity matrix (RDM) of the images is ``1 - Pearson correlation`` between their activation
vectors (N x N); two networks are compared by the Pearson correlation of their RDMs' upper
triangles (the diagonal excluded), as Kriegeskorte et al. (2008) and Mehrer et al. (2020). The
paper (appendix A.3, thingsvision) states none of these details; these are the project's choices
(SPEC section 5, Fig 7).

Two back ends compute the same numbers (a test checks they agree):

- ``"rsatoolbox"``: ``rsatoolbox.rdm.calc_rdm(method="correlation")`` and
  ``rsatoolbox.rdm.compare(method="corr")``, the well-kept library (an optional extra,
  ``pip install 'ddd[rsa]'``: it pulls scikit-learn and scikit-image). It holds the whole RDMs in
  memory, float64: use it for subsets of a few thousand images.
- ``"numpy"``: streams over blocks of RDM rows and accumulates the correlation's centred sums, so
  it never holds more than two float64 blocks of 2^20 entries (8 MB each) besides the N x D
  activations: any subset size.

``"auto"`` (default) takes rsatoolbox when it is installed and the subset has at most
:data:`RSATOOLBOX_MAX_IMAGES` images, numpy otherwise.

An image whose activation vector is constant (e.g. every unit of a ReLU layer off) has no
correlation with anything; such images are dropped from a comparison (for both networks) and the
number of images kept is reported.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
import torch
from torch import nn

__all__ = ["activations", "final_linear", "subset", "rdm", "compare_rdms", "rsa_correlation",
           "rsa_vs_base", "example_rdms", "load_network", "BACKENDS", "RSATOOLBOX_MAX_IMAGES", "DEFAULT_SIZE", "DEFAULT_SEED"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "rsatoolbox", "numpy")
RSATOOLBOX_MAX_IMAGES = 5000  # float64 RDMs of 5,000 images: 200 MB each
DEFAULT_SIZE = 1000
DEFAULT_SEED = 1312
_BLOCK = 512


def final_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """``(name, module)`` of the model's final linear layer: the last ``nn.Linear`` it registers."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer; pass layer=<module name>")
    return found[-1]


def _batches(images, batch_size: int, seed: int):
    """Yield float32 image batches from a tensor / array (N, 3, H, W) or a ddd batches object."""
    if hasattr(images, "epoch"):  # ddd.data.InMemoryBatches / LoaderBatches: in order, seeded
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
        (``ddd.data.load_split``'s first return; read in order, unshuffled).
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


def subset(n_images: int, *, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> np.ndarray:
    """A fixed, seeded subset of evaluation image indices.

    Parameters
    ----------
    n_images : images in the evaluation split (N).
    size : images wanted; all N when ``size >= N``.
    seed : numpy seed of the draw (without replacement).

    Returns
    -------
    int64 array (min(size, N),), sorted ascending (for class-major splits the RDM shows classes
    as blocks). The same (n_images, size, seed) always gives the same indices.
    """
    for key, value in (("n_images", n_images), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    if size < 2:
        raise ValueError(f"an RDM needs at least 2 images, got size={size}")
    if size >= n_images:
        return np.arange(n_images, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n_images, size=size, replace=False)).astype(np.int64)


def _check_acts(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] < 3 or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N >= 3 images, D >= 1), got {a.shape}")
    if not np.issubdtype(a.dtype, np.floating) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite floats")
    return a


def _standardize(a: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (float32), so Pearson r = row dot products."""
    z = a.astype(np.float64) - a.mean(axis=1, keepdims=True, dtype=np.float64)
    norm = np.sqrt(np.einsum("ij,ij->i", z, z))
    return (z / np.where(norm > 0, norm, 1)[:, None]).astype(np.float32)


def _varying(a: np.ndarray) -> np.ndarray:
    """bool (N,): rows that are not constant (have a defined correlation)."""
    return np.ptp(a, axis=1) > 0


def rdm(acts) -> np.ndarray:
    """Representational dissimilarity matrix, ``1 - Pearson r`` between rows.

    Parameters
    ----------
    acts : float array (N, D), one activation vector per image.

    Returns
    -------
    float32 (N, N), symmetric, zero diagonal; NaN in the rows and columns of constant vectors.
    """
    a = _check_acts(acts, "acts")
    z = _standardize(a)
    out = 1 - z @ z.T
    np.fill_diagonal(out, 0)
    bad = ~_varying(a)
    out[bad, :] = np.nan
    out[:, bad] = np.nan
    return out


def compare_rdms(rdm_a, rdm_b) -> float:
    """Pearson correlation between the upper triangles (diagonal excluded) of two RDMs (N, N)."""
    a, b = np.asarray(rdm_a, dtype=np.float64), np.asarray(rdm_b, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape != b.shape or a.shape[0] < 3:
        raise ValueError(f"RDMs must be square, of the same shape and at least 3 x 3, got {a.shape} and {b.shape}")
    iu = np.triu_indices(a.shape[0], 1)
    x, y = a[iu], b[iu]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / den) if den > 0 else float("nan")


def _streamed_r(za: np.ndarray, zb: np.ndarray, block: int) -> float:
    """Pearson r of the off-diagonal RDM entries from blocks of rows (never N x N in memory).

    ``za``, ``zb``: standardised activations (:func:`_standardize`). The off-diagonal entries are
    every upper-triangle entry twice, so their correlation is that of the upper triangles. Their
    means are known in closed form (rows of unit norm: the sum of all r_ij with i != j is
    ``|sum_i z_i|^2 - N``), so each block is centred before its products are summed in float64:
    no cancellation between large raw moments. Memory: two float64 blocks of at most ``block``
    rows and 2^20 entries, plus one float32 block.
    """
    n = len(za)
    rows = max(1, min(block, (1 << 20) // n))
    means = []
    for z in (za, zb):
        total = z.sum(axis=0, dtype=np.float64)
        means.append(1.0 - (float(total @ total) - n) / (n * (n - 1)))
    sxx = syy = sxy = 0.0
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        centred = []
        for z, mean in zip((za, zb), means):
            sim = z[start:stop] @ z.T  # float32 (rows, n)
            d = np.subtract(1.0 - mean, sim, dtype=np.float64)  # (1 - r) - mean, float64
            del sim
            d[np.arange(stop - start), np.arange(start, stop)] = 0.0  # the diagonal is left out
            centred.append(d)
        x, y = centred
        sxx += float(np.einsum("ij,ij->", x, x))
        syy += float(np.einsum("ij,ij->", y, y))
        sxy += float(np.einsum("ij,ij->", x, y))
        del x, y, centred
    return float(sxy / np.sqrt(sxx * syy)) if sxx > 0 and syy > 0 else float("nan")


def _rsatoolbox_r(a: np.ndarray, b: np.ndarray) -> float:
    import rsatoolbox

    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x.astype(np.float64)), method="correlation")
            for x in (a, b)]
    return float(np.asarray(rsatoolbox.rdm.compare(rdms[0], rdms[1], method="corr")).ravel()[0])


def _backend(backend: str, n: int) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if backend == "numpy":
        return backend
    try:
        import rsatoolbox  # noqa: F401
    except ImportError as err:
        if backend == "rsatoolbox":
            raise ImportError("backend 'rsatoolbox' needs the optional package rsatoolbox: "
                              "pip install 'ddd[rsa]'") from err
        return "numpy"
    return "rsatoolbox" if backend == "rsatoolbox" or n <= RSATOOLBOX_MAX_IMAGES else "numpy"


def rsa_correlation(acts_a, acts_b, *, backend: str = "auto", block: int = _BLOCK) -> tuple[float, int, str]:
    """Pearson correlation of two networks' RDMs on the same images.

    Parameters
    ----------
    acts_a, acts_b : float arrays (N, D_a) and (N, D_b), rows = the same N images in the same order.
    backend : ``"auto"``, ``"rsatoolbox"`` or ``"numpy"`` (module docstring).
    block : rows of the RDMs computed at once by the numpy back end.

    Returns
    -------
    (r, n_images, backend): r in [-1, 1] (NaN if an RDM is constant), the images kept (constant
    activation vectors in either network are dropped) and the back end used.
    """
    a, b = _check_acts(acts_a, "acts_a"), _check_acts(acts_b, "acts_b")
    if len(a) != len(b):
        raise ValueError(f"acts_a and acts_b must hold the same images, got {len(a)} and {len(b)} rows")
    keep = _varying(a) & _varying(b)
    if keep.sum() < 3:
        raise ValueError(f"only {int(keep.sum())} of {len(a)} images have non-constant activations in both "
                         f"networks; an RDM comparison needs at least 3")
    if not keep.all():
        log.warning("%d of %d images have constant activations in one network and are left out",
                    int((~keep).sum()), len(a))
        a, b = a[keep], b[keep]
    used = _backend(backend, len(a))
    r = _rsatoolbox_r(a, b) if used == "rsatoolbox" else _streamed_r(_standardize(a), _standardize(b), block)
    return r, int(len(a)), used


def load_network(path, recipe: dict, num_classes: int, *, device: str | torch.device = "cpu") -> nn.Module:
    """A trained network: ``ddd.nets.architectures.make_model(recipe["arch"], num_classes, **recipe["arch_options"])``
    with the ``state_dict`` saved at ``path`` (``results/<study>/networks/...pt``), in eval mode."""
    from ddd.nets.architectures import make_model

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"network file {path} does not exist")
    model = make_model(recipe["arch"], num_classes, **recipe.get("arch_options", {}))
    state = torch.load(path, map_location="cpu", weights_only=True)
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


def rsa_vs_base(networks: dict, recipes: dict, dataset_config: dict, *, size: int = DEFAULT_SIZE,
                seed: int = DEFAULT_SEED, base: str | None = None, batch_size: int = 250,
                device: str = "cpu", backend: str = "auto") -> pd.DataFrame:
    """Correlation of every network's RDM with the base network's, on one seeded image subset.

    Parameters
    ----------
    networks : ``{name: path of a state_dict .pt}``, e.g. ``{"base/1": ".../networks/base/1.pt", ...}``.
    recipes : ``{name: resolved recipe}`` (``ddd.experiment.recipes.resolve``; ``arch``, ``arch_options``,
        ``condition``, ``run_instance``, ``epochs``, ``eval_seed`` are read).
    dataset_config : the study's dataset block (``ddd.data.load_split``).
    size, seed : the image subset (:func:`subset`; the same for every network).
    base : name of the base network (default: the one whose recipe's condition is ``"base"``).
    batch_size, device : forward passes.
    backend : :func:`rsa_correlation`'s back end.

    Returns
    -------
    DataFrame, one row per network in ``networks`` order, with columns condition, instance, name,
    other (the network compared with), arch, epoch (the epoch the weights are from: the nominal
    final epoch E, ``epochs``; :func:`ddd.training.train.train_run` saves every network at E, the base's
    too, not after its extra epochs), r_vs_base, n_images, dims (D), backend; the base's own row
    has r_vs_base 1, and a network bit-identical to the base (e.g. a "hardware" run on the CPU)
    scores 1. As for kappa (SPEC section 3), the two networks of ``different_data``
    appear against the base as ``half_data``, and one more row ``different_data`` compares them
    with each other.

    Memory: the base's activations (n x D) and one other network's at a time (two for different
    data), plus the back end's RDM blocks; n = ``size``.
    """
    _check_networks(networks, recipes)
    if base is None:
        bases = [n for n in networks if recipes[n].get("condition") == "base"]
        if not bases:
            raise ValueError(f"no network of condition 'base' among {list(networks)}; pass base=")
        base = bases[0]
    if base not in networks:
        raise ValueError(f"base {base!r} is not among the networks {list(networks)}")
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
        if condition == "different_data":  # each against the base is "half data" (SPEC section 3)
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
