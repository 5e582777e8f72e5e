"""Detection metrics against scikit-learn and hand-computed cases; the vectorised bootstrap and its intervals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score, roc_curve

from ganbench.detectors.evaluate import (BOOTSTRAPPED, bootstrap_p_value, bootstrap_statistics, detection_metrics,
                                         equal_error_rate, expected_calibration_error, null_check_metrics,
                                         percentile_interval, reliability_bins, resampled_statistics, tpr_at_fpr,
                                         validation_threshold)
from ganbench.errors import UserError


def sklearn_statistics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """The four bootstrapped statistics, each from scikit-learn (TPR@1%FPR over every threshold)."""
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return {"auc": roc_auc_score(labels, scores), "ap": average_precision_score(labels, scores),
            "balanced_acc": balanced_accuracy_score(labels, scores >= threshold),
            "tpr_at_1fpr": float(np.max(tpr[fpr <= 0.01]))}


def test_metrics_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(300), np.ones(200)]
    scores = rng.normal(labels, 1.0)
    m = detection_metrics(labels, scores, threshold=0.5, resamples=0)
    predicted = scores >= 0.5
    assert m["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert m["ap"] == pytest.approx(average_precision_score(labels, scores))
    assert m["acc"] == pytest.approx(np.mean(predicted == labels))
    assert m["balanced_acc"] == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert m["real_acc"] == pytest.approx(np.mean(~predicted[:300]))
    assert m["fake_acc"] == pytest.approx(np.mean(predicted[300:]))
    assert m["tpr_at_1fpr"] == pytest.approx(sklearn_statistics(labels, scores, 0.5)["tpr_at_1fpr"])
    assert not any(key.endswith(("_ci_low", "_ci_high")) for key in m)


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


def test_equal_error_rate_is_interpolated_on_the_roc() -> None:
    # reals 0.1 0.2 0.3 0.7, fakes 0.4 0.5 0.6 0.8: the ROC climbs from (1/4, 1/4) to (1/4, 1) at FPR 1/4, where
    # the FNR falls from 3/4 to 0 and passes 1/4. The nearest vertex (1/4, 1) would give (1/4 + 0) / 2 = 1/8.
    labels = np.r_[np.zeros(4), np.ones(4)]
    assert equal_error_rate(labels, np.array([0.1, 0.2, 0.3, 0.7, 0.4, 0.5, 0.6, 0.8])) == pytest.approx(1 / 4)
    # reals 0.1 0.2 0.5, fakes 0.5 0.9: from (0, 1/2) to (1/3, 1) over the tie at 0.5, FPR = t/3 and
    # FNR = (1 - t)/2 meet at t = 3/5: EER 1/5 (the nearest vertex would give 1/6)
    labels = np.r_[np.zeros(3), np.ones(2)]
    assert equal_error_rate(labels, np.array([0.1, 0.2, 0.5, 0.5, 0.9])) == pytest.approx(1 / 5)


def test_calibration_only_for_probabilities_and_never_squashed() -> None:
    labels = np.array([0, 1, 1, 1, 0, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55, 0.55])
    assert reliability_bins(labels, p) == [(pytest.approx(0.05), 0.5, 2), (pytest.approx(0.55), 0.5, 2),
                                           (pytest.approx(0.95), 1.0, 2)]
    assert expected_calibration_error(labels, p) == pytest.approx((0.45 + 0.05 + 0.05) / 3)
    assert detection_metrics(labels, p, 0.5, True, resamples=0)["ece"] == pytest.approx((0.45 + 0.05 + 0.05) / 3)
    assert "ece" not in detection_metrics(labels, p, 0.5, resamples=0)
    logits = np.array([-3.0, -3.0, 3.0, 3.0, 0.2, 0.2])
    assert "ece" not in detection_metrics(labels, logits, 0.0, resamples=0)
    with pytest.raises(UserError, match="outside \\[0, 1\\]"):
        detection_metrics(labels, logits, 0.0, True, resamples=0)


def test_resampled_statistics_equal_sklearn_on_each_resample_with_ties() -> None:
    rng = np.random.default_rng(3)
    real, fake = rng.integers(0, 30, 300).astype(float), rng.integers(8, 40, 120).astype(float)
    real_draws, fake_draws = rng.integers(0, 300, (12, 300)), rng.integers(0, 120, (12, 120))
    fast = resampled_statistics(real, fake, real_draws, fake_draws, threshold=20.0)
    labels = np.r_[np.zeros(300), np.ones(120)]
    for name in BOOTSTRAPPED:
        slow = [sklearn_statistics(labels, np.r_[real[r], fake[f]], 20.0)[name] for r, f in zip(real_draws, fake_draws)]
        assert fast[name] == pytest.approx(slow, abs=1e-12), name
        assert len(set(np.round(fast[name], 9))) > 5, name
    assert np.isin(real, fake).sum() > 100  # real and fake scores tie


def test_bootstrap_draws_real_and_fake_separately_from_the_seed() -> None:
    rng = np.random.default_rng(5)
    labels = np.r_[np.zeros(40), np.ones(15)]
    scores = rng.normal(labels, 1.0)
    replicates = bootstrap_statistics(labels, scores, 0.5, resamples=6, seed=11)
    draws = np.random.default_rng(11)
    real_draws, fake_draws = draws.integers(0, 40, (6, 40)), draws.integers(0, 15, (6, 15))
    for b in range(6):
        resample = np.r_[scores[:40][real_draws[b]], scores[40:][fake_draws[b]]]
        for name, value in sklearn_statistics(labels, resample, 0.5).items():
            assert replicates[name][b] == pytest.approx(value, abs=1e-12), name
    again = bootstrap_statistics(labels, scores, 0.5, resamples=6, seed=11)
    assert all(np.array_equal(again[name], replicates[name]) for name in BOOTSTRAPPED)
    assert not np.array_equal(bootstrap_statistics(labels, scores, 0.5, resamples=6, seed=12)["auc"], replicates["auc"])


def test_every_bootstrapped_metric_gets_an_interval_that_narrows_with_more_data() -> None:
    rng = np.random.default_rng(1)

    def metrics(n: int) -> dict[str, float]:
        labels = np.r_[np.zeros(n), np.ones(n)]
        return detection_metrics(labels, rng.normal(labels * 1.5, 1.0), 0.75, resamples=300, seed=0)

    small, large = metrics(150), metrics(1500)
    for name in BOOTSTRAPPED:
        low, high = small[f"{name}_ci_low"], small[f"{name}_ci_high"]
        assert low < small[name] < high, name
        assert large[f"{name}_ci_high"] - large[f"{name}_ci_low"] < (high - low) / 2, name
    assert small["auc_ci_low"] > 0.75 and small["tpr_at_1fpr_ci_high"] < 0.7


def test_null_check_p_value_inverts_the_percentile_interval() -> None:
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(200), np.ones(200)]
    chance = null_check_metrics(labels, rng.normal(size=400), 0.0, resamples=400, seed=3)
    assert chance["auc_ci_low"] < 0.5 < chance["auc_ci_high"] and chance["null_pass"] == 1
    assert chance["null_p"] > 0.05
    replicates = bootstrap_statistics(labels, rng.normal(size=400), 0.0, resamples=400, seed=3)
    assert percentile_interval(replicates["auc"]) == pytest.approx(
        tuple(np.quantile(replicates["auc"], [0.025, 0.975])))
    shifted = null_check_metrics(labels, rng.normal(labels * 0.6, 1.0), 0.3, resamples=400, seed=3)
    assert shifted["auc_ci_low"] > 0.5 and shifted["null_pass"] == 0 and shifted["null_p"] < 0.05
    values = np.array([0.40, 0.45, 0.52, 0.55, 0.60, 0.61, 0.62, 0.63, 0.64, 0.65])
    assert bootstrap_p_value(values, 0.5) == pytest.approx(2 * 2 / 10)
    assert bootstrap_p_value(1 - values, 0.5) == pytest.approx(2 * 2 / 10)
