"""Azimuthally averaged power spectra of images, after Durall, Keuper & Keuper, "Watch your
Up-Convolution: CNN Based Generative Deep Neural Networks are Failing to Reproduce Spectral
Distributions", CVPR 2020.

The greyscale image's 2-D power spectrum (no resizing before the FFT) is reduced to a 1-D
profile: the mean of ``log(1 + |FFT|^2)`` over rings of equal integer radius around the centred
zero frequency. The profile depends only on the magnitude spectrum, so a circular shift of the
image leaves it unchanged. On a square image of side ``S``, ring ``r`` holds the spatial
frequency ``r / S`` cycles per pixel; the rings up to ``S // 2`` are whole circles (up to 0.5
cycles per pixel, the Nyquist limit), the rings beyond hold only the corners of the spectrum.
"""

from __future__ import annotations

import numpy as np
import torch

CHUNK = 1024
BT601 = (0.299, 0.587, 0.114)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """``N,C,H,W`` pixel values (uint8, or floats on the same scale) -> float64 ``N,H,W``: ITU-R BT.601 luma for
    RGB, the channel mean otherwise."""
    x = images.double()
    if x.shape[1] == 3:
        return (x * torch.tensor(BT601, dtype=torch.float64).view(1, 3, 1, 1)).sum(1)
    return x.mean(1)


def ring_index(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer radius of every pixel of the centred ``h x w`` spectrum, and the pixel count per radius."""
    yy, xx = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2, indexing="ij")
    radius = torch.sqrt(yy.double() ** 2 + xx.double() ** 2).round().long().view(-1)
    return radius, torch.bincount(radius).double()


def _profiles(images: torch.Tensor) -> np.ndarray:
    radius, counts = ring_index(*images.shape[-2:])
    if len(images) == 0:
        return np.zeros((0, len(counts)))
    gray = luminance(images)
    power = torch.fft.fftshift(torch.fft.fft2(gray).abs().pow(2), dim=(-2, -1))
    log_power = torch.log1p(power.reshape(len(gray), -1))
    sums = torch.zeros(len(gray), len(counts), dtype=torch.float64).index_add_(1, radius, log_power)
    return (sums / counts).numpy()


def azimuthal_average(images: torch.Tensor, chunk: int = CHUNK) -> np.ndarray:
    """``N,C,H,W`` pixel values (uint8, or floats on the same scale) -> ``N,R`` mean log power per integer radius,
    ``chunk`` images at a time (memory flat in N)."""
    parts = [_profiles(images[start : start + chunk]) for start in range(0, max(len(images), 1), chunk)]
    return np.concatenate(parts)


def ring_frequencies(side: int) -> np.ndarray:
    """Spatial frequency (cycles per pixel) of each whole ring of a square ``side x side`` image: 0 .. <= 0.5."""
    return np.arange(side // 2 + 1) / side
