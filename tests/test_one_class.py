"""The one-class baseline: fitted on reals only, its score is the distance to the reals' principal subspace."""

from __future__ import annotations

import numpy as np
import torch

from ganbench.detectors import DETECTORS
from ganbench.detectors.one_class import VARIANCE_KEPT, OneClassDetector


def test_fit_never_looks_at_the_fakes(digits):
    a, b = OneClassDetector(), OneClassDetector()
    a.fit(digits.x_train, digits.x_train[:50])
    b.fit(digits.x_train, torch.full((7, 1, 8, 8), 255, dtype=torch.uint8))
    assert np.array_equal(a.score(digits.x_test), b.score(digits.x_test))


def test_score_is_the_mean_squared_distance_to_the_kept_subspace():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, 16))
    coefficients = rng.normal(size=(200, 2))
    plane = (100 + 20 * coefficients @ basis).clip(0, 255).round().astype(np.uint8).reshape(200, 1, 4, 4)
    detector = OneClassDetector()
    detector.fit(torch.from_numpy(plane), torch.from_numpy(plane[:0]))
    assert 1 <= len(detector.components) <= 3 and detector.explained >= VARIANCE_KEPT
    off = plane[:20].astype(np.int64)
    off[:, 0, 0, 0] = np.where(off[:, 0, 0, 0] > 127, 0, 255)
    on_scores = detector.score(torch.from_numpy(plane[:20]))
    off_scores = detector.score(torch.from_numpy(off.astype(np.uint8)))
    assert on_scores.max() < 1e-3 < off_scores.min()
    x = off.reshape(20, -1) / 255.0 - detector.mean
    residual = x - x @ detector.components.T @ detector.components
    assert np.allclose(off_scores, (residual**2).mean(1))


def test_state_round_trip_scores_alike(digits):
    detector = OneClassDetector()
    detector.fit(digits.x_train, digits.x_train[:0])
    restored = OneClassDetector()
    restored.load_state(detector.state())
    assert np.array_equal(detector.score(digits.x_test), restored.score(digits.x_test))
    assert DETECTORS.get("one-class") is OneClassDetector
