"""One-class baseline: a detector that never sees a fake.

Principal-component reconstruction residual (the subspace method of novelty detection; Hoffmann,
"Kernel PCA for novelty detection", Pattern Recognition 2007, in its linear form): the real
training images, as pixel vectors in [0, 1], are projected on the principal components that
explain :data:`VARIANCE_KEPT` of their variance, and an image's score is its mean squared distance
to that subspace. ``fit`` ignores the fakes it is given.

Its AUC says how much of a detection score needs no knowledge of the generator: an image that
falls off the reals' subspace (a preprocessing trace, an untrained generator's noise) is caught
without learning anything about fakes. A trained detector is only informative where it beats it.
"""

from __future__ import annotations

import numpy as np
import torch

from ganbench.detectors import DETECTORS
from ganbench.detectors.base import in_chunks

VARIANCE_KEPT = 0.95


def _pixels(images: torch.Tensor) -> np.ndarray:
    return images.reshape(len(images), -1).numpy().astype(np.float64) / 255.0


@DETECTORS.register
class OneClassDetector:
    name = "one-class"
    paper = "Hoffmann, Kernel PCA for novelty detection (linear PCA residual)"
    year = 2007
    baseline = True

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.explained = 0.0

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        x = _pixels(real)
        self.mean = x.mean(0)
        _, singular, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        variance = singular**2
        share = np.cumsum(variance) / max(variance.sum(), 1e-300)
        k = int(np.searchsorted(share, VARIANCE_KEPT) + 1)
        self.components = vt[: min(k, len(vt))]
        self.explained = float(share[len(self.components) - 1])

    def _residual(self, images: torch.Tensor) -> np.ndarray:
        assert self.mean is not None and self.components is not None, "fit() first"
        centred = _pixels(images) - self.mean
        projected = centred @ self.components.T @ self.components
        return ((centred - projected) ** 2).mean(1)

    def score(self, images: torch.Tensor) -> np.ndarray:
        return in_chunks(self._residual, images)

    def describe(self) -> dict[str, object]:
        return {"components": 0 if self.components is None else len(self.components),
                "variance_explained": round(self.explained, 4), "sees_fakes": False}

    def state(self) -> dict[str, np.ndarray]:
        assert self.mean is not None and self.components is not None, "fit() first"
        return {"mean": self.mean, "components": self.components, "explained": np.asarray(self.explained)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.mean, self.components = np.asarray(state["mean"]), np.asarray(state["components"])
        self.explained = float(state["explained"])
