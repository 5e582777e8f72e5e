"""Test-time perturbations for robustness curves, on uint8 ``N,C,H,W`` images -> uint8.

The grid follows the robustness protocols of Wang et al., "CNN-generated images are surprisingly
easy to spot... for now", CVPR 2020, and Frank et al., "Leveraging Frequency Analysis for Deep
Fake Image Recognition", ICML 2020: JPEG quality 100..30, Gaussian blur sigma 0..4, a x0.5
down-and-up resize and additive Gaussian noise. Real and fake images go through exactly the same
function, so a perturbation can never become a label cue.

Both papers blur 256-px images (Wang et al. test on 256x256 ProGAN images; Frank et al. on
256x256 LSUN/CelebA crops), so a blur sigma is a length on a 256-px image: the grid's blur
``blur:S@256px`` scales sigma ``S`` to the image, ``S * side / 256`` pixels with ``side`` its
shorter side (sigma 4 is 0.125 px on 8-px digits, 0.44 px on 28-px MNIST, 4 px at 256 px). JPEG
quality, the resize factor and the noise std (0..255 intensity units) do not depend on the
image size and stay as they are.

A perturbation is named by a spec string ``kind:value`` (``jpeg:70``, ``blur:2@256px`` (sigma 2
on a 256-px side), ``blur:2`` (sigma 2 pixels), ``resize:0.5``, ``noise:10``); :func:`perturb`
applies one, :func:`perturbation_protocol` and :func:`grid_protocol` state it for a record.
Each strength has a range (:func:`check_perturbation`): JPEG quality a whole number from 1 to
100, a blur sigma from 0 (no blur) to :data:`MAX_BLUR_SIGMA`, a resize scale in (0, 1] (1 keeps
the size) and a noise std from 0 (no noise) to :data:`MAX_NOISE_SIGMA`, the whole intensity scale.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganbench.errors import UserError
from ganbench.runtime import derive_seed, torch_generator

JPEG_QUALITIES = (100, 90, 80, 70, 60, 50, 40, 30)
BLUR_SIGMAS = (0, 1, 2, 3, 4)
RESIZE_SCALES = (0.5,)
NOISE_SIGMAS = (5, 10, 20)
REFERENCE_SIDE = 256
REFERENCE_MARK = f"@{REFERENCE_SIDE}px"
MAX_BLUR_SIGMA = float(REFERENCE_SIDE)  # beyond a whole reference side a blur leaves a flat image
MAX_NOISE_SIGMA = 255.0  # the whole 0..255 intensity scale
KINDS = ("jpeg", "blur", "resize", "noise")
USAGE = f"jpeg:Q, blur:SIGMA, blur:SIGMA{REFERENCE_MARK}, resize:SCALE or noise:SIGMA"


def robustness_grid() -> list[str]:
    """Every perturbation spec of the robustness protocol, in curve order."""
    return ([f"jpeg:{q}" for q in JPEG_QUALITIES] + [f"blur:{s}{REFERENCE_MARK}" for s in BLUR_SIGMAS]
            + [f"resize:{s}" for s in RESIZE_SCALES] + [f"noise:{s}" for s in NOISE_SIGMAS])


def _strength(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UserError(f"bad perturbation {spec!r} (use {USAGE})") from None


def _blur_sigma(value: str) -> tuple[float, bool]:
    """The sigma of a ``blur:`` spec's value, checked, and whether it is on a 256-px side."""
    sigma, mark, rest = value.partition("@")
    if mark and rest != REFERENCE_MARK[1:]:
        raise UserError(f"bad blur reference {value!r} (use blur:SIGMA or blur:SIGMA{REFERENCE_MARK})")
    try:
        number = float(sigma)
    except ValueError:
        raise UserError(f"bad blur sigma {value!r} (use blur:SIGMA or blur:SIGMA{REFERENCE_MARK})") from None
    if not 0 <= number <= MAX_BLUR_SIGMA:
        raise UserError(f"blur sigma must be from 0 (no blur) to {MAX_BLUR_SIGMA:g}, got {value!r}")
    return number, bool(mark)


def reference_sigma_pixels(sigma: float, height: int, width: int) -> float:
    """A blur sigma given on a :data:`REFERENCE_SIDE`-px side, in pixels of a ``height`` x ``width`` image."""
    return sigma * min(height, width) / REFERENCE_SIDE


def blur_sigma_pixels(value: str, height: int, width: int) -> float:
    """The blur sigma in pixels that the value of a ``blur:`` spec means on an image of ``height`` x ``width``."""
    number, relative = _blur_sigma(value)
    return reference_sigma_pixels(number, height, width) if relative else number


def check_perturbation(spec: str) -> tuple[str, float]:
    """The kind and strength of ``spec`` (``none`` is strength 0); an unknown kind, or a strength
    outside its kind's range, is a UserError naming the range."""
    if spec == "none":
        return "none", 0.0
    kind, _, value = spec.partition(":")
    if kind not in KINDS:
        raise UserError(f"unknown perturbation {spec!r} (use none, {USAGE})")
    if kind == "blur":
        return kind, _blur_sigma(value)[0]
    number = _strength(value, spec)
    if kind == "jpeg" and not (1 <= number <= 100 and number.is_integer()):
        raise UserError(f"JPEG quality must be a whole number from 1 to 100, got {value!r}")
    if kind == "resize" and not 0 < number <= 1:
        raise UserError(f"resize scale must be in (0, 1] (the fraction of the side kept before scaling back), "
                        f"got {value!r}")
    if kind == "noise" and not 0 <= number <= MAX_NOISE_SIGMA:
        raise UserError(f"noise std must be from 0 (no noise) to {MAX_NOISE_SIGMA:g} intensity units, got {value!r}")
    return kind, number


def perturbation_protocol(spec: str, height: int, width: int) -> dict[str, object]:
    """What a record says of its perturbation: the spec and, for a blur, the sigma it meant in pixels."""
    kind, _, value = spec.partition(":")
    protocol: dict[str, object] = {"spec": spec, "kind": kind}
    if kind == "blur":
        protocol["sigma_px"] = round(blur_sigma_pixels(value, height, width), 6)
    return protocol


def grid_protocol(height: int, width: int) -> dict[str, object]:
    """The exact robustness grid on ``height`` x ``width`` images: every spec and the blur sigmas in pixels."""
    return {"specs": robustness_grid(), "image_px": [height, width],
            "blur_sigma_px": [round(blur_sigma_pixels(f"{s}{REFERENCE_MARK}", height, width), 6) for s in BLUR_SIGMAS],
            "blur_reference": f"sigma on a {REFERENCE_SIDE}-px side (Wang et al. 2020, Frank et al. 2020), "
                              f"scaled by the shorter side / {REFERENCE_SIDE}"}


def _pil(image: torch.Tensor) -> Image.Image:
    array = image.permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def jpeg_bytes(image: torch.Tensor, quality: int) -> bytes:
    """One uint8 ``C,H,W`` image encoded as JPEG at ``quality`` (4:2:0 chroma for RGB, as libjpeg does)."""
    buffer = io.BytesIO()
    _pil(image).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def decode_jpeg(data: bytes, channels: int) -> torch.Tensor:
    with Image.open(io.BytesIO(data)) as img:
        array = np.array(img.convert("L" if channels == 1 else "RGB"))
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def jpeg(images: torch.Tensor, quality: int | list[int]) -> torch.Tensor:
    """JPEG-compress and decode each image; ``quality`` is one value or one per image."""
    qualities = [quality] * len(images) if isinstance(quality, int) else list(quality)
    if any(not 1 <= q <= 100 for q in qualities):
        raise UserError(f"JPEG quality must be in 1..100, got {qualities}")
    channels = images.shape[1]
    return torch.stack([decode_jpeg(jpeg_bytes(img, q), channels) for img, q in zip(images, qualities)])


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalized 1-D Gaussian with radius ceil(3 sigma)."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def blur_float(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a float ``N,C,H,W`` tensor with reflect padding; sigma 0 is identity."""
    if sigma <= 0:
        return x
    kernel = gaussian_kernel(sigma).to(x.dtype)
    radius = len(kernel) // 2
    n, c, h, w = x.shape
    y = x.reshape(n * c, 1, h, w)
    mode = "reflect" if radius < min(h, w) else "replicate"
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode=mode), kernel.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode=mode), kernel.view(1, 1, -1, 1))
    return y.view(n, c, h, w)


def _quantize(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp(0, 255).to(torch.uint8)


def blur(images: torch.Tensor, sigma: float | list[float]) -> torch.Tensor:
    """Gaussian blur with ``sigma`` in pixels (one value, or one per image); sigma 0 returns a copy."""
    if isinstance(sigma, (int, float)):
        return images.clone() if sigma <= 0 else _quantize(blur_float(images.double(), float(sigma)))
    return torch.cat([blur(img[None], float(s)) for img, s in zip(images, sigma)])


def resize(images: torch.Tensor, scale: float) -> torch.Tensor:
    """Down-scale by ``scale`` (bilinear, antialiased) and back to the original size (bilinear)."""
    if not 0 < scale <= 1:
        raise UserError(f"resize scale must be in (0, 1], got {scale}")
    h, w = images.shape[-2:]
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    x = F.interpolate(images.double(), size=small, mode="bilinear", align_corners=False, antialias=True)
    return _quantize(F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False))


def noise(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """Add i.i.d. Gaussian noise of std ``sigma`` (0..255 pixel units), drawn from ``seed``."""
    gen = torch_generator(seed)
    n = torch.randn(images.shape, generator=gen, dtype=torch.float64)
    return _quantize(images.double() + sigma * n)


def perturb(images: torch.Tensor, spec: str, seed: int = 0) -> torch.Tensor:
    """Apply the perturbation named by ``spec`` (``none``, ``jpeg:Q``, ``blur:S``, ``blur:S@256px``, ``resize:F``,
    ``noise:S``)."""
    kind, number = check_perturbation(spec)
    if kind == "none":
        return images
    if kind == "blur":
        return blur(images, blur_sigma_pixels(spec.partition(":")[2], *images.shape[-2:]))
    if kind == "jpeg":
        return jpeg(images, int(number))
    if kind == "resize":
        return resize(images, number)
    return noise(images, number, derive_seed(seed, "noise", spec))
