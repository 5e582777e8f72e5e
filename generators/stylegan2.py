"""StyleGAN2: Karras, Laine, Aittala, Hellsten, Lehtinen & Aila, "Analyzing and Improving the
Image Quality of StyleGAN", CVPR 2020 (arXiv:1912.04958).

Defining components:

* a mapping network (pixel-normalized z, eight equalized fully connected layers with a 100x
  lower learning rate) from Z to the intermediate latent space W;
* a synthesis network starting from a learned constant, made of modulated convolutions whose
  weights are scaled per input channel by a style (an affine map of w) and demodulated to unit
  norm per output channel, replacing AdaIN;
* per-pixel noise injection with a learned strength after every convolution;
* skip-connection output (a modulated 1x1 ``to_rgb`` per resolution, summed after upsampling)
  and a residual discriminator with a minibatch standard-deviation layer;
* style mixing regularization: with probability 0.9 a batch uses two latents, switching from
  the first w to the second at a random layer;
* non-saturating logistic loss with lazy R1 regularization (gamma 10, every 16 D steps, the
  penalty scaled by 16 and Adam's hyperparameters adjusted by 16/17); Adam(0, 0.99) at 2e-3;
* an exponential moving average of G's weights, and the truncation trick in W:
  ``w = w_avg + psi * (w - w_avg)`` with ``w_avg`` tracked during training.

Simplifications: bilinear up- and average-pool downsampling instead of FIR filtering, and no
path length regularization. Latent sizes and channels are sized by ``width``.

Architecture schedule (:meth:`StyleGAN2.architecture`): levels 4x4, 8x8, ..., N, as in the
paper's Fig. 7: the synthesis network has one 3x3 modulated convolution at 4x4 and two per
doubling (the first upsampling), each level a ``to_rgb`` whose outputs are summed; D has one
residual block of two 3x3 convolutions per halving down to 4x4 (``log2(N) - 2`` of them), then
minibatch standard deviation, a 3x3 convolution and two dense layers. Config F's channels are
``min(512, 32768 / res)`` (512 up to 64x64, then halving); here the cap is ``2 width`` and the
last three levels have ``width``, ``width / 2`` and ``width / 4`` channels
(``ganbench.generators.layers.channel_pyramid``): up to 32 px only 4x4 is capped, and each
doubling of the image above 32 px adds a capped level at the low-resolution end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, Schedule, from_path
from ganbench.generators.base import Batch, DataSpec, GenerativeModel
from ganbench.generators.ema import warmup_ema_decay
from ganbench.generators.layers import (LEAKY_SLOPE, EqualizedConv2d, EqualizedLinear, MinibatchStdDev, ModulatedConv2d,
                               NoiseInjection, PixelNorm, channel_pyramid)
from ganbench.generators.losses import discriminator_loss, generator_loss, r1_penalty

ACTIVATION_GAIN = math.sqrt(2)


class MappingNetwork(nn.Module):
    """z -> w by pixel norm and ``layers`` equalized linear layers with LeakyReLU; tracks ``w_avg``."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float) -> None:
        super().__init__()
        net: list[nn.Module] = [PixelNorm()]
        for i in range(layers):
            net += [EqualizedLinear(z_dim if i == 0 else w_dim, w_dim, lr_mul=lr_mul), nn.LeakyReLU(LEAKY_SLOPE)]
        self.net = nn.Sequential(*net)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    @torch.no_grad()
    def track(self, w: torch.Tensor, decay: float) -> None:
        self.w_avg.lerp_(w.detach().float().mean(0), 1 - decay)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution, noise, bias, LeakyReLU (times sqrt 2)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.noise(self.conv(x, w), generator=generator) + self.bias[:, None, None]
        return F.leaky_relu(x, LEAKY_SLOPE) * ACTIVATION_GAIN


class ToRGB(nn.Module):
    """Modulated 1x1 convolution without demodulation, plus a bias."""

    def __init__(self, in_channels: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[:, None, None]


class SynthesisNetwork(nn.Module):
    """Learned 4x4 constant -> per level: (upsampling) modulated convs -> to_rgb, summed over levels.

    Takes one w per layer (``N, num_ws, w_dim``): each convolution reads its own, each ``to_rgb``
    the one after its level's last convolution.
    """

    def __init__(self, w_dim: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        chans = channel_pyramid(width, resolution)
        self.const = nn.Parameter(torch.randn(chans[0], 4, 4))
        self.convs = nn.ModuleList([SynthesisLayer(chans[0], chans[0], w_dim)])
        self.to_rgb = nn.ModuleList([ToRGB(chans[0], channels, w_dim)])
        for i in range(1, len(chans)):
            self.convs.extend([SynthesisLayer(chans[i - 1], chans[i], w_dim, upsample=True),
                               SynthesisLayer(chans[i], chans[i], w_dim)])
            self.to_rgb.append(ToRGB(chans[i], channels, w_dim))
        self.num_ws = len(self.convs) + 1

    def forward(self, ws: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.const.expand(len(ws), -1, -1, -1)
        x = self.convs[0](x, ws[:, 0], generator)
        rgb = self.to_rgb[0](x, ws[:, 1])
        for level in range(1, len(self.to_rgb)):
            first = 2 * level - 1
            x = self.convs[first](x, ws[:, first], generator)
            x = self.convs[first + 1](x, ws[:, first + 1], generator)
            rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
            rgb = rgb + self.to_rgb[level](x, ws[:, first + 2])
        return rgb


class StyleGAN2Generator(nn.Module):
    """Mapping and synthesis; ``forward(ws)`` renders per-layer latents."""

    def __init__(self, z_dim: int, w_dim: int, mapping_layers: int, lr_mul: float, channels: int,
                 resolution: int, width: int) -> None:
        super().__init__()
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, lr_mul)
        self.synthesis = SynthesisNetwork(w_dim, channels, resolution, width)

    def forward(self, ws: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.synthesis(ws, generator)


class DiscriminatorBlock(nn.Module):
    """conv3x3, conv3x3, avg-pool, with a pooled 1x1 residual; the sum is scaled by 1/sqrt 2."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = EqualizedConv2d(in_channels, in_channels, 3, padding=1)
        self.conv2 = EqualizedConv2d(in_channels, out_channels, 3, padding=1)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv1(x), LEAKY_SLOPE)
        h = F.avg_pool2d(F.leaky_relu(self.conv2(h), LEAKY_SLOPE), 2)
        return (h + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class StyleGAN2Discriminator(nn.Module):
    """from_rgb at full resolution, residual blocks down to 4x4, then minibatch stddev, conv3x3, dense, linear."""

    def __init__(self, channels: int, resolution: int, width: int, mbstd_group: int) -> None:
        super().__init__()
        chans = channel_pyramid(width, resolution)
        self.from_rgb = nn.Sequential(EqualizedConv2d(channels, chans[-1], 1), nn.LeakyReLU(LEAKY_SLOPE))
        self.blocks = nn.Sequential(*(DiscriminatorBlock(chans[i], chans[i - 1]) for i in range(len(chans) - 1, 0, -1)))
        self.final = nn.Sequential(MinibatchStdDev(mbstd_group), EqualizedConv2d(chans[0] + 1, chans[0], 3, padding=1),
                                   nn.LeakyReLU(LEAKY_SLOPE), nn.Flatten(), EqualizedLinear(16 * chans[0], chans[0]),
                                   nn.LeakyReLU(LEAKY_SLOPE), EqualizedLinear(chans[0], 1, gain=1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final(self.blocks(self.from_rgb(x))).view(-1)


def discriminator_schedule(spec: DataSpec, chans: list[int]) -> Schedule:
    """:class:`StyleGAN2Discriminator`'s path for the channels of :func:`channel_pyramid`."""
    path = [(spec.resolution, spec.channels)]
    path += [(4 * 2**level, max(chans[level], chans[level - 1])) for level in range(len(chans) - 1, 0, -1)]
    return from_path([*path, (4, chans[0])], residual_blocks=len(chans) - 1)


@dataclass
class StyleGAN2Config:
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01
    width: int = 64
    lr: float = 2e-3
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 10.0
    r1_interval: int = 16
    style_mixing: float = 0.9
    mbstd_group: int = 4
    w_avg_decay: float = 0.995
    ema_decay: float = 0.998


@GENERATORS.register
class StyleGAN2(GenerativeModel):
    """StyleGAN2 (config F without path length regularization); ``truncation=psi`` acts in W."""

    name = "stylegan2"
    paper = "Karras et al., Analyzing and Improving the Image Quality of StyleGAN"
    year = 2020
    config_class = StyleGAN2Config
    channels_last_on_cpu = True
    truncation_range = (0.0, 1.0)

    def __init__(self, spec: DataSpec, config: StyleGAN2Config | None = None) -> None:
        super().__init__(spec)
        self.config = config or self.config_class()
        c = self.config
        self.G = self.build_generator()
        self.D = StyleGAN2Discriminator(spec.channels, spec.resolution, c.width, c.mbstd_group)
        self.init_ema(c.ema_decay)

    @classmethod
    def architecture(cls, spec: DataSpec, config: StyleGAN2Config | None = None) -> Architecture:
        chans = channel_pyramid((config or cls.config_class()).width, spec.resolution)
        sides = [4 * 2**level for level in range(len(chans))]
        return {"G": from_path([(side, max(ch, spec.channels)) for side, ch in zip(sides, chans)]),
                "D": discriminator_schedule(spec, chans)}

    def build_generator(self) -> nn.Module:
        """G: the mapping network and this variant's synthesis network."""
        c = self.config
        return StyleGAN2Generator(c.z_dim, c.w_dim, c.mapping_layers, c.mapping_lr_mul, self.spec.channels,
                                  self.spec.resolution, c.width)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        lazy = c.r1_interval / (c.r1_interval + 1)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=c.betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr * lazy,
                                      betas=(c.betas[0] ** lazy, c.betas[1] ** lazy), eps=1e-8)
        return {"g": self.opt_g, "d": self.opt_d}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, device=self.device, generator=generator)

    def styles(self, n: int, mixing: float, generator: torch.Generator | None = None,
               network: StyleGAN2Generator | None = None) -> tuple[torch.Tensor, int]:
        """Per-layer latents ``N, num_ws, w_dim`` and the layer where the second latent takes over
        (``num_ws`` when the batch is not mixed). In training the mixing draw is made on the host,
        so a step never waits for the GPU to read it."""
        network = network or self.G
        num_ws = network.synthesis.num_ws
        w = network.mapping(self.noise(n, generator))
        ws = w[:, None].repeat(1, num_ws, 1)
        cutoff = num_ws
        draws = torch.rand(2, generator=generator, device=generator.device if generator is not None else "cpu")
        if float(draws[0]) < mixing:
            cutoff = 1 + int(float(draws[1]) * (num_ws - 1))
            ws[:, cutoff:] = network.mapping(self.noise(n, generator))[:, None]
        return ws, cutoff

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        c = self.config
        with torch.no_grad():
            fake = self.G(self.styles(len(batch.real), c.style_mixing)[0])
        regularize = c.r1_gamma > 0 and batch.step % c.r1_interval == 0
        real = batch.real.detach().requires_grad_(regularize)
        real_out = self.D(real)
        loss = discriminator_loss("nonsaturating", real_out, self.D(fake))
        logs = {"loss_d": loss.detach()}
        if regularize:
            r1 = r1_penalty(real_out, real)
            loss = loss + c.r1_gamma / 2 * c.r1_interval * r1
            logs["r1"] = r1.detach()
        self.optimize(self.opt_d, loss)
        return logs

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        ws, _ = self.styles(len(batch.real), self.config.style_mixing)
        loss = generator_loss("nonsaturating", self.D(self.G(ws)))
        self.optimize(self.opt_g, loss)
        self.G.mapping.track(ws[:, 0], self.config.w_avg_decay)
        self.ema_decay = warmup_ema_decay(batch.step, self.config.ema_decay)
        return {"loss_g": loss.detach()}

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        network = self.sampling_network
        ws, _ = self.styles(n, 0.0, generator, network)
        if truncation is not None:
            w_avg = network.mapping.w_avg.to(ws.dtype)
            ws = w_avg + truncation * (ws - w_avg)
        return network(ws, generator)
