"""Details of SNGAN, SAGAN, CycleGAN, AC-GAN, InfoGAN and BigGAN that their papers state, and
the shared model contract's schedule and size helpers, each checked on tiny networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import Batch, DataSpec, GenerativeModel, create_generator
from ganbench.generators.base import set_learning_rate
from ganbench.generators.biggan import attention_side
from ganbench.generators.layers import SelfAttention, has_spectral_norm
from ganbench.generators.sngan import sngan_channels

SPEC16 = DataSpec("image", 1, 16, 10)


def build(name: str, spec: DataSpec = SPEC16, width: int = 8, **overrides: object) -> GenerativeModel:
    torch.manual_seed(0)
    return create_generator(name, spec, preset_width=width, **overrides)


def images(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def conv_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]


def assert_normal_002(module: nn.Module) -> None:
    """Every convolution and dense layer drawn from N(0, 0.02) with zero biases."""
    layers = conv_layers(module)
    assert layers
    for layer in layers:
        assert abs(float(layer.weight.detach().std()) - 0.02) < 0.006, layer
        assert layer.bias is None or not layer.bias.detach().any(), layer


# ----------------------------------------------------------------------------- SNGAN


def test_sngan_generator_normalises_its_dense_map_and_halves_channels_from_8w() -> None:
    """Miyato et al. 2018, Table 3 (b): dense -> 4x4x512, BatchNorm, ReLU, then deconvolutions to
    256, 128 and 64 channels at 32 px (width 64); larger images keep 512 at the low-resolution end."""
    assert sngan_channels(64, 32) == [512, 256, 128, 64]
    assert sngan_channels(64, 128) == [512, 512, 512, 256, 128, 64]
    model = build("sngan", DataSpec("image", 3, 32, 10))
    first, second = list(model.G.net)[:2]
    assert isinstance(first, nn.BatchNorm2d) and first.num_features == 64 and isinstance(second, nn.ReLU)
    assert [m.out_channels for m in model.G.net if isinstance(m, nn.ConvTranspose2d)] == [32, 16, 8]


# ----------------------------------------------------------------------------- SAGAN


def test_sagan_generator_head_is_bn_relu_conv3x3_tanh() -> None:
    """SNGAN's ResNet generator ends, after its last up-block, in BN, ReLU, a 3x3 conv to the image and tanh."""
    head = list(build("sagan").G.out)
    assert len(head) == 4
    assert isinstance(head[0], nn.BatchNorm2d) and isinstance(head[1], nn.ReLU)
    assert isinstance(head[2], nn.Conv2d) and head[2].kernel_size == (3, 3) and isinstance(head[3], nn.Tanh)


# ----------------------------------------------------------------------------- CycleGAN


def test_cyclegan_discriminators_use_instance_norm_and_all_nets_start_gaussian() -> None:
    """Zhu et al. 2017, Appendix 7.2: both PatchGANs normalise with instance norm, no BatchNorm;
    every network's weights start from N(0, 0.02) with zero biases."""
    model = build("cyclegan", n_blocks=1)
    for net in (model.D_A, model.D_B):
        assert any(isinstance(m, nn.InstanceNorm2d) for m in net.modules())
        assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    for net in (model.G_AB, model.G_BA, model.D_A, model.D_B):
        assert_normal_002(net)


def test_cyclegan_translates_with_the_generator_into_each_asked_domain() -> None:
    """Target domain 1 (B) is G_AB's output, target 0 (A) G_BA's; without targets every image goes to B."""
    model = build("cyclegan", n_blocks=1).eval()
    x, targets = images(4), torch.tensor([1, 0, 1, 0])
    with torch.no_grad():
        out = model.translate_float(x, targets)
        torch.testing.assert_close(out[targets == 1], model.G_AB(x[targets == 1]))
        torch.testing.assert_close(out[targets == 0], model.G_BA(x[targets == 0]))
        torch.testing.assert_close(model.translate_float(x, None), model.G_AB(x))


def test_cyclegan_discriminators_judge_their_own_domains_reals_and_fakes() -> None:
    """D_A compares real A images with G_BA's translations of B into A, D_B real B with G_AB(A);
    each domain's history pool collects that domain's fakes."""
    model = build("cyclegan", n_blocks=1)
    model.configure_optimizers()
    a, b = images(4, seed=1), images(4, seed=2)
    with torch.no_grad():
        fake_a, fake_b = model.G_BA(b), model.G_AB(a)
    seen: dict[str, list[torch.Tensor]] = {"A": [], "B": []}
    for domain, net in (("A", model.D_A), ("B", model.D_B)):
        net.register_forward_pre_hook(lambda m, args, domain=domain: seen[domain].append(args[0].detach()))
    model.discriminator_step(Batch(b, torch.ones(4, dtype=torch.long), 0, source=a))
    for (real, fake), want_real, want_fake in ((seen["A"], a, fake_a), (seen["B"], b, fake_b)):
        torch.testing.assert_close(real, want_real)
        torch.testing.assert_close(fake, want_fake)
    torch.testing.assert_close(model.pool_a.images[:4], fake_a)
    torch.testing.assert_close(model.pool_b.images[:4], fake_b)


# ----------------------------------------------------------------------------- AC-GAN


def test_acgan_generator_reads_100_noise_dimensions_then_the_one_hot_class() -> None:
    """Odena et al. 2017: G's input is 110-dimensional for 10 classes, 100 noise values then the class."""
    model = build("acgan", width=4)
    labels = torch.tensor([0, 4, 9])
    latent = model.condition(model.noise(3), labels)
    assert latent.shape == (3, 110)
    torch.testing.assert_close(latent[:, 100:], F.one_hot(labels, 10).float())
    assert model.G(latent).shape == (3, 1, 16, 16)


def test_acgan_networks_start_from_dcgans_normal_002_weights() -> None:
    """G, D's trunk and both heads start from N(0, 0.02) with zero biases."""
    model = build("acgan", width=4)
    assert_normal_002(model.G)
    assert_normal_002(model.D)


# ----------------------------------------------------------------------------- InfoGAN


def test_infogan_q_is_one_normalised_hidden_layer_and_d_is_leaky_0_1() -> None:
    """Chen et al. 2016, Table 1 (MNIST): Q is FC 128 (2 width), BatchNorm, LeakyReLU 0.1 and an output
    layer for the 10 categories and 2 continuous codes; every LeakyReLU of D and Q has slope 0.1."""
    model = build("infogan")
    q = list(model.Q.net)
    assert [type(layer) for layer in q] == [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU, nn.Linear]
    assert q[0].out_features == 16 and q[1].num_features == 16 and q[3].out_features == 12
    slopes = [m.negative_slope for net in (model.D, model.Q) for m in net.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(slopes) == 4 and set(slopes) == {0.1}


# ----------------------------------------------------------------------------- BigGAN


def test_biggan_generator_normalises_every_layer_but_the_shared_embedding() -> None:
    """Brock et al. 2019: spectral normalisation in G too, on every convolution and dense layer
    (the conditional BatchNorms' projections included); the shared class embedding stays plain."""
    model = build("biggan", width=4)
    layers = [m for m in model.G.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(has_spectral_norm(m) for m in layers)
    assert not has_spectral_norm(model.G.latent.shared_embedding)


def attention_inputs(module: nn.Module) -> list[int]:
    sizes: list[int] = []
    for sub in module.modules():
        if isinstance(sub, SelfAttention):
            sub.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[-1]))
    return sizes


def test_biggan_attention_follows_the_block_reaching_half_the_side_from_64_px() -> None:
    """No non-local block up to 32 px (the paper's CIFAR-10 networks); from 64 px one on the maps of
    half the image side, never above 64x64; in a 64 px model G and D attend on their 32x32 maps."""
    assert [attention_side(side) for side in (16, 32, 64, 128, 256, 512)] == [None, None, 32, 64, 64, 64]
    model = build("biggan", DataSpec("image", 1, 64, 10), width=4)
    g_sizes, d_sizes = attention_inputs(model.G), attention_inputs(model.D)
    labels = torch.tensor([1, 2])
    with torch.no_grad():
        model.D(model.G(torch.randn(2, model.G.latent.z_dim), labels), labels)
    assert g_sizes == [32] and d_sizes == [32]


def test_biggan_discriminator_step_minimises_the_hinge_loss() -> None:
    """D's loss is E[relu(1 - D(x, y))] + E[relu(1 + D(G(z), y'))]."""
    model = build("biggan", width=4)
    model.configure_optimizers()
    outputs: list[torch.Tensor] = []
    model.D.register_forward_hook(lambda m, args, out: outputs.append(out.detach()))
    losses: list[torch.Tensor] = []
    model.optimize = lambda optimizer, loss: losses.append(loss.detach())  # type: ignore[method-assign]
    model.discriminator_step(Batch(images(4), torch.arange(4), 0))
    real, fake = outputs
    torch.testing.assert_close(losses[0], F.relu(1 - real).mean() + F.relu(1 + fake).mean())


# ----------------------------------------------------------------------------- the model contract


def test_a_schedule_sets_every_parameter_group_of_every_optimizer() -> None:
    """``set_learning_rate`` reaches every group, not only the first of each optimizer."""
    w = [nn.Parameter(torch.zeros(1)) for _ in range(3)]
    sgd = torch.optim.SGD([{"params": [w[0]]}, {"params": [w[1]], "lr": 0.5}], lr=0.1)
    adam = torch.optim.Adam([w[2]], lr=0.1)
    set_learning_rate(0.01, sgd, adam)
    assert [group["lr"] for opt in (sgd, adam) for group in opt.param_groups] == [0.01] * 3


def test_parameter_count_leaves_out_the_ema_copy() -> None:
    """A model's size is its trained networks' parameters; the EMA copy of G is not counted twice."""
    model = build("biggan", width=4)
    assert model.ema_decay is not None
    expected = sum(p.numel() for net in (model.G, model.D) for p in net.parameters())
    assert model.parameter_count() == expected
