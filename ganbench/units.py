"""The unit engine: what each kind of unit is keyed by, and how a unit is read back or computed once.

A unit is one step of a run (``train``, ``sample``, ``generation``, ``detection``,
``null_check``, and the human-evaluation image set). Its key hashes everything that changes its
result: the :class:`Scope` every unit shares (data set and its content fingerprint, preset,
seed) and the unit's own configuration. Each kind has exactly one key function below, used by
every module that needs the key (running, resuming, sharding, reading a trained model back).

:class:`UnitEngine` reads a finished unit's record back, or computes it under the unit's lock and
writes its record atomically; a unit that raises is recorded as ``failed`` with its reason, and a
unit whose input failed is recorded as ``skipped``. A damaged record, or a damaged output of a
finished unit (its checkpoint, its fakes), is moved aside under the unit's lock, where no other
process writes it, named on one warning line, and the unit is computed again.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from rich.console import Console

from ganbench.errors import Interrupted, UserError
from ganbench.features import ContentClassifier
from ganbench.generators import GENERATORS, generator_config
from ganbench.overrides import Overrides
from ganbench.source_digest import modules_digest, source_digest
from ganbench.presets import Preset
from ganbench.quality import MEASUREMENT_MODULES, TASK_MEASURE_MODULES, QualityConfig
from ganbench.records import Record, new_record
from ganbench.runtime import processor
from ganbench.store import Damage, DamagedFile, RunStore, quarantine, unit_key

FAKE_SETS = ("eval", "detector_train", "fresh")
# Preset fields that change no unit's result: how often training checkpoints, which detectors the plan fits.
NO_RESULT_FIELDS = ("checkpoint_every", "detection_plan")


@dataclass(frozen=True)
class Scope:
    """What every unit of a run shares: the data set (and the intensity ``levels`` of a quantized one),
    the preset, the seed, the kind of device and the CPU thread count (on another device, or with
    another count, kernels round differently and draw other random streams, and training amplifies
    that); ``overrides`` of generators' hyper-parameters enter only the keys of those generators'
    units, and ``amp`` (bf16 autocast) and ``compiled`` (the ``torch.compile`` mode, None when
    eager) only the training units' keys."""

    dataset: str
    data_fingerprint: str
    data_kind: str
    preset: Preset
    seed: int
    overrides: Overrides = Overrides()
    amp: bool = False
    compiled: str | None = None
    threads: int = field(default_factory=torch.get_num_threads)
    device: str = "cpu"
    levels: tuple[int, ...] | None = None

    def base(self) -> dict[str, Any]:
        """The part of every unit key that the scope contributes."""
        preset = {k: v for k, v in dataclasses.asdict(self.preset).items() if k not in NO_RESULT_FIELDS}
        return {"dataset": self.dataset, "data": self.data_fingerprint, "preset": preset, "seed": self.seed,
                "device": self.device, "threads": self.threads}

    def new_record(self, kind: str, key: str, **fields: Any) -> Record:
        return new_record(kind, key, dataset=self.dataset, preset=self.preset.name, seed=self.seed, **fields)


@dataclass(frozen=True)
class Unit:
    """A unit's kind, file label, configuration and key."""

    kind: str
    label: str
    config: dict[str, Any]
    key: str


def _unit(scope: Scope, kind: str, label: str, config: dict[str, Any]) -> Unit:
    return Unit(kind, label, config, unit_key({"unit": kind, **scope.base(), **config}))


def fake_counts(preset: Preset) -> dict[str, int]:
    """How many fakes each of a generator's three sets holds."""
    return {"eval": preset.n_eval, "detector_train": preset.n_detector_train, "fresh": preset.n_detector_test}


#: The digests of code in unit keys, which every record also states in its ``info``.
CODE_DIGESTS = ("source_digest", "harness_code", "task_code", "task_measure_code", "measurement_code",
                "evaluation_code")
#: The code that runs a generator's units around its variant: building the model and its training
#: configuration from the run's, the inputs it trains on, how its fake sets are drawn and encoded and
#: how they are measured. Every sample, generation and detection key holds a train key, so this one
#: digest in the train key covers them all.
HARNESS_MODULES = ("ganbench.generation", "ganbench.context")
#: The task views (inputs and targets) image-to-image variants train on.
TASK_MODULES = ("ganbench.tasks",)


def translates(generator: str) -> bool:
    """Whether ``generator`` is an image-to-image variant (it has a task view)."""
    return getattr(GENERATORS.get(generator), "task_view", None) is not None


def train_unit(scope: Scope, generator: str) -> Unit:
    """Training: the variant, its hyper-parameters and the digest of its source and the training
    loop's (``ganbench.source_digest``), so a changed default or edited code retrains, the digest
    of the code that runs its units (:data:`HARNESS_MODULES`), the digest of the task views an
    image-to-image variant trains on (``ganbench.tasks``), and the recipe of the content network a
    variant's loss uses (SRGAN's)."""
    hyperparameters = dataclasses.asdict(generator_config(generator, scope.preset.width, scope.data_kind,
                                                          **scope.overrides.for_generator(generator)))
    config: dict[str, Any] = {"generator": generator, "hyperparameters": hyperparameters,
                              "source_digest": source_digest(GENERATORS.get(generator)),
                              "harness_code": modules_digest(HARNESS_MODULES)}
    if translates(generator):
        config["task_code"] = modules_digest(TASK_MODULES)
    if getattr(GENERATORS.get(generator), "needs_reference", False):
        config["content_network"] = ContentClassifier.recipe
    if scope.amp:
        config["precision"] = "bf16-autocast"
    if scope.compiled is not None:
        config["compiled"] = scope.compiled
    return _unit(scope, "train", generator, config)


def sample_unit(scope: Scope, generator: str, train_key: str) -> Unit:
    """Sampling the three fake sets of a trained generator (put on the reals' intensity ``levels``
    where the real set is quantized: ``ganbench.pixels.intensity_levels``); an image-to-image
    generator's also measures its translations, keyed on that code's digest
    (:data:`ganbench.quality.TASK_MEASURE_MODULES`)."""
    config: dict[str, Any] = {"generator": generator, "train": train_key, "counts": fake_counts(scope.preset)}
    if translates(generator):
        config["task_measure_code"] = modules_digest(TASK_MEASURE_MODULES)
    if scope.levels is not None:
        config["levels"] = list(scope.levels)
    return _unit(scope, "sample", generator, config)


def generation_unit(scope: Scope, generator: str, sample_key: str, extractor: str,
                    extractor_weights: str | None, inception_resize: str = "pytorch-fid") -> Unit:
    """Quality metrics of a sample unit's ``eval`` fakes (points have no extractor), keyed on the
    digest of the code that measures them (:data:`ganbench.quality.MEASUREMENT_MODULES`); image
    metrics also key on their settings (KID subsets, IS splits and shuffle, k of PRDC), on a pretrained
    extractor's weights (``ganbench.features.weights_identity``: the content of the file, not its path)
    and on Inception's resize where it is not pytorch-fid's (the default keeps its earlier keys)."""
    points = scope.data_kind == "points"
    config: dict[str, Any] = {"generator": generator, "fakes": sample_key, "extractor": "none" if points else extractor,
                              "measurement_code": modules_digest(MEASUREMENT_MODULES)}
    if not points:
        config["metric_settings"] = QualityConfig().settings()
    if extractor_weights and not points:
        config["extractor_weights"] = extractor_weights
    if inception_resize != "pytorch-fid" and extractor == "inception" and not points:
        config["inception_resize"] = inception_resize
    return _unit(scope, "generation", generator, config)


def detection_unit(scope: Scope, detector: dict[str, Any], train_label: str, train_keys: list[str],
                   test: str, test_key: str, perturbation: str) -> Unit:
    """One evaluation of a detector fitted on ``train_keys``' fakes, on ``test``'s fresh fakes."""
    config = {**detector, "train": train_keys[0] if len(train_keys) == 1 else train_keys, "test": test_key,
              "perturbation": perturbation}
    return _unit(scope, "detection", f"{detector['detector']}-{train_label}-{test}-{perturbation}", config)


def null_check_unit(scope: Scope, detector: dict[str, Any]) -> Unit:
    """A detector fitted and tested on real against real images."""
    return _unit(scope, "null_check", f"{detector['detector']}-real-real", {**detector, "null": "real-vs-real"})


def human_eval_set_key(scope: Scope, generators: tuple[str, ...], n: int) -> str:
    """The image set raters see: the run, the generators rated and the count."""
    return _unit(scope, "human-eval", "", {"generators": list(generators), "n": n}).key


def human_key(set_key: str, rater: str, generator: str | None = None) -> str:
    """A rater's record over a whole image set, or over one generator's fakes in it."""
    config = {"unit": "human", "set": set_key, "rater": rater}
    return unit_key(config if generator is None else {**config, "generator": generator})


@dataclass
class RunSummary:
    records: list[Record] = field(default_factory=list)
    computed: int = 0
    reused: int = 0

    @property
    def problems(self) -> list[Record]:
        return [r for r in self.records if r.status in ("failed", "diverged", "truncated")]

    def add(self, other: RunSummary) -> None:
        """Take in the records and counts of another part of the same run."""
        self.records += other.records
        self.computed += other.computed
        self.reused += other.reused

    def bodies(self) -> list[dict[str, Any]]:
        """The records as their JSON bodies, as the leaderboards read them."""
        return [r.to_dict() for r in self.records]


def warn_damage(console: Console, line: str | None) -> None:
    """Print the warning line of a damaged file moved aside (:func:`ganbench.store.quarantine`),
    under ``--quiet`` too: a healed run must still say what it recomputed and why."""
    if line is None:
        return
    if console.quiet:
        print(line, file=console.file, flush=True)
    else:
        console.print(line, style="yellow", markup=False, highlight=False, soft_wrap=True)


def always(record: Record) -> bool | Damage:
    return True


Reusable = Callable[[Record], "bool | Damage"]


class UnitEngine:
    """Reads back or computes units of one scope in one store; keeps the summary of what it did."""

    def __init__(self, store: RunStore, scope: Scope, console: Console, force: bool = False) -> None:
        self.store, self.scope, self.console, self.force = store, scope, console, force
        self.summary = RunSummary()

    def finished(self, unit: Unit, reusable: Reusable = always, heal: bool = False) -> Record | None:
        """The unit's record when it finished (ok or diverged) and ``reusable`` accepts it: True
        reuses it, False computes the unit again, a :class:`Damage` (a damaged output) too. With
        ``heal`` (only under the unit's lock) a damaged record or output is moved aside first."""
        path = self.store.record_path(unit.kind, unit.label, unit.key)
        try:
            existing = self.store.load_record(path)
        except OSError:
            return None
        except DamagedFile as exc:
            if heal:
                self.report_damage(exc.damage, unit)
            return None
        if not existing.finished:
            return None
        verdict = reusable(existing)
        if isinstance(verdict, Damage):
            if heal:
                self.report_damage(verdict, unit)
            return None
        return existing if verdict else None

    def report_damage(self, damage: Damage, unit: Unit) -> None:
        """Move a damaged file aside and say so on one line."""
        warn_damage(self.console, quarantine(damage, f"computing {unit.kind} {unit.label} again"))

    def run(self, unit: Unit, compute: Callable[[Record], None], blocked_by: Record | None = None,
            reusable: Reusable = always, **fields: Any) -> Record:
        """The unit's record: read back if finished (and its outputs intact), else computed now."""
        existing = None if self.force else self.finished(unit, reusable)
        if existing is None:
            with self.store.lock(unit.kind, unit.label, unit.key, on_wait=self.console.print) as lock:
                existing = self.finished(unit, reusable, heal=True) if lock.waited or not self.force else None
                if existing is None:
                    body = self._compute(unit, compute, blocked_by, fields)
                    self.summary.computed += 1
                    self.summary.records.append(body)
                    return body
        self.summary.reused += 1
        self.summary.records.append(existing)
        return existing

    def _compute(self, unit: Unit, compute: Callable[[Record], None], blocked_by: Record | None,
                 fields: dict[str, Any]) -> Record:
        record = self.scope.new_record(unit.kind, unit.key, **fields)
        started = time.perf_counter()
        if blocked_by is not None:
            record.status = "skipped"
            record.reason = f"{blocked_by.generator or blocked_by.kind} {blocked_by.status}: {blocked_by.reason}"
        else:
            try:
                compute(record)
            except Interrupted as exc:
                exc.unit, exc.out = exc.unit or f"{unit.kind} {unit.label}", self.store.root
                raise
            except UserError:
                raise
            except Exception as exc:
                record.status = "failed"
                record.reason = f"{exc.__class__.__name__}: {exc}"
                record.info["traceback"] = traceback.format_exc(limit=8)
                self.console.print(f"[red]{unit.kind} {unit.label} failed: {record.reason}")
        record.seconds = record.seconds or round(time.perf_counter() - started, 3)
        record.info["threads"] = self.scope.threads
        record.info["processor"] = processor(self.scope.device)
        record.info.update({name: unit.config[name] for name in CODE_DIGESTS if name in unit.config})
        self.store.write_record(record, unit.label)
        return self.store.find_record(unit.kind, unit.label, unit.key) or record
