"""Spectrum detector: Durall, Keuper & Keuper, "Watch your Up-Convolution: CNN Based Generative Deep
Neural Networks are Failing to Reproduce Spectral Distributions", CVPR 2020.

The greyscale image's 2-D power spectrum (no resizing before the FFT) is reduced to a 1-D
azimuthal average (``ganbench.spectra``): the mean log power over rings of equal spatial
frequency. A standardized logistic regression separates real from fake on that profile.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ganbench.detectors import DETECTORS
from ganbench.detectors.linear_state import load_pipeline_state, pipeline_state
from ganbench.spectra import azimuthal_average


@DETECTORS.register
class SpectrumDetector:
    name = "spectrum"
    paper = "Durall et al., Watch your Up-Convolution"
    year = 2020
    outputs_probability = True

    def __init__(self, seed: int = 0) -> None:
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        features = np.concatenate([azimuthal_average(real), azimuthal_average(fake)])
        labels = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
        self.model.fit(features, labels)

    def score(self, images: torch.Tensor) -> np.ndarray:
        return self.model.predict_proba(azimuthal_average(images))[:, 1]

    def state(self) -> dict[str, np.ndarray]:
        return pipeline_state(self.model)

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        load_pipeline_state(self.model, state)
