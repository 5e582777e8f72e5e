"""Training curves: the JSONL a training writes, its window means, resume, determinism, the report."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from ganbench.context import RunConfig, RunContext
from ganbench.curves import CurveConfig, CurveLogger, QualityProbe, curve_probe
from ganbench.data import load_dataset
from ganbench.features import Extracted
from ganbench.generation import GenerationUnits
from ganbench.generators import DataSpec, create_generator
from ganbench.leaderboards.publish import publish
from ganbench.presets import get_preset
from ganbench.records import TrainRecord
from ganbench.runtime import derive_seed
from ganbench.store import RunStore
from ganbench.units import UnitEngine

WALL_CLOCK = ("seconds", "created", "checksum")


def train(out: Path, curves: CurveConfig | None) -> tuple[RunContext, TrainRecord]:
    """DCGAN on digits at the smoke preset (20 steps) in ``out``, with or without its curve."""
    ctx = RunContext(RunConfig(suite="dcgan", preset=get_preset("smoke"), out=out, quiet=True))
    units = GenerationUnits(ctx, UnitEngine(ctx.store, ctx.scope, ctx.console), curves=curves)
    record = units.train_generator("dcgan")
    assert isinstance(record, TrainRecord) and record.ok, record.reason
    return ctx, record




@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RunContext, TrainRecord]]:
    return {"with": train(tmp_path_factory.mktemp("with"), CurveConfig()),
            "without": train(tmp_path_factory.mktemp("without"), None)}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_training_writes_losses_and_checks_at_the_expected_steps(runs) -> None:
    ctx, record = runs["with"]
    path = ctx.store.root / record.info["curves"]
    assert path == ctx.store.curves_path("dcgan", record.key)
    written = lines(path)
    losses = [line for line in written if "losses" in line]
    checks = [line for line in written if "quality" in line]
    assert [line["step"] for line in losses] == [10, 20]
    assert all(line["window"] == 10 and set(line["losses"]) == {"loss_d", "loss_g"} for line in losses)
    assert [line["step"] for line in checks] == [4, 8, 12, 16, 20]
    for line in checks:
        assert line["n_fake"] == CurveConfig().n_fake
        assert set(line["quality"]) == {"fid", "classes_covered", "class_kl"}
        assert line["quality"]["fid"] > 0 and 1 <= line["quality"]["classes_covered"] <= 10
    assert losses[-1]["losses"]["loss_d"] != record.info["losses"]["loss_d"], "a mean, not the last step's loss"


def test_loss_lines_hold_the_mean_over_their_window(tmp_path: Path) -> None:
    path = tmp_path / "curve.jsonl"
    with CurveLogger(path, budget=25, config=CurveConfig(every=10)) as logger:
        for step in range(1, 26):
            logger.on_step(step, {"loss_d": float(step), **({"extra": 1.0} if step % 2 else {})})
    written = lines(path)
    assert [(line["step"], line["window"]) for line in written] == [(10, 10), (20, 10), (25, 5)]
    assert [line["losses"]["loss_d"] for line in written] == [5.5, 15.5, 23.0]
    assert all(line["losses"]["extra"] == 1.0 for line in written), "a loss missing at some steps averages the rest"


def test_the_last_steps_losses_are_written_at_the_last_step_before_its_check(tmp_path: Path) -> None:
    """A budget that is no multiple of ``every`` writes its short last window at the last step, ahead of
    that step's check, not only once the logger closes."""

    class Probe:
        n_fake = 2

        def __call__(self, model: Any) -> dict[str, float]:
            return {"fid": 1.0}

    path = tmp_path / "curve.jsonl"
    logger = CurveLogger(path, budget=25, probe=Probe(), config=CurveConfig(every=10, checks=1))  # type: ignore[arg-type]
    for step in range(1, 26):
        logger.on_step(step, {"loss": float(step)})
    assert [(line["step"], line["window"]) for line in lines(path)] == [(10, 10), (20, 10), (25, 5)]
    assert logger.due(25)
    logger.check(25, None)  # type: ignore[arg-type]
    logger.close()
    assert [(line["step"], "quality" in line) for line in lines(path)] == [(10, False), (20, False), (25, False),
                                                                          (25, True)]


def test_checks_fall_on_the_last_step_too_and_on_every_step_of_a_short_budget(tmp_path: Path) -> None:
    def due(budget: int, checks: int, probe: Any = object()) -> list[int]:
        logger = CurveLogger(tmp_path / "curve.jsonl", budget=budget, probe=probe, config=CurveConfig(checks=checks))
        return [step for step in range(1, budget + 1) if logger.due(step)]

    assert due(103, 5) == [20, 40, 60, 80, 100, 103]
    assert due(3, 5) == [1, 2, 3]
    assert due(20, 0) == [] and due(20, 5, probe=None) == []


def test_a_curve_config_needs_a_positive_interval_and_two_fakes_and_reals() -> None:
    """A covariance needs two samples; a loss line every 0 steps, or a negative number of checks, is no schedule."""
    for bad in ({"every": 0}, {"checks": -1}, {"n_fake": 1}, {"n_real": 1}):
        with pytest.raises(ValueError, match="invalid"):
            CurveConfig(**bad)
    assert CurveConfig(every=1, checks=0, n_fake=2, n_real=2).checks == 0


def test_the_cheap_check_draws_from_its_own_seed_stream() -> None:
    """The check's fakes come from the run seed's ``curves`` stream, not from the seed that draws the
    generation unit's fakes."""
    probe = QualityProbe(load_dataset("toy2d", 8), None, seed=3)
    assert probe.seed == derive_seed(3, "curves") != 3


class RecordingFeatures:
    """A stand-in for the reference classifier: pixels are the features; every batch it is given is kept."""

    weights_hash = "recording-stand-in"

    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def extract(self, images: torch.Tensor, batch_size: int = 100) -> Extracted:
        self.batches.append(images.clone())
        return Extracted(images.flatten(1).float(), None)


def test_the_cheap_check_compares_with_a_fixed_subset_of_n_real_test_images() -> None:
    data = load_dataset("digits", 8)
    extractor = RecordingFeatures()
    tests = {bytes(x.numpy()) for x in data.x_test}
    mu, sigma = QualityProbe(data, extractor, seed=0, n_fake=4, n_real=10).real_statistics()  # type: ignore[arg-type]
    (chosen,) = extractor.batches
    assert len({bytes(x.numpy()) for x in chosen}) == 10 and all(bytes(x.numpy()) in tests for x in chosen)
    features = chosen.flatten(1).double()
    assert torch.allclose(torch.from_numpy(mu), features.mean(0)) and sigma.shape == (64, 64)
    more, _ = QualityProbe(data, extractor, seed=0, n_fake=4, n_real=20).real_statistics()  # type: ignore[arg-type]
    assert len(extractor.batches) == 2 and len(extractor.batches[1]) == 20 and not torch.allclose(
        torch.from_numpy(more), torch.from_numpy(mu))
    again, _ = QualityProbe(data, extractor, seed=0, n_fake=4, n_real=10).real_statistics()  # type: ignore[arg-type]
    assert len(extractor.batches) == 2 and (again == mu).all()


def test_logger_leaves_records_and_checkpoints_unchanged(runs) -> None:
    (with_ctx, with_record), (without_ctx, without_record) = runs["with"], runs["without"]
    assert with_record.key == without_record.key
    assert "curves" not in without_record.info

    def body(ctx: RunContext, record: TrainRecord) -> dict[str, Any]:
        data = json.loads(ctx.store.record_path("train", "dcgan", record.key).read_text())
        for name in WALL_CLOCK:
            data.pop(name)
        data["metrics"].pop("train_seconds")
        data["info"].pop("curves", None)
        return data

    def checkpoint(ctx: RunContext, record: TrainRecord) -> bytes:
        state = RunStore.load_checkpoint(ctx.store.root / record.checkpoint)
        state.pop("elapsed")
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    assert body(with_ctx, with_record) == body(without_ctx, without_record)
    assert checkpoint(with_ctx, with_record) == checkpoint(without_ctx, without_record)


def test_resume_drops_the_lines_past_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "curve.jsonl"
    config = CurveConfig(every=10)
    killed = CurveLogger(path, budget=40, config=config)
    for step in range(1, 28):
        killed.on_step(step, {"loss": float(step)})
    with path.open("a") as cut_short:
        cut_short.write('{"step": 30, "losses": {"lo')

    resumed = CurveLogger(path, budget=40, config=config)
    resumed.resume(20)
    assert [line["step"] for line in lines(path)] == [10, 20]
    for step in range(21, 41):
        resumed.on_step(step, {"loss": float(step)})
    resumed.close()
    written = lines(path)
    assert [line["step"] for line in written] == [10, 20, 30, 40]
    assert [line["losses"]["loss"] for line in written] == [5.5, 15.5, 25.5, 35.5]


def test_resume_at_a_step_between_lines_logs_a_shorter_window(tmp_path: Path) -> None:
    path = tmp_path / "curve.jsonl"
    with CurveLogger(path, budget=30, config=CurveConfig(every=10)) as first:
        for step in range(1, 21):
            first.on_step(step, {"loss": 1.0})
    with CurveLogger(path, budget=30, config=CurveConfig(every=10)) as second:
        second.resume(15)
        for step in range(16, 31):
            second.on_step(step, {"loss": 2.0})
    assert [(line["step"], line["window"]) for line in lines(path)] == [(10, 10), (20, 5), (30, 10)]


def test_tensorboard_is_skipped_silently_when_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with CurveLogger(tmp_path / "curve.jsonl", budget=10, tensorboard=tmp_path / "tensorboard") as logger:
        for step in range(1, 11):
            logger.on_step(step, {"loss": 1.0})
    assert len(lines(tmp_path / "curve.jsonl")) == 1
    assert not (tmp_path / "tensorboard").exists()


def test_tensorboard_gets_the_same_scalars_without_the_dropped_ones(tmp_path: Path) -> None:
    pytest.importorskip("torch.utils.tensorboard")
    events = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    folder = tmp_path / "tensorboard"
    with CurveLogger(tmp_path / "curve.jsonl", budget=30, tensorboard=folder) as logger:
        for step in range(1, 26):
            logger.on_step(step, {"loss": float(step)})
    with CurveLogger(tmp_path / "curve.jsonl", budget=30, tensorboard=folder) as logger:
        logger.resume(20)
        for step in range(21, 31):
            logger.on_step(step, {"loss": 100.0 + step})
    accumulator = events.EventAccumulator(str(folder))
    accumulator.Reload()
    assert [(e.step, e.value) for e in accumulator.Scalars("loss/loss")] == [(10, 5.5), (20, 15.5), (30, 125.5)]


def test_points_are_checked_by_mode_coverage() -> None:
    data = load_dataset("toy2d", 16)
    model = create_generator("gan", DataSpec(data.kind, data.channels, data.resolution, data.num_classes), preset_width=16)
    probe = curve_probe(model, data, None, seed=0, config=CurveConfig(n_fake=128))
    assert isinstance(probe, QualityProbe)
    state = torch.get_rng_state()
    quality = probe(model)
    assert torch.equal(state, torch.get_rng_state()) and model.training
    assert {"modes_covered", "high_quality"} <= set(quality)
    assert 0 <= quality["high_quality"] <= 100


def test_the_cheap_check_draws_the_same_fakes_whatever_the_global_rng_state() -> None:
    """The check samples with its own seed: two checks of one network agree though training moved the global RNG."""
    data = load_dataset("toy2d", 16)
    model = create_generator("gan", DataSpec(data.kind, data.channels, data.resolution, data.num_classes), preset_width=16)
    probe = curve_probe(model, data, None, seed=0, config=CurveConfig(n_fake=64))
    assert isinstance(probe, QualityProbe)
    torch.manual_seed(1)
    first = probe.fakes(model)
    torch.manual_seed(2)
    assert torch.equal(first, probe.fakes(model)) and probe(model) == probe(model)
    other = curve_probe(model, data, None, seed=1, config=CurveConfig(n_fake=64))
    assert isinstance(other, QualityProbe) and not torch.equal(first, other.fakes(model))


def test_diffusion_logs_losses_only() -> None:
    data = load_dataset("digits", 16)
    model = create_generator("ddpm", DataSpec(data.kind, data.channels, data.resolution, data.num_classes), preset_width=16)
    assert curve_probe(model, data, lambda: pytest.fail("no classifier needed"), seed=0) is None


def test_published_page_shows_the_curves(runs, tmp_path: Path) -> None:
    ctx, _ = runs["with"]
    site = tmp_path / "site"
    publish(ctx.store.root, site, formats=["html"])
    page = (site / "index.html").read_text()
    assert 'id="curves"' in page
    figures = sorted(site.glob("curves-*.png"))
    assert len(figures) == 1 and f'src="{figures[0].name}"' in page
