"""The zoo: small versions of radically different architectures for tiny images (the paper's
section 3.2 without pretrained weights; docs/reproduction.md#families).

Sized for tiny images (the default Gaussian set: 8 x 8 px, 3 channels, 100 classes) and
trainable on one CPU thread in well under a minute per run; every one also builds and runs at
32 px (CIFAR) and 224 px (give the ViT and the MLP the image size, and the ViT a patch size).
Every zoo network ends in one ``nn.Linear`` classifier whose input is its (batch, D)
penultimate representation (``ddd.analysis.representations.activations`` hooks it); none uses dropout by
default, so training randomness is the seeds' alone. The zoo's bag-of-features net is
:class:`ddd.nets.bagnet.SmallBagNet`; with ``resnet18`` (``width=16, stem="cifar"``) these make
the zoo (:data:`ddd.nets.ZOO`).
"""

from __future__ import annotations

import torch
from torch import nn

from ddd.nets.layers import Classifier, check_positive, init_conv_bn, pool_to_linear, small_stem


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


def zoo_densenet(num_classes, *, growth_rate=12, blocks=(2, 2, 2), bn_size=0, init_features=24,
                  compression=0.5, stem="cifar"):
    """DenseNet: a stem (:func:`small_stem`), dense blocks of layers that each concatenate
    ``growth_rate`` new channels to their input (BN-ReLU-3x3 conv; with a BN-ReLU-1x1 bottleneck
    to ``bn_size`` x ``growth_rate`` channels first when ``bn_size`` > 0, DenseNet-B),
    transitions between blocks (BN-ReLU-1x1 conv compressing by ``compression``, 2x2 average
    pool), BN-ReLU, global average pool, linear.

    Default: 3 blocks of 2 layers, growth 12, no bottleneck (an 8 px image is seen at 4, 2 and
    1 px after the CIFAR stem); DenseNet-121 is ``growth_rate=32, blocks=(6, 12, 24, 16),
    bn_size=4, init_features=64, stem="imagenet"``.
    """
    check_positive(growth_rate=growth_rate, init_features=init_features)
    if isinstance(bn_size, bool) or not isinstance(bn_size, int) or bn_size < 0:
        raise ValueError(f"bn_size must be a non-negative integer (0: no bottleneck), got {bn_size!r}")
    blocks = tuple(blocks)
    if not blocks:
        raise ValueError("blocks must list at least one dense block")
    check_positive(**{f"blocks[{i}]": b for i, b in enumerate(blocks)})
    if not 0 < compression <= 1:
        raise ValueError(f"compression must lie in (0, 1], got {compression!r}")
    layers = [small_stem(stem, init_features)]
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
    net = Classifier(*pool_to_linear(nn.Sequential(*layers), channels, num_classes))
    init_conv_bn(net)
    return net


def zoo_vgg(num_classes, *, width=16, convs=(1, 1, 2, 2), hidden=128, dropout=0.0, stem_pool=False):
    """VGG-style: stages of (3x3 conv, BN, ReLU) x ``convs[i]`` at widths ``width`` x (1, 2, 4, 8, ...),
    each stage but the last followed by a 2x2 max-pool (ceil mode, so 1 px stays 1 px), then
    global average pool, a hidden fully connected layer (``hidden`` units, ReLU, ``dropout``;
    ``hidden=0``: none) and the linear classifier. ``stem_pool``: a 2x2 max-pool after the first
    conv, for 224 px images.
    """
    convs = tuple(convs)
    check_positive(width=width, **{f"convs[{i}]": c for i, c in enumerate(convs)})
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
    net = Classifier(nn.Sequential(*layers), nn.Linear(channels, num_classes))
    init_conv_bn(net)
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
        check_positive(image_size=image_size, patch_size=patch_size, dim=dim, depth=depth, heads=heads)
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


def zoo_vit(num_classes, *, image_size=8, patch_size=2, dim=32, depth=2, heads=2, mlp_ratio=2.0, pool="mean"):
    return ViT(num_classes, image_size=image_size, patch_size=patch_size, dim=dim, depth=depth, heads=heads,
               mlp_ratio=mlp_ratio, pool=pool)


class MLP(nn.Module):
    """Flatten the (3, image_size, image_size) image, then fully connected layers of ``hidden``
    units, each Linear-BN-ReLU (``batchnorm=False``: Linear-ReLU), then the linear classifier."""

    def __init__(self, num_classes: int, *, image_size: int = 8, hidden=(512, 512, 256), batchnorm: bool = True):
        super().__init__()
        hidden = tuple(hidden)
        check_positive(image_size=image_size, **{f"hidden[{i}]": h for i, h in enumerate(hidden)})
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


def zoo_mlp(num_classes, *, image_size=8, hidden=(512, 512, 256), batchnorm=True):
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


def zoo_squeezenet(num_classes, *, width=8, fires=(2, 1, 1), stem="cifar"):
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
    check_positive(width=width, **{f"fires[{i}]": f for i, f in enumerate(fires)})
    if not fires:
        raise ValueError("fires must list at least one stage")
    channels = 4 * width
    layers = [small_stem(stem, channels)]
    for i, n in enumerate(fires):
        if i:
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        for _ in range(n):
            layers.append(_Fire(channels, (i + 1) * width, 2 * (i + 1) * width))
            channels = 4 * (i + 1) * width
    net = Classifier(*pool_to_linear(nn.Sequential(*layers), channels, num_classes))
    init_conv_bn(net)
    return net
