"""Network architectures, built by name from one registry.

``make_model(arch, num_classes, **options)`` is the only constructor the rest of ``ddd`` uses.
ResNets are built here from torchvision's blocks so that width and stem can be scaled for small
images; at ``width=64`` and ``stem="imagenet"`` they are exactly torchvision's ResNet-18/50
(a test checks the parameter counts). DenseNet-121, VGG-11 and AlexNet are torchvision's own.

The *zoo* (:data:`ZOO`: ``zoo_densenet``, ``zoo_vgg``, ``zoo_vit``, ``zoo_mlp``,
``zoo_squeezenet``, ``zoo_bagnet``) are small versions of radically different architectures for
tiny images, built here; with ``resnet18`` they are the zoo study of the paper's section 3.2
without pretrained weights. Every network ends in one ``nn.Linear`` classifier (the last
``nn.Linear`` it registers), whose input is the penultimate representation ``ddd.analysis.rsa`` reads.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.resnet import BasicBlock, Bottleneck

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
STEMS = ("imagenet", "cifar", "cifar_nopool")


def register_model(name: str):
    """Decorator: register a builder ``f(num_classes, **options) -> nn.Module`` under ``name``."""
    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn
    return wrap


def available_models() -> list[str]:
    """Names accepted by :func:`make_model`."""
    return sorted(_REGISTRY)


def make_model(arch: str, num_classes: int, **options) -> nn.Module:
    """Build an untrained network.

    Parameters
    ----------
    arch : a name from :func:`available_models`.
    num_classes : size of the output layer.
    **options : architecture options (ResNets: ``width``, ``stem``; DenseNet-121: ``stem``; the zoo's:
        see each builder, e.g. ``zoo_vit``'s ``image_size``, ``patch_size``, ``dim``, ``depth``).
    """
    if arch not in _REGISTRY:
        raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(available_models())}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    try:
        return _REGISTRY[arch](num_classes, **options)
    except TypeError as err:
        raise ValueError(f"bad options for architecture {arch!r}: {err}") from None


class ResNet(nn.Module):
    """ResNet with a scalable width and a choice of stem.

    Parameters
    ----------
    block : torchvision's ``BasicBlock`` or ``Bottleneck``.
    layers : blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
    num_classes : outputs.
    width : channels of the first stage (64 in the paper); stages use width x (1, 2, 4, 8).
    stem : ``"imagenet"`` (7x7 stride-2 conv + max-pool), ``"cifar"`` (3x3 stride-1 conv, max-pool
        kept, as the paper's CIFAR variant) or ``"cifar_nopool"``.
    """

    def __init__(self, block, layers, num_classes: int, *, width: int = 64, stem: str = "imagenet"):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"unknown stem {stem!r}; allowed: {', '.join(STEMS)}")
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        if stem == "imagenet":
            conv = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        else:
            conv = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        pool = nn.Identity() if stem == "cifar_nopool" else nn.MaxPool2d(3, stride=2, padding=1)
        self.stem = nn.Sequential(conv, nn.BatchNorm2d(width), nn.ReLU(inplace=True), pool)
        self.inplanes = width
        self.stages = nn.Sequential(*[
            self._stage(block, width * 2 ** i, n, stride=1 if i == 0 else 2) for i, n in enumerate(layers)
        ])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _stage(self, block, planes: int, n: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes) for _ in range(1, n)]
        return nn.Sequential(*blocks)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations, shape (batch, channels)."""
        return torch.flatten(self.pool(self.stages(self.stem(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("resnet18")
def _resnet18(num_classes, *, width=64, stem="imagenet"):
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, width=width, stem=stem)


@register_model("resnet50")
def _resnet50(num_classes, *, width=64, stem="imagenet"):
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, width=width, stem=stem)


@register_model("densenet121")
def _densenet121(num_classes, *, stem="imagenet"):
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; allowed: {', '.join(STEMS)}")
    net = tvm.densenet121(num_classes=num_classes)
    if stem != "imagenet":  # CIFAR variant: 3x3 stride-1 first conv (max-pool kept for "cifar")
        net.features.conv0 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(net.features.conv0.weight)  # as torchvision initialises convs
        if stem == "cifar_nopool":
            net.features.pool0 = nn.Identity()
    return net


@register_model("vgg11")
def _vgg11(num_classes):
    return tvm.vgg11(num_classes=num_classes)


@register_model("alexnet")
def _alexnet(num_classes):
    return tvm.alexnet(num_classes=num_classes)


# ---------------------------------------------------------------------------------------------
# The zoo: small versions of radically different architectures (issue 6, paper section 3.2).
#
# Sized for tiny images (the default Gaussian set: 8 x 8 px, 3 channels, 100 classes) and
# trainable on one CPU thread in well under a minute per run; every one also builds and runs at
# 32 px (CIFAR) and 224 px (give the ViT and the MLP the image size, and the ViT a patch size).
# Every zoo network ends in one ``nn.Linear`` classifier whose input is its (batch, D)
# penultimate representation (``ddd.analysis.rsa.activations`` hooks it); none uses dropout by default,
# so training randomness is the seeds' alone.

#: The zoo's own architectures; with ``resnet18`` (``width=16, stem="cifar"``) they make the zoo.
ZOO = ("zoo_densenet", "zoo_vgg", "zoo_vit", "zoo_mlp", "zoo_squeezenet", "zoo_bagnet")


def _check_positive(**values) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")


def _small_stem(stem: str, out_channels: int) -> nn.Sequential:
    """The ResNets' stems (:data:`STEMS`) with ``out_channels``: ``"cifar"`` 3x3 stride-1 conv then a
    3x3 stride-2 max-pool (an 8 px image continues at 4 px), ``"cifar_nopool"`` the conv only,
    ``"imagenet"`` 7x7 stride-2 conv then the max-pool (224 px images)."""
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; allowed: {', '.join(STEMS)}")
    if stem == "imagenet":
        conv = nn.Conv2d(3, out_channels, 7, stride=2, padding=3, bias=False)
    else:
        conv = nn.Conv2d(3, out_channels, 3, padding=1, bias=False)
    layers = [conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    if stem != "cifar_nopool":
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    return nn.Sequential(*layers)


def _init_conv_bn(module: nn.Module) -> None:
    """torchvision's initialisation: Kaiming-normal convs (fan out), BN weight 1 / bias 0,
    linear layers PyTorch's default."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _pool_to_linear(features: nn.Module, channels: int, num_classes: int) -> tuple[nn.Module, nn.Linear]:
    return nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1)), nn.Linear(channels, num_classes)


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """The batch in channels-last (NHWC) memory layout; values unchanged. On a CPU, max-pooling runs
    up to 15x and a small convolutional net's training step up to 1.7x faster so; the training
    loop itself keeps CPU batches NCHW, so the zoo's convolutional nets switch on entry."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


class _Classifier(nn.Module):
    """``fc(features(x))``: ``features`` gives (batch, D), ``fc`` is the final linear layer. The input
    is switched to channels-last memory layout first (:func:`_channels_last`)."""

    def __init__(self, features: nn.Module, fc: nn.Linear):
        super().__init__()
        self.features, self.fc = features, fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(_channels_last(x)))


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (to ``bn_size`` x ``growth_rate``)-BN-ReLU-3x3 conv (DenseNet-B); without the
    1x1 bottleneck when ``bn_size`` is 0 (the original DenseNet layer)."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int):
        super().__init__()
        layers = [nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True)]
        mid = in_channels
        if bn_size:
            mid = bn_size * growth_rate
            layers += [nn.Conv2d(in_channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers, nn.Conv2d(mid, growth_rate, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


@register_model("zoo_densenet")
def _zoo_densenet(num_classes, *, growth_rate=12, blocks=(2, 2, 2), bn_size=0, init_features=24,
                  compression=0.5, stem="cifar"):
    """DenseNet: a stem (:func:`_small_stem`), dense blocks of layers that each concatenate
    ``growth_rate`` new channels to their input (BN-ReLU-3x3 conv; with a BN-ReLU-1x1 bottleneck
    to ``bn_size`` x ``growth_rate`` channels first when ``bn_size`` > 0, DenseNet-B),
    transitions between blocks (BN-ReLU-1x1 conv compressing by ``compression``, 2x2 average
    pool), BN-ReLU, global average pool, linear.

    Default: 3 blocks of 2 layers, growth 12, no bottleneck (an 8 px image is seen at 4, 2 and
    1 px after the CIFAR stem); DenseNet-121 is ``growth_rate=32, blocks=(6, 12, 24, 16),
    bn_size=4, init_features=64, stem="imagenet"``.
    """
    _check_positive(growth_rate=growth_rate, init_features=init_features)
    if isinstance(bn_size, bool) or not isinstance(bn_size, int) or bn_size < 0:
        raise ValueError(f"bn_size must be a non-negative integer (0: no bottleneck), got {bn_size!r}")
    blocks = tuple(blocks)
    if not blocks:
        raise ValueError("blocks must list at least one dense block")
    _check_positive(**{f"blocks[{i}]": b for i, b in enumerate(blocks)})
    if not 0 < compression <= 1:
        raise ValueError(f"compression must lie in (0, 1], got {compression!r}")
    layers = [_small_stem(stem, init_features)]
    channels = init_features
    for i, n in enumerate(blocks):
        for _ in range(n):
            layers.append(_DenseLayer(channels, growth_rate, bn_size))
            channels += growth_rate
        if i < len(blocks) - 1:
            out = max(1, int(channels * compression))
            layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.Conv2d(channels, out, 1, bias=False),
                       nn.AvgPool2d(2, ceil_mode=True)]
            channels = out
    layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
    net = _Classifier(*_pool_to_linear(nn.Sequential(*layers), channels, num_classes))
    _init_conv_bn(net)
    return net


@register_model("zoo_vgg")
def _zoo_vgg(num_classes, *, width=16, convs=(1, 1, 2, 2), hidden=128, dropout=0.0, stem_pool=False):
    """VGG-style: stages of (3x3 conv, BN, ReLU) x ``convs[i]`` at widths ``width`` x (1, 2, 4, 8, ...),
    each stage but the last followed by a 2x2 max-pool (ceil mode, so 1 px stays 1 px), then
    global average pool, a hidden fully connected layer (``hidden`` units, ReLU, ``dropout``;
    ``hidden=0``: none) and the linear classifier. ``stem_pool``: a 2x2 max-pool after the first
    conv, for 224 px images.
    """
    convs = tuple(convs)
    _check_positive(width=width, **{f"convs[{i}]": c for i, c in enumerate(convs)})
    if not convs:
        raise ValueError("convs must list at least one stage")
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
        raise ValueError(f"hidden must be a non-negative integer, got {hidden!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
    layers, channels = [], 3
    for i, n in enumerate(convs):
        out = width * 2 ** i
        for j in range(n):
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True)]
            channels = out
            if stem_pool and i == 0 and j == 0:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
        if i < len(convs) - 1:
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
    if hidden:
        layers += [nn.Linear(channels, hidden), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        channels = hidden
    net = _Classifier(nn.Sequential(*layers), nn.Linear(channels, num_classes))
    _init_conv_bn(net)
    return net


class _ViTBlock(nn.Module):
    """Pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x)) (GELU)."""

    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """A small vision transformer: non-overlapping ``patch_size`` patches embedded linearly, a
    learned position embedding, ``depth`` pre-norm transformer blocks (``heads`` heads, MLP of
    ``mlp_ratio`` x ``dim`` with GELU), a final LayerNorm, then the class token (``pool="cls"``)
    or the mean over patch tokens (``pool="mean"``) into the linear head.

    ``image_size`` is fixed at construction (the position embedding has one entry per patch); an
    input of another size is refused with a clear error.
    """

    POOLS = ("cls", "mean")

    def __init__(self, num_classes: int, *, image_size: int = 8, patch_size: int = 2, dim: int = 32,
                 depth: int = 2, heads: int = 2, mlp_ratio: float = 2.0, pool: str = "mean"):
        super().__init__()
        _check_positive(image_size=image_size, patch_size=patch_size, dim=dim, depth=depth, heads=heads)
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        if dim % heads:
            raise ValueError(f"dim {dim} is not a multiple of heads {heads}")
        if pool not in self.POOLS:
            raise ValueError(f"unknown pool {pool!r}; allowed: {', '.join(self.POOLS)}")
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be a positive number, got {mlp_ratio!r}")
        self.image_size, self.patch_size, self.pool = image_size, patch_size, pool
        n_patches = (image_size // patch_size) ** 2
        self.embed = nn.Conv2d(3, dim, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.pos = nn.Parameter(torch.zeros(1, n_patches + (pool == "cls"), dim))
        self.blocks = nn.Sequential(*[_ViTBlock(dim, heads, max(1, round(dim * mlp_ratio))) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.pos, std=0.02)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate representation, (batch, dim)."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"this ViT was built for {self.image_size} px images, got {tuple(x.shape[-2:])}; "
                             f"set the arch option image_size")
        t = self.embed(x).flatten(2).transpose(1, 2)
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(len(t), -1, -1), t], 1)
        t = self.norm(self.blocks(t + self.pos))
        return t[:, 0] if self.pool == "cls" else t.mean(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("zoo_vit")
def _zoo_vit(num_classes, *, image_size=8, patch_size=2, dim=32, depth=2, heads=2, mlp_ratio=2.0, pool="mean"):
    return ViT(num_classes, image_size=image_size, patch_size=patch_size, dim=dim, depth=depth, heads=heads,
               mlp_ratio=mlp_ratio, pool=pool)


class MLP(nn.Module):
    """Flatten the (3, image_size, image_size) image, then fully connected layers of ``hidden``
    units, each Linear-BN-ReLU (``batchnorm=False``: Linear-ReLU), then the linear classifier."""

    def __init__(self, num_classes: int, *, image_size: int = 8, hidden=(512, 512, 256), batchnorm: bool = True):
        super().__init__()
        hidden = tuple(hidden)
        _check_positive(image_size=image_size, **{f"hidden[{i}]": h for i, h in enumerate(hidden)})
        self.image_size = image_size
        layers, width = [nn.Flatten(1)], 3 * image_size ** 2
        for h in hidden:
            layers.append(nn.Linear(width, h, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU(inplace=True))
            width = h
        self.features_ = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-3:] != (3, self.image_size, self.image_size):
            raise ValueError(f"this MLP was built for (3, {self.image_size}, {self.image_size}) images, got "
                             f"{tuple(x.shape[-3:])}; set the arch option image_size")
        return self.features_(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("zoo_mlp")
def _zoo_mlp(num_classes, *, image_size=8, hidden=(512, 512, 256), batchnorm=True):
    return MLP(num_classes, image_size=image_size, hidden=hidden, batchnorm=batchnorm)


class _Fire(nn.Module):
    """SqueezeNet's fire module: 1x1 squeeze, then 1x1 and 3x3 expands concatenated (ReLU after each;
    BN after each conv, which the original lacks, so that it trains from scratch at a high LR)."""

    def __init__(self, in_channels: int, squeeze: int, expand: int):
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(in_channels, squeeze, 1, bias=False), nn.BatchNorm2d(squeeze),
                                     nn.ReLU(inplace=True))
        self.expand1 = nn.Sequential(nn.Conv2d(squeeze, expand, 1, bias=False), nn.BatchNorm2d(expand),
                                     nn.ReLU(inplace=True))
        self.expand3 = nn.Sequential(nn.Conv2d(squeeze, expand, 3, padding=1, bias=False), nn.BatchNorm2d(expand),
                                     nn.ReLU(inplace=True))

    def forward(self, x):
        s = self.squeeze(x)
        return torch.cat([self.expand1(s), self.expand3(s)], 1)


@register_model("zoo_squeezenet")
def _zoo_squeezenet(num_classes, *, width=8, fires=(2, 1, 1), stem="cifar"):
    """SqueezeNet 1.1 in small: stem, stages of ``fires[i]`` fire modules separated by 2x2 max-pools
    (ceil mode), global average pool, linear. Stage i squeezes to ``width`` x (1, 2, 3, ...)[i]
    channels and expands to twice as many per branch (1x1 and 3x3, concatenated): 4 x ``width`` x
    (1, 2, 3) channels out, SqueezeNet's 1:4 squeeze ratio. SqueezeNet 1.1 has (2, 2, 4) fire
    modules; the default (2, 1, 1) with ``width=8`` keeps a small image's training within the
    zoo's budget.

    SqueezeNet's own head (1x1 conv to classes, ReLU, average) is replaced by average pool then
    linear: the same as a 1x1 conv averaged over locations, without a ReLU on the logits, and with
    the final linear layer every zoo network has.
    """
    fires = tuple(fires)
    _check_positive(width=width, **{f"fires[{i}]": f for i, f in enumerate(fires)})
    if not fires:
        raise ValueError("fires must list at least one stage")
    channels = 4 * width
    layers = [_small_stem(stem, channels)]
    for i, n in enumerate(fires):
        if i:
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        for _ in range(n):
            layers.append(_Fire(channels, (i + 1) * width, 2 * (i + 1) * width))
            channels = 4 * (i + 1) * width
    net = _Classifier(*_pool_to_linear(nn.Sequential(*layers), channels, num_classes))
    _init_conv_bn(net)
    return net


class _BagBlock(nn.Module):
    """Residual bottleneck of 1x1 - (kxk valid) - 1x1 convs; the skip path is cropped to the valid
    output, so the block widens the receptive field by k - 1 pixels and no more."""

    def __init__(self, channels: int, mid: int, kernel: int):
        super().__init__()
        self.crop = (kernel - 1) // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        c = self.crop
        skip = x[..., c:x.shape[-2] - c, c:x.shape[-1] - c] if c else x
        return self.relu(self.body(x) + skip)


class BagNet(nn.Module):
    """A bag-of-local-features network (BagNet, Brendel & Bethge 2019) with a small receptive field.

    Every output location sees only a ``receptive_field`` x ``receptive_field`` window of the
    input: all convolutions are 1x1 except ``(receptive_field - 1) / 2`` unpadded 3x3 ones, and
    nothing mixes locations before the end. Location (i, j) of :meth:`location_logits` depends
    on input pixels [i, i + rf) x [j, j + rf) only; the class logits are their average over
    locations (computed as the linear classifier applied to the averaged features, which is the
    same thing). Images must be at least ``receptive_field`` pixels on a side.
    """

    def __init__(self, num_classes: int, *, receptive_field: int = 3, width: int = 16, blocks: int = 3):
        super().__init__()
        _check_positive(receptive_field=receptive_field, width=width, blocks=blocks)
        if receptive_field % 2 == 0:
            raise ValueError(f"receptive_field must be odd (1, 3, 5, ...), got {receptive_field}")
        n3 = (receptive_field - 1) // 2
        if n3 > blocks:
            raise ValueError(f"receptive_field {receptive_field} needs at least {n3} blocks, got blocks={blocks}")
        self.receptive_field = receptive_field
        kernels = [3 if i < n3 else 1 for i in range(blocks)]
        self.stem = nn.Sequential(nn.Conv2d(3, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*[_BagBlock(width, width, k) for k in kernels])
        self.fc = nn.Linear(width, num_classes)
        _init_conv_bn(self)

    def local_features(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, width, H - rf + 1, W - rf + 1): the features of every local window."""
        if min(x.shape[-2:]) < self.receptive_field:
            raise ValueError(f"images must be at least {self.receptive_field} px on a side (the receptive "
                             f"field), got {tuple(x.shape[-2:])}")
        return self.blocks(self.stem(_channels_last(x)))

    def location_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of every location, (batch, classes, H - rf + 1, W - rf + 1)."""
        f = self.local_features(x)
        return torch.einsum("bchw,kc->bkhw", f, self.fc.weight) + self.fc.bias[None, :, None, None]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate representation: local features averaged over locations, (batch, width)."""
        return self.local_features(x).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_model("zoo_bagnet")
def _zoo_bagnet(num_classes, *, receptive_field=3, width=16, blocks=3):
    return BagNet(num_classes, receptive_field=receptive_field, width=width, blocks=blocks)
