"""Statistics of the benchmark checked against their published definitions on small hand-computed cases.

* Tie groups over neighbours tested with Welch's t-test (Welch, Biometrika 1947), chained down the table.
* Expected calibration error: the count-weighted gap over ten equal-width bins (Naeini et al., AAAI 2015;
  Guo et al., "On Calibration of Modern Neural Networks", ICML 2017).
* The stratified percentile bootstrap with 1000 resamples (Efron and Tibshirani, "An Introduction to the
  Bootstrap", 1993) and a decision rule ``score >= threshold`` that realises the Youden point chosen on
  validation data (Youden, "Index for rating diagnostic tests", Cancer 1950).
* PSNR averaged per image, SSIM with an 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03 (Wang et
  al., "Image Quality Assessment: From Error Visibility to Structural Similarity", IEEE TIP 2004), and the
  cycle reconstruction error of a round trip back to the source domain (Zhu et al., ICCV 2017).
* Modes covered on toy 2-D mixtures (Srivastava et al., "VEEGAN", NeurIPS 2017; Lin et al., "PacGAN",
  NeurIPS 2018) and classes covered: a mode or class counts once one sample reaches it.
* Cross-generator AUC of a detector: trained on one generator, tested on another (Wang et al., CVPR 2020),
  never the train-on-all cells.
* Training curves: the cheap check at every multiple of ``budget // checks``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.signal.windows import gaussian

from test_leaderboards import DET_PROTOCOL, make

from ganbench.curves import CurveConfig, CurveLogger
from ganbench.detectors.evaluate import (bootstrap_statistics, detection_metrics, expected_calibration_error,
                                         validation_threshold)
from ganbench.leaderboards import build_leaderboard
from ganbench.leaderboards.uncertainty import tie_ranks
from ganbench.metrics import class_coverage, mode_coverage_2d
from ganbench.translation_metrics import cycle_error, psnr, ssim


# ----------------------------------------------------------------------------------------- ranks
def test_tie_groups_chain_through_neighbours_even_when_the_ends_differ() -> None:
    """Each row is tested against the row above it, so a chain of ties spans rows whose ends differ."""
    means, stds, ns = [10.0, 11.0, 12.0, 13.0], [1.0] * 4, [3] * 4
    neighbours = [stats.ttest_ind_from_stats(a, 1.0, 3, b, 1.0, 3, equal_var=False).pvalue
                  for a, b in zip(means, means[1:])]
    ends = stats.ttest_ind_from_stats(10.0, 1.0, 3, 13.0, 1.0, 3, equal_var=False).pvalue
    assert min(neighbours) >= 0.05 and ends < 0.05
    cells = tie_ranks(means, stds, ns)
    assert [c.text for c in cells] == ["1=", "1=", "1=", "1="]
    assert [c.p for c in cells[1:]] == pytest.approx(neighbours)


# ----------------------------------------------------------------------------------------- calibration
def test_calibration_error_weights_each_bin_by_its_share_of_images() -> None:
    """ECE = sum over bins of (images in bin / images) * |mean probability - fraction of fakes|."""
    labels = np.array([0, 0, 0, 0])
    probabilities = np.array([0.05, 0.05, 0.05, 0.95])
    assert expected_calibration_error(labels, probabilities) == pytest.approx(3 / 4 * 0.05 + 1 / 4 * 0.95)


def test_calibration_error_uses_ten_equal_width_bins() -> None:
    """Probabilities 0.12 and 0.18 share the bin [0.1, 0.2); random scores agree with a direct ten-bin sum."""
    assert expected_calibration_error(np.array([1, 0]), np.array([0.12, 0.18])) == pytest.approx(abs(0.15 - 0.5))
    rng = np.random.default_rng(4)
    probabilities = rng.uniform(0, 1, 500)
    labels = (rng.uniform(0, 1, 500) < probabilities ** 2).astype(int)
    bins = np.minimum((probabilities * 10).astype(int), 9)
    direct = sum(np.mean(bins == b) * abs(probabilities[bins == b].mean() - labels[bins == b].mean())
                 for b in range(10) if np.any(bins == b))
    assert expected_calibration_error(labels, probabilities) == pytest.approx(direct)


# ----------------------------------------------------------------------------------------- bootstrap, threshold
def test_the_bootstrap_draws_a_thousand_resamples_by_default() -> None:
    """A percentile interval is read from 1000 bootstrap replicates of each statistic."""
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(20), np.ones(20)]
    replicates = bootstrap_statistics(labels, rng.normal(labels, 1.0), 0.5)
    assert {name: len(values) for name, values in replicates.items()} == dict.fromkeys(replicates, 1000)


def test_balanced_accuracy_at_the_validation_threshold_reaches_the_youden_optimum() -> None:
    """Calling ``score >= threshold`` fake at the validation threshold gives (1 + max(TPR - FPR)) / 2 there,
    also where scores tie with the threshold."""
    labels = np.r_[np.zeros(5), np.ones(5)]
    scores = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.5, 0.0])
    youden = max(np.mean(scores[labels == 1] >= t) - np.mean(scores[labels == 0] >= t) for t in np.unique(scores))
    assert youden == pytest.approx(0.8)
    metrics = detection_metrics(labels, scores, validation_threshold(labels, scores), resamples=0)
    assert metrics["balanced_acc"] == pytest.approx((1 + youden) / 2)
    assert metrics["fake_acc"] == pytest.approx(0.8) and metrics["real_acc"] == 1.0


# ----------------------------------------------------------------------------------------- image-to-image measures
def test_psnr_is_averaged_over_images_not_taken_of_the_pooled_error() -> None:
    """PSNR is 10 log10(255^2 / MSE) of each image, then the mean over images."""
    reference = torch.full((2, 1, 4, 4), 100, dtype=torch.uint8)
    images = reference.clone()
    images[0] += 1
    images[1] += 10
    expected = (10 * math.log10(255 ** 2 / 1) + 10 * math.log10(255 ** 2 / 100)) / 2
    assert psnr(images, reference) == pytest.approx(expected)


def reference_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM by its definition: Gaussian-weighted local statistics at every valid 11x11 window position."""
    w = np.outer(gaussian(11, 1.5), gaussian(11, 1.5))
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for a, b in zip(x.reshape(-1, *x.shape[-2:]), y.reshape(-1, *y.shape[-2:])):
        for i in range(a.shape[0] - 10):
            for j in range(a.shape[1] - 10):
                pa, pb = a[i:i + 11, j:j + 11], b[i:i + 11, j:j + 11]
                mu_a, mu_b = (w * pa).sum(), (w * pb).sum()
                var_a, var_b = (w * (pa - mu_a) ** 2).sum(), (w * (pb - mu_b) ** 2).sum()
                cov = (w * (pa - mu_a) * (pb - mu_b)).sum()
                values.append((2 * mu_a * mu_b + c1) * (2 * cov + c2)
                              / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(values))


def test_ssim_matches_the_gaussian_window_definition_of_wang_et_al() -> None:
    """SSIM of structured, noisy images equals a direct evaluation of the 2004 formula."""
    generator = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 200, 14).view(1, 1, 1, 14).expand(2, 2, 14, 14)
    blocks = (torch.arange(14).view(14, 1) // 4 % 2 * 50).expand(14, 14)
    x = (ramp + blocks + 20 * torch.rand(2, 2, 14, 14, generator=generator)).round().to(torch.uint8)
    noise = 30 * torch.randn(2, 2, 14, 14, generator=generator)
    y = (x.double() * 0.7 + 40 + noise).clamp(0, 255).round().to(torch.uint8)
    expected = reference_ssim(x.double().numpy(), y.double().numpy())
    assert 0.2 < expected < 0.95
    assert ssim(x, y) == pytest.approx(expected, rel=1e-9)


def test_cycle_error_returns_each_image_to_its_own_domain() -> None:
    """A translator that renders each domain exactly has no cycle error: the round trip ends in the source domain."""
    source = torch.tensor([0, 1, 2, 1])
    images = (source * 100).to(torch.uint8).view(4, 1, 1, 1).expand(4, 1, 4, 4).contiguous()

    def render(batch: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
        return (domains * 100).to(torch.uint8).view(-1, 1, 1, 1).expand_as(batch).contiguous()

    assert cycle_error(render, images, source, torch.tensor([2, 0, 1, 2])) == 0.0


# ----------------------------------------------------------------------------------------- modes and classes
def test_a_mode_reached_by_one_high_quality_sample_is_covered() -> None:
    """A mode is covered once it is the nearest mode of at least one sample within three standard deviations."""
    modes = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    points = np.r_[np.tile(modes[1], (30, 1)), modes[2:3] + 0.15, [[5.0, 5.0]] * 9]
    result = mode_coverage_2d(points, modes, std=0.1)
    assert result["modes_covered"] == 2
    assert result["high_quality"] == pytest.approx(100 * 31 / 40)


def test_a_class_predicted_for_one_sample_is_covered() -> None:
    """Classes covered counts every class that is the top prediction of one sample or more; KL to uniform by hand."""
    probs = np.eye(3)[[0] * 9 + [2]]
    result = class_coverage(probs)
    assert result["classes_covered"] == 2
    assert result["class_kl"] == pytest.approx(0.9 * math.log(0.9 * 3) + 0.1 * math.log(0.1 * 3))


# ----------------------------------------------------------------------------------------- tables
def detector_row(cells: dict[tuple[str, str], float]) -> dict:
    """The detector table's one row for AUC cells keyed by (training generator, test generator)."""
    records = [make("detection", 0, generator=test, train_generator=train, detector="spectrum", perturbation="none",
                    protocol=DET_PROTOCOL, metrics={"auc": value}) for (train, test), value in cells.items()]
    (board,) = build_leaderboard(records).of_kind("detectors")
    (row,) = board.data.to_dict("records")
    return row


def test_cross_generator_auc_leaves_out_the_train_on_all_cells() -> None:
    """A detector's cross-generator AUC averages cells trained on one generator and tested on another only."""
    row = detector_row({("dcgan", "dcgan"): 0.95, ("wgan", "wgan"): 0.93, ("dcgan", "wgan"): 0.70,
                        ("wgan", "dcgan"): 0.60, ("all", "dcgan"): 0.99, ("all", "wgan"): 0.98})
    assert row["cross_auc"] == pytest.approx((0.70 + 0.60) / 2)
    assert row["all_auc"] == pytest.approx((0.99 + 0.98) / 2)
    assert row["in_auc"] == pytest.approx((0.95 + 0.93) / 2)


def test_leave_one_out_cells_give_their_own_column_and_stay_out_of_the_cross_generator_auc() -> None:
    """A detector trained on every generator but one and tested on that one is a leave-one-out cell:
    averaged into the leave-one-out AUC, never into the cross-generator AUC of one-generator training."""
    row = detector_row({("dcgan", "dcgan"): 0.95, ("wgan", "wgan"): 0.93, ("dcgan", "wgan"): 0.70,
                        ("wgan", "dcgan"): 0.60, ("all-but:dcgan", "dcgan"): 0.85, ("all-but:wgan", "wgan"): 0.75})
    assert row["cross_auc"] == pytest.approx((0.70 + 0.60) / 2)
    assert row["loo_auc"] == pytest.approx((0.85 + 0.75) / 2)
    assert row["in_auc"] == pytest.approx((0.95 + 0.93) / 2)


# ----------------------------------------------------------------------------------------- curves
def test_cheap_checks_fall_on_multiples_of_the_budget_over_the_check_count(tmp_path: Path) -> None:
    """Five checks over 100 steps run after steps 20, 40, 60, 80 and 100."""
    logger = CurveLogger(tmp_path / "curve.jsonl", budget=100, probe=object(), config=CurveConfig(checks=5))
    assert [step for step in range(1, 101) if logger.due(step)] == [20, 40, 60, 80, 100]
