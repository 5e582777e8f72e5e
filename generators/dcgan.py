"""DCGAN: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016 (arXiv:1511.06434, 2015).

Defining components:

* all-convolutional networks: strided convolutions in D and fractionally-strided
  (transposed) convolutions in G, no pooling and no fully connected hidden layers;
* BatchNorm in both networks except the generator's output and the discriminator's input;
* ReLU in G with Tanh at the output, LeakyReLU(0.2) in D;
* weights initialised from N(0, 0.02);
* Adam with learning rate 2e-4 and beta1 = 0.5, non-saturating BCE loss.

Architecture schedule (:meth:`DCGAN.architecture`): the paper's generator (Fig. 1) projects z to
4x4 and adds one 4x4 stride-2 transposed convolution per doubling up to the image (64 px: 4x4 ->
8 -> 16 -> 32 -> 64, channels 1024, 512, 256, 128, then the image); the discriminator mirrors it
with stride-2 convolutions and a 4x4 convolution to one logit. Channels halve with every doubling
from ``8 width`` at 4x4 at 64 px (``width`` 128 is the paper's), so a 16 px generator starts at
``2 width`` and a 32 px one at ``4 width``; from 128 px they stay at ``8 width`` (the paper's
1024) for the extra low-resolution stages (``ganbench.generators.blocks.dcgan_channels``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, Schedule, doublings
from ganbench.generators.base import DataSpec
from ganbench.generators.blocks import conv_trunk_schedule, dcgan_channels
from ganbench.generators.layers import init_dcgan_weights
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


def generator_schedule(channels: int, resolution: int, width: int) -> Schedule:
    """:class:`DCGANGenerator`'s path: 4x4, one stage per doubling, the image."""
    return Schedule(doublings(4, resolution), (*dcgan_channels(width, resolution)[::-1], channels))


def convolutional_architecture(spec: DataSpec, width: int) -> Architecture:
    """The schedules of the variants that pair :class:`DCGANGenerator` with the shared
    ``ConvTrunk`` inside ``Discriminator`` (AC-GAN, WGAN, WGAN-GP, LSGAN)."""
    return {"G": generator_schedule(spec.channels, spec.resolution, width),
            "D.trunk": conv_trunk_schedule(spec.channels, spec.resolution, width)}


class DCGANGenerator(nn.Module):
    """z -> 4x4 -> ... -> resolution, doubling by transposed convolutions, halving channels."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        chans = dcgan_channels(width, resolution)[::-1]
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, chans[0], 4, 1, 0, bias=False), nn.BatchNorm2d(chans[0]),
                                   nn.ReLU(True)]
        for cin, cout in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """resolution -> ... -> 4x4 -> one logit, halving by strided convolutions, doubling channels."""

    def __init__(self, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        chans = dcgan_channels(width, resolution)
        layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for cin, cout in zip(chans, chans[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(chans[-1], 1, 4, 1, 0)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features).view(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


@dataclass
class DCGANConfig:
    z_dim: int = 100
    width: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "nonsaturating"


@GENERATORS.register
class DCGAN(NoiseGAN):
    name = "dcgan"
    paper = "Radford et al., Unsupervised Representation Learning with Deep Convolutional GANs"
    year = 2015
    config_class = DCGANConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: DCGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or DCGANConfig()
        c = self.config
        self.G = DCGANGenerator(c.z_dim, spec.channels, spec.resolution, c.width)
        self.D = DCGANDiscriminator(spec.channels, spec.resolution, c.width)
        init_dcgan_weights(self.G)
        init_dcgan_weights(self.D)
        self.tricks = TrickHooks(Tricks(), c.loss, spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: DCGANConfig | None = None) -> Architecture:
        c = config or DCGANConfig()
        trunk = conv_trunk_schedule(spec.channels, spec.resolution, c.width)
        return {"G": generator_schedule(spec.channels, spec.resolution, c.width),
                "D": Schedule((*trunk.sides, 1), (*trunk.channels, 1))}
