"""What a suite plans and in which order the runner does it: the generators a data set supports, the
detectors asked for and the one-class baseline, each generator of a shard once, then every detector on
every training set of the preset's detection plan and its null check, and the work items ``--jobs``
hands out. Training and detection are replaced by stubs that note each call, so no unit computes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ganbench.context import RunConfig, RunContext
from ganbench.detectors.plugins import DetectorSpec
from ganbench.detectors.protocols import TrainingSet
from ganbench.errors import UserError
from ganbench.planning import parse_shard, suite_plan
from ganbench.presets import get_preset
from ganbench.records import Record
from ganbench.runner import SuiteRunner, take_all
from ganbench.units import sample_unit, train_unit

SUITE = "dcgan,wgan,lsgan,spectrum"
COMPACT = ["dcgan", "all"]
MATRIX = ["dcgan", "wgan", "lsgan", "all", "all-but:dcgan", "all-but:wgan", "all-but:lsgan"]


def config(tmp_path: Path, suite: str = SUITE, **options: Any) -> RunConfig:
    return RunConfig(suite=suite, preset=options.pop("preset", get_preset("smoke")), out=tmp_path, quiet=True,
                     **options)


def detectors(context: RunContext) -> list[tuple[str, tuple]]:
    return [(spec.name, spec.arguments) for spec in suite_plan(context)[1]]


def test_a_suite_plans_the_generators_its_data_supports_and_refuses_a_plan_without_one(tmp_path: Path) -> None:
    points = RunContext(config(tmp_path, "all", dataset="toy2d"))
    assert suite_plan(points)[0] == ["gan", "wgan-gp", "lsgan", "sngan"]
    with pytest.raises(UserError, match="no generator of suite 'translation' supports data set 'toy2d'"):
        suite_plan(RunContext(config(tmp_path, "translation", dataset="toy2d")))
    with pytest.raises(UserError, match="--fakes needs an image data set, not 'toy2d'"):
        suite_plan(RunContext(config(tmp_path, "gan", dataset="toy2d", fakes=("folder:elsewhere",))))


def test_asked_detectors_replace_the_suites_with_their_arguments_and_the_baseline_once(tmp_path: Path) -> None:
    assert detectors(RunContext(config(tmp_path))) == [("spectrum", ()), ("one-class", ())]
    assert detectors(RunContext(config(tmp_path, detectors=("npr", "one-class")))) == [("npr", ()), ("one-class", ())]
    seeded = config(tmp_path, detectors=("spectrum",), detector_arguments=(("seed", 3),))
    assert detectors(RunContext(seeded)) == [("spectrum", (("seed", 3),)), ("one-class", ())]


def test_a_shard_is_i_of_n_from_one_to_n() -> None:
    assert [parse_shard(text) for text in ("1/1", "1/3", "3/3")] == [(1, 1), (1, 3), (3, 3)]
    for text in ("0/2", "3/2", "2"):
        with pytest.raises(UserError, match="--shard"):
            parse_shard(text)


class Calls:
    """A suite runner whose generation and detection units are stubs noting each call; a stubbed
    generator writes its sample record, so that other shards and stages find its fakes."""

    def __init__(self, run_config: RunConfig) -> None:
        self.runner = SuiteRunner(run_config)
        self.calls: list[tuple[str, ...]] = []
        self.tests: list[tuple[str, ...]] = []
        generation, detection = self.runner.generation, self.runner.detection
        generation.run_generator = self.run_generator
        detection.test_sets = self.test_sets
        detection.detector_evaluations = self.detector_evaluations
        detection.null_check = lambda spec: self.calls.append(("null check", spec.name))

    def run_generator(self, name: str) -> list[Any]:
        ctx = self.runner.context
        unit = sample_unit(ctx.scope, name, train_unit(ctx.scope, name).key)
        record = ctx.scope.new_record("sample", unit.key, generator=name)
        ctx.store.write_record(record, unit.label)
        self.calls.append(("generator", name))
        return [None, record, None]

    def test_sets(self, samples: dict[str, Record]) -> dict[str, Record]:
        self.tests.append(tuple(samples))
        return samples

    def detector_evaluations(self, spec: DetectorSpec, training: TrainingSet, samples: dict[str, Record],
                             tests: dict[str, Record]) -> None:
        assert all(record.kind == "sample" and record.generator == name for name, record in samples.items())
        self.calls.append(("detector", spec.name, training.label, *samples))

    def run(self, stage: str = "all", take: Callable[[str], bool] = take_all) -> list[tuple[str, ...]]:
        self.calls.clear()
        self.runner.run(stage, take)
        return list(self.calls)


GENERATORS = ("dcgan", "wgan", "lsgan")
TRAINED = [("generator", name) for name in GENERATORS]


def detection(trainings: list[str]) -> list[tuple[str, ...]]:
    """The calls that fit spectrum, then the one-class baseline, on each training set (with every
    generator's fakes), each detector followed by its null check."""
    return [call for name in ("spectrum", "one-class")
            for call in [("detector", name, label, *GENERATORS) for label in trainings] + [("null check", name)]]


def test_each_generator_trains_then_each_detector_fits_every_training_set_and_its_null_check(
        tmp_path: Path) -> None:
    assert Calls(config(tmp_path / "compact")).run() == TRAINED + detection(COMPACT)
    matrix = get_preset("smoke").with_overrides(detection_plan="matrix")
    assert Calls(config(tmp_path / "matrix", preset=matrix)).run() == TRAINED + detection(MATRIX)


def test_the_generators_stage_trains_and_the_detectors_stage_detects_on_the_written_fakes(tmp_path: Path) -> None:
    assert Calls(config(tmp_path)).run("detectors") == []
    assert Calls(config(tmp_path)).run("generators") == TRAINED
    later = Calls(config(tmp_path))
    assert later.run("detectors") == detection(COMPACT) and later.tests == [GENERATORS]


def test_shards_train_their_generators_and_the_shard_that_finds_every_fake_detects(tmp_path: Path) -> None:
    """Round-robin over the sorted names dcgan, lsgan, wgan: shard 1/2 trains dcgan and wgan and leaves
    detection to shard 2/2, which trains lsgan and then finds every generator's fakes."""
    assert Calls(config(tmp_path, shard=(1, 2))).run() == [("generator", "dcgan"), ("generator", "wgan")]
    last = Calls(config(tmp_path, shard=(2, 2)))
    assert last.run() == [("generator", "lsgan")] + detection(COMPACT)
    assert last.tests == [GENERATORS]


def test_each_work_item_is_offered_once_and_only_the_taken_ones_run(tmp_path: Path) -> None:
    offered: list[str] = []
    taken = {"generator wgan", "detector spectrum all", "null check one-class"}

    def take(item: str) -> bool:
        offered.append(item)
        return item in taken

    calls = Calls(config(tmp_path)).run("all", take)
    assert offered == ["generator dcgan", "generator wgan", "generator lsgan",
                       "detector spectrum dcgan", "detector spectrum all", "null check spectrum",
                       "detector one-class dcgan", "detector one-class all", "null check one-class"]
    assert calls == [("generator", "wgan"), ("detector", "spectrum", "all", "wgan"), ("null check", "one-class")]


def test_a_points_run_trains_its_generators_and_fits_no_detector(tmp_path: Path) -> None:
    assert Calls(config(tmp_path, "gan,lsgan,spectrum", dataset="toy2d")).run() == [("generator", "gan"),
                                                                                  ("generator", "lsgan")]

