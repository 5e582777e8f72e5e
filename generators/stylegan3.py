"""StyleGAN3-T: Karras, Aittala, Laine, Härkönen, Hellsten, Lehtinen & Aila, "Alias-Free Generative
Adversarial Networks", NeurIPS 2021 (arXiv:2106.12423), configuration T (translation equivariance).

Every feature map is read as the samples of a band-limited continuous signal, and no layer may
create frequencies its grid cannot hold, so that details move with the surfaces they belong to
instead of sticking to pixel coordinates. Defining components (Sec. 3, Fig. 4; the paper's
configurations B to T build them up one at a time):

* Fourier-feature input (configs B and H): ``C`` sinusoids with fixed random frequencies inside
  the first layer's band (a disc of radius ``f_c,0`` cycles per image) and random phases, on the
  first layer's grid, mixed by a learned ``C x C`` linear map. An affine layer of ``w``
  (initially the identity) rotates and translates their coordinate frame per sample, and a user
  transform (what the equivariance metric translates) moves it for the whole batch.
* No noise inputs, a 2-layer mapping network, no style mixing, path length regularization or
  skip outputs (configs C and D).
* Synthesis layers: StyleGAN2's modulated, demodulated 3x3 convolution (full, so the map grows by
  2 before the filters crop it) and a bias, then the filtered non-linearity (configs E to G):
  upsampling x2 by zero insertion and a Kaiser-windowed sinc low-pass at the input's cutoff,
  leaky ReLU (slope 0.2, gain sqrt 2) at the doubled rate, a Kaiser low-pass at the output's
  cutoff, subsampling to the output rate. Layers run on their grid plus a margin of 10 samples
  on each side, which keeps the zero padding's border away from the image (config E). A 1x1
  modulated, non-demodulated ToRGB layer ends the network; its output is scaled by 0.25. Each
  layer divides its input by the root mean square of its activations, tracked by an EMA over
  training (half-life 20k images), as the paper's implementation does.
* The flexible layer schedule (config T, Fig. 4b): over the ``N`` layers the cutoff ``f_c`` grows
  geometrically from ``f_c,0 = 2`` to ``f_c,N = s_N / 2`` (half the output resolution) and the
  minimum acceptable stop-band ``f_t`` from ``f_t,0 = 2^2.1`` to ``f_t,N = 2^0.3 f_c,N``, both
  reaching their last value at layer ``N - 2``: the last two layers (and ToRGB) are critically
  sampled. A layer's sampling rate ``s`` is the smallest power of two at least ``2 f_t`` (at
  most the output resolution) and its transition band's half-width ``f_h = max(s / 2, f_t) -
  f_c``; the last two layers have no margin. Channels fall as ``1 / f_c``, as StyleGAN2's fall
  as ``1 / resolution``.
* Filters: Kaiser-windowed sinc, 6 taps per sample of the lower rate (12 at the doubled rate),
  designed with Kaiser's formulas (J. F. Kaiser, "Nonrecursive digital filter design using the
  I0-sinh window function", ISCAS 1974; what ``scipy.signal.firwin`` does): a transition band of
  width ``W`` at rate ``r`` and ``n`` taps give a stop-band attenuation of ``A = 2.285 (n - 1) 2
  pi W / r + 7.95`` dB and the window shape ``beta = 0.1102 (A - 8.7)`` above 50 dB, ``0.5842
  (A - 21)^0.4 + 0.07886 (A - 21)`` from 21 to 50 dB, 0 below. At 16 px the estimate is 67 dB
  for the first layer's filters and 26 dB for the critically sampled layers'; their spectra
  measure 62.4 and 27.6 dB beyond ``f_c + f_h`` (the estimate is a few dB off for so few taps).
* From StyleGAN2 (``ganbench.generators.stylegan2``, imported): the mapping network, the
  discriminator with minibatch standard deviation, the non-saturating loss with lazy R1 (gamma
  10 every 16 steps), the EMA of G and truncation in W. Adam(0, 0.99) at 2.5e-3 for G and 2e-3
  for D and the w average's decay 0.998 are the paper's.

Simplifications against the paper, for 16-32 px images on a CPU: 4 synthesis layers instead of
14 (``num_layers``; at 16 px the cutoff grows by one octave per layer up to the two critically
sampled ones); channels ``min(2 width / f_c, width)`` with ``width`` from the preset, half of
what the paper's ``min(16384 / f_c, 512)`` gives on StyleGAN2's scale (its channels at
resolution ``2 f_c``), because at 16 px three of the four layers work on a 36x36 grid (82x82
around the activation) where StyleGAN2 starts at 4x4: even so a training step at the quick preset costs
about six of StyleGAN2's (``benchmarks/train_step.py``). w and z have 128 dimensions (512);
R1's gamma stays StyleGAN2's 10 (the paper tunes it per data set). The filtered non-linearity
runs as PyTorch operations, without the paper's fused CUDA kernel or its activation clamp at
256 (for fp16): each resampling (zero insertion, padding, FIR filter, subsampling) along one
axis is a fixed matrix applied to both axes by two matrix products, with the activation gain
folded into the downsampling ones. The activation magnitudes are tracked on every training
forward pass of G (the paper's code: in D's pass only). Config R (rotation equivariance: 1x1
convolutions, radial filters, doubled channels, blurred images for D early in training) is not
implemented.

Architecture schedule (:meth:`StyleGAN3.architecture`): the layers are given by
:func:`layer_schedule`; ``num_layers`` counts them up to 32 px, and each doubling of the image
above 32 px adds one (:func:`synthesis_layers`; 5, 6 and 7 at 64, 128 and 256 px), since it adds
one octave to the range the cutoff climbs from ``f_c,0 = 2`` to ``s_N / 2``: from 64 px up each
layer below the critically sampled ones raises the cutoff by at most 1.33 octaves (the paper's
14 layers raise it by 0.5 to 0.67). D is StyleGAN2's (``ganbench.generators.stylegan2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import UserError
from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, from_path
from ganbench.generators.base import DataSpec, set_learning_rate
from ganbench.generators.layers import LEAKY_SLOPE, MIN_CHANNELS, EqualizedLinear, ModulatedConv2d, channel_pyramid
from ganbench.generators.stylegan2 import MappingNetwork, StyleGAN2, StyleGAN2Config, discriminator_schedule

FIRST_CUTOFF = 2.0
FIRST_STOPBAND = 2 ** 2.1
LAST_STOPBAND_RATIO = 2 ** 0.3
TAPS_PER_SAMPLE = 6
ACTIVATION_UPSAMPLING = 2
ACTIVATION_GAIN = math.sqrt(2)
OUTPUT_SCALE = 0.25
MAGNITUDE_HALF_LIFE = 20_000


# ----------------------------------------------------------------------------- filters


def stopband_attenuation(taps: int, width: float, rate: float) -> float:
    """Kaiser's estimate of the stop-band attenuation (dB) of ``taps`` taps with a transition band
    ``width`` wide at sampling rate ``rate``."""
    return 2.285 * (taps - 1) * 2 * math.pi * width / rate + 7.95


def kaiser_beta(attenuation: float) -> float:
    """Kaiser's window shape for a stop-band attenuation in dB."""
    if attenuation > 50:
        return 0.1102 * (attenuation - 8.7)
    if attenuation >= 21:
        return 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21)
    return 0.0


def lowpass_filter(taps: int, cutoff: float, width: float, rate: float) -> torch.Tensor:
    """A Kaiser-windowed sinc low-pass of ``taps`` taps, cutoff ``cutoff`` and transition band
    ``width`` at sampling rate ``rate`` (all in cycles per image), with unit DC gain."""
    t = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    beta = kaiser_beta(stopband_attenuation(taps, width, rate))
    window = torch.kaiser_window(taps, periodic=False, beta=beta, dtype=torch.float64)
    response = torch.sinc(2 * cutoff / rate * t) * window
    return (response / response.sum()).float()


def resampling_matrix(length: int, taps: torch.Tensor, up: int = 1, down: int = 1,
                      padding: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """The linear map, along one axis of ``length`` samples, of: upsampling by zero insertion,
    padding by ``padding`` (negative: cropping), convolution with ``taps`` times ``up`` (which
    keeps the DC gain of the zero-stuffed signal) and keeping every ``down``-th sample.

    Applied to both axes (``M @ x @ M.T``) it filters separably; on a CPU two small matrix
    products are much faster than a convolution with one input channel.
    """
    padded = length * up + padding[0] + padding[1]
    outputs = (padded - len(taps)) // down + 1
    tap = (torch.arange(length) * up + padding[0])[None, :] - (torch.arange(outputs) * down)[:, None]
    inside = (tap >= 0) & (tap < len(taps))
    return torch.where(inside, taps[tap.clamp(0, len(taps) - 1)] * up, torch.zeros(()))


# ----------------------------------------------------------------------------- layer schedule


@dataclass(frozen=True)
class LayerSpec:
    """One layer's output signal, in cycles (or samples) per image: cutoff ``f_c``, minimum
    stop-band ``f_t``, sampling rate ``s``, transition half-width ``f_h``, grid side with margins,
    and channels."""

    cutoff: float
    stopband: float
    sampling_rate: int
    half_width: float
    size: int
    channels: int


def layer_schedule(resolution: int, width: int, image_channels: int, num_layers: int, num_critical: int,
                   margin: int) -> list[LayerSpec]:
    """Specs of the ``num_layers`` synthesis layers and of ToRGB (last); the first also describes
    the Fourier features."""
    if num_layers <= num_critical or num_critical < 0 or margin < 0:
        raise UserError(f"stylegan3 needs num_layers > num_critical >= 0 and margin >= 0, got num_layers "
                        f"{num_layers}, num_critical {num_critical}, margin {margin}")
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"need a power-of-two resolution >= 8, got {resolution}")
    last_cutoff = resolution / 2
    last_stopband = last_cutoff * LAST_STOPBAND_RATIO
    specs = []
    for index in range(num_layers + 1):
        share = min(index / (num_layers - num_critical), 1.0)
        cutoff = FIRST_CUTOFF * (last_cutoff / FIRST_CUTOFF) ** share
        stopband = FIRST_STOPBAND * (last_stopband / FIRST_STOPBAND) ** share
        rate = 2 ** math.ceil(math.log2(min(2 * stopband, resolution)))
        size = resolution if index >= num_layers - 1 else rate + 2 * margin
        # at narrow widths 2 * width / cutoff leaves the last layers 1 or 2 channels (2 put every RGB
        # pixel on one plane): StyleGAN2's floor applies
        channels = image_channels if index == num_layers else max(round(min(2 * width / cutoff, width)),
                                                                  min(width, MIN_CHANNELS))
        specs.append(LayerSpec(cutoff, stopband, rate, max(stopband, rate / 2) - cutoff, size, channels))
    return specs


# ----------------------------------------------------------------------------- synthesis network


def translation_matrix(tx: float, ty: float) -> torch.Tensor:
    """The 3x3 input transform that moves the image content by ``(tx, ty)`` image widths."""
    matrix = torch.eye(3)
    matrix[0, 2], matrix[1, 2] = -tx, -ty
    return matrix


class FourierFeatures(nn.Module):
    """Sinusoids of fixed frequencies within the first layer's band, in a frame rotated and
    translated per sample by an affine map of ``w``, mixed by a learned linear map."""

    def __init__(self, w_dim: int, spec: LayerSpec) -> None:
        super().__init__()
        freqs = torch.randn(spec.channels, 2)
        radii = freqs.norm(dim=1, keepdim=True)
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * spec.cutoff
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(spec.channels) - 0.5)
        self.weight = nn.Parameter(torch.randn(spec.channels, spec.channels))
        self.affine = EqualizedLinear(w_dim, 4, gain=1.0)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.bandwidth, self.sampling_rate, self.size = spec.cutoff, spec.sampling_rate, spec.size

    def frames(self, w: torch.Tensor, transform: torch.Tensor | None) -> torch.Tensor:
        """Per-sample 3x3 maps of the grid's coordinates: rotation, then translation, from ``w``,
        after the user ``transform``."""
        params = self.affine(w).float()
        cos, sin, tx, ty = (params / params[:, :2].norm(dim=1, keepdim=True)).unbind(1)
        one, zero = torch.ones_like(cos), torch.zeros_like(cos)
        rotation = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], 1).view(-1, 3, 3)
        translation = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], 1).view(-1, 3, 3)
        user = torch.eye(3, device=w.device) if transform is None else transform.to(w.device, torch.float32)
        return rotation @ translation @ user

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        frames = self.frames(w, transform)
        phases = self.phases + (self.freqs @ frames[:, :2, 2:]).squeeze(2)
        freqs = self.freqs @ frames[:, :2, :2]
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        grid = (torch.arange(self.size, device=w.device) + 0.5 - self.size / 2) / self.sampling_rate
        phase = (freqs[..., 0, None, None] * grid + freqs[..., 1, None, None] * grid[:, None]
                 + phases[..., None, None])
        x = torch.sin(2 * math.pi * phase) * amplitudes[..., None, None]
        return torch.einsum("nchw,dc->ndhw", x, self.weight / math.sqrt(len(self.weight))).to(w.dtype)


class AliasFreeLayer(nn.Module):
    """Modulated convolution, bias, filtered leaky ReLU; as ToRGB a linear 1x1 modulated convolution."""

    def __init__(self, w_dim: int, source: LayerSpec, target: LayerSpec, to_rgb: bool = False,
                 kernel_size: int = 3) -> None:
        super().__init__()
        kernel_size = 1 if to_rgb else kernel_size
        self.to_rgb = to_rgb
        self.conv = ModulatedConv2d(source.channels, target.channels, kernel_size, w_dim, demodulate=not to_rgb)
        self.bias = nn.Parameter(torch.zeros(target.channels))
        self.register_buffer("magnitude", torch.ones(()))
        rate = max(source.sampling_rate, target.sampling_rate) * (1 if to_rgb else ACTIVATION_UPSAMPLING)
        self.up, self.down = rate // source.sampling_rate, rate // target.sampling_rate
        up_taps = TAPS_PER_SAMPLE * self.up if self.up > 1 else 1
        down_taps = TAPS_PER_SAMPLE * self.down if self.down > 1 else 1
        self.register_buffer("up_filter", lowpass_filter(up_taps, source.cutoff, 2 * source.half_width, rate))
        self.register_buffer("down_filter", lowpass_filter(down_taps, target.cutoff, 2 * target.half_width, rate))
        self.rate, self.source, self.target = rate, source, target
        length = source.size + kernel_size - 1
        total = (target.size - 1) * self.down + 1 - length * self.up + up_taps + down_taps - 2
        before = (total + self.up) // 2  # keeps the sample positions symmetric about the canvas centre
        upsampling = resampling_matrix(length, self.up_filter, self.up, padding=(before, total - before))
        downsampling = resampling_matrix(len(upsampling), self.down_filter, down=self.down)
        gain = 1.0 if to_rgb else ACTIVATION_GAIN  # applied as its square root on each axis
        self.register_buffer("upsampling", upsampling, persistent=False)
        self.register_buffer("downsampling", downsampling * math.sqrt(gain), persistent=False)

    def track_magnitude(self, x: torch.Tensor) -> None:
        """Move the EMA of the input's mean square towards this batch (half-life 20k images)."""
        decay = 0.5 ** (len(x) / MAGNITUDE_HALF_LIFE)
        self.magnitude.lerp_(x.detach().float().square().mean(), 1 - decay)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                self.track_magnitude(x)
        x = x * self.magnitude.rsqrt().to(x.dtype)
        pad = self.conv.padding  # as much again as the convolution pads: a full convolution
        x = self.conv(F.pad(x, [pad] * 4), w) + self.bias[:, None, None]
        x = self.upsampling @ (x @ self.upsampling.T)
        if not self.to_rgb:
            x = F.leaky_relu(x, LEAKY_SLOPE)
        return (self.downsampling @ x) @ self.downsampling.T


class AliasFreeSynthesis(nn.Module):
    """Fourier features -> ``num_layers`` alias-free layers -> ToRGB, times 0.25; one w per
    stage (``num_ws = num_layers + 2``: the input's, each layer's, ToRGB's)."""

    def __init__(self, w_dim: int, channels: int, resolution: int, width: int, num_layers: int,
                 num_critical: int, margin: int) -> None:
        super().__init__()
        self.schedule = layer_schedule(resolution, width, channels, num_layers, num_critical, margin)
        self.input = FourierFeatures(w_dim, self.schedule[0])
        self.layers = nn.ModuleList(AliasFreeLayer(w_dim, self.schedule[max(i - 1, 0)], spec, to_rgb=i == num_layers)
                                    for i, spec in enumerate(self.schedule))
        self.num_ws = num_layers + 2

    def forward(self, ws: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        x = self.input(ws[:, 0], transform)
        for layer, w in zip(self.layers, ws[:, 1:].unbind(1)):
            x = layer(x, w)
        return x * OUTPUT_SCALE


@dataclass
class StyleGAN3Config(StyleGAN2Config):
    """StyleGAN2's settings where config T keeps them (``lr`` is D's), the paper's where it changes them."""

    mapping_layers: int = 2
    style_mixing: float = 0.0
    w_avg_decay: float = 0.998
    g_lr: float = 2.5e-3
    num_layers: int = 4
    num_critical: int = 2
    margin: int = 10


LAYERS_UP_TO = 32  # the image side up to which ``num_layers`` synthesis layers are used as they are


def synthesis_layers(resolution: int, config: StyleGAN3Config) -> int:
    """``num_layers``, plus one per doubling of the image above 32 px."""
    return config.num_layers + max(0, round(math.log2(resolution / LAYERS_UP_TO)))


class StyleGAN3Generator(nn.Module):
    """StyleGAN2's mapping network and the alias-free synthesis network."""

    def __init__(self, config: StyleGAN3Config, channels: int, resolution: int) -> None:
        super().__init__()
        c = config
        self.mapping = MappingNetwork(c.z_dim, c.w_dim, c.mapping_layers, c.mapping_lr_mul)
        self.synthesis = AliasFreeSynthesis(c.w_dim, channels, resolution, c.width, synthesis_layers(resolution, c),
                                            c.num_critical, c.margin)

    def forward(self, ws: torch.Tensor, generator: torch.Generator | None = None,
                transform: torch.Tensor | None = None) -> torch.Tensor:
        """Render per-layer latents; ``generator`` is unused (no noise inputs)."""
        return self.synthesis(ws, transform)


@GENERATORS.register
class StyleGAN3(StyleGAN2):
    """StyleGAN3-T; training, sampling and truncation are StyleGAN2's."""

    name = "stylegan3"
    paper = "Karras et al., Alias-Free Generative Adversarial Networks"
    year = 2021
    config_class = StyleGAN3Config

    @classmethod
    def architecture(cls, spec: DataSpec, config: StyleGAN3Config | None = None) -> Architecture:
        c = config or StyleGAN3Config()
        layers = layer_schedule(spec.resolution, c.width, spec.channels, synthesis_layers(spec.resolution, c),
                                c.num_critical, c.margin)
        return {"G": from_path([(layers[0].size, layers[0].channels), *((s.size, s.channels) for s in layers)]),
                "D": discriminator_schedule(spec, channel_pyramid(c.width, spec.resolution))}

    def build_generator(self) -> nn.Module:
        return StyleGAN3Generator(self.config, self.spec.channels, self.spec.resolution)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        optimizers = super().configure_optimizers()
        set_learning_rate(self.config.g_lr, self.opt_g)
        return optimizers
