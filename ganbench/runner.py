"""The suite runner: turns a suite, a preset and a data set into units and runs each once.

Units, in order, for every generator G of the suite and every detector D:

* ``train`` G -> checkpoint (resumable)
* ``sample`` G -> three disjoint, seeded sets of quantized fakes: ``eval`` (quality metrics),
  ``detector_train`` (training detectors) and ``fresh`` (testing detectors; never seen in training)
* ``generation`` G -> quality metrics of the ``eval`` fakes against the real test split
* ``detection`` (D, train G, test G') -> D fitted on real-train vs G's ``detector_train`` fakes,
  threshold from a validation slice of that same data, evaluated on real-test vs G''s ``fresh``
  fakes.

A unit's key hashes its whole configuration; a finished unit is read back, never recomputed,
unless ``force`` is set. A unit that raises is recorded as ``failed`` with its reason, and
units that depend on it are recorded as ``skipped`` with that reason.

``shard=(i, n)`` runs the train, sample and generation units of every n-th generator (sorted by
name, starting at the i-th); the detection units need every generator's fakes, so they run in
whichever shard finds all sample records written when its own generators are done (the last
shard to finish, or any shard run again later). The per-unit locks keep two shards from
computing one unit twice.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ganbench.data import Dataset, load_dataset
from ganbench.errors import UserError
from ganbench.features import ClassifierExtractor
from ganbench.imageio import save_grid
from ganbench.metrics import fid_from_features
from ganbench.presets import Preset
from ganbench.runtime import configure_backends, derive_seed, preserved_rng, seed_everything
from ganbench.store import Record, RunStore, read_npz, unit_key, write_npz
from ganbench.suites import resolve_suite
from detectors import DETECTORS, detector_name
from detectors.evaluate import detection_metrics, roc_points, validation_threshold
from generators import GENERATORS, DataSpec, GenerativeModel, create_generator
from generators.distributed import World
from generators.distributed import current as current_world
from generators.trainer import TrainConfig, train

FAKE_SETS = ("eval", "detector_train", "fresh")
VALIDATION_FRACTION = 0.2


@dataclass(frozen=True)
class RunConfig:
    suite: str
    preset: Preset
    dataset: str = "digits"
    out: Path = Path("runs")
    device: torch.device = torch.device("cpu")
    seed: int = 0
    force: bool = False
    quiet: bool = False
    skip_bad: bool = False
    compile: bool = False
    shard: tuple[int, int] | None = None


@dataclass
class RunSummary:
    records: list[dict[str, Any]] = field(default_factory=list)
    computed: int = 0
    reused: int = 0

    @property
    def problems(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] in ("failed", "diverged")]


class SuiteRunner:
    def __init__(self, config: RunConfig, console: Console | None = None) -> None:
        self.config = config
        self.console = console or Console(stderr=True, quiet=config.quiet)
        self.store = RunStore(config.out)
        self.data: Dataset = load_dataset(config.dataset, config.preset.resolution, skip_bad=config.skip_bad,
                                          warn=lambda msg: self.console.print(f"[yellow]{msg}"))
        self.spec = DataSpec(self.data.kind, self.data.channels, self.data.resolution, self.data.num_classes)
        self.summary = RunSummary()
        self._extractor: ClassifierExtractor | None = None
        self._fakes: dict[str, dict[str, torch.Tensor]] = {}
        configure_backends(config.device)

    # ------------------------------------------------------------------ unit machinery
    def base_config(self) -> dict[str, Any]:
        """What every unit's key includes; how often checkpoints are written does not change results."""
        c = self.config
        preset = {k: v for k, v in dataclasses.asdict(c.preset).items() if k != "checkpoint_every"}
        return {"dataset": c.dataset, "data": self.data.fingerprint, "preset": preset, "seed": c.seed}

    def new_record(self, kind: str, key: str, **fields: Any) -> Record:
        c = self.config
        return Record(kind=kind, key=key, dataset=c.dataset, preset=c.preset.name, seed=c.seed, **fields)

    def unit(self, kind: str, label: str, config: dict[str, Any], compute: Callable[[Record], None],
             blocked_by: dict[str, Any] | None = None,
             reusable: Callable[[dict[str, Any]], bool] = lambda record: True, **fields: Any) -> dict[str, Any]:
        """Return the unit's record: read back if finished (and its outputs are intact), else computed now."""
        key = unit_key({"unit": kind, **self.base_config(), **config})

        def finished() -> dict[str, Any] | None:
            existing = self.store.find_record(kind, label, key)
            if existing is not None and existing["status"] in ("ok", "diverged") and reusable(existing):
                return existing
            return None

        existing = None if self.config.force else finished()
        if existing is None:
            with self.store.lock(kind, label, key) as lock:
                existing = finished() if lock.waited or not self.config.force else None
                if existing is None:
                    body = self._compute(kind, label, key, compute, blocked_by, fields)
                    self.summary.computed += 1
                    self.summary.records.append(body)
                    return body
        self.summary.reused += 1
        self.summary.records.append(existing)
        return existing

    def _compute(self, kind: str, label: str, key: str, compute: Callable[[Record], None],
                 blocked_by: dict[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
        record = self.new_record(kind, key, **fields)
        started = time.perf_counter()
        if blocked_by is not None:
            record.status = "skipped"
            record.reason = f"{blocked_by.get('generator') or blocked_by['kind']} {blocked_by['status']}: {blocked_by['reason']}"
        else:
            try:
                compute(record)
            except UserError:
                raise
            except Exception as exc:
                record.status = "failed"
                record.reason = f"{exc.__class__.__name__}: {exc}"
                record.info["traceback"] = traceback.format_exc(limit=8)
                self.console.print(f"[red]{kind} {label} failed: {record.reason}")
        record.seconds = record.seconds or round(time.perf_counter() - started, 3)
        self.store.write_record(record, label)
        return self.store.find_record(kind, label, key) or record.to_dict()

    @contextmanager
    def progress(self) -> Iterator[Progress]:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[losses]}"), console=self.console, transient=True,
                      disable=self.config.quiet) as progress:
            yield progress

    # ------------------------------------------------------------------ generators
    def build(self, name: str) -> GenerativeModel:
        """A freshly initialised generator; the initialisation depends only on the run seed and the name."""
        return build_generator(self.config, self.spec, name)

    def train_generator(self, name: str) -> dict[str, Any]:
        p = self.config.preset
        config = {"generator": name}
        key = unit_key({"unit": "train", **self.base_config(), **config})
        checkpoint = self.store.checkpoint_path(name, key)

        def compute(record: Record) -> None:
            model = self.build(name)
            train_config = training_config(self.config)
            current_world().share(TRAIN_SIGNAL)
            with self.progress() as progress:
                task = progress.add_task(f"train {name}", total=p.steps, losses="")

                def on_step(step: int, losses: dict[str, float]) -> None:
                    if step % 10 == 0 or step == p.steps:
                        text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
                        progress.update(task, completed=step, losses=text)

                outcome = train(model, self.data.x_train, self.data.y_train, train_config, checkpoint,
                                save=self.store.save_checkpoint, load=self.resumable_checkpoint, on_step=on_step)
            record.status = outcome.status
            if outcome.status == "diverged":
                record.reason = f"non-finite loss at step {outcome.diverged_at}"
            record.seconds = round(outcome.seconds, 3)
            record.metrics = {"steps": outcome.steps, "params": model.parameter_count(),
                              "train_seconds": round(outcome.seconds, 3)}
            record.info = {"stopped_by": outcome.stopped_by, "losses": outcome.losses,
                           "checkpoint": str(checkpoint.relative_to(self.store.root)), **model.describe(),
                           "device": str(self.config.device), "torch": torch.__version__, "data": self.data.fingerprint}

        return self.unit("train", name, config, compute, generator=name,
                         reusable=lambda record: record["status"] != "ok" or checkpoint.exists())

    def resumable_checkpoint(self, path: Path) -> dict[str, Any] | None:
        """A checkpoint to resume from, or None (start afresh) when it is damaged."""
        try:
            return self.store.load_checkpoint(path)
        except UserError as exc:
            self.console.print(f"[yellow]ignoring damaged checkpoint: {exc}")
            return None

    def load_trained(self, name: str, train_record: dict[str, Any]) -> GenerativeModel:
        model = self.build(name)
        state = self.store.load_checkpoint(self.store.root / train_record["info"]["checkpoint"])
        if state.get("variant") != name:
            raise UserError(f"checkpoint of {state.get('variant')!r} where {name!r} was expected")
        model.load_state_dict(state["model"])
        return model

    def fake_counts(self) -> dict[str, int]:
        p = self.config.preset
        return {"eval": p.n_eval, "detector_train": p.n_detector_train, "fresh": p.n_detector_test}

    def sample_generator(self, name: str, train_record: dict[str, Any]) -> dict[str, Any]:
        config = {"generator": name, "train": train_record["key"], "counts": self.fake_counts()}
        key = unit_key({"unit": "sample", **self.base_config(), **config})
        path = self.store.fakes_path(name, key)

        def compute(record: Record) -> None:
            model = self.load_trained(name, train_record)
            arrays: dict[str, np.ndarray] = {}
            started = time.perf_counter()
            total = 0
            for which, n in self.fake_counts().items():
                seed = derive_seed(self.config.seed, name, which)
                labels = model.default_labels(n) if model.conditional else None
                with preserved_rng():
                    fakes = model.sample(n, labels=labels, seed=seed)
                arrays[which] = fakes.numpy()
                if labels is not None:
                    arrays[f"{which}_labels"] = labels.numpy()
                total += n
            seconds = time.perf_counter() - started
            write_npz(path, **arrays)
            if self.data.kind == "image":
                save_grid(torch.from_numpy(arrays["eval"][:64]), self.store.samples_path(name, key))
            record.metrics = {"images_per_second": total / max(seconds, 1e-9)}
            record.info = {"fakes": str(path.relative_to(self.store.root)),
                           "samples": str(self.store.samples_path(name, key).relative_to(self.store.root))}

        def intact(record: dict[str, Any]) -> bool:
            return read_npz(self.store.root / record["info"]["fakes"]) is not None

        blocked = train_record if train_record["status"] != "ok" else None
        return self.unit("sample", name, config, compute, blocked_by=blocked, reusable=intact, generator=name)

    def fakes(self, sample_record: dict[str, Any]) -> dict[str, torch.Tensor]:
        path = sample_record["info"]["fakes"]
        if path not in self._fakes:
            arrays = read_npz(self.store.root / path)
            if arrays is None:
                raise RuntimeError(f"fakes file {path} is missing or truncated")
            self._fakes[path] = {k: torch.from_numpy(v) for k, v in arrays.items()}
        return self._fakes[path]

    def extractor(self) -> ClassifierExtractor:
        if self._extractor is None:
            with preserved_rng():
                self._extractor = ClassifierExtractor(self.data, self.store.root / "cache", seed=self.config.seed,
                                                      epochs=self.config.preset.classifier_epochs,
                                                      device=self.config.device)
        return self._extractor

    def evaluate_generator(self, name: str, sample_record: dict[str, Any]) -> dict[str, Any]:
        config = {"generator": name, "fakes": sample_record["key"], "extractor": "classifier"}

        def compute(record: Record) -> None:
            fakes = self.fakes(sample_record)["eval"]
            extractor = self.extractor()
            real = extractor.extract(self.data.x_test)
            fake = extractor.extract(fakes)
            predicted = fake.probs.argmax(1)
            record.metrics = {
                "fid": fid_from_features(real.features, fake.features),
                "classes_covered": int(torch.unique(predicted).numel()),
            }
            record.protocol = {**extractor.protocol(), "n_real": len(self.data.x_test), "n_fake": len(fakes),
                               "real_split": "test", "classifier_test_acc": round(extractor.test_accuracy, 4)}

        blocked = sample_record if sample_record["status"] != "ok" else None
        return self.unit("generation", name, config, compute, blocked_by=blocked, generator=name)

    # ------------------------------------------------------------------ detectors
    def real_subset(self, images: torch.Tensor, n: int, purpose: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(derive_seed(self.config.seed, "real", purpose))
        index = torch.randperm(len(images), generator=gen)[: min(n, len(images))]
        return images[index.sort().values]

    def detector_evaluations(self, detector: str, train_gen: str, samples: dict[str, dict[str, Any]]) -> None:
        """One ``detection`` unit per test generator; the detector is fitted only if some unit is missing."""
        fitted: dict[str, Any] = {}

        def fit() -> dict[str, Any]:
            if not fitted:
                real = self.real_subset(self.data.x_train, self.config.preset.n_detector_train, "detector_train")
                fake = self.fakes(samples[train_gen])["detector_train"]
                n_val_real, n_val_fake = int(len(real) * VALIDATION_FRACTION), int(len(fake) * VALIDATION_FRACTION)
                seed_everything(derive_seed(self.config.seed, detector, train_gen))
                model = DETECTORS.get(detector)()
                started = time.perf_counter()
                model.fit(real[n_val_real:], fake[n_val_fake:])
                fit_seconds = time.perf_counter() - started
                val_scores = np.concatenate([model.score(real[:n_val_real]), model.score(fake[:n_val_fake])])
                val_labels = np.concatenate([np.zeros(n_val_real), np.ones(n_val_fake)])
                fitted.update(model=model, threshold=validation_threshold(val_labels, val_scores),
                              fit_seconds=fit_seconds)
            return fitted

        real_test = self.real_subset(self.data.x_test, self.config.preset.n_detector_test, "detector_test")
        for test_gen, sample_record in samples.items():
            config = {"detector": detector, "train": samples[train_gen]["key"], "test": sample_record["key"],
                      "perturbation": "none"}

            def compute(record: Record, test_gen: str = test_gen, sample_record: dict[str, Any] = sample_record) -> None:
                state = fit()
                fake = self.fakes(sample_record)["fresh"][: len(real_test)]
                started = time.perf_counter()
                scores = np.concatenate([state["model"].score(real_test), state["model"].score(fake)])
                score_seconds = time.perf_counter() - started
                labels = np.concatenate([np.zeros(len(real_test)), np.ones(len(fake))])
                record.metrics = detection_metrics(labels, scores, state["threshold"])
                record.protocol = {"n_real": len(real_test), "n_fake": len(fake), "real_split": "test",
                                   "threshold": "validation of train generator"}
                record.info = {"fit_seconds": round(state["fit_seconds"], 3),
                               "images_per_second": len(scores) / max(score_seconds, 1e-9),
                               "threshold": state["threshold"], "roc": roc_points(labels, scores)}

            blocked = next((r for r in (samples[train_gen], sample_record) if r["status"] != "ok"), None)
            self.unit("detection", f"{detector}-{train_gen}-{test_gen}", config, compute, blocked_by=blocked,
                      generator=test_gen, train_generator=train_gen, detector=detector, perturbation="none")

    def run_generator(self, name: str) -> list[dict[str, Any]]:
        """Train, sample and measure one generator; returns its train, sample and generation records."""
        self.console.print(f"[bold]{name}[/]")
        trained = self.train_generator(name)
        sampled = self.sample_generator(name, trained)
        return [trained, sampled, self.evaluate_generator(name, sampled)]

    def trained_model(self, name: str) -> GenerativeModel:
        """The finished checkpoint of ``name`` for this run's data set, preset and seed."""
        GENERATORS.get(name)
        key = unit_key({"unit": "train", **self.base_config(), "generator": name})
        record = self.store.find_record("train", name, key)
        if record is None or record["status"] != "ok":
            raise UserError(f"no trained {name} in {self.store.root} for data set {self.config.dataset!r}, "
                            f"preset {self.config.preset.name!r}, seed {self.config.seed} "
                            f"(run `ganbench train {name}` first)")
        return self.load_trained(name, record)

    # ------------------------------------------------------------------ the whole suite
    def run(self) -> RunSummary:
        generators, detectors = resolve_suite(self.config.suite)
        generators = [g for g in generators if self._supports_data(g)]
        if not generators:
            raise UserError(f"no generator of suite {self.config.suite!r} supports data set {self.config.dataset!r}")
        samples = {name: self.run_generator(name)[1] for name in shard_of(generators, self.config.shard)}
        if self.data.kind == "image" and detectors and self.config.shard is not None:
            written = self.written_samples(generators)
            if written is None:
                self.console.print("detection units left to the shard that finishes last (fakes of other shards missing)")
                return self.summary
            samples = written
        if self.data.kind == "image":
            for detector in detectors:
                for train_gen in generators:
                    self.detector_evaluations(detector, train_gen, samples)
        return self.summary

    def written_samples(self, generators: list[str]) -> dict[str, dict[str, Any]] | None:
        """The sample record of every generator (any status), or None while one is still missing."""
        found = {}
        for name in generators:
            base = self.base_config()
            train_key = unit_key({"unit": "train", **base, "generator": name})
            config = {"generator": name, "train": train_key, "counts": self.fake_counts()}
            record = self.store.find_record("sample", name, unit_key({"unit": "sample", **base, **config}))
            if record is None:
                return None
            found[name] = record
        return found

    def _supports_data(self, name: str) -> bool:
        cls = GENERATORS.get(name)
        return cls.supports_points if self.data.kind == "points" else cls.supports_images


def run_suite(config: RunConfig, console: Console | None = None) -> RunSummary:
    return SuiteRunner(config, console).run()


TRAIN_SIGNAL, DONE_SIGNAL = "train", "done"


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) -> ``(i, n)``."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected i/n, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise UserError(f"--shard {text!r}: i must be between 1 and n")
    return i, n


def shard_of(generators: list[str], shard: tuple[int, int] | None) -> list[str]:
    """The generators of shard ``(i, n)``: round-robin over the sorted names (all of them without a shard)."""
    if shard is None:
        return generators
    i, n = shard
    mine = set(sorted(generators)[i - 1 :: n])
    return [g for g in generators if g in mine]


def build_generator(config: RunConfig, spec: DataSpec, name: str) -> GenerativeModel:
    """A freshly initialised generator; the initialisation depends only on the run seed and the name."""
    seed_everything(derive_seed(config.seed, "init", name))
    return create_generator(name, spec, width=config.preset.width).to(config.device)


def training_config(config: RunConfig) -> TrainConfig:
    p = config.preset
    return TrainConfig(steps=p.steps, batch_size=p.batch_size, seed=config.seed, max_seconds=p.max_seconds,
                       checkpoint_every=p.checkpoint_every, compile=config.compile)


def follow_training(config: RunConfig, name: str, world: World) -> None:
    """A rank other than 0 of a ``torchrun`` job: train ``name`` in step with rank 0 whenever it trains.

    Rank 0 runs the units and tells the other ranks when it starts training and when it is done;
    they never read or write the run store (rank 0 shares a resumed checkpoint with them).
    """
    data = load_dataset(config.dataset, config.preset.resolution, skip_bad=config.skip_bad, warn=lambda msg: None)
    spec = DataSpec(data.kind, data.channels, data.resolution, data.num_classes)
    configure_backends(config.device)
    while world.share(None) == TRAIN_SIGNAL:
        train(build_generator(config, spec, name), data.x_train, data.y_train, training_config(config))
