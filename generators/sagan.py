"""SAGAN: Zhang, Goodfellow, Metaxas & Odena, "Self-Attention Generative Adversarial Networks",
ICML 2019 (arXiv:1805.08318).

Defining components:

* a self-attention block (softmax attention over all positions, added back through a learned
  gate ``gamma`` that starts at 0) at a middle resolution of both G and D;
* spectral normalization on every layer of both networks (not only D, as in SNGAN);
* the hinge loss;
* the two time-scale update rule: Adam(0, 0.9) with learning rate 4e-4 for D and 1e-4 for G,
  one D step per G step.

The networks are SNGAN's residual ones (BatchNorm in G only), sized by ``width``. The paper's
ImageNet model is class-conditional; this is its unconditional form.

Architecture schedule (:meth:`SAGAN.architecture`): as in SNGAN's and the paper's ResNet
networks, G has one residual up-block per doubling from 4x4 (five for 128 px images) and D one
residual down-block per halving to 4x4 plus one block there; channels are ``2 width`` at 4x4 and
halve with each doubling up to 32 px; larger images keep ``2 width`` up to an eighth of their
side (``ganbench.generators.layers.channel_pyramid``). Self-attention sits
after the block that reaches a quarter of the image side (at least 8): the 32x32 maps of the
paper's 128 px networks, where it found attention most useful (Table 1: feat32 and feat64 beat
feat8 and feat16), 16x16 at 64 px and 64x64 at 256 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture
from ganbench.generators.base import DataSpec
from ganbench.generators.layers import (ResBlockDown, SelfAttention, apply_spectral_norm, channel_pyramid,
                                       residual_architecture)
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


class ResBlockUp(nn.Module):
    """G block: BN ReLU upsample conv3x3 BN ReLU conv3x3, plus an upsampled 1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class SAGANGenerator(nn.Module):
    """z -> 4x4 -> residual up-blocks -> resolution, self-attention after the block that reaches
    ``attention_resolution``."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int, attention_resolution: int) -> None:
        super().__init__()
        chans = channel_pyramid(width, resolution)
        self.linear = nn.Linear(z_dim, 4 * 4 * chans[0])
        blocks: list[nn.Module] = []
        for level in range(1, len(chans)):
            blocks.append(ResBlockUp(chans[level - 1], chans[level]))
            if 4 * 2**level == attention_resolution:
                blocks.append(SelfAttention(chans[level]))
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Sequential(nn.BatchNorm2d(chans[-1]), nn.ReLU(), nn.Conv2d(chans[-1], channels, 3, padding=1),
                                 nn.Tanh())
        self.start_channels = chans[0]
        apply_spectral_norm(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.linear(z).view(len(z), self.start_channels, 4, 4)
        return self.out(self.blocks(h))


class SAGANDiscriminator(nn.Module):
    """resolution -> residual down-blocks -> 4x4 -> one more block -> ReLU, sum-pool, linear;
    self-attention after the block that reaches ``attention_resolution``."""

    def __init__(self, channels: int, resolution: int, width: int, attention_resolution: int) -> None:
        super().__init__()
        chans = channel_pyramid(width, resolution)[::-1]
        blocks: list[nn.Module] = []
        in_ch, size = channels, resolution
        for i, out_ch in enumerate(chans[:-1]):
            blocks.append(ResBlockDown(in_ch, out_ch, preactivation=i > 0))
            size //= 2
            if size == attention_resolution:
                blocks.append(SelfAttention(out_ch))
            in_ch = out_ch
        blocks.append(ResBlockDown(in_ch, chans[-1], downsample=False))
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(chans[-1], 1)
        apply_spectral_norm(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features).view(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


@dataclass
class SAGANConfig:
    z_dim: int = 128
    width: int = 64
    attention_resolution: int | None = None
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)
    loss: str = "hinge"


def attention_side(resolution: int, config: SAGANConfig) -> int:
    """The side of the maps with self-attention: configured, or a quarter of the image (at least 8)."""
    return config.attention_resolution or max(resolution // 4, 8)


@GENERATORS.register
class SAGAN(NoiseGAN):
    """Self-attention GAN; attention sits at a quarter of the image resolution (at least 8x8) unless
    configured, where the paper found it most useful (32x32 feature maps of 128x128 images)."""

    name = "sagan"
    paper = "Zhang et al., Self-Attention Generative Adversarial Networks"
    year = 2019
    config_class = SAGANConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: SAGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or SAGANConfig()
        c = self.config
        attention = attention_side(spec.resolution, c)
        self.G = SAGANGenerator(c.z_dim, spec.channels, spec.resolution, c.width, attention)
        self.D = SAGANDiscriminator(spec.channels, spec.resolution, c.width, attention)
        self.tricks = TrickHooks(Tricks(), c.loss, spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: SAGANConfig | None = None) -> Architecture:
        c = config or SAGANConfig()
        return residual_architecture(spec.channels, spec.resolution, c.width, attention_side(spec.resolution, c))

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=c.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr_d, betas=c.betas)
        return {"g": self.opt_g, "d": self.opt_d}
