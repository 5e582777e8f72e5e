"""Training tricks: each one does what its paper says, and any variant can switch it on by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.data import Dataset
from ganbench.pixels import to_float
from ganbench.errors import UserError
from ganbench.suites import SUITES, resolve_suite
from ganbench.generators import GENERATORS, Batch, DataSpec, create_generator
from ganbench.generators.diffaugment import cutout, diff_augment, translation
from ganbench.generators.layers import MinibatchDiscrimination
from ganbench.generators.trainer import TrainConfig, train
from ganbench.generators.tricks import TRICK_NAMES, Tricks

SPEC16 = DataSpec("image", 1, 16, 10)
POINTS = DataSpec("points", 0, 0, 8)


def batch(digits16: Dataset, n: int = 32, step: int = 0) -> Batch:
    return Batch(to_float(digits16.x_train[:n]), digits16.y_train[:n], step)


def test_names_switch_tricks_on() -> None:
    model = create_generator("gan+packing+label-smoothing", SPEC16, preset_width=8)
    assert model.name == "gan+packing+label-smoothing"
    assert model.config.tricks.packing == 4 and model.config.tricks.label_smoothing == pytest.approx(0.1)
    assert model.config.tricks.active() == ["label-smoothing", "packing"]
    assert create_generator("gan", SPEC16, preset_width=8).config.tricks == Tricks()
    assert "lsgan+diffaugment" in GENERATORS and "gan+nope" not in GENERATORS
    with pytest.raises(UserError, match="unknown training trick"):
        GENERATORS.get("gan+nope")
    with pytest.raises(UserError, match="no training-trick options"):
        GENERATORS.get("dcgan+packing")
    assert not GENERATORS.get("gan+diffaugment").supports_points


def test_a_variant_class_named_with_tricks_switches_them_on() -> None:
    """Built from its class with no configuration, as a plugin or a checkpoint loader builds it."""
    model = GENERATORS.get("gan+packing+label-smoothing")(SPEC16)
    assert model.config.tricks.active() == ["label-smoothing", "packing"] and model.config.tricks.packing == 4
    assert GENERATORS.get("gan")(SPEC16).config.tricks == Tricks()


def test_tricks_suite_ablates_every_trick_on_gan() -> None:
    generators, _ = resolve_suite("tricks")
    assert generators == ["gan", *(f"gan+{t}" for t in TRICK_NAMES)]
    assert "tricks" in SUITES
    for name in generators:
        create_generator(name, SPEC16, preset_width=8)


def test_label_smoothing_is_one_sided() -> None:
    model = create_generator("gan+label-smoothing", SPEC16, preset_width=8)
    real, fake = torch.tensor([1.5, -0.5]), torch.tensor([0.2, -1.0])
    expected = F.binary_cross_entropy_with_logits(real, torch.full_like(real, 0.9)) \
        + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    assert torch.allclose(model.tricks.discriminator_loss(real, fake), expected)
    with pytest.raises(UserError, match="label smoothing"):
        create_generator("wgan-gp+label-smoothing", SPEC16, preset_width=8)


def test_feature_matching_matches_mean_features(digits16: Dataset) -> None:
    model = create_generator("gan+feature-matching", SPEC16, preset_width=8)
    real = to_float(digits16.x_train[:16])
    fake = model.G(model.noise(16))
    features = model.D.features(fake)
    loss = model.tricks.generator_loss(model.D, real, features)
    expected = (features.mean(0) - model.D.features(real).mean(0)).pow(2).sum()
    assert torch.allclose(loss, expected)
    loss.backward()
    assert all(p.grad is not None for p in model.G.parameters())


def test_minibatch_discrimination_sees_the_whole_batch() -> None:
    layer = MinibatchDiscrimination(8, kernels=6, kernel_dim=3)
    same = torch.randn(1, 8).repeat(5, 1)
    varied = torch.randn(5, 8) * 5
    assert layer(same).shape == (5, 14)
    assert torch.allclose(layer(same)[:, 8:], torch.full((5, 6), 4.0))
    assert (layer(varied)[:, 8:] < layer(same)[:, 8:]).all()
    model = create_generator("sngan+minibatch-discrimination", SPEC16, preset_width=8).eval()
    x = torch.randn(6, 1, 16, 16)
    alone = model.D(x[:3])
    together = model.D(x)[:3]
    assert not torch.allclose(alone, together)


def test_minibatch_discrimination_trick_builds_100_kernels_of_5_dimensions() -> None:
    """Salimans et al. 2016: B = 100 kernels of C = 5 dimensions, their closeness appended to D's features;
    other settings are built as configured."""
    assert Tricks().enable("minibatch-discrimination") == Tricks(minibatch_kernels=100, minibatch_kernel_dim=5)
    model = create_generator("gan+minibatch-discrimination", SPEC16, preset_width=8)
    layer = model.D.minibatch
    assert (layer.kernels, layer.kernel_dim) == (100, 5)
    assert tuple(layer.T.weight.shape) == (100 * 5, model.D.feature_dim)
    assert model.D.head.in_features == model.D.feature_dim + 100
    tuned = create_generator("gan", SPEC16, preset_width=8, tricks=Tricks(minibatch_kernels=7, minibatch_kernel_dim=2))
    assert tuple(tuned.D.minibatch.T.weight.shape) == (7 * 2, tuned.D.feature_dim)


def test_minibatch_features_sum_the_negative_exponential_l1_distance_to_every_other_sample() -> None:
    """``o_b(x_i) = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_1)``, computed here sample by sample."""
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(4, kernels=3, kernel_dim=2)
    features = torch.randn(5, 4)
    M = (features @ layer.T.weight.T).view(5, 3, 2)
    expected = torch.zeros(5, 3)
    for i in range(5):
        for j in range(5):
            if j != i:
                expected[i] += torch.exp(-(M[i] - M[j]).abs().sum(-1))
    out = layer(features)
    assert torch.equal(out[:, :4], features)
    assert torch.allclose(out[:, 4:], expected, atol=1e-6)
    assert expected.max() < 3.6  # the samples lie apart: no kernel is saturated at n - 1 = 4


def test_instance_noise_anneals_to_zero() -> None:
    model = create_generator("lsgan+instance-noise", SPEC16, preset_width=8)
    x = torch.zeros(256, 1, 16, 16)
    assert model.tricks.view(x, step=0).std() == pytest.approx(0.1, rel=0.05)
    assert model.tricks.view(x, step=500).std() == pytest.approx(0.05, rel=0.05)
    assert torch.equal(model.tricks.view(x, step=1000), x)


def test_packing_concatenates_samples_for_the_discriminator(digits16: Dataset) -> None:
    model = create_generator("wgan-gp+packing", SPEC16, preset_width=8)
    assert model.D.trunk.net[0].in_channels == 4
    x = to_float(digits16.x_train[:12])
    assert model.D(x).shape == (3,)
    swapped = x.clone()
    swapped[1] = x[5]
    out, out_swapped = model.D(x), model.D(swapped)
    assert torch.allclose(out[1:], out_swapped[1:])
    assert not torch.isclose(out[0], out_swapped[0])
    points = create_generator("gan+packing", POINTS)
    assert points.D(torch.randn(8, 2)).shape == (2,)


def test_a_packed_batch_is_batch_size_packs() -> None:
    model = create_generator("gan+packing", POINTS)
    assert model.pack_size == 4 and create_generator("gan", POINTS).pack_size == 1
    seen: list[tuple[int, int]] = []
    step = model.discriminator_step

    def recording_step(batch: Batch) -> dict[str, torch.Tensor]:
        seen.append((len(batch.real), len(model.D(batch.real))))
        return step(batch)

    model.discriminator_step = recording_step  # type: ignore[method-assign]
    x = torch.randn(200, 2)
    train(model, x, torch.zeros(200, dtype=torch.long), TrainConfig(steps=2, batch_size=10, seed=0))
    assert seen == [(40, 10), (40, 10)]


def test_historical_averaging_pulls_towards_past_parameters(digits16: Dataset) -> None:
    model = create_generator("gan+historical-averaging", SPEC16, preset_width=8)
    history = model.tricks.history["d"]
    assert float(history.penalty().detach()) == 0.0
    with torch.no_grad():
        for p in model.D.parameters():
            p.add_(0.1)
    n = sum(p.numel() for p in model.D.parameters())
    assert float(history.penalty().detach()) == pytest.approx(n * 0.01, rel=1e-3)
    assert "tricks.history.d.mean_0" in model.state_dict()
    model.configure_optimizers()
    assert torch.isfinite(model.discriminator_step(batch(digits16))["loss_d"])


def test_historical_average_is_the_mean_of_every_parameter_set_so_far() -> None:
    """Salimans et al. (2016): the penalty is the squared distance to the mean of all past parameters."""
    from ganbench.generators.tricks import HistoricalAverage

    network = torch.nn.Linear(2, 1, bias=False)
    history = HistoricalAverage(network)
    seen = [network.weight.detach().clone()]
    for shift in (1.0, -3.0, 0.5):
        with torch.no_grad():
            network.weight.add_(shift)
        mean = torch.stack(seen).mean(0)
        expected = float((network.weight.detach() - mean).pow(2).sum())
        assert float(history.penalty().detach()) == pytest.approx(expected, rel=1e-6)
        seen.append(network.weight.detach().clone())
    torch.testing.assert_close(history.means()[0], torch.stack(seen).mean(0))


def test_both_players_losses_add_the_weighted_averaging_penalty(digits16: Dataset) -> None:
    from ganbench.generators.losses import discriminator_loss, generator_loss

    model = create_generator("gan+historical-averaging", SPEC16, preset_width=8)
    hooks = model.tricks
    with torch.no_grad():
        for p in [*model.G.parameters(), *model.D.parameters()]:
            p.add_(0.1)
    real_out, fake_out = torch.zeros(4, 1), torch.ones(4, 1)
    n_d = sum(p.numel() for p in model.D.parameters())
    added = hooks.discriminator_loss(real_out, fake_out) - discriminator_loss(hooks.loss, real_out, fake_out)
    assert float(added) == pytest.approx(1e-3 * n_d * 0.01, rel=1e-3)
    features = model.D.features(to_float(digits16.x_train[:4]))
    n_g = sum(p.numel() for p in model.G.parameters())
    added = hooks.generator_loss(model.D, features, features) - generator_loss(hooks.loss, model.D.classify(features))
    assert float(added) == pytest.approx(1e-3 * n_g * 0.01, rel=1e-3)


def test_packs_of_no_sample_are_refused() -> None:
    from ganbench.generators.tricks import TrickHooks

    model = create_generator("gan", SPEC16, preset_width=8)
    with pytest.raises(UserError, match="packing must be at least 1, got 0"):
        TrickHooks(Tricks(packing=0), "gan", SPEC16, model.G, model.D)


def test_diffaugment_is_differentiable_and_shape_preserving() -> None:
    x = torch.linspace(-1, 1, 2 * 16 * 16).view(2, 1, 16, 16).requires_grad_(True)
    out = diff_augment(x, ("color", "translation", "cutout"))
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    ones = torch.ones(64, 1, 16, 16)
    assert (cutout(ones) == 0).sum(dim=(1, 2, 3)).max() == 64
    shifted = translation(ones)
    assert (shifted == 0).any() and torch.equal(shifted.clamp(0, 1), shifted)
    with pytest.raises(UserError, match="not to points"):
        create_generator("gan+diffaugment", POINTS)


def test_diffaugment_reaches_both_real_and_fake(digits16: Dataset) -> None:
    model = create_generator("cgan+diffaugment", SPEC16, preset_width=8)
    x = to_float(digits16.x_train[:8])
    views = [model.tricks.view(x, 0) for _ in range(2)]
    assert not torch.equal(views[0], x) and not torch.equal(views[0], views[1])


@pytest.mark.parametrize("name", ["gan", "cgan", "infogan", "wgan", "wgan-gp", "lsgan", "sngan"])
def test_every_variant_trains_with_every_trick(name: str, digits16: Dataset) -> None:
    tricks = [t for t in TRICK_NAMES if not (name == "infogan" and t == "packing")
              and not (name in ("wgan", "wgan-gp", "sngan") and t == "label-smoothing")]
    model = create_generator("+".join([name, *tricks]), SPEC16, preset_width=8)
    model.configure_optimizers()
    logs = {**model.discriminator_step(batch(digits16)), **model.generator_step(batch(digits16))}
    assert all(torch.isfinite(v) for v in logs.values())


def test_cli_runs_a_variant_with_a_trick(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--suite", "gan+packing,spectrum", "--preset", "smoke",
                                      "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "checkpoints").glob("gan_packing-*.pt"))
    bad = CliRunner().invoke(app, ["run", "--suite", "gan+nope,spectrum", "--preset", "smoke", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown training trick" in bad.output
