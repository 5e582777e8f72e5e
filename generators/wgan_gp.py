"""WGAN-GP: Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, "Improved Training of Wasserstein
GANs", NeurIPS 2017 (arXiv:1704.00028).

Defining components:

* the Wasserstein critic loss, with the Lipschitz constraint enforced softly by a gradient
  penalty ``lambda * E[(||grad f(x_hat)||_2 - 1)^2]``, lambda = 10, on random interpolates
  ``x_hat`` between real and fake samples (``ganbench.generators.losses.gradient_penalty``);
* no BatchNorm in the critic (the penalty is per sample): a DCGAN-style convolutional critic
  without normalisation, or the shared toy-2D maxout critic on points;
* n_critic = 5, Adam with learning rate 1e-4 and betas (0, 0.9).

Architecture schedule (:meth:`WGANGP.architecture`): DCGAN's (``ganbench.generators.dcgan``), a
stage per doubling from 4x4 in G and per halving down to 4x4 in D, channels halving from at
most ``8 width`` at 4x4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ganbench.generators import GENERATORS
from ganbench.generators.base import Batch, DataSpec
from ganbench.generators.blocks import ConvTrunk, Discriminator, point_discriminator, point_generator
from ganbench.generators.architecture import Architecture
from ganbench.generators.dcgan import DCGANGenerator, convolutional_architecture
from ganbench.generators.layers import init_dcgan_weights
from ganbench.generators.losses import gradient_penalty, interpolation_weights
from ganbench.generators.noise_gan import NoiseGAN, Tensors
from ganbench.generators.tricks import TrickHooks, Tricks


@dataclass
class WGANGPConfig:
    z_dim: int = 100
    width: int = 64
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    gp_weight: float = 10.0
    n_critic: int = 5
    tricks: Tricks = field(default_factory=Tricks)


@GENERATORS.register
class WGANGP(NoiseGAN):
    name = "wgan-gp"
    paper = "Gulrajani et al., Improved Training of Wasserstein GANs"
    year = 2017
    supports_points = True
    config_class = WGANGPConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: WGANGPConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or WGANGPConfig()
        c = self.config
        self.n_critic = c.n_critic
        if spec.kind == "points":
            self.G = point_generator(c.z_dim)
            self.D = point_discriminator(c.tricks)
        else:
            self.G = DCGANGenerator(c.z_dim, spec.channels, spec.resolution, c.width)
            self.D = Discriminator(lambda m: ConvTrunk(spec.channels * m, spec.resolution, c.width, batchnorm=False),
                                   c.tricks)
            init_dcgan_weights(self.G)
            init_dcgan_weights(self.D)
        self.tricks = TrickHooks(c.tricks, "wasserstein", spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: WGANGPConfig | None = None) -> Architecture:
        return convolutional_architecture(spec, (config or WGANGPConfig()).width)

    def discriminator_draws(self, batch: Batch, generator: torch.Generator | None = None) -> Tensors:
        """The latents of the fakes and the weights of the interpolates the penalty is taken at."""
        return {**super().discriminator_draws(batch, generator),
                "alpha": interpolation_weights(batch.real, generator)}

    def discriminator_loss(self, batch: Batch, draws: Tensors) -> tuple[torch.Tensor, Tensors]:
        with torch.no_grad():
            fake = self.G(draws["z"])
        real_view, fake_view = self.tricks.view(batch.real, batch.step), self.tricks.view(fake, batch.step)
        real_out, fake_out = self.D(real_view), self.D(fake_view)
        penalty = gradient_penalty(self.D, real_view, fake_view, alpha=draws["alpha"])
        loss = self.tricks.discriminator_loss(real_out, fake_out) + self.config.gp_weight * penalty
        return loss, {"loss_d": loss.detach(), "gradient_penalty": penalty.detach(),
                      "wasserstein": (real_out.mean() - fake_out.mean()).detach()}
