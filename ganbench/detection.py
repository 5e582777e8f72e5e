"""The detection half of a run: detectors fitted on one generator's fakes, tested on every generator's.

* ``detection`` (D, train set, test G', perturbation) -> D fitted on real-train vs the
  ``detector_train`` fakes of the training generator(s), threshold from a validation slice of
  that same data, evaluated on real-test vs G''s ``fresh`` fakes (or an external ``--fakes``
  set), both perturbed alike; the real test images are the half of the test split that no
  image-to-image generator translates (``ganbench.tasks.split_for_fakes``); the protocols
  (cross-generator matrix, train-on-all, leave-one-out, robustness) are listed in
  :mod:`ganbench.detectors.protocols`
* ``null_check`` D -> D fitted and tested on real vs real (disjoint splits), AUC with a bootstrap
  interval

A detector is fitted only when one of its units is missing, and then once for all of them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ganbench.context import RunConfig, RunContext
from ganbench.detectors.base import (RUN_SETTING_NAMES, RunSettings, accepted_arguments, build_detector,
                                     check_arguments, describe, is_baseline, wants_extractor)
from ganbench.detectors.evaluate import (BASELINE_FPR, bootstrap_protocol, decision_threshold, detection_metrics,
                                         null_check_metrics, reliability_bins, roc_points, validation_split)
from ganbench.detectors.identity import detector_identity
from ganbench.detectors.external import ExternalFakes, load_external
from ganbench.detectors.perturbations import grid_protocol, perturb, perturbation_protocol
from ganbench.detectors.plugins import DetectorSpec, checked_scores, resolve_detector
from ganbench.detectors.protocols import EvalUnit, TrainingSet
from ganbench.errors import UserError
from ganbench.generators import GENERATORS
from ganbench.runtime import derive_seed, seed_everything
from ganbench.source_digest import modules_digest
from ganbench.records import ExternalFakesRecord, Record, SampleRecord
from ganbench.tasks import DETECTION_REALS, split_for_fakes
from ganbench.units import FAKE_SETS, UnitEngine, detection_unit, null_check_unit

#: The code every detection unit's result goes through besides its detector: this module (fitting,
#: the validation threshold), the evaluation metrics, the perturbations and the external fakes' loading.
EVALUATION_MODULES = (__name__, "ganbench.detectors.evaluate", "ganbench.detectors.perturbations",
                      "ganbench.detectors.external")


def detector_config(spec: DetectorSpec) -> dict[str, Any]:
    """What a detection unit's key says about its detector: its code, arguments and weights
    (:func:`ganbench.detectors.identity.detector_identity`), and the evaluation code's digest."""
    return {**detector_identity(spec), "evaluation_code": modules_digest(EVALUATION_MODULES)}


def scores(spec: DetectorSpec, model: Any, images: torch.Tensor) -> np.ndarray:
    return checked_scores(spec.name, model.score(images), len(images))


#: How detection records' thresholds are chosen: one rule for every detector of a run, so a baseline's
#: rows share the learned detectors' tables.
THRESHOLD_PROTOCOL = (f"validation of train generator(s) (a baseline that sees no fake: its validation reals, at most "
                      f"{BASELINE_FPR:.0%} called fake)")


def check_constructors(config: RunConfig) -> None:
    """Refuse a named detector whose constructor needs a value that neither the run's settings nor its
    ``--detector-arg`` arguments supply (before the data are loaded, where a command calls it first)."""
    for name in config.detectors:
        check_arguments(resolve_detector(name).cls, config.detector_arguments, RUN_SETTING_NAMES)


class DetectionUnits:
    """The detection and null-check units of a run's detectors."""

    def __init__(self, context: RunContext, engine: UnitEngine) -> None:
        self.context, self.engine = context, engine
        self.external: dict[str, ExternalFakes] = {}
        check_constructors(context.config)

    def load_external_fakes(self) -> None:
        """The ``--fakes`` sets, resized to the run's resolution and channel count."""
        data = self.context.data
        for option in self.context.config.fakes:
            fakes = load_external(option, data.resolution, data.channels)
            if fakes.name in self.external or fakes.name in GENERATORS:
                raise UserError(f"--fakes name {fakes.name!r} is already a generator or another --fakes set")
            if fakes.warning():
                self.context.console.print(fakes.warning(), style="yellow", markup=False, highlight=False,
                                           soft_wrap=True)
            self.external[fakes.name] = fakes

    def detection_reals(self) -> torch.Tensor:
        """The half of the real test split that detectors are tested on: never the source of a fake."""
        x_test = self.context.data.x_test
        return x_test[split_for_fakes(len(x_test), FAKE_SETS, self.context.config.seed)[DETECTION_REALS]]

    def real_subset(self, images: torch.Tensor, n: int, purpose: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(derive_seed(self.context.config.seed, "real", purpose))
        index = torch.randperm(len(images), generator=gen)[: min(n, len(images))]
        return images[index.sort().values]

    def test_sets(self, samples: dict[str, Record]) -> dict[str, Record]:
        """Records standing for every test generator: sample records, and one unwritten record per external set."""
        tests = dict(samples)
        for name, fakes in self.external.items():
            tests[name] = self.context.scope.new_record(
                ExternalFakesRecord.KIND, fakes.fingerprint, generator=name,
                info={"source": fakes.source, "n": len(fakes.images)})
        return tests

    def test_fakes(self, name: str, record: Record, n: int) -> torch.Tensor:
        if name in self.external:
            return self.external[name].images[:n]
        return self.context.fakes(record)["fresh"][:n]

    def training_fakes(self, generators: tuple[str, ...], samples: dict[str, SampleRecord]) -> torch.Tensor:
        """``detector_train`` fakes of one generator, or an equal, shuffled share of each of several."""
        if len(generators) == 1:
            return self.context.fakes(samples[generators[0]])["detector_train"]
        share = self.context.config.preset.n_detector_train // len(generators)
        mixed = torch.cat([self.context.fakes(samples[g])["detector_train"][:share] for g in generators])
        gen = torch.Generator().manual_seed(derive_seed(self.context.config.seed, "mix", *generators))
        return mixed[torch.randperm(len(mixed), generator=gen)]

    def build_detector(self, spec: DetectorSpec, train_label: str) -> Any:
        c = self.context.config
        settings = RunSettings(seed=derive_seed(c.seed, spec.name, train_label), epochs=c.preset.detector_epochs,
                               device=c.device,
                               extractor=self.context.extractor() if wants_extractor(spec.cls) else None)
        seed_everything(settings.seed)
        return build_detector(spec.cls, settings, spec.arguments)

    def fit_detector(self, spec: DetectorSpec, train_label: str, real: torch.Tensor,
                     fake: torch.Tensor) -> dict[str, Any]:
        """Fit on all but a seeded validation slice of each class (:func:`validation_split`, whatever order the
        images come in); the threshold comes from that slice."""
        seed = derive_seed(self.context.config.seed, "validation", spec.name, train_label)
        fit_real, val_real = validation_split(len(real), derive_seed(seed, "real"))
        fit_fake, val_fake = validation_split(len(fake), derive_seed(seed, "fake"))
        model = self.build_detector(spec, train_label)
        validation = (real[val_real], fake[val_fake])
        started = time.perf_counter()
        model.fit(real[fit_real], fake[fit_fake], **accepted_arguments(model.fit, {"validation": validation}))
        fit_seconds = time.perf_counter() - started
        threshold = decision_threshold(scores(spec, model, validation[0]), scores(spec, model, validation[1]),
                                       sees_fakes=not is_baseline(spec.cls))
        return {"model": model, "threshold": threshold, "fit_seconds": fit_seconds,
                "n_train_real": len(fit_real), "n_train_fake": len(fit_fake)}

    def detector_evaluations(self, spec: DetectorSpec, training: TrainingSet, samples: dict[str, SampleRecord],
                             tests: dict[str, Record]) -> None:
        """One ``detection`` unit per evaluation of ``training``; the detector is fitted only if some unit is missing."""
        ctx, seed = self.context, self.context.config.seed
        identity = detector_config(spec)
        fitted: dict[str, Any] = {}

        def fit() -> dict[str, Any]:
            if not fitted:
                real = self.real_subset(ctx.data.x_train, ctx.config.preset.n_detector_train, "detector_train")
                fitted.update(self.fit_detector(spec, training.label, real,
                                                self.training_fakes(training.generators, samples)))
            return fitted

        real_test = self.real_subset(self.detection_reals(), ctx.config.preset.n_detector_test, "detector_test")
        real_scores: dict[str, np.ndarray] = {}

        def scored_real(model: Any, perturbation: str) -> np.ndarray:
            """The real test images' scores under ``perturbation``: the same for every test generator."""
            if perturbation not in real_scores:
                real = perturb(real_test, perturbation, derive_seed(seed, "real"))
                real_scores[perturbation] = scores(spec, model, real)
            return real_scores[perturbation]

        train_keys = [samples[g].key for g in training.generators]
        train_blocker = next((samples[g] for g in training.generators if not samples[g].ok), None)
        for evaluation in training.units:
            test_record = tests[evaluation.test]
            unit = detection_unit(ctx.scope, identity, training.label, train_keys, evaluation.test,
                                  test_record.key, evaluation.perturbation)

            def compute(record: Record, evaluation: EvalUnit = evaluation, test_record: Record = test_record) -> None:
                state = fit()
                fake = self.test_fakes(evaluation.test, test_record, len(real_test))
                fake = perturb(fake, evaluation.perturbation, derive_seed(seed, evaluation.test))
                real = scored_real(state["model"], evaluation.perturbation)
                started = time.perf_counter()
                fake_scores = scores(spec, state["model"], fake)
                score_seconds = time.perf_counter() - started
                all_scores = np.concatenate([real, fake_scores])
                labels = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
                probabilities = bool(getattr(state["model"], "outputs_probability", False))
                record.metrics = detection_metrics(labels, all_scores, state["threshold"], probabilities,
                                                   seed=derive_seed(seed, "bootstrap", spec.name, training.label,
                                                                    evaluation.test, evaluation.perturbation))
                record.protocol = {"name": evaluation.protocol, "train_generators": list(training.generators),
                                   "n_train_real": state["n_train_real"], "n_train_fake": state["n_train_fake"],
                                   "n_real": len(real), "n_fake": len(fake),
                                   "real_split": "test (half never translated)",
                                   "fakes": "external" if evaluation.test in self.external else "fresh",
                                   "threshold": THRESHOLD_PROTOCOL, "source": spec.source, "detector": identity,
                                   "bootstrap": bootstrap_protocol()}
                if evaluation.test in self.external:
                    record.protocol["external_preparation"] = self.external[evaluation.test].preparation
                if evaluation.perturbation != "none":
                    size = fake.shape[-2:]
                    record.protocol |= {"perturbation": perturbation_protocol(evaluation.perturbation, *size),
                                        "robustness_grid": grid_protocol(*size)}
                record.info = {"fit_seconds": round(state["fit_seconds"], 3),
                               "images_per_second": len(fake) / max(score_seconds, 1e-9),
                               "threshold": state["threshold"], "detector": describe(state["model"]),
                               "roc": roc_points(labels, all_scores)}
                if is_baseline(spec.cls):
                    record.info["baseline"] = True
                if probabilities:
                    record.info["reliability"] = reliability_bins(labels, all_scores)

            blocked = train_blocker or (None if test_record.ok else test_record)
            self.engine.run(unit, compute, blocked_by=blocked, generator=evaluation.test,
                            train_generator=training.label, detector=spec.name, perturbation=evaluation.perturbation)

    def null_check(self, spec: DetectorSpec) -> Record:
        """Real vs real: disjoint halves of the real train split (one labelled fake) to fit, of the test split to test."""
        ctx, seed = self.context, self.context.config.seed
        identity = detector_config(spec)

        def halves(images: torch.Tensor, n: int, purpose: str) -> tuple[torch.Tensor, torch.Tensor]:
            """Two disjoint, shuffled halves of at most ``n`` images each, gathered without copying
            the whole split (a streamed split stays on disk)."""
            gen = torch.Generator().manual_seed(derive_seed(seed, "null-order", purpose))
            order = torch.randperm(len(images), generator=gen)
            half = min(len(images) // 2, n)
            return images[order[:half]], images[order[half : 2 * half]]

        def compute(record: Record) -> None:
            train_a, train_b = halves(ctx.data.x_train, ctx.config.preset.n_detector_train, "null_train")
            test_a, test_b = halves(ctx.data.x_test, ctx.config.preset.n_detector_test, "null_test")
            state = self.fit_detector(spec, "real", train_a, train_b)
            all_scores = np.concatenate([scores(spec, state["model"], test_a), scores(spec, state["model"], test_b)])
            labels = np.concatenate([np.zeros(len(test_a)), np.ones(len(test_b))])
            probabilities = bool(getattr(state["model"], "outputs_probability", False))
            metrics = null_check_metrics(labels, all_scores, state["threshold"], probabilities,
                                         seed=derive_seed(seed, "bootstrap", spec.name))
            record.metrics = metrics
            record.protocol = {"name": "null", "n_train_real": state["n_train_real"],
                               "n_train_fake": state["n_train_fake"], "n_real": len(test_a), "n_fake": len(test_b),
                               "real_split": "test (disjoint halves)", "bootstrap": bootstrap_protocol(),
                               "pass": "the 95% interval of the AUC contains 0.5 (one check, uncorrected)",
                               "p_value": "bootstrap p of AUC = 0.5 (null_p), for a correction over detectors",
                               "source": spec.source, "detector": identity}
            record.info = {"fit_seconds": round(state["fit_seconds"], 3), "threshold": state["threshold"],
                           "detector": describe(state["model"])}
            if not metrics["null_pass"]:
                ctx.console.print(f"[yellow]{spec.name} fails one real-vs-real null check (AUC {metrics['auc']:.3f}, "
                                  f"95% CI {metrics['auc_ci_low']:.3f}-{metrics['auc_ci_high']:.3f}, "
                                  f"p {metrics['null_p']:.3f}); about 1 sound detector in 20 fails one by chance, "
                                  "so the leaderboard judges all detectors' checks together (Holm-Bonferroni)")

        return self.engine.run(null_check_unit(ctx.scope, identity), compute, generator="real",
                               train_generator="real", detector=spec.name, perturbation="none")
