"""SNGAN: Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018 (arXiv:1802.05957).

Defining components:

* spectral normalisation of *every* discriminator layer: each weight is divided by its largest
  singular value, estimated by one power iteration per forward pass, so that D is 1-Lipschitz
  layer by layer (``torch.nn.utils.parametrizations.spectral_norm``);
* the hinge loss, ``L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``, ``L_G = -E[D(G(z))]``;
* the paper's "standard CNN" (Table 3): D alternates 3x3 stride-1 and 4x4 stride-2 convolutions
  with LeakyReLU 0.1 and no other normalisation; G is a dense layer to 4x4 followed by 4x4
  stride-2 transposed convolutions with BatchNorm and ReLU and a 3x3 Tanh output;
* Adam with learning rate 2e-4, betas (0.5, 0.999), one D update per G update.

On toy2d both players are the shared toy-2D MLPs, with spectral norm on every D layer.

Architecture schedule (:meth:`SNGAN.architecture`): Table 3's networks are given for 32 px
(CIFAR-10: G 4x4x512 -> 8 -> 16 -> 32, D 64-64, 128-128, 256-256 down to 4x4, then 512) and 48
px (STL-10: the same stages from 6x6): one stage per doubling, channels ``8 width`` at 4x4 and
halving per doubling towards the image (``width`` 64 is the paper's). Larger images add stages
at the low-resolution end that keep the paper's 512 (``8 width``) channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, Schedule, doublings
from ganbench.generators.base import DataSpec
from ganbench.generators.blocks import (DCGAN_CHANNEL_CAP, Discriminator, conv_stages, point_discriminator,
                                       point_generator)
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


def sngan_channels(width: int, resolution: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., ``resolution``: ``width`` at the image, doubling towards 4x4 up
    to ``8 width``."""
    stages = conv_stages(resolution)
    return [min(width * 2 ** (stages - level), DCGAN_CHANNEL_CAP * width) for level in range(stages + 1)]


class SNGANGenerator(nn.Module):
    """z -> dense 4x4 x 8w -> (4x4 stride-2 deconv, BatchNorm, ReLU) per stage -> 3x3 conv, Tanh."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        chans = sngan_channels(width, resolution)
        self.base = chans[0]
        self.dense = nn.Linear(z_dim, 16 * self.base)
        layers: list[nn.Module] = [nn.BatchNorm2d(self.base), nn.ReLU(True)]
        for cin, cout in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.Conv2d(chans[-1], channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.dense(z).view(len(z), self.base, 4, 4))


class SNGANTrunk(nn.Module):
    """Per stage a 3x3 stride-1 and a 4x4 stride-2 conv (LeakyReLU 0.1), then a 3x3 conv at 4x4."""

    def __init__(self, in_channels: int, resolution: int, width: int) -> None:
        super().__init__()
        chans = sngan_channels(width, resolution)[::-1]
        layers: list[nn.Module] = []
        cin = in_channels
        for ch in chans[:-1]:
            layers += [nn.Conv2d(cin, ch, 3, 1, 1), nn.LeakyReLU(0.1, True),
                       nn.Conv2d(ch, ch, 4, 2, 1), nn.LeakyReLU(0.1, True)]
            cin = ch
        layers += [nn.Conv2d(cin, chans[-1], 3, 1, 1), nn.LeakyReLU(0.1, True), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.feature_dim = chans[-1] * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class SNGANConfig:
    z_dim: int = 128
    width: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    tricks: Tricks = field(default_factory=Tricks)


@GENERATORS.register
class SNGAN(NoiseGAN):
    name = "sngan"
    paper = "Miyato et al., Spectral Normalization for Generative Adversarial Networks"
    year = 2018
    supports_points = True
    config_class = SNGANConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: SNGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or SNGANConfig()
        c = self.config
        if spec.kind == "points":
            self.G = point_generator(c.z_dim)
            self.D = point_discriminator(c.tricks, spectral=True)
        else:
            self.G = SNGANGenerator(c.z_dim, spec.channels, spec.resolution, c.width)
            self.D = Discriminator(lambda m: SNGANTrunk(spec.channels * m, spec.resolution, c.width), c.tricks,
                                   spectral=True)
        self.tricks = TrickHooks(c.tricks, "hinge", spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: SNGANConfig | None = None) -> Architecture:
        chans = sngan_channels((config or SNGANConfig()).width, spec.resolution)
        sides = doublings(4, spec.resolution)
        return {"G": Schedule(sides, (*chans[:-1], max(chans[-1], spec.channels))),
                "D.trunk": Schedule(sides[::-1], (max(chans[-1], spec.channels), *chans[-2::-1]))}
