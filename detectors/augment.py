"""Blur+JPEG training augmentation of Wang et al., "CNN-generated images are surprisingly easy to
spot... for now", CVPR 2020.

Each training image is, independently, Gaussian-blurred with probability ``blur_prob`` (sigma
drawn uniformly from ``blur_sigma``) and then JPEG-compressed with probability ``jpeg_prob``
(quality drawn uniformly from the integers of ``jpeg_quality``). The paper's "Blur+JPEG (0.5)"
setting is the default. Draws come from a ``numpy.random.Generator`` so a seed fixes them.

The paper's sigmas (0 to 3 pixels) are for its 256-px images; as the robustness perturbations
do (:func:`ganbench.detectors.perturbations.reference_sigma_pixels`), a drawn sigma is read on a
256-px side and scaled by the image's shorter side / 256, so an 8-px digit is blurred as much,
relative to its size, as a 256-px photograph, not erased.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ganbench.detectors.perturbations import blur, jpeg, reference_sigma_pixels


@dataclass(frozen=True)
class BlurJpegConfig:
    blur_prob: float = 0.5
    blur_sigma: tuple[float, float] = (0.0, 3.0)
    jpeg_prob: float = 0.5
    jpeg_quality: tuple[int, int] = (30, 100)


@dataclass(frozen=True)
class AugmentDraw:
    """What was drawn for one image: ``None`` means the step was skipped; ``sigma`` is on a 256-px side."""

    sigma: float | None
    quality: int | None


class BlurJpeg:
    """Callable augmentation: ``augment(images, rng)`` -> augmented uint8 images (``last_draws`` keeps the draws)."""

    def __init__(self, config: BlurJpegConfig = BlurJpegConfig()) -> None:
        self.config = config
        self.last_draws: list[AugmentDraw] = []

    def draw(self, n: int, rng: np.random.Generator) -> list[AugmentDraw]:
        c = self.config
        draws = []
        for _ in range(n):
            sigma = float(rng.uniform(*c.blur_sigma)) if rng.random() < c.blur_prob else None
            quality = int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1)) if rng.random() < c.jpeg_prob else None
            draws.append(AugmentDraw(sigma, quality))
        return draws

    @staticmethod
    def apply(images: torch.Tensor, draws: list[AugmentDraw]) -> torch.Tensor:
        out = images.clone()
        for i, d in enumerate(draws):
            if d.sigma is not None:
                out[i : i + 1] = blur(out[i : i + 1], reference_sigma_pixels(d.sigma, *images.shape[-2:]))
            if d.quality is not None:
                out[i : i + 1] = jpeg(out[i : i + 1], d.quality)
        return out

    def __call__(self, images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        self.last_draws = self.draw(len(images), rng)
        return self.apply(images, self.last_draws)
