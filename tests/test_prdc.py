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

import ganbench.metrics as M


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


@pytest.mark.parametrize("block", [7, 64, 4096])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_blocks_equal_the_brute_force_definitions(block: int, k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(M, "PRDC_BLOCK", block)
    rng = np.random.default_rng(block + k)
    real = rng.normal(size=(150, 10)) + 3.0
    fake = 1.3 * rng.normal(size=(110, 10)) + 3.4
    assert M.prdc_from_features(real, fake, k=k) == brute_force_prdc(real, fake, k)


@pytest.mark.parametrize("block", [5, 4096])
def test_ties_on_an_integer_grid_follow_the_strict_definition(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(M, "PRDC_BLOCK", block)
    rng = np.random.default_rng(1)
    real = rng.integers(0, 4, size=(90, 3)).astype(np.float32)
    fake = rng.integers(1, 5, size=(70, 3)).astype(np.float32)
    reference = brute_force_prdc(real.astype(np.float64), fake.astype(np.float64), 5)
    # the grid puts many distances exactly on a radius: a "<=" would count them
    real_fake = np.sqrt(((real[:, None] - fake[None]) ** 2).sum(-1))
    radii = np.sort(np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1)), axis=1)[:, 5]
    assert (real_fake == radii[:, None]).sum() > 100
    assert M.prdc_from_features(real, fake, k=5) == reference
    assert M.prdc_from_features(torch.from_numpy(real), torch.from_numpy(fake), k=5) == reference


def test_fakes_that_copy_reals_fill_each_real_ball_with_k_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(M, "PRDC_BLOCK", 32)
    real = np.random.default_rng(2).normal(size=(200, 16)).astype(np.float32) * 5 + 40
    # each real ball holds the real's copy and its k - 1 nearest neighbours' copies; the k-th lies on
    # the radius, where float32 rounding decides (a "<=" would give a density of (k + 1) / k)
    copied = M.prdc_from_features(real, real.copy(), k=5)
    assert copied["precision"] == copied["recall"] == copied["coverage"] == 1.0
    assert copied["density"] == pytest.approx(1.0, abs=0.01)
    part = real[:60].copy()
    assert M.prdc_from_features(real, part, k=3) == pytest.approx(
        brute_force_prdc(real.astype(np.float64), part.astype(np.float64), 3), abs=0.02)


def test_radii_are_the_kth_neighbour_distances() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    squared = M.knn_squared_radii(x, (x * x).sum(1), 2, M.DistanceBlocks(3, x.device))
    assert squared.tolist() == [9.0, 4.0, 9.0, 36.0]


def test_bad_features_are_refused() -> None:
    good = np.zeros((10, 3))
    with pytest.raises(ValueError, match="NaN or infinity"):
        M.prdc_from_features(good, np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="equal D"):
        M.prdc_from_features(good, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="more than 5 samples"):
        M.prdc_from_features(np.zeros((5, 3)), good)
