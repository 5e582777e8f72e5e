"""The generation half of a run: train, sample and measure each generator, one unit each.

* ``train`` G -> checkpoint (resumable)
* ``sample`` G -> three disjoint, seeded sets of quantized fakes: ``eval`` (quality metrics),
  ``detector_train`` (training detectors) and ``fresh`` (testing detectors; never seen in training)
* ``generation`` G -> quality metrics of the ``eval`` fakes against the real test split

Image-to-image variants train on their task view of the train split and translate test-split
inputs they never saw (:func:`ganbench.tasks.fake_inputs`); their task measures
(:mod:`ganbench.task_measures`) are recorded by the sample unit. Their quality protocol names the
task and the split whose images they translate: measured against that same split, their FID
says how close the translations come to it, not what a generator from noise would reach.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.context import RunContext, training_config
from ganbench.curves import CurveConfig, CurveLogger, curve_probe
from ganbench.data import Dataset
from ganbench.errors import UserError
from ganbench.features import pretrained_extractor, weights_identity
from ganbench.generators import GENERATORS, GenerativeModel
from ganbench.generators.distributed import TRAIN_SIGNAL
from ganbench.generators.distributed import current as current_world
from ganbench.generators.trainer import train
from ganbench.generators.translation_blocks import TranslationModel
from ganbench.imageio import save_grid
from ganbench.quality import QualityConfig, generation_metrics
from ganbench.runtime import derive_seed, preserved_rng
from ganbench.records import Record, SampleRecord, TrainRecord
from ganbench.store import Damage, DamagedFile, load_npz, load_torch, quarantine, write_npz
from ganbench.streaming import StreamedImages
from ganbench.task_measures import task_measures
from ganbench.tasks import fake_inputs, split_for_fakes, task_view
from ganbench.units import (FAKE_SETS, UnitEngine, fake_counts, generation_unit, sample_unit, train_unit,
                            warn_damage)


def training_inputs(model: GenerativeModel, data: Dataset, reference: Callable[[], torch.nn.Module]
                    ) -> tuple[torch.Tensor | StreamedImages, torch.Tensor, dict[str, torch.Tensor]]:
    """Train-split images on the model canvas (``ganbench.geometry``) and labels; for an
    image-to-image variant, its task view of those images: targets as images, and the inputs as
    ``source`` (``ganbench.tasks``). A variant whose content loss needs a reference network gets
    ``reference()``. A streamed data set's images stay in its cache file (``ganbench.streaming``)."""
    if data.cache is not None:
        if isinstance(model, TranslationModel):
            raise UserError(f"{data.name}: image-to-image variants ({model.name}) build their task view of the "
                            "whole train split in memory, which is over --memory-budget; raise --memory-budget")
        return StreamedImages(data.cache, model.spec.geometry), data.y_train, {}
    images = model.spec.geometry.to_model(data.x_train) if data.kind == "image" else data.x_train
    if not isinstance(model, TranslationModel):
        return images, data.y_train, {}
    if model.needs_reference:
        model.set_content_network(reference())
    view = task_view(model.task_view, images, data.y_train, data.num_classes)
    return view.target, view.target_labels, {"source": view.source, "source_labels": view.source_labels}


class GenerationUnits:
    """The train, sample and generation units of a run's generators; ``curves`` says how each
    training logs its curve (``ganbench.curves``; None: no curve)."""

    def __init__(self, context: RunContext, engine: UnitEngine, curves: CurveConfig | None = CurveConfig()) -> None:
        self.context, self.engine, self.curves = context, engine, curves

    def run_generator(self, name: str) -> list[Record]:
        """Train, sample and measure one generator; returns its train, sample and generation records."""
        self.context.require_support(name)
        self.context.console.print(f"[bold]{name}[/]")
        trained = self.train_generator(name)
        sampled = self.sample_generator(name, trained)
        return [trained, sampled, self.evaluate_generator(name, sampled)]

    def train_generator(self, name: str) -> Record:
        ctx = self.context
        ctx.require_support(name)
        unit = train_unit(ctx.scope, name)
        checkpoint = ctx.store.checkpoint_path(name, unit.key)
        steps = ctx.config.preset.steps

        def compute(record: Record) -> None:
            model = ctx.build(name)
            curves = self.curve_logger(name, unit.key, model)
            current_world().share(TRAIN_SIGNAL)
            with ctx.progress() as progress, curves or contextlib.nullcontext():
                task = progress.add_task(f"train {name}", total=steps, losses="")

                def on_step(step: int, losses: Mapping[str, float]) -> None:
                    if step % 10 == 0 or step == steps:
                        text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
                        progress.update(task, completed=step, losses=text)
                    if curves is not None:
                        curves.on_step(step, losses)
                        if curves.due(step):
                            curves.check(step, model)

                def load(path: Path) -> dict[str, Any] | None:
                    state = self.resumable_checkpoint(path)
                    if curves is not None:
                        curves.resume(0 if state is None else int(state["step"]))
                    return state

                x, y, task_inputs = training_inputs(model, ctx.data, lambda: ctx.content_network().model)
                outcome = train(model, x, y, training_config(ctx.config), checkpoint, **task_inputs,
                                save=ctx.store.save_checkpoint, load=load, on_step=on_step)
            record.status = outcome.status
            if outcome.status == "diverged":
                record.reason = f"non-finite loss at step {outcome.diverged_at}"
            elif outcome.status == "truncated":
                record.reason = (f"--max-minutes {ctx.config.max_minutes:g} stopped it after {outcome.steps} of "
                                 f"{steps} steps; run again without it to finish")
            record.seconds = round(outcome.seconds, 3)
            record.metrics = {"steps": outcome.steps, "params": model.parameter_count(),
                              "train_seconds": round(outcome.seconds, 3)}
            overrides = ctx.config.overrides
            record.protocol = {"hyperparameters": unit.config["hyperparameters"], "data_path": ctx.data.data_path,
                               "precision": "bf16-autocast" if ctx.config.amp else
                               "float32-tf32" if ctx.config.device.type == "cuda" else "float32",
                               **({"compiled": ctx.config.compiled} if ctx.config.compiled else {}),
                               "memory_format": outcome.memory_format, "memory_budget": ctx.config.stream.budget,
                               **({"data_cache": ctx.data.cache.digest} if ctx.data.cache is not None else {}),
                               **({"geometry": model.spec.geometry.protocol()} if ctx.data.kind == "image" else {}),
                               "overrides": {**({"preset": dict(overrides.preset)} if overrides.preset else {}),
                                             **({name: overrides.for_generator(name)}
                                                if overrides.for_generator(name) else {})}}
            record.info = {"stopped_by": outcome.stopped_by, "losses": outcome.losses,
                           "checkpoint": str(checkpoint.relative_to(ctx.store.root)), **model.describe(),
                           "device": str(ctx.config.device), "torch": torch.__version__, "data": ctx.data.fingerprint}
            if isinstance(model, TranslationModel) and model.needs_reference:
                record.info["content_network"] = ctx.content_network().protocol()
            if curves is not None:
                record.info["curves"] = str(curves.path.relative_to(ctx.store.root))

        return self.engine.run(unit, compute, generator=name,
                               reusable=lambda record: not record.ok or self.intact_checkpoint(checkpoint))

    @staticmethod
    def intact_checkpoint(path: Path) -> bool | Damage:
        """Whether a finished training's checkpoint still loads as a finished one (CRC-32s checked,
        ``weights_only``: no code runs); the :class:`Damage` of a damaged one, which the unit engine
        moves aside before the generator is trained again."""
        try:
            state = load_torch(path, "checkpoint")
        except FileNotFoundError:
            return False
        except DamagedFile as exc:
            return exc.damage
        return bool(state.get("finished"))

    def curve_logger(self, name: str, key: str, model: GenerativeModel) -> CurveLogger | None:
        """The curve logger of a training (its cheap check built before the training's clock starts)."""
        if self.curves is None:
            return None
        ctx = self.context
        classifier = ctx.data.num_classes > 1 or ctx.config.extractor == "classifier"
        probe = curve_probe(model, ctx.data, ctx.extractor if classifier else None, ctx.config.seed, self.curves)
        if probe is not None and probe.extractor is not None:
            probe.real_statistics()
        return CurveLogger(ctx.store.curves_path(name, key), ctx.config.preset.steps, probe, self.curves,
                           tensorboard=ctx.store.tensorboard_dir(name, key))

    def resumable_checkpoint(self, path: Path) -> dict[str, Any] | None:
        """The checkpoint of an unfinished training to resume from (called under the training's
        lock), or None: train from step 0. A damaged checkpoint is moved aside with a warning; a
        finished one is trained again too, since its record, which holds the losses, is missing,
        damaged or forced out."""
        try:
            state = load_torch(path, "checkpoint")
        except FileNotFoundError:
            return None
        except DamagedFile as exc:
            warn_damage(self.context.console, quarantine(exc.damage, "training from step 0"))
            return None
        return None if state.get("finished") else state

    def sample_generator(self, name: str, train_record: TrainRecord) -> Record:
        ctx = self.context
        unit = sample_unit(ctx.scope, name, train_record.key)
        path = ctx.store.fakes_path(name, unit.key)
        grid = ctx.store.samples_path(name, unit.key)

        def compute(record: Record) -> None:
            model = ctx.load_trained(name, train_record)
            arrays: dict[str, np.ndarray] = {}
            started = time.perf_counter()
            total = 0
            translating = isinstance(model, TranslationModel)
            for which, n in fake_counts(ctx.config.preset).items():
                seed = derive_seed(ctx.config.seed, name, which)
                labels, codes = model.evaluation_conditions(n)
                with preserved_rng():
                    if translating:
                        fakes = self.translated_fakes(model, which, n, seed)
                    else:
                        fakes = model.sample(n, labels=labels if codes is None else codes, seed=seed)
                fakes = ctx.on_real_levels(fakes)
                arrays[which] = fakes.numpy()
                if labels is not None:
                    arrays[f"{which}_labels"] = labels.numpy()
                if codes is not None:
                    arrays[f"{which}_codes"] = codes.numpy()
                total += n
            seconds = time.perf_counter() - started
            write_npz(path, **arrays)
            if ctx.data.kind == "image":
                save_grid(torch.from_numpy(arrays["eval"][:64]), grid)
            measures = task_measures(ctx, model) if translating else {}
            record.metrics = {"images_per_second": total / max(seconds, 1e-9), **measures}
            record.info = {"task_measures": sorted(measures), "fakes": str(path.relative_to(ctx.store.root)),
                           "samples": str(grid.relative_to(ctx.store.root))}
            if ctx.scope.levels is not None:
                record.protocol = {"levels": f"fakes put on the {len(ctx.scope.levels)} intensity values of the "
                                             "quantized real images"}

        def intact(record: Record) -> bool | Damage:
            if not isinstance(record, SampleRecord):
                return False
            try:
                load_npz(ctx.store.root / record.fakes_file, "fakes")
            except FileNotFoundError:
                return False
            except DamagedFile as exc:
                return exc.damage
            return True

        blocked = None if train_record.ok else train_record
        return self.engine.run(unit, compute, blocked_by=blocked, reusable=intact, generator=name)

    def translated_fakes(self, model: TranslationModel, which: str, n: int, seed: int) -> torch.Tensor:
        """``n`` fakes translated from test-split inputs the generator never saw: the ``eval`` set
        from the whole test split, the detectors' two sets from disjoint halves of it, repeated with
        seeded shifts where ``n`` exceeds them (``ganbench.tasks.fake_inputs``)."""
        data = self.context.data
        index = split_for_fakes(len(data.x_test), FAKE_SETS, self.context.config.seed)[which]
        inputs = fake_inputs(model.task_view, model.spec.geometry.to_model(data.x_test[index]), data.y_test[index],
                             data.num_classes, n, seed)
        return model.translate(inputs.source, inputs.target_labels, seed=seed)

    def evaluate_generator(self, name: str, sample_record: SampleRecord) -> Record:
        ctx, c = self.context, self.context.config
        points = ctx.data.kind == "points"
        unit = generation_unit(ctx.scope, name, sample_record.key, c.extractor,
                               weights_identity(c.extractor, c.extractor_weights), c.inception_resize)

        def compute(record: Record) -> None:
            arrays = ctx.fakes(sample_record)
            quality = QualityConfig(seed=c.seed)
            if points:
                record.metrics, record.protocol = generation_metrics(ctx.data, arrays["eval"], config=quality)
                return
            classifier = ctx.extractor() if ctx.data.num_classes > 1 or c.extractor == "classifier" else None
            extractor = classifier if c.extractor == "classifier" else pretrained_extractor(
                c.extractor, c.extractor_weights, c.device, c.inception_resize)
            record.metrics, record.protocol = generation_metrics(
                ctx.data, arrays["eval"], extractor, classifier=classifier, labels=arrays.get("eval_labels"),
                codes=arrays.get("eval_codes"), config=quality)
            record.metrics.update(sample_record.task_measures)
            task_view = getattr(GENERATORS.get(name), "task_view", None)
            if task_view is not None:
                record.protocol.update(task=task_view, translated_split=record.protocol["real_split"])

        blocked = None if sample_record.ok else sample_record
        return self.engine.run(unit, compute, blocked_by=blocked, generator=name)
