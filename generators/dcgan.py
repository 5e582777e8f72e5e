"""DCGAN: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016 (arXiv:1511.06434, 2015).

Defining components:

* all-convolutional networks: strided convolutions in D and fractionally-strided
  (transposed) convolutions in G, no pooling and no fully connected hidden layers;
* BatchNorm in both networks except the generator's output and the discriminator's input;
* ReLU in G with Tanh at the output, LeakyReLU(0.2) in D;
* weights initialised from N(0, 0.02);
* Adam with learning rate 2e-4 and beta1 = 0.5, non-saturating BCE loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.base import DataSpec
from ganbench.generators.layers import init_dcgan_weights
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


def _n_blocks(resolution: int) -> int:
    blocks = int(math.log2(resolution)) - 2
    if resolution < 8 or 2 ** (blocks + 2) != resolution:
        raise ValueError(f"DCGAN needs a power-of-two resolution >= 8, got {resolution}")
    return blocks


class DCGANGenerator(nn.Module):
    """z -> 4x4 -> ... -> resolution, doubling by transposed convolutions, halving channels."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        blocks = _n_blocks(resolution)
        ch = width * 2 ** (blocks - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(blocks - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """resolution -> ... -> 4x4 -> one logit, halving by strided convolutions, doubling channels."""

    def __init__(self, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        blocks = _n_blocks(resolution)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(blocks - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, 1, 4, 1, 0)

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
