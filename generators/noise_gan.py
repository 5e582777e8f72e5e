"""The training round shared by the unconditional noise-to-image GANs.

dcgan, gan, lsgan, sngan, sagan, wgan and wgan-gp differ in their networks, losses and
regularizers, not in how a round goes: draw ``z ~ N(0, I)``, update D on real images against
detached ``G(z)``, then update G through D, every batch D sees passing through the variant's
:class:`ganbench.generators.tricks.TrickHooks` (which also holds the variant's loss). An update
draws its random inputs first (``discriminator_draws``, ``generator_draws``), then computes its
loss from them (``discriminator_loss``, ``generator_loss``), so that the losses also run under
``torch.func.vmap`` on inputs drawn from other streams (``ganbench.generators.seed_batch``). A
variant builds ``G``, ``D`` (with ``features`` and ``classify``, as
:class:`ganbench.generators.blocks.Discriminator` has) and ``tricks`` in its ``__init__`` and
overrides a step only where its paper changes it: SAGAN's two learning rates, WGAN's weight
clipping and RMSprop, WGAN-GP's gradient penalty, and cGAN's steps, which feed the class label to
both players.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganbench.generators.base import Batch, GenerativeModel
from ganbench.generators.blocks import Discriminator
from ganbench.generators.tricks import TrickHooks

#: Tensors by name: an update's random inputs (``z``, WGAN-GP's ``alpha``) or its logged values.
Tensors = dict[str, torch.Tensor]


class NoiseGAN(GenerativeModel):
    """Adam for both players at ``config.lr`` and ``config.betas``; one D and one G update per round."""

    config: Any
    G: nn.Module
    D: Discriminator | nn.Module
    tricks: TrickHooks

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=c.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=c.betas)
        return {"g": self.opt_g, "d": self.opt_d}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, device=self.device, generator=generator)

    def discriminator_draws(self, batch: Batch, generator: torch.Generator | None = None) -> Tensors:
        """The random inputs of one D update, from ``generator`` (the global stream when None):
        the latents of as many fakes as real samples."""
        return {"z": self.noise(len(batch.real), generator)}

    def generator_draws(self, batch: Batch, generator: torch.Generator | None = None) -> Tensors:
        """The random inputs of one G update: the latents of as many fakes as real samples."""
        return {"z": self.noise(len(batch.real), generator)}

    def discriminator_outputs(self, batch: Batch, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's outputs on the real batch and on the detached fakes ``G(z)``, both seen through the tricks."""
        with torch.no_grad():
            fake = self.G(z)
        return self.D(self.tricks.view(batch.real, batch.step)), self.D(self.tricks.view(fake, batch.step))

    def discriminator_loss(self, batch: Batch, draws: Tensors) -> tuple[torch.Tensor, Tensors]:
        """D's loss on ``batch`` with the random inputs ``draws``, and the values to log."""
        loss = self.tricks.discriminator_loss(*self.discriminator_outputs(batch, draws["z"]))
        return loss, {"loss_d": loss.detach()}

    def generator_loss(self, batch: Batch, draws: Tensors) -> tuple[torch.Tensor, Tensors]:
        """G's loss with the random inputs ``draws``, and the values to log."""
        fake = self.G(draws["z"])
        features = self.D.features(self.tricks.view(fake, batch.step))
        loss = self.tricks.generator_loss(self.D, self.tricks.view(batch.real, batch.step), features)
        return loss, {"loss_g": loss.detach()}

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        loss, logs = self.discriminator_loss(batch, self.discriminator_draws(batch))
        self.optimize(self.opt_d, loss)
        return logs

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        loss, logs = self.generator_loss(batch, self.generator_draws(batch))
        self.optimize(self.opt_g, loss)
        return logs

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        return self.sampling_network(self.noise(n, generator))
