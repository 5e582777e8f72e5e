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
    assert inception_score_from_probs(confident, splits=2) == pytest.approx((1.0, 0.0))
    mixed = np.eye(2)[np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 1])]
    first = math.exp(0.6 * math.log(1 / 0.6) + 0.4 * math.log(1 / 0.4))
    second = math.exp(0.8 * math.log(1 / 0.8) + 0.2 * math.log(1 / 0.2))
    mean, std = inception_score_from_probs(mixed, splits=2)
    assert mean == pytest.approx((first + second) / 2) and std == pytest.approx(abs(first - second) / 2)


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
