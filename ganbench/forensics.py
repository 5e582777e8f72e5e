"""``ganbench detect``: detectors scored on outside real and fake images, no generator trained.

The field's standard test (Wang et al., "CNN-generated images are surprisingly easy to spot...
for now", CVPR 2020; Ojha et al., "Towards Universal Fake Image Detectors that Generalize Across
Generative Models", CVPR 2023): a fitted detector scores each generator's fakes against its
reals at their native size, and the same metrics as a run's detection units come out
(:func:`ganbench.detectors.evaluate.detection_metrics`) per detector x generator x perturbation.

A detector (``--detector SPEC[@PATH]``) is a built-in, published (``cnndetection``,
``univfd``), import-path or entry-point detector; with ``@PATH`` it is loaded fitted (a file of
:mod:`ganbench.detectors.saved`, or a published checkpoint), otherwise it is fitted on
``--train-real`` / ``--train-fakes`` (a class that declares ``needs_fit = False`` is used as
built). The threshold comes from a validation slice of the training data, :data:`VALIDATION_FRACTION`
of each class drawn with the seed, as in a run; a saved detector carries its own; with no
validation data it is 0.5 for probability scores and 0 for logits, as the protocol states.
Where a test set's reals and fakes differ in size, or its images have the pixels of training
images (a leak), a warning says so and the protocol records the sizes and the count. A mistake
met while scoring one test set (a detector that cannot score its size) keeps the results of the
sets scored before it (:class:`DetectStopped`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.detector_choice import DetectorChoice, parse_arguments, parse_detector
from ganbench.detectors.base import RunSettings, accepted_arguments, build_detector, describe, is_baseline
from ganbench.detectors.evaluate import (BASELINE_FPR, VALIDATION_FRACTION, bootstrap_protocol, decision_threshold,
                                         detection_metrics, validation_split)
from ganbench.detectors.perturbations import perturb
from ganbench.detectors.plugins import checked_scores
from ganbench.detectors.saved import load_fitted, save_fitted
from ganbench.errors import UserError
from ganbench.forensics_output import check_scores_path
from ganbench.outside_data import (Framing, Images, ImageSource, TestSet, cnndetection_sets, common_channels, decode,
                                   parse_fakes, parse_source, stacked)
from ganbench.runtime import derive_seed, seed_everything

SCORE_CHUNK = 256


@dataclass
class Prepared:
    """A detector ready to score, with its threshold and where the threshold came from."""

    choice: DetectorChoice
    model: Any
    threshold: float
    threshold_source: str

    @property
    def name(self) -> str:
        return self.choice.label


@dataclass
class DetectRequest:
    """The options of ``ganbench detect`` as given on the command line."""

    detectors: list[str]
    arguments: list[str] = field(default_factory=list)
    real: str | None = None
    fakes: list[str] = field(default_factory=list)
    root: Path | None = None
    train_real: str | None = None
    train_fakes: str | None = None
    size: int | None = None
    resize: str = "center-crop"
    perturbations: list[str] = field(default_factory=lambda: ["none"])
    save_detector: Path | None = None
    scores: Path | None = None
    device: torch.device = torch.device("cpu")
    seed: int = 0


@dataclass
class ScoredImages:
    """Per-image scores of one detector on one generator's test set under one perturbation."""

    detector: str
    generator: str
    perturbation: str
    paths: list[str]
    labels: np.ndarray
    scores: np.ndarray


@dataclass
class DetectOutcome:
    """One row per detector x generator x perturbation, the per-image scores and the protocol."""

    rows: list[dict[str, Any]]
    scored: list[ScoredImages]
    protocol: dict[str, Any]


class DetectStopped(UserError):
    """A user's mistake met while scoring one test set after others were scored: ``outcome`` keeps
    the rows and scores of the sets before it."""

    def __init__(self, message: str, outcome: DetectOutcome) -> None:
        super().__init__(message)
        self.outcome = outcome


def gather_test_sets(root: Path | None, real: str | None, fakes: list[str]) -> list[TestSet]:
    """The CNNDetection-layout generators of ``root`` and the ``--fakes`` sets against ``--real``."""
    sets = cnndetection_sets(root) if root is not None else []
    if fakes and real is None:
        raise UserError("--fakes needs --real folder:PATH (the reals they are tested against)")
    if real is not None and not fakes:
        raise UserError("--real needs at least one --fakes NAME=folder:PATH")
    if real is not None:
        reals = parse_source(real, "--real")
        sets.extend(TestSet(name, reals, source) for name, source in map(parse_fakes, fakes))
    if not sets:
        raise UserError("nothing to score: give --root PATH (CNNDetection layout) or --real with --fakes")
    names = [s.generator for s in sets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UserError(f"generator name(s) {', '.join(repeated)} appear more than once (--root folders and --fakes)")
    return sets


def default_threshold(model: Any) -> tuple[float, str]:
    """0.5 for a detector that declares probability scores, 0 for logits; the text says which."""
    declared = getattr(model, "outputs_probability", None)
    if declared:
        return 0.5, "0.5 (probability scores, no validation data)"
    if declared is None:
        return 0.0, "0 (no validation data; scores read as logits: the detector does not declare outputs_probability)"
    return 0.0, "0 (logit scores, no validation data)"


def split_validation(images: torch.Tensor, seed: int, purpose: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded shuffle of ``images`` split into (fit, validation) with :data:`VALIDATION_FRACTION` held out."""
    fit, held_out = validation_split(len(images), derive_seed(seed, purpose))
    if len(held_out) < 1 or len(fit) == 0:
        raise UserError(f"--train-{purpose}: {len(images)} image(s) are too few to hold out a validation slice "
                        f"of {VALIDATION_FRACTION:.0%}")
    return images[fit], images[held_out]


def fit_detector(choice: DetectorChoice, settings: RunSettings, real: torch.Tensor, fake: torch.Tensor) -> Prepared:
    """Fit on the training images but a validation slice of each class; the threshold comes from that slice."""
    fit_real, val_real = split_validation(real, settings.seed, "real")
    fit_fake, val_fake = split_validation(fake, settings.seed, "fakes")
    seed_everything(settings.seed)
    model = build_detector(choice.spec.cls, settings, choice.spec.arguments)
    model.fit(fit_real, fit_fake, **accepted_arguments(model.fit, {"validation": (val_real, val_fake)}))
    baseline = is_baseline(choice.spec.cls)
    threshold = decision_threshold(score_batch(choice.spec.name, model, val_real),
                                   score_batch(choice.spec.name, model, val_fake), sees_fakes=not baseline)
    if baseline:
        return Prepared(choice, model, threshold, f"validation slice of the training reals ({len(val_real)} images; "
                                                  f"at most {BASELINE_FPR:.0%} called fake, no fakes seen)")
    return Prepared(choice, model, threshold, f"validation slice of the training data ({len(val_real)} real, "
                                              f"{len(val_fake)} fake)")


def load_detector(choice: DetectorChoice, settings: RunSettings) -> Prepared:
    """A published checkpoint or a saved detector, ready to score."""
    assert choice.weights is not None
    if choice.published:
        model = build_detector(choice.spec.cls, settings, choice.spec.arguments)
        model.load_checkpoint(choice.weights)
        return Prepared(choice, model, *default_threshold(model))
    saved = load_fitted(choice.weights, choice.spec, settings)
    if saved.threshold is None:
        return Prepared(choice, saved.detector, *default_threshold(saved.detector))
    return Prepared(choice, saved.detector, saved.threshold,
                    f"saved with the detector: {saved.header.get('threshold_source') or 'validation'}")


def score_batch(name: str, model: Any, images: torch.Tensor) -> np.ndarray:
    """``model.score`` of one batch, checked; a detector that cannot take these images is one UserError line."""
    try:
        raw = model.score(images)
    except UserError:
        raise
    except (ValueError, RuntimeError, TypeError, IndexError) as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else exc.__class__.__name__
        c, h, w = images.shape[1:]
        raise UserError(f"detector {name} cannot score {c}-channel {h}x{w} images ({reason}); a detector fitted at "
                        "one size may need --size") from None
    return checked_scores(name, raw, len(images))


def score_images(prepared: Prepared, images: Images, perturbation: str, seed: int) -> np.ndarray:
    """Scores in the order of ``images``: images of one size are perturbed and scored together, in chunks."""
    scores = np.zeros(len(images))
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images.images):
        by_shape.setdefault(tuple(image.shape), []).append(index)
    for shape, indices in by_shape.items():
        for start in range(0, len(indices), SCORE_CHUNK):
            chunk = indices[start : start + SCORE_CHUNK]
            batch = perturb(torch.stack([images.images[i] for i in chunk]), perturbation,
                            derive_seed(seed, *shape, start))
            scores[chunk] = score_batch(prepared.name, prepared.model, batch)
    return scores


def pixel_digests(images: Iterable[torch.Tensor]) -> set[str]:
    """A digest of each distinct image's shape and pixels (equal images give one digest)."""
    return {hashlib.blake2b(str(tuple(i.shape)).encode() + i.contiguous().numpy().tobytes(), digest_size=16).hexdigest()
            for i in images}


def check_perturbations(specs: list[str]) -> list[str]:
    """Each spec applied once to a blank image, so a bad one fails before any work."""
    if not specs:
        return ["none"]
    for spec in specs:
        perturb(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), spec)
    if len(set(specs)) != len(specs):
        raise UserError("--perturbation lists the same perturbation twice")
    return specs


class Detect:
    """The ``detect`` command's work: options checked first, then detectors prepared, then every test set scored."""

    def __init__(self, request: DetectRequest, say: Callable[[str], None] = lambda _: None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.request, self.say, self.warn = request, say, warn or say
        self.sizes: dict[str, dict[str, list[str]]] = {}
        self.training_digests: set[str] = set()
        self.shared: dict[str, int] = {}
        arguments = parse_arguments(request.arguments)
        if not request.detectors:
            raise UserError("give at least one --detector")
        self.choices = [parse_detector(option, arguments) for option in request.detectors]
        labels = [c.label for c in self.choices]
        if len(set(labels)) != len(labels):
            raise UserError("the same detector (and weights file name) is named twice")
        self.framing = Framing(request.size, request.resize)
        self.perturbations = check_perturbations(request.perturbations)
        self.sets = gather_test_sets(request.root, request.real, request.fakes)
        self.training = self._training_sources()
        self._check_sizes()
        self._check_saving()
        check_scores_path(request.scores)

    def _training_sources(self) -> tuple[ImageSource, ImageSource] | None:
        r = self.request
        if (r.train_real is None) != (r.train_fakes is None):
            raise UserError("--train-real and --train-fakes go together")
        untrained = [c.spec.name for c in self.choices if c.needs_training]
        if r.train_real is None:
            if untrained:
                raise UserError(f"detector {untrained[0]} is not fitted: give --train-real and --train-fakes, "
                                f"or a saved detector as --detector {untrained[0]}@PATH")
            return None
        return parse_source(r.train_real, "--train-real"), parse_source(r.train_fakes, "--train-fakes")

    def _check_sizes(self) -> None:
        for choice in self.choices:
            needed = getattr(choice.spec.cls, "input_size", None)
            if needed is not None and self.framing.size != needed:
                raise UserError(f"{choice.spec.name} takes {needed}x{needed} images: add --size {needed} "
                                "(--resize center-crop, the paper's test, or resize)")

    def _check_saving(self) -> None:
        path = self.request.save_detector
        if path is None:
            return
        fitted = [c for c in self.choices if c.needs_training]
        if len(fitted) != 1:
            raise UserError(f"--save-detector saves the one detector fitted here; {len(fitted)} are fitted")
        if not callable(getattr(fitted[0].spec.cls, "state", None)):
            raise UserError(f"detector {fitted[0].spec.name} cannot be saved: it implements no state()/load_state()")
        if not path.parent.is_dir():
            raise UserError(f"--save-detector: no such folder: {path.parent}")

    def settings(self) -> RunSettings:
        return RunSettings(seed=self.request.seed, device=self.request.device)

    def prepare(self) -> list[Prepared]:
        """Every detector loaded or fitted (and the fitted one saved when asked)."""
        prepared = [load_detector(c, self.settings()) for c in self.choices if c.weights is not None]
        to_fit = [c for c in self.choices if c.needs_training]
        untrained = [c for c in self.choices if not c.needs_training and c.weights is None]
        prepared += [Prepared(c, build_detector(c.spec.cls, self.settings(), c.spec.arguments),
                              *default_threshold(c.spec.cls)) for c in untrained]
        if to_fit and self.training is not None:
            real, fake = common_channels(decode(self.training[0], self.framing), decode(self.training[1], self.framing))
            real_t, fake_t = stacked(real, "--train-real images"), stacked(fake, "--train-fakes images")
            self.training_digests = pixel_digests(real_t) | pixel_digests(fake_t)
            if real_t.shape[1:] != fake_t.shape[1:]:
                raise UserError(f"--train-real images are {tuple(real_t.shape[1:])} and --train-fakes images "
                                f"{tuple(fake_t.shape[1:])}; pass --size N to give them one size")
            for choice in to_fit:
                self.say(f"fitting {choice.spec.name} on {len(real_t)} real and {len(fake_t)} fake images")
                state = fit_detector(choice, self.settings(), real_t, fake_t)
                prepared.append(state)
                if self.request.save_detector is not None:
                    self._save(state, len(real_t), len(fake_t))
        order = {c.label: i for i, c in enumerate(self.choices)}
        return sorted(prepared, key=lambda p: order[p.name])

    def _save(self, state: Prepared, n_real: int, n_fake: int) -> None:
        assert self.request.save_detector is not None and self.training is not None
        training = {"real": self.training[0].label, "fakes": self.training[1].label, "n_real": n_real,
                    "n_fake": n_fake, "framing": self.framing.describe(), "seed": self.request.seed}
        save_fitted(state.model, self.request.save_detector, state.choice.spec, state.threshold,
                    state.threshold_source, training)
        self.say(f"saved {state.name} to {self.request.save_detector}")

    def run(self) -> DetectOutcome:
        prepared = self.prepare()
        rows: list[dict[str, Any]] = []
        scored: list[ScoredImages] = []
        for done, test in enumerate(self.sets):
            try:
                set_rows, set_scored = self.score_set(test, prepared)
            except UserError as error:
                if not done:
                    raise
                finished = ", ".join(t.generator for t in self.sets[:done])
                raise DetectStopped(f"{error} (while scoring {test.generator}; scored before it: {finished})",
                                    DetectOutcome(rows, scored, self.protocol(prepared))) from error
            rows += set_rows
            scored += set_scored
        return DetectOutcome(rows, scored, self.protocol(prepared))

    def score_set(self, test: TestSet, prepared: list[Prepared]) -> tuple[list[dict[str, Any]], list[ScoredImages]]:
        """One test set's rows (detector x perturbation) and per-image scores."""
        real, fake = common_channels(decode(test.real, self.framing), decode(test.fake, self.framing))
        self.check_sizes(test.generator, real, fake)
        self.check_overlap(test.generator, real, fake)
        self.say(f"scoring {test.generator}: {len(real)} real and {len(fake)} fake images")
        labels = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
        rows: list[dict[str, Any]] = []
        scored: list[ScoredImages] = []
        for state in prepared:
            for perturbation in self.perturbations:
                seed = derive_seed(self.request.seed, test.generator, perturbation)
                scores = np.concatenate([score_images(state, real, perturbation, derive_seed(seed, "real")),
                                         score_images(state, fake, perturbation, derive_seed(seed, "fake"))])
                rows.append({"detector": state.name, "generator": test.generator, "perturbation": perturbation,
                             "n_real": len(real), "n_fake": len(fake), "threshold": state.threshold,
                             **detection_metrics(labels, scores, state.threshold)})
                scored.append(ScoredImages(state.name, test.generator, perturbation, real.paths + fake.paths,
                                           labels, scores))
        return rows, scored

    def check_sizes(self, generator: str, real: Images, fake: Images) -> None:
        """Record each side's image sizes; warn where reals and fakes differ in size, which a detector
        could score instead of the generator (``--size`` gives both one size)."""
        sizes = {side: sorted({f"{i.shape[-2]}x{i.shape[-1]}" for i in images.images})
                 for side, images in (("real", real), ("fake", fake))}
        self.sizes[generator] = {side: found[:5] for side, found in sizes.items()}
        if sizes["real"] != sizes["fake"]:
            self.warn(f"warning: {generator}: real images are {', '.join(sizes['real'][:3])} and fakes "
                      f"{', '.join(sizes['fake'][:3])} px; a detector may tell them apart by size alone (pass --size N "
                      "to give both one size)")

    def check_overlap(self, generator: str, real: Images, fake: Images) -> None:
        """Count (and warn of) test images whose pixels equal a training image's: a leak that makes their
        scores optimistic (nothing is counted without training images)."""
        if not self.training_digests:
            return
        tested = pixel_digests(real.images) | pixel_digests(fake.images)
        self.shared[generator] = len(tested & self.training_digests)
        if self.shared[generator]:
            self.warn(f"warning: {generator}: {self.shared[generator]} of its test images have the pixels of a "
                      "training image; their scores are optimistic (test on images the detector was not fitted on)")

    def protocol(self, prepared: list[Prepared]) -> dict[str, Any]:
        return {
            "framing": self.framing.describe(),
            "bootstrap": bootstrap_protocol(),
            "perturbations": self.perturbations,
            "seed": self.request.seed,
            "generators": {t.generator: {"real": t.real.label, "fake": t.fake.label,
                                         **({"sizes": self.sizes[t.generator]} if t.generator in self.sizes else {}),
                                         **({"shared_with_training": self.shared[t.generator]}
                                            if t.generator in self.shared else {})}
                           for t in self.sets},
            "detectors": {p.name: {"source": p.choice.spec.source, "weights": str(p.choice.weights or "") or None,
                                   "arguments": dict(p.choice.spec.arguments), "threshold": p.threshold,
                                   "threshold_source": p.threshold_source, "info": describe(p.model)}
                          for p in prepared},
        }
