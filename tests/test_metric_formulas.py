"""Metric formulas on inputs small enough to evaluate by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganbench.detectors.evaluate import detection_metrics, equal_error_rate, validation_threshold
from ganbench.metrics import inception_score_from_probs

# four real images (label 0) and five fakes (label 1); a higher score means more likely fake
LABELS = np.r_[np.zeros(4, dtype=int), np.ones(5, dtype=int)]
SCORES = np.array([0.1, 0.2, 0.3, 0.6, 0.5, 0.7, 0.8, 0.9, 0.95])


def test_inception_score_uses_each_splits_own_marginal() -> None:
    confident = np.eye(2)[np.r_[np.zeros(5, dtype=int), np.ones(5, dtype=int)]]
    assert inception_score_from_probs(confident, splits=2, shuffle_seed=None) == pytest.approx((1.0, 0.0))
    mixed = np.eye(2)[np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 1])]
    first = math.exp(0.6 * math.log(1 / 0.6) + 0.4 * math.log(1 / 0.4))
    second = math.exp(0.8 * math.log(1 / 0.8) + 0.2 * math.log(1 / 0.2))
    mean, std = inception_score_from_probs(mixed, splits=2, shuffle_seed=None)
    assert mean == pytest.approx((first + second) / 2) and std == pytest.approx(abs(first - second) / 2)


def confident_probs(labels: np.ndarray, classes: int, seed: int) -> np.ndarray:
    """Softmax of noisy logits peaked on each sample's label."""
    logits = np.random.default_rng(seed).normal(size=(len(labels), classes))
    logits[np.arange(len(labels)), labels] += 6
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def test_inception_score_does_not_depend_on_the_order_of_the_samples() -> None:
    """Samples grouped by class (a folder per class, a sorted split) score as the same samples in
    random order, not one class per split (which would give an IS near 1)."""
    labels = np.sort(np.random.default_rng(0).integers(0, 10, 5000))
    probs = confident_probs(labels, 10, 1)
    grouped, _ = inception_score_from_probs(probs)
    mixed, _ = inception_score_from_probs(probs[np.random.default_rng(2).permutation(5000)])
    assert grouped > 7 and abs(grouped - mixed) < 0.2
    assert inception_score_from_probs(probs, shuffle_seed=None)[0] < 1.5


def test_inception_score_splits_as_torch_fidelity() -> None:
    """Rows permuted by RandomState(2020), split ``i`` = rows ``i N // 10`` to ``(i + 1) N // 10``
    (uneven when 10 does not divide N), each scored against its own marginal."""
    probs = confident_probs(np.arange(1003) % 7, 7, 3)
    shuffled = probs[np.random.RandomState(2020).permutation(1003)]
    scores = []
    for i in range(10):
        part = shuffled[i * 1003 // 10:(i + 1) * 1003 // 10]
        scores.append(math.exp(np.mean(np.sum(part * np.log(part / part.mean(axis=0)), axis=1))))
    assert inception_score_from_probs(probs) == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-12)


def test_auc_is_the_probability_that_a_fake_outscores_a_real_image() -> None:
    wins = sum(f > r for f in SCORES[4:] for r in SCORES[:4])
    assert wins == 19
    assert detection_metrics(LABELS, SCORES, 0.55)["auc"] == pytest.approx(19 / 20)
    assert detection_metrics(LABELS, -SCORES, 0.0)["auc"] == pytest.approx(1 / 20)


def test_validation_threshold_maximises_tpr_minus_fpr() -> None:
    # threshold 0.7: TPR 4/5, FPR 0 (0.8); 0.5: TPR 1, FPR 1/4 (0.75); 0.6: TPR 4/5, FPR 1/4
    assert validation_threshold(LABELS, SCORES) == pytest.approx(0.7)


def test_equal_error_rate_averages_fpr_and_fnr_where_they_meet() -> None:
    # from threshold 0.7 (FPR 0, FNR 1/5) to 0.6 (FPR 1/4, FNR 1/5) the interpolated FPR rises through the FNR:
    # they meet at 1/5
    assert equal_error_rate(LABELS, SCORES) == pytest.approx(1 / 5)
