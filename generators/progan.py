"""ProGAN: Karras, Aila, Laine & Lehtinen, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", ICLR 2018 (arXiv:1710.10196).

Defining components:

* progressive growing: training starts at 4x4 and adds a resolution level to G and D at a time;
  each new level is faded in (``alpha`` 0 -> 1) by blending it with the upsampled output (G) or
  the downsampled input (D) of the level below, real images being blended the same way, then
  trained stably until the next level comes;
* equalized learning rate: N(0, 1) weights scaled at run time by He's constant;
* pixelwise feature normalization after every convolution of G;
* a minibatch standard-deviation feature map in D's last block;
* the WGAN-GP loss (lambda 10) plus the drift penalty 1e-3 * E[D(x)^2]; Adam(0, 0.99) at
  1e-3 (the critic's rate is raised here, see below); an exponential moving average of G's
  weights for sampling.

Critic learning rate: the paper alternates one D step and one G step, both at 1e-3, over its
long schedule. Within a few hundred steps (digits 16x16, width 32, batch 64) that lets G outrun
the critic: the critic's loss E[D(fake)] - E[D(real)] turns positive after ~50 steps, and one of
two seeds collapsed to 2 classes (FID 81 -> 146 after 300 steps), as did a quick-preset run.
Two D steps per G step cure it; a critic learning rate three times G's (``d_lr``, the
two time-scale update rule of Heusel et al., NeurIPS 2017) cures it at half the cost per step.
In the quick preset's minute on two threads (FID of 2,000 samples) three seeds went from FID
66 / 81 / 61 to 30 / 34 / 35 with two D steps (231-256 steps) and to 22 / 27 / 24 with ``d_lr``
3e-3 (408-426 steps). Set ``d_lr=1e-3`` for the paper's rates; ``n_critic`` sets the D steps.

Growth schedule: the paper spends a fixed number of images on each fade-in and each
stabilization. Here the trainer's budget is what is fixed, so the first ``growth_fraction`` of it
(a quarter by default; measured in steps by :attr:`ganbench.generators.base.Batch.progress`) is split evenly into the stabilization at 4x4 and one fade-in and
one stabilization per new level, the last being the fade-in of the full resolution; the rest
trains at full resolution, as the paper's longer final phase does. Sampling always uses the
full-resolution network.

Architecture schedule (:meth:`ProGAN.architecture`): levels 4x4, 8x8, ..., N, as in the paper's
Table 2 (nine levels for 1024 px, seven for 256, five for 64): G has a 4x4 block and one block
of two 3x3 convolutions per doubling, each level its 1x1 ``to_rgb``; D mirrors it with a 1x1
``from_rgb`` per level and a 4x4 block with minibatch standard deviation. The paper's channels are
``min(512, 16384 / res)`` at ``res x res``: 512 up to 32x32, then halving with every doubling.
Here the cap is ``2 width`` and the last three levels have ``width``, ``width / 2`` and ``width
/ 4`` channels (``ganbench.generators.layers.channel_pyramid``): up to 32 px only 4x4 is capped,
and each doubling of the image above 32 px adds a capped level at the low-resolution end.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, from_path
from ganbench.generators.base import Batch, DataSpec, GenerativeModel
from ganbench.generators.ema import warmup_ema_decay
from ganbench.generators.layers import LEAKY_SLOPE, EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm, channel_pyramid
from ganbench.generators.losses import discriminator_loss, drift_penalty, generator_loss, gradient_penalty


def growth_state(progress: float, levels: int, growth_fraction: float) -> tuple[int, float]:
    """(level, alpha) at a point of the budget: level 0 is 4x4, ``levels - 1`` the full resolution;
    ``alpha`` < 1 while that level fades in."""
    transitions = levels - 1
    segments = 2 * transitions
    elapsed = progress / growth_fraction * segments if growth_fraction > 0 else segments
    if transitions == 0 or elapsed >= segments:
        return transitions, 1.0
    segment = int(elapsed)
    level = (segment + 1) // 2
    return level, (elapsed - segment) if segment % 2 else 1.0


def conv_act(in_channels: int, out_channels: int, kernel: int, pixel_norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [EqualizedConv2d(in_channels, out_channels, kernel, padding=kernel // 2),
                               nn.LeakyReLU(LEAKY_SLOPE)]
    return layers + [PixelNorm()] if pixel_norm else layers


class ProGANGenerator(nn.Module):
    """A 4x4 block (dense z -> 4x4, conv3x3) and one block per level (upsample, 2x conv3x3), pixel
    norm after each layer; a 1x1 ``to_rgb`` per level."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        chans = channel_pyramid(width, resolution)
        self.start_channels = chans[0]
        self.input = nn.Sequential(PixelNorm(), EqualizedLinear(z_dim, 16 * chans[0], gain=2 ** 0.5 / 4))
        self.start = nn.Sequential(nn.LeakyReLU(LEAKY_SLOPE), PixelNorm(), *conv_act(chans[0], chans[0], 3, True))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2), *conv_act(chans[i - 1], chans[i], 3, True),
                          *conv_act(chans[i], chans[i], 3, True))
            for i in range(1, len(chans)))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(ch, channels, 1, gain=1.0) for ch in chans)

    def forward(self, z: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        h = self.start(self.input(z).view(len(z), self.start_channels, 4, 4))
        previous = h
        for block in self.blocks[:level]:
            previous, h = h, block(h)
        rgb = self.to_rgb[level](h)
        if alpha < 1:
            rgb = fade(F.interpolate(self.to_rgb[level - 1](previous), scale_factor=2), rgb, alpha)
        return rgb


def fade(low: torch.Tensor, high: torch.Tensor, alpha: float) -> torch.Tensor:
    """``(1 - alpha) low + alpha high``, in ``high``'s dtype: under CUDA autocast one path of a
    fade-in can come out of an operation kept in float32 and the other in bf16."""
    return torch.lerp(low.to(high.dtype), high, alpha)


class ProGANDiscriminator(nn.Module):
    """A 1x1 ``from_rgb`` per level, one block per level (2x conv3x3, avg-pool), and a 4x4 block:
    minibatch stddev, conv3x3, dense 4x4 conv, linear."""

    def __init__(self, channels: int, resolution: int, width: int, mbstd_group: int) -> None:
        super().__init__()
        chans = channel_pyramid(width, resolution)
        self.from_rgb = nn.ModuleList(nn.Sequential(EqualizedConv2d(channels, ch, 1), nn.LeakyReLU(LEAKY_SLOPE))
                                      for ch in chans)
        self.blocks = nn.ModuleList(
            nn.Sequential(*conv_act(chans[i], chans[i], 3, False), *conv_act(chans[i], chans[i - 1], 3, False),
                          nn.AvgPool2d(2))
            for i in range(1, len(chans)))
        self.final = nn.Sequential(MinibatchStdDev(mbstd_group), *conv_act(chans[0] + 1, chans[0], 3, False),
                                   EqualizedConv2d(chans[0], chans[0], 4), nn.LeakyReLU(LEAKY_SLOPE), nn.Flatten(),
                                   EqualizedLinear(chans[0], 1, gain=1.0))

    def forward(self, x: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        h = self.from_rgb[level](x)
        if level > 0:
            h = self.blocks[level - 1](h)
            if alpha < 1:
                h = fade(self.from_rgb[level - 1](F.avg_pool2d(x, 2)), h, alpha)
            for block in reversed(self.blocks[: level - 1]):
                h = block(h)
        return self.final(h).view(-1)


def real_at(x: torch.Tensor, resolution: int, alpha: float) -> torch.Tensor:
    """Real images at the current resolution; during a fade-in, blended with the level below."""
    x = F.avg_pool2d(x, x.shape[-1] // resolution) if x.shape[-1] != resolution else x
    if alpha < 1:
        x = fade(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2), x, alpha)
    return x


@dataclass
class ProGANConfig:
    z_dim: int = 128
    width: int = 64
    lr: float = 1e-3
    d_lr: float = 3e-3
    betas: tuple[float, float] = (0.0, 0.99)
    gp_weight: float = 10.0
    drift_weight: float = 1e-3
    mbstd_group: int = 4
    growth_fraction: float = 0.25
    ema_decay: float = 0.999
    n_critic: int = 1


@GENERATORS.register
class ProGAN(GenerativeModel):
    """Progressively grown GAN; the level trained follows :attr:`Batch.progress`."""

    name = "progan"
    paper = "Karras et al., Progressive Growing of GANs for Improved Quality, Stability, and Variation"
    year = 2018
    config_class = ProGANConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: ProGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or ProGANConfig()
        c = self.config
        self.levels = len(channel_pyramid(c.width, spec.resolution))
        self.n_critic = c.n_critic
        self.G = ProGANGenerator(c.z_dim, spec.channels, spec.resolution, c.width)
        self.D = ProGANDiscriminator(spec.channels, spec.resolution, c.width, c.mbstd_group)
        self.init_ema(c.ema_decay)

    @classmethod
    def architecture(cls, spec: DataSpec, config: ProGANConfig | None = None) -> Architecture:
        chans = channel_pyramid((config or ProGANConfig()).width, spec.resolution)
        sides = [4 * 2**level for level in range(len(chans))]
        generator = [*zip(sides, chans), (spec.resolution, spec.channels)]
        critic = [(spec.resolution, spec.channels)]
        critic += [(side, max(chans[level], chans[level - 1])) for level, side in reversed(list(enumerate(sides)))
                   if level > 0]
        return {"G": from_path(generator), "D": from_path([*critic, (4, chans[0]), (1, chans[0])])}

    def growth(self, batch: Batch) -> tuple[int, float]:
        """(level, alpha) at the batch's point of the training budget."""
        return growth_state(batch.progress, self.levels, self.config.growth_fraction)

    def resolution(self, level: int) -> int:
        return 4 * 2**level

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=c.betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.d_lr, betas=c.betas, eps=1e-8)
        return {"g": self.opt_g, "d": self.opt_d}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, device=self.device, generator=generator)

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        level, alpha = self.growth(batch)
        real = real_at(batch.real, self.resolution(level), alpha)
        with torch.no_grad():
            fake = self.G(self.noise(len(real)), level, alpha)
        real_out = self.D(real, level, alpha)
        adversarial = discriminator_loss("wasserstein", real_out, self.D(fake, level, alpha))
        penalty = gradient_penalty(lambda x: self.D(x, level, alpha), real, fake)
        drift = drift_penalty(real_out)
        loss = adversarial + self.config.gp_weight * penalty + self.config.drift_weight * drift
        self.optimize(self.opt_d, loss)
        return {"loss_d": adversarial.detach(), "gp": penalty.detach(), "drift": drift.detach(),
                "resolution": torch.tensor(float(self.resolution(level))), "alpha": torch.tensor(alpha)}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        level, alpha = self.growth(batch)
        loss = generator_loss("wasserstein", self.D(self.G(self.noise(len(batch.real)), level, alpha), level, alpha))
        self.optimize(self.opt_g, loss)
        self.ema_decay = warmup_ema_decay(batch.step, self.config.ema_decay)
        return {"loss_g": loss.detach()}

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        return self.sampling_network(self.noise(n, generator), self.levels - 1, 1.0)
