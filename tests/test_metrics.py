"""Quality metrics against reference implementations, closed forms and edge cases, and the runner's use of them."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from pytorch_fid.fid_score import calculate_frechet_distance
from scipy.linalg import sqrtm

import ganbench.metrics as M
import ganbench.prdc as P
from ganbench.data import load_digits, load_toy2d
from ganbench.features import Extracted, FeatureExtractor
from ganbench.presets import get_preset
from ganbench.quality import QualityConfig, generation_metrics, image_metrics
from ganbench.context import RunConfig
from ganbench.records import SampleRecord
from ganbench.runner import SuiteRunner
from ganbench.store import write_npz


def correlated(rng: np.random.Generator, n: int, d: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    mixing = rng.normal(size=(d, d)) / math.sqrt(d)
    return shift + scale * rng.normal(size=(n, d)) @ mixing


# ----------------------------------------------------------------------------- FID


def test_fid_matches_pytorch_fid_on_the_same_statistics():
    rng = np.random.default_rng(0)
    real, fake = correlated(rng, 800, 64), correlated(rng, 700, 64, shift=0.3, scale=1.2)
    mu1, s1 = M.gaussian_statistics(real)
    mu2, s2 = M.gaussian_statistics(fake)
    reference = calculate_frechet_distance(mu1, s1, mu2, s2)
    assert M.fid_from_features(real, fake) == pytest.approx(reference, rel=1e-6)
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-6)


def test_statistics_match_numpy_and_accept_float32_tensors(monkeypatch):
    monkeypatch.setattr(M, "CHUNK", 7)
    x = np.random.default_rng(1).normal(size=(50, 5)).astype(np.float32)
    mu, sigma = M.gaussian_statistics(torch.from_numpy(x))
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-10)


def test_fid_of_identical_sets_is_zero():
    x = correlated(np.random.default_rng(2), 500, 32)
    assert abs(M.fid_from_features(x, x)) < 1e-6


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2.0, 6), rng.uniform(0.5, 2.0, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    # commuting covariances: ||mu1 - mu2||^2 + sum (sqrt a - sqrt b)^2, in any rotated basis
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    s1, s2 = rotation @ np.diag(a) @ rotation.T, rotation @ np.diag(b) @ rotation.T
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    # non-commuting covariances against the general matrix square root
    c = correlated(rng, 100, 6).T @ correlated(rng, 100, 6) / 100
    c = c @ c.T + np.eye(6)
    general = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(c) - 2 * np.trace(sqrtm(s1 @ c).real)
    assert M.frechet_distance(mu1, s1, mu2, c) == pytest.approx(general, rel=1e-9)
    # a singular covariance (a dimension without variance) takes the eigen-decomposition route
    a[0] = 0.0
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert M.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-9)


def test_fid_of_identical_rank_deficient_sets_is_zero():
    x = correlated(np.random.default_rng(11), 20, 48)  # 20 samples in 48 dimensions
    assert abs(M.fid_from_features(x, x)) < 1e-6


def test_fid_grows_with_the_shift_between_sets():
    rng = np.random.default_rng(4)
    real = correlated(rng, 400, 8)
    values = [M.fid_from_features(real, correlated(np.random.default_rng(5), 400, 8, shift=s)) for s in (0.0, 0.5, 1.0)]
    assert values[0] < values[1] < values[2]


# ----------------------------------------------------------------------------- KID


def direct_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, by explicit sums over pairs."""
    d, m = x.shape[1], len(x)

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(a @ b) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m)


def test_kid_matches_a_direct_quadratic_implementation():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.4, 1.0, size=(30, 4))
    expected = direct_mmd2(x, y)
    assert M.mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-10)
    mean, std = M.kid_from_features(x, y, subsets=3, subset_size=30, seed=1)
    assert mean == pytest.approx(expected, rel=1e-10) and std is None, "one subset holds both sets: no spread"
    mean, std = M.kid_from_features(x, y[:29], subsets=3, subset_size=29, seed=1)
    assert std is not None and std > 0, "the larger set's subsets still vary"
    rng = np.random.default_rng(1)
    drawn = [direct_mmd2(x[np.sort(rng.choice(30, 29, replace=False))],
                         y[:29][np.sort(rng.choice(29, 29, replace=False))]) for _ in range(3)]
    assert mean == pytest.approx(np.mean(drawn), rel=1e-10), "subsets of distinct rows, drawn in order"


def test_kid_subsets_average_direct_values_and_are_seeded():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(60, 4)), rng.normal(0.3, 1.0, size=(80, 4))
    mean, std = M.kid_from_features(x, y, subsets=5, subset_size=20, seed=3)
    assert (mean, std) == M.kid_from_features(x, y, subsets=5, subset_size=20, seed=3)
    assert mean != M.kid_from_features(x, y, subsets=5, subset_size=20, seed=4)[0]
    assert std > 0
    same = M.kid_from_features(x, x + 0.0, subsets=20, subset_size=30, seed=0)[0]
    assert abs(same) < mean


def test_kid_is_the_mean_and_population_std_over_its_seeded_subsets():
    """Each subset draws, from ``default_rng(seed)``, sorted distinct reals then fakes; KID's std is numpy's
    (ddof 0), as torch-fidelity reports it."""
    data = np.random.default_rng(9)
    x, y = data.normal(size=(24, 3)), data.normal(0.5, 1.0, size=(30, 3))
    rng = np.random.default_rng(5)
    direct = []
    for _ in range(4):
        rows = np.sort(rng.choice(24, 8, replace=False))
        cols = np.sort(rng.choice(30, 8, replace=False))
        direct.append(direct_mmd2(x[rows], y[cols]))
    mean, std = M.kid_from_features(x, y, subsets=4, subset_size=8, seed=5)
    assert mean == pytest.approx(np.mean(direct), rel=1e-10)
    assert std == pytest.approx(np.std(direct), rel=1e-9) and std != pytest.approx(np.std(direct, ddof=1), rel=1e-3)


def test_kid_caps_the_subset_size_with_a_warning():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(25, 3)), rng.normal(size=(40, 3))
    with pytest.warns(UserWarning, match="capped at the sample count 25"):
        mean, _ = M.kid_from_features(x, y, subsets=2, subset_size=1000)
    assert math.isfinite(mean)


# ----------------------------------------------------------------------------- IS


def test_inception_score_edge_cases():
    assert M.inception_score_from_probs(np.full((100, 10), 0.1)) == pytest.approx((1.0, 0.0), abs=1e-12)
    one_hot = np.eye(7)[np.arange(140) % 7]
    assert M.inception_score_from_probs(one_hot, splits=10, shuffle_seed=None) == pytest.approx((7.0, 0.0), abs=1e-9)
    collapsed = np.eye(7)[np.zeros(140, dtype=int)]
    assert M.inception_score_from_probs(torch.from_numpy(collapsed))[0] == pytest.approx(1.0)


def test_inception_score_of_a_half_confident_classifier():
    # p(y|x) = 1/2 on class x and x+1 (mod 4), p(y) uniform: KL = log 2, IS = 2
    probs = np.zeros((40, 4))
    for i in range(40):
        probs[i, i % 4] = probs[i, (i + 1) % 4] = 0.5
    assert M.inception_score_from_probs(probs, splits=10, shuffle_seed=None)[0] == pytest.approx(2.0)


# ----------------------------------------------------------------------------- PRDC


@pytest.mark.parametrize("k", [3, 5])
def test_prdc_matches_the_prdc_package(k, monkeypatch):
    monkeypatch.setattr(P, "PRDC_BLOCK", 64)  # several blocks on both axes
    rng = np.random.default_rng(9)
    real, fake = correlated(rng, 300, 12), correlated(rng, 230, 12, shift=0.2, scale=1.3)
    ours = P.prdc_from_features(real, fake, k=k)
    reference = compute_prdc(real, fake, nearest_k=k)
    for name in ("precision", "recall", "density", "coverage"):
        assert ours[name] == pytest.approx(float(reference[name]), abs=1e-12), name


def test_prdc_separates_faithful_from_collapsed_fakes():
    rng = np.random.default_rng(10)
    real = rng.normal(size=(400, 6))
    faithful = P.prdc_from_features(real, rng.normal(size=(400, 6)))
    collapsed = P.prdc_from_features(real, 0.1 * rng.normal(size=(400, 6)))
    assert faithful["recall"] > 0.8 and faithful["coverage"] > 0.8
    assert collapsed["recall"] < 0.2 and collapsed["coverage"] < 0.3 and collapsed["precision"] > 0.9


@pytest.mark.parametrize("n_real,n_fake", [(2000, 400), (800, 800)])
def test_coverage_of_one_distribution_has_naeem_et_al_expected_value(n_real: int, n_fake: int) -> None:
    """E[coverage] = 1 - prod_i (N-i)/(M+N-i), i = 1..k, for fakes from the reals' distribution
    (Naeem et al. 2020): 0.60 at 2,000 reals against 400 fakes, 0.97 at equal counts; the
    leaderboard states it beside every quality table's counts."""
    from ganbench.leaderboards.protocols import coverage_of_one_distribution, describe

    rng = np.random.default_rng(3)
    k = 5
    expected = 1 - math.prod((n_real - i) / (n_fake + n_real - i) for i in range(1, k + 1))
    assert coverage_of_one_distribution(n_real, n_fake, k) == pytest.approx(expected, rel=1e-12)
    assert f"reals' own distribution {expected:.2f}" in describe({"n_real": n_real, "n_fake": n_fake, "prdc_k": k})
    draws = [P.prdc_from_features(rng.normal(size=(n_real, 16)), rng.normal(size=(n_fake, 16)), k)["coverage"]
             for _ in range(6)]
    assert abs(float(np.mean(draws)) - expected) < 0.03


# ----------------------------------------------------------------------------- mode and class coverage


def test_mode_coverage_counts_modes_quality_and_reverse_kl():
    toy = load_toy2d("ring", n_train=10, n_test=10)
    gen = torch.Generator().manual_seed(0)
    hits = toy.modes[torch.tensor([0, 3, 5]).repeat(300)] + toy.mode_std * torch.randn(900, 2, generator=gen)
    stray = torch.zeros(100, 2)  # the ring's centre is 2 away from every mode
    result = M.mode_coverage_2d(torch.cat([hits, stray]), toy.modes, toy.mode_std)
    assert result["modes_covered"] == 3
    assert 87.0 < result["high_quality"] < 90.0  # 98.9% (2-D, 3 std) of 900 of 1000
    assert result["mode_kl"] == pytest.approx(math.log(8 / 3), abs=0.01)
    nothing = M.mode_coverage_2d(stray, toy.modes, toy.mode_std)
    assert nothing == {"modes_covered": 0, "high_quality": 0.0, "mode_kl": pytest.approx(math.log(8))}


def test_class_coverage_and_conditional_accuracy():
    balanced = np.eye(4)[np.arange(40) % 4]
    assert M.class_coverage(balanced) == {"classes_covered": 4, "class_kl": pytest.approx(0.0, abs=1e-12)}
    half = np.eye(4)[np.array([0, 1] * 20)]
    assert M.class_coverage(half) == {"classes_covered": 2, "class_kl": pytest.approx(math.log(2))}
    labels = np.arange(40) % 4
    assert M.conditional_accuracy(balanced, labels) == 1.0
    assert M.conditional_accuracy(half, torch.from_numpy(labels)) == pytest.approx(0.5)


def test_code_accuracy_matches_code_values_to_classes():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 10, 1000)
    probs = np.eye(10)[classes]
    relabelled = rng.permutation(10)[classes]
    assert M.matched_code_accuracy(probs, relabelled) == 1.0
    assert M.conditional_accuracy(probs, relabelled) < 0.3
    noisy = relabelled.copy()
    noisy[:250] = rng.integers(0, 10, 250)
    assert M.matched_code_accuracy(probs, noisy) == pytest.approx(0.775, abs=0.03)
    assert M.matched_code_accuracy(probs, rng.integers(0, 10, 1000)) < 0.2
    merged = classes // 2  # five code values: at most one class each
    assert M.matched_code_accuracy(probs, merged) == pytest.approx(0.5, abs=0.05)


# ----------------------------------------------------------------------------- quality and the runner


class PooledPixels(FeatureExtractor):
    """A cheap deterministic extractor for wiring tests: 4x4 average-pooled pixels."""

    name = "pooled"
    weights_hash = "none"

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 4).flatten(1), None

    def protocol(self) -> dict[str, object]:
        return {"extractor": self.name, "weights": self.weights_hash, "resize": "none"}


def test_generation_metrics_rank_real_images_above_noise():
    data = load_digits(8)
    config = QualityConfig(kid_subsets=10, kid_subset_size=200)
    noise = torch.randint(0, 256, (300, 1, 8, 8), dtype=torch.uint8)
    good, protocol = generation_metrics(data, data.x_train[:300], PooledPixels(), config=config)
    bad, _ = generation_metrics(data, noise, PooledPixels(), config=config)
    assert good["fid"] < bad["fid"] and good["kid"] < bad["kid"]
    assert good["precision"] > bad["precision"] and good["coverage"] > bad["coverage"]
    assert "is" not in good  # no class probabilities without a classifier
    assert protocol["n_real"] == len(data.x_test) and protocol["n_fake"] == 300 and protocol["real_split"] == "test"
    assert protocol["kid_subset_size"] == 200 and protocol["feature_dim"] == 16 and protocol["extractor"] == "pooled"


class FirstPixelClasses:
    """A stand-in for both extractor and classifier: pixels are the features and an image's class is its first
    pixel modulo ten."""

    test_accuracy = 1.0

    def extract(self, images: torch.Tensor, batch_size: int = 100) -> Extracted:
        flat = images.flatten(1)
        return Extracted(flat.float(), torch.nn.functional.one_hot(flat[:, 0].long() % 10, 10).float())

    def protocol(self) -> dict[str, object]:
        return {"extractor": "first-pixel"}


def test_a_collapsed_generator_loses_recall_and_classes_but_keeps_precision():
    """Fakes that jitter 20 of 200 distinct reals, ten fakes each, all of class 0: precision and recall are the
    prdc package's (every fake near a real, few reals near a fake), and the classifier sees one class among the
    fakes where the reals hold ten."""
    rng = np.random.default_rng(0)
    real = torch.from_numpy(rng.integers(8, 248, (200, 1, 4, 4), dtype=np.uint8))
    real[:, 0, 0, 0] = torch.arange(200) % 10
    jitter = torch.from_numpy(rng.integers(-3, 4, (200, 1, 4, 4)))
    jitter[:, 0, 0, 0] = 0
    fakes = (real[::10].repeat(10, 1, 1, 1).long() + jitter).to(torch.uint8)
    metrics, protocol = image_metrics(real, fakes, FirstPixelClasses(), classifier=FirstPixelClasses(),
                                      labels=torch.zeros(200, dtype=torch.long),
                                      config=QualityConfig(kid_subsets=2, intervals=None))
    expected = compute_prdc(real.flatten(1).double().numpy(), fakes.flatten(1).double().numpy(), 5)
    assert metrics["precision"] == pytest.approx(expected["precision"]) == 1.0
    assert metrics["recall"] == pytest.approx(expected["recall"]) and expected["recall"] < 0.2
    assert metrics["classes_covered"] == 1 and metrics["conditional_accuracy"] == 1.0
    assert protocol["kid_subset_size"] == 200 and protocol["n_real"] == protocol["n_fake"] == 200
    assert protocol["kid_subsets"] == 1 and "kid_std" not in metrics, "both sets whole: one subset, no spread"


def fake_sample_record(runner: SuiteRunner, **arrays: np.ndarray) -> SampleRecord:
    write_npz(runner.context.store.root / "fakes" / "given.npz", **arrays)
    return SampleRecord(kind="sample", key="given", dataset="digits", preset="smoke", seed=0,
                        info={"fakes": "fakes/given.npz"})


def test_runner_measures_images_with_the_classifier(tmp_path: Path):
    preset = get_preset("smoke").with_overrides(resolution=8, classifier_epochs=2)
    runner = SuiteRunner(RunConfig(suite="dcgan", preset=preset, out=tmp_path, quiet=True))
    images = runner.context.data.x_train[:200].numpy()
    record = runner.generation.evaluate_generator("dcgan", fake_sample_record(
        runner, eval=images, eval_labels=runner.context.data.y_train[:200].numpy()))
    assert record.status == "ok", record.reason
    metrics, protocol = record.metrics, record.protocol
    assert {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall", "density", "coverage",
            "classes_covered", "class_kl", "conditional_accuracy"} <= set(metrics)
    assert metrics["conditional_accuracy"] > 0.5 and metrics["classes_covered"] >= 8
    assert {"extractor": "classifier", "n_real": 360, "n_fake": 200, "real_split": "test", "resize": "none",
            "seed": 0, "kid_subsets": 100} .items() <= protocol.items()
    assert len(protocol["weights"]) == 12 and 0 < protocol["classifier_test_acc"] <= 1
    assert "code_accuracy" not in metrics


def test_runner_scores_an_unsupervised_code_after_matching(tmp_path: Path):
    preset = get_preset("smoke").with_overrides(resolution=8, classifier_epochs=2)
    runner = SuiteRunner(RunConfig(suite="infogan", preset=preset, out=tmp_path, quiet=True))
    labels = runner.context.data.y_train[:200].numpy()
    record = runner.generation.evaluate_generator("infogan", fake_sample_record(
        runner, eval=runner.context.data.x_train[:200].numpy(), eval_codes=(labels + 3) % 10))
    assert record.status == "ok", record.reason
    assert record.metrics["code_accuracy"] > 0.5 and "conditional_accuracy" not in record.metrics


def test_runner_measures_points_by_mode_coverage(tmp_path: Path):
    runner = SuiteRunner(RunConfig(suite="dcgan", preset=get_preset("smoke"), dataset="toy2d-grid", out=tmp_path,
                                   quiet=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record = runner.generation.evaluate_generator("dcgan", fake_sample_record(runner, eval=runner.context.data.x_test[:500].numpy()))
    assert record.status == "ok", record.reason
    # 98.9% of a 2-D Gaussian lies within 3 std of its mean
    assert record.metrics["modes_covered"] == 25 and record.metrics["high_quality"] > 97
    assert record.metrics["mode_kl"] < 0.05
    assert record.protocol["extractor"] == "none" and record.protocol["n_fake"] == 500
