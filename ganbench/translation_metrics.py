"""Task measures of image-to-image generators, on uint8 ``N,C,H,W`` images.

* PSNR: ``10 log10(255^2 / MSE)`` per image, averaged over images (MSE floored at 1e-10, so
  identical images score about 148 dB instead of infinity).
* SSIM: Wang, Bovik, Sheikh & Simoncelli, "Image Quality Assessment: From Error Visibility to
  Structural Similarity", IEEE TIP 2004; 11x11 Gaussian window with sigma 1.5, K1 = 0.01,
  K2 = 0.03, data range 255, over valid window positions, averaged per channel and image.
* Bicubic baseline: PSNR/SSIM of the bicubic up-sampling of the low-resolution input, the
  reference row of every super-resolution table (Ledig et al., CVPR 2017).
* Domain accuracy: share of translated images that a classifier assigns to the target domain
  (the FCN/classifier score of Isola et al. 2017 and Zhu et al. 2017; the classification error of
  Choi et al. 2018).
* Cycle reconstruction error: mean absolute difference, in [0, 1] intensity units, between an
  image and its round trip through the target domain and back (Zhu et al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganbench.errors import UserError
from ganbench.tasks import upsample_bicubic

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
DATA_RANGE = 255.0


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise UserError(f"images to compare differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.dim() != 4:
        raise UserError(f"expected N,C,H,W images, got shape {tuple(a.shape)}")


def psnr(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean per-image PSNR in dB."""
    _check_pair(images, reference)
    mse = (images.double() - reference.double()).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(DATA_RANGE**2 / mse)).mean())


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x.pow(2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean SSIM; the window shrinks to the image size for images smaller than 11 px."""
    _check_pair(images, reference)
    size = min(SSIM_WINDOW, images.shape[-1], images.shape[-2])
    n, c = images.shape[:2]
    x = images.double().reshape(n * c, 1, *images.shape[-2:])
    y = reference.double().reshape(n * c, 1, *images.shape[-2:])
    window = _gaussian_window(size, SSIM_SIGMA)[None, None]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x.pow(2)
    var_y = blur(y * y) - mu_y.pow(2)
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.pow(2) + mu_y.pow(2) + c1) * (var_x + var_y + c2))
    return float(index.flatten(1).mean(1).mean())


def l1_error(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean absolute difference in [0, 1] intensity units."""
    _check_pair(images, reference)
    return float((images.double() - reference.double()).abs().mean() / DATA_RANGE)


def paired_measures(outputs: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    return {"psnr": psnr(outputs, truth), "ssim": ssim(outputs, truth), "l1": l1_error(outputs, truth)}


def bicubic_baseline(low_res: torch.Tensor, truth: torch.Tensor,
                     crop: Callable[[torch.Tensor], torch.Tensor] = lambda images: images) -> dict[str, float]:
    """PSNR and SSIM of bicubic up-sampling of ``low_res`` to the size of ``truth``, both seen
    through ``crop`` (the measured window of a model canvas)."""
    upsampled, truth = crop(upsample_bicubic(low_res, truth.shape[-1])), crop(truth)
    return {"psnr_bicubic": psnr(upsampled, truth), "ssim_bicubic": ssim(upsampled, truth)}


def domain_accuracy(predict_domains: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                    target_domains: torch.Tensor) -> float:
    """Share of ``images`` whose predicted domain is their target domain."""
    return float((predict_domains(images).cpu() == target_domains.cpu()).double().mean())


def cycle_error(translate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], images: torch.Tensor,
                domains: torch.Tensor, target_domains: torch.Tensor) -> float:
    """Mean absolute error between ``images`` and ``translate(translate(images, target), domain)``."""
    there = translate(images, target_domains)
    back = translate(there, domains)
    return l1_error(back, images)
