"""Layers shared by the GAN variants.

* equalized learning rate (:class:`EqualizedConv2d`, :class:`EqualizedLinear`), pixel norm
  (:class:`PixelNorm`) and minibatch standard deviation (:class:`MinibatchStdDev`): Karras et
  al., "Progressive Growing of GANs for Improved Quality, Stability, and Variation", ICLR 2018;
* self-attention (:class:`SelfAttention`): Zhang et al., "Self-Attention Generative Adversarial
  Networks", ICML 2019;
* conditional BatchNorm (:class:`ConditionalBatchNorm2d`): de Vries et al. 2017; fed with a shared
  class embedding and a chunk of a hierarchical latent in Brock et al., "Large Scale GAN
  Training for High Fidelity Natural Image Synthesis", ICLR 2019 (:class:`HierarchicalLatent`);
* modulated/demodulated convolution (:class:`ModulatedConv2d`) and noise injection
  (:class:`NoiseInjection`): Karras et al., "Analyzing and Improving the Image Quality of
  StyleGAN", CVPR 2020;
* projection discriminator head (:class:`ProjectionHead`): Miyato & Koyama, "cGANs with
  Projection Discriminator", ICLR 2018;
* spectral normalization (:func:`apply_spectral_norm`) and the residual discriminator block
  (:class:`ResBlockDown`): Miyato et al., "Spectral Normalization for Generative Adversarial
  Networks", ICLR 2018.

:func:`channel_pyramid` sizes every convolutional variant from the preset's ``width``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.generators.architecture import Architecture, Schedule, doublings

LEAKY_SLOPE = 0.2


#: Levels, counted back from the image, below the cap of :func:`channel_pyramid`: those of a
#: 32 px network after its 4x4 level.
LEVELS_BELOW_CAP = 3


#: The fewest channels a layer keeps at the narrow widths of the CPU presets: StyleGAN2's and
#: StyleGAN3's synthesis layers, and self-attention's queries, keys and values.
MIN_CHANNELS = 4


def channel_pyramid(width: int, resolution: int, minimum: int = MIN_CHANNELS) -> list[int]:
    """Channel counts at 4x4, 8x8, ..., ``resolution`` for networks with two 3x3 convolutions per
    resolution, never below ``minimum``: ``2 * width`` at 4x4, halving with every doubling up to
    32 px; a larger image keeps ``2 * width`` up to an eighth of its side, then halves (64 px: 2w,
    2w, w, w/2, w/4). This is ProGAN's and StyleGAN's ``min(cap, base / side)`` (ProGAN: cap 512,
    base 16384; Karras et al. 2018, Table 2) with the cap ``2 * width`` and the base growing with
    the image so that its last three levels always have ``width``, ``width / 2`` and ``width / 4``
    channels. At 32 px each level costs about what one 4x4 transposed convolution of DCGAN (``4 *
    width`` channels at 4x4) costs, so variants of one preset train at comparable speed; from the
    cap on, each level costs about as much as the next, as in the papers."""
    levels = int(math.log2(resolution)) - 1
    if resolution < 8 or 2 ** (levels + 1) != resolution:
        raise ValueError(f"need a power-of-two resolution >= 8, got {resolution}")
    capped = max(1, levels - LEVELS_BELOW_CAP)
    return [max(2 * width >> max(0, level - capped + 1), minimum) for level in range(levels)]


def residual_architecture(channels: int, resolution: int, width: int, attention: int | None) -> Architecture:
    """The paths of SAGAN's and BigGAN's residual networks: G from 4x4 to the image by one up-block
    per doubling, D from the image by one down-block per halving and one more block at 4x4,
    channels from :func:`channel_pyramid`, self-attention after the block whose maps are
    ``attention`` px (none when None)."""
    chans = channel_pyramid(width, resolution)
    sides = doublings(4, resolution)
    at = (attention,) if attention in sides[1:] else ()
    return {"G": Schedule(sides, (*chans[:-1], max(chans[-1], channels)), len(chans) - 1, at),
            "D": Schedule(sides[::-1], (max(chans[-1], channels), *chans[-2::-1]), len(chans), at)}

# ----------------------------------------------------------------------------- spectral norm

SPECTRAL_NORM_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def apply_spectral_norm(module: nn.Module, types: tuple[type[nn.Module], ...] = SPECTRAL_NORM_TYPES) -> nn.Module:
    """Reparametrize the weight of every sub-layer of the given types as W / sigma(W) (one power iteration per call).

    Returns ``module`` for chaining. Layers already normalized are left alone.
    """
    for layer in list(module.modules()):
        if isinstance(layer, types) and not has_spectral_norm(layer):
            spectral_norm(layer)
    return module


def has_spectral_norm(layer: nn.Module) -> bool:
    """Whether ``layer.weight`` is reparametrized by spectral normalization."""
    parametrizations = getattr(layer, "parametrizations", None)
    return parametrizations is not None and "weight" in parametrizations and any(
        type(p).__name__ == "_SpectralNorm" for p in parametrizations["weight"])


class ResBlockDown(nn.Module):
    """Residual discriminator block of SNGAN/BigGAN: ``[ReLU] conv3x3 ReLU conv3x3 [avg-pool]``.

    The first block of a discriminator (``preactivation=False``) skips the leading ReLU so the
    image is not rectified; its shortcut pools before the 1x1 convolution, later blocks after.
    Spectral norm is applied by the owning network.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = True,
                 preactivation: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        learnable = in_channels != out_channels or downsample
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if learnable else None
        self.downsample = downsample
        self.preactivation = preactivation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        skip = x
        if self.preactivation:
            skip = self.shortcut(skip) if self.shortcut is not None else skip
            skip = F.avg_pool2d(skip, 2) if self.downsample else skip
        else:
            skip = F.avg_pool2d(skip, 2) if self.downsample else skip
            skip = self.shortcut(skip) if self.shortcut is not None else skip
        return h + skip


# ----------------------------------------------------------------------------- equalized learning rate


class EqualizedLinear(nn.Module):
    """Linear layer with weights drawn from N(0, 1 / lr_mul^2) and scaled at run time by He's constant.

    The runtime scale ``gain / sqrt(fan_in) * lr_mul`` makes Adam's effective step the same for
    every layer (ProGAN); ``lr_mul`` < 1 slows a layer down (StyleGAN's mapping network, 0.01).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = math.sqrt(2),
                 lr_mul: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.scale = gain / math.sqrt(in_features) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        return F.linear(x, self.weight * self.scale, bias)


class EqualizedConv2d(nn.Module):
    """Convolution with N(0, 1) weights scaled at run time by ``gain / sqrt(fan_in)`` (ProGAN)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 bias: bool = True, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """Normalize each pixel's feature vector to unit mean square (ProGAN's local response norm)."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Append the average standard deviation over groups of samples as extra feature maps (ProGAN).

    Samples are split into groups of at most ``group_size`` (the largest divisor of the batch
    size not above it); within a group the std of every feature is averaged over channels and
    pixels (per chunk of ``num_channels``) and broadcast as ``num_channels`` new maps.
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = next(g for g in range(min(self.group_size, n), 0, -1) if n % g == 0)
        y = x.float().reshape(group, -1, self.num_channels, c // self.num_channels, h, w)
        y = ((y - y.mean(dim=0)).square().mean(dim=0) + self.eps).sqrt()  # 5x faster than Tensor.var here
        y = y.mean(dim=(2, 3, 4)).to(x.dtype)
        y = y.reshape(-1, self.num_channels, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, y], dim=1)


# ----------------------------------------------------------------------------- self-attention (SAGAN)


class SelfAttention(nn.Module):
    """Non-local self-attention over all positions of a feature map, added back with a learned gate.

    ``o = softmax(f(x)^T g(x)) h(x)`` projected by ``v`` back to ``channels``; the output is
    ``x + gamma * o`` with ``gamma`` initialised to 0, so the network first relies on local
    convolutions and learns how much non-local evidence to use. f, g and h are 1x1
    convolutions to ``channels // reduction`` channels (Zhang et al. use 8 on 256 channels or more),
    and to no fewer than :data:`MIN_CHANNELS`: with one channel the attention logits
    ``f_i g_j`` form a rank-one matrix, and every position attends to where ``g`` is largest or smallest.
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        inner = max(channels // reduction, min(channels, MIN_CHANNELS))
        self.query = nn.Conv2d(channels, inner, 1, bias=False)
        self.key = nn.Conv2d(channels, inner, 1, bias=False)
        self.value = nn.Conv2d(channels, inner, 1, bias=False)
        self.out = nn.Conv2d(inner, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)
        k = self.key(x).flatten(2)
        v = self.value(x).flatten(2)
        attention = torch.softmax(torch.bmm(q, k), dim=-1)
        self.last_attention = attention.detach()
        o = torch.bmm(v, attention.transpose(1, 2)).view(n, -1, h, w)
        return x + self.gamma * self.out(o)


# ----------------------------------------------------------------------------- conditional BatchNorm (BigGAN)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine parameters; gain ``1 + W_g y`` and bias ``W_b y`` come from ``y``.

    ``y`` is a conditioning vector per sample: a class embedding, or in BigGAN the shared class
    embedding concatenated with this block's chunk of the latent.
    """

    def __init__(self, num_features: int, cond_dim: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False, eps=eps, momentum=momentum)
        self.gain = nn.Linear(cond_dim, num_features, bias=False)
        self.bias = nn.Linear(cond_dim, num_features, bias=False)

    def affine(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample gain and bias, each ``N,C``."""
        return 1 + self.gain(y), self.bias(y)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gain, bias = self.affine(y)
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]


class HierarchicalLatent(nn.Module):
    """BigGAN's skip-z: split z into ``num_blocks + 1`` equal chunks; the first seeds the network,
    each other chunk is concatenated with the shared class embedding to condition one block.

    ``z_dim`` is rounded down to a multiple of the number of chunks (:attr:`z_dim`).
    """

    def __init__(self, z_dim: int, num_blocks: int, num_classes: int, shared_dim: int) -> None:
        super().__init__()
        self.chunk = z_dim // (num_blocks + 1)
        self.z_dim = self.chunk * (num_blocks + 1)
        self.shared_embedding = nn.Embedding(num_classes, shared_dim)

    @property
    def cond_dim(self) -> int:
        return self.chunk + self.shared_embedding.embedding_dim

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The first chunk and one conditioning vector per block."""
        first, *rest = z.split(self.chunk, dim=1)
        embedding = self.shared_embedding(labels)
        return first, [torch.cat([embedding, chunk], dim=1) for chunk in rest]


# ----------------------------------------------------------------------------- StyleGAN2


class ModulatedConv2d(nn.Module):
    """Convolution whose weights are scaled per input channel by a style and, with ``demodulate``,
    renormalized per output channel to unit L2 norm (StyleGAN2, Sec. 2.2).

    :meth:`modulated_weight` gives the per-sample weights ``w'_ijk = s_i w_ijk / sqrt(sum s_i^2
    w_ijk^2 + eps)``; :meth:`forward` computes the same convolution without materialising them:
    scale the input by ``s``, convolve with the shared weight, scale the output by the
    demodulation coefficients. With ``upsample`` the input is first doubled (bilinear).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int,
                 demodulate: bool = True, upsample: bool = False, eps: float = 1e-8) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.affine = EqualizedLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = kernel_size // 2
        self.eps = eps

    def modulated_weight(self, w: torch.Tensor) -> torch.Tensor:
        """Per-sample weights ``N, out, in, k, k``."""
        styles = self.affine(w)
        weight = self.weight[None] * self.scale * styles[:, None, :, None, None]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + self.eps)
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        weight = self.weight * self.scale
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.conv2d(x * styles[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            demod = torch.rsqrt(styles.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t() + self.eps)
            x = x * demod[:, :, None, None]
        return x


class NoiseInjection(nn.Module):
    """Add per-pixel Gaussian noise (one map shared by all channels) times a learned strength, initially 0."""

    def __init__(self) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        if noise is None:
            n, _, h, w = x.shape
            noise = torch.randn(n, 1, h, w, device=x.device, generator=generator).to(x.dtype)
        return x + self.strength * noise


# ----------------------------------------------------------------------------- projection discriminator


class ProjectionHead(nn.Module):
    """Class-conditional output ``psi(h) + <embed(y), h>`` on pooled features ``h`` (Miyato & Koyama 2018)."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features)

    def forward(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.linear(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)


# ----------------------------------------------------------------------------- initialisation


def init_dcgan_weights(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation (Radford et al. 2015): conv weights ~ N(0, 0.02), BatchNorm gamma ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- minibatch discrimination


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016).

    Features ``f`` (``N,A``) are projected by a tensor ``T`` (``A,B*C``) to ``B`` kernels of ``C``
    dimensions; for each kernel ``o_b(x_i) = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_1)`` tells the
    discriminator how close a sample is to the rest of its batch. Returns ``[f, o]`` (``N, A+B``).
    """

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Linear(in_features, kernels * kernel_dim, bias=False)
        nn.init.normal_(self.T.weight, 0.0, 0.1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        m = self.T(features).view(len(features), self.kernels, self.kernel_dim)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(-1)
        closeness = torch.exp(-l1).sum(1) - 1.0
        return torch.cat([features, closeness], dim=1)
