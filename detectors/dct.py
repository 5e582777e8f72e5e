"""DCT detector: Frank et al., "Leveraging Frequency Analysis for Deep Fake Image Recognition",
ICML 2020.

Up-sampling leaves grid-like artifacts that stand out in the 2-D discrete cosine transform. Each
greyscale image becomes the log-magnitude of its orthonormal 2-D DCT-II, ``log(|DCT(x)| + eps)``;
every coefficient is standardized with the training set's mean and standard deviation, and an
L2-regularized linear model (logistic regression, as the paper's linear baseline) separates real
from fake.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ganbench.detectors import DETECTORS
from ganbench.detectors.base import in_chunks
from ganbench.spectra import luminance
from ganbench.detectors.linear_state import load_pipeline_state, pipeline_state


@dataclass(frozen=True)
class DCTConfig:
    eps: float = 1e-3
    C: float = 0.01
    max_iter: int = 3000


def dct_matrix(n: int) -> torch.Tensor:
    """Orthonormal DCT-II matrix ``D`` (``D @ x`` transforms a length-``n`` signal)."""
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, dtype=torch.float64).view(1, -1)
    d = torch.cos(torch.pi * (2 * i + 1) * k / (2 * n)) * (2 / n) ** 0.5
    d[0] /= 2**0.5
    return d


def dct2(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT-II over the last two dimensions of a float64 tensor."""
    h, w = x.shape[-2:]
    return dct_matrix(h) @ x @ dct_matrix(w).T


def log_dct_features(images: torch.Tensor, eps: float = DCTConfig.eps) -> np.ndarray:
    """uint8 ``N,C,H,W`` -> ``N,H*W`` log-magnitude DCT coefficients of the greyscale image."""
    coefficients = dct2(luminance(images))
    return torch.log(coefficients.abs() + eps).reshape(len(images), -1).numpy()


@DETECTORS.register
class DCTDetector:
    name = "dct"
    paper = "Frank et al., Leveraging Frequency Analysis for Deep Fake Image Recognition"
    year = 2020
    outputs_probability = True

    def __init__(self, seed: int = 0, config: DCTConfig = DCTConfig()) -> None:
        self.config = config
        self.model = make_pipeline(StandardScaler(),
                                   LogisticRegression(C=config.C, max_iter=config.max_iter, random_state=seed))

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        features = np.concatenate([log_dct_features(real, self.config.eps), log_dct_features(fake, self.config.eps)])
        labels = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
        self.model.fit(features, labels)

    def score(self, images: torch.Tensor) -> np.ndarray:
        return in_chunks(lambda chunk: self.model.predict_proba(log_dct_features(chunk, self.config.eps))[:, 1], images)

    def state(self) -> dict[str, np.ndarray]:
        return {**pipeline_state(self.model), "eps": np.array(self.config.eps)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        load_pipeline_state(self.model, state)
        self.config = replace(self.config, eps=float(state["eps"]))
