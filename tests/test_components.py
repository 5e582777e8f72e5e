"""Each variant's training step against its paper's objective, computed independently.

A step's loss is recorded instead of minimised (``optimize`` is replaced by a recorder) and the
networks' inputs and outputs are recorded by forward hooks; the test then rebuilds the paper's
objective from those outputs and compares. Regularizers that need an input (gradient penalty,
R1) are recomputed at the recorded input, and interpolates are checked to lie between the real
and the fake image they mix.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import Batch, DataSpec, GenerativeModel, create_generator
from ganbench.generators.ema import warmup_ema_decay
from ganbench.generators.layers import ModulatedConv2d
from ganbench.generators.progan import ProGANConfig
from ganbench.generators.translation_blocks import HistoryPool

SPEC = DataSpec("image", 1, 16, 10)
LABELS = torch.arange(8) % 10




class Calls:
    """The positional inputs and the outputs of every forward pass of a module, in order."""

    def __init__(self, module: nn.Module) -> None:
        self.inputs: list[tuple] = []
        self.outputs: list = []
        module.register_forward_hook(self.record)

    def record(self, module: nn.Module, args: tuple, output: object) -> None:
        self.inputs.append(args)
        self.outputs.append(output)


def recorded_losses(model: GenerativeModel) -> list[torch.Tensor]:
    """Replace the model's update by a recorder: each step's loss is kept, nothing is minimised."""
    losses: list[torch.Tensor] = []
    model.optimize = lambda optimizer, loss: losses.append(loss)  # type: ignore[method-assign]
    return losses


def build(name: str, **overrides: object) -> GenerativeModel:
    torch.manual_seed(0)
    model = create_generator(name, SPEC, **overrides)
    model.configure_optimizers()
    return model


def images(n: int = 8, size: int = 16, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=gen) * 2 - 1


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1)


def bce_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-E[log sigmoid(D(x))] - E[log(1 - sigmoid(D(G(z))))]."""
    return F.softplus(-flat(real)).mean() + F.softplus(flat(fake)).mean()


def bce_g(fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating -E[log sigmoid(D(G(z)))]."""
    return F.softplus(-flat(fake)).mean()


def least_squares_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (flat(real) - 1).pow(2).mean() + 0.5 * flat(fake).pow(2).mean()


def least_squares_g(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (flat(fake) - 1).pow(2).mean()


def wasserstein_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return flat(fake).mean() - flat(real).mean()


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return torch.clamp(1 - flat(real), min=0).mean() + torch.clamp(1 + flat(fake), min=0).mean()


def critic_g(fake: torch.Tensor) -> torch.Tensor:
    return -flat(fake).mean()


def cross_entropy(logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    return -torch.log_softmax(logits.float(), dim=1)[torch.arange(len(classes)), classes].mean()


def assert_on_segments(mixed: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> None:
    """Every row of ``mixed`` is ``a * real + (1 - a) * fake`` for some a in [0, 1], a varying by row."""
    direction = (real - fake).flatten(1)
    alpha = ((mixed - fake).flatten(1) * direction).sum(1) / direction.pow(2).sum(1)
    shape = (-1, *([1] * (real.dim() - 1)))
    torch.testing.assert_close(mixed, alpha.view(shape) * real + (1 - alpha.view(shape)) * fake)
    alpha = alpha.detach()
    assert float(alpha.min()) >= -1e-5 and float(alpha.max()) <= 1 + 1e-5
    assert float(alpha.std()) > 0.1, "interpolates must be random mixtures, not the real or the fake images"


def penalty_at(critic: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor) -> torch.Tensor:
    """E[(||grad critic(x)|| - 1)^2] at the given points."""
    x = points.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


# ----------------------------------------------------------------------------- noise-to-image GANs

NOISE_VARIANTS: dict[str, tuple[str, Callable, Callable]] = {
    "gan": ("head", bce_d, bce_g),
    "dcgan": ("head", bce_d, bce_g),
    "cgan": ("head", bce_d, bce_g),
    "lsgan": ("head", least_squares_d, least_squares_g),
    "wgan": ("head", wasserstein_d, critic_g),
    "sngan": ("head", hinge_d, critic_g),
    "sagan": ("linear", hinge_d, critic_g),
}


@pytest.mark.parametrize("name", list(NOISE_VARIANTS))
def test_noise_gan_steps_minimise_their_papers_losses(name: str) -> None:
    output_layer, d_loss, g_loss = NOISE_VARIANTS[name]
    model = build(name, width=8)
    outputs = Calls(getattr(model.D, output_layer))
    losses = recorded_losses(model)
    batch = Batch(images(), LABELS, 0)
    model.discriminator_step(batch)
    model.generator_step(batch)
    real, fake, fake_for_g = outputs.outputs
    torch.testing.assert_close(losses[0], d_loss(real, fake))
    torch.testing.assert_close(losses[1], g_loss(fake_for_g))


@pytest.mark.parametrize("name", ["gan", "lsgan", "sngan", "sagan"])
def test_noise_gan_critic_judges_the_batch_and_g_of_as_many_standard_normal_latents(name: str) -> None:
    """D's update sees the real batch and G(z) for one latent per real image, z ~ N(0, I) drawn
    from the stream it is given."""
    model = build(name, width=8)
    generator, critic = Calls(model.G), Calls(model.D)
    recorded_losses(model)
    batch = Batch(images(), LABELS, 0)
    model.discriminator_step(batch)
    ((z,),), ((real,), (fake,)) = generator.inputs, critic.inputs
    assert z.shape == (len(batch.real), model.config.z_dim)
    assert torch.equal(real, batch.real) and torch.equal(fake, generator.outputs[0])
    drawn = model.noise(5, torch.Generator().manual_seed(7))
    assert torch.equal(drawn, torch.randn(5, model.config.z_dim, generator=torch.Generator().manual_seed(7)))


@pytest.mark.parametrize("name", list(NOISE_VARIANTS))
def test_noise_gan_updates_move_their_own_player_only(name: str) -> None:
    """D's update changes D's parameters and not G's; G's update, taken through D, changes G's and not D's."""
    model = build(name, width=8)
    batch = Batch(images(), LABELS, 0)

    def snapshot(network: nn.Module) -> list[torch.Tensor]:
        return [p.detach().clone() for p in network.parameters()]

    def moved(before: list[torch.Tensor], network: nn.Module) -> bool:
        return any(not torch.equal(a, b) for a, b in zip(before, network.parameters()))

    g, d = snapshot(model.G), snapshot(model.D)
    model.discriminator_step(batch)
    assert moved(d, model.D) and not moved(g, model.G)
    g, d = snapshot(model.G), snapshot(model.D)
    model.generator_step(batch)
    assert moved(g, model.G) and not moved(d, model.D)


def test_wgan_clips_every_critic_parameter_to_plus_minus_001() -> None:
    model = build("wgan", width=8)
    model.discriminator_step(Batch(images(), LABELS, 0))
    values = torch.cat([p.detach().flatten() for p in model.D.parameters()])
    assert float(values.abs().max()) == pytest.approx(0.01)


def test_wgan_gp_critic_loss_penalises_gradients_at_interpolates() -> None:
    model = build("wgan-gp", width=8)
    critic = Calls(model.D)
    losses = recorded_losses(model)
    model.discriminator_step(Batch(images(), LABELS, 0))
    (real,), (fake,), (mixed,) = critic.inputs
    real_out, fake_out, _ = critic.outputs
    assert_on_segments(mixed, real, fake)
    expected = wasserstein_d(real_out, fake_out) + 10 * penalty_at(model.D, mixed)
    torch.testing.assert_close(losses[0], expected)


def test_infogan_both_players_add_the_mutual_information_term() -> None:
    model = build("infogan", width=8)
    generator, head, q, trunk = Calls(model.G), Calls(model.D.head), Calls(model.Q), Calls(model.D.trunk)
    losses = recorded_losses(model)
    batch = Batch(images(), LABELS, 0)
    model.discriminator_step(batch)
    model.generator_step(batch)
    info = []
    for (latent,), (logits, means) in zip(generator.inputs, q.outputs):
        codes, continuous = latent[:, 62:72].argmax(1), latent[:, 72:]
        info.append(cross_entropy(logits, codes) + 0.1 * 0.5 * (means - continuous).pow(2).sum(1).mean())
    real, fake, fake_for_g = head.outputs
    torch.testing.assert_close(losses[0], bce_d(real, fake) + info[0])
    torch.testing.assert_close(losses[1], bce_g(fake_for_g) + info[1])
    # Q reads the features of the fakes (the back half of D's joint batch), never of the reals
    torch.testing.assert_close(q.inputs[0][0], trunk.outputs[0][len(batch.real) :])


def test_infogan_latent_is_noise_a_one_hot_code_and_uniform_continuous_codes() -> None:
    model = build("infogan", width=8)
    latent, codes, continuous = model.latent(2000)
    assert latent.shape == (2000, 62 + 10 + 2)
    torch.testing.assert_close(latent[:, 62:72], F.one_hot(codes, 10).float())
    assert set(codes.tolist()) == set(range(10))
    assert float(continuous.min()) < -0.95 and float(continuous.max()) > 0.95
    assert float(continuous.abs().max()) <= 1.0


def test_infogan_information_term_is_weighted_per_code_and_overall() -> None:
    """L_I = info_weight * (cross-entropy of the categorical code + continuous_weight * the
    Gaussian NLL of the continuous codes), each weight taken from the config."""
    model = build("infogan", width=8, info_weight=3.0, continuous_weight=0.5)
    latent, codes, continuous = model.latent(8, generator=torch.Generator().manual_seed(2))
    features = model.D.features(model.G(latent))
    logits, means = model.Q(features)
    expected = 3.0 * (cross_entropy(logits, codes) + 0.5 * 0.5 * (means - continuous).pow(2).sum(1).mean())
    torch.testing.assert_close(model.information_loss(features, codes, continuous), expected)


def test_infogan_normalises_reals_and_fakes_as_one_batch() -> None:
    """D's trunk ends in BatchNorm; in training mode the real and the fake half are normalised
    together, so each half's features are those of the joint batch, not of the half alone."""
    model = build("infogan", width=8)
    real, fake = images(seed=1), images(seed=2) * 0.5
    real_features, fake_features = model.joint_features(real, fake, 0)
    together = model.D.features(torch.cat([real, fake]))
    torch.testing.assert_close(real_features, together[: len(real)])
    torch.testing.assert_close(fake_features, together[len(real) :])
    assert not torch.allclose(real_features, model.D.features(real), atol=1e-3)


def test_infogan_sample_fixes_the_categorical_code_it_is_given() -> None:
    """``sample(n, labels=codes)`` feeds G the one-hot of exactly those codes."""
    model = build("infogan", width=8)
    generator = Calls(model.G)
    codes = torch.tensor([7, 7, 0, 3, 9])
    model.sample(5, labels=codes, seed=0, batch_size=2)
    latent = torch.cat([args[0] for args in generator.inputs])
    assert torch.equal(latent[:, 62:72], F.one_hot(codes, 10).float())


def test_infogan_updates_move_their_own_player_only() -> None:
    """D's update moves D and Q and not G; G's update, taken through D and Q, moves G and not D or Q."""
    model = build("infogan", width=8)
    batch = Batch(images(), LABELS, 0)
    players = {"G": model.G, "D": model.D, "Q": model.Q}

    def step_moves(step: Callable[[Batch], object]) -> set[str]:
        before = {name: [p.detach().clone() for p in net.parameters()] for name, net in players.items()}
        step(batch)
        return {name for name, net in players.items()
                if any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters()))}

    assert step_moves(model.discriminator_step) == {"D", "Q"}
    assert step_moves(model.generator_step) == {"G"}


def test_cgan_both_players_see_the_labels_of_the_real_batch() -> None:
    """G draws each fake from [z, onehot(y)] and D judges reals and fakes as [x, onehot(y)], with
    y the real batch's labels, in D's update and in G's."""
    model = build("cgan", width=8)
    generator, trunk = Calls(model.G), Calls(model.D.trunk)
    recorded_losses(model)
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    batch = Batch(images(), labels, 0)
    model.discriminator_step(batch)
    model.generator_step(batch)
    one_hot = F.one_hot(labels, 10).float()
    assert len(generator.inputs) == 2 and len(trunk.inputs) == 3
    for (latent,) in generator.inputs:
        assert torch.equal(latent[:, model.config.z_dim :], one_hot)
    (real,), (fake,), (fake_for_g,) = trunk.inputs
    assert torch.equal(real, torch.cat([batch.real.flatten(1), one_hot], dim=1))
    assert torch.equal(fake, torch.cat([generator.outputs[0].flatten(1), one_hot], dim=1))
    assert torch.equal(fake_for_g, torch.cat([generator.outputs[1].flatten(1), one_hot], dim=1))


# ----------------------------------------------------------------------------- sampling (the base class)


def test_chunked_sampling_gives_each_chunk_its_own_labels() -> None:
    """In batches of 2, the second chunk is drawn with labels 2 and 3 of the list, not 0 and 1 again."""
    model = build("cgan", width=8)
    mixed = model.sample(4, labels=torch.tensor([3, 3, 7, 7]), seed=0, batch_size=2)
    threes = model.sample(4, labels=torch.full((4,), 3), seed=0, batch_size=2)
    assert mixed.shape == (4, 1, 16, 16)
    assert torch.equal(mixed[:2], threes[:2]) and not torch.equal(mixed[2:], threes[2:])


def test_a_sample_follows_its_seed() -> None:
    """One seed gives the same images every time; another seed, other images."""
    model = build("infogan", width=8)
    first = model.sample(4, seed=3)
    assert torch.equal(first, model.sample(4, seed=3)) and not torch.equal(first, model.sample(4, seed=4))

def test_sampling_runs_the_networks_in_eval_mode_and_restores_the_mode() -> None:
    """Every chunk is generated in eval mode (BatchNorm on its running statistics); the model
    leaves ``sample`` in the mode it entered with."""
    model = build("infogan", width=8)
    modes: list[bool] = []
    model.G.register_forward_hook(lambda module, args, output: modes.append(module.training))
    model.train()
    assert model.sample(5, seed=0, batch_size=2).shape == (5, 1, 16, 16)
    assert modes == [False, False, False] and model.training and model.G.training
    model.eval()
    model.sample(2, seed=0)
    assert not model.training and not model.G.training


def test_conditional_sampling_defaults_to_balanced_labels_and_codes() -> None:
    """Without labels, a conditional variant samples the classes 0..K-1 in turn, and an InfoGAN is
    evaluated on its code values in turn."""
    cgan, infogan = build("cgan", width=8), build("infogan", width=8)
    assert torch.equal(cgan.default_labels(25), torch.arange(25) % 10)
    labels, codes = cgan.evaluation_conditions(20)
    assert torch.equal(labels, torch.arange(20) % 10) and codes is None
    assert torch.equal(cgan.sample(12, seed=1), cgan.sample(12, labels=torch.arange(12) % 10, seed=1))
    labels, codes = infogan.evaluation_conditions(20)
    assert labels is None and torch.equal(codes, torch.arange(20) % 10)


# ----------------------------------------------------------------------------- ProGAN, StyleGAN2


def test_progan_critic_loss_is_wasserstein_plus_penalty_at_interpolates_plus_drift() -> None:
    assert (ProGANConfig.gp_weight, ProGANConfig.drift_weight) == (10.0, 1e-3)
    model = build("progan", width=8, drift_weight=1.0)  # at 1e-3 the drift term is below float32 resolution
    critic = Calls(model.D)
    losses = recorded_losses(model)
    batch = Batch(images(), LABELS, 0, progress=1.0)
    model.discriminator_step(batch)
    model.generator_step(batch)
    (real, level, alpha), (fake, _, _), (mixed, _, _), _ = critic.inputs
    real_out, fake_out, _, fake_for_g = critic.outputs
    assert_on_segments(mixed, real, fake)
    penalty = penalty_at(lambda x: model.D(x, level, alpha), mixed)
    expected = wasserstein_d(real_out, fake_out) + 10 * penalty + real_out.pow(2).mean()
    torch.testing.assert_close(losses[0], expected)
    torch.testing.assert_close(losses[1], critic_g(fake_for_g))


def test_stylegan2_discriminator_adds_r1_every_sixteen_steps_scaled_by_the_interval() -> None:
    model = build("stylegan2", width=8)
    critic = Calls(model.D)
    losses = recorded_losses(model)
    for step in (0, 1):
        model.discriminator_step(Batch(images(seed=step), LABELS, step))
    (real,), _, _, _ = critic.inputs
    real_out, fake_out, real_out_1, fake_out_1 = critic.outputs
    (grad,) = torch.autograd.grad(real_out.sum(), real, retain_graph=True)
    r1 = grad.flatten(1).pow(2).sum(1).mean()
    assert float(r1) > 1e-3
    torch.testing.assert_close(losses[0], bce_d(real_out, fake_out) + 10 / 2 * 16 * r1)
    torch.testing.assert_close(losses[1], bce_d(real_out_1, fake_out_1))


def test_stylegan2_generator_minimises_the_non_saturating_loss() -> None:
    model = build("stylegan2", width=8)
    critic = Calls(model.D)
    losses = recorded_losses(model)
    model.generator_step(Batch(images(), LABELS, 3))
    torch.testing.assert_close(losses[0], bce_g(critic.outputs[0]))
    assert model.ema_decay == pytest.approx(warmup_ema_decay(3, 0.998))


def test_modulated_convolution_is_a_per_sample_convolution_with_demodulated_weights() -> None:
    torch.manual_seed(0)
    w, x = torch.randn(3, 5), torch.randn(3, 4, 6, 6)
    for demodulate in (True, False):
        conv = ModulatedConv2d(4, 2, 3, w_dim=5, demodulate=demodulate)
        styles = conv.affine(w)
        expected = []
        for i in range(3):
            weight = conv.weight * conv.scale * styles[i].view(1, -1, 1, 1)
            if demodulate:
                weight = weight / (weight.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
            expected.append(F.conv2d(x[i : i + 1], weight, padding=1))
        torch.testing.assert_close(conv(x, w), torch.cat(expected), atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- EMA


def test_ema_update_moves_the_average_a_share_one_minus_decay_towards_the_weights() -> None:
    model = build("dcgan", width=4)
    model.init_ema(0.9)
    with torch.no_grad():
        for p in model.G.parameters():
            p.add_(torch.randn_like(p))
        for b in model.G.buffers():
            if b.is_floating_point():
                b.add_(1.0)
    before = [p.detach().clone() for p in model.G_ema.parameters()]
    model.update_ema()
    for old, p, average in zip(before, model.G.parameters(), model.G_ema.parameters()):
        torch.testing.assert_close(average, 0.9 * old + 0.1 * p.detach())
    for b, average in zip(model.G.buffers(), model.G_ema.buffers()):
        assert torch.equal(b, average)
    assert model.sampling_network is model.G_ema


def test_ema_decay_warms_up_to_the_papers_decay() -> None:
    assert warmup_ema_decay(0, 0.999) == 0.0
    assert warmup_ema_decay(100, 0.999) == pytest.approx(0.5 ** (1 / 5))
    assert warmup_ema_decay(10**6, 0.999) == pytest.approx(0.999)
    assert warmup_ema_decay(100, 0.0) == 0.0  # a decay of 0 keeps the average a copy at every step


def test_ddpm_ema_decay_is_min_of_decay_and_one_plus_n_over_ten_plus_n() -> None:
    model = build("ddpm", width=8)
    for n in (1, 2):
        with torch.no_grad():
            for p in model.G.parameters():
                p.add_(0.1)
        before = [p.detach().clone() for p in model.G_ema.parameters()]
        model.update_ema()
        decay = (1 + n) / (10 + n)
        assert model.ema_decay == pytest.approx(decay)
        for old, p, average in zip(before, model.G.parameters(), model.G_ema.parameters()):
            torch.testing.assert_close(average, decay * old + (1 - decay) * p.detach())
    model.load_state_dict({**model.state_dict(), "ema_updates": torch.tensor(10**6)})
    model.update_ema()
    assert model.ema_decay == pytest.approx(0.9999)


# ----------------------------------------------------------------------------- VAE and DDPM


def test_vae_step_minimises_bernoulli_reconstruction_plus_closed_form_kl() -> None:
    model = build("vae", width=8)
    encoder, decoder = Calls(model.E), Calls(model.G)
    losses = recorded_losses(model)
    x = images(4)
    torch.manual_seed(5)
    model.generator_step(Batch(x, LABELS[:4], 0))
    torch.manual_seed(5)
    eps = torch.randn(4, model.config.z_dim)
    (mu, logvar), logits, (z,) = encoder.outputs[0], decoder.outputs[0], decoder.inputs[0]
    torch.testing.assert_close(z, mu + torch.exp(0.5 * logvar) * eps)
    target = (x + 1) / 2
    reconstruction = -(target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits)).flatten(1).sum(1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
    torch.testing.assert_close(losses[0], (reconstruction + kl).mean())


def test_ddpm_loss_is_the_error_of_the_predicted_noise() -> None:
    model = build("ddpm", width=8)
    network = Calls(model.G)
    x0 = images(4)
    loss = model.loss(x0, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    t = torch.randint(0, 1000, (4,), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    alpha_bar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)[t].float()
    alpha_bar = alpha_bar.view(-1, 1, 1, 1)
    (x_t, t_seen), predicted = network.inputs[0], network.outputs[0]
    assert torch.equal(t_seen, t)
    torch.testing.assert_close(x_t, alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise)
    torch.testing.assert_close(loss, (predicted - noise).pow(2).mean())


# ----------------------------------------------------------------------------- image-to-image


def test_history_pool_swaps_each_new_image_for_a_stored_one_with_probability_half() -> None:
    pool = HistoryPool(3, (1,))
    first = torch.tensor([[0.0], [1.0], [2.0]])
    assert torch.equal(pool.query(first), first)
    fresh = torch.arange(10.0, 18.0).view(8, 1)
    torch.manual_seed(7)
    out = pool.query(fresh)
    torch.manual_seed(7)
    stored, expected = [0.0, 1.0, 2.0], []
    for value in fresh.view(-1).tolist():
        if float(torch.rand(())) < 0.5:
            i = int(torch.randint(0, 3, ()))
            expected.append(stored[i])
            stored[i] = value
        else:
            expected.append(value)
    assert any(v < 10 for v in expected) and any(v >= 10 for v in expected)
    assert out.view(-1).tolist() == expected
    assert pool.images.view(-1).tolist() == stored


def test_cyclegan_discriminators_are_least_squares_on_fakes_from_the_pool() -> None:
    model = build("cyclegan", width=4, n_blocks=1, pool_size=4)
    with torch.no_grad():
        for pool in (model.pool_a, model.pool_b):
            pool.images.fill_(5.0)
            pool.filled.fill_(4)
    d_a, d_b = Calls(model.D_A), Calls(model.D_B)
    losses = recorded_losses(model)
    torch.manual_seed(0)
    model.discriminator_step(Batch(images(seed=2), LABELS, 0, source=images(seed=1)))
    expected = 0.0
    for calls in (d_a, d_b):
        (_,), (pooled,) = calls.inputs
        from_pool = (pooled == 5.0).flatten(1).all(1)
        assert 0 < int(from_pool.sum()) < len(pooled), "D must see a mix of stored and fresh fakes"
        real_out, fake_out = calls.outputs
        expected = expected + least_squares_d(real_out, fake_out)
    torch.testing.assert_close(losses[0], expected)
    assert int(model.pool_a.filled) == int(model.pool_b.filled) == 4
    assert bool((model.pool_a.images != 5.0).any()) and bool((model.pool_b.images != 5.0).any())


def test_cyclegan_generator_objective_is_adversarial_plus_10_cycle_plus_5_identity() -> None:
    model = build("cyclegan", width=4, n_blocks=1)
    losses = recorded_losses(model)
    a, b = images(4, seed=1), images(4, seed=2)
    model.generator_step(Batch(b, LABELS[:4], 0, source=a))
    with torch.no_grad():
        fake_b, fake_a = model.G_AB(a), model.G_BA(b)
        adversarial = (model.D_B(fake_b) - 1).pow(2).mean() + (model.D_A(fake_a) - 1).pow(2).mean()
        cycle = (model.G_BA(fake_b) - a).abs().mean() + (model.G_AB(fake_a) - b).abs().mean()
        identity = (model.G_AB(b) - b).abs().mean() + (model.G_BA(a) - a).abs().mean()
    torch.testing.assert_close(losses[0].detach(), adversarial + 10 * cycle + 5 * identity)


def test_pix2pix_d_objective_is_halved_and_g_adds_100_l1_to_the_conditional_gan_loss() -> None:
    model = build("pix2pix", width=4)
    critic, generator = Calls(model.D), Calls(model.G)
    losses = recorded_losses(model)
    source, target = images(4, seed=1), images(4, seed=2)
    model.discriminator_step(Batch(target, LABELS[:4], 0, source=source))
    model.generator_step(Batch(target, LABELS[:4], 0, source=source))
    (real_pair,), (fake_pair,), _ = critic.inputs
    torch.testing.assert_close(real_pair, torch.cat([source, target], 1))
    torch.testing.assert_close(fake_pair, torch.cat([source, generator.outputs[0].detach()], 1))
    real_out, fake_out, fake_for_g = critic.outputs
    torch.testing.assert_close(losses[0], 0.5 * bce_d(real_out, fake_out))
    fake = generator.outputs[1]
    torch.testing.assert_close(losses[1], bce_g(fake_for_g) + 100 * (fake - target).abs().mean())


def test_stargan_critic_loss_is_wasserstein_plus_domain_classification_plus_penalty() -> None:
    model = build("stargan", width=4, n_blocks=1)
    critic = Calls(model.D)
    losses = recorded_losses(model)
    x, domains = images(6), torch.tensor([0, 1, 2, 3, 4, 0])
    model.discriminator_step(Batch(x, domains, 0, source=x, source_labels=domains))
    (real,), (fake,), (mixed,) = critic.inputs
    (src_real, cls_real), (src_fake, _), _ = critic.outputs
    assert torch.equal(real, x)
    assert_on_segments(mixed, real, fake)
    penalty = penalty_at(lambda t: model.D(t)[0], mixed)
    expected = wasserstein_d(src_real, src_fake) + cross_entropy(cls_real, domains) + 10 * penalty
    torch.testing.assert_close(losses[0], expected)


def test_stargan_generator_loss_is_adversarial_plus_target_classification_plus_10_reconstruction() -> None:
    model = build("stargan", width=4, n_blocks=1)
    generator, critic = Calls(model.G), Calls(model.D)
    losses = recorded_losses(model)
    x, domains = images(6), torch.tensor([0, 1, 2, 3, 4, 0])
    torch.manual_seed(1)
    model.generator_step(Batch(x, domains, 0, source=x, source_labels=domains))
    (x_in, targets), (fake_in, back) = generator.inputs
    fake, reconstruction = generator.outputs
    ((src_fake, cls_fake),) = critic.outputs
    assert torch.equal(x_in, x) and torch.equal(fake_in, fake) and torch.equal(back, domains)
    assert bool((targets != domains).any())
    expected = critic_g(src_fake) + cross_entropy(cls_fake, targets) + 10 * (reconstruction - x).abs().mean()
    torch.testing.assert_close(losses[0], expected)


def content_network() -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh())


def test_srgan_content_loss_compares_the_frozen_networks_feature_maps() -> None:
    model = build("srgan", width=4, n_blocks=1)
    network = content_network()
    model.set_content_network(network)
    fake, real = images(2, seed=1), images(2, seed=2)
    with torch.no_grad():
        expected = (network(fake) - network(real)).pow(2).mean()
    torch.testing.assert_close(model.content_loss(fake, real), expected)
    assert not any(p.requires_grad for p in network.parameters())


def test_srgan_adversarial_stage_minimises_content_plus_1e3_adversarial() -> None:
    model = build("srgan", width=4, n_blocks=1)
    network = content_network()
    model.set_content_network(network)
    generator, critic = Calls(model.G), Calls(model.D)
    losses = recorded_losses(model)
    source, target = images(4, size=8, seed=1), images(4, seed=2)
    batch = Batch(target, LABELS[:4], 0, source=source, progress=0.75)
    model.discriminator_step(batch)
    model.generator_step(batch)
    (real_in,), (fake_in,), _ = critic.inputs
    assert torch.equal(real_in, target) and torch.equal(fake_in, generator.outputs[0].detach())
    real_out, fake_out, fake_for_g = critic.outputs
    torch.testing.assert_close(losses[0], bce_d(real_out, fake_out))
    with torch.no_grad():
        content = (network(generator.outputs[0]) - network(target)).pow(2).mean()
    torch.testing.assert_close(losses[1].detach(), content + 1e-3 * bce_g(fake_for_g).detach())


def test_srgan_pretraining_stage_is_the_pixel_mse_while_d_rests() -> None:
    """The SRResNet stage minimises the pixel MSE even with a content network attached."""
    model = build("srgan", width=4, n_blocks=1)
    model.set_content_network(content_network())
    generator = Calls(model.G)
    losses = recorded_losses(model)
    target = images(4, seed=2)
    batch = Batch(target, LABELS[:4], 0, source=images(4, size=8, seed=1), progress=0.25)
    assert model.discriminator_step(batch) == {} and not losses
    model.generator_step(batch)
    torch.testing.assert_close(losses[0], (generator.outputs[0] - target).pow(2).mean())

