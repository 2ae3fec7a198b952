"""Networks, built by name from one registry; this module imports nothing heavy.

:data:`REGISTRY` maps every name to its builder, a ``"module:function"`` string imported only
when a network is built, with the keyword options the builder takes. Two kinds of names share it:

- *architectures* (:func:`available_models`), trained by ``ddd.training``: the scalable ResNets
  and torchvision's DenseNet-121, VGG-11 and AlexNet (:mod:`ddd.nets.resnets`), and the zoo's
  small versions of radically different architectures (:data:`ZOO`; :mod:`ddd.nets.zoo`,
  :mod:`ddd.nets.bagnet`), docs/reproduction.md#families;
- *checkpoint builders* (:func:`checkpoint_builders`), the networks of published weights files
  read by ``ddd.pretrained`` (:mod:`ddd.nets.checkpoints`, :mod:`ddd.nets.bagnet`,
  :mod:`ddd.nets.cornet`), each with its :class:`Checkpoint` metadata: how to find the state dict
  in the file, where the file comes from, its preprocessing (docs/reproduction.md#pretrained-models).

Planning checks names and options with :func:`available_models` and :func:`check_options`
without importing torch; :func:`make_model` builds (and imports the builder's module). Every
architecture ends in one ``nn.Linear`` classifier (the last ``nn.Linear`` it registers), whose
input is the penultimate representation ``ddd.analysis.rsa`` reads. A test checks that every
entry's option list is its builder's signature.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import import_module

#: Stems of the scalable ResNets and the zoo's convolutional nets (``ddd.nets.layers``).
STEMS = ("imagenet", "cifar", "cifar_nopool")
#: The zoo's own architectures; with ``resnet18`` (``width=16, stem="cifar"``) they make the zoo.
ZOO = ("zoo_densenet", "zoo_vgg", "zoo_vit", "zoo_mlp", "zoo_squeezenet", "zoo_bagnet")


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint builder knows about its published file besides the network.

    ``extract``: ``"module:function"``, loaded file -> state dict in the network's key layout;
    ``origin``: where the file comes from (text only: nothing is downloaded); ``file_name``: its
    name in torch.hub's cache, if it has one; ``preprocessing``: defaults that differ from the
    standard ImageNet ones; ``check``: ``"module:function"``, (loaded file, preprocessing) ->
    list of problems, or None.
    """

    extract: str
    origin: str = ""
    file_name: str | None = None
    preprocessing: dict = field(default_factory=dict)
    check: str | None = None


@dataclass(frozen=True)
class Entry:
    """One registered network: ``builder`` (``"module:function"``, called as
    ``f(num_classes, **options)``), the keyword ``options`` it takes (``required``: those without
    a default; ``more_options``: it passes any other keyword on), and ``checkpoint`` metadata for
    checkpoint builders (None for architectures)."""

    builder: str
    options: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    more_options: bool = False
    checkpoint: Checkpoint | None = None


_BAGNET_URL = ("https://bitbucket.org/wielandbrendel/bag-of-feature-pretrained-models/raw/"
               "249e8fa82c0913623a807d9d35eeab9da7dcc2a8/")
_UNWRAP = "ddd.nets.checkpoints:unwrap_state_dict"


def _bagnet(name: str, file_name: str) -> Entry:
    return Entry(f"ddd.nets.bagnet:{name}", ("strides",), checkpoint=Checkpoint(
        _UNWRAP, file_name=file_name,
        origin=f"{_BAGNET_URL}{file_name} (wielandbrendel/bag-of-local-features-models; "
               "the file name counts the receptive field from 0)"))


REGISTRY: dict[str, Entry] = {
    # architectures
    "resnet18": Entry("ddd.nets.resnets:resnet18", ("width", "stem")),
    "resnet50": Entry("ddd.nets.resnets:resnet50", ("width", "stem")),
    "densenet121": Entry("ddd.nets.resnets:densenet121", ("stem",)),
    "vgg11": Entry("ddd.nets.resnets:vgg11"),
    "alexnet": Entry("ddd.nets.resnets:alexnet"),
    "zoo_densenet": Entry("ddd.nets.zoo:zoo_densenet", ("growth_rate", "blocks", "bn_size", "init_features",
                                                        "compression", "stem")),
    "zoo_vgg": Entry("ddd.nets.zoo:zoo_vgg", ("width", "convs", "hidden", "dropout", "stem_pool")),
    "zoo_vit": Entry("ddd.nets.zoo:zoo_vit", ("image_size", "patch_size", "dim", "depth", "heads", "mlp_ratio",
                                              "pool")),
    "zoo_mlp": Entry("ddd.nets.zoo:zoo_mlp", ("image_size", "hidden", "batchnorm")),
    "zoo_squeezenet": Entry("ddd.nets.zoo:zoo_squeezenet", ("width", "fires", "stem")),
    "zoo_bagnet": Entry("ddd.nets.bagnet:zoo_bagnet", ("receptive_field", "width", "blocks")),
    # checkpoint builders
    "torchvision": Entry("ddd.nets.checkpoints:torchvision_any", ("arch",), required=("arch",), more_options=True,
                         checkpoint=Checkpoint(
                             _UNWRAP, origin="your own file: a state dict of torchvision.models.<arch> (option arch)")),
    "resnet50_sin": Entry("ddd.nets.checkpoints:torchvision_resnet50", checkpoint=Checkpoint(
        _UNWRAP, file_name="resnet50_train_60_epochs-c8e5653e.pth.tar",
        origin="https://bitbucket.org/robert_geirhos/texture-vs-shape-pretrained-models/raw/"
               "6f41d2e86fc60566f78de64ecff35cc61eb6436f/resnet50_train_60_epochs-c8e5653e.pth.tar "
               "(rgeirhos/texture-vs-shape: ResNet-50 trained on Stylized-ImageNet)")),
    "resnet50_l2_eps1": Entry("ddd.nets.checkpoints:torchvision_resnet50", checkpoint=Checkpoint(
        "ddd.nets.checkpoints:robust_extract", check="ddd.nets.checkpoints:robust_check",
        file_name="resnet50_l2_eps1.ckpt",
        origin="https://huggingface.co/madrylab/robust-imagenet-models/resolve/main/resnet50_l2_eps1.ckpt "
               "(MadryLab/robustness, microsoft/robust-models-transfer: ResNet-50, L2 eps 1.0)")),
    "simclr_resnet50x1": Entry("ddd.nets.checkpoints:torchvision_resnet50", checkpoint=Checkpoint(
        _UNWRAP, file_name="simclr-resnet50-x1", preprocessing={"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)},
        origin="google-research/simclr's ResNet-50 (1x) with its supervised linear head, converted to "
               "PyTorch with tonylins/simclr-converter (convert.py <tf checkpoint> <out.pth>); "
               "model-vs-human's copy: Google Drive file id 1a6IO4xhWy8cdyAuWv0BxSONz7lMcKbZE")),
    "bagnet9": _bagnet("bagnet9", "bagnet8-34f4ccd2.pth.tar"),
    "bagnet17": _bagnet("bagnet17", "bagnet16-105524de.pth.tar"),
    "bagnet33": _bagnet("bagnet33", "bagnet32-2ddd53ed.pth.tar"),
    "cornet_rt": Entry("ddd.nets.cornet:cornet_rt", ("times",), checkpoint=Checkpoint(
        _UNWRAP, file_name="cornet_rt-933c001c.pth",
        origin="https://s3.amazonaws.com/cornet-models/cornet_rt-933c001c.pth (dicarlolab/CORnet, "
               "cornet.get_model('rt', pretrained=True))")),
}


def available_models() -> list[str]:
    """Names accepted by :func:`make_model` (the architectures)."""
    return sorted(k for k, e in REGISTRY.items() if e.checkpoint is None)


def checkpoint_builders() -> list[str]:
    """Names of the checkpoint builders (the ``model`` of a ``checkpoint`` source)."""
    return sorted(k for k, e in REGISTRY.items() if e.checkpoint is not None)


def checkpoint_info(name: str) -> Checkpoint:
    """The metadata of checkpoint builder ``name``; an unknown name (KeyError) lists the close matches."""
    if name not in checkpoint_builders():
        close = difflib.get_close_matches(name, checkpoint_builders(), n=5, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown checkpoint builder {name!r}.{hint} Registered: {', '.join(checkpoint_builders())}")
    return REGISTRY[name].checkpoint


def resolve(ref: str):
    """The object a ``"module:function"`` string names (imports the module)."""
    module, _, name = ref.partition(":")
    return getattr(import_module(module), name)


def _architecture(arch: str) -> Entry:
    if arch not in REGISTRY or REGISTRY[arch].checkpoint is not None:
        raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(available_models())}")
    return REGISTRY[arch]


#: Options whose values planning checks without building: positive integers, and the stems.
_POSITIVE_INT_OPTIONS = ("width", "image_size", "patch_size", "dim", "depth", "heads", "receptive_field",
                         "growth_rate", "bn_size", "init_features", "times")


def check_options(arch: str, options: dict) -> None:
    """Raise ValueError unless ``arch`` is an architecture, ``options`` are names its builder takes
    and the values planning can judge are allowed (``stem`` one of :data:`STEMS`, sizes and counts
    positive integers); the rest is checked when it builds. Imports nothing."""
    entry = _architecture(arch)
    unknown = sorted(set(options) - set(entry.options)) if not entry.more_options else []
    missing = [k for k in entry.required if k not in options]
    if unknown or missing:
        problem = (f"unknown options {', '.join(map(repr, unknown))}" if unknown
                   else f"missing options {', '.join(map(repr, missing))}")
        raise ValueError(f"bad options for architecture {arch!r}: {problem}; allowed: "
                         f"{', '.join(entry.options) or 'none'}")
    if "stem" in options and options["stem"] not in STEMS:
        raise ValueError(f"bad options for architecture {arch!r}: unknown stem {options['stem']!r}; allowed: "
                         f"{', '.join(STEMS)}")
    for key in _POSITIVE_INT_OPTIONS:
        value = options.get(key)
        if key in options and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"bad options for architecture {arch!r}: {key} must be a positive integer, "
                             f"got {value!r}")


def make_model(arch: str, num_classes: int, **options):
    """Build an untrained network (an ``nn.Module``).

    Parameters
    ----------
    arch : a name from :func:`available_models`.
    num_classes : size of the output layer.
    **options : architecture options (ResNets: ``width``, ``stem``; DenseNet-121: ``stem``; the zoo's:
        see each builder, e.g. ``zoo_vit``'s ``image_size``, ``patch_size``, ``dim``, ``depth``).
    """
    entry = _architecture(arch)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    try:
        return resolve(entry.builder)(num_classes, **options)
    except TypeError as err:
        raise ValueError(f"bad options for architecture {arch!r}: {err}") from None


def build_checkpoint_network(name: str, num_classes: int, **options):
    """The network of checkpoint builder ``name``, randomly initialised (``ddd.pretrained`` loads
    the weights after comparing keys and shapes). A TypeError means options it does not take."""
    checkpoint_info(name)
    return resolve(REGISTRY[name].builder)(num_classes, **options)
