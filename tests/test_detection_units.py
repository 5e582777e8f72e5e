"""Small units of the detection side: scoring in chunks."""

from __future__ import annotations

import numpy as np
import torch

from ganbench.detectors.base import in_chunks


def mean_intensity(images: torch.Tensor) -> np.ndarray:
    return images.double().mean((1, 2, 3)).numpy()


def test_in_chunks_scores_every_image_once_and_an_empty_batch_as_empty() -> None:
    """Chunks of 2 over 5 images give the 5 scores in order; no images give no scores, not an error."""
    images = torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1).expand(5, 1, 2, 2)
    assert in_chunks(mean_intensity, images, chunk=2).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert in_chunks(mean_intensity, images[:0], chunk=2).shape == (0,)
