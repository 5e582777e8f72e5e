"""gan, cgan, infogan, wgan, wgan-gp, lsgan, sngan: the components that define each variant, and
a short training run on digits that must lower each generator's FID."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganbench.data import Dataset, load_toy2d
from ganbench.pixels import to_float
from ganbench.features import ClassifierExtractor
from ganbench.metrics import fid_from_features, matched_code_accuracy
from ganbench.generators import GENERATORS, Batch, DataSpec, GenerativeModel, create_generator
from ganbench.errors import UserError
from ganbench.generators.blocks import Maxout
from ganbench.generators.losses import gradient_penalty
from ganbench.generators.trainer import TrainConfig, train

SPEC16 = DataSpec("image", 1, 16, 10)
POINTS = DataSpec("points", 0, 0, 8)
FAMILY_A = ("gan", "cgan", "infogan", "wgan", "wgan-gp", "lsgan", "sngan")


def image_batch(digits16: Dataset, n: int = 32, step: int = 0) -> Batch:
    return Batch(to_float(digits16.x_train[:n]), digits16.y_train[:n], step)


def build(name: str, spec: DataSpec = SPEC16, **overrides: object) -> GenerativeModel:
    model = create_generator(name, spec, preset_width=8, **overrides) if spec.kind == "image" else create_generator(name, spec, **overrides)
    model.configure_optimizers()
    return model


@pytest.fixture(scope="module")
def extractor(digits16: Dataset, tmp_path_factory: pytest.TempPathFactory) -> ClassifierExtractor:
    return ClassifierExtractor(digits16, tmp_path_factory.mktemp("classifier"), epochs=2)


def fid_before_after(name: str, data: Dataset, extractor: ClassifierExtractor, steps: int,
                     **overrides: object) -> tuple[float, float]:
    """FID of ``name`` (tiny width, 16x16) against the real test split, untrained and after ``steps`` steps."""
    torch.manual_seed(0)
    model = create_generator(name, SPEC16, preset_width=8, **overrides)
    real = extractor.extract(data.x_test).features

    def fid() -> float:
        return fid_from_features(real, extractor.extract(model.sample(400, seed=1)).features)

    before = fid()
    outcome = train(model, data.x_train, data.y_train, TrainConfig(steps=steps, batch_size=32, seed=0))
    assert outcome.status == "ok"
    return before, fid()


# (generator steps, FID ratio to beat); WGAN's clipped RMSprop critic at 5e-5 starts slowest
SHORT_RUNS = {"gan": (200, 0.8), "cgan": (200, 0.8), "lsgan": (400, 0.8), "sngan": (200, 0.8),
              "wgan-gp": (200, 0.85), "wgan": (600, 0.9), "infogan": (300, 0.5)}


@pytest.mark.parametrize("name", FAMILY_A)
def test_short_training_lowers_fid(name: str, digits16: Dataset, extractor: ClassifierExtractor) -> None:
    steps, ratio = SHORT_RUNS[name]
    before, after = fid_before_after(name, digits16, extractor, steps)
    print(f"{name}: FID {before:.1f} -> {after:.1f} ({after / before:.2f})")
    assert after < ratio * before, f"{name}: FID {before:.1f} -> {after:.1f}"


def test_registry_lists_the_family_with_papers() -> None:
    for name in FAMILY_A:
        cls = GENERATORS.get(name)
        assert cls.paper and 2014 <= cls.year <= 2018
        assert cls.__module__.startswith("ganbench.generators.")
    assert {n for n in FAMILY_A if GENERATORS.get(n).conditional} == {"cgan"}
    assert {n for n in FAMILY_A if GENERATORS.get(n).supports_points} == {"gan", "wgan-gp", "lsgan", "sngan"}


# ----------------------------------------------------------------------------- gan


def expected_generator_loss(model: GenerativeModel, batch: Batch, loss: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """``loss(D(G(z)))`` for the noise the next generator step will draw, computed before that step."""
    with torch.random.fork_rng():
        with torch.no_grad():
            out = model.D(model.G(model.noise(len(batch.real))))
    return float(loss(out))


def test_gan_is_two_mlps_on_images_and_points() -> None:
    for spec in (SPEC16, POINTS):
        model = build("gan", spec)
        for net in (model.G, model.D):
            assert not any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in net.modules())
            assert sum(isinstance(m, nn.Linear) for m in net.modules()) >= 3
        assert model.sample(10).shape == ((10, 1, 16, 16) if spec.kind == "image" else (10, 2))


@pytest.mark.parametrize("loss, formula", [
    ("nonsaturating", lambda out: -torch.log(torch.sigmoid(out)).mean()),
    ("minimax", lambda out: torch.log(1 - torch.sigmoid(out)).mean()),
])
def test_gan_generator_loss_is_non_saturating_or_minimax(loss: str, formula: Callable, digits16: Dataset) -> None:
    model = build("gan", loss=loss)
    batch = image_batch(digits16)
    expected = expected_generator_loss(model, batch, formula)
    assert float(model.generator_step(batch)["loss_g"]) == pytest.approx(expected, rel=1e-4)


def test_gan_discriminator_is_two_maxout_layers_of_five_pieces() -> None:
    """D's hidden units are maxout units: each the largest of its 5 linear pieces."""
    model = build("gan")
    maxouts = [m for m in model.D.trunk.modules() if isinstance(m, Maxout)]
    assert len(maxouts) == 2 and all(m.pieces == 5 for m in maxouts)
    assert not any(isinstance(m, nn.LeakyReLU) for m in model.D.modules())
    unit = maxouts[0]
    x = torch.randn(3, unit.linear.in_features)
    pieces = (x @ unit.linear.weight.T + unit.linear.bias).view(3, -1, 5)
    torch.testing.assert_close(unit(x), pieces.max(dim=2).values)


def test_gan_hidden_layers_have_eight_width_units() -> None:
    """Both MLPs have two hidden layers of ``8 width`` units (G's ReLU units, D's maxout units),
    G writes the C x N x N image, and the stated schedule gives the same widths."""
    model = build("gan")
    hidden = 8 * model.config.width
    assert [m.out_features for m in model.G.modules() if isinstance(m, nn.Linear)] == [hidden, hidden, 16 * 16]
    maxouts = [m for m in model.D.trunk.modules() if isinstance(m, Maxout)]
    assert [m.linear.out_features // m.pieces for m in maxouts] == [hidden, hidden]
    assert model.D.head.in_features == hidden
    schedules = type(model).architecture(SPEC16, model.config)
    assert schedules["G"].dense == (hidden, hidden, 16 * 16) and schedules["D.trunk"].dense == (hidden, hidden)


def test_gan_refuses_a_loss_other_than_nonsaturating_or_minimax() -> None:
    with pytest.raises(UserError, match="minimax"):
        build("gan", loss="hinge")


def test_point_variants_draw_a_two_dimensional_latent() -> None:
    for name in ("gan", "wgan-gp", "lsgan", "sngan", "gan+packing"):
        model = create_generator(name, POINTS)
        first_layer = next(m for m in model.G.modules() if isinstance(m, nn.Linear))
        assert model.config.z_dim == 2 and model.noise(3).shape == (3, 2) and first_layer.in_features == 2
    assert create_generator("gan", POINTS, z_dim=8).noise(3).shape == (3, 8)
    assert create_generator("gan", SPEC16).config.z_dim == 100


def test_gan_learns_the_toy_ring() -> None:
    data = load_toy2d("ring", n_train=2000, n_test=10)
    model = create_generator("gan", POINTS)

    def distance_to_modes() -> float:
        points = model.sample(500, seed=1)
        return float(torch.cdist(points, data.modes).min(1).values.median())

    before = distance_to_modes()
    train(model, data.x_train, data.y_train, TrainConfig(steps=150, batch_size=100, seed=0))
    assert distance_to_modes() < 0.4 * before


# ----------------------------------------------------------------------------- cgan


def test_cgan_feeds_the_label_to_both_players(digits16: Dataset) -> None:
    model = build("cgan").eval()
    assert model.conditional
    z = model.noise(4)
    a = model.G(model.condition(z, torch.tensor([0, 1, 2, 3])))
    b = model.G(model.condition(z, torch.tensor([5, 6, 7, 8])))
    assert (a - b).abs().amax(dim=(1, 2, 3)).min() > 1e-3
    x = to_float(digits16.x_train[:4])
    out_a = model.D(model.condition(x, torch.tensor([0, 1, 2, 3])))
    out_b = model.D(model.condition(x, torch.tensor([5, 6, 7, 8])))
    assert (out_a - out_b).abs().min() > 1e-6
    first = model.sample(6, labels=torch.full((6,), 3), seed=0)
    assert torch.equal(first, model.sample(6, labels=torch.full((6,), 3), seed=0))
    assert not torch.equal(first, model.sample(6, labels=torch.full((6,), 4), seed=0))


# ----------------------------------------------------------------------------- infogan


def test_infogan_q_shares_the_discriminator_trunk(digits16: Dataset) -> None:
    model = build("infogan")
    d_params = {id(p) for p in model.D.parameters()}
    assert not d_params & {id(p) for p in model.Q.parameters()}
    assert model.config.categories == 10 and model.config.continuous == 2 and model.config.z_dim == 62
    latent, codes, cont = model.latent(8)
    features = model.D.features(model.G(latent))
    model.information_loss(features, codes, cont).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.D.trunk.parameters() if p.dim() > 1)
    assert all(p.grad is None for p in model.D.head.parameters())
    optimised = {id(p) for group in model.opt_d.param_groups for p in group["params"]}
    assert optimised == d_params | {id(p) for p in model.Q.parameters()}


def test_infogan_code_learns_the_digit_class_without_labels(digits16: Dataset,
                                                            extractor: ClassifierExtractor) -> None:
    torch.manual_seed(0)
    model = create_generator("infogan", SPEC16, preset_width=8)
    assert model.code_values == 10 and not model.conditional
    logs: list[float] = []
    train(model, digits16.x_train, digits16.y_train, TrainConfig(steps=300, batch_size=32, seed=0),
          on_step=lambda step, losses: logs.append(losses["loss_info"]))
    first, last = sum(logs[:20]) / 20, sum(logs[-20:]) / 20
    assert last < 0.9 * first, (first, last)
    codes = torch.arange(1000) % 10
    probs = extractor.extract(model.sample(1000, labels=codes, seed=1)).probs
    accuracy = matched_code_accuracy(probs, codes)
    print(f"infogan: matched code accuracy {accuracy:.3f} (chance 0.1)")
    assert accuracy > 0.25


# ----------------------------------------------------------------------------- wgan


def test_wgan_critic_is_clipped_and_has_no_sigmoid(digits16: Dataset) -> None:
    model = build("wgan")
    assert model.n_critic == 5 and model.config.clip == 0.01
    assert isinstance(model.opt_d, torch.optim.RMSprop) and isinstance(model.opt_g, torch.optim.RMSprop)
    assert model.opt_d.param_groups[0]["lr"] == model.opt_g.param_groups[0]["lr"] == 5e-5
    assert not any(isinstance(m, nn.Sigmoid) for m in model.D.modules())
    logs = model.discriminator_step(image_batch(digits16))
    assert all(p.abs().max() <= 0.01 for p in model.D.parameters())
    assert float(logs["loss_d"]) == pytest.approx(-float(logs["wasserstein"]), abs=1e-6)


def test_wgan_critic_is_dcgans_with_batchnorm_and_starts_clipped() -> None:
    """The critic is the DCGAN discriminator of the paper's experiments (BatchNorm after every
    convolution but the first), and its weights lie in [-0.01, 0.01] before the first update."""
    model = build("wgan")
    layers = list(model.D.trunk.net)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    assert len(convs) >= 2 and not isinstance(layers[convs[0] + 1], nn.BatchNorm2d)
    assert all(isinstance(layers[i + 1], nn.BatchNorm2d) for i in convs[1:])
    values = torch.cat([p.detach().flatten() for p in model.D.parameters()])
    assert float(values.abs().max()) == pytest.approx(0.01)


# ----------------------------------------------------------------------------- wgan-gp


def test_wgan_gp_penalty_enters_the_critic_loss(digits16: Dataset) -> None:
    model = build("wgan-gp")
    assert model.n_critic == 5 and model.config.gp_weight == 10.0
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.D.modules())
    group = model.opt_d.param_groups[0]
    assert isinstance(model.opt_d, torch.optim.Adam) and group["lr"] == 1e-4 and group["betas"] == (0.0, 0.9)
    logs = model.discriminator_step(image_batch(digits16))
    assert float(logs["gradient_penalty"]) > 0
    assert float(logs["loss_d"]) == pytest.approx(-float(logs["wasserstein"]) + 10 * float(logs["gradient_penalty"]),
                                                  rel=1e-4, abs=1e-5)
    real = to_float(digits16.x_train[:8])
    model.D.zero_grad()
    gradient_penalty(model.D, real, torch.zeros_like(real)).backward()
    assert model.D.head.weight.grad.abs().sum() > 0


def test_wgan_gp_critic_on_points_has_no_batchnorm() -> None:
    model = build("wgan-gp", POINTS)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.D.modules())


# ----------------------------------------------------------------------------- lsgan


def test_lsgan_losses_are_least_squares(digits16: Dataset) -> None:
    model = build("lsgan")
    real, fake = torch.tensor([0.3, 1.4, -0.2]), torch.tensor([0.1, -0.6, 0.9])
    expected_d = 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()
    assert torch.allclose(model.tricks.discriminator_loss(real, fake), expected_d)
    batch = image_batch(digits16)
    expected_g = expected_generator_loss(model, batch, lambda out: 0.5 * (out - 1).pow(2).mean())
    assert float(model.generator_step(batch)["loss_g"]) == pytest.approx(expected_g, rel=1e-4)
    assert not any(isinstance(m, nn.Sigmoid) for m in model.D.modules())


def test_lsgan_discriminator_is_dcgans_with_batchnorm_and_normal_002_weights() -> None:
    """D is DCGAN's trunk (BatchNorm after every convolution but the first) initialised as DCGAN:
    weights from N(0, 0.02), zero biases, BatchNorm gains from N(1, 0.02)."""
    torch.manual_seed(0)
    model = build("lsgan")
    layers = list(model.D.trunk.net)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    assert len(convs) >= 2 and not isinstance(layers[convs[0] + 1], nn.BatchNorm2d)
    assert all(isinstance(layers[i + 1], nn.BatchNorm2d) for i in convs[1:])
    for m in model.D.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            assert abs(float(m.weight.detach().std()) - 0.02) < 0.005
            assert m.bias is None or not m.bias.any()
        elif isinstance(m, nn.BatchNorm2d):
            assert float((m.weight.detach() - 1).abs().max()) < 0.1 and not m.bias.any()


def test_lsgan_generator_is_dcgans_with_normal_002_weights() -> None:
    """G is DCGAN's generator initialised as DCGAN: transposed-convolution weights from
    N(0, 0.02), zero biases, BatchNorm gains from N(1, 0.02)."""
    torch.manual_seed(0)
    model = build("lsgan")
    convs = [m for m in model.G.modules() if isinstance(m, nn.ConvTranspose2d)]
    weights = torch.cat([m.weight.detach().flatten() for m in convs])
    assert len(convs) >= 2 and abs(float(weights.std()) - 0.02) < 0.002
    assert all(m.bias is None or not m.bias.any() for m in convs)
    for m in model.G.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert float((m.weight.detach() - 1).abs().max()) < 0.1 and not m.bias.any()


# ----------------------------------------------------------------------------- sngan


def effective_weights(module: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def test_sngan_builds_the_papers_standard_cnn() -> None:
    """Miyato et al. 2018, Table 3: G upsamples with 4x4 stride-2 transposed convolutions, each
    followed by BatchNorm and ReLU; D alternates 3x3 stride-1 and 4x4 stride-2 convolutions, every
    one followed by LeakyReLU with slope 0.1."""
    model = build("sngan", SPEC16)
    g = list(model.G.net)
    for i, layer in enumerate(g):
        if isinstance(layer, nn.ConvTranspose2d):
            assert (layer.kernel_size, layer.stride) == ((4, 4), (2, 2))
            assert isinstance(g[i + 1], nn.BatchNorm2d) and isinstance(g[i + 2], nn.ReLU)
    assert isinstance(g[-2], nn.Conv2d) and g[-2].kernel_size == (3, 3) and isinstance(g[-1], nn.Tanh)
    convs = [m for m in model.D.modules() if isinstance(m, nn.Conv2d)]
    shapes = [(m.kernel_size[0], m.stride[0]) for m in convs]
    assert shapes == [(3, 1), (4, 2)] * ((len(convs) - 1) // 2) + [(3, 1)]
    slopes = [m.negative_slope for m in model.D.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(slopes) == len(convs) and set(slopes) == {0.1}


@pytest.mark.parametrize("spec", [SPEC16, POINTS], ids=["images", "points"])
def test_sngan_normalises_every_discriminator_layer(spec: DataSpec, digits16: Dataset) -> None:
    model = build("sngan", spec)
    layers = [m for m in model.D.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    x = to_float(digits16.x_train[:16]) if spec.kind == "image" else torch.randn(16, 2)
    with torch.no_grad():
        for _ in range(30):
            model.D(x)
        for weight in effective_weights(model.D):
            assert float(torch.linalg.matrix_norm(weight.flatten(1), ord=2)) == pytest.approx(1.0, abs=0.05)
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.3])
    assert torch.allclose(model.tricks.discriminator_loss(real, fake),
                          torch.relu(1 - real).mean() + torch.relu(1 + fake).mean())
