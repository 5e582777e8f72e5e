"""Seeds of a toy-2D variant trained as one batched model equal the seeds trained one by one.

In float64 the batched and the separate runs differ only by the rounding of their different
matrix kernels (about 1e-16), far too little to flip a maxout unit or an Adam step, so five steps
must agree to 1e-9; in float32 (the benchmark's) one step must agree to 1e-4. Mixing seeds up
(another seed's batches or noise, or one stream for all) would break both by orders of magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ganbench.data import load_toy2d
from ganbench.errors import UserError
from ganbench.generators import DataSpec, GenerativeModel, create_generator
from ganbench.generators.seed_batch import SeedBatch, make_capturable, train_seed_batch
from ganbench.generators.step_replay import StepReplay
from ganbench.generators.trainer import DeviceBatches, TrainConfig, TrainOutcome, train
from ganbench.runtime import torch_generator

VARIANTS = ("gan", "wgan-gp", "lsgan", "sngan", "gan+packing")
DATA = load_toy2d("ring")
LAYOUTS = {"ring": DATA, "grid": load_toy2d("grid")}
SPEC = DataSpec("points", 0, 0, DATA.num_classes)
BATCH = 16


@pytest.fixture
def float64() -> Iterator[None]:
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(saved)


def separate(variant: str, seed: int, steps: int, init_seed: int | None = None,
             layout: str = "ring") -> tuple[GenerativeModel, TrainOutcome]:
    """One seed trained alone, as ``benchmarks/toy2d_modes.py`` trains it."""
    data = LAYOUTS[layout]
    torch.manual_seed(seed if init_seed is None else init_seed)
    model = create_generator(variant, DataSpec("points", 0, 0, data.num_classes))
    return model, train(model, data.x_train, data.y_train, TrainConfig(steps=steps, batch_size=BATCH, seed=seed))


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


def test_seeds_with_data_sets_of_their_own_equal_their_separate_runs(float64: None) -> None:
    """Both layouts in one batch, one seed on both: each model trains on its own layout only."""
    members = [("ring", 3), ("grid", 3), ("grid", 1)]
    models = []
    for layout, seed in members:
        torch.manual_seed(seed)
        models.append(create_generator("sngan", DataSpec("points", 0, 0, LAYOUTS[layout].num_classes)))
    batched = SeedBatch(models, [seed for _, seed in members])
    data = [LAYOUTS[layout] for layout, _ in members]
    train_seed_batch(batched, [d.x_train for d in data], [d.y_train for d in data], 3, BATCH)
    for position, (layout, seed) in enumerate(members):
        model, _ = separate("sngan", seed, 3, layout=layout)
        assert_seed_equals(batched, position, model, 1e-9)
    with pytest.raises(ValueError, match="one data set per seed: 3 seeds, 2 point sets, 3 label sets"):
        train_seed_batch(batched, [d.x_train for d in data[:2]], [d.y_train for d in data], 1, BATCH)


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


def test_feature_matching_generator_matches_the_last_critic_batch(float64: None) -> None:
    """WGAN-GP's five critic updates each take a batch; G's feature-matching loss reads the reals of
    the last one, as a separate run's generator step does."""
    seeds, steps = [3, 1], 1
    batched = SeedBatch.create("wgan-gp+feature-matching", SPEC, seeds)
    train_seed_batch(batched, DATA.x_train, DATA.y_train, steps, BATCH)
    for position, seed in enumerate(seeds):
        model, _ = separate("wgan-gp+feature-matching", seed, steps)
        assert_seed_equals(batched, position, model, 1e-9)


def test_models_of_one_variant_with_other_settings_are_refused() -> None:
    """The seeds share one optimizer per player and one loss, so they must share the settings."""
    torch.manual_seed(0)
    models = [create_generator("gan", SPEC), create_generator("gan", SPEC, lr=1e-3)]
    with pytest.raises(ValueError, match="one configuration"):
        SeedBatch(models, [0, 1])
    with pytest.raises(ValueError, match="one model per seed"):
        SeedBatch(models[:1], [0, 1])


def test_tricks_that_draw_inside_the_loss_are_refused() -> None:
    with pytest.raises(UserError, match="instance noise"):
        SeedBatch.create("gan+instance-noise", SPEC, [0, 1])


def test_historical_averaging_and_image_models_are_refused() -> None:
    """Historical averaging keeps a running mean outside the batched state; images are not points."""
    with pytest.raises(UserError, match="historical averaging"):
        SeedBatch.create("gan+historical-averaging", SPEC, [0, 1])
    with pytest.raises(UserError, match="noise GANs on points"):
        SeedBatch.create("gan", DataSpec("image", 1, 8, 10), [0, 1])


def test_a_seed_diverged_after_the_last_read_is_caught_at_the_end_with_its_own_losses() -> None:
    """Three steps read every ten: the final step's check still stops the NaN seed, whose recorded
    losses are its own, not the healthy seed's."""
    batched = SeedBatch.create("gan", SPEC, [1, 3])
    with torch.no_grad():
        batched.model.G.net[0].weight[1].fill_(float("nan"))
    outcomes = train_seed_batch(batched, DATA.x_train, DATA.y_train, 3, BATCH, read_every=10)
    assert [o.status for o in outcomes] == ["ok", "diverged"]
    assert outcomes[1].diverged_at == 1 and outcomes[0].steps == 3
    assert not all(math.isfinite(value) for value in outcomes[1].losses.values())
    assert all(math.isfinite(value) for value in outcomes[0].losses.values())


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_replayed_step_trains_exactly_as_the_eager_step(variant: str) -> None:
    """The replay protocol (fixed input buffers refilled every step, outputs rewritten in place)
    past its three eager warm-up steps gives the eager path's weights and losses bit for bit."""
    eager, replayed = SeedBatch.create(variant, SPEC, [0, 2]), SeedBatch.create(variant, SPEC, [0, 2])
    expected = train_seed_batch(eager, DATA.x_train, DATA.y_train, 6, BATCH)
    outcomes = train_seed_batch(replayed, DATA.x_train, DATA.y_train, 6, BATCH, replay="static")
    assert [o.losses for o in outcomes] == [o.losses for o in expected]
    state = eager.model.state_dict()
    for name, value in replayed.model.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_a_replayed_step_hands_back_each_steps_own_losses() -> None:
    """A seed that turns NaN during the replayed steps is caught at the next read and recorded
    at its own step, not at the first step whose losses the replay later overwrote."""
    batched = SeedBatch.create("gan", SPEC, [1, 3])

    def poison(step: int, training: list[int]) -> None:
        if step == 5:
            with torch.no_grad():
                batched.model.G.net[0].weight[1].fill_(float("nan"))

    outcomes = train_seed_batch(batched, DATA.x_train, DATA.y_train, 8, BATCH, replay="static", on_step=poison)
    assert [o.status for o in outcomes] == ["ok", "diverged"]
    assert outcomes[1].diverged_at == 6 and outcomes[0].steps == 8


class HostReads(TorchDispatchMode):
    """The operations that would stop a CUDA graph from recording a step: a read of a tensor's
    value on the host, an output whose size depends on values, a random draw."""

    NAMES = ("_local_scalar_dense", "nonzero", "masked_select", "unique", "rand", "normal", "uniform", "bernoulli",
             "multinomial")

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, object]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if any(name in func.__name__ for name in self.NAMES):
            self.reads.append((func.__name__, args[0] if args else None))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_training_step_reads_nothing_back_and_draws_nothing(variant: str) -> None:
    """The step a CUDA graph records: its only host reads on the CPU are Adam's step counts,
    which Adam keeps on the device when it steps inside a graph; its random inputs come in."""
    batched = SeedBatch.create(variant, SPEC, [0, 2])
    streams = [DeviceBatches(DATA.x_train, DATA.y_train, BATCH * batched.model.pack_size, s) for s in batched.seeds]
    generators = [torch_generator(seed, "cpu") for seed in batched.seeds]
    batched.train()
    batched.training_step(batched.step_inputs(streams, generators, 0, 0.0))
    counts = [state["step"] for optimizer in batched.optimizers.values() for state in optimizer.state.values()]
    inputs = batched.step_inputs(streams, generators, 1, 0.5)
    with HostReads() as mode:
        batched.training_step(inputs)
    others = [name for name, tensor in mode.reads if not any(tensor is count for count in counts)]
    assert mode.reads and not others


def test_step_replay_refuses_inputs_of_another_shape() -> None:
    replay = StepReplay(lambda inputs: {"y": inputs["x"] * 2}, "static", warmup=1)
    for _ in range(3):
        assert torch.equal(replay({"x": torch.ones(3)})["y"], torch.full((3,), 2.0))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        replay({"x": torch.ones(4)})
    with pytest.raises(ValueError, match="takes the inputs"):
        replay({"z": torch.ones(3)})
    with pytest.raises(ValueError, match="float64"):
        replay({"x": torch.ones(3, dtype=torch.float64)})


def test_step_replay_records_after_its_warmup_into_its_own_buffers() -> None:
    """``warmup`` eager steps, then one recording replayed: every step returns its own outputs,
    the replayed steps write one set of output tensors, and the caller's inputs are never written."""
    replay = StepReplay(lambda inputs: {"y": inputs["x"] * 2}, "static", warmup=2)
    given, returned, written = [], [], []
    for step in range(5):
        given.append(torch.full((3,), float(step)))
        returned.append(replay({"x": given[-1]}))
        assert (replay.replay is None) == (step < 2) and replay.calls == step + 1
        written.append(replay.outputs.get("y"))
    assert all(written[2] is later for later in written[3:])
    for step in range(5):
        assert torch.equal(given[step], torch.full((3,), float(step)))
        assert torch.equal(returned[step]["y"], torch.full((3,), 2.0 * step))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_cuda_graphs_are_refused_without_cuda() -> None:
    batched = SeedBatch.create("gan", SPEC, [0, 1])
    with pytest.raises(UserError, match="CUDA device"):
        train_seed_batch(batched, DATA.x_train, DATA.y_train, 2, BATCH, replay="cuda-graph")
    with pytest.raises(UserError, match="CUDA"):
        StepReplay(lambda inputs: inputs, "cuda-graph")


def test_optimizers_made_capturable_keep_their_step_counts_beside_the_parameters() -> None:
    """A graph replays Adam's update of its step count only where that count is a tensor on the
    parameters' device; a count left behind would stay at the step the graph was recorded at."""
    batched = SeedBatch.create("gan", SPEC, [0, 1])
    train_seed_batch(batched, DATA.x_train, DATA.y_train, 2, BATCH)
    make_capturable(batched.optimizers.values())
    for optimizer in batched.optimizers.values():
        assert all(group["capturable"] for group in optimizer.param_groups)
        for parameter, state in optimizer.state.items():
            assert state["step"].device == parameter.device and state["step"].dtype == torch.float32
            assert float(state["step"]) == 2
