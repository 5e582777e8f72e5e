"""Detection metrics against scikit-learn and hand-computed cases; the vectorised bootstrap and its intervals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score, roc_curve

from ganbench.detectors import evaluate
from ganbench.detectors.evaluate import (BOOTSTRAPPED, bootstrap_p_value, bootstrap_statistics, decision_threshold,
                                         detection_metrics, equal_error_rate, expected_calibration_error,
                                         null_check_metrics, percentile_interval, reals_only_threshold,
                                         reliability_bins, resampled_statistics, roc_points, tpr_at_fpr,
                                         validation_split, validation_threshold)
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


def test_validation_split_holds_out_a_fifth_for_the_threshold() -> None:
    """Of 50 training images, 40 fit the detector and 10 choose its threshold; together they are all 50, once each."""
    fit, held_out = validation_split(50, seed=3)
    assert len(fit) == 40 and len(held_out) == 10
    assert sorted(fit.tolist() + held_out.tolist()) == list(range(50))


def test_a_detector_inverted_on_validation_calls_every_image_real() -> None:
    """When no threshold beats chance on validation, the threshold lies above every score: nothing is called fake."""
    scores = np.array([0.9, 0.8, 0.2, 0.1])
    threshold = validation_threshold(np.array([0, 0, 1, 1]), scores)
    assert threshold > scores.max() and threshold - scores.max() < 1e-9


def test_reals_only_threshold_calls_at_most_five_percent_of_reals_fake() -> None:
    """30 reals 0..29: 5% is 1.5 reals, so at most one (29) may be called fake; with 10 reals none may."""
    assert reals_only_threshold(np.arange(30.0)) == 29.0
    assert decision_threshold(np.arange(30.0), np.array([100.0]), sees_fakes=False) == 29.0
    few = np.arange(10.0)
    threshold = reals_only_threshold(few)
    assert threshold > 9.0 and threshold - 9.0 < 1e-9
    assert not np.any(few >= threshold)


def test_a_probability_on_a_bin_edge_opens_the_next_bin() -> None:
    """Bins are [0, 0.1), [0.1, 0.2), ...: a real at 0.05 and a fake at exactly 0.1 fall into two bins, so the ECE
    is (0.05 + 0.9) / 2, not the single bin's |0.075 - 0.5|; 1.0 falls into the last bin."""
    labels, p = np.array([0, 1]), np.array([0.05, 0.1])
    assert reliability_bins(labels, p) == [(0.05, 0.0, 1), (0.1, 1.0, 1)]
    assert expected_calibration_error(labels, p) == pytest.approx(0.475)
    assert reliability_bins(np.array([1, 1]), np.array([0.95, 1.0])) == [(0.975, 1.0, 2)]


def test_probabilities_above_one_are_refused() -> None:
    with pytest.raises(UserError):
        expected_calibration_error(np.array([0, 1]), np.array([0.2, 1.2]))


def test_resampled_tpr_counts_the_threshold_with_exactly_one_percent_false_positives() -> None:
    """100 reals, one of them (0.995) between the two fakes: at FPR exactly 1% both fakes are found."""
    real = np.concatenate([np.linspace(0.0, 0.98, 99), [0.995]])
    fake = np.array([0.99, 0.999])
    labels = np.concatenate([np.zeros(100), np.ones(2)])
    assert tpr_at_fpr(labels, np.concatenate([real, fake])) == 1.0
    stats = resampled_statistics(real, fake, np.arange(100)[None], np.arange(2)[None], threshold=0.5)
    assert stats["tpr_at_1fpr"].tolist() == [1.0]


def test_chunked_bootstrap_keeps_exactly_the_resamples_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """With blocks of 10 resamples, 25 resamples are 10 + 10 + 5, not three whole blocks."""
    monkeypatch.setattr(evaluate, "BLOCK_CELLS", 100)
    labels = np.array([0] * 5 + [1] * 5)
    scores = np.arange(10.0)
    replicates = bootstrap_statistics(labels, scores, threshold=4.5, resamples=25)
    assert all(len(replicates[name]) == 25 for name in BOOTSTRAPPED)


def test_roc_points_keep_both_ends_of_the_curve() -> None:
    """A thinned ROC curve still starts at (0, 0) and ends at (1, 1)."""
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 100)
    scores = rng.normal(size=200) + labels
    for max_points in (10, 50, 500):
        points = roc_points(labels, scores, max_points)
        assert points[0] == [0.0, 0.0] and points[-1] == [1.0, 1.0] and len(points) <= max_points
