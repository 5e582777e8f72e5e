"""Detection metrics and the validation threshold (labels: 0 = real, 1 = fake; scores: higher = fake).

The decision threshold is chosen on validation data of the training generator only (the point
that maximizes balanced accuracy there) and then applied unchanged to every test set.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def validation_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Threshold maximizing balanced accuracy (TPR - FPR) on validation data."""
    fpr, tpr, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    threshold = float(thresholds[best])
    return threshold if np.isfinite(threshold) else float(np.max(scores)) + 1e-12


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, target: float = 0.01) -> float:
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.max(tpr[fpr <= target])) if np.any(fpr <= target) else 0.0


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """ECE of scores read as P(fake); scores outside [0, 1] are squashed with a logistic first."""
    p = scores if scores.min() >= 0 and scores.max() <= 1 else 1 / (1 + np.exp(-scores))
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(p[mask].mean() - labels[mask].mean())
    return float(ece)


def resampled_aucs(real: np.ndarray, fake: np.ndarray, real_draws: np.ndarray, fake_draws: np.ndarray) -> np.ndarray:
    """The AUC of each resample at once: row ``b`` of ``real_draws`` / ``fake_draws`` indexes the
    real / fake scores drawn in resample ``b``.

    The Mann-Whitney form, P(fake > real) + P(tie) / 2, equal to the area under the ROC curve:
    every score is replaced by its index among the sorted distinct scores, each resample counts
    its real and fake draws per distinct score, and the fakes at a score meet all real draws
    below it and half of those tied with it.
    """
    distinct = np.unique(np.concatenate([real, fake]))
    real_at, fake_at = np.searchsorted(distinct, real), np.searchsorted(distinct, fake)
    n_resamples, width = len(real_draws), len(distinct)
    offsets = (np.arange(n_resamples) * width)[:, None]

    def counts(positions: np.ndarray) -> np.ndarray:
        flat = (positions + offsets).ravel()
        return np.bincount(flat, minlength=n_resamples * width).reshape(n_resamples, width).astype(np.float64)

    real_counts, fake_counts = counts(real_at[real_draws]), counts(fake_at[fake_draws])
    real_below = np.cumsum(real_counts, axis=1) - real_counts
    wins = (fake_counts * (real_below + 0.5 * real_counts)).sum(axis=1)
    return wins / (real_draws.shape[1] * fake_draws.shape[1])


def bootstrap_auc(labels: np.ndarray, scores: np.ndarray, n_boot: int = 1000, level: float = 0.95,
                  seed: int = 0, chunk: int = 100) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC, resampling real and fake images separately
    (``chunk`` resamples are scored together by :func:`resampled_aucs`)."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    real, fake = scores[labels == 0], scores[labels == 1]
    aucs = []
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        aucs.append(resampled_aucs(real, fake, rng.integers(0, len(real), (size, len(real))),
                                   rng.integers(0, len(fake), (size, len(fake)))))
    alpha = (1 - level) / 2
    low, high = np.quantile(np.concatenate(aucs), [alpha, 1 - alpha])
    return float(low), float(high)


def detection_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """AUC, AP, accuracy at ``threshold`` (overall, real, fake, balanced), EER, TPR@1%FPR, ECE."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    predicted = scores >= threshold
    real_acc = float(np.mean(~predicted[labels == 0]))
    fake_acc = float(np.mean(predicted[labels == 1]))
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "ap": float(average_precision_score(labels, scores)),
        "acc": float(np.mean(predicted == labels.astype(bool))),
        "real_acc": real_acc,
        "fake_acc": fake_acc,
        "balanced_acc": (real_acc + fake_acc) / 2,
        "eer": equal_error_rate(labels, scores),
        "tpr_at_1fpr": tpr_at_fpr(labels, scores, 0.01),
        "ece": expected_calibration_error(labels, scores),
    }


def roc_points(labels: np.ndarray, scores: np.ndarray, max_points: int = 50) -> list[list[float]]:
    """At most ``max_points`` ``[fpr, tpr]`` vertices of the ROC curve, first and last included."""
    fpr, tpr, _ = roc_curve(np.asarray(labels).astype(int), np.asarray(scores, dtype=np.float64))
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).round().astype(int))
    return [[round(float(fpr[i]), 4), round(float(tpr[i]), 4)] for i in keep]
