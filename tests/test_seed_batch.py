"""Seeds of a toy-2D variant trained as one batched model equal the seeds trained one by one.

In float64 the batched and the separate runs differ only by the rounding of their different
matrix kernels (about 1e-16), far too little to flip a maxout unit or an Adam step, so five steps
must agree to 1e-9; in float32 (the benchmark's) one step must agree to 1e-4. Mixing seeds up
(another seed's batches or noise, or one stream for all) would break both by orders of magnitude.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from ganbench.data import load_toy2d
from ganbench.errors import UserError
from ganbench.generators import DataSpec, GenerativeModel, create_generator
from ganbench.generators.seed_batch import SeedBatch, train_seed_batch
from ganbench.generators.trainer import TrainConfig, TrainOutcome, train

VARIANTS = ("gan", "wgan-gp", "lsgan", "sngan", "gan+packing")
DATA = load_toy2d("ring")
SPEC = DataSpec("points", 0, 0, DATA.num_classes)
BATCH = 16


@pytest.fixture
def float64() -> Iterator[None]:
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(saved)


def separate(variant: str, seed: int, steps: int, init_seed: int | None = None) -> tuple[GenerativeModel, TrainOutcome]:
    """One seed trained alone, as ``benchmarks/toy2d_modes.py`` trains it."""
    torch.manual_seed(seed if init_seed is None else init_seed)
    model = create_generator(variant, SPEC)
    return model, train(model, DATA.x_train, DATA.y_train, TrainConfig(steps=steps, batch_size=BATCH, seed=seed))


def assert_seed_equals(batched: SeedBatch, position: int, model: GenerativeModel, tolerance: float) -> None:
    """Every parameter and buffer (BatchNorm statistics, spectral-norm vectors) of one seed."""
    stacked = batched.model.state_dict()
    state = model.state_dict()
    assert set(stacked) == set(state)
    for name, value in state.items():
        torch.testing.assert_close(stacked[name][position], value, rtol=tolerance, atol=tolerance, msg=name)


@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_seeds_equal_separate_runs_in_float64(variant: str, float64: None) -> None:
    seeds, steps = [3, 1], 5
    batched = SeedBatch.create(variant, SPEC, seeds)
    outcomes = train_seed_batch(batched, DATA.x_train, DATA.y_train, steps, BATCH)
    samples = batched.sample(300, [seed + 1000 for seed in seeds], batch_size=128)
    for position, seed in enumerate(seeds):
        model, outcome = separate(variant, seed, steps)
        assert_seed_equals(batched, position, model, 1e-9)
        assert outcomes[position].status == outcome.status == "ok" and outcomes[position].steps == steps
        assert outcomes[position].losses == pytest.approx(outcome.losses, rel=1e-9, abs=1e-12)
        torch.testing.assert_close(samples[position], model.sample(300, seed=seed + 1000, batch_size=128))


@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_seeds_match_separate_runs_in_float32(variant: str) -> None:
    seeds = [0, 2]
    batched = SeedBatch.create(variant, SPEC, seeds)
    outcomes = train_seed_batch(batched, DATA.x_train, DATA.y_train, 1, BATCH)
    for position, seed in enumerate(seeds):
        _, outcome = separate(variant, seed, 1)
        assert outcomes[position].losses == pytest.approx(outcome.losses, rel=1e-4, abs=1e-4)



@pytest.mark.parametrize("variant", ["gan", "lsgan"])
def test_batched_seeds_train_under_bf16_autocast_on_the_cpu(variant: str) -> None:
    """BatchNorm under ``vmap`` takes autocast's bf16 activations; the first discriminator loss,
    computed before any update, is the separate bf16 run's up to bf16 rounding."""
    seeds = [0, 2]
    batched = SeedBatch.create(variant, SPEC, seeds)
    outcomes = train_seed_batch(batched, DATA.x_train, DATA.y_train, 1, BATCH, amp=True)
    for position, seed in enumerate(seeds):
        torch.manual_seed(seed)
        model = create_generator(variant, SPEC)
        outcome = train(model, DATA.x_train, DATA.y_train, TrainConfig(steps=1, batch_size=BATCH, seed=seed, amp=True))
        assert outcomes[position].status == "ok"
        assert outcomes[position].losses["loss_d"] == pytest.approx(outcome.losses["loss_d"], rel=1e-2)

def test_each_seed_has_its_own_batches_and_noise(float64: None) -> None:
    """Two identically initialised models: only their streams tell them apart, and each must
    follow the stream of its own seed (not the first seed's, not the other's)."""
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(create_generator("wgan-gp", SPEC))
    batched = SeedBatch(models, [4, 9])
    train_seed_batch(batched, DATA.x_train, DATA.y_train, 2, BATCH)
    stacked = batched.model.state_dict()
    assert not torch.allclose(stacked["G.net.0.weight"][0], stacked["G.net.0.weight"][1])
    for position, seed in enumerate([4, 9]):
        model, _ = separate("wgan-gp", seed, 2, init_seed=0)
        assert_seed_equals(batched, position, model, 1e-9)


def test_seed_order_only_permutes_the_batch(float64: None) -> None:
    forward, backward = SeedBatch.create("sngan", SPEC, [1, 3, 5]), SeedBatch.create("sngan", SPEC, [5, 3, 1])
    for batched in (forward, backward):
        train_seed_batch(batched, DATA.x_train, DATA.y_train, 2, BATCH)
    state, reversed_state = forward.model.state_dict(), backward.model.state_dict()
    for name, value in state.items():
        torch.testing.assert_close(value, reversed_state[name].flip(0), rtol=1e-9, atol=1e-9, msg=name)


def test_a_diverged_seed_stops_alone() -> None:
    batched, reference = SeedBatch.create("gan", SPEC, [1, 3]), SeedBatch.create("gan", SPEC, [1, 3])
    with torch.no_grad():
        batched.model.G.net[0].weight[1].fill_(float("nan"))
    outcomes = train_seed_batch(batched, DATA.x_train, DATA.y_train, 3, BATCH, read_every=1)
    train_seed_batch(reference, DATA.x_train, DATA.y_train, 3, BATCH)
    assert [o.status for o in outcomes] == ["ok", "diverged"]
    assert outcomes[1].diverged_at == 1 and outcomes[0].steps == 3
    state = reference.model.state_dict()
    for name, value in batched.model.state_dict().items():
        assert torch.equal(value[0], state[name][0]), name


def test_tricks_that_draw_inside_the_loss_are_refused() -> None:
    with pytest.raises(UserError, match="instance noise"):
        SeedBatch.create("gan+instance-noise", SPEC, [0, 1])
