"""The bootstrap intervals of ``ganbench metrics``: each resample's FID is the FID of the rows it repeats,
the standard error matches the spread of FID over fresh draws, percentile intervals match the binomial
width, and each PRDC measure is resampled over the samples it averages over."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganbench import prdc as P
from ganbench import score_intervals as S
from ganbench.cli import app
from ganbench.metrics import frechet_distance, gaussian_statistics


def _features(rng: np.random.Generator, n: int, d: int = 6, shift: float = 0.0) -> np.ndarray:
    mix = np.eye(d) + 0.3 * np.tril(np.ones((d, d)), -1)
    return rng.normal(size=(n, d)) @ mix + shift


@pytest.mark.parametrize("reference_rows", [500, 4])
def test_a_resample_scores_the_rows_it_repeats(reference_rows: int) -> None:
    # 4 reference rows in 6 dimensions: a singular covariance, factored by its eigen-decomposition (whose
    # rounding-level eigenvalues move the square roots by about 1e-9)
    rng = np.random.default_rng(0)
    fake, real = _features(rng, 80), _features(rng, reference_rows, shift=0.4)
    mu, sigma = gaussian_statistics(real)
    resampler = S.FidResampler(fake, mu, sigma)
    whole = frechet_distance(*gaussian_statistics(fake), mu, sigma)
    assert resampler.fid(torch.ones(80, dtype=torch.int64)) == pytest.approx(whole, rel=1e-8)
    counts = rng.multinomial(80, np.full(80, 1 / 80))
    repeated = np.repeat(fake, counts, axis=0)
    assert resampler.fid(torch.from_numpy(counts)) == pytest.approx(
        frechet_distance(*gaussian_statistics(repeated), mu, sigma), rel=1e-8)


def test_fid_standard_error_matches_the_spread_over_fresh_draws() -> None:
    rng = np.random.default_rng(1)
    d, n = 4, 300
    mu, sigma = np.zeros(d), np.eye(d)
    fresh = [frechet_distance(*gaussian_statistics(rng.normal(size=(n, d)) + 0.25), mu, sigma) for _ in range(300)]
    spread = float(np.std(fresh, ddof=1))
    errors = [S.fid_standard_error(rng.normal(size=(n, d)) + 0.25, mu, sigma, 100, seed) for seed in range(8)]
    assert 0.75 * spread < float(np.mean(errors)) < 1.3 * spread


def test_fid_standard_error_reports_progress_and_needs_two_resamples() -> None:
    rng = np.random.default_rng(2)
    seen: list[tuple[int, int]] = []
    features = rng.normal(size=(50, 3))
    S.fid_standard_error(features, np.zeros(3), np.eye(3), 3, 0, lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(ValueError, match="at least 2 resamples"):
        S.fid_standard_error(features, np.zeros(3), np.eye(3), 1, 0)


def test_normal_interval_is_symmetric_at_the_two_sided_quantile_and_cut_at_zero() -> None:
    settings = S.BootstrapSettings()
    assert settings.z == pytest.approx(1.959964, abs=1e-6)
    assert S.normal_interval(10.0, 1.0, settings.z) == pytest.approx((10 - 1.959964, 10 + 1.959964))
    assert S.normal_interval(1.0, 1.0, settings.z) == (0.0, pytest.approx(2.959964))
    assert S.BootstrapSettings(level=0.9).z == pytest.approx(1.644854, abs=1e-6)


def test_percentile_interval_of_a_proportion_has_the_binomial_width() -> None:
    rng = np.random.default_rng(3)
    n, p = 2000, 0.3
    values = (rng.random(n) < p).astype(float)
    low, high = S.percentile_interval(values, 2000, 0.95, seed=0)
    half = 1.959964 * np.sqrt(values.mean() * (1 - values.mean()) / n)
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * half, rel=0.1)
    assert (values.mean() - low) == pytest.approx(high - values.mean(), rel=0.2)
    narrow = S.percentile_interval(values, 2000, 0.5, seed=0)
    assert high - low > 2.5 * (narrow[1] - narrow[0])


def test_each_sample_share_averages_to_its_score_and_density_counts_balls() -> None:
    rng = np.random.default_rng(4)
    real, fake = _features(rng, 120), _features(rng, 90, shift=0.5)
    hits = P.prdc_hits(real, fake, k=3)
    shares = {**hits.per_fake, **hits.per_real}
    assert {name: float(v.mean()) for name, v in shares.items()} == pytest.approx(hits.scores(), rel=1e-12)
    assert len(hits.per_fake["precision"]) == 90 and len(hits.per_real["recall"]) == 120
    distances = np.sqrt(((real[:, None] - fake[None]) ** 2).sum(-1))
    radii = np.sort(np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1)), axis=1)[:, 3]
    assert np.array_equal(hits.per_fake["density"] * 3, (distances < radii[:, None]).sum(0))


def test_prdc_measures_are_resampled_over_the_samples_they_average() -> None:
    # 40 fakes against 4,000 reals: precision and density vary with the few fakes, recall and
    # coverage hardly at all with the many reals
    rng = np.random.default_rng(5)
    hits = P.prdc_hits(_features(rng, 4000), _features(rng, 40, shift=0.8), k=5)
    bounds = S.prdc_intervals(hits, S.BootstrapSettings(percentile_resamples=500), seed=0)
    width = {name: bounds[f"{name}_ci_high"] - bounds[f"{name}_ci_low"] for name in hits.scores()}
    assert width["precision"] > 0.1 and width["density"] > 0.1
    assert 0 < width["recall"] < 0.05 and 0 < width["coverage"] < 0.05
    for name, value in hits.scores().items():
        assert bounds[f"{name}_ci_low"] <= value <= bounds[f"{name}_ci_high"]


def test_metrics_command_gives_intervals_over_the_scored_input(tmp_path, monkeypatch) -> None:
    from sklearn.datasets import load_digits

    images = (load_digits().images[:150] * 255 / 16).round().astype(np.uint8)[:, None]
    np.savez(tmp_path / "fakes.npz", x=images)
    resampled: list[int] = []
    standard_error = S.fid_standard_error

    def spy(features, *args, **kwargs):
        resampled.append(len(features))
        return standard_error(features, *args, **kwargs)

    monkeypatch.setattr(S, "fid_standard_error", spy)
    spec = f"npz:{tmp_path / 'fakes.npz'}"
    out = CliRunner().invoke(app, ["metrics", spec, "digits", "--extractor", "classifier", "--fid", "--prdc",
                                   "--json", "--quiet"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    metrics = result["metrics"]
    assert resampled == [150]  # input 1's features, not the reference's 360
    assert metrics["fid_ci_low"] < metrics["fid"] < metrics["fid_ci_high"]
    assert metrics["fid_ci_high"] - metrics["fid"] == pytest.approx(1.959964 * metrics["fid_se"], rel=1e-6)
    for name in ("precision", "recall", "density", "coverage"):
        assert metrics[f"{name}_ci_low"] <= metrics[name] <= metrics[f"{name}_ci_high"]
    assert "50 resamples of input 1's features" in result["protocol"]["intervals"]

    table = CliRunner().invoke(app, ["metrics", spec, "digits", "--extractor", "classifier", "--fid", "--quiet"])
    assert table.exit_code == 0, table.output
    assert "[low, high]" in table.stdout and "conditional on the reference" in table.stdout

    plain = CliRunner().invoke(app, ["metrics", spec, "digits", "--extractor", "classifier", "--fid", "--prdc",
                                     "--json", "--quiet", "--no-intervals"])
    assert plain.exit_code == 0, plain.output
    bare = json.loads(plain.stdout)
    assert sorted(bare["metrics"]) == ["coverage", "density", "fid", "precision", "recall"]
    assert "intervals" not in bare["protocol"]
    assert bare["metrics"]["fid"] == metrics["fid"]


def test_fid_of_a_statistics_file_says_why_it_has_no_interval(tmp_path) -> None:
    stats = tmp_path / "train_stats.npz"
    made = CliRunner().invoke(app, ["stats", "digits@train", "--n", "150", "--out", str(stats),
                                    "--extractor", "classifier", "--quiet"])
    assert made.exit_code == 0, made.output
    out = CliRunner().invoke(app, ["metrics", f"stats:{stats}", "digits", "--extractor", "classifier", "--json",
                                   "--quiet"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert "fid_ci_low" not in result["metrics"]
    assert result["protocol"]["fid_interval"].startswith(f"none: stats:{stats} holds a mean and covariance")



class FlatFeatures:
    """A stand-in extractor: an image's pixels are its features."""

    has_probs = False

    def extract(self, images: torch.Tensor, batch_size: int = 100):
        from ganbench.features import Extracted

        return Extracted(images.flatten(1).float(), None)

    def protocol(self) -> dict[str, object]:
        return {"extractor": "flat"}


def test_a_run_records_intervals_over_its_fakes(monkeypatch) -> None:
    from ganbench.quality import QualityConfig, image_metrics

    rng = np.random.default_rng(7)
    real = torch.from_numpy(rng.integers(0, 256, size=(300, 1, 2, 3), dtype=np.uint8))
    fakes = torch.from_numpy(rng.integers(20, 256, size=(200, 1, 2, 3), dtype=np.uint8))
    resampled: list[int] = []
    standard_error = S.fid_standard_error
    monkeypatch.setattr(S, "fid_standard_error",
                        lambda features, *a, **k: resampled.append(len(features)) or standard_error(features, *a, **k))
    metrics, protocol = image_metrics(real, fakes, FlatFeatures(), config=QualityConfig(seed=3))
    assert resampled == [200]
    assert metrics["fid_ci_low"] < metrics["fid"] < metrics["fid_ci_high"]
    for name in ("precision", "recall", "density", "coverage"):
        assert metrics[f"{name}_ci_low"] <= metrics[name] <= metrics[f"{name}_ci_high"]
    assert protocol["intervals"].startswith("95%, conditional on the reference: FID +/- 1.96 bootstrap s.e. over 50 "
                                            "resamples of the fakes' features (the reals' statistics fixed)")
    bare, bare_protocol = image_metrics(real, fakes, FlatFeatures(), config=QualityConfig(seed=3, intervals=None))
    assert not [k for k in bare if "_ci_" in k or k == "fid_se"] and bare_protocol["intervals"] == "none"
    assert bare["fid"] == metrics["fid"]
