"""The noise-prediction U-Net of DDPM: Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic
Models", NeurIPS 2020 (arXiv:2006.11239), Appendix B.

Components:

* a sinusoidal embedding of the timestep (Vaswani et al., "Attention Is All You Need",
  NeurIPS 2017) followed by a two-layer MLP, added inside every residual block;
* wide residual blocks (GroupNorm, SiLU, 3x3 convolutions, dropout) whose last convolution
  starts at zero, so every block is the identity at initialisation; GroupNorm keeps at least four
  channels per group (the paper's 32 groups over 128 channels), so at the narrow widths of the
  CPU presets the time embedding, added per channel, is not normalised away;
* single-head self-attention at the chosen feature-map resolutions;
* a down path that halves the resolution with strided convolutions, a middle with
  attention, and an up path (nearest upsampling + convolution) fed by skip connections from
  every down-path feature map, as in PixelCNN++ (Salimans et al., ICLR 2017).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators.architecture import Schedule, from_path


#: The fewest channels a GroupNorm group holds: the paper's 32 groups over its narrowest 128 channels.
#: A group of one channel would normalise away the per-channel time shift a residual block adds.
MIN_GROUP_CHANNELS = 4


def group_count(channels: int, limit: int = 32) -> int:
    """The largest number of GroupNorm groups, at most ``limit`` and of at least
    :data:`MIN_GROUP_CHANNELS` channels each, that divides ``channels``."""
    groups = max(1, min(limit, channels // MIN_GROUP_CHANNELS))
    while channels % groups:
        groups -= 1
    return groups


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """``N`` timesteps -> ``N,dim``: sines then cosines at geometrically spaced frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    embedding = torch.cat([angles.sin(), angles.cos()], dim=1)
    return F.pad(embedding, (0, dim % 2))


class TimeEmbedding(nn.Module):
    """Sinusoidal embedding of ``t`` followed by Linear-SiLU-Linear to ``4 * dim`` features."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Linear(4 * dim, 4 * dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.dim))


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv, plus the projected time embedding, then GroupNorm-SiLU-dropout-conv."""

    def __init__(self, in_ch: int, out_ch: int, time_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(group_count(in_ch), in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time = nn.Linear(time_dim, out_ch)
        self.norm2 = nn.GroupNorm(group_count(out_ch), out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over the spatial positions, with a zero-initialised output."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(group_count(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).transpose(-1, -2).unbind(1)
        attended = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.out(attended.transpose(-1, -2).reshape(n, c, h, w))


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """One residual block, optionally followed by self-attention."""

    def __init__(self, in_ch: int, out_ch: int, time_dim: int, dropout: float, attention: bool) -> None:
        super().__init__()
        self.block = ResidualBlock(in_ch, out_ch, time_dim, dropout)
        self.attention = SelfAttention(out_ch) if attention else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return self.attention(self.block(x, temb))


def unet_schedule(resolution: int, width: int, channel_mults: tuple[int, ...], num_res_blocks: int,
                  attention_resolutions: tuple[int, ...], out_channels: int) -> Schedule:
    """:class:`UNet`'s path from its stem to its output on a ``resolution`` grid: per level
    ``num_res_blocks`` blocks and a halving, the middle, per level ``num_res_blocks + 1`` blocks
    fed by the skips (their widest maps are the concatenations) and a doubling, the head."""
    path, skips, attention = [(resolution, width)], [width], []
    ch, res = width, resolution
    for i, mult in enumerate(channel_mults):
        for _ in range(num_res_blocks):
            path.append((res, max(ch, width * mult)))
            ch = width * mult
            skips.append(ch)
            attention += [res] if res in attention_resolutions else []
        if i < len(channel_mults) - 1:
            res //= 2
            path.append((res, ch))
            skips.append(ch)
    path.append((res, ch))
    attention.append(res)
    for i, mult in reversed(list(enumerate(channel_mults))):
        for _ in range(num_res_blocks + 1):
            path.append((res, ch + skips.pop()))
            ch = width * mult
            attention += [res] if res in attention_resolutions else []
        if i > 0:
            res *= 2
            path.append((res, ch))
    blocks = len(channel_mults) * (2 * num_res_blocks + 1) + 2
    return from_path([*path, (res, out_channels)], residual_blocks=blocks, attention=tuple(attention))


class UNet(nn.Module):
    """``eps_theta(x_t, t)``: predicts the noise in ``x_t``; output shape equals input shape."""

    def __init__(self, channels: int, resolution: int, width: int, channel_mults: tuple[int, ...],
                 num_res_blocks: int, attention_resolutions: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        if resolution % 2 ** (len(channel_mults) - 1):
            raise ValueError(f"resolution {resolution} is not divisible by 2^{len(channel_mults) - 1}")
        time_dim = 4 * width
        self.time = TimeEmbedding(width)
        self.stem = nn.Conv2d(channels, width, 3, padding=1)
        self.down = nn.ModuleList()
        skip_channels = [width]
        ch, res = width, resolution
        for i, mult in enumerate(channel_mults):
            for _ in range(num_res_blocks):
                self.down.append(Level(ch, width * mult, time_dim, dropout, res in attention_resolutions))
                ch = width * mult
                skip_channels.append(ch)
            if i < len(channel_mults) - 1:
                self.down.append(Downsample(ch))
                skip_channels.append(ch)
                res //= 2
        self.middle = nn.ModuleList([Level(ch, ch, time_dim, dropout, True), Level(ch, ch, time_dim, dropout, False)])
        self.up = nn.ModuleList()
        for i, mult in reversed(list(enumerate(channel_mults))):
            for _ in range(num_res_blocks + 1):
                self.up.append(Level(ch + skip_channels.pop(), width * mult, time_dim, dropout,
                                     res in attention_resolutions))
                ch = width * mult
            if i > 0:
                self.up.append(Upsample(ch))
                res *= 2
        self.head = nn.Sequential(nn.GroupNorm(group_count(ch), ch), nn.SiLU(), nn.Conv2d(ch, channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time(t)
        h = self.stem(x)
        skips = [h]
        for layer in self.down:
            h = layer(h, temb) if isinstance(layer, Level) else layer(h)
            skips.append(h)
        for layer in self.middle:
            h = layer(h, temb)
        for layer in self.up:
            h = layer(torch.cat([h, skips.pop()], dim=1), temb) if isinstance(layer, Level) else layer(h)
        return self.head(h)
