"""Detection metrics, their bootstrap intervals and the validation threshold (labels: 0 = real, 1 = fake;
scores: higher = fake).

The decision threshold is chosen on validation data of the training generator only (the point
that maximizes balanced accuracy there) and then applied unchanged to every test set. A baseline
that never sees a fake takes its threshold from the validation reals alone: the lowest one that
calls at most :data:`BASELINE_FPR` of them fake, the usual operating point of novelty detection.

* EER: where the false-positive and false-negative rates, each linearly interpolated between
  the vertices of the ROC curve, are equal (the ROC crosses the line TPR = 1 - FPR); Fawcett,
  "An introduction to ROC analysis", Pattern Recognition Letters 2006, on ROC interpolation.
* ECE: only for scores that are probabilities of "fake"; ten equal-width bins over [0, 1], each
  weighted by its share of images: |mean probability - fraction of fakes| (Naeini et al.,
  "Obtaining Well Calibrated Probabilities Using Bayesian Binning", AAAI 2015; Guo et al., "On
  Calibration of Modern Neural Networks", ICML 2017). Scores that are not probabilities get no ECE.
* Intervals: a stratified percentile bootstrap (Efron and Tibshirani, "An Introduction to the
  Bootstrap", 1993, ch. 13): real and fake images are resampled separately with replacement, so
  every resample keeps the class counts (the default of pROC, Robin et al., BMC Bioinformatics
  2011), 1000 resamples, the 2.5% and 97.5% quantiles of each statistic. All resamples of a
  chunk are scored at once from per-score counts (:func:`resampled_statistics`). The null
  check's p-value is the achieved significance level of that percentile interval (ch. 16): the
  smallest level whose two-sided interval excludes the null AUC of 0.5.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from ganbench.errors import UserError

RESAMPLES = 1000
LEVEL = 0.95
FPR_TARGET = 0.01
CALIBRATION_BINS = 10
NULL_AUC = 0.5
#: The share of a detector's training images held out to choose its decision threshold.
VALIDATION_FRACTION = 0.2
#: The false-positive rate on validation reals at which a baseline that sees no fake is thresholded.
BASELINE_FPR = 0.05
BOOTSTRAPPED = ("auc", "ap", "balanced_acc", "tpr_at_1fpr")
#: The largest resamples x distinct scores block scored at once (float64 cells).
BLOCK_CELLS = 2_000_000


def bootstrap_protocol(resamples: int = RESAMPLES, level: float = LEVEL) -> str:
    """The bootstrap as a record's protocol states it."""
    return f"stratified (real and fake resampled separately), {resamples} resamples, {level:.0%} percentile"


def validation_split(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (fit, validation) of ``n`` training images: a seeded shuffle with
    :data:`VALIDATION_FRACTION` held out, so the slice never follows the order the images came in
    (class by class, as folders and many arrays are stored)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held_out = int(n * VALIDATION_FRACTION)
    return order[held_out:], order[:held_out]


def validation_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Threshold maximizing balanced accuracy (TPR - FPR) on validation data."""
    fpr, tpr, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    threshold = float(thresholds[best])
    return threshold if np.isfinite(threshold) else float(np.max(scores)) + 1e-12


def reals_only_threshold(real_scores: np.ndarray, fpr: float = BASELINE_FPR) -> float:
    """The lowest threshold (a score of one of the reals, or just above the highest) at which at most
    ``fpr`` of ``real_scores`` score at or above it, i.e. are called fake; no fake is consulted."""
    allowed = int(np.floor(fpr * len(real_scores)))
    values = np.unique(real_scores)
    at_or_above = len(real_scores) - np.searchsorted(np.sort(real_scores), values, side="left")
    admissible = values[at_or_above <= allowed]
    return float(admissible[0]) if len(admissible) else float(np.nextafter(values[-1], np.inf))


def decision_threshold(real_scores: np.ndarray, fake_scores: np.ndarray, sees_fakes: bool = True) -> float:
    """The threshold a fitted detector keeps, from its validation scores: :func:`validation_threshold` of
    both classes, or, for a baseline that never sees a fake, :func:`reals_only_threshold`."""
    if not sees_fakes:
        return reals_only_threshold(real_scores)
    labels = np.concatenate([np.zeros(len(real_scores)), np.ones(len(fake_scores))])
    return validation_threshold(labels, np.concatenate([real_scores, fake_scores]))


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """The rate at which FPR = FNR on the ROC curve, both linearly interpolated between its vertices."""
    fpr, tpr, _ = roc_curve(labels, scores)
    gap = (1 - tpr) - fpr  # 1 at (0, 0), -1 at (1, 1), never increasing along the curve
    last = int(np.flatnonzero(gap >= 0)[-1])
    if gap[last] == 0:
        return float(fpr[last])
    step = gap[last] / (gap[last] - gap[last + 1])
    return float(fpr[last] + step * (fpr[last + 1] - fpr[last]))


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, target: float = FPR_TARGET) -> float:
    """The TPR of the most permissive threshold whose FPR stays at or below ``target`` (every threshold tried)."""
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return float(np.max(tpr[fpr <= target]))


def checked_probabilities(scores: np.ndarray) -> np.ndarray:
    """``scores`` declared as probabilities; a value outside [0, 1] is a UserError."""
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        raise UserError(f"scores declared as probabilities (outputs_probability) lie outside [0, 1]: "
                        f"min {scores.min():.4g}, max {scores.max():.4g}")
    return scores


def reliability_bins(labels: np.ndarray, probabilities: np.ndarray,
                     bins: int = CALIBRATION_BINS) -> list[tuple[float, float, int]]:
    """``(mean probability, fraction of fakes, count)`` of each non-empty equal-width bin over [0, 1]."""
    labels = np.asarray(labels).astype(int)
    p = checked_probabilities(np.asarray(probabilities, dtype=np.float64))
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    return [(float(p[which == b].mean()), float(labels[which == b].mean()), int(np.sum(which == b)))
            for b in range(bins) if np.any(which == b)]


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """ECE of ``probabilities`` read as P(fake): the count-weighted gap of each bin."""
    total = len(labels)
    return float(sum(count / total * abs(mean - fraction)
                     for mean, fraction, count in reliability_bins(labels, probabilities, bins)))


def resampled_statistics(real: np.ndarray, fake: np.ndarray, real_draws: np.ndarray, fake_draws: np.ndarray,
                         threshold: float, target: float = FPR_TARGET) -> dict[str, np.ndarray]:
    """AUC, AP, balanced accuracy at ``threshold`` and TPR at ``target`` FPR of each resample at once: row
    ``b`` of ``real_draws`` / ``fake_draws`` indexes the real / fake scores drawn in resample ``b``.

    Every score is replaced by its place among the distinct scores in descending order, and each
    resample counts its real and fake draws per place; cumulative counts then give, at every
    threshold, the fakes (TP) and reals (FP) scored at or above it:

    * AUC, the Mann-Whitney form P(fake > real) + P(tie) / 2: the fakes at a score meet all
      real draws below it and half of those tied with it;
    * AP, as scikit-learn's ``average_precision_score``: the sum over thresholds of the recall
      gained there (fakes at that score / fakes) times the precision TP / (TP + FP);
    * TPR at ``target`` FPR: the largest TP among thresholds with FP / reals <= ``target``.
    """
    distinct = np.unique(np.concatenate([real, fake]))
    n_resamples, width = len(real_draws), len(distinct)
    n_real, n_fake = real_draws.shape[1], fake_draws.shape[1]
    offsets = (np.arange(n_resamples) * width)[:, None]

    def counts(scores: np.ndarray, draws: np.ndarray) -> np.ndarray:
        places = width - 1 - np.searchsorted(distinct, scores)
        flat = (places[draws] + offsets).ravel()
        return np.bincount(flat, minlength=n_resamples * width).reshape(n_resamples, width).astype(np.float64)

    real_at, fake_at = counts(real, real_draws), counts(fake, fake_draws)
    false_positives, true_positives = np.cumsum(real_at, axis=1), np.cumsum(fake_at, axis=1)
    auc = (fake_at * (n_real - false_positives + 0.5 * real_at)).sum(axis=1) / (n_real * n_fake)
    called = true_positives + false_positives
    precision = np.divide(true_positives, called, out=np.zeros_like(called), where=called > 0)
    ap = (fake_at * precision).sum(axis=1) / n_fake
    allowed = false_positives / n_real <= target
    tpr = np.where(allowed, true_positives, 0.0).max(axis=1) / n_fake
    real_right, fake_right = (real < threshold)[real_draws], (fake >= threshold)[fake_draws]
    balanced = (real_right.mean(axis=1) + fake_right.mean(axis=1)) / 2
    return {"auc": auc, "ap": ap, "balanced_acc": balanced, "tpr_at_1fpr": tpr}


def bootstrap_statistics(labels: np.ndarray, scores: np.ndarray, threshold: float, resamples: int = RESAMPLES,
                         seed: int = 0) -> dict[str, np.ndarray]:
    """Each statistic of :func:`resampled_statistics` over ``resamples`` stratified resamples, drawn from ``seed``."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    real, fake = scores[labels == 0], scores[labels == 1]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, BLOCK_CELLS // max(len(np.unique(scores)), 1)))
    parts = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        parts.append(resampled_statistics(real, fake, rng.integers(0, len(real), (size, len(real))),
                                          rng.integers(0, len(fake), (size, len(fake))), threshold))
    return {name: np.concatenate([part[name] for part in parts]) for name in BOOTSTRAPPED}


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def bootstrap_p_value(values: np.ndarray, null: float) -> float:
    """Achieved significance level of the two-sided percentile interval against ``null``."""
    return float(min(1.0, 2 * min(np.mean(values <= null), np.mean(values >= null))))


def interval_bounds(replicates: dict[str, np.ndarray], level: float = LEVEL) -> dict[str, float]:
    """``<metric>_ci_low`` and ``<metric>_ci_high``: the percentile interval of each statistic's replicates."""
    bounds = {}
    for name, values in replicates.items():
        bounds[f"{name}_ci_low"], bounds[f"{name}_ci_high"] = percentile_interval(values, level)
    return bounds


def detection_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float, probabilities: bool = False,
                      resamples: int = RESAMPLES, seed: int = 0) -> dict[str, float]:
    """AUC, AP, accuracy at ``threshold`` (overall, real, fake, balanced), EER, TPR@1%FPR, their bootstrap
    intervals (none for ``resamples`` 0) and, where the scores are ``probabilities``, ECE."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    predicted = scores >= threshold
    real_acc = float(np.mean(~predicted[labels == 0]))
    fake_acc = float(np.mean(predicted[labels == 1]))
    metrics = {
        "auc": float(roc_auc_score(labels, scores)),
        "ap": float(average_precision_score(labels, scores)),
        "acc": float(np.mean(predicted == labels.astype(bool))),
        "real_acc": real_acc,
        "fake_acc": fake_acc,
        "balanced_acc": (real_acc + fake_acc) / 2,
        "eer": equal_error_rate(labels, scores),
        "tpr_at_1fpr": tpr_at_fpr(labels, scores, FPR_TARGET),
    }
    if probabilities:
        metrics["ece"] = expected_calibration_error(labels, scores)
    if resamples:
        metrics |= interval_bounds(bootstrap_statistics(labels, scores, threshold, resamples, seed))
    return metrics


def null_check_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float, probabilities: bool = False,
                       resamples: int = RESAMPLES, seed: int = 0) -> dict[str, float]:
    """:func:`detection_metrics` of a real-vs-real test plus ``null_p``, the bootstrap p-value of AUC = 0.5, and
    ``null_pass`` (1 where the interval of the AUC contains 0.5; one check, uncorrected for multiple detectors)."""
    metrics = detection_metrics(labels, scores, threshold, probabilities, resamples=0)
    replicates = bootstrap_statistics(labels, scores, threshold, resamples, seed)
    metrics |= interval_bounds(replicates)
    metrics["null_p"] = bootstrap_p_value(replicates["auc"], NULL_AUC)
    metrics["null_pass"] = int(metrics["auc_ci_low"] <= NULL_AUC <= metrics["auc_ci_high"])
    return metrics


def roc_points(labels: np.ndarray, scores: np.ndarray, max_points: int = 50) -> list[list[float]]:
    """At most ``max_points`` ``[fpr, tpr]`` vertices of the ROC curve, first and last included."""
    fpr, tpr, _ = roc_curve(np.asarray(labels).astype(int), np.asarray(scores, dtype=np.float64))
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).round().astype(int))
    return [[round(float(fpr[i]), 4), round(float(tpr[i]), 4)] for i in keep]
