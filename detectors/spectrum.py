"""Spectrum detector: Durall, Keuper & Keuper, "Watch your Up-Convolution: CNN Based Generative Deep
Neural Networks are Failing to Reproduce Spectral Distributions", CVPR 2020.

The greyscale image's 2-D power spectrum (no resizing before the FFT) is reduced to a 1-D
azimuthal average: the mean log power over rings of equal spatial frequency. A standardized
logistic regression separates real from fake on that profile. The profile depends only on the
magnitude spectrum, so a circular shift of the image leaves it unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ganbench.detectors import DETECTORS
from ganbench.detectors.base import grayscale, in_chunks
from ganbench.detectors.linear_state import load_pipeline_state, pipeline_state


def _ring_index(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer radius of every pixel of the centred spectrum, and the pixel count per radius."""
    yy, xx = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2, indexing="ij")
    radius = torch.sqrt(yy.double() ** 2 + xx.double() ** 2).round().long().view(-1)
    return radius, torch.bincount(radius).double()


def _profiles(images: torch.Tensor) -> np.ndarray:
    radius, counts = _ring_index(*images.shape[-2:])
    if len(images) == 0:
        return np.zeros((0, len(counts)))
    gray = grayscale(images)
    power = torch.fft.fftshift(torch.fft.fft2(gray).abs().pow(2), dim=(-2, -1))
    log_power = torch.log1p(power.reshape(len(gray), -1))
    sums = torch.zeros(len(gray), len(counts), dtype=torch.float64).index_add_(1, radius, log_power)
    return (sums / counts).numpy()


def azimuthal_average(images: torch.Tensor) -> np.ndarray:
    """uint8 ``N,C,H,W`` -> ``N,R`` mean log power spectrum per integer radius, in chunks of images."""
    return in_chunks(_profiles, images)


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
