"""Detection metrics against scikit-learn and hand-computed cases; the bootstrap interval."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

from ganbench.detectors.evaluate import (bootstrap_auc, detection_metrics, equal_error_rate, expected_calibration_error,
                                resampled_aucs, tpr_at_fpr, validation_threshold)


def test_metrics_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(300), np.ones(200)]
    scores = rng.normal(labels, 1.0)
    m = detection_metrics(labels, scores, threshold=0.5)
    predicted = scores >= 0.5
    assert m["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert m["ap"] == pytest.approx(average_precision_score(labels, scores))
    assert m["acc"] == pytest.approx(np.mean(predicted == labels))
    assert m["balanced_acc"] == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert m["real_acc"] == pytest.approx(np.mean(~predicted[:300]))
    assert m["fake_acc"] == pytest.approx(np.mean(predicted[300:]))


def test_known_cases() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    separated = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    assert equal_error_rate(labels, separated) == 0.0
    assert tpr_at_fpr(labels, separated) == 1.0
    assert equal_error_rate(labels, np.full(8, 0.5)) == pytest.approx(0.5)
    assert 0.4 <= validation_threshold(labels, separated) <= 0.6
    reversed_order = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    assert detection_metrics(labels, reversed_order, 0.5)["auc"] == 0.0
    assert expected_calibration_error(labels, labels.astype(float)) == 0.0
    assert expected_calibration_error(labels, np.full(8, 0.9)) == pytest.approx(0.4)
    two_fp = np.r_[np.linspace(0, 0.5, 98), 0.955, 0.975, np.linspace(0.6, 1.0, 101)]
    truth = np.r_[np.zeros(100), np.ones(101)]
    expected = max(np.mean(two_fp[100:] >= t) for t in two_fp if np.mean(two_fp[:100] >= t) <= 0.01)
    assert 0.05 < expected < 0.2
    assert tpr_at_fpr(truth, two_fp, 0.01) == pytest.approx(expected)


def test_resampled_aucs_equal_sklearn_on_each_resample_with_ties() -> None:
    rng = np.random.default_rng(3)
    real, fake = rng.integers(0, 12, 70).astype(float), rng.integers(3, 15, 50).astype(float)
    real_draws, fake_draws = rng.integers(0, 70, (25, 70)), rng.integers(0, 50, (25, 50))
    fast = resampled_aucs(real, fake, real_draws, fake_draws)
    labels = np.r_[np.zeros(70), np.ones(50)]
    slow = [roc_auc_score(labels, np.r_[real[r], fake[f]]) for r, f in zip(real_draws, fake_draws)]
    assert fast == pytest.approx(slow, abs=1e-12)
    assert len(set(np.round(fast, 9))) > 10


def test_bootstrap_interval_covers_the_auc_and_narrows_with_more_data() -> None:
    rng = np.random.default_rng(1)

    def interval(n: int) -> tuple[float, float, float]:
        labels = np.r_[np.zeros(n), np.ones(n)]
        scores = rng.normal(labels * 0.5, 1.0)
        low, high = bootstrap_auc(labels, scores, n_boot=300, seed=0)
        return low, roc_auc_score(labels, scores), high

    low, value, high = interval(100)
    assert low < value < high
    low_big, _, high_big = interval(1000)
    assert high_big - low_big < (high - low) / 2
    labels = np.r_[np.zeros(200), np.ones(200)]
    low, high = bootstrap_auc(labels, rng.normal(size=400), n_boot=300)
    assert low < 0.5 < high
