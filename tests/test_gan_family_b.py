"""SAGAN, BigGAN, ProGAN and StyleGAN2: the components that define each, and that training helps."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import GENERATORS, Batch, DataSpec, create_generator
from ganbench.generators.biggan import GBlock
from ganbench.generators.ema import warmup_ema_decay
from ganbench.generators.layers import (ConditionalBatchNorm2d, EqualizedConv2d, EqualizedLinear, MinibatchStdDev,
                               ModulatedConv2d, NoiseInjection, PixelNorm, ProjectionHead, ResBlockDown,
                               SelfAttention, has_spectral_norm)
from ganbench.generators.losses import drift_penalty, orthogonal_regularization
from ganbench.generators.progan import fade, growth_state, real_at
from ganbench.generators.sagan import ResBlockUp
from ganbench.generators.stylegan2 import DiscriminatorBlock, MappingNetwork, SynthesisLayer, ToRGB
from ganbench.generators.trainer import TrainConfig, train
from quality_check import conditional_accuracy_before_after, digits, fid_before_after

SPEC32 = DataSpec("image", 1, 32, 10)
SPEC16 = DataSpec("image", 1, 16, 10)


def batch(spec: DataSpec, n: int = 8, step: int = 0, progress: float = 0.0) -> Batch:
    gen = torch.Generator().manual_seed(step)
    real = torch.rand(n, spec.channels, spec.resolution, spec.resolution, generator=gen) * 2 - 1
    return Batch(real, torch.arange(n) % spec.num_classes, step, progress=progress)


def build(name: str, spec: DataSpec = SPEC32, width: int = 8, **overrides: object):
    torch.manual_seed(0)
    model = create_generator(name, spec, preset_width=width, **overrides)
    model.configure_optimizers()
    return model


def input_sizes(module: nn.Module, kind: type[nn.Module]) -> list[int]:
    """Spatial sizes of the inputs that sub-modules of ``kind`` see in the next forward passes."""
    sizes: list[int] = []
    for sub in module.modules():
        if isinstance(sub, kind):
            sub.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[-1]))
    return sizes


@pytest.mark.parametrize("name", ["sagan", "biggan", "progan", "stylegan2"])
@pytest.mark.parametrize("channels", [1, 3])
def test_registered_and_sample_uint8(name: str, channels: int) -> None:
    cls = GENERATORS.get(name)
    assert cls.describe()["paper"] and cls.year >= 2018
    model = build(name, DataSpec("image", channels, 32, 10))
    images = model.sample(6, seed=3)
    assert images.shape == (6, channels, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(images, model.sample(6, seed=3))


# ----------------------------------------------------------------------------- SAGAN


def test_sagan_attention_at_middle_resolution_in_g_and_d() -> None:
    model = build("sagan")
    g_sizes, d_sizes = input_sizes(model.G, SelfAttention), input_sizes(model.D, SelfAttention)
    fake = model.G(torch.randn(4, model.config.z_dim))
    model.D(fake)
    assert g_sizes == [8] and d_sizes == [8]


def test_sagan_attention_gate_starts_at_zero_and_is_learned() -> None:
    model = build("sagan", SPEC16)
    gates = [m.gamma for m in model.modules() if isinstance(m, SelfAttention)]
    assert len(gates) == 2 and all(float(g.detach()) == 0 for g in gates)
    data = digits(16)
    train(model, data.x_train, data.y_train, TrainConfig(steps=3, batch_size=16))
    assert all(float(g.detach()) != 0 for g in gates)


def test_sagan_spectral_norm_on_both_networks_hinge_and_ttur() -> None:
    model = build("sagan")
    for net in (model.G, model.D):
        layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert layers and all(has_spectral_norm(m) for m in layers)
    optimizers = model.configure_optimizers()
    assert optimizers["d"].param_groups[0]["lr"] == 4e-4 and optimizers["g"].param_groups[0]["lr"] == 1e-4
    assert optimizers["d"].param_groups[0]["betas"] == (0.0, 0.9) and model.n_critic == 1
    assert model.config.loss == "hinge"


def nearest_up(h: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour up-sampling by 2, as the residual up-blocks' ``F.interpolate`` does."""
    return h.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


def test_sagan_generator_block_is_bn_relu_upsample_conv_plus_an_upsampled_shortcut() -> None:
    """SNGAN's residual up-block, written out: BN ReLU up conv3x3 BN ReLU conv3x3 + conv1x1(up(x))."""
    torch.manual_seed(0)
    block = ResBlockUp(4, 6).eval()
    for bn in (block.bn1, block.bn2):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
        nn.init.normal_(bn.weight)
    x = torch.randn(2, 4, 3, 3)

    def normalise(bn: nn.BatchNorm2d, h: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        scale = bn.weight.view(shape) / (bn.running_var.view(shape) + bn.eps).sqrt()
        return (h - bn.running_mean.view(shape)) * scale + bn.bias.view(shape)

    with torch.no_grad():
        h = block.conv1(nearest_up(F.relu(normalise(block.bn1, x))))
        expected = block.conv2(F.relu(normalise(block.bn2, h))) + block.shortcut(nearest_up(x))
        torch.testing.assert_close(block(x), expected)


def test_sagan_generator_ends_in_tanh_and_discriminator_sum_pools_a_rectified_4x4_map() -> None:
    """G's image is tanh of its last convolution; D's first block reads the image unrectified, later
    blocks rectify their inputs, and D's features are the ReLU of its 4x4 output summed over positions."""
    model = build("sagan", SPEC16)
    last_conv = [m for m in model.G.out if isinstance(m, nn.Conv2d)][-1]
    before_tanh: list[torch.Tensor] = []
    last_conv.register_forward_hook(lambda m, args, out: before_tanh.append(out))
    with torch.no_grad():
        fake = model.G(torch.randn(3, model.config.z_dim))
    torch.testing.assert_close(fake, torch.tanh(before_tanh[0]))
    first_inputs: list[torch.Tensor] = []
    residual = [m for m in model.D.blocks if isinstance(m, ResBlockDown)]
    for block in residual:
        block.conv1.register_forward_pre_hook(lambda m, args: first_inputs.append(args[0]))
    maps: list[torch.Tensor] = []
    model.D.blocks.register_forward_hook(lambda m, args, out: maps.append(out))
    x = batch(SPEC16, n=3).real
    with torch.no_grad():
        features = model.D.features(x)
    assert torch.equal(first_inputs[0], x) and all(float(h.min()) >= 0 for h in first_inputs[1:])
    assert len(first_inputs) == len(residual) and maps[0].shape[-2:] == (4, 4)
    torch.testing.assert_close(features, F.relu(maps[0]).sum(dim=(2, 3)))


def test_self_attention_mixes_distant_positions() -> None:
    layer = SelfAttention(16)
    nn.init.constant_(layer.gamma, 1.0)
    x = torch.randn(2, 16, 8, 8)
    moved = x.clone()
    moved[:, :, 7, 7] += 5
    changed = (layer(moved) - layer(x))[:, :, 0, 0].abs().max()
    assert changed > 1e-4
    assert torch.allclose(layer.last_attention.sum(-1), torch.ones(2, 64))


def test_self_attention_of_a_narrow_map_is_not_rank_one() -> None:
    """Eight channels (SAGAN's discriminator at width 16): channels // 8 would leave one query and one key
    channel, whose logits f_i g_j send every position to the same one or two places; four keep it spread."""
    torch.manual_seed(0)
    layer = SelfAttention(8)
    assert layer.query.out_channels == layer.key.out_channels == layer.value.out_channels == 4
    assert SelfAttention(256).query.out_channels == 32 and SelfAttention(2).query.out_channels == 2
    x = torch.randn(4, 8, 8, 8, dtype=torch.float64)
    layer.double()(x)
    logits = layer.last_attention.log()
    assert all(torch.linalg.matrix_rank(each - each.mean(1, keepdim=True)) > 1 for each in logits)
    assert all(len(set(each.argmax(1).tolist())) > 4 for each in layer.last_attention)


# ----------------------------------------------------------------------------- BigGAN


def test_biggan_class_conditional_batchnorm_gains_depend_on_class() -> None:
    model = build("biggan")
    assert model.conditional
    z = torch.randn(1, model.G.latent.z_dim).repeat(2, 1)
    _, conds = model.G.latent(z, torch.tensor([3, 7]))
    norms = [m for m in model.G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == 2 * len(model.G.blocks)
    gain, bias = model.G.blocks[0].bn1.affine(conds[0])
    assert not torch.allclose(gain[0], gain[1]) and not torch.allclose(bias[0], bias[1])
    embeddings = [m for m in model.G.modules() if isinstance(m, nn.Embedding)]
    assert embeddings == [model.G.latent.shared_embedding]


def test_biggan_generator_block_is_cbn_relu_upsample_conv_plus_an_upsampled_shortcut() -> None:
    """BigGAN's up-block, written out: CBN ReLU up conv3x3 CBN ReLU conv3x3 + conv1x1(up(x)),
    both CBNs reading the block's conditioning vector."""
    torch.manual_seed(0)
    block = GBlock(4, 6, cond_dim=5)
    for norm in (block.bn1, block.bn2):
        nn.init.normal_(norm.gain.weight)
        nn.init.normal_(norm.bias.weight)
    x, cond = torch.randn(3, 4, 3, 3), torch.randn(3, 5)

    with torch.no_grad():
        h = block.conv1(nearest_up(F.relu(block.bn1(x, cond))))
        expected = block.conv2(F.relu(block.bn2(h, cond))) + block.shortcut(nearest_up(x))
        torch.testing.assert_close(block(x, cond), expected)


def test_biggan_hierarchical_latent_feeds_one_chunk_per_block() -> None:
    model = build("biggan")
    latent = model.G.latent
    assert latent.z_dim == latent.chunk * (len(model.G.blocks) + 1)
    z = torch.randn(2, latent.z_dim)
    labels = torch.tensor([1, 2])
    first, conds = latent(z, labels)
    z2 = z.clone()
    z2[:, 2 * latent.chunk : 3 * latent.chunk] += 1
    first2, conds2 = latent(z2, labels)
    assert torch.equal(first, first2) and torch.equal(conds[0], conds2[0]) and not torch.equal(conds[1], conds2[1])


def test_biggan_projection_discriminator_uses_the_label() -> None:
    model = build("biggan")
    assert isinstance(model.D.head, ProjectionHead) and has_spectral_norm(model.D.head.embed)
    x = torch.randn(1, 1, 32, 32).repeat(2, 1, 1, 1)
    out = model.D(x, torch.tensor([0, 5]))
    assert not torch.isclose(out[0], out[1])


def test_biggan_orthogonal_regularization_enters_the_generator_loss() -> None:
    grads = []
    for weight in (0.0, 0.5):
        model = build("biggan", ortho_weight=weight)
        torch.manual_seed(1)
        logs = model.generator_step(batch(SPEC32))
        assert float(logs["ortho"]) > 0
        grads.append(model.G.linear.parametrizations.weight.original.grad.clone())
    model = build("biggan")
    ortho = orthogonal_regularization(model.G)
    (expected,) = torch.autograd.grad(ortho, model.G.linear.parametrizations.weight.original)
    assert torch.allclose(grads[1] - grads[0], 0.5 * expected, rtol=1e-3, atol=1e-7)


def test_biggan_ema_differs_from_generator_and_samples() -> None:
    model = build("biggan", SPEC16)
    assert model.sampling_network is model.G_ema
    data = digits(16)
    train(model, data.x_train, data.y_train, TrainConfig(steps=6, batch_size=16))
    g = dict(model.G.named_parameters())
    differs = [not torch.equal(p, g[n]) for n, p in model.G_ema.named_parameters()]
    assert any(differs)


def test_biggan_ema_decay_warms_up_with_the_generator_steps() -> None:
    """The EMA's decay follows the warm-up by G steps: after step 0 the average is a copy of G,
    later it moves by ``1 - warmup_ema_decay(step)`` toward G; the paper's decay 0.9999 and
    orthogonal regularization weight 1e-4 are the defaults."""
    model = build("biggan")
    assert (model.config.ema_decay, model.config.ortho_weight) == (0.9999, 1e-4)
    model.generator_step(batch(SPEC32, step=0))
    assert model.ema_decay == 0.0
    model.update_ema()
    for ema, p in zip(model.G_ema.parameters(), model.G.parameters()):
        assert torch.equal(ema, p)
    model.generator_step(batch(SPEC32, step=400))
    decay = warmup_ema_decay(400, 0.9999)
    assert model.ema_decay == decay and 0.0 < decay < 0.99
    before = [p.clone() for p in model.G_ema.parameters()]
    model.update_ema()
    for old, ema, p in zip(before, model.G_ema.parameters(), model.G.parameters()):
        torch.testing.assert_close(ema, old + (1 - decay) * (p - old))


def test_biggan_short_training_generates_the_class_asked_for() -> None:
    before, after = conditional_accuracy_before_after(build("biggan", SPEC16, width=16), steps=250)
    print(f"biggan conditional accuracy {before:.2f} -> {after:.2f}")
    assert before < 0.2 and after >= 0.3


def test_biggan_truncation_reduces_sample_diversity() -> None:
    model = build("biggan")
    model.eval()
    labels = torch.zeros(64, dtype=torch.long)
    spread = {}
    for psi in (None, 0.3):
        out = model.generate(64, labels, torch.Generator().manual_seed(0), truncation=psi)
        spread[psi] = float(out.std(dim=0).mean())
    assert spread[0.3] < 0.7 * spread[None]


def test_ema_warmup_reaches_the_paper_decay() -> None:
    assert warmup_ema_decay(0, 0.999) == 0.0
    assert warmup_ema_decay(100, 0.999) < warmup_ema_decay(1000, 0.999) < 0.999
    assert warmup_ema_decay(10**6, 0.999) == pytest.approx(0.999)


# ----------------------------------------------------------------------------- ProGAN


def test_progan_growth_schedule_fades_each_level_in() -> None:
    levels = 4
    states = [growth_state(p / 1000, levels, 0.5) for p in range(1001)]
    assert states[0] == (0, 1.0) and states[-1] == (3, 1.0)
    assert [s[0] for s in states] == sorted(s[0] for s in states)
    for level in (1, 2, 3):
        alphas = [a for lv, a in states if lv == level and a < 1]
        assert alphas[0] < 0.05 and alphas[-1] > 0.95 and alphas == sorted(alphas)
    assert growth_state(0.5, levels, 0.5) == (3, 1.0)


def test_progan_discriminator_sees_growing_resolution() -> None:
    model = build("progan")
    seen: list[int] = []
    model.D.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[-1]))
    for progress in (0.0, 0.1, 0.2, 0.3, 0.45, 1.0):
        seen.clear()
        logs = model.discriminator_step(batch(SPEC32, progress=progress))
        level, _ = growth_state(progress, 4, model.config.growth_fraction)
        assert set(seen) == {int(logs["resolution"])} == {4 * 2**level}
    assert seen == [32, 32, 32]


@pytest.mark.parametrize("n_critic", [1, 2])
def test_progan_trainer_takes_n_critic_critic_steps_per_generator_step(n_critic: int) -> None:
    model = build("progan", SPEC16) if n_critic == 1 else build("progan", SPEC16, n_critic=n_critic)
    optimizers = model.configure_optimizers()
    assert optimizers["d"].param_groups[0]["lr"] == pytest.approx(3 * optimizers["g"].param_groups[0]["lr"])
    assert optimizers["g"].param_groups[0]["lr"] == pytest.approx(1e-3)
    calls: list[str] = []
    d_step, g_step = model.discriminator_step, model.generator_step
    model.discriminator_step = lambda b: calls.append("d") or d_step(b)
    model.generator_step = lambda b: calls.append("g") or g_step(b)
    x = torch.randint(0, 256, (16, 1, 16, 16), dtype=torch.uint8)
    train(model, x, torch.zeros(16, dtype=torch.long), TrainConfig(steps=3, batch_size=8, checkpoint_every=10**9))
    assert calls == (["d"] * n_critic + ["g"]) * 3


def test_progan_fade_mixes_paths_of_two_dtypes_in_the_new_levels() -> None:
    """Under CUDA autocast one path of a fade-in can be float32 and the other bf16."""
    mixed = fade(torch.ones(3), torch.zeros(3, dtype=torch.bfloat16), 0.25)
    assert mixed.dtype == torch.bfloat16 and torch.equal(mixed, torch.full((3,), 0.75, dtype=torch.bfloat16))


def test_progan_fade_in_starts_from_the_lower_level() -> None:
    model = build("progan")
    z = torch.randn(4, model.config.z_dim)
    low = model.G(z, 1, 1.0)
    assert low.shape[-1] == 8
    assert torch.allclose(model.G(z, 2, 0.0), F.interpolate(low, scale_factor=2), atol=1e-6)
    assert not torch.allclose(model.G(z, 2, 0.5), F.interpolate(low, scale_factor=2), atol=1e-3)
    x = torch.randn(4, 1, 16, 16)
    assert torch.allclose(model.D(x, 2, 0.0), model.D(F.avg_pool2d(x, 2), 1, 1.0), atol=1e-5)


def test_progan_training_run_grows_to_full_resolution_and_samples_at_it() -> None:
    model = build("progan", SPEC16)
    data = digits(16)
    outcome = train(model, data.x_train, data.y_train, TrainConfig(steps=12, batch_size=8))
    assert outcome.losses["resolution"] == 16 and outcome.losses["alpha"] == 1
    seen: list[int] = []
    model.G_ema.to_rgb[2].register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[-1]))
    assert model.sample(4).shape == (4, 1, 16, 16) and seen == [16]


def test_progan_equalized_learning_rate_scales_weights_at_run_time() -> None:
    conv = EqualizedConv2d(64, 32, 3, padding=1)
    assert abs(float(conv.weight.detach().std()) - 1) < 0.05
    x = torch.randn(2, 64, 8, 8)
    expected = F.conv2d(x, conv.weight * math.sqrt(2 / (64 * 9)), conv.bias, padding=1)
    assert torch.allclose(conv(x), expected, atol=1e-5)
    linear = EqualizedLinear(256, 8, lr_mul=0.01)
    ones = torch.ones(1, 256)
    assert torch.allclose(linear(ones), F.linear(ones, linear.weight * math.sqrt(2 / 256) * 0.01))
    model = build("progan")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert not convs


def test_pixel_norm_gives_unit_mean_square() -> None:
    out = PixelNorm()(torch.randn(4, 32, 5, 5) * 7)
    assert torch.allclose(out.pow(2).mean(dim=1), torch.ones(4, 5, 5), atol=1e-4)


def test_minibatch_stddev_appends_the_group_spread() -> None:
    layer = MinibatchStdDev(group_size=4)
    same = torch.ones(8, 3, 4, 4)
    out = layer(same)
    assert out.shape == (8, 4, 4, 4) and float(out[:, 3].abs().max()) < 1e-3
    assert float(layer(torch.randn(8, 3, 4, 4))[:, 3].mean()) > 0.5
    x = torch.randn(8, 6, 4, 4)
    spread = x.reshape(4, 2, 6, 4, 4).std(dim=0, unbiased=False).mean(dim=(1, 2, 3))
    torch.testing.assert_close(layer(x)[:, 6, 0, 0], spread.repeat(4), atol=1e-5, rtol=1e-4)
    model = build("progan")
    assert any(isinstance(m, MinibatchStdDev) for m in model.D.modules())


def test_progan_discriminator_loss_has_gradient_penalty_and_drift() -> None:
    grads = []
    for drift in (0.0, 1.0):
        model = build("progan", drift_weight=drift)
        torch.manual_seed(2)
        logs = model.discriminator_step(batch(SPEC32, progress=1.0))
        assert float(logs["gp"]) > 0 and float(logs["drift"]) > 0
        grads.append(model.D.final[-1].weight.grad.clone())
    model = build("progan")
    real = batch(SPEC32, progress=1.0).real
    (expected,) = torch.autograd.grad(drift_penalty(model.D(real, 3, 1.0)), model.D.final[-1].weight)
    assert model.config.gp_weight == 10 and model.config.drift_weight == 1e-3
    assert torch.allclose(grads[1] - grads[0], expected, rtol=1e-3, atol=1e-6)


def test_progan_critic_step_blends_the_reals_it_scores_during_a_fade_in() -> None:
    """In a fade-in the critic's real input is the blend of the real images at the new resolution
    with their nearest-upsampled halves (Sec. 2), at the step's own alpha."""
    model = build("progan")
    progress = 3.5 / 6 * model.config.growth_fraction  # half-way through the fade-in of 16x16
    level, alpha = growth_state(progress, 4, model.config.growth_fraction)
    assert (level, alpha) == (2, pytest.approx(0.5))
    seen: list[torch.Tensor] = []
    model.D.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    step = batch(SPEC32, progress=progress)
    model.discriminator_step(step)
    torch.testing.assert_close(seen[0], real_at(step.real, 16, alpha))
    assert not torch.allclose(seen[0], real_at(step.real, 16, 1.0), atol=1e-3)


def test_progan_blocks_double_by_nearest_neighbours_and_halve_by_averaging_around_two_3x3_convolutions() -> None:
    """Karras et al. 2018, Table 2: a G block is 2x nearest-neighbour upsampling and two 3x3
    convolutions; a D block two 3x3 convolutions and 2x2 average pooling; D's last block starts
    with minibatch standard deviation over groups of four (the authors' code)."""
    model = build("progan")
    assert len(model.G.blocks) == len(model.D.blocks) == 3
    for block in model.G.blocks:
        assert isinstance(block[0], nn.Upsample) and block[0].mode == "nearest" and block[0].scale_factor == 2
        assert [m.weight.shape[-1] for m in block if isinstance(m, EqualizedConv2d)] == [3, 3]
    for block in model.D.blocks:
        assert [m.weight.shape[-1] for m in block if isinstance(m, EqualizedConv2d)] == [3, 3]
        assert type(block[-1]) is nn.AvgPool2d and block[-1].kernel_size == 2
    assert isinstance(model.D.final[0], MinibatchStdDev) and model.D.final[0].group_size == 4


@pytest.mark.parametrize("name,decay", [("progan", 0.999), ("stylegan2", 0.998)])
def test_generator_steps_warm_the_ema_decay_up_to_the_papers(name: str, decay: float) -> None:
    """ProGAN averages G's weights with decay 0.999 (Appendix A.1); StyleGAN2 with a half-life of
    10k images at batch 32 (0.998); both warm up from a copy at the first step."""
    model = build(name, SPEC16)
    for step in (1, 10**5):
        model.generator_step(batch(SPEC16, n=4, step=step, progress=1.0))
        assert model.ema_decay == pytest.approx(warmup_ema_decay(step, decay), rel=1e-12)
    assert model.ema_decay == pytest.approx(decay, rel=1e-9)


# ----------------------------------------------------------------------------- StyleGAN2


def test_modulated_conv_demodulation_gives_unit_norm_weights() -> None:
    conv = ModulatedConv2d(8, 6, 3, w_dim=16)
    w = torch.randn(4, 16)
    weight = conv.modulated_weight(w)
    assert torch.allclose(weight.pow(2).sum(dim=(2, 3, 4)), torch.ones(4, 6), atol=1e-4)
    x = torch.randn(4, 8, 5, 5)
    grouped = F.conv2d(x.reshape(1, 32, 5, 5), weight.reshape(24, 8, 3, 3), padding=1, groups=4).reshape(4, 6, 5, 5)
    assert torch.allclose(conv(x, w), grouped, atol=1e-4)
    out = ModulatedConv2d(64, 64, 3, w_dim=16)(torch.randn(8, 64, 8, 8), torch.randn(8, 16))
    assert 0.7 < float(out.detach().std()) < 1.3


def test_stylegan2_uses_mapping_modulation_and_noise_everywhere() -> None:
    model = build("stylegan2")
    linears = [m for m in model.G.mapping.modules() if isinstance(m, EqualizedLinear)]
    assert len(linears) == 8 and all(m.lr_mul == 0.01 for m in linears)
    assert len([m for m in model.G.modules() if isinstance(m, NoiseInjection)]) == 7
    assert len([m for m in model.G.modules() if isinstance(m, ModulatedConv2d)]) == 7 + 4
    assert [m.group_size for m in model.D.modules() if isinstance(m, MinibatchStdDev)] == [4]


def test_stylegan2_noise_injection_changes_the_output() -> None:
    model = build("stylegan2")
    ws, _ = model.styles(2, 0.0)
    render = lambda seed: model.G(ws, torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(render(0), render(1))
    for m in model.G.modules():
        if isinstance(m, NoiseInjection):
            nn.init.constant_(m.strength, 0.5)
    assert not torch.allclose(render(0), render(1)) and torch.equal(render(0), render(0))


def test_stylegan2_style_mixing_switches_between_two_latents() -> None:
    model = build("stylegan2")
    num_ws = model.G.synthesis.num_ws
    ws, cutoff = model.styles(3, 1.0)
    assert 1 <= cutoff < num_ws
    assert torch.equal(ws[:, :cutoff], ws[:, :1].expand(-1, cutoff, -1))
    assert torch.equal(ws[:, cutoff:], ws[:, -1:].expand(-1, num_ws - cutoff, -1))
    assert not torch.allclose(ws[:, 0], ws[:, -1])
    ws, cutoff = model.styles(3, 0.0)
    assert cutoff == num_ws and torch.equal(ws, ws[:, :1].expand(-1, num_ws, -1))
    assert model.config.style_mixing == 0.9


def test_stylegan2_r1_is_applied_lazily() -> None:
    model = build("stylegan2", SPEC16)
    regularized = [k for k in range(34) if "r1" in model.discriminator_step(batch(SPEC16, n=4, step=k))]
    assert regularized == [0, 16, 32]
    c = model.config
    opt = model.configure_optimizers()["d"].param_groups[0]
    assert c.r1_gamma == 10 and opt["lr"] == pytest.approx(c.lr * 16 / 17)
    assert opt["betas"][1] == pytest.approx(0.99 ** (16 / 17))


def test_stylegan2_truncation_zero_gives_the_mean_w_image() -> None:
    model = build("stylegan2")
    with torch.no_grad():
        model.G.mapping.w_avg.normal_()
        model.update_ema()
    model.eval()
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    images = model.generate(4, None, gen(), truncation=0.0)
    mean_ws = model.G_ema.mapping.w_avg.expand(4, model.G.synthesis.num_ws, -1)
    assert torch.allclose(images, model.G_ema(mean_ws), atol=1e-5)
    assert torch.allclose(images[0], images[3], atol=1e-5)
    spread = lambda psi: float(model.generate(16, None, gen(), truncation=psi).std(0).mean())  # noqa: E731
    assert spread(0.5) < spread(1.0)


def test_stylegan2_ema_and_w_avg_follow_training() -> None:
    model = build("stylegan2", SPEC16)
    data = digits(16)
    train(model, data.x_train, data.y_train, TrainConfig(steps=4, batch_size=8))
    assert float(model.G.mapping.w_avg.abs().sum()) > 0
    assert torch.equal(model.G_ema.mapping.w_avg, model.G.mapping.w_avg)
    g = dict(model.G.named_parameters())
    assert any(not torch.equal(p, g[n]) for n, p in model.G_ema.named_parameters())


def test_stylegan2_mapping_pixel_normalises_z_then_applies_a_leaky_relu_after_every_layer() -> None:
    """w = f_L(... f_1(z / rms(z))), f_i(h) = leaky_relu(A_i h + b_i, 0.2) (StyleGAN, Sec. 2)."""
    torch.manual_seed(0)
    mapping = MappingNetwork(6, 5, 3, 0.01)
    layers = [m for m in mapping.modules() if isinstance(m, EqualizedLinear)]
    assert len(layers) == 3
    with torch.no_grad():
        for layer in layers:
            layer.bias.uniform_(-50, 50)
        z = 3 * torch.randn(4, 6)
        h = z / z.pow(2).mean(dim=1, keepdim=True).sqrt()
        for layer in layers:
            h = F.leaky_relu(layer(h), 0.2)
        torch.testing.assert_close(mapping(z), h)


def test_stylegan2_synthesis_layer_is_a_sqrt2_scaled_leaky_relu_of_convolution_plus_noise_plus_bias() -> None:
    """x' = sqrt(2) leaky_relu(conv_w(x) + strength * noise + b, 0.2), one noise map shared by the channels."""
    torch.manual_seed(0)
    layer = SynthesisLayer(4, 3, 5)
    with torch.no_grad():
        layer.bias.uniform_(-1, 1)
        layer.noise.strength.fill_(0.7)
        x, w = torch.randn(2, 4, 6, 6), torch.randn(2, 5)
        noise = torch.randn(2, 1, 6, 6, generator=torch.Generator().manual_seed(1))
        expected = math.sqrt(2) * F.leaky_relu(layer.conv(x, w) + 0.7 * noise + layer.bias.view(1, 3, 1, 1), 0.2)
        torch.testing.assert_close(layer(x, w, torch.Generator().manual_seed(1)), expected)


def test_stylegan2_image_sums_the_bilinearly_upsampled_to_rgb_outputs_of_every_level() -> None:
    """The skip generator of Fig. 7: rgb <- up(rgb) + to_rgb(x) at each level; to_rgb is a modulated
    1x1 convolution without demodulation, plus a bias."""
    model = build("stylegan2", SPEC16)
    synthesis = model.G.synthesis
    outputs: list[torch.Tensor] = []
    for to_rgb in synthesis.to_rgb:
        to_rgb.register_forward_hook(lambda m, args, out: outputs.append(out))
    with torch.no_grad():
        for to_rgb in synthesis.to_rgb:
            to_rgb.bias.uniform_(-1, 1)
        image = synthesis(torch.randn(2, synthesis.num_ws, model.config.w_dim))
        expected = outputs[0]
        for out in outputs[1:]:
            expected = F.interpolate(expected, scale_factor=2, mode="bilinear", align_corners=False) + out
        assert len(outputs) == 3
        torch.testing.assert_close(image, expected)
        to_rgb = synthesis.to_rgb[1]
        x, w = torch.randn(2, to_rgb.conv.weight.shape[1], 8, 8), torch.randn(2, model.config.w_dim)
        styles = to_rgb.conv.affine(w)
        linear = F.conv2d(x * styles[:, :, None, None], to_rgb.conv.weight * to_rgb.conv.scale)
        torch.testing.assert_close(to_rgb(x, w), linear + to_rgb.bias.view(1, -1, 1, 1))


def test_stylegan2_each_convolution_reads_its_own_w_and_each_to_rgb_the_one_after_its_level() -> None:
    """With one w per layer, convolution k reads w_k and the to_rgb of level l reads w_{2l+1}, the
    w after its level's last convolution (the authors' code), so num_ws = convolutions + 1."""
    model = build("stylegan2", SPEC16)
    synthesis = model.G.synthesis
    seen: dict[str, torch.Tensor] = {}
    for name, module in synthesis.named_modules():
        if isinstance(module, SynthesisLayer | ToRGB):
            module.register_forward_pre_hook(lambda m, args, name=name: seen.__setitem__(name, args[1]))
    assert synthesis.num_ws == len(synthesis.convs) + 1 == 6
    ws = torch.randn(2, synthesis.num_ws, model.config.w_dim)
    with torch.no_grad():
        synthesis(ws)
    for k in range(len(synthesis.convs)):
        assert torch.equal(seen[f"convs.{k}"], ws[:, k]), k
    for level in range(len(synthesis.to_rgb)):
        assert torch.equal(seen[f"to_rgb.{level}"], ws[:, 2 * level + 1]), level


def test_stylegan2_discriminator_block_adds_a_pooled_1x1_skip_and_divides_by_sqrt2() -> None:
    """The residual D of Fig. 7(c): (pool(lrelu(conv2(lrelu(conv1(x))))) + skip(pool(x))) / sqrt(2)."""
    torch.manual_seed(0)
    block = DiscriminatorBlock(4, 6)
    with torch.no_grad():
        block.conv1.bias.uniform_(-1, 1)
        block.conv2.bias.uniform_(-1, 1)
        x = torch.randn(2, 4, 8, 8)
        h = F.leaky_relu(block.conv1(x), 0.2)
        h = F.avg_pool2d(F.leaky_relu(block.conv2(h), 0.2), 2)
        torch.testing.assert_close(block(x), (h + block.skip(F.avg_pool2d(x, 2))) / math.sqrt(2))
    assert block.skip.weight.shape[-1] == 1 and block.skip.bias is None


def test_stylegan2_mixes_nine_batches_in_ten_switching_after_any_layer_but_the_last_alike() -> None:
    """Style mixing: with probability 0.9 the second latent takes over at a layer drawn uniformly
    from 1 .. num_ws - 1."""
    model = build("stylegan2", SPEC16)
    num_ws = model.G.synthesis.num_ws
    cutoffs = [model.styles(1, 0.9, torch.Generator().manual_seed(seed))[1] for seed in range(600)]
    mixed = [c for c in cutoffs if c < num_ws]
    assert 0.87 < len(mixed) / len(cutoffs) < 0.93
    counts = [mixed.count(c) for c in range(1, num_ws)]
    assert sum(counts) == len(mixed) and min(counts) > 0.7 * len(mixed) / (num_ws - 1)


def test_stylegan2_samples_use_one_w_per_image_without_mixing() -> None:
    """Mixing regularises training only: each sampled image is rendered from one latent at every layer."""
    model = build("stylegan2", SPEC16)
    seen: list[torch.Tensor] = []
    model.G_ema.synthesis.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    with torch.no_grad():
        for seed in range(5):
            model.generate(3, None, torch.Generator().manual_seed(seed))
    assert len(seen) == 5
    assert all(torch.equal(ws, ws[:, :1].expand_as(ws)) for ws in seen)


# ----------------------------------------------------------------------------- training lowers FID


# (resolution, steps, FID ratio to beat); StyleGAN2's smooth untrained samples already score a low
# FID (47 -> 38 at 16x16 in 150 steps, one thread), and so do ProGAN's at 16x16, where its growth
# has one level less to show, and BigGAN's, whose untrained EMA samples with standing BatchNorm
# statistics score 96 here (183 with G's initial ones)
SHORT_RUNS = {"sagan": (16, 150, 0.6), "biggan": (16, 80, 0.7), "progan": (32, 150, 0.6), "stylegan2": (16, 150, 0.85)}


@pytest.mark.parametrize("name", sorted(SHORT_RUNS))
def test_short_training_lowers_fid(name: str) -> None:
    resolution, steps, ratio = SHORT_RUNS[name]
    model = build(name, DataSpec("image", 1, resolution, 10), width=16)
    before, after = fid_before_after(model, steps=steps, batch_size=16)
    print(f"{name}: FID {before:.1f} -> {after:.1f} ({after / before:.2f})")
    assert after < ratio * before, (before, after)
