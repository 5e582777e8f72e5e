"""Precision, recall, density and coverage in blocks against a brute-force reference of the definitions.

The reference builds the three full distance matrices from coordinate differences in float64 and
applies Kynkaanniemi et al. (2019) and Naeem et al. (2020) as written: the k-NN radius of a sample
is the (k+1)-th smallest distance of its row (itself included), and a point lies in a sample's
ball when its distance is strictly smaller than that radius.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganbench.prdc as P


def brute_force_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    real_radii = np.sort(distances(real, real), axis=1)[:, k]
    fake_radii = np.sort(distances(fake, fake), axis=1)[:, k]
    real_fake = distances(real, fake)
    in_real_ball = real_fake < real_radii[:, None]
    return {"precision": float(in_real_ball.any(axis=0).mean()),
            "recall": float((real_fake < fake_radii[None, :]).any(axis=1).mean()),
            "density": float(in_real_ball.sum() / (k * len(fake))),
            "coverage": float((real_fake.min(axis=1) < real_radii).mean())}


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("block", [7, 64, 4096])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_blocks_equal_the_brute_force_definitions(block: int, k: int, library: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "PRDC_BLOCK", block)
    monkeypatch.setattr(P, "cpu_products_library", lambda: library)
    rng = np.random.default_rng(block + k)
    real = rng.normal(size=(150, 10)) + 3.0
    fake = 1.3 * rng.normal(size=(110, 10)) + 3.4
    assert P.prdc_from_features(real, fake, k=k) == brute_force_prdc(real, fake, k)


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("block", [5, 4096])
def test_ties_on_an_integer_grid_follow_the_strict_definition(block: int, library: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "PRDC_BLOCK", block)
    monkeypatch.setattr(P, "cpu_products_library", lambda: library)
    rng = np.random.default_rng(1)
    real = rng.integers(0, 4, size=(90, 3)).astype(np.float32)
    fake = rng.integers(1, 5, size=(70, 3)).astype(np.float32)
    reference = brute_force_prdc(real.astype(np.float64), fake.astype(np.float64), 5)
    # the grid puts many distances exactly on a radius: a "<=" would count them
    real_fake = np.sqrt(((real[:, None] - fake[None]) ** 2).sum(-1))
    radii = np.sort(np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1)), axis=1)[:, 5]
    assert (real_fake == radii[:, None]).sum() > 100
    assert P.prdc_from_features(real, fake, k=5) == reference
    assert P.prdc_from_features(torch.from_numpy(real), torch.from_numpy(fake), k=5) == reference


def test_fakes_that_copy_reals_fill_each_real_ball_with_k_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "PRDC_BLOCK", 32)
    real = np.random.default_rng(2).normal(size=(200, 16)).astype(np.float32) * 5 + 40
    # each real ball holds the real's copy and its k - 1 nearest neighbours' copies; the k-th lies
    # exactly on the radius, outside by the strict definition (a "<=" would give a density of (k + 1) / k)
    copied = P.prdc_from_features(real, real.copy(), k=5)
    assert copied == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}
    part = real[:60].copy()
    assert P.prdc_from_features(real, part, k=3) == brute_force_prdc(real.astype(np.float64),
                                                                      part.astype(np.float64), 3)


@pytest.mark.parametrize(("vendor", "library"), [("GenuineIntel", "torch"), ("AuthenticAMD", "numpy"), ("", "numpy")])
def test_the_cpu_products_follow_the_processor_vendor(vendor: str, library: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "cpu_vendor", lambda: vendor)
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: True)
    assert P.cpu_products_library() == library
    assert P.DistanceBlocks(4, torch.device("cpu")).numpy_products == (library == "numpy")


def test_radii_are_the_kth_neighbour_distances() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    features = P.PrdcFeatures.centred_on(x, torch.zeros(1, dtype=torch.float64), 3)
    radii = P.Radii(features, 2, P.DistanceBlocks(3, x.device))
    assert radii.screened.tolist() == [9.0, 4.0, 9.0, 36.0]
    squared = radii.exact_at(torch.arange(4))
    assert squared.dtype == torch.float64 and squared.tolist() == [9.0, 4.0, 9.0, 36.0]


def coarse_screen(monkeypatch: pytest.MonkeyPatch, beta: float) -> list[int]:
    """A screen whose block distances are off by up to 0.9 of a widened bound ``beta (|x|^2 + |y|^2)``, as
    a far less precise BLAS could be; returns the lengths of the exact-distance calls made."""
    monkeypatch.setattr(P, "screen_tolerance", lambda dim: beta)
    screened = P.DistanceBlocks.squared_distances
    noise = torch.Generator().manual_seed(0)

    def squared_distances(self, x, rows, y, columns):
        d2 = screened(self, x, rows, y, columns)
        bound = beta * (x.norms[rows, None] + y.norms[None, columns])
        return d2.add_(((torch.rand(d2.shape, generator=noise, dtype=torch.float64) * 2 - 1) * 0.9 * bound).float())

    monkeypatch.setattr(P.DistanceBlocks, "squared_distances", squared_distances)
    calls: list[int] = []
    exact = P.exact_squared_distances

    def counted(a, b, rows, columns):
        calls.append(len(rows))
        return exact(a, b, rows, columns)

    monkeypatch.setattr(P, "exact_squared_distances", counted)
    return calls


@pytest.mark.parametrize("block", [16, 4096])
def test_decisions_are_float64_whatever_the_screen_gets_wrong(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pair the screen cannot settle, and every radius whose neighbours it cannot rank, is decided on
    exact distances: a screen a hundred thousand times coarser than float32 changes none of the numbers."""
    monkeypatch.setattr(P, "PRDC_BLOCK", block)
    calls = coarse_screen(monkeypatch, 0.02)
    rng = np.random.default_rng(5)
    real = rng.normal(size=(150, 10)) + 3.0
    fake = 1.2 * rng.normal(size=(110, 10)) + 3.3
    assert P.prdc_from_features(real, fake, k=3) == brute_force_prdc(real, fake, 3)
    assert 150 in calls and 110 in calls  # some radii were taken over all rows


def test_radii_over_every_row_where_the_spare_neighbours_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = coarse_screen(monkeypatch, 0.05)
    x = torch.from_numpy(np.random.default_rng(6).normal(size=(120, 6)))
    features = P.PrdcFeatures.centred_on(x, x.mean(0), 32)
    radii = P.Radii(features, 5, P.DistanceBlocks(32, x.device))
    expected = np.sort(((x.numpy()[:, None] - x.numpy()[None]) ** 2).sum(-1), axis=1)[:, 5]
    np.testing.assert_allclose(radii.exact_at(torch.arange(120)).numpy(), expected, rtol=1e-13)
    assert calls.count(120) > 0
    within = (radii.screened - radii.tolerance <= torch.from_numpy(expected)) & (
        torch.from_numpy(expected) <= radii.screened + radii.tolerance)
    assert bool(within.all())


def test_collapsed_fakes_tie_at_zero_beyond_the_spare_neighbours() -> None:
    rng = np.random.default_rng(7)
    real = rng.normal(size=(80, 8))
    fake = np.repeat(rng.normal(size=(3, 8)), 20, axis=0)  # 20 copies each: radii 0, more ties than kept
    assert P.prdc_from_features(real, fake, k=5) == brute_force_prdc(real, fake, 5)


def test_bad_features_are_refused() -> None:
    good = np.zeros((10, 3))
    with pytest.raises(ValueError, match="NaN or infinity"):
        P.prdc_from_features(good, np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="equal D"):
        P.prdc_from_features(good, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="more than 5 samples"):
        P.prdc_from_features(np.zeros((5, 3)), good)
