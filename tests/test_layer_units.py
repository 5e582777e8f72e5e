"""Units of the shared generator layers, of StyleGAN3-T's synthesis network and of StarGAN, each
checked against a hand computation or the paper's setting: SNGAN's residual discriminator
block, pixel norm, the projection head, noise injection, DCGAN's initialisation, StyleGAN2's
modulated convolution with upsampling, spectral normalisation of every layer once; StyleGAN3's
filtered leaky ReLU, its linear ToRGB scaled by 0.25, its Fourier features' rotation and fade at
the band edge; StarGAN's optimiser, critic and target domains; the translation networks'
freezing, initialisation, activations and normalisation layers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import DataSpec, create_generator
from ganbench.generators.blocks import ConvTrunk, MLPTrunk, dcgan_channels
from ganbench.generators.layers import (ModulatedConv2d, NoiseInjection, PixelNorm, ProjectionHead, ResBlockDown,
                                        apply_spectral_norm, has_spectral_norm, init_dcgan_weights)
from ganbench.generators.stylegan3 import resampling_matrix
from ganbench.generators.translation_blocks import (PatchDiscriminator, ResnetGenerator, SRResNet, VGGDiscriminator,
                                                    frozen, init_normal)

SPEC = DataSpec("image", 1, 16, 10)


# ----------------------------------------------------------------------------- shared layers


@pytest.mark.parametrize("preactivation", [False, True])
def test_residual_down_block_adds_a_pooled_shortcut_and_rectifies_only_inner_inputs(preactivation: bool) -> None:
    """The first block (no pre-activation) convolves the raw image; later ones rectify first."""
    torch.manual_seed(0)
    block = ResBlockDown(2, 3, downsample=True, preactivation=preactivation)
    x = torch.randn(2, 2, 8, 8)
    with torch.no_grad():
        inner = F.relu(x) if preactivation else x
        h = F.avg_pool2d(block.conv2(F.relu(block.conv1(inner))), 2)
        expected = h + block.shortcut(F.avg_pool2d(x, 2))
        torch.testing.assert_close(block(x), expected)


def test_residual_block_without_resampling_keeps_the_identity_shortcut() -> None:
    torch.manual_seed(0)
    block = ResBlockDown(3, 3, downsample=False)
    x = torch.randn(2, 3, 4, 4)
    assert block.shortcut is None
    with torch.no_grad():
        torch.testing.assert_close(block(x), x + block.conv2(F.relu(block.conv1(F.relu(x)))))


def test_pixel_norm_scales_each_pixels_feature_vector_to_unit_mean_square() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, 3) * torch.rand(2, 1, 3, 3) * 4
    out = PixelNorm()(x)
    torch.testing.assert_close(out.square().mean(dim=1), torch.ones(2, 3, 3))
    torch.testing.assert_close(out, x / x.square().mean(dim=1, keepdim=True).sqrt())


def test_projection_head_adds_the_inner_product_with_the_label_embedding() -> None:
    torch.manual_seed(0)
    head = ProjectionHead(4, 3)
    h, labels = torch.randn(5, 4), torch.tensor([0, 1, 2, 2, 0])
    with torch.no_grad():
        expected = h @ head.linear.weight[0] + head.linear.bias + (head.embed.weight[labels] * h).sum(1)
        torch.testing.assert_close(head(h, labels), expected)


def test_noise_injection_adds_one_map_for_all_channels_scaled_by_a_strength_starting_at_zero() -> None:
    noise = NoiseInjection()
    assert float(noise.strength.detach()) == 0.0
    x = torch.randn(2, 3, 4, 4)
    with torch.no_grad():
        noise.strength.fill_(0.5)
        out = noise(x, generator=torch.Generator().manual_seed(7))
    expected = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(out - x, 0.5 * expected.expand(-1, 3, -1, -1))


def test_dcgan_initialisation_draws_weights_around_zero_and_batchnorm_scales_around_one() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(8, 64, 3), nn.BatchNorm2d(4096), nn.Linear(64, 64))
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.bias, 3.0)
    init_dcgan_weights(net)
    conv, bn, linear = net
    for weight in (conv.weight.detach(), linear.weight.detach()):
        assert abs(float(weight.mean())) < 0.002 and float(weight.std()) == pytest.approx(0.02, rel=0.05)
    scales = bn.weight.detach()
    assert float(scales.mean()) == pytest.approx(1.0, abs=0.002)
    assert float(scales.std()) == pytest.approx(0.02, rel=0.05)
    assert not conv.bias.any() and not linear.bias.any() and not bn.bias.any()


def test_upsampling_modulated_convolution_doubles_bilinearly_then_convolves_per_sample() -> None:
    torch.manual_seed(0)
    conv = ModulatedConv2d(2, 3, 3, w_dim=4, upsample=True)
    x, w = torch.randn(2, 2, 4, 4), torch.randn(2, 4)
    with torch.no_grad():
        doubled = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        weights = conv.modulated_weight(w)
        expected = torch.cat([F.conv2d(doubled[i:i + 1], weights[i], padding=1) for i in range(2)])
        out = conv(x, w)
    assert out.shape == (2, 3, 8, 8)
    torch.testing.assert_close(out, expected)
    assert float(weights.square().sum(dim=(2, 3, 4)).sub(1).abs().max()) < 1e-5


def test_spectral_norm_reaches_embeddings_and_is_applied_once() -> None:
    net = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 3), nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 1, 3))
    apply_spectral_norm(apply_spectral_norm(net))
    assert all(has_spectral_norm(layer) for layer in net)
    assert [len(layer.parametrizations["weight"]) for layer in net] == [1, 1, 1, 1]


def test_convolutional_and_mlp_trunks_use_leaky_relus_of_slope_02() -> None:
    trunk = ConvTrunk(1, 32, 4)
    mlp = MLPTrunk(4, 8, 2, pieces=0)
    slopes = [m.negative_slope for net in (trunk, mlp) for m in net.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.2] * 5


def test_dcgan_channels_double_up_to_eight_times_the_width() -> None:
    assert dcgan_channels(4, 128) == [4, 8, 16, 32, 32]


# ----------------------------------------------------------------------------- StyleGAN3-T


def stylegan3(**overrides: object) -> nn.Module:
    torch.manual_seed(0)
    return create_generator("stylegan3", SPEC, preset_width=8, **overrides).G


def test_alias_free_layer_applies_leaky_relu_with_gain_sqrt2_between_its_filters() -> None:
    layer = stylegan3().synthesis.layers[1].eval()
    x, w = torch.randn(2, layer.source.channels, 36, 36), torch.randn(2, 128)
    with torch.no_grad():
        layer.magnitude.fill_(4.0)
        h = layer.conv(F.pad(x / 2, [1] * 4), w) + layer.bias[:, None, None]
        h = F.leaky_relu(layer.upsampling @ h @ layer.upsampling.T, 0.2)
        down = resampling_matrix(len(layer.upsampling), layer.down_filter, down=layer.down)
        expected = math.sqrt(2) * (down @ h @ down.T)
        torch.testing.assert_close(layer(x, w), expected)
        assert float(layer.magnitude) == 4.0, "an evaluation pass must not move the tracked magnitude"


def test_synthesis_ends_in_a_linear_1x1_torgb_scaled_by_a_quarter() -> None:
    synthesis = stylegan3().synthesis.eval()
    to_rgb = synthesis.layers[-1]
    assert to_rgb.to_rgb and not to_rgb.conv.demodulate and to_rgb.conv.weight.shape[-2:] == (1, 1)
    ws = torch.randn(2, synthesis.num_ws, 128)
    with torch.no_grad():
        x = synthesis.input(ws[:, 0])
        for i, layer in enumerate(synthesis.layers):
            x = layer(x, ws[:, i + 1])
        torch.testing.assert_close(synthesis(ws), 0.25 * x)
        h = torch.randn(2, to_rgb.source.channels, 16, 16)
        odd = to_rgb(h, ws[:, -1]) + to_rgb(-h, ws[:, -1])
        torch.testing.assert_close(odd, 2 * to_rgb(torch.zeros_like(h), ws[:, -1]))


def test_fourier_features_rotate_with_w_and_fade_out_across_the_transition_band() -> None:
    """At 16 px the input's cutoff is 2 and its rate 16: amplitudes fall linearly from 1 at
    radius 2 to 0 at radius 8."""
    features = stylegan3().synthesis.input
    channels = len(features.weight)
    radii = torch.tensor([1.0, 2.0, 5.0, 6.5, 9.0, 3.0, 0.5, 7.0])[:channels]
    angles = torch.linspace(0, 3, channels)
    with torch.no_grad():
        features.freqs.copy_(torch.stack([radii * angles.cos(), radii * angles.sin()], 1))
        features.weight.copy_(torch.eye(channels) * math.sqrt(channels))
        features.affine.bias.copy_(torch.tensor([0.0, 2.0, 0.0, 0.0]))  # a quarter turn
        out = features(torch.randn(1, 128))
    grid = (torch.arange(36) + 0.5 - 18) / 16
    fx, fy = features.freqs[:, 0, None, None], features.freqs[:, 1, None, None]
    phase = fy * grid + -fx * grid[:, None] + features.phases[:, None, None]
    amplitude = (1 - (radii - 2) / 6).clamp(0, 1)
    torch.testing.assert_close(out[0], torch.sin(2 * math.pi * phase) * amplitude[:, None, None],
                               atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- StarGAN


def stargan() -> nn.Module:
    torch.manual_seed(0)
    model = create_generator("stargan", SPEC, preset_width=4, n_blocks=1)
    model.configure_optimizers()
    return model


def test_stargan_trains_with_adam_1e4_and_betas_05_0999() -> None:
    model = stargan()
    for optimizer in (model.opt_g, model.opt_d):
        group = optimizer.param_groups[0]
        assert group["lr"] == 1e-4 and group["betas"] == (0.5, 0.999)


def test_stargan_critic_doubles_its_channels_with_leaky_relus_of_slope_001() -> None:
    critic = stargan().D
    convs = [m for m in critic.trunk if isinstance(m, nn.Conv2d)]
    slopes = [m.negative_slope for m in critic.trunk if isinstance(m, nn.LeakyReLU)]
    assert [c.out_channels for c in convs] == [4, 8, 16] and slopes == [0.01] * 3
    assert critic.cls.kernel_size == (2, 2) and critic.src.kernel_size == (3, 3)


def test_stargan_draws_every_target_domain_uniformly() -> None:
    model = stargan()
    torch.manual_seed(1)
    targets = model.random_targets(torch.zeros(5000, dtype=torch.long))
    counts = torch.bincount(targets, minlength=5)
    assert len(counts) == 5 and int(counts.min()) > 900 and int(counts.max()) < 1100


# ----------------------------------------------------------------------------- translation networks


def test_frozen_stops_gradients_and_restores_each_parameters_own_flag() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    net[0].bias.requires_grad_(False)
    before = [p.requires_grad for p in net.parameters()]
    with frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
    assert [p.requires_grad for p in net.parameters()] == before == [True, False, True, True]


def test_translation_initialisation_draws_instance_norm_scales_around_one() -> None:
    torch.manual_seed(0)
    generator = ResnetGenerator(1, 1, width=64, n_blocks=1)
    init_normal(generator)
    scales = torch.cat([m.weight.detach() for m in generator.modules() if isinstance(m, nn.InstanceNorm2d)])
    assert float(scales.mean()) == pytest.approx(1.0, abs=0.005)
    assert float(scales.std()) == pytest.approx(0.02, rel=0.1)


def test_patchgan_normalises_all_but_its_first_layer_and_leaks_with_slope_02() -> None:
    critic = PatchDiscriminator(2, 32, width=4)
    modules = list(critic.net)
    slopes = [m.negative_slope for m in modules if isinstance(m, nn.LeakyReLU)]
    norms = [i for i, m in enumerate(modules) if isinstance(m, nn.BatchNorm2d)]
    assert slopes == [0.2] * 3 and not any(isinstance(m, nn.ReLU) for m in modules)
    assert len(norms) == 2 and norms[0] > 2


def test_resnet_generator_ends_in_tanh() -> None:
    generator = ResnetGenerator(1, 1, width=4, n_blocks=1)
    assert isinstance(generator.net[-1], nn.Tanh)


def test_srgan_networks_have_the_papers_kernels_and_normalisations() -> None:
    """SRResNet opens and closes with 9x9 convolutions; the VGG critic has BatchNorm after every
    convolution but the first, and leaky ReLUs of slope 0.2 throughout."""
    generator = SRResNet(1, 2, width=4, n_blocks=1)
    assert generator.head[0].kernel_size == generator.tail[0].kernel_size == (9, 9)
    critic = VGGDiscriminator(1, 16, width=4)
    features = list(critic.features)
    assert isinstance(features[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in features) == 7
    slopes = [m.negative_slope for m in critic.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.2] * 9
