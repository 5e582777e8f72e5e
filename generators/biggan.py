"""BigGAN: Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", ICLR 2019 (arXiv:1809.11096).

Defining components:

* class-conditional BatchNorm in every G block, whose gains and biases are linear projections
  of one class embedding shared by all blocks;
* a hierarchical latent ("skip-z"): z is split into chunks, the first feeds the 4x4 input and
  each other chunk joins the shared embedding to condition one block;
* a projection discriminator (Miyato & Koyama 2018): ``psi(h) + <embed(y), h>``;
* spectral normalization in G and D, the hinge loss, Adam(0, 0.999);
* orthogonal regularization (beta 1e-4) of G's weights, added to G's loss;
* an exponential moving average of G's weights, which produces the samples, with "standing
  statistics" (Section 3.1 and Appendix C): the running BatchNorm statistics G keeps belong to
  its own weights, not to the averaged ones, so before sampling the EMA network's BatchNorm
  statistics are recomputed by running it with its BatchNorm layers in training mode over
  ``standing_batches`` seeded batches of noise and uniformly drawn labels and averaging the
  batch statistics (:meth:`BigGAN.standing_statistics`). Only the BatchNorm layers switch to
  training mode, so spectral normalization's power iteration leaves the averaged singular
  vectors alone. The statistics depend only on the EMA weights and ``standing_seed``: they are
  recomputed at the first sampling after the EMA changes (a training step, a loaded
  checkpoint), so sampling after loading a checkpoint gives what sampling right after training
  gave, and the global RNG is never drawn from;
* the truncation trick: at sampling, ``truncation=t`` draws z from a normal truncated to
  ``|z| < t``, trading variety for fidelity.

Networks are residual and sized by ``width``. Architecture schedule (:meth:`BigGAN.architecture`):
as in the paper's architecture tables (Appendix B), G has one residual up-block per doubling from
4x4 (five for 128 px images, six for 256) and D one residual down-block per halving to 4x4 plus
one block there; channels are ``2 width`` at 4x4 and halve with each doubling up to 32 px;
larger images keep ``2 width`` up to an eighth of their side
(``ganbench.generators.layers.channel_pyramid``; the paper's 128 px G has 16, 16, 8, 4, 2 and 1
times ``ch`` from 4x4 up). Like the paper's 32 px (CIFAR-10) networks, those up to 32 px have no
self-attention; from 64 px a non-local block follows the G block that reaches half the image
side, and the D block that reaches it, as at 64x64 in the 128 px networks, never above 64x64
(the attention matrix of a 128x128 map has 2^28 entries per image): 32x32 at 64 px, 64x64 at 128
and 256 px.

Learning rates and D steps: the paper's ImageNet schedule (G 5e-5, D 2e-4, two D steps per G
step; ``lr_g=5e-5, lr_d=2e-4, d_steps=2``) is tuned for batches of 2,048, and the authors'
PyTorch release trains at batch 256 with G 1e-4, D 4e-4 and one D step. At batch 64 class
conditioning emerges late under both; the default here is 4e-4 for G and D and one D step,
which at the quick preset raises the conditional accuracy from 12% (ImageNet schedule) to 97%
(README, generation quality at the quick preset).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture
from ganbench.generators.base import Batch, DataSpec, GenerativeModel
from ganbench.generators.ema import warmup_ema_decay
from ganbench.generators.layers import (ConditionalBatchNorm2d, HierarchicalLatent, ProjectionHead, ResBlockDown,
                                        SelfAttention, apply_spectral_norm, channel_pyramid, residual_architecture)
from ganbench.generators.losses import discriminator_loss, generator_loss, orthogonal_regularization
from ganbench.runtime import torch_generator


ATTENTION_FROM = 64  # the smallest image side whose networks have a non-local block
MAX_ATTENTION_SIDE = 64


def attention_side(resolution: int) -> int | None:
    """The side of the maps with a non-local block: half the image from 64 px, at most 64; none below."""
    return min(resolution // 2, MAX_ATTENTION_SIDE) if resolution >= ATTENTION_FROM else None


def truncated_normal(shape: tuple[int, ...], threshold: float, device: torch.device,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """N(0, 1) conditioned on ``|z| < threshold``, by the inverse CDF (no rejection loop)."""
    low = torch.special.ndtr(torch.tensor(-threshold, dtype=torch.float64)).item()
    u = torch.rand(shape, device=device, generator=generator, dtype=torch.float64)
    return torch.special.ndtri(low + u * (1 - 2 * low)).float()


class GBlock(nn.Module):
    """CBN ReLU upsample conv3x3 CBN ReLU conv3x3, plus an upsampled 1x1 shortcut; both CBNs
    read the block's conditioning vector."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(in_channels, cond_dim)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn2 = ConditionalBatchNorm2d(out_channels, cond_dim)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class BigGANGenerator(nn.Module):
    """(z, y) -> first z chunk -> 4x4 -> conditioned up-blocks [with a non-local block after the one
    reaching ``attention`` px] -> BN ReLU conv3x3 tanh."""

    def __init__(self, z_dim: int, shared_dim: int, num_classes: int, channels: int, resolution: int,
                 width: int, attention: int | None = None) -> None:
        super().__init__()
        chans = channel_pyramid(width, resolution)
        self.latent = HierarchicalLatent(z_dim, len(chans) - 1, num_classes, shared_dim)
        self.linear = nn.Linear(self.latent.chunk, 4 * 4 * chans[0])
        self.blocks = nn.ModuleList(GBlock(chans[i - 1], chans[i], self.latent.cond_dim) for i in range(1, len(chans)))
        sides = [4 * 2**i for i in range(1, len(chans))]
        self.attention_after = sides.index(attention) if attention in sides else None
        if self.attention_after is not None:
            self.attention = SelfAttention(chans[self.attention_after + 1])
        self.out = nn.Sequential(nn.BatchNorm2d(chans[-1]), nn.ReLU(), nn.Conv2d(chans[-1], channels, 3, padding=1),
                                 nn.Tanh())
        self.start_channels = chans[0]
        apply_spectral_norm(self, types=(nn.Conv2d, nn.Linear))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        first, conds = self.latent(z, labels)
        h = self.linear(first).view(len(z), self.start_channels, 4, 4)
        for index, (block, cond) in enumerate(zip(self.blocks, conds)):
            h = block(h, cond)
            if index == self.attention_after:
                h = self.attention(h)
        return self.out(h)


class BigGANDiscriminator(nn.Module):
    """resolution -> residual down-blocks [with a non-local block after the one reaching
    ``attention`` px] -> 4x4 -> one more block -> ReLU, sum-pool -> projection head."""

    def __init__(self, channels: int, resolution: int, width: int, num_classes: int,
                 attention: int | None = None) -> None:
        super().__init__()
        chans = channel_pyramid(width, resolution)[::-1]
        ins = [channels, *chans[:-1]]
        blocks: list[nn.Module] = []
        for k, (i, o) in enumerate(zip(ins, chans[:-1])):
            blocks.append(ResBlockDown(i, o, preactivation=k > 0))
            if resolution >> (k + 1) == attention:
                blocks.append(SelfAttention(o))
        blocks.append(ResBlockDown(chans[-2], chans[-1], downsample=False))
        self.blocks = nn.Sequential(*blocks)
        self.head = ProjectionHead(chans[-1], num_classes)
        apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.blocks(x)).sum(dim=(2, 3)), labels)


@dataclass
class BigGANConfig:
    z_dim: int = 128
    shared_dim: int = 128
    width: int = 64
    lr_g: float = 4e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.999)
    adam_eps: float = 1e-6
    d_steps: int = 1
    ortho_weight: float = 1e-4
    ema_decay: float = 0.9999
    loss: str = "hinge"
    standing_batches: int = 16
    standing_batch_size: int = 64
    standing_seed: int = 0


@GENERATORS.register
class BigGAN(GenerativeModel):
    """Class-conditional BigGAN; ``sample(truncation=t)`` draws z from a normal truncated at ``t``."""

    name = "biggan"
    paper = "Brock et al., Large Scale GAN Training for High Fidelity Natural Image Synthesis"
    year = 2019
    conditional = True
    truncation_range = (0.0, float("inf"))
    config_class = BigGANConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: BigGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or BigGANConfig()
        c = self.config
        classes = max(spec.num_classes, 1)
        attention = attention_side(spec.resolution)
        self.G = BigGANGenerator(c.z_dim, c.shared_dim, classes, spec.channels, spec.resolution, c.width, attention)
        self.D = BigGANDiscriminator(spec.channels, spec.resolution, c.width, classes, attention)
        self.n_critic = c.d_steps
        self.init_ema(c.ema_decay)
        self._standing_current = False

    @classmethod
    def architecture(cls, spec: DataSpec, config: BigGANConfig | None = None) -> Architecture:
        return residual_architecture(spec.channels, spec.resolution, (config or BigGANConfig()).width,
                                     attention_side(spec.resolution))

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=c.betas, eps=c.adam_eps)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr_d, betas=c.betas, eps=c.adam_eps)
        return {"g": self.opt_g, "d": self.opt_d}

    def noise(self, n: int, generator: torch.Generator | None = None, truncation: float | None = None) -> torch.Tensor:
        shape = (n, self.G.latent.z_dim)
        if truncation is None:
            return torch.randn(shape, device=self.device, generator=generator)
        return truncated_normal(shape, truncation, self.device, generator)

    def random_labels(self, n: int) -> torch.Tensor:
        return torch.randint(0, max(self.spec.num_classes, 1), (n,), device=self.device)

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        labels = self.random_labels(len(batch.real))
        with torch.no_grad():
            fake = self.G(self.noise(len(batch.real)), labels)
        loss = discriminator_loss(self.config.loss, self.D(batch.real, batch.labels), self.D(fake, labels))
        self.optimize(self.opt_d, loss)
        return {"loss_d": loss.detach()}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        labels = self.random_labels(len(batch.real))
        adversarial = generator_loss(self.config.loss, self.D(self.G(self.noise(len(batch.real)), labels), labels))
        ortho = orthogonal_regularization(self.G)
        loss = adversarial + self.config.ortho_weight * ortho
        self.optimize(self.opt_g, loss)
        self.ema_decay = warmup_ema_decay(batch.step, self.config.ema_decay)
        return {"loss_g": adversarial.detach(), "ortho": ortho.detach()}

    def update_ema(self) -> None:
        super().update_ema()
        self._standing_current = False

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        self._standing_current = False
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    @torch.no_grad()
    def standing_statistics(self) -> None:
        """Recompute the EMA generator's BatchNorm statistics from its own activations (BigGAN's
        standing statistics, Brock et al. 2019, Section 3.1): reset every BatchNorm's running
        statistics, run ``standing_batches`` seeded batches of untruncated noise and uniform labels
        with only the BatchNorm layers in training mode and a cumulative average (``momentum=None``),
        then restore the modes and momenta. Draws only from its own seeded generator."""
        c = self.config
        network = self.G_ema
        norms = [m for m in network.modules() if isinstance(m, nn.BatchNorm2d)]
        momenta = [m.momentum for m in norms]
        was_training = network.training
        gen = torch_generator(c.standing_seed, self.device)
        network.eval()
        try:
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None
                norm.train()
            for _ in range(c.standing_batches):
                z = self.noise(c.standing_batch_size, gen)
                labels = torch.randint(0, max(self.spec.num_classes, 1), (c.standing_batch_size,), device=self.device,
                                       generator=gen)
                network(z, labels)
        finally:
            for norm, momentum in zip(norms, momenta):
                norm.momentum = momentum
            network.train(was_training)
        self._standing_current = True

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        """Samples of the EMA generator with its standing statistics (recomputed when the EMA changed)."""
        if not self._standing_current:
            self.standing_statistics()
        if labels is None:
            labels = self.default_labels(n).to(self.device)
        return self.sampling_network(self.noise(n, generator, truncation), labels)
