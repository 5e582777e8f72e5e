"""LSGAN: Mao, Li, Xie, Lau, Wang & Smolley, "Least Squares Generative Adversarial Networks",
ICCV 2017 (arXiv:1611.04076).

Defining components:

* least-squares losses in place of the sigmoid cross-entropy, with the paper's 0-1 coding
  (a = 0 for fake, b = 1 for real, c = 1 as G's target):
  ``L_D = 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]`` and ``L_G = 1/2 E[(D(G(z)) - 1)^2]``,
  which penalise samples far from the decision boundary even when they are classified right;
* a linear D output (no sigmoid);
* DCGAN-style convolutional networks with BatchNorm on images (the shared toy-2D MLPs on
  points), Adam with learning rate 2e-4 and beta1 0.5.

Architecture schedule (:meth:`LSGAN.architecture`): DCGAN's (``ganbench.generators.dcgan``), a
stage per doubling from 4x4 in G and per halving down to 4x4 in D, channels halving from at
most ``8 width`` at 4x4.
"""

from __future__ import annotations

from dataclasses import dataclass, field


from ganbench.generators import GENERATORS
from ganbench.generators.base import DataSpec
from ganbench.generators.blocks import ConvTrunk, Discriminator, point_discriminator, point_generator
from ganbench.generators.architecture import Architecture
from ganbench.generators.dcgan import DCGANGenerator, convolutional_architecture
from ganbench.generators.layers import init_dcgan_weights
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


@dataclass
class LSGANConfig:
    z_dim: int = 100
    width: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    tricks: Tricks = field(default_factory=Tricks)


@GENERATORS.register
class LSGAN(NoiseGAN):
    name = "lsgan"
    paper = "Mao et al., Least Squares Generative Adversarial Networks"
    year = 2017
    supports_points = True
    config_class = LSGANConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: LSGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or LSGANConfig()
        c = self.config
        if spec.kind == "points":
            self.G = point_generator(c.z_dim)
            self.D = point_discriminator(c.tricks)
        else:
            self.G = DCGANGenerator(c.z_dim, spec.channels, spec.resolution, c.width)
            self.D = Discriminator(lambda m: ConvTrunk(spec.channels * m, spec.resolution, c.width, batchnorm=True),
                                   c.tricks)
            init_dcgan_weights(self.G)
            init_dcgan_weights(self.D)
        self.tricks = TrickHooks(c.tricks, "lsgan", spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: LSGANConfig | None = None) -> Architecture:
        return convolutional_architecture(spec, (config or LSGANConfig()).width)
