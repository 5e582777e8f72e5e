"""StyleGAN3-T (Karras et al., "Alias-Free Generative Adversarial Networks", NeurIPS 2021): the
windowed-sinc filters meet their stop-band attenuation, the layer schedule is the paper's, the
Fourier features are band-limited and moved by the input transform, the generator is
translation-equivariant far beyond StyleGAN2 (EQ-T), and a short training run helps.

EQ-T (``ganbench.generators.equivariance``) is the paper's PSNR (peak-to-peak 2) between the image
rendered from a translated input and the translated image, over the pixels both cover. The
networks here are untrained, so their images are first scaled to a standard deviation of 0.5.
"""

from __future__ import annotations

import math
from dataclasses import astuple
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import UserError
from ganbench.generators import GENERATORS, Batch, DataSpec, GenerativeModel, create_generator
from ganbench.generators.equivariance import integer_translation, stylegan2_eq_t, stylegan3_eq_t, translation_psnr
from ganbench.generators.layers import EqualizedLinear, NoiseInjection
from ganbench.generators.stylegan2 import StyleGAN2Discriminator
from ganbench.generators.stylegan3 import (LayerSpec, lowpass_filter, resampling_matrix, stopband_attenuation,
                                           translation_matrix)
from ganbench.suites import resolve_suite
from quality_check import fid_before_after

SPEC16 = DataSpec("image", 1, 16, 10)
SPEC32 = DataSpec("image", 1, 32, 10)



def build(name: str = "stylegan3", spec: DataSpec = SPEC16, width: int = 8, **overrides: object) -> GenerativeModel:
    torch.manual_seed(0)
    model = create_generator(name, spec, preset_width=width, **overrides)
    model.configure_optimizers()
    return model


def test_stylegan3_is_registered_after_stylegan2_in_the_unconditional_suites() -> None:
    cls = GENERATORS.get("stylegan3")
    assert cls.year == 2021 and "Alias-Free" in cls.paper and not cls.conditional
    for suite in ("unconditional", "gans", "all"):
        generators, _ = resolve_suite(suite)
        assert generators.index("stylegan3") == generators.index("stylegan2") + 1
    model = build(spec=DataSpec("image", 3, 16, 10))
    images = model.sample(5, seed=2)
    assert images.shape == (5, 3, 16, 16) and images.dtype == torch.uint8
    assert torch.equal(images, model.sample(5, seed=2))


def test_layer_schedule_is_the_papers() -> None:
    """Cutoffs 2 -> s/2 and stop-bands 2^2.1 -> 2^0.3 s/2, geometric, reached two layers before
    the end; rates the smallest power of two >= 2 f_t; margins of 10; channels ~ 1 / f_c."""
    first, last = 2 ** 2.1, 2 ** 0.3
    schedule = build(spec=SPEC32, width=32).G.synthesis.schedule
    cutoffs = [2, 2 * math.sqrt(8), 16, 16, 16]
    stopbands = [first, math.sqrt(first * 16 * last), 16 * last, 16 * last, 16 * last]
    expected = [LayerSpec(c, t, s, max(t, s / 2) - c, size, ch)
                for c, t, s, size, ch in zip(cutoffs, stopbands, [16, 32, 32, 32, 32], [36, 52, 52, 32, 32],
                                             [32, 11, 4, 4, 1])]
    assert len(schedule) == len(expected)
    for spec, want in zip(schedule, expected):
        assert astuple(spec) == pytest.approx(astuple(want)), (spec, want)
    with pytest.raises(UserError, match="num_layers > num_critical"):
        build(num_layers=2)
    sixteen = build(spec=SPEC16, width=32).G.synthesis.schedule
    assert [s.cutoff for s in sixteen] == pytest.approx([2, 4, 8, 8, 8])
    assert [(s.sampling_rate, s.size, s.channels) for s in sixteen] == [
        (16, 36, 32), (16, 36, 16), (16, 36, 8), (16, 16, 8), (16, 16, 1)]


def test_narrow_colour_generators_keep_four_channels_per_layer_and_use_all_three_colours() -> None:
    """At width 16 and 32 px the 2 * width / cutoff rule gives the last layers two channels, which would put
    every pixel's RGB on one plane; floored at four, each sample's colours span three dimensions."""
    model = build(spec=DataSpec("image", 3, 32, 10), width=16)
    assert [s.channels for s in model.G.synthesis.schedule] == [16, 6, 4, 4, 3]
    for p in model.G.parameters():
        if not p.any():
            torch.nn.init.normal_(p, std=0.2)
    with torch.no_grad():
        images = model.generate(4, None, torch.Generator().manual_seed(1))
    for image in images:
        pixels = image.flatten(1).T.double()
        spread = torch.linalg.svdvals(pixels - pixels.mean(0))
        assert spread[2] > 1e-3 * spread[0]


def test_lowpass_filters_are_kaisers_and_meet_their_stop_band_attenuation() -> None:
    """Every filter equals scipy's Kaiser-window design, has unit DC gain and 6 taps per sample of
    the lower rate; its FFT magnitude beyond ``f_c + f_h`` stays below Kaiser's estimate of the
    attenuation plus 6 dB (the estimate is that optimistic for filters of 12 to 24 taps)."""
    firwin = pytest.importorskip("scipy.signal").firwin
    measured: dict[tuple[int, str], list[float]] = {}
    for spec in (SPEC16, SPEC32):
        for index, layer in enumerate(build(spec=spec, width=16).G.synthesis.layers[:-1]):
            for kind, taps, factor, band in (("up", layer.up_filter, layer.up, layer.source),
                                             ("down", layer.down_filter, layer.down, layer.target)):
                assert len(taps) == 6 * factor and factor in (2, 4)
                reference = firwin(len(taps), band.cutoff, width=2 * band.half_width, fs=layer.rate)
                torch.testing.assert_close(taps.double(), torch.from_numpy(reference), rtol=0, atol=1e-6)
                response = torch.fft.rfft(taps.double(), 8192).abs()
                frequency = torch.arange(len(response)) * layer.rate / 8192
                attenuation = -20 * math.log10(float(response[frequency >= band.cutoff + band.half_width].max()))
                design = stopband_attenuation(len(taps), 2 * band.half_width, layer.rate)
                assert float(response[0]) == pytest.approx(1.0, abs=1e-6)
                assert attenuation > design - 6, (spec.resolution, index, kind, attenuation, design)
                measured.setdefault((spec.resolution, kind), []).append(round(attenuation, 1))
    print("stop-band attenuation (dB) per layer:", measured)
    first, critical = measured[(16, "up")][0], measured[(16, "down")][-1]
    assert first > 60 and critical > 25


def test_resampling_matrix_is_zero_insertion_padding_filtering_and_subsampling() -> None:
    taps = lowpass_filter(12, 3.0, 6.0, 32)
    signal = torch.randn(20, dtype=torch.float64)
    for up, down, padding in ((2, 1, (9, 8)), (1, 2, (0, 0)), (2, 1, (-11, -12)), (4, 2, (5, 6))):
        stuffed = torch.zeros(len(signal) * up, dtype=torch.float64)
        stuffed[::up] = signal
        padded = F.pad(stuffed[None], padding)[0]
        expected = F.conv1d(padded[None, None], (taps.double() * up)[None, None])[0, 0][::down]
        matrix = resampling_matrix(len(signal), taps.double(), up, down, padding)
        torch.testing.assert_close(matrix @ signal, expected)


def test_fourier_features_are_band_limited_sinusoids_moved_by_the_input_transform() -> None:
    features = build(spec=SPEC32).G.synthesis.input
    radii = features.freqs.norm(dim=1)
    assert float(radii.max()) <= 2.0 and float(radii.min()) > 0 and 0.5 < float(radii.mean()) < 1.9
    channels = len(features.weight)
    with torch.no_grad():
        features.weight.copy_(torch.eye(channels) * math.sqrt(channels))
    grid = (torch.arange(36) + 0.5 - 18) / 16
    w = torch.randn(2, 128)

    def expected(tx: float, ty: float) -> torch.Tensor:
        fx, fy = features.freqs[:, 0, None, None], features.freqs[:, 1, None, None]
        phase = fx * (grid - tx) + fy * (grid[:, None] - ty) + features.phases[:, None, None]
        return torch.sin(2 * math.pi * phase).expand(2, -1, -1, -1)

    with torch.no_grad():
        torch.testing.assert_close(features(w), expected(0, 0), atol=1e-4, rtol=0)
        torch.testing.assert_close(features(w, translation_matrix(0.3, -0.1)), expected(0.3, -0.1), atol=1e-4, rtol=0)
        features.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.3, -0.1]))
        torch.testing.assert_close(features(w), expected(0.3, -0.1), atol=1e-4, rtol=0)


def test_eq_t_is_the_psnr_of_the_moved_reference_on_the_pixels_it_covers() -> None:
    images = torch.arange(12.0).view(1, 1, 3, 4)
    moved, mask = integer_translation(images, 1, -1)
    torch.testing.assert_close(moved[0, 0], torch.tensor([[0.0, 4, 5, 6], [0, 8, 9, 10], [0, 0, 0, 0]]))
    torch.testing.assert_close(mask[0, 0], torch.tensor([[0.0, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0, 0]]))
    reference = torch.rand(2, 1, 8, 8) * 2 - 1
    moved, covered = integer_translation(reference, 2, 3)
    rendered = torch.where(covered > 0, moved + 0.1 * (torch.arange(64).view(8, 8) % 2 * 2 - 1), 5.0)
    assert translation_psnr(reference, rendered, 2, 3) == pytest.approx(20 * math.log10(2 / 0.1), abs=1e-6)
    assert translation_psnr(reference, rendered, 2, 3, spread=0.5) == pytest.approx(
        20 * math.log10(2 / (0.1 * 0.5 / float(reference.std()))), abs=1e-5)


class BlockySynthesis(nn.Module):
    """A StyleGAN2-like synthesis that is exactly equivariant to whole cells of its 4x4 input: each
    cell becomes a block of ``resolution / 4`` pixels, scaled by the style, plus one noise draw per
    image, which an equal noise stream repeats."""

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.randn(2, 4, 4))
        self.block = resolution // 4
        self.modes: list[bool] = []

    def forward(self, ws: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        self.modes.append(self.training)
        image = self.const.repeat_interleave(self.block, -1).repeat_interleave(self.block, -2)
        return image * ws.view(-1, 1, 1, 1) + torch.randn(len(ws), 1, 1, 1, generator=generator)


def test_stylegan2_eq_t_moves_the_image_by_the_cells_pixels_with_the_same_noise() -> None:
    """On a synthesis that is equivariant to whole cells, EQ-T is infinite: the image moves by
    ``resolution / 4`` pixels a cell and both images draw the same noise; the network is measured
    in eval mode, then left as it was, its input grid restored."""
    network = nn.Module()
    network.synthesis = BlockySynthesis(16)
    model = SimpleNamespace(spec=DataSpec("image", 2, 16, 0), device=torch.device("cpu"), sampling_network=network,
                            styles=lambda n, mixing, generator, net: (torch.rand(n, generator=generator) + 0.5, 0))
    const = network.synthesis.const.detach().clone()
    for cells in [(1, 0), (-1, 2)]:
        assert stylegan2_eq_t(model, cells) == math.inf
    assert network.training and network.synthesis.modes == [False] * 4
    assert torch.equal(network.synthesis.const, const)
    network.eval()
    assert stylegan2_eq_t(model, (0, 1)) == math.inf and not network.training


def test_translation_equivariance_is_far_above_stylegan2s() -> None:
    """At 32 px: a quarter-image translation moves StyleGAN2's 4x4 input by one cell and is an
    integer shift on every grid of both networks; 1 and 3 px are half-pixel shifts on StyleGAN3's
    16-rate first layer, where only the low-pass filters keep the network equivariant."""
    stylegan3, stylegan2 = build("stylegan3", SPEC32), build("stylegan2", SPEC32)
    quarter, *subpixel = stylegan3_eq_t(stylegan3, [(8, -8), (1, -3), (3, 1)], spread=0.5)
    baseline = stylegan2_eq_t(stylegan2, (1, -1), spread=0.5)
    print(f"EQ-T at 32 px, untrained, width 8: stylegan3 {quarter:.1f} dB (quarter image), "
          f"{subpixel[0]:.1f} / {subpixel[1]:.1f} dB (sub-pixel); stylegan2 {baseline:.1f} dB (quarter image)")
    assert baseline < 30 and quarter > baseline + 40
    assert min(subpixel) > 75


def test_each_layer_divides_its_input_by_its_tracked_rms() -> None:
    layer = build().G.synthesis.layers[1]
    x, w = 3 * torch.randn(4, layer.source.channels, 36, 36), torch.randn(4, 128)
    layer.train()
    with torch.no_grad():
        layer(x, w)
    decay = 0.5 ** (4 / 20_000)
    assert float(layer.magnitude) == pytest.approx(decay + (1 - decay) * float(x.square().mean()), rel=1e-5)
    layer.eval()
    with torch.no_grad():
        layer.magnitude.fill_(9.0)
        scaled = layer(x, w)
        layer.magnitude.fill_(1.0)
        torch.testing.assert_close(scaled, layer(x / 3, w))


def test_config_t_trains_like_stylegan2_without_mixing_noise_or_deep_mapping() -> None:
    model = build()
    c = model.config
    linears = [m for m in model.G.mapping.modules() if isinstance(m, EqualizedLinear)]
    assert len(linears) == 2 and all(m.lr_mul == 0.01 for m in linears)
    assert not any(isinstance(m, NoiseInjection) for m in model.G.modules())
    assert isinstance(model.D, StyleGAN2Discriminator)
    ws, cutoff = model.styles(3, c.style_mixing)
    assert c.style_mixing == 0 and cutoff == model.G.synthesis.num_ws == c.num_layers + 2
    assert torch.equal(ws, ws[:, :1].expand_as(ws))
    g, d = model.opt_g.param_groups[0], model.opt_d.param_groups[0]
    assert g["lr"] == 2.5e-3 and d["lr"] == pytest.approx(2e-3 * 16 / 17) and g["betas"] == (0.0, 0.99)
    real, labels = torch.rand(4, 1, 16, 16) * 2 - 1, torch.zeros(4, dtype=torch.long)
    assert ["r1" in model.discriminator_step(Batch(real, labels, step)) for step in (0, 1, 16)] == [True, False, True]


def test_short_training_lowers_fid() -> None:
    before, after = fid_before_after(build(), steps=60, batch_size=16, n=300)
    print(f"stylegan3: FID {before:.1f} -> {after:.1f} ({after / before:.2f})")
    assert after < 0.7 * before
