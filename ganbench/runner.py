"""The suite runner: turns a suite, a preset and a data set into units and runs each once.

Units, in order, for every generator G of the suite and every detector D:

* ``train`` G -> checkpoint (resumable)
* ``sample`` G -> three disjoint, seeded sets of quantized fakes: ``eval`` (quality metrics),
  ``detector_train`` (training detectors) and ``fresh`` (testing detectors; never seen in training)
* ``generation`` G -> quality metrics of the ``eval`` fakes against the real test split
* ``detection`` (D, train set, test G', perturbation) -> D fitted on real-train vs the
  ``detector_train`` fakes of the training generator(s), threshold from a validation slice of
  that same data, evaluated on real-test vs G''s ``fresh`` fakes (or an external ``--fakes``
  set), both perturbed alike; the protocols (cross-generator matrix, train-on-all,
  leave-one-out, robustness) are listed in :mod:`detectors.protocols`
* ``null_check`` D -> D fitted and tested on real vs real (disjoint splits), AUC with a bootstrap
  interval

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
from ganbench.features import ClassifierExtractor, pretrained_extractor
from ganbench.imageio import save_grid
from ganbench.presets import Preset
from ganbench.quality import QualityConfig, generation_metrics
from ganbench.runtime import configure_backends, derive_seed, preserved_rng, seed_everything
from ganbench.store import Record, RunStore, read_npz, unit_key, write_npz
from ganbench.suites import resolve_suite
from ganbench.tasks import (TASK_KINDS, assign_domains, class_domains, domain_count, fake_inputs, split_for_fakes,
                            task_view)
from ganbench.translation_metrics import bicubic_baseline, cycle_error, domain_accuracy, paired_measures
from detectors.base import RunSettings, accepted_arguments, build_detector, describe, wants_extractor
from detectors.evaluate import bootstrap_auc, detection_metrics, roc_points, validation_threshold
from detectors.external import ExternalFakes, load_external
from detectors.perturbations import perturb
from detectors.plugins import DetectorSpec, checked_scores, resolve_detector
from detectors.protocols import EvalUnit, TrainingSet, detection_plan
from generators import GENERATORS, DataSpec, GenerativeModel, create_generator, generator_config
from generators.distributed import World
from generators.distributed import current as current_world
from generators.trainer import TrainConfig, train
from generators.translation_blocks import TranslationModel

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
    detectors: tuple[str, ...] = ()
    fakes: tuple[str, ...] = ()
    extractor: str = "classifier"
    extractor_weights: Path | None = None
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
        self._external: dict[str, ExternalFakes] = {}
        configure_backends(config.device)

    # ------------------------------------------------------------------ unit machinery
    def base_config(self) -> dict[str, Any]:
        """What every unit's key includes; how often checkpoints are written, and which detectors the
        plan trains, do not change any unit's result."""
        c = self.config
        preset = {k: v for k, v in dataclasses.asdict(c.preset).items()
                  if k not in ("checkpoint_every", "detection_plan")}
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

    def train_unit_config(self, name: str) -> dict[str, Any]:
        """What a training unit's key adds to the base: the variant and its hyper-parameters, so
        that a changed default retrains rather than reusing a record made under the old one."""
        hyperparameters = dataclasses.asdict(generator_config(name, self.config.preset.width, self.spec.kind))
        return {"generator": name, "hyperparameters": hyperparameters}

    def train_key(self, name: str) -> str:
        return unit_key({"unit": "train", **self.base_config(), **self.train_unit_config(name)})

    def train_generator(self, name: str) -> dict[str, Any]:
        p = self.config.preset
        config = self.train_unit_config(name)
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

                x, y, task_inputs = self.training_inputs(model)
                outcome = train(model, x, y, train_config, checkpoint, **task_inputs,
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
            translating = isinstance(model, TranslationModel)
            for which, n in self.fake_counts().items():
                seed = derive_seed(self.config.seed, name, which)
                labels, codes = model.evaluation_conditions(n)
                with preserved_rng():
                    if translating:
                        fakes = self.translated_fakes(model, which, n, seed)
                    else:
                        fakes = model.sample(n, labels=labels if codes is None else codes, seed=seed)
                arrays[which] = fakes.numpy()
                if labels is not None:
                    arrays[f"{which}_labels"] = labels.numpy()
                if codes is not None:
                    arrays[f"{which}_codes"] = codes.numpy()
                total += n
            seconds = time.perf_counter() - started
            write_npz(path, **arrays)
            if self.data.kind == "image":
                save_grid(torch.from_numpy(arrays["eval"][:64]), self.store.samples_path(name, key))
            measures = self.task_measures(model) if translating else {}
            record.metrics = {"images_per_second": total / max(seconds, 1e-9), **measures}
            record.info = {"task_measures": sorted(measures), "fakes": str(path.relative_to(self.store.root)),
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
                self._extractor = ClassifierExtractor(self.data, self.store.cache_dir, seed=self.config.seed,
                                                      epochs=self.config.preset.classifier_epochs,
                                                      device=self.config.device)
        return self._extractor

    def evaluate_generator(self, name: str, sample_record: dict[str, Any]) -> dict[str, Any]:
        c = self.config
        points = self.data.kind == "points"
        config = {"generator": name, "fakes": sample_record["key"], "extractor": "none" if points else c.extractor,
                  **({"extractor_weights": str(c.extractor_weights)} if c.extractor_weights and not points else {})}

        def compute(record: Record) -> None:
            arrays = self.fakes(sample_record)
            quality = QualityConfig(seed=c.seed)
            if points:
                record.metrics, record.protocol = generation_metrics(self.data, arrays["eval"], config=quality)
                return
            classifier = self.extractor() if self.data.num_classes > 1 or c.extractor == "classifier" else None
            extractor = classifier if c.extractor == "classifier" else pretrained_extractor(
                c.extractor, c.extractor_weights, c.device)
            record.metrics, record.protocol = generation_metrics(
                self.data, arrays["eval"], extractor, classifier=classifier, labels=arrays.get("eval_labels"),
                codes=arrays.get("eval_codes"), config=quality)
            record.metrics.update(self.sampled_task_measures(sample_record))

        blocked = sample_record if sample_record["status"] != "ok" else None
        return self.unit("generation", name, config, compute, blocked_by=blocked, generator=name)

    # ------------------------------------------------------------------ image-to-image variants
    def training_inputs(self, model: GenerativeModel) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        return training_inputs(model, self.data, lambda: self.extractor().model)

    def translated_fakes(self, model: TranslationModel, which: str, n: int, seed: int) -> torch.Tensor:
        """``n`` fakes translated from test-split inputs the generator never saw: the ``eval`` set
        from the whole test split, the detectors' two sets from disjoint halves of it, repeated with
        seeded shifts where ``n`` exceeds them (``ganbench.tasks.fake_inputs``)."""
        index = split_for_fakes(len(self.data.x_test), FAKE_SETS, self.config.seed)[which]
        inputs = fake_inputs(model.task_view, self.data.x_test[index], self.data.y_test[index],
                             self.data.num_classes, n, seed)
        return model.translate(inputs.source, inputs.target_labels, seed=seed)

    def task_measures(self, model: TranslationModel) -> dict[str, float]:
        """Measures on one pass over the test split: PSNR, SSIM and L1 against the ground truth for
        paired tasks (with the bicubic baseline for super-resolution); domain accuracy of the
        translations and cycle reconstruction error for unpaired and multi-domain ones."""
        seed = derive_seed(self.config.seed, model.name, "task-measures")
        x, y = self.data.x_test, self.data.y_test
        inputs = fake_inputs(model.task_view, x, y, self.data.num_classes, len(x), seed)
        with preserved_rng():
            outputs = model.translate(inputs.source, inputs.target_labels, seed=seed)
            if inputs.truth is not None:
                measures = paired_measures(outputs, inputs.truth)
                if model.task_view == "super-resolution":
                    measures.update(bicubic_baseline(inputs.source, inputs.truth))
                return measures
            predict = self.domain_predictor(model.task_view)
            return {"domain_acc": domain_accuracy(predict, outputs, inputs.target_labels),
                    "cycle_l1": cycle_error(lambda images, domains: model.translate(images, domains, seed=seed),
                                            inputs.source, inputs.source_labels, inputs.target_labels)}

    @staticmethod
    def sampled_task_measures(sample_record: dict[str, Any]) -> dict[str, float]:
        """The task measures a sample unit recorded (none for noise-to-image variants)."""
        return {k: sample_record["metrics"][k] for k in sample_record["info"].get("task_measures", ())}

    def domain_predictor(self, task: str) -> Callable[[torch.Tensor], torch.Tensor]:
        """Domain of uint8 images: the reference classifier's class mapped to its class group, or,
        for style domains, a reference classifier trained on the styled train split (cached)."""
        count = domain_count(TASK_KINDS[task], self.data.num_classes)
        mapping = class_domains(self.data.num_classes, count)
        if mapping is not None:
            extractor = self.extractor()
            return lambda images: mapping[extractor.extract(images).probs.argmax(1)]
        d = self.data
        train = assign_domains(d.x_train, d.y_train, d.num_classes, count, task)
        test = assign_domains(d.x_test, d.y_test, d.num_classes, count, task)
        domains = Dataset(f"{d.name}-{task}", train.images, train.labels, test.images, test.labels, count)
        with preserved_rng():
            classifier = ClassifierExtractor(domains, self.store.cache_dir, seed=self.config.seed,
                                             epochs=self.config.preset.classifier_epochs, device=self.config.device)
        return lambda images: classifier.extract(images).probs.argmax(1)

    # ------------------------------------------------------------------ detectors
    def real_subset(self, images: torch.Tensor, n: int, purpose: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(derive_seed(self.config.seed, "real", purpose))
        index = torch.randperm(len(images), generator=gen)[: min(n, len(images))]
        return images[index.sort().values]

    def load_external_fakes(self) -> dict[str, ExternalFakes]:
        """The ``--fakes`` sets, resized to the run's resolution and channel count."""
        found: dict[str, ExternalFakes] = {}
        for option in self.config.fakes:
            fakes = load_external(option, self.data.resolution, self.data.channels)
            if fakes.name in found or fakes.name in GENERATORS:
                raise UserError(f"--fakes name {fakes.name!r} is already a generator or another --fakes set")
            found[fakes.name] = fakes
        return found

    def test_sets(self, samples: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Records standing for every test generator: sample records, and one pseudo-record per external set."""
        tests = dict(samples)
        for name, fakes in self._external.items():
            tests[name] = {"kind": "external", "generator": name, "status": "ok", "reason": None,
                           "key": fakes.fingerprint, "info": {"source": fakes.source, "n": len(fakes.images)}}
        return tests

    def test_fakes(self, name: str, record: dict[str, Any], n: int) -> torch.Tensor:
        if name in self._external:
            return self._external[name].images[:n]
        return self.fakes(record)["fresh"][:n]

    def training_fakes(self, generators: tuple[str, ...], samples: dict[str, dict[str, Any]]) -> torch.Tensor:
        """``detector_train`` fakes of one generator, or an equal, shuffled share of each of several."""
        if len(generators) == 1:
            return self.fakes(samples[generators[0]])["detector_train"]
        share = self.config.preset.n_detector_train // len(generators)
        mixed = torch.cat([self.fakes(samples[g])["detector_train"][:share] for g in generators])
        gen = torch.Generator().manual_seed(derive_seed(self.config.seed, "mix", *generators))
        return mixed[torch.randperm(len(mixed), generator=gen)]

    def build_detector(self, spec: DetectorSpec, train_label: str) -> Any:
        settings = RunSettings(seed=derive_seed(self.config.seed, spec.name, train_label),
                               epochs=self.config.preset.detector_epochs, device=self.config.device,
                               extractor=self.extractor() if wants_extractor(spec.cls) else None)
        seed_everything(settings.seed)
        return build_detector(spec.cls, settings)

    def fit_detector(self, spec: DetectorSpec, train_label: str, real: torch.Tensor,
                     fake: torch.Tensor) -> dict[str, Any]:
        """Fit on all but a validation slice of each class; the threshold comes from that slice."""
        n_val_real, n_val_fake = int(len(real) * VALIDATION_FRACTION), int(len(fake) * VALIDATION_FRACTION)
        model = self.build_detector(spec, train_label)
        validation = (real[:n_val_real], fake[:n_val_fake])
        started = time.perf_counter()
        model.fit(real[n_val_real:], fake[n_val_fake:], **accepted_arguments(model.fit, {"validation": validation}))
        fit_seconds = time.perf_counter() - started
        val_scores = np.concatenate([self.scores(spec, model, validation[0]), self.scores(spec, model, validation[1])])
        val_labels = np.concatenate([np.zeros(n_val_real), np.ones(n_val_fake)])
        return {"model": model, "threshold": validation_threshold(val_labels, val_scores), "fit_seconds": fit_seconds,
                "n_train_real": len(real) - n_val_real, "n_train_fake": len(fake) - n_val_fake}

    @staticmethod
    def scores(spec: DetectorSpec, model: Any, images: torch.Tensor) -> np.ndarray:
        return checked_scores(spec.name, model.score(images), len(images))

    def detector_config(self, spec: DetectorSpec) -> dict[str, Any]:
        return {"detector": spec.name} if spec.builtin else {"detector": spec.name, "source": spec.source}

    def detector_evaluations(self, spec: DetectorSpec, training: TrainingSet, samples: dict[str, dict[str, Any]],
                             tests: dict[str, dict[str, Any]]) -> None:
        """One ``detection`` unit per evaluation of ``training``; the detector is fitted only if some unit is missing."""
        fitted: dict[str, Any] = {}

        def fit() -> dict[str, Any]:
            if not fitted:
                real = self.real_subset(self.data.x_train, self.config.preset.n_detector_train, "detector_train")
                fitted.update(self.fit_detector(spec, training.label, real,
                                                self.training_fakes(training.generators, samples)))
            return fitted

        real_test = self.real_subset(self.data.x_test, self.config.preset.n_detector_test, "detector_test")
        real_scores: dict[str, np.ndarray] = {}

        def scored_real(model: Any, perturbation: str) -> np.ndarray:
            """The real test images' scores under ``perturbation``: the same for every test generator."""
            if perturbation not in real_scores:
                real = perturb(real_test, perturbation, derive_seed(self.config.seed, "real"))
                real_scores[perturbation] = self.scores(spec, model, real)
            return real_scores[perturbation]

        train_keys = [samples[g]["key"] for g in training.generators]
        train_blocker = next((samples[g] for g in training.generators if samples[g]["status"] != "ok"), None)
        for unit in training.units:
            test_record = tests[unit.test]
            config = {**self.detector_config(spec), "train": train_keys[0] if len(train_keys) == 1 else train_keys,
                      "test": test_record["key"], "perturbation": unit.perturbation}

            def compute(record: Record, unit: EvalUnit = unit, test_record: dict[str, Any] = test_record) -> None:
                state = fit()
                fake = self.test_fakes(unit.test, test_record, len(real_test))
                fake = perturb(fake, unit.perturbation, derive_seed(self.config.seed, unit.test))
                real = scored_real(state["model"], unit.perturbation)
                started = time.perf_counter()
                fake_scores = self.scores(spec, state["model"], fake)
                score_seconds = time.perf_counter() - started
                scores = np.concatenate([real, fake_scores])
                labels = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
                record.metrics = detection_metrics(labels, scores, state["threshold"])
                record.protocol = {"name": unit.protocol, "train_generators": list(training.generators),
                                   "n_train_real": state["n_train_real"], "n_train_fake": state["n_train_fake"],
                                   "n_real": len(real), "n_fake": len(fake), "real_split": "test",
                                   "fakes": "external" if unit.test in self._external else "fresh",
                                   "threshold": "validation of train generator(s)", "source": spec.source}
                record.info = {"fit_seconds": round(state["fit_seconds"], 3),
                               "images_per_second": len(fake) / max(score_seconds, 1e-9),
                               "threshold": state["threshold"], "detector": describe(state["model"]),
                               "roc": roc_points(labels, scores)}

            blocked = train_blocker or (test_record if test_record["status"] != "ok" else None)
            label = f"{spec.name}-{training.label}-{unit.test}-{unit.perturbation}"
            self.unit("detection", label, config, compute, blocked_by=blocked, generator=unit.test,
                      train_generator=training.label, detector=spec.name, perturbation=unit.perturbation)

    def null_check(self, spec: DetectorSpec) -> dict[str, Any]:
        """Real vs real: disjoint halves of the real train split (one labelled fake) to fit, of the test split to test."""
        def halves(images: torch.Tensor, n: int, purpose: str) -> tuple[torch.Tensor, torch.Tensor]:
            shuffled = self.real_subset(images, len(images), purpose)
            gen = torch.Generator().manual_seed(derive_seed(self.config.seed, "null-order", purpose))
            shuffled = shuffled[torch.randperm(len(shuffled), generator=gen)]
            half = min(len(shuffled) // 2, n)
            return shuffled[:half], shuffled[half : 2 * half]

        def compute(record: Record) -> None:
            train_a, train_b = halves(self.data.x_train, self.config.preset.n_detector_train, "null_train")
            test_a, test_b = halves(self.data.x_test, self.config.preset.n_detector_test, "null_test")
            state = self.fit_detector(spec, "real", train_a, train_b)
            scores = np.concatenate([self.scores(spec, state["model"], test_a), self.scores(spec, state["model"], test_b)])
            labels = np.concatenate([np.zeros(len(test_a)), np.ones(len(test_b))])
            metrics = detection_metrics(labels, scores, state["threshold"])
            low, high = bootstrap_auc(labels, scores, seed=derive_seed(self.config.seed, "bootstrap", spec.name))
            metrics.update(auc_ci_low=low, auc_ci_high=high, null_pass=int(low <= 0.5 <= high))
            record.metrics = metrics
            record.protocol = {"name": "null", "n_train_real": state["n_train_real"],
                               "n_train_fake": state["n_train_fake"], "n_real": len(test_a), "n_fake": len(test_b),
                               "real_split": "test (disjoint halves)", "bootstrap": "1000 resamples, 95% percentile",
                               "pass": "the 95% interval of the AUC contains 0.5", "source": spec.source}
            record.info = {"fit_seconds": round(state["fit_seconds"], 3), "threshold": state["threshold"],
                           "detector": describe(state["model"])}
            if not metrics["null_pass"]:
                self.console.print(f"[yellow]{spec.name} fails the real-vs-real null check "
                                   f"(AUC {metrics['auc']:.3f}, 95% CI {low:.3f}-{high:.3f})")

        return self.unit("null_check", f"{spec.name}-real-real", {**self.detector_config(spec), "null": "real-vs-real"},
                         compute, generator="real", train_generator="real", detector=spec.name, perturbation="none")

    def run_generator(self, name: str) -> list[dict[str, Any]]:
        """Train, sample and measure one generator; returns its train, sample and generation records."""
        self.console.print(f"[bold]{name}[/]")
        trained = self.train_generator(name)
        sampled = self.sample_generator(name, trained)
        return [trained, sampled, self.evaluate_generator(name, sampled)]

    def trained_model(self, name: str) -> GenerativeModel:
        """The finished checkpoint of ``name`` for this run's data set, preset and seed."""
        key = self.train_key(name)
        record = self.store.find_record("train", name, key)
        if record is None or record["status"] != "ok":
            raise UserError(f"no trained {name} in {self.store.root} for data set {self.config.dataset!r}, "
                            f"preset {self.config.preset.name!r}, seed {self.config.seed} "
                            f"(run `ganbench train {name}` first)")
        return self.load_trained(name, record)

    # ------------------------------------------------------------------ the whole suite
    def plan(self) -> tuple[list[str], list[DetectorSpec]]:
        """The suite's generators that support the data set and its detectors; loads ``--fakes``."""
        generators, detectors = resolve_suite(self.config.suite)
        generators = [g for g in generators if self._supports_data(g)]
        if not generators:
            raise UserError(f"no generator of suite {self.config.suite!r} supports data set {self.config.dataset!r}")
        specs = [resolve_detector(d) for d in (self.config.detectors or detectors)]
        if self.data.kind == "image":
            self._external = self.load_external_fakes()
        elif self.config.fakes:
            raise UserError(f"--fakes needs an image data set, not {self.config.dataset!r}")
        return generators, specs

    def run(self, stage: str = "all", take: Callable[[str], bool] = lambda item: True) -> RunSummary:
        """Every unit of the suite; ``stage`` ``generators`` (train, sample, measure) or ``detectors``
        runs one half, and ``take`` says which work items (a generator, a detector's training set or
        its null check) this process does (``ganbench.parallel`` hands them out to workers)."""
        generators, specs = self.plan()
        samples = {}
        if stage != "detectors":
            samples = {name: self.run_generator(name)[1] for name in shard_of(generators, self.config.shard)
                       if take(f"generator {name}")}
        if stage == "generators" or self.data.kind != "image" or not specs:
            return self.summary
        if stage == "detectors" or self.config.shard is not None:
            written = self.written_samples(generators)
            if written is None:
                self.console.print("detection units left to the shard that finishes last (fakes of other shards missing)")
                return self.summary
            samples = written
        tests = self.test_sets(samples)
        plan = detection_plan(generators, list(self._external), plan=self.config.preset.detection_plan)
        for spec in specs:
            self.console.print(f"[bold]detector {spec.name}[/]")
            for training in plan:
                if take(f"detector {spec.name} {training.label}"):
                    self.detector_evaluations(spec, training, samples, tests)
            if take(f"null check {spec.name}"):
                self.null_check(spec)
        return self.summary

    def written_samples(self, generators: list[str]) -> dict[str, dict[str, Any]] | None:
        """The sample record of every generator (any status), or None while one is still missing."""
        found = {}
        for name in generators:
            config = {"generator": name, "train": self.train_key(name), "counts": self.fake_counts()}
            record = self.store.find_record("sample", name, unit_key({"unit": "sample", **self.base_config(), **config}))
            if record is None:
                return None
            found[name] = record
        return found

    def _supports_data(self, name: str) -> bool:
        cls = GENERATORS.get(name)
        return cls.supports_points if self.data.kind == "points" else cls.supports_images


def training_inputs(model: GenerativeModel, data: Dataset, reference: Callable[[], torch.nn.Module]
                    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Train-split images and labels; for an image-to-image variant, its task view of the train
    split: targets as images, and the inputs as ``source`` (``ganbench.tasks``). A variant whose
    content loss needs a reference network gets ``reference()``."""
    if not isinstance(model, TranslationModel):
        return data.x_train, data.y_train, {}
    if model.needs_reference:
        model.set_content_network(reference())
    view = task_view(model.task_view, data.x_train, data.y_train, data.num_classes)
    return view.target, view.target_labels, {"source": view.source, "source_labels": view.source_labels}


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
