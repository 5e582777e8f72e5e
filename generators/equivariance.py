"""Translation equivariance EQ-T of StyleGAN generators (Karras et al., "Alias-Free Generative
Adversarial Networks", NeurIPS 2021, Sec. 4 and App. E.1).

EQ-T is the PSNR, for images in [-1, 1] (peak-to-peak 2), between the image rendered from a
translated input and the rendered image translated by the same amount, over the pixels that both
cover. The paper draws integer translations of up to 1/8 of the image; here each call names
its shifts in pixels.

* StyleGAN3 (``ganbench.generators.stylegan3``): the Fourier features' input grid moves by
  ``(dx, dy) / resolution`` image widths, which is sub-pixel on the layers that run at a lower
  sampling rate than the image.
* StyleGAN2 (``ganbench.generators.stylegan2``): its input is a learned 4x4 grid, which only
  moves without interpolation by whole cells (``resolution / 4`` pixels); zeros come in at its
  border, and its noise inputs stay where they are (the same noise draws for both images).

Untrained networks' images do not span [-1, 1] yet; ``spread`` scales both images of a
measurement by one factor that gives the reference images that standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ganbench.generators.base import GenerativeModel
from ganbench.generators.stylegan3 import translation_matrix


def integer_translation(images: torch.Tensor, dx: int, dy: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``N,C,H,W`` images moved by ``dx`` columns and ``dy`` rows (zeros where nothing moved in) and
    the mask of the pixels that hold moved content."""
    moved, mask = torch.zeros_like(images), torch.zeros_like(images)
    h, w = images.shape[-2:]
    target = (..., slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0)))
    moved[target] = images[..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
    mask[target] = 1
    return moved, mask


def translation_psnr(reference: torch.Tensor, rendered: torch.Tensor, dx: int, dy: int,
                     spread: float | None = None) -> float:
    """PSNR in dB (peak-to-peak 2) between ``reference`` moved by ``(dx, dy)`` pixels and
    ``rendered``, over the pixels the moved images cover; with ``spread``, both are first scaled
    so that ``reference`` has that standard deviation."""
    scale = 1.0 if spread is None else spread / float(reference.float().std())
    moved, mask = integer_translation(reference.double() * scale, dx, dy)
    mse = float(((moved - rendered.double() * scale).square() * mask).sum() / mask.sum())
    return 20 * math.log10(2) - 10 * math.log10(mse) if mse > 0 else math.inf


@contextmanager
def evaluating(network: nn.Module) -> Iterator[nn.Module]:
    """``network`` in eval mode (StyleGAN3's layers track magnitudes in training mode), then back."""
    was_training = network.training
    network.eval()
    try:
        yield network
    finally:
        network.train(was_training)


@torch.no_grad()
def stylegan3_eq_t(model: GenerativeModel, shifts: list[tuple[int, int]], n: int = 8, seed: int = 1,
                   spread: float | None = None) -> list[float]:
    """EQ-T of a StyleGAN3 model's sampling network for each shift in pixels."""
    resolution = model.spec.resolution
    with evaluating(model.sampling_network) as network:
        ws, _ = model.styles(n, 0.0, torch.Generator(model.device).manual_seed(seed), network)
        reference = network.synthesis(ws)
        return [translation_psnr(reference, network.synthesis(ws, translation_matrix(dx / resolution, dy / resolution)),
                                 dx, dy, spread) for dx, dy in shifts]


@torch.no_grad()
def stylegan2_eq_t(model: GenerativeModel, cells: tuple[int, int], n: int = 8, seed: int = 1,
                   spread: float | None = None) -> float:
    """EQ-T of a StyleGAN2 model's sampling network when its 4x4 input moves by whole ``cells``."""
    with evaluating(model.sampling_network) as network:
        ws, _ = model.styles(n, 0.0, torch.Generator(model.device).manual_seed(seed), network)
        synthesis = network.synthesis
        reference = synthesis(ws, torch.Generator(model.device).manual_seed(seed + 1))
        const = synthesis.const.clone()
        try:
            synthesis.const.copy_(integer_translation(const, *cells)[0])
            rendered = synthesis(ws, torch.Generator(model.device).manual_seed(seed + 1))
        finally:
            synthesis.const.copy_(const)
    pixels = model.spec.resolution // 4
    return translation_psnr(reference, rendered, cells[0] * pixels, cells[1] * pixels, spread)
