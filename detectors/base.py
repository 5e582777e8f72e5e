"""The detector protocol: what every built-in detector and every user plugin implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class Detector(Protocol):
    """``fit`` on uint8 ``N,C,H,W`` real and fake images; ``score`` returns N floats, higher = more likely fake."""

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None: ...

    def score(self, images: torch.Tensor) -> np.ndarray: ...


def detector_name(detector: object) -> str:
    return getattr(detector, "name", None) or type(detector).__name__


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``N,C,H,W`` -> float64 ``N,H,W`` luminance (ITU-R BT.601 weights for RGB)."""
    x = images.double()
    if x.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(1, 3, 1, 1)
        return (x * weights).sum(1)
    return x.mean(1)
