"""The layers and data transforms that define the image GANs, checked against their papers.

* DCGAN: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
  Generative Adversarial Networks", ICLR 2016 (no BatchNorm on the discriminator's input layer);
* ProGAN: Karras, Aila, Laine & Lehtinen, "Progressive Growing of GANs for Improved Quality,
  Stability, and Variation", ICLR 2018 (Sec. 4.2: pixelwise feature vector normalization after
  every convolution of G and of the latent; Sec. 2: real images blended during a fade-in);
* SAGAN: Zhang, Goodfellow, Metaxas & Odena, "Self-Attention Generative Adversarial Networks",
  ICML 2019 (Sec. 3: beta_{j,i} = softmax_i(f(x_i)^T g(x_j)), o_j = v(sum_i beta_{j,i} h(x_i)),
  y = x + gamma o);
* BigGAN: Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity Natural Image
  Synthesis", ICLR 2019 (conditional BatchNorm with gains centred at 1; projection D on (x, y));
* StyleGAN / StyleGAN2: Karras, Laine & Aila, CVPR 2019 (mapping network at a 100x lower
  learning rate) and Karras et al., CVPR 2020 (running average of w with decay 0.995);
* DDPM: Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020 (linear betas
  from 1e-4 to 0.02; ancestral step with sigma_t^2 = beta_t);
* DiffAugment: Zhao, Liu, Lin, Zhu & Han, "Differentiable Augmentation for Data-Efficient GAN
  Training", NeurIPS 2020 (brightness in [-0.5, 0.5], saturation in [0, 2], contrast in
  [0.5, 1.5], translation by up to 1/8 of the side; reals and fakes augmented in both updates).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.generators import Batch, DataSpec, create_generator
from ganbench.generators.blocks import ConvTrunk, Maxout, conv_stages, point_discriminator, point_generator
from ganbench.generators.ddpm import DDPM, DDPMConfig, NoiseSchedule, linear_betas
from ganbench.errors import UserError
from ganbench.generators.diffaugment import color, cutout, diff_augment, parse_policy, translation
from ganbench.generators.layers import ConditionalBatchNorm2d, EqualizedLinear, PixelNorm, SelfAttention
from ganbench.generators.progan import real_at
from ganbench.generators.stylegan2 import MappingNetwork, StyleGAN2Config
from ganbench.generators.tricks import Tricks

SPEC16 = DataSpec("image", 1, 16, 10)


def build(name: str, width: int = 8, **overrides: object):
    """A small seeded model of a registered variant with its optimizers."""
    torch.manual_seed(0)
    model = create_generator(name, SPEC16, preset_width=width, **overrides)
    model.configure_optimizers()
    return model


def random_batch(n: int = 8, seed: int = 0) -> Batch:
    """Uniform images in [-1, 1] with labels 0..n-1 mod 10."""
    gen = torch.Generator().manual_seed(seed)
    real = torch.rand(n, 1, 16, 16, generator=gen) * 2 - 1
    return Batch(real, torch.arange(n) % 10, 0)


def unit_mean_square_per_pixel(x: torch.Tensor) -> bool:
    """Whether every pixel's feature vector has mean square 1 over the channels."""
    return torch.allclose(x.pow(2).mean(dim=1), torch.ones_like(x[:, 0]), atol=1e-4)


# ----------------------------------------------------------------------------- DCGAN


def test_shared_convolutional_trunk_has_no_batchnorm_on_its_input_layer() -> None:
    """The DCGAN-style trunk of AC-GAN, WGAN and LSGAN: the first convolution feeds LeakyReLU(0.2)
    directly, every later convolution goes through BatchNorm first."""
    trunk = ConvTrunk(1, 32, 8)
    layers = list(trunk.net)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 and convs[0] == 0
    assert isinstance(layers[1], nn.LeakyReLU) and layers[1].negative_slope == 0.2
    assert all(isinstance(layers[i + 1], nn.BatchNorm2d) for i in convs[1:])
    assert sum(isinstance(m, nn.BatchNorm2d) for m in layers) == len(convs) - 1


# ----------------------------------------------------------------------------- ProGAN


def test_progan_generator_normalises_the_latent_to_the_hypersphere() -> None:
    """G's output depends only on the direction of z, even with non-zero biases after it."""
    model = build("progan")
    with torch.no_grad():
        for m in model.G.modules():
            if isinstance(m, EqualizedLinear) and m.bias is not None:
                m.bias.uniform_(-1, 1)
    z = torch.randn(4, model.config.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, scaled = model.G(z, 2, 1.0), model.G(3 * z, 2, 1.0)
    torch.testing.assert_close(out, scaled, atol=1e-5, rtol=1e-4)


def test_progan_generator_feature_vectors_have_unit_length_after_every_block() -> None:
    """Pixelwise normalization ends the 4x4 block and every upsampling block of G; D has none."""
    model = build("progan")
    outputs: list[torch.Tensor] = []
    for block in [model.G.start, *model.G.blocks]:
        block.register_forward_hook(lambda m, args, out: outputs.append(out.detach()))
    with torch.no_grad():
        model.G(torch.randn(4, model.config.z_dim), 2, 1.0)
    assert len(outputs) == 3
    assert all(unit_mean_square_per_pixel(x) for x in outputs)
    assert not any(isinstance(m, PixelNorm) for m in model.D.modules())


def test_progan_reals_are_blended_with_their_lower_resolution_during_a_fade_in() -> None:
    """During a fade-in D sees alpha x + (1 - alpha) nearest-upsampled 2x2 means of x."""
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    half = x.reshape(3, 1, 16, 2, 16, 2).mean(dim=(3, 5))
    torch.testing.assert_close(real_at(x, 16, 1.0), half)
    quarter = half.reshape(3, 1, 8, 2, 8, 2).mean(dim=(3, 5))
    blocky = quarter.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(real_at(x, 16, 0.3), 0.3 * half + 0.7 * blocky)
    torch.testing.assert_close(real_at(x, 16, 0.0), blocky)


# ----------------------------------------------------------------------------- SAGAN


def test_self_attention_output_at_each_position_is_the_softmax_weighted_sum_over_all_positions() -> None:
    """y_j = x_j + gamma v(sum_i softmax_i(query_j . key_i) h(x_i)), written out one position at a time."""
    torch.manual_seed(0)
    layer = SelfAttention(16, reduction=8)
    nn.init.constant_(layer.gamma, 0.7)
    x = torch.randn(2, 16, 3, 4)
    with torch.no_grad():
        out = layer(x)
        pixels = x.flatten(2)
        query = torch.einsum("oc,ncp->nop", layer.query.weight[:, :, 0, 0], pixels)
        key = torch.einsum("oc,ncp->nop", layer.key.weight[:, :, 0, 0], pixels)
        value = torch.einsum("oc,ncp->nop", layer.value.weight[:, :, 0, 0], pixels)
        expected = torch.empty_like(pixels)
        for n in range(2):
            for j in range(12):
                scores = torch.tensor([float(query[n, :, j] @ key[n, :, i]) for i in range(12)])
                weights = scores.exp() / scores.exp().sum()
                mixed = (value[n] * weights).sum(dim=1)
                expected[n, :, j] = pixels[n, :, j] + 0.7 * layer.out.weight[:, :, 0, 0] @ mixed
    torch.testing.assert_close(out, expected.view_as(x), atol=1e-5, rtol=1e-4)


def test_self_attention_starts_as_the_identity() -> None:
    """With its gate gamma at the initial 0 the attention block passes its input through unchanged."""
    layer = SelfAttention(16)
    x = torch.randn(2, 16, 4, 4)
    assert float(layer.gamma.detach()) == 0.0 and torch.equal(layer(x), x)


# ----------------------------------------------------------------------------- BigGAN


def test_conditional_batchnorm_gain_is_one_plus_a_projection_of_the_condition() -> None:
    """CBN(x, y) = BN(x) (1 + W_g y) + W_b y with BN's batch statistics (biased variance)."""
    torch.manual_seed(0)
    norm = ConditionalBatchNorm2d(3, 5)
    x, y = torch.randn(8, 3, 4, 4) * 2 + 1, torch.randn(8, 5)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normalised = (x - mean) / torch.sqrt(var + 1e-5)
    gain = 1 + y @ norm.gain.weight.detach().t()
    bias = y @ norm.bias.weight.detach().t()
    with torch.no_grad():
        out = norm(x, y)
    torch.testing.assert_close(out, normalised * gain[:, :, None, None] + bias[:, :, None, None], atol=1e-5,
                               rtol=1e-4)
    with torch.no_grad():
        norm.gain.weight.zero_()
        norm.bias.weight.zero_()
        torch.testing.assert_close(norm(x, y), normalised, atol=1e-5, rtol=1e-4)


def test_biggan_discriminator_judges_real_images_with_their_own_labels() -> None:
    """The projection discriminator scores the pair (x, y) of a real image and its class."""
    model = build("biggan")
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    model.D.register_forward_pre_hook(lambda m, args: seen.append((args[0], args[1])))
    batch = random_batch()
    model.discriminator_step(batch)
    real_calls = [labels for x, labels in seen if x is batch.real]
    assert len(real_calls) == 1 and torch.equal(real_calls[0], batch.labels)


def test_biggan_fakes_are_judged_with_the_labels_they_were_generated_for() -> None:
    """In both players' steps D scores each fake with the class G made it for."""
    model = build("biggan")
    made: dict[int, torch.Tensor] = {}
    judged: list[tuple[torch.Tensor, torch.Tensor]] = []
    model.G.register_forward_hook(lambda m, args, out: made.__setitem__(id(out), args[1]))
    model.D.register_forward_pre_hook(lambda m, args: judged.append((args[0], args[1])))
    batch = random_batch()
    model.discriminator_step(batch)
    model.generator_step(batch)
    fakes = [(made[id(x)], labels) for x, labels in judged if id(x) in made]
    assert len(fakes) == 2 and all(torch.equal(asked, labels) for asked, labels in fakes)


def test_biggan_discriminator_sum_pools_rectified_features_into_the_projection() -> None:
    """D(x, y) = psi(h) + <embed(y), h> with h the sum over positions of ReLU(blocks(x))."""
    model = build("biggan").eval()
    x, labels = random_batch().real, torch.arange(8) % 10
    with torch.no_grad():
        h = torch.relu(model.D.blocks(x)).sum(dim=(2, 3))
        expected = model.D.head.linear(h).squeeze(1) + (model.D.head.embed(labels) * h).sum(dim=1)
        torch.testing.assert_close(model.D(x, labels), expected)


# ----------------------------------------------------------------------------- toy 2D networks and shared trunks


def test_toy2d_networks_are_veegans_mlps() -> None:
    """G: four 400-unit ReLU layers with BatchNorm and an unbounded linear 2-D output; D: three
    200-unit maxout layers of 5 pieces and a linear output."""
    torch.manual_seed(0)
    generator, discriminator = point_generator(2), point_discriminator(Tricks())
    linears = [m for m in generator.net if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [400] * 4 + [2]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in generator.net) == 4
    assert not any(isinstance(m, (nn.Tanh, nn.Sigmoid)) for m in generator.modules())
    with torch.no_grad():
        linears[-1].bias.fill_(5.0)
        assert generator.eval()(torch.randn(16, 2)).min() > 1.0
    maxouts = [m for m in discriminator.trunk.modules() if isinstance(m, Maxout)]
    assert [(m.linear.out_features, m.pieces) for m in maxouts] == [(1000, 5)] * 3
    assert discriminator(torch.randn(6, 2)).shape == (6,)


@pytest.mark.parametrize("resolution, stages", [(8, 1), (16, 2), (32, 3), (256, 6)])
def test_conv_stages_halve_a_power_of_two_down_to_4x4(resolution: int, stages: int) -> None:
    assert conv_stages(resolution) == stages


@pytest.mark.parametrize("resolution", [4, 12, 24, 48, 100])
def test_conv_stages_refuse_sides_that_do_not_halve_to_4x4(resolution: int) -> None:
    with pytest.raises(ValueError, match="power-of-two"):
        conv_stages(resolution)


# ----------------------------------------------------------------------------- StyleGAN2


def effective_parameters(layer: EqualizedLinear) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights and bias a layer applies, read from its outputs: ``out(e_i) - out(0)`` and ``out(0)``."""
    fan_in = layer.weight.shape[1]
    with torch.no_grad():
        zero = layer(torch.zeros(1, fan_in, dtype=torch.float64))
        return (layer(torch.eye(fan_in, dtype=torch.float64)) - zero).t(), zero[0]


def test_mapping_layers_apply_he_scaled_weights_and_learn_a_hundred_times_slower() -> None:
    """A layer with lr_mul 0.01 starts as an ordinary equalized layer (weights of std sqrt(2 / fan_in))
    and one Adam step moves its applied weights and bias 0.01 times as far."""
    steps = {}
    for lr_mul in (1.0, 0.01):
        torch.manual_seed(0)
        layer = EqualizedLinear(64, 48, lr_mul=lr_mul).double()
        weight, bias = effective_parameters(layer)
        assert abs(float(weight.std()) / math.sqrt(2 / 64) - 1) < 0.05 and torch.equal(bias, torch.zeros(48).double())
        optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
        x = torch.randn(16, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        layer(x).square().sum().backward()
        optimizer.step()
        moved_weight, moved_bias = effective_parameters(layer)
        steps[lr_mul] = ((moved_weight - weight).abs().mean(), (moved_bias - bias).abs().mean())
    for fast, slow in zip(steps[1.0], steps[0.01]):
        assert float(slow / fast) == pytest.approx(0.01, rel=0.02)


def test_running_average_of_w_moves_a_share_of_0005_towards_each_batch_mean() -> None:
    """w_avg <- w_avg + (1 - 0.995) (mean of the batch's w - w_avg), from 0."""
    mapping = MappingNetwork(8, 8, 2, 0.01)
    decay = StyleGAN2Config().w_avg_decay
    assert decay == 0.995
    w = torch.full((4, 8), 2.0)
    mapping.track(w, decay)
    torch.testing.assert_close(mapping.w_avg, torch.full((8,), 0.01))
    mapping.track(w, decay)
    torch.testing.assert_close(mapping.w_avg, torch.full((8,), 0.01 + 0.005 * 1.99))


# ----------------------------------------------------------------------------- DDPM


def test_linear_betas_rise_by_equal_steps_from_1e4_to_002() -> None:
    """beta_t = 1e-4 + (0.02 - 1e-4) t / (T - 1): equal increments, not equal ratios or square roots."""
    betas = linear_betas(1000)
    expected = 1e-4 + (0.02 - 1e-4) * torch.arange(1000, dtype=torch.float64) / 999
    torch.testing.assert_close(betas, expected, rtol=1e-9, atol=1e-12)


def test_one_ancestral_step_draws_from_the_posterior_of_x0_and_xt_with_variance_beta_t() -> None:
    """Given x_0, one reverse step from x_t has mean (sqrt(ab_{t-1}) beta_t x_0 + sqrt(alpha_t)
    (1 - ab_{t-1}) x_t) / (1 - ab_t) and variance beta_t (Ho et al., Eq. 7, sigma_t^2 = beta_t)."""
    model = DDPM(DataSpec("image", 1, 8, 10), DDPMConfig(width=8, channel_mults=(1, 2), attention_resolutions=(4,),
                                                         patch_size=1, timesteps=3, sampler="ancestral",
                                                         clip_denoised=False))
    betas = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    model.schedule = NoiseSchedule(betas)
    ab = torch.cumprod(1 - betas, 0)
    x0, x2 = 0.4, -0.3
    after_first_step: list[torch.Tensor] = []

    class KnownImage(nn.Module):
        """The noise that explains x_t when x_0 is the constant ``x0``; keeps the state reached at t = 1."""

        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if int(t[0]) == 1:
                after_first_step.append(x.double())
            a = ab[t].float().view(-1, 1, 1, 1)
            return (x - a.sqrt() * x0) / (1 - a).sqrt()

    model.G_ema = KnownImage()
    model.ancestral_sample(torch.full((4000, 1, 8, 8), x2), torch.Generator().manual_seed(0))
    (x1,) = after_first_step
    mean = (ab[1].sqrt() * betas[2] * x0 + (1 - betas[2]).sqrt() * (1 - ab[1]) * x2) / (1 - ab[2])
    assert float(x1.mean()) == pytest.approx(float(mean), abs=3e-3)
    assert float(x1.var()) == pytest.approx(float(betas[2]), rel=0.02)


# ----------------------------------------------------------------------------- DiffAugment


def test_diffaugment_brightness_shift_is_uniform_on_minus_half_to_half() -> None:
    """On a flat grey image (one channel) only the brightness shift acts: it lies in [-0.5, 0.5], mean 0."""
    torch.manual_seed(0)
    x = torch.full((4000, 1, 4, 4), 0.1)
    shift = (color(x) - x)[:, 0, 0, 0]
    assert float(shift.min()) >= -0.5 and float(shift.max()) <= 0.5
    assert float(shift.min()) < -0.45 and float(shift.max()) > 0.45 and abs(float(shift.mean())) < 0.02


def test_diffaugment_saturation_scales_colour_deviations_by_up_to_two() -> None:
    """A flat colour's deviation from its grey is scaled by saturation U(0, 2) times contrast U(0.5, 1.5)."""
    torch.manual_seed(0)
    pixel = torch.tensor([0.3, -0.2, -0.1]).view(1, 3, 1, 1)
    x = pixel.expand(4000, 3, 2, 2).contiguous()
    out = color(x)
    deviation = out - out.mean(dim=1, keepdim=True)
    ratio = (deviation[:, 0, 0, 0] / 0.3)
    assert float(ratio.min()) >= 0 and float(ratio.max()) <= 3.0
    assert float(ratio.mean()) == pytest.approx(1.0, abs=0.05) and float(ratio.max()) > 2.5


def test_diffaugment_contrast_scales_spatial_deviations_by_half_to_one_and_a_half() -> None:
    """On a grey image the contrast factor, U(0.5, 1.5), multiplies every pixel's deviation from the image mean."""
    torch.manual_seed(0)
    x = torch.linspace(-0.5, 0.5, 16).view(1, 1, 4, 4).expand(4000, 1, 4, 4).contiguous()
    out = color(x)
    factor = (out - out.mean(dim=(1, 2, 3), keepdim=True)) / (x - x.mean())
    assert torch.allclose(factor, factor[:, :, :1, :1].expand_as(factor), atol=1e-4)
    factor = factor[:, 0, 0, 0]
    assert float(factor.min()) >= 0.5 - 1e-5 and float(factor.max()) <= 1.5 + 1e-5
    assert float(factor.mean()) == pytest.approx(1.0, abs=0.02)


def test_diffaugment_translation_shifts_by_at_most_an_eighth_of_the_side() -> None:
    """A single bright pixel of a 16 px image moves by every whole offset in [-2, 2] along each axis, no further."""
    torch.manual_seed(0)
    x = torch.zeros(2000, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    out = translation(x)
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(2000))
    where = out[:, 0].flatten(1).argmax(1)
    rows, cols = where // 16 - 8, where % 16 - 8
    assert set(rows.tolist()) == set(range(-2, 3)) and set(cols.tolist()) == set(range(-2, 3))


def test_diffaugment_colour_factors_are_drawn_per_image() -> None:
    """On flat grey one-channel images only brightness acts, and each image gets its own shift."""
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 4, 4)
    shift = (color(x) - x)[:, 0, 0, 0]
    assert float(shift.std()) > 0.2


def test_diffaugment_saturation_keeps_each_pixels_grey_level() -> None:
    """Saturation scales each pixel's colour about its own channel mean, so a grey pixel stays grey."""
    torch.manual_seed(0)
    x = torch.tensor([[0.2, 0.5], [0.2, -0.5], [0.2, 0.0]]).view(1, 3, 1, 2).expand(256, 3, 1, 2).contiguous()
    grey = color(x)[:, :, 0, 0]
    assert torch.allclose(grey, grey[:, :1].expand_as(grey), atol=1e-6)


def test_diffaugment_translation_fills_the_uncovered_border_with_zeros() -> None:
    """An all-ones 16 px image shifted by (dy, dx) keeps (16 - |dy|)(16 - |dx|) ones, the rest zero."""
    torch.manual_seed(0)
    out = translation(torch.ones(500, 1, 16, 16))
    kept = {int(v) for v in out.sum(dim=(1, 2, 3))}
    assert kept == {(16 - abs(dy)) * (16 - abs(dx)) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_diffaugment_cutout_zeroes_a_half_side_square_centred_anywhere() -> None:
    """On 8 px images the zeroed square is 4 px, centred on any pixel (clipped at the border), per image."""
    torch.manual_seed(0)
    cut = cutout(torch.ones(500, 1, 8, 8))[:, 0] == 0
    rows = {tuple(torch.nonzero(image.any(dim=1)).flatten().tolist()) for image in cut}
    cols = {tuple(torch.nonzero(image.any(dim=0)).flatten().tolist()) for image in cut}
    centred = {tuple(range(max(c - 2, 0), min(c + 2, 8))) for c in range(8)}
    assert rows == centred and cols == centred
    assert {int(v) for v in cut.sum(dim=(1, 2))} <= {a * b for a in (2, 3, 4) for b in (2, 3, 4)}


def test_diffaugment_policy_names_are_checked() -> None:
    """A policy is a comma-separated list of known transforms; an unknown name is refused."""
    assert parse_policy(" color, translation ,cutout") == ("color", "translation", "cutout")
    with pytest.raises(UserError, match="unknown DiffAugment policy 'colour'"):
        parse_policy("colour,translation")


def test_diffaugment_applies_every_named_transform_in_order() -> None:
    """``diff_augment`` is the named transforms composed in order, with the same draws."""
    x = torch.rand(6, 3, 8, 8) * 2 - 1
    torch.manual_seed(3)
    expected = cutout(translation(color(x)))
    torch.manual_seed(3)
    assert torch.equal(diff_augment(x, ("color", "translation", "cutout")), expected)


def test_diffaugment_transforms_reals_and_fakes_in_both_players_updates() -> None:
    """With DiffAugment on, the images D's trunk sees in D's update (reals and fakes) and in G's
    update (fakes) are augmented copies, not the images themselves."""
    model = build("cgan+diffaugment")
    fakes: list[torch.Tensor] = []
    seen: list[torch.Tensor] = []
    model.G.register_forward_hook(lambda m, args, out: fakes.append(out.detach().flatten(1)))
    model.D.trunk.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()[:, :256]))
    batch = random_batch()
    model.discriminator_step(batch)
    assert len(fakes) == 1 and len(seen) == 2
    assert not torch.allclose(seen[0], batch.real.flatten(1)) and not torch.allclose(seen[1], fakes[0])
    fakes.clear()
    seen.clear()
    model.generator_step(batch)
    assert len(fakes) == 1 and len(seen) == 1 and not torch.allclose(seen[0], fakes[0])
