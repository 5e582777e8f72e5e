"""The suite runner: turns a suite, a preset and a data set into units and runs each once.

For every generator of the suite: the generation units (:mod:`ganbench.generation`); then, for
every detector and every training set of the detection plan, the detection units and the null
check (:mod:`ganbench.detection`). Units are keyed, locked and recorded by
:mod:`ganbench.units`; a finished unit is read back, never recomputed, unless ``force`` is set.
A unit that raises is recorded as ``failed`` with its reason, and units that depend on it are
recorded as ``skipped`` with that reason. Sharding is described in :mod:`ganbench.planning`.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from ganbench.context import RunConfig, RunContext
from ganbench.detection import EVALUATION_MODULES, DetectionUnits
from ganbench.detectors.plugins import DetectorSpec
from ganbench.detectors.protocols import detection_plan
from ganbench.generation import GenerationUnits
from ganbench.generators import GENERATORS
from ganbench.planning import shard_of, suite_plan, written_samples
from ganbench.quality import MEASUREMENT_MODULES, TASK_MEASURE_MODULES
from ganbench.source_digest import pin_sources
from ganbench.units import HARNESS_MODULES, RunSummary, UnitEngine


def take_all(item: str) -> bool:
    return True


class SuiteRunner:
    """A run's context, its unit engine, and the generation and detection units built on them."""

    def __init__(self, config: RunConfig, console: Console | None = None) -> None:
        self.context = RunContext(config, console)
        self.engine = UnitEngine(self.context.store, self.context.scope, self.context.console, config.force)
        self.generation = GenerationUnits(self.context, self.engine)
        self.detection = DetectionUnits(self.context, self.engine)

    @property
    def summary(self) -> RunSummary:
        return self.engine.summary

    def plan(self) -> tuple[list[str], list[DetectorSpec]]:
        """The suite's generators and detectors; loads the ``--fakes`` sets and pins the sources
        their keys describe to the code this process loaded (``ganbench.source_digest``)."""
        generators, specs = suite_plan(self.context)
        pin_sources([GENERATORS.get(name) for name in generators], [spec.cls for spec in specs],
                    HARNESS_MODULES + EVALUATION_MODULES + MEASUREMENT_MODULES + TASK_MEASURE_MODULES)
        if self.context.data.kind == "image" and not self.detection.external:
            self.detection.load_external_fakes()
        return generators, specs

    def run(self, stage: str = "all", take: Callable[[str], bool] = take_all) -> RunSummary:
        """Every unit of the suite; ``stage`` ``generators`` (train, sample, measure) or ``detectors``
        runs one half, and ``take`` says which work items (a generator, a detector's training set or
        its null check) this process does (``ganbench.parallel`` hands them out to workers)."""
        ctx = self.context
        generators, specs = self.plan()
        samples = {}
        if stage != "detectors":
            samples = {name: self.generation.run_generator(name)[1] for name in shard_of(generators, ctx.config.shard)
                       if take(f"generator {name}")}
        if stage == "generators" or ctx.data.kind != "image" or not specs:
            return self.summary
        if stage == "detectors" or ctx.config.shard is not None:
            written = written_samples(ctx, generators)
            if written is None:
                ctx.console.print("detection units left to the shard that finishes last (fakes of other shards missing)")
                return self.summary
            samples = written
        tests = self.detection.test_sets(samples)
        plan = detection_plan(generators, list(self.detection.external), plan=ctx.config.preset.detection_plan)
        for spec in specs:
            ctx.console.print(f"[bold]detector {spec.name}[/]")
            for training in plan:
                if take(f"detector {spec.name} {training.label}"):
                    self.detection.detector_evaluations(spec, training, samples, tests)
            if take(f"null check {spec.name}"):
                self.detection.null_check(spec)
        return self.summary


def run_suite(config: RunConfig, console: Console | None = None) -> RunSummary:
    return SuiteRunner(config, console).run()
