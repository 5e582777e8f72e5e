"""WGAN: Arjovsky, Chintala & Bottou, "Wasserstein Generative Adversarial Networks", ICML 2017
(arXiv:1701.07875).

Defining components:

* a *critic* instead of a discriminator: a DCGAN convolutional network whose linear output has
  no sigmoid and estimates the Wasserstein-1 distance, ``E[f(x)] - E[f(G(z))]``;
* Lipschitz continuity by weight clipping: every critic parameter is clamped to [-0.01, 0.01]
  after each critic update;
* n_critic = 5 critic updates per generator update;
* RMSprop with learning rate 5e-5 (no momentum-based optimiser);
* the DCGAN generator (``ganbench.generators.dcgan``).

Architecture schedule (:meth:`WGAN.architecture`): DCGAN's (``ganbench.generators.dcgan``), a
stage per doubling from 4x4 in G and per halving down to 4x4 in D, channels halving from at
most ``8 width`` at 4x4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ganbench.generators import GENERATORS
from ganbench.generators.base import Batch, DataSpec
from ganbench.generators.blocks import ConvTrunk, Discriminator
from ganbench.generators.architecture import Architecture
from ganbench.generators.dcgan import DCGANGenerator, convolutional_architecture
from ganbench.generators.layers import init_dcgan_weights
from ganbench.generators.losses import clip_weights
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


@dataclass
class WGANConfig:
    z_dim: int = 100
    width: int = 64
    lr: float = 5e-5
    clip: float = 0.01
    n_critic: int = 5
    tricks: Tricks = field(default_factory=Tricks)


@GENERATORS.register
class WGAN(NoiseGAN):
    name = "wgan"
    paper = "Arjovsky et al., Wasserstein Generative Adversarial Networks"
    year = 2017
    config_class = WGANConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: WGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or WGANConfig()
        c = self.config
        self.n_critic = c.n_critic
        self.G = DCGANGenerator(c.z_dim, spec.channels, spec.resolution, c.width)
        self.D = Discriminator(lambda m: ConvTrunk(spec.channels * m, spec.resolution, c.width, batchnorm=True),
                               c.tricks)
        init_dcgan_weights(self.G)
        init_dcgan_weights(self.D)
        clip_weights(self.D, c.clip)
        self.tricks = TrickHooks(c.tricks, "wasserstein", spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: WGANConfig | None = None) -> Architecture:
        return convolutional_architecture(spec, (config or WGANConfig()).width)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.RMSprop(self.G.parameters(), lr=c.lr)
        self.opt_d = torch.optim.RMSprop(self.D.parameters(), lr=c.lr)
        return {"g": self.opt_g, "d": self.opt_d}

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        real_out, fake_out = self.discriminator_outputs(batch, self.noise(len(batch.real)))
        loss = self.tricks.discriminator_loss(real_out, fake_out)
        self.optimize(self.opt_d, loss)
        clip_weights(self.D, self.config.clip)
        return {"loss_d": loss.detach(), "wasserstein": (real_out.mean() - fake_out.mean()).detach()}
