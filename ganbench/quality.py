"""Quality of one generator's fakes: every metric and the protocol that produced it.

Images: FID (Heusel et al., NeurIPS 2017), KID (Binkowski et al., ICLR 2018), IS (Salimans et
al., NeurIPS 2016), precision/recall (Kynkaanniemi et al., NeurIPS 2019) and density/coverage
(Naeem et al., ICML 2020) over the chosen extractor's features; class coverage, conditional
accuracy and InfoGAN's code accuracy (after the best code-to-class matching) from the data set's
reference classifier. Points (``toy2d``): mode coverage as in VEEGAN (Srivastava et al., NeurIPS
2017) and PacGAN (Lin et al., NeurIPS 2018).

The protocol returned with the metrics names everything a number depends on (extractor and its
weights hash, sample counts, real split, resize, seed, metric settings), so two scores are only
ever compared under the same protocol. :func:`least_samples` and :func:`advised_samples` give the
sample counts below which a feature metric is refused (undefined, or a constant) or computed with a
warning (defined, but unreliable). FID and precision, recall, density and coverage carry bootstrap
intervals conditional on the real test split (:mod:`ganbench.score_intervals`), so that a run of one
seed has an interval too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from ganbench.data import Dataset
from ganbench.features import ClassifierExtractor, FeatureExtractor
from ganbench.metrics import (IS_SHUFFLE_SEED, check_features, class_coverage, conditional_accuracy,
                              frechet_distance, gaussian_statistics, inception_score_from_probs, kid_from_features,
                              matched_code_accuracy, mode_coverage_2d)
from ganbench.prdc import prdc_hits
from ganbench.score_intervals import BootstrapSettings, fid_interval, prdc_intervals

#: The code a generation unit's fakes pass through to become its metrics: the metrics and their
#: intervals and the feature extractors (the reference classifier's network and recipe, Inception
#: and its resizes). Their digest is part of every generation key.
MEASUREMENT_MODULES = (__name__, "ganbench.metrics", "ganbench.prdc", "ganbench.score_intervals", "ganbench.features",
                       "ganbench.inception", "ganbench.inception_resizes")
#: The code an image-to-image generator's sample unit measures its translations with (the task
#: views and their inputs, the paired and unpaired task measures, the reference classifier).
TASK_MEASURE_MODULES = ("ganbench.tasks", "ganbench.task_measures", "ganbench.translation_metrics", "ganbench.features")


@dataclass(frozen=True)
class QualityConfig:
    """Metric settings, defaulting to the papers': 100 KID subsets of 1000, 10 IS splits (of the
    samples shuffled as torch-fidelity shuffles them), k = 5; ``intervals`` None gives no bootstrap
    intervals."""

    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    is_shuffle_seed: int = IS_SHUFFLE_SEED
    prdc_k: int = 5
    intervals: BootstrapSettings | None = BootstrapSettings()
    seed: int = 0

    def settings(self) -> dict[str, Any]:
        """Everything but the seed (which a run's key holds already), for the keys of the units
        that compute metrics: a changed setting gives new keys."""
        return {k: v for k, v in asdict(self).items() if k != "seed"}


#: KID subsets smaller than this are computed with a warning (the paper and torch-fidelity use 1000)
KID_ADVISED_SUBSET = 100
#: precision, recall, density and coverage warn below this many samples per nearest neighbour
PRDC_ADVISED_PER_NEIGHBOUR = 20


@dataclass(frozen=True)
class SampleNeed:
    """A sample count a metric needs, and why."""

    count: int
    reason: str


def least_samples(metric: str, config: QualityConfig) -> SampleNeed:
    """The count (per input; KID: per subset; IS: of the scored input) below which ``metric`` (``fid``,
    ``kid``, ``is`` or ``prdc``) is undefined or a constant, and so refused."""
    if metric == "fid":
        return SampleNeed(2, "a covariance needs two")
    if metric == "kid":
        return SampleNeed(2, "the unbiased MMD² of a subset needs two")
    if metric == "is":
        return SampleNeed(2 * config.is_splits, f"two per split of {config.is_splits}: a split of one image "
                                                f"scores 1 whatever it holds")
    if metric == "prdc":
        return SampleNeed(config.prdc_k + 1, f"each sample's k={config.prdc_k} nearest neighbours besides itself")
    raise ValueError(f"unknown metric {metric!r}")


def advised_samples(metric: str, config: QualityConfig, size: int = 0) -> SampleNeed:
    """The count (as in :func:`least_samples`) below which ``metric`` is defined but unreliable, and so
    computed with a warning; ``size`` is the feature dimension (FID) or the number of classes (IS)."""
    if metric == "fid":
        return SampleNeed(size + 1, f"a full-rank covariance of {size}-d features; fewer give a singular one "
                                    f"and a FID that grows as n shrinks")
    if metric == "kid":
        return SampleNeed(min(KID_ADVISED_SUBSET, config.kid_subset_size),
                          f"smaller subsets give MMD² estimates that scatter widely; the paper uses "
                          f"{QualityConfig.kid_subset_size}")
    if metric == "is":
        return SampleNeed(config.is_splits * size, f"{config.is_splits} splits of at least the {size} classes: "
                                                   f"a split's IS cannot exceed its size")
    if metric == "prdc":
        return SampleNeed(PRDC_ADVISED_PER_NEIGHBOUR * config.prdc_k,
                          f"below it each k={config.prdc_k} nearest-neighbour ball holds over "
                          f"1/{PRDC_ADVISED_PER_NEIGHBOUR} of the set, and almost any sample falls in one")
    raise ValueError(f"unknown metric {metric!r}")


def point_metrics(dataset: Dataset, fakes: torch.Tensor) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mode coverage of ``N,2`` fake points against the data set's mixture modes."""
    if dataset.modes is None or dataset.mode_std is None:
        raise ValueError(f"data set {dataset.name} has no mixture modes")
    metrics = mode_coverage_2d(fakes, dataset.modes, dataset.mode_std)
    protocol = {"extractor": "none", "n_fake": len(fakes), "modes": len(dataset.modes), "mode_std": dataset.mode_std,
                "high_quality": "within 3 std of the nearest mode"}
    return metrics, protocol


def kid_subsets_used(has_std: bool, config: QualityConfig) -> int:
    """KID's subsets as a protocol states them: one where no std came back (the one subset held both
    sets whole, :func:`ganbench.metrics.kid_from_features`), else the configured count."""
    return config.kid_subsets if has_std else 1


def image_metrics(real: torch.Tensor, fakes: torch.Tensor, extractor: FeatureExtractor, *,
                  classifier: ClassifierExtractor | None = None, labels: torch.Tensor | None = None,
                  codes: torch.Tensor | None = None, config: QualityConfig = QualityConfig(),
                  real_split: str = "test") -> tuple[dict[str, Any], dict[str, Any]]:
    """Feature metrics of uint8 ``fakes`` against uint8 ``real`` images.

    IS uses the extractor's class probabilities (the classifier's when the extractor has none);
    class coverage, conditional accuracy (``labels``: the classes asked for) and matched code
    accuracy (``codes``: an unsupervised code's values) always use the data set's classifier.
    """
    n = min(len(real), len(fakes))
    real_x, fake_x = extractor.extract(real), extractor.extract(fakes)
    kid_size = min(config.kid_subset_size, n)
    kid, kid_std = kid_from_features(real_x.features, fake_x.features, config.kid_subsets, kid_size, config.seed)
    check_features(real_x.features, fake_x.features)
    (mu_real, sigma_real), (mu_fake, sigma_fake) = map(gaussian_statistics, (real_x.features, fake_x.features))
    metrics: dict[str, Any] = {"fid": frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake), "kid": kid,
                               **({} if kid_std is None else {"kid_std": kid_std})}
    if config.intervals is not None:
        metrics.update(fid_interval(metrics["fid"], fake_x.features, mu_real, sigma_real, config.intervals,
                                    config.seed))
    class_probs = None
    if classifier is not None:
        class_probs = fake_x.probs if classifier is extractor else classifier.extract(fakes).probs
    is_probs, is_source = (fake_x.probs, extractor.protocol()["extractor"]) if fake_x.probs is not None \
        else (class_probs, "classifier")
    if is_probs is not None:
        metrics["is"], metrics["is_std"] = inception_score_from_probs(is_probs, config.is_splits,
                                                                        config.is_shuffle_seed)
    hits = prdc_hits(real_x.features, fake_x.features, config.prdc_k)
    metrics.update(hits.scores())
    if config.intervals is not None:
        metrics.update(prdc_intervals(hits, config.intervals, config.seed))
    if class_probs is not None:
        metrics.update(class_coverage(class_probs))
        if labels is not None:
            metrics["conditional_accuracy"] = conditional_accuracy(class_probs, labels)
        if codes is not None:
            metrics["code_accuracy"] = matched_code_accuracy(class_probs, codes)
    protocol: dict[str, Any] = {
        **extractor.protocol(), "feature_dim": int(real_x.features.shape[1]), "n_real": len(real),
        "n_fake": len(fakes), "real_split": real_split, **asdict(config),
        "kid_subsets": kid_subsets_used(kid_std is not None, config), "kid_subset_size": kid_size,
        "is_probs": is_source if is_probs is not None else "none",
        "intervals": "none" if config.intervals is None else config.intervals.protocol("the fakes'", "the reals'"),
    }
    if classifier is not None:
        protocol["classifier_test_acc"] = round(classifier.test_accuracy, 4)
    return metrics, protocol


def generation_metrics(dataset: Dataset, fakes: torch.Tensor, extractor: FeatureExtractor | None = None, *,
                       classifier: ClassifierExtractor | None = None, labels: torch.Tensor | None = None,
                       codes: torch.Tensor | None = None,
                       config: QualityConfig = QualityConfig()) -> tuple[dict[str, Any], dict[str, Any]]:
    """Quality of ``fakes`` against the test split of ``dataset``: (metrics, protocol).

    Point data sets get mode coverage; image data sets need an ``extractor``.
    """
    if dataset.kind == "points":
        metrics, protocol = point_metrics(dataset, fakes)
        return metrics, {**protocol, "seed": config.seed}
    if extractor is None:
        raise ValueError("image metrics need a feature extractor")
    return image_metrics(dataset.x_test, fakes, extractor, classifier=classifier, labels=labels, codes=codes,
                         config=config)
