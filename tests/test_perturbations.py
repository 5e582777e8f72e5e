"""Each test-time perturbation does what its name says, deterministically."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganbench.detectors.perturbations import (blur, gaussian_kernel, grid_protocol, jpeg, jpeg_bytes, noise, perturb,
                                             perturbation_protocol, resize, robustness_grid)
from ganbench.errors import UserError


@pytest.fixture(scope="module")
def photos(digits) -> torch.Tensor:
    return digits.x_test[:16]


def test_lower_jpeg_quality_gives_smaller_files_and_larger_error(photos: torch.Tensor) -> None:
    qualities = (100, 90, 70, 50, 30)
    sizes = [sum(len(jpeg_bytes(img, q)) for img in photos) for q in qualities]
    errors = [float((jpeg(photos, q).double() - photos.double()).pow(2).mean()) for q in qualities]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 1.5 * sizes[-1]
    assert errors == sorted(errors) and errors[0] < errors[-1] / 5
    assert jpeg(photos, 70).dtype == torch.uint8 and jpeg(photos, 70).shape == photos.shape


def test_jpeg_per_image_quality_matches_single_quality(photos: torch.Tensor) -> None:
    mixed = jpeg(photos[:2], [90, 30])
    assert torch.equal(mixed[0], jpeg(photos[:1], 90)[0]) and torch.equal(mixed[1], jpeg(photos[1:2], 30)[0])
    rgb = photos[:4].expand(-1, 3, -1, -1).contiguous()
    assert jpeg(rgb, 50).shape == rgb.shape


def test_blur_sigma_zero_is_identity_and_larger_sigma_smooths_more(photos: torch.Tensor) -> None:
    assert torch.equal(blur(photos, 0), photos)
    assert torch.equal(perturb(photos, "blur:0"), photos)

    def roughness(x: torch.Tensor) -> float:
        return float((x[..., 1:].double() - x[..., :-1].double()).abs().mean())

    values = [roughness(blur(photos, s)) for s in (0, 1, 2, 3, 4)]
    assert values == sorted(values, reverse=True) and values[-1] < values[0] / 1.5
    flat = torch.full((1, 1, 16, 16), 77, dtype=torch.uint8)
    assert torch.equal(blur(flat, 2.5), flat)
    assert float(gaussian_kernel(1.5).sum()) == pytest.approx(1.0)


def test_blur_matches_a_reference_gaussian_filter(photos: torch.Tensor) -> None:
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    ours = blur(photos[:2], 1.0).double()
    reference = torch.from_numpy(scipy_ndimage.gaussian_filter(photos[:2].double().numpy(), sigma=(0, 0, 1, 1),
                                                               mode="mirror", truncate=3.0)).round()
    assert float((ours - reference).abs().max()) <= 1


def test_blur_of_an_image_bright_to_its_edges_matches_a_reference_gaussian_filter() -> None:
    """Random pixels up to the border: the edges are mirrored (not repeated) and each value is rounded to
    the nearest integer, so the result is scipy's filter rounded, with no bias."""
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    images = torch.randint(0, 256, (2, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    for sigma in (1.0, 1.5):
        reference = torch.from_numpy(scipy_ndimage.gaussian_filter(images.double().numpy(), sigma=(0, 0, sigma, sigma),
                                                                   mode="mirror", truncate=3.0))
        ours = blur(images, sigma).double()
        assert float((ours - reference.round()).abs().max()) <= 1
        assert abs(float((ours - reference).mean())) < 0.1


def test_resize_down_samples_with_an_antialiasing_filter_as_pil_does() -> None:
    """The half-size image is PIL's antialiased bilinear reduction, scaled back up bilinearly."""
    images = torch.randint(0, 256, (2, 1, 16, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    small = np.stack([np.asarray(Image.fromarray(image[0].numpy().astype(np.float32), mode="F")
                                 .resize((6, 8), Image.BILINEAR)) for image in images])
    back = F.interpolate(torch.from_numpy(small).double()[:, None], size=(16, 12), mode="bilinear",
                         align_corners=False)
    assert float((resize(images, 0.5).double() - back.round()).abs().max()) <= 1


def test_resize_keeps_low_frequencies_and_removes_the_highest() -> None:
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    smooth = (128 + 60 * torch.sin(2 * torch.pi * xx / 32) * torch.cos(2 * torch.pi * yy / 32)).round()
    checker = ((xx + yy) % 2 * 255)
    images = torch.stack([smooth, checker])[:, None].to(torch.uint8)
    out = resize(images, 0.5)
    assert out.shape == images.shape and out.dtype == torch.uint8
    assert float((out[0].double() - images[0].double()).abs().mean()) < 3
    assert float(out[1].double().std()) < 0.1 * float(images[1].double().std())


def test_noise_has_the_stated_std_and_follows_the_seed() -> None:
    gray = torch.full((8, 1, 32, 32), 128, dtype=torch.uint8)
    for sigma in (5, 10, 20):
        diff = noise(gray, sigma, seed=1).double() - 128
        assert float(diff.std()) == pytest.approx(sigma, rel=0.05)
        assert abs(float(diff.mean())) < 0.5
    assert torch.equal(noise(gray, 10, seed=3), noise(gray, 10, seed=3))
    assert not torch.equal(noise(gray, 10, seed=3), noise(gray, 10, seed=4))
    assert torch.equal(perturb(gray, "noise:10", seed=2), perturb(gray, "noise:10", seed=2))
    assert not torch.equal(perturb(gray, "noise:10", seed=2), perturb(gray, "noise:10", seed=3))


def test_grid_and_spec_parsing() -> None:
    grid = robustness_grid()
    assert grid[:8] == [f"jpeg:{q}" for q in (100, 90, 80, 70, 60, 50, 40, 30)]
    assert grid[8:13] == [f"blur:{s}@256px" for s in range(5)]
    assert {"resize:0.5", "noise:5", "noise:10", "noise:20"} <= set(grid) and len(grid) == 17
    x = torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8)
    assert perturb(x, "none") is x
    assert np.array_equal(perturb(x, "jpeg:70").numpy(), jpeg(x, 70).numpy())
    for bad in ("jpeg:high", "sharpen:2", "jpeg:0", "resize:2", "blur:2@128px", "blur:-1", "blur:x@256px",
                "jpeg:70@256px"):
        with pytest.raises(UserError):
            perturb(x, bad)


def test_jpeg_refuses_a_quality_outside_1_to_100() -> None:
    """A quality of 0 or 101, alone or among per-image qualities, is a UserError, not a silent clamp."""
    x = torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    for bad in (0, 101, [50, 0], [101, 50]):
        with pytest.raises(UserError):
            jpeg(x, bad)


def test_per_image_blur_gives_each_image_its_own_sigma() -> None:
    """``blur(images, [s0, s1])`` is ``blur`` of each image with its own sigma (sigma 0 leaves it as it was)."""
    x = torch.randint(0, 256, (2, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = blur(x, [0.0, 2.0])
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1:], blur(x[1:], 2.0))
    assert torch.equal(blur(x, [2.0, 0.0])[1], x[1])


def test_grid_blur_scales_with_the_image_side() -> None:
    """Sigma S on a 256-px side is S * side / 256 pixels (the shorter side); a plain blur:S stays in pixels."""
    rng = torch.Generator().manual_seed(0)
    side_32 = torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8, generator=rng)
    assert torch.equal(perturb(side_32, "blur:4@256px"), blur(side_32, 0.5))
    assert not torch.equal(perturb(side_32, "blur:4@256px"), blur(side_32, 4.0))
    assert torch.equal(perturb(side_32, "blur:2"), blur(side_32, 2.0))
    wide = torch.randint(0, 256, (1, 1, 16, 48), dtype=torch.uint8, generator=rng)
    assert torch.equal(perturb(wide, "blur:4@256px"), blur(wide, 0.25))
    full = torch.randint(0, 256, (1, 1, 256, 256), dtype=torch.uint8, generator=rng)
    assert torch.equal(perturb(full, "blur:3@256px"), blur(full, 3.0))


def test_records_state_the_perturbation_and_the_exact_grid() -> None:
    assert perturbation_protocol("blur:2@256px", 28, 28) == {"spec": "blur:2@256px", "kind": "blur",
                                                             "sigma_px": pytest.approx(0.21875)}
    assert perturbation_protocol("jpeg:70", 28, 28) == {"spec": "jpeg:70", "kind": "jpeg"}
    grid = grid_protocol(28, 20)
    assert grid["specs"] == robustness_grid() and grid["image_px"] == [28, 20]
    assert grid["blur_sigma_px"] == pytest.approx([0.0, 0.078125, 0.15625, 0.234375, 0.3125])
    assert "256" in grid["blur_reference"]
