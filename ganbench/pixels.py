"""How pixels are encoded: uint8 images to the [-1, 1] floats every network sees and back, and
the intensity values of a quantized real set that its fakes are put on.

Every image a generator trains on and every fake it samples passes through these functions, so
training keys cover this module (:data:`ganbench.source_digest.SHARED_MODULES`).
"""

from __future__ import annotations

import torch


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range every generator produces."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8, the exact inverse quantization of :func:`to_float`."""
    return x.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


#: A real image set on at most this many intensity values is taken to be quantized (the digits'
#: 17 grey levels, binarized strokes): its fakes are put on the same values.
QUANTIZED_LEVELS = 64
LEVELS_SAMPLE = 2000


def intensity_levels(images: torch.Tensor) -> tuple[int, ...] | None:
    """The uint8 values a quantized real set uses (read from up to :data:`LEVELS_SAMPLE` evenly spaced
    images), or None where it uses more than :data:`QUANTIZED_LEVELS`."""
    step = max(1, len(images) // LEVELS_SAMPLE)
    counts = torch.bincount(images[::step].reshape(-1).to(torch.int64), minlength=256)
    used = counts.nonzero().flatten().tolist()
    return tuple(used) if 0 < len(used) <= QUANTIZED_LEVELS else None


def snap_to_levels(images: torch.Tensor, levels: tuple[int, ...]) -> torch.Tensor:
    """uint8 images with every value moved to the nearest of ``levels`` (the lower one on a tie), so
    that fakes are encoded as the quantized reals are and no detector can tell them apart by their values."""
    values = torch.tensor(levels, dtype=torch.int64)
    nearest = (torch.arange(256).view(-1, 1) - values.view(1, -1)).abs().argmin(1)
    return values[nearest].to(torch.uint8)[images.to(torch.int64)]
