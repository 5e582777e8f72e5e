"""The trainer reads losses from the device every few steps, not every step, and loses nothing by it.

Checked on the original GAN's tiny MLPs (8x8 digits, toy2d points): when losses reach the host,
that the values and the curve averages are the floats a per-step ``float(loss)`` gives, and that a
non-finite loss is caught at the next read, recorded at its own step, and never checkpointed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from ganbench.curves import CurveConfig, CurveLogger, curve_probe
from ganbench.data import Dataset, load_dataset
from ganbench.generators import DataSpec, GenerativeModel, create_generator
from ganbench.generators.gan import GAN
from ganbench.generators import step_losses
from ganbench.generators.step_losses import LossReader
from ganbench.generators.trainer import DeviceBatches, TrainConfig, train




@pytest.fixture(scope="module")
def digits8() -> Dataset:
    return load_dataset("digits", 8)


@pytest.fixture(scope="module")
def toy() -> Dataset:
    return load_dataset("toy2d", 8)


def build(data: Dataset) -> GenerativeModel:
    torch.manual_seed(0)
    return create_generator("gan", DataSpec(data.kind, data.channels, data.resolution, data.num_classes), preset_width=4)


def record_losses(monkeypatch: pytest.MonkeyPatch, nan_at: int | None = None) -> list[dict[str, float]]:
    """Each step's losses as ``float(loss)`` reads them the moment the variant returns them
    (``loss_g`` times NaN at step ``nan_at``)."""
    seen: list[dict[str, float]] = []
    discriminator_step, generator_step = GAN.discriminator_step, GAN.generator_step

    def read_d(self: GAN, batch: Any) -> dict[str, torch.Tensor]:
        logs = discriminator_step(self, batch)
        seen.append({name: float(value) for name, value in logs.items()})
        return logs

    def read_g(self: GAN, batch: Any) -> dict[str, torch.Tensor]:
        logs = generator_step(self, batch)
        if batch.step + 1 == nan_at:
            logs = {**logs, "loss_g": logs["loss_g"] * float("nan")}
        seen[-1].update({name: float(value) for name, value in logs.items()})
        return logs

    monkeypatch.setattr(GAN, "discriminator_step", read_d)
    monkeypatch.setattr(GAN, "generator_step", read_g)
    return seen


def means(steps: list[dict[str, float]]) -> dict[str, float]:
    """The window means as the curve logger computed them from per-step floats."""
    sums: dict[str, float] = {}
    for losses in steps:
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value
    return {name: total / len(steps) for name, total in sums.items()}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_losses_reach_the_host_only_every_read_interval_and_at_checkpoints(digits8: Dataset) -> None:
    read_when_handed_over: dict[int, bool] = {}
    config = TrainConfig(steps=25, batch_size=32, read_every=10, checkpoint_every=15)
    train(build(digits8), digits8.x_train, digits8.y_train, config,
          on_step=lambda step, losses: read_when_handed_over.setdefault(step, losses.is_read))
    assert len(read_when_handed_over) == 25
    assert [step for step, read in read_when_handed_over.items() if read] == [10, 15, 20, 25]
    with pytest.raises(ValueError, match="read_every"):
        TrainConfig(steps=1, batch_size=1, read_every=0)


def test_curve_means_are_the_per_step_floats_averaged(digits8: Dataset, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_losses(monkeypatch)
    path = tmp_path / "curve.jsonl"
    with CurveLogger(path, budget=25, config=CurveConfig(every=10, checks=0)) as logger:
        outcome = train(build(digits8), digits8.x_train, digits8.y_train, TrainConfig(steps=25, batch_size=32),
                        on_step=logger.on_step)
    assert len(seen) == 25 and outcome.status == "ok" and outcome.losses == seen[-1]
    assert lines(path) == [{"step": 10, "window": 10, "losses": means(seen[:10])},
                           {"step": 20, "window": 10, "losses": means(seen[10:20])},
                           {"step": 25, "window": 5, "losses": means(seen[20:])}]


def test_divergence_is_caught_at_the_next_read_and_recorded_at_its_step(toy: Dataset, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_losses(monkeypatch, nan_at=13)
    model = build(toy)
    saved: list[int] = []
    path = tmp_path / "curve.jsonl"
    config = TrainConfig(steps=35, batch_size=32, read_every=10, checkpoint_every=15)
    with CurveLogger(path, budget=35, probe=curve_probe(model, toy, None, seed=0, config=CurveConfig(n_fake=64)),
                     config=CurveConfig(every=5, checks=5)) as logger:

        def on_step(step: int, losses: Any) -> None:
            logger.on_step(step, losses)
            if logger.due(step):
                logger.check(step, model)

        outcome = train(model, toy.x_train, toy.y_train, config, checkpoint=tmp_path / "gan.pt",
                        save=lambda path, state: saved.append(state["step"]), on_step=on_step)
    assert (outcome.status, outcome.diverged_at, outcome.steps) == ("diverged", 13, 13)
    assert outcome.losses["loss_d"] == seen[12]["loss_d"] and outcome.losses["loss_g"] != outcome.losses["loss_g"]
    assert saved == []  # the checkpoint of step 15 would hold diverged weights
    # as when the loop stopped at step 13: the losses up to step 12, the check of step 7, none at 14
    written = lines(path)
    assert [(line["step"], "losses" in line) for line in written] == [(5, True), (7, False), (10, True), (12, True)]
    assert written[-1] == {"step": 12, "window": 2, "losses": means(seen[10:12])}


def test_reader_gives_each_dtype_the_float_of_float() -> None:
    third = {"fp32": torch.tensor(1 / 3), "bf16": torch.tensor(1 / 3, dtype=torch.bfloat16),
             "fp64": torch.tensor(1 / 3, dtype=torch.float64), "shaped": torch.tensor([2.5]), "python": 0.25}
    reader = LossReader()
    first, second = reader.add(1, third), reader.add(2, {"fp32": torch.tensor(float("inf"))})
    assert not first.is_read and list(first) == list(third) and len(first) == 5
    assert first["bf16"] == float(third["bf16"]) and second.is_read
    assert dict(first) == {name: float(value) for name, value in third.items()}
    assert first.finite() and not second.finite()


def test_losses_stacked_for_one_transfer_are_read_without_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The accelerator path (CPU tensors taken for a device's here): the losses of every unread step
    go to the host in one stacked copy and come back as the floats ``float(loss)`` gives, each to
    its own step and name."""
    monkeypatch.setattr(step_losses, "_on_accelerator", lambda value: isinstance(value, torch.Tensor))
    steps = [{"fp64": torch.tensor(1 / 3, dtype=torch.float64), "bf16": torch.tensor(1 / 7, dtype=torch.bfloat16),
              "fp32": torch.tensor([step + 0.1]), "python": 0.25} for step in range(3)]
    reader = LossReader()
    entries = [reader.add(step, losses) for step, losses in enumerate(steps)]
    assert dict(entries[1]) == {name: float(value) for name, value in steps[1].items()}
    assert all(entry.is_read and dict(entry) == {name: float(value) for name, value in losses.items()}
               for entry, losses in zip(entries, steps))


def test_a_training_stopped_by_its_time_limit_is_checkpointed_as_unfinished(toy: Dataset, tmp_path: Path) -> None:
    """A run cut by ``max_seconds`` writes a checkpoint that says it did not finish (so it is resumed,
    not reused); a run that reaches its budget writes one that says it did."""
    saved: list[tuple[int, bool]] = []

    def save(path: Path, state: dict[str, Any]) -> None:
        saved.append((state["step"], state["finished"]))

    cut = train(build(toy), toy.x_train, toy.y_train, TrainConfig(steps=20, batch_size=32, max_seconds=0.0),
                checkpoint=tmp_path / "cut.pt", save=save)
    assert (cut.status, cut.stopped_by, saved) == ("truncated", "time", [(0, False)])
    saved.clear()
    done = train(build(toy), toy.x_train, toy.y_train, TrainConfig(steps=3, batch_size=32),
                 checkpoint=tmp_path / "done.pt", save=save)
    assert (done.status, done.steps, saved) == ("ok", 3, [(3, True)])


def test_device_batches_keep_each_sample_with_its_label() -> None:
    """Shuffled batches index images and labels with one permutation, over several epochs."""
    n = 50
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2)
    batches = DeviceBatches(x, torch.arange(n), batch_size=16, seed=3)
    seen = []
    for step in range(9):
        batch = batches.next("points", step)
        assert torch.equal(batch.real[:, 0].long(), batch.labels)
        seen.append(batch.labels)
    assert not torch.equal(seen[0], torch.arange(16))
    assert sorted(torch.cat(seen[:3]).tolist()) == sorted(set(torch.cat(seen[:3]).tolist()))


def test_a_steps_loss_names_need_no_read() -> None:
    """Listing or counting a step's losses leaves them on the device."""
    entry = LossReader().add(3, {"loss_d": torch.tensor(1.0), "loss_g": torch.tensor(2.0)})
    assert list(entry) == ["loss_d", "loss_g"] and len(entry) == 2 and not entry.is_read


def test_each_read_stacks_only_the_steps_not_read_yet_detached(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read transfers the detached losses of the steps since the last read, not the earlier ones again."""
    monkeypatch.setattr(step_losses, "_on_accelerator", lambda value: isinstance(value, torch.Tensor))
    stacked: list[list[torch.Tensor]] = []
    stack = torch.stack
    monkeypatch.setattr(torch, "stack", lambda tensors: stacked.append(list(tensors)) or stack(tensors))
    weight = torch.tensor(2.0, requires_grad=True)
    reader = LossReader()
    first = [reader.add(step, {"loss_d": weight * step, "loss_g": weight}) for step in range(2)]
    assert dict(first[0]) == {"loss_d": 0.0, "loss_g": 2.0}
    later = reader.add(2, {"loss_d": weight * 2, "loss_g": weight})
    assert dict(later) == {"loss_d": 4.0, "loss_g": 2.0}
    assert [len(tensors) for tensors in stacked] == [4, 2]
    assert not any(t.requires_grad for tensors in stacked for t in tensors)


def test_checkpoints_are_written_every_interval_and_once_at_the_end_with_their_time(toy: Dataset,
                                                                                   tmp_path: Path) -> None:
    """Step 3 of a 6-step budget is checkpointed unfinished and step 6, the last, once, finished; each
    checkpoint carries the time trained so far."""
    saved: list[tuple[int, bool, float]] = []

    def save(path: Path, state: dict[str, Any]) -> None:
        saved.append((state["step"], state["finished"], state["elapsed"]))

    train(build(toy), toy.x_train, toy.y_train, TrainConfig(steps=6, batch_size=32, checkpoint_every=3),
          checkpoint=tmp_path / "gan.pt", save=save)
    assert [(step, finished) for step, finished, _ in saved] == [(3, False), (6, True)]
    assert 0.0 < saved[0][2] <= saved[1][2]


def test_a_resumed_training_counts_the_time_it_trained_before(toy: Dataset, tmp_path: Path) -> None:
    """A checkpoint that says 100 s were trained resumes with them: a 50 s limit stops it at once,
    at the checkpoint's step, and its time counts the 100 s."""
    states: list[dict[str, Any]] = []
    train(build(toy), toy.x_train, toy.y_train, TrainConfig(steps=4, batch_size=32, checkpoint_every=2),
          checkpoint=tmp_path / "gan.pt", save=lambda path, state: states.append(state))
    resumed = {**states[0], "elapsed": 100.0}
    (tmp_path / "gan.pt").touch()
    outcome = train(build(toy), toy.x_train, toy.y_train,
                    TrainConfig(steps=4, batch_size=32, checkpoint_every=2, max_seconds=50.0),
                    checkpoint=tmp_path / "gan.pt", load=lambda path: resumed)
    assert (outcome.status, outcome.steps) == ("truncated", 2) and outcome.seconds >= 100.0


def test_a_divergence_is_recorded_at_the_first_of_the_non_finite_steps_a_read_finds(
        toy: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps 13 and 16 both have a NaN loss and one read (at step 20) finds them: the training
    diverged at step 13."""
    generator_step = GAN.generator_step

    def nan_at_13_and_16(self: GAN, batch: Any) -> dict[str, torch.Tensor]:
        logs = generator_step(self, batch)
        return {**logs, "loss_g": logs["loss_g"] * float("nan")} if batch.step + 1 in (13, 16) else logs

    monkeypatch.setattr(GAN, "generator_step", nan_at_13_and_16)
    outcome = train(build(toy), toy.x_train, toy.y_train, TrainConfig(steps=30, batch_size=32, read_every=10))
    assert (outcome.status, outcome.diverged_at, outcome.steps) == ("diverged", 13, 13)


def test_a_packed_variant_draws_a_batch_of_packs(toy: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """PacGAN's m = 4 packs of 8: every critic update sees 4 x 8 = 32 real samples."""
    sizes: list[int] = []
    discriminator_step = GAN.discriminator_step

    def count(self: GAN, batch: Any) -> dict[str, torch.Tensor]:
        sizes.append(len(batch.real))
        return discriminator_step(self, batch)

    monkeypatch.setattr(GAN, "discriminator_step", count)
    torch.manual_seed(0)
    model = create_generator("gan+packing", DataSpec(toy.kind, toy.channels, toy.resolution, toy.num_classes),
                             preset_width=4)
    assert model.pack_size == 4
    train(model, toy.x_train, toy.y_train, TrainConfig(steps=1, batch_size=8))
    assert sizes == [32]
