"""Building blocks shared by the GAN variants: MLPs for points and flattened images, a
DCGAN-style convolutional trunk, label conditioning, and the discriminator wrapper that carries
the architectural training tricks.

The toy-2D networks follow the setup of VEEGAN (Srivastava et al., NeurIPS 2017) used by PacGAN
(Lin et al., NeurIPS 2018): a generator of four 400-unit ReLU layers with BatchNorm fed a
two-dimensional latent ``z ~ N(0, I)`` (PacGAN's released configuration), and a discriminator of
three 200-unit maxout layers with 5 pieces. Every variant that runs on toy2d uses them, so that
the mode-collapse benchmark compares losses, not architectures.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.generators.architecture import Schedule, capped_doubling
from ganbench.generators.base import DataSpec
from ganbench.generators.layers import MinibatchDiscrimination
from ganbench.generators.tricks import Tricks

POINT_DIM = 2
POINT_Z_DIM = 2  # the latent size of PacGAN's toy-2D experiments, for every variant on points


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al., ICML 2013): the max over ``pieces`` linear maps."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), -1, self.pieces).amax(-1)


class MLPGenerator(nn.Module):
    """``z`` -> ``depth`` hidden ReLU layers (optionally BatchNorm) -> an output of ``out_shape``.

    Images end in Tanh (range [-1, 1]); points are unbounded coordinates.
    """

    def __init__(self, in_features: int, out_shape: tuple[int, ...], hidden: int, depth: int,
                 batchnorm: bool = True, tanh: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        features = in_features
        for _ in range(depth):
            layers += [nn.Linear(features, hidden, bias=not batchnorm)]
            layers += [nn.BatchNorm1d(hidden)] if batchnorm else []
            layers += [nn.ReLU(True)]
            features = hidden
        layers.append(nn.Linear(features, math.prod(out_shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.out_shape = out_shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(len(z), *self.out_shape)


class MLPTrunk(nn.Module):
    """Flattened input -> ``depth`` hidden layers of maxout units (or LeakyReLU 0.2 when ``pieces`` is 0)."""

    def __init__(self, in_features: int, hidden: int, depth: int, pieces: int = 5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        features = in_features
        for _ in range(depth):
            layers += [Maxout(features, hidden, pieces)] if pieces else [nn.Linear(features, hidden), nn.LeakyReLU(0.2, True)]
            features = hidden
        self.net = nn.Sequential(*layers)
        self.feature_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


def conv_stages(resolution: int) -> int:
    """Stride-2 stages from ``resolution`` down to 4x4."""
    stages = int(math.log2(resolution)) - 2
    if resolution < 8 or 2 ** (stages + 2) != resolution:
        raise ValueError(f"convolutional networks need a power-of-two resolution >= 8, got {resolution}")
    return stages


#: DCGAN-style stacks never exceed this many times ``width`` channels: DCGAN's 64 px generator
#: (Radford et al. 2015, Fig. 1) has 1024 channels at 4x4 and 128 at its last hidden layer.
DCGAN_CHANNEL_CAP = 8


def dcgan_channels(width: int, resolution: int) -> list[int]:
    """Channels of a DCGAN-style discriminator's maps at ``resolution / 2``, ``/ 4``, ..., 4x4 (the
    generator's, from 4x4 up, in reverse): ``width`` doubling per stage, at most ``8 width``."""
    return capped_doubling(width, conv_stages(resolution), DCGAN_CHANNEL_CAP * width)


def conv_trunk_schedule(in_channels: int, resolution: int, width: int) -> Schedule:
    """:class:`ConvTrunk`'s path: the image, then one stride-2 stage per halving down to 4x4."""
    sides = tuple(resolution >> i for i in range(conv_stages(resolution) + 1))
    return Schedule(sides, (in_channels, *dcgan_channels(width, resolution)))


class ConvTrunk(nn.Module):
    """DCGAN-style discriminator trunk: 4x4 stride-2 convs down to 4x4, channels doubling (at most
    ``8 width``, :func:`dcgan_channels`), LeakyReLU 0.2, BatchNorm on every conv but the first (or
    none); output flattened."""

    def __init__(self, in_channels: int, resolution: int, width: int, batchnorm: bool = True) -> None:
        super().__init__()
        channels = dcgan_channels(width, resolution)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for cin, cout in zip(channels, channels[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=not batchnorm)]
            layers += [nn.BatchNorm2d(cout)] if batchnorm else []
            layers += [nn.LeakyReLU(0.2, True)]
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = channels[-1] * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN packing: ``m`` consecutive samples concatenated along dim 1 (a remainder is dropped)."""
    if m == 1:
        return x
    n = len(x) - len(x) % m
    return x[:n].reshape(n // m, m * x.shape[1], *x.shape[2:])


def spectral_norm_all(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every linear and convolutional layer."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            spectral_norm(m)
    return module


class Discriminator(nn.Module):
    """pack -> trunk -> [minibatch discrimination] -> linear head, one output per (packed) sample.

    ``make_trunk(m)`` builds the variant's trunk for inputs of ``m`` samples packed together and
    exposes ``feature_dim``. :meth:`features` (the trunk's output) serves feature matching and
    heads that share the trunk (InfoGAN's Q); :meth:`classify` maps features to outputs.
    """

    def __init__(self, make_trunk: Callable[[int], nn.Module], tricks: Tricks, spectral: bool = False) -> None:
        super().__init__()
        self.packing = tricks.packing
        self.trunk = make_trunk(self.packing)
        self.feature_dim: int = self.trunk.feature_dim
        kernels = tricks.minibatch_kernels
        self.minibatch = MinibatchDiscrimination(self.feature_dim, kernels, tricks.minibatch_kernel_dim) if kernels else None
        self.head = nn.Linear(self.feature_dim + kernels, 1)
        if spectral:
            spectral_norm_all(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(pack(x, self.packing))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        if self.minibatch is not None:
            features = self.minibatch(features)
        return self.head(features).view(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


class LabelConcat(nn.Module):
    """Conditioning by concatenation (Mirza & Osindero 2014): flatten the input, append one-hot labels."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.flatten(1), F.one_hot(labels, self.num_classes).to(x.dtype)], dim=1)


# ----------------------------------------------------------------------------- toy 2D networks


def point_generator(z_dim: int) -> MLPGenerator:
    """The toy-2D generator: four 400-unit ReLU layers with BatchNorm, linear 2-D output."""
    return MLPGenerator(z_dim, (POINT_DIM,), hidden=400, depth=4, batchnorm=True, tanh=False)


def point_discriminator(tricks: Tricks, spectral: bool = False) -> Discriminator:
    """The toy-2D discriminator: three 200-unit maxout layers (5 pieces), a linear output."""
    return Discriminator(lambda m: MLPTrunk(POINT_DIM * m, hidden=200, depth=3, pieces=5), tricks, spectral)


def image_shape(spec: DataSpec) -> tuple[int, int, int]:
    return spec.channels, spec.resolution, spec.resolution
