"""One geometry for reals and fakes: native sizes, the model canvas, and no shortcut a detector
could find without learning the generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ganbench.context import RunConfig, run_data
from ganbench.data import load_dataset
from ganbench.pixels import to_float, to_uint8
from ganbench.detectors.one_class import OneClassDetector
from ganbench.generators import DataSpec, create_generator
from ganbench.geometry import Geometry, SizeRequest, model_size_for
from ganbench.presets import get_preset


def test_model_canvas_is_the_smallest_power_of_two_that_holds_the_image():
    assert [model_size_for(s) for s in (8, 16, 17, 28, 32, 33)] == [16, 16, 32, 32, 32, 64]
    assert Geometry.for_images(8).border == (4, 4) and Geometry.for_images(27).border == (2, 3)


def test_canvas_repeats_edges_and_the_crop_gives_the_image_back():
    geometry = Geometry.for_images(28)
    images = torch.randint(0, 256, (5, 3, 28, 28), dtype=torch.uint8)
    canvas = geometry.to_model(images)
    assert canvas.shape == (5, 3, 32, 32) and canvas.dtype == torch.uint8
    assert torch.equal(canvas[..., 0, 2:30], images[..., 0, :]) and torch.equal(canvas[..., 2:30, 31], images[..., :, -1])
    assert torch.equal(geometry.to_image(canvas), images)
    assert geometry.to_model(canvas) is canvas
    with pytest.raises(ValueError):
        geometry.to_model(images[..., :20, :20])


def test_data_sets_keep_their_native_size_unless_a_size_is_declared(tmp_path: Path):
    digits = load_dataset("digits")
    assert digits.resolution == 8 and digits.notes == {"native_size": 8, "enlarged": False}
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
             y_train=np.arange(40) % 2)
    assert load_dataset(f"npz:{tmp_path / 'd.npz'}", SizeRequest(maximum=32)).resolution == 28
    assert load_dataset(f"npz:{tmp_path / 'd.npz'}", SizeRequest(maximum=16)).resolution == 16
    enlarged = load_dataset("digits", 16)
    assert enlarged.resolution == 16 and enlarged.notes["enlarged"]


def test_a_run_warns_when_real_images_are_enlarged(tmp_path: Path):
    warnings: list[str] = []
    config = RunConfig(suite="dcgan", preset=get_preset("smoke").with_overrides(resolution=16), out=tmp_path)
    data, spec = run_data(config, warn=warnings.append)
    assert data.resolution == 16 and spec.resolution == 16 and "enlarged from their native 8 px" in warnings[0]
    default = RunConfig(suite="dcgan", preset=get_preset("smoke"), out=tmp_path)
    assert run_data(default, warn=warnings.append)[1] == DataSpec("image", 1, 16, 10, 8) and len(warnings) == 1


def test_generators_train_on_the_canvas_and_return_images_of_the_measured_size():
    spec = DataSpec("image", 1, 16, 10, image_size=8)
    assert create_generator("dcgan", spec, preset_width=8).sample(3, seed=0).shape == (3, 1, 8, 8)
    pix2pix = create_generator("pix2pix", spec, preset_width=4)
    assert pix2pix.translate(torch.zeros(2, 1, 16, 16, dtype=torch.uint8)).shape == (2, 1, 8, 8)


def test_the_fake_path_leaves_no_trace_on_real_images():
    """A generator that reproduced real images exactly would hand the detectors those very images:
    canvas, float conversion, quantization and crop are lossless, so any cue a detector finds is
    in what the generator made, not in how images are prepared."""
    digits = load_dataset("digits")
    geometry = Geometry.for_images(digits.resolution)
    through = geometry.to_image(to_uint8(to_float(geometry.to_model(digits.x_test))))
    assert torch.equal(through, digits.x_test)


def test_a_subspace_detector_cannot_tell_real_from_real_through_the_fake_path():
    """The check that caught the former x2-enlargement shortcut (reals on a 64-dimensional subspace
    of 256 pixels): at the native geometry, a detector fitted on real training images only sees no
    difference between held-out reals and reals that took the fakes' path."""
    digits = load_dataset("digits")
    geometry = Geometry.for_images(digits.resolution)
    detector = OneClassDetector()
    detector.fit(digits.x_train, torch.empty(0, 1, 8, 8, dtype=torch.uint8))
    half = len(digits.x_test) // 2
    fake_path = geometry.to_image(to_uint8(to_float(geometry.to_model(digits.x_test[half:]))))
    scores = np.r_[detector.score(digits.x_test[:half]), detector.score(fake_path)]
    auc = roc_auc_score(np.r_[np.zeros(half), np.ones(len(fake_path))], scores)
    assert 0.25 < auc < 0.75
    enlarged = load_dataset("digits", 16)
    detector.fit(enlarged.x_train, enlarged.x_train[:0])
    smooth = torch.nn.functional.interpolate(enlarged.x_test.float(), size=8, mode="area")
    off_subspace = torch.nn.functional.interpolate(smooth, size=16, mode="nearest").round().to(torch.uint8)
    scores = np.r_[detector.score(enlarged.x_test), detector.score(off_subspace)]
    assert roc_auc_score(np.r_[np.zeros(len(enlarged.x_test)), np.ones(len(off_subspace))], scores) > 0.9
