"""PSNR, SSIM, the bicubic baseline, domain accuracy and cycle error on known cases."""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.errors import UserError
from ganbench.translation_metrics import (bicubic_baseline, cycle_error, domain_accuracy, l1_error, psnr, ssim)


def test_psnr_of_a_known_error():
    a = torch.full((2, 1, 8, 8), 100, dtype=torch.uint8)
    b = a + 5
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25))
    assert psnr(a, a) > 140
    assert l1_error(a, b) == pytest.approx(5 / 255)
    with pytest.raises(UserError):
        psnr(a, a[:, :, :4])


def test_ssim_of_identical_constant_and_noisy_images():
    x = torch.randint(0, 256, (3, 2, 16, 16), dtype=torch.uint8)
    assert ssim(x, x) == pytest.approx(1.0)
    a, b = torch.full((1, 1, 16, 16), 50, dtype=torch.uint8), torch.full((1, 1, 16, 16), 200, dtype=torch.uint8)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b) == pytest.approx((2 * 50 * 200 + c1) / (50**2 + 200**2 + c1))
    noisy = (x.float() + 40 * torch.randn(x.shape)).clamp(0, 255).to(torch.uint8)
    assert 0 < ssim(x, noisy) < 0.9
    assert ssim(x, noisy) == pytest.approx(ssim(noisy, x))


def test_bicubic_baseline_is_exact_for_constant_images():
    low = torch.full((2, 1, 4, 4), 80, dtype=torch.uint8)
    truth = torch.full((2, 1, 16, 16), 80, dtype=torch.uint8)
    base = bicubic_baseline(low, truth)
    assert base["psnr_bicubic"] > 140 and base["ssim_bicubic"] == pytest.approx(1.0)


def test_domain_accuracy_and_cycle_error():
    images = torch.tensor([0, 0, 255, 255], dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 4, 4).contiguous()
    predict = lambda x: (x.float().mean((1, 2, 3)) > 127).long()  # noqa: E731
    assert domain_accuracy(predict, images, torch.tensor([0, 1, 1, 1])) == pytest.approx(0.75)
    invert = lambda x, d: 255 - x  # noqa: E731
    domains = torch.tensor([0, 0, 1, 1])
    assert cycle_error(invert, images, domains, 1 - domains) == 0.0
    darken = lambda x, d: x // 2  # noqa: E731
    assert cycle_error(darken, images, domains, 1 - domains) == pytest.approx((255 - 63) / 255 / 2)


def test_psnr_of_identical_images_is_floored_near_148_db() -> None:
    """Identical images score 10 log10(255^2 / 1e-10), not infinity."""
    images = torch.full((2, 1, 4, 4), 7, dtype=torch.uint8)
    assert psnr(images, images) == pytest.approx(10 * math.log10(255**2 / 1e-10))


def test_l1_error_is_in_unit_intensity() -> None:
    """A uniform difference of 51 grey levels is an L1 error of 0.2."""
    a = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    assert l1_error(a + 51, a) == pytest.approx(0.2)


def test_bicubic_baseline_measures_both_images_through_the_crop() -> None:
    """The up-sampled input and the ground truth are both cropped to the measured window."""
    low = torch.full((2, 1, 4, 4), 80, dtype=torch.uint8)
    truth = torch.full((2, 1, 16, 16), 80, dtype=torch.uint8)
    base = bicubic_baseline(low, truth, crop=lambda images: images[..., 2:14, 2:14])
    assert base["psnr_bicubic"] > 140 and base["ssim_bicubic"] == pytest.approx(1.0)


def test_measures_refuse_unbatched_or_unmatched_images() -> None:
    """Images must be N,C,H,W and of one shape: a single reference is not broadcast over a batch."""
    a = torch.full((2, 1, 8, 8), 100, dtype=torch.uint8)
    with pytest.raises(UserError, match="expected N,C,H,W"):
        psnr(a[0], a[0])
    with pytest.raises(UserError, match="differ in shape"):
        psnr(a, a[:1])


def test_ssim_window_shrinks_to_the_shorter_side() -> None:
    """A wide image lower than 11 px is measured with a window of its height."""
    x = torch.randint(0, 256, (2, 1, 4, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert ssim(x, x) == pytest.approx(1.0)
