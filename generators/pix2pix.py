"""Pix2Pix: Isola, Zhu, Zhou & Efros, "Image-to-Image Translation with Conditional Adversarial
Networks", CVPR 2017 (arXiv:1611.07004).

Defining components:

* a U-Net generator whose decoder receives the encoder's activations through skip connections;
* a PatchGAN discriminator that classifies each patch of the (input, output) pair, concatenated
  along the channels, as real or fake;
* the conditional GAN loss plus lambda = 100 times the L1 distance to the ground truth, with the
  discriminator's objective halved;
* no noise input: dropout in the decoder is the only noise, kept active when sampling;
* Adam, learning rate 2e-4, beta1 = 0.5; weights ~ N(0, 0.02).

Trains on the ``edges`` task (:mod:`ganbench.tasks`): Sobel edge map -> image.

Architecture schedule (:meth:`Pix2Pix.architecture`): the paper's U-Net (Appendix 6.1.1) halves
the image down to 1x1 and doubles it back, ``log2(N)`` levels each way (eight at 256 px:
C64-C128-C256-C512-C512-C512-C512-C512), channels ``min(2^i width, 8 width)``, dropout on the
three innermost decoder levels; the discriminator is the 70x70 PatchGAN (C64-C128-C256-C512) from
64 px, with fewer strided layers below.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture
from ganbench.generators.base import Batch, DataSpec
from ganbench.generators.losses import discriminator_loss, generator_loss
from ganbench.generators.translation_blocks import (PatchDiscriminator, TranslationModel, UNetGenerator, frozen,
                                                    init_normal, patch_schedule, unet_schedule)


@dataclass
class Pix2PixConfig:
    width: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    l1_weight: float = 100.0
    dropout: float = 0.5
    loss: str = "nonsaturating"


@GENERATORS.register
class Pix2Pix(TranslationModel):
    name = "pix2pix"
    paper = "Isola et al., Image-to-Image Translation with Conditional Adversarial Networks"
    year = 2017
    task = "paired"
    task_view = "edges"
    stochastic = True
    config_class = Pix2PixConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: Pix2PixConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or Pix2PixConfig()
        c, ch = self.config, spec.channels
        self.G = UNetGenerator(ch, ch, spec.resolution, c.width, c.dropout)
        self.D = PatchDiscriminator(2 * ch, spec.resolution, c.width)
        init_normal(self.G)
        init_normal(self.D)
        self._fake: tuple[Batch, torch.Tensor] | None = None

    @classmethod
    def architecture(cls, spec: DataSpec, config: Pix2PixConfig | None = None) -> Architecture:
        width, ch = (config or Pix2PixConfig()).width, spec.channels
        return {"G": unet_schedule(ch, ch, spec.resolution, width), "D": patch_schedule(2 * ch, spec.resolution, width)}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=c.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=c.betas)
        return {"g": self.opt_g, "d": self.opt_d}

    def pair(self, source: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """D's patch logits for an (input, output) pair."""
        return self.D(torch.cat([source, output], 1))

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        fake = self.G(batch.source)
        self._fake = (batch, fake)
        loss = 0.5 * discriminator_loss(self.config.loss, self.pair(batch.source, batch.real),
                                        self.pair(batch.source, fake.detach()))
        self.optimize(self.opt_d, loss)
        return {"loss_d": loss.detach()}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        cached, self._fake = self._fake, None
        fake = cached[1] if cached is not None and cached[0] is batch else self.G(batch.source)
        with frozen(self.D):
            adversarial = generator_loss(self.config.loss, self.pair(batch.source, fake))
        l1 = F.l1_loss(fake, batch.real)
        loss = adversarial + self.config.l1_weight * l1
        self.optimize(self.opt_g, loss)
        return {"loss_g": adversarial.detach(), "l1": l1.detach()}

    def translate_float(self, source: torch.Tensor, target_labels: torch.Tensor | None) -> torch.Tensor:
        return self.G(source)
