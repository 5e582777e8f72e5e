"""Data sets: shapes, dtypes, labels, deterministic stratified splits, loaders and their errors."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganbench.context import RunConfig
from ganbench.data import (content_fingerprint, folder_headers, load_dataset, load_toy2d, read_idx,
                           resize_images, to_nchw_uint8)
from ganbench.pixels import to_float, to_uint8
from ganbench.errors import UserError
from ganbench.presets import get_preset
from ganbench.runner import SuiteRunner
from ganbench.units import FAKE_SETS

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_digits_shapes_labels_and_split(digits):
    assert digits.x_train.dtype == torch.uint8 and digits.y_train.dtype == torch.int64
    assert digits.x_train.shape[1:] == (1, 32, 32) and digits.x_test.shape[1:] == (1, 32, 32)
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert digits.num_classes == 10
    train_share = torch.bincount(digits.y_train, minlength=10) / len(digits.y_train)
    test_share = torch.bincount(digits.y_test, minlength=10) / len(digits.y_test)
    assert torch.allclose(train_share, test_share, atol=0.01)
    assert int(digits.x_train.max()) == 255


def test_digits_split_is_deterministic(digits):
    again = load_dataset("digits", 32)
    assert torch.equal(again.x_test, digits.x_test) and again.fingerprint == digits.fingerprint
    assert load_dataset("digits", 16).x_train.shape[-1] == 16


def test_toy2d_mixtures_match_the_literature():
    ring = load_toy2d("ring")
    assert len(ring.modes) == 8 and ring.mode_std == 0.02
    assert torch.allclose(ring.modes.norm(dim=1), torch.full((8,), 2.0), atol=1e-5)
    nearest = torch.cdist(ring.x_train, ring.modes).min(1).values
    assert float(nearest.max()) < 0.02 * 6
    grid = load_dataset("toy2d-grid")
    assert len(grid.modes) == 25 and grid.mode_std == 0.05
    assert set(grid.modes[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}



def test_toy2d_ring_modes_are_45_degrees_apart_and_labels_name_each_points_mode():
    """Mode k of the ring sits at angle k * 2pi/8 on radius 2; every point's label is its nearest
    mode, and the test points are fresh draws, none a copy of a training point."""
    ring = load_toy2d("ring")
    angles = torch.arange(8, dtype=torch.float64) * (np.pi / 4)
    expected = torch.stack([2 * angles.cos(), 2 * angles.sin()], dim=1).float()
    assert torch.allclose(ring.modes, expected, atol=1e-6)
    for data in (ring, load_toy2d("grid")):
        for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
            assert torch.equal(torch.cdist(x, data.modes).argmin(1), y)
        points = torch.cat([data.x_train, data.x_test])
        assert len(points.unique(dim=0)) == len(points)

def test_quantization_round_trip():
    x = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    assert torch.equal(to_uint8(to_float(x)), x)


def test_to_uint8_rounds_to_the_nearest_value_and_clamps_the_range() -> None:
    """0.0 maps to 127.5 (rounded half to even: 128, not truncated to 127); outside [-1, 1] is clamped, not wrapped."""
    assert to_uint8(torch.tensor([-1.5, -1.0, 0.0, 0.6, 1.0, 1.5])).tolist() == [0, 0, 128, 204, 255, 255]


def test_a_set_on_at_most_64_values_is_quantized() -> None:
    from ganbench.pixels import intensity_levels

    on_64 = torch.arange(0, 256, 4, dtype=torch.uint8).view(1, 1, 8, 8)
    assert intensity_levels(on_64) == tuple(range(0, 256, 4))
    on_65 = torch.cat([on_64.flatten(), torch.tensor([255], dtype=torch.uint8)]).view(1, 1, 5, 13)
    assert intensity_levels(on_65) is None


def test_resize_center_crops_non_square():
    x = torch.zeros(1, 1, 20, 10, dtype=torch.uint8)
    x[..., 5:15, :] = 200
    out = resize_images(x, 10)
    assert out.shape == (1, 1, 10, 10) and int(out.min()) == 200


def test_shrinking_is_antialiased_bilinear_rounded_to_the_nearest_value():
    """One-pixel lines survive a 4x shrink as grey (an antialiased filter averages them in; sampling
    between pixels would drop them), and every value is rounded to the nearest, not truncated."""
    x = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    x[..., ::4] = 255
    out = resize_images(x, 4)
    assert out.shape == (1, 1, 4, 4) and 40 <= int(out.min()) and int(out.max()) <= 90
    y = torch.randint(0, 256, (2, 3, 17, 17), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    expected = F.interpolate(y.float(), size=(6, 6), mode="bilinear", align_corners=False, antialias=True).round()
    assert torch.equal(resize_images(y, 6), expected.to(torch.uint8))


def test_channels_last_arrays_keep_their_rows_and_columns():
    x = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    out = to_nchw_uint8(x, "test")
    assert out.shape == (3, 3, 5, 7) and np.array_equal(out[1, 2], x[1, :, :, 2])
    assert to_nchw_uint8(x[..., 0], "test").shape == (3, 1, 5, 7)



def test_one_channels_last_image_without_the_batch_axis_is_refused():
    """A 28x28x3 array is one colour image missing its batch axis, not 28 grey images of 28x3."""
    with pytest.raises(UserError, match="without the batch axis"):
        to_nchw_uint8(np.zeros((28, 28, 3), dtype=np.uint8), "one.npz")
    assert to_nchw_uint8(np.zeros((10, 3, 3), dtype=np.uint8), "tiny.npz").shape == (10, 1, 3, 3)

def test_npz_loader_layouts_and_errors(tmp_path: Path):
    rng = np.random.default_rng(0)
    nhwc = rng.integers(0, 256, (20, 12, 12, 3), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", x_train=nhwc, y_train=np.arange(20) % 2, x_test=nhwc[:4], y_test=np.zeros(4))
    data = load_dataset(f"npz:{tmp_path / 'rgb.npz'}", 16)
    assert data.x_train.shape == (20, 3, 16, 16) and data.num_classes == 2

    np.savez(tmp_path / "no_test.npz", x_train=nhwc[..., 0], y_train=np.arange(20) % 2)
    assert len(load_dataset(f"npz:{tmp_path / 'no_test.npz'}", 12).x_test) == 4

    np.savez(tmp_path / "missing.npz", images=nhwc)
    with pytest.raises(UserError, match="missing arrays"):
        load_dataset(f"npz:{tmp_path / 'missing.npz'}")
    np.savez(tmp_path / "float.npz", x_train=nhwc.astype(np.float32), y_train=np.zeros(20))
    with pytest.raises(UserError, match="uint8"):
        load_dataset(f"npz:{tmp_path / 'float.npz'}")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UserError):
        load_dataset(f"npz:{tmp_path / 'broken.npz'}")
    with pytest.raises(UserError, match="no such file"):
        load_dataset(f"npz:{tmp_path / 'absent.npz'}")


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_loader_reads_mnist_layout(tmp_path: Path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.arange(30) % 10
    for stem, array in {"train-images-idx3-ubyte": images, "train-labels-idx1-ubyte": labels,
                        "t10k-images-idx3-ubyte": images[:10], "t10k-labels-idx1-ubyte": labels[:10]}.items():
        _write_idx(tmp_path / f"{stem}.gz", array)
    assert np.array_equal(read_idx(tmp_path / "train-images-idx3-ubyte.gz"), images)
    data = load_dataset(f"mnist:{tmp_path}", 28)
    assert torch.equal(data.x_train[:, 0], torch.from_numpy(images)) and data.num_classes == 10
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupt idx"):
        load_dataset(f"mnist:{tmp_path}", 28)
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">HBBI", 0x0101, 0x08, 1, 10) + labels[:10].astype(np.uint8).tobytes())
    with pytest.raises(UserError, match="not a uint8 idx file"):
        load_dataset(f"mnist:{tmp_path}", 28)



@pytest.mark.parametrize("short", ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"])
def test_idx_images_and_labels_must_be_as_many(tmp_path: Path, short: str):
    """An idx label file one label short of its image file is refused, for either split."""
    images = np.zeros((30, 8, 8), dtype=np.uint8)
    labels = np.arange(30) % 10
    files = {"train-images-idx3-ubyte": images, "train-labels-idx1-ubyte": labels,
             "t10k-images-idx3-ubyte": images[:10], "t10k-labels-idx1-ubyte": labels[:10]}
    files[short] = files[short][:-1]
    for stem, array in files.items():
        _write_idx(tmp_path / f"{stem}.gz", array)
    count = "30 training images but 29 labels" if short.startswith("train") else "10 test images but 9 labels"
    with pytest.raises(UserError, match=count):
        load_dataset(f"mnist:{tmp_path}")

def test_cifar_batches_are_read_as_channel_planes(tmp_path: Path):
    """A CIFAR-10 row holds the red plane, then the green, then the blue (Krizhevsky 2009)."""
    import pickle

    rng = np.random.default_rng(2)
    rows = {name: rng.integers(0, 256, (10, 3072), dtype=np.uint8)
            for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]}
    labels = {name: [(i + shift) % 10 for i in range(10)] for shift, name in enumerate(rows)}
    for name, data in rows.items():
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels[name]}, f)
    data = load_dataset(f"cifar10:{tmp_path}", 32)
    assert data.x_train.shape == (50, 3, 32, 32) and data.num_classes == 10
    # batches 1..5 in order, each image with its own label
    assert data.y_train.tolist() == sum((labels[f"data_batch_{i}"] for i in range(1, 6)), [])
    assert data.y_test.tolist() == labels["test_batch"]
    first = rows["data_batch_1"][0]
    for channel in range(3):
        plane = first[channel * 1024:(channel + 1) * 1024].reshape(32, 32)
        assert np.array_equal(data.x_train[0, channel].numpy(), plane)


def test_classes_seen_only_in_the_test_split_are_counted(tmp_path: Path):
    images = np.random.default_rng(3).integers(0, 256, (12, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "late.npz", x_train=images[:8], y_train=np.arange(8) % 3, x_test=images[8:],
             y_test=np.array([0, 1, 2, 3]))
    assert load_dataset(f"npz:{tmp_path / 'late.npz'}").num_classes == 4


def test_a_cut_test_split_is_disjoint_and_keeps_each_image_with_its_label(tmp_path: Path):
    """An npz without a test split is cut 80/20: every image lands in exactly one split, with its own label."""
    n = 40
    labels = np.arange(n) % 4
    images = np.zeros((n, 8, 8), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = labels * 50, np.arange(n)
    np.savez(tmp_path / "tagged.npz", x_train=images, y_train=labels)
    data = load_dataset(f"npz:{tmp_path / 'tagged.npz'}")
    assert (len(data.x_train), len(data.x_test)) == (32, 8)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert torch.equal(x[:, 0, 0, 0].long(), y * 50)
    train_ids, test_ids = set(data.x_train[:, 0, 0, 1].tolist()), set(data.x_test[:, 0, 0, 1].tolist())
    assert not train_ids & test_ids and train_ids | test_ids == set(range(n))


def test_a_test_split_of_another_image_size_is_refused(tmp_path: Path):
    rng = np.random.default_rng(4)
    np.savez(tmp_path / "sizes.npz", x_train=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8), y_train=np.arange(10) % 2,
             x_test=rng.integers(0, 256, (4, 10, 10), dtype=np.uint8), y_test=np.arange(4) % 2)
    with pytest.raises(UserError, match="differ"):
        load_dataset(f"npz:{tmp_path / 'sizes.npz'}")


def test_the_native_side_is_the_shorter_side_and_an_enlargement_is_noted(tmp_path: Path):
    """10x14 images stay at 10 px unless a side is asked for; only a larger side is noted as enlarged."""
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "wide.npz", x_train=rng.integers(0, 256, (10, 10, 14), dtype=np.uint8),
             y_train=np.arange(10) % 2, x_test=rng.integers(0, 256, (4, 10, 14), dtype=np.uint8),
             y_test=np.arange(4) % 2)
    spec = f"npz:{tmp_path / 'wide.npz'}"
    native = load_dataset(spec)
    assert native.x_train.shape[-2:] == (10, 10) and native.notes == {"native_size": 10, "enlarged": False}
    assert load_dataset(spec, 16).notes["enlarged"] and not load_dataset(spec, 8).notes["enlarged"]


def test_a_folders_native_side_is_the_median_shorter_side(tmp_path: Path):
    """Six 12x8 images and four 16x16 ones: the native side is 8 (the median of the shorter
    sides), and a run that asks for 16 px is told its images were enlarged."""
    folder = tmp_path / "mixed" / "one"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(6)
    for i, (h, w) in enumerate([(8, 12)] * 6 + [(16, 16)] * 4):
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(folder / f"{i}.png")
    assert folder_headers(folder.parent).native_side == 8
    data = load_dataset(f"folder:{folder.parent}")
    assert data.x_train.shape[-1] == 8 and data.notes["native_size"] == 8 and not data.notes["enlarged"]
    assert load_dataset(f"folder:{folder.parent}", 16).notes["enlarged"]



def test_a_folders_source_sizes_follow_each_image_into_its_split(tmp_path: Path):
    """Image i is (8 + i) px square and filled with the value 10 * i: after resizing, each split's
    recorded source sizes still belong to its own images, row by row."""
    folder = tmp_path / "sizes" / "one"
    folder.mkdir(parents=True)
    for i in range(10):
        Image.new("L", (8 + i, 8 + i), color=10 * i).save(folder / f"{i}.png")
    data = load_dataset(f"folder:{folder.parent}", 8)
    for split, x in (("train", data.x_train), ("test", data.x_test)):
        sizes = data.notes["source_sizes"][split]
        assert np.array_equal(sizes[:, 0], 8 + x[:, 0, 0, 0].numpy() // 10), split
        assert np.array_equal(sizes[:, 1], sizes[:, 0])

def test_the_fingerprint_tells_apart_arrays_of_the_same_bytes_and_another_shape():
    x = torch.arange(64, dtype=torch.uint8)
    assert content_fingerprint(x.view(4, 16)) != content_fingerprint(x.view(16, 4))
    assert content_fingerprint(x.view(4, 16)) == content_fingerprint(x.view(4, 16).clone())


def test_standard_set_offline_is_a_clear_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    with pytest.raises(UserError, match="could not download"):
        load_dataset("fashion-mnist")


@pytest.mark.skipif(not (SHARED_DATA / "mnist.npz").exists(), reason="shared MNIST copy not present")
def test_real_mnist_from_npz():
    data = load_dataset(f"mnist:{SHARED_DATA / 'mnist.npz'}", 32)
    assert data.x_train.shape == (60000, 1, 32, 32) and len(data.x_test) == 10000
    assert torch.bincount(data.y_test).tolist()[:3] == [980, 1135, 1032]


def _image_folder(root: Path, mode: str = "L") -> None:
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(5):
            Image.new(mode, (20, 24), color=40 * i if mode == "L" else (40 * i, 0, 0)).save(root / label / f"{i}.png")


def test_folder_loader_classes_and_bad_files(tmp_path: Path):
    _image_folder(tmp_path / "ok")
    data = load_dataset(f"folder:{tmp_path / 'ok'}", 16)
    assert data.channels == 1 and data.num_classes == 2 and len(data.x_train) + len(data.x_test) == 10

    _image_folder(tmp_path / "bad")
    (tmp_path / "bad" / "a" / "9.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(UserError, match="9.png"):
        load_dataset(f"folder:{tmp_path / 'bad'}", 16)
    warnings: list[str] = []
    skipped = load_dataset(f"folder:{tmp_path / 'bad'}", 16, skip_bad=True, warn=warnings.append)
    assert skipped.notes["skipped_files"] == 1 and "1" in warnings[0]

    _image_folder(tmp_path / "mixed")
    Image.new("RGB", (20, 24)).save(tmp_path / "mixed" / "b" / "rgb.png")
    with pytest.raises(UserError, match="mixed channel"):
        load_dataset(f"folder:{tmp_path / 'mixed'}", 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no image files"):
        load_dataset(f"folder:{tmp_path / 'empty'}", 16)


def test_unknown_dataset_suggests_a_name():
    with pytest.raises(UserError, match="did you mean 'digits'"):
        load_dataset("digitz")


def test_the_reals_levels_key_the_sample_unit_and_not_the_training() -> None:
    """Fakes put on other intensity values are other fakes: the levels enter the sample key, not the train key."""
    import dataclasses

    from ganbench.units import Scope, sample_unit, train_unit

    plain = Scope("digits", "f", "image", get_preset("smoke"), 0)
    scopes = [plain, dataclasses.replace(plain, levels=(0, 255)), dataclasses.replace(plain, levels=(0, 128, 255))]
    assert len({sample_unit(s, "dcgan", "t").key for s in scopes}) == 3
    assert len({train_unit(s, "dcgan").key for s in scopes}) == 1


def test_fakes_of_a_quantized_real_set_are_put_on_its_levels(smoke_run) -> None:
    from ganbench.pixels import intensity_levels, snap_to_levels
    from ganbench.store import load_npz

    levels = intensity_levels(load_dataset("digits").x_train)
    assert levels is not None and len(levels) == 17 and levels[0] == 0 and levels[-1] == 255
    assert intensity_levels(torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)) is None
    snapped = snap_to_levels(torch.tensor([0, 7, 8, 9, 250, 255], dtype=torch.uint8), levels)
    assert snapped.tolist() == [0, 0, 0, 16, 255, 255] and snapped.dtype == torch.uint8
    out, result = smoke_run
    assert result.exit_code == 0, result.output
    (sample,) = [json.loads(p.read_text()) for p in (out / "records").glob("sample-*.json")]
    fakes = load_npz(out / sample["info"]["fakes"], "fakes")
    for which in ("eval", "detector_train", "fresh"):
        assert set(np.unique(fakes[which]).tolist()) <= set(levels), which
    assert "17 intensity values" in sample["protocol"]["levels"]


def test_the_three_fake_sets_are_separate_draws(smoke_run) -> None:
    """The fakes that score quality, train detectors and test them are three draws of their own:
    a detector is never tested on the images it was trained on."""
    from ganbench.store import load_npz

    out, result = smoke_run
    assert result.exit_code == 0, result.output
    for path in (out / "records").glob("sample-*.json"):
        fakes = load_npz(out / json.loads(path.read_text())["info"]["fakes"], "fakes")
        rows = {which: {image.tobytes() for image in fakes[which]} for which in ("eval", "detector_train", "fresh")}
        for first, second in (("eval", "detector_train"), ("eval", "fresh"), ("detector_train", "fresh")):
            shared = len(rows[first] & rows[second])
            assert shared <= 0.1 * min(len(rows[first]), len(rows[second])), (path.name, first, second, shared)


def tiny_runner(suite: str, out: Path) -> SuiteRunner:
    """A suite runner on 8-px digits: two training steps, 30 quality fakes and 20 in each detector set."""
    preset = get_preset("smoke").with_overrides(name="tiny", resolution=8, steps=2, batch_size=8, width=4, n_eval=30,
                                                n_detector_train=20, n_detector_test=20)
    return SuiteRunner(RunConfig(suite=suite, preset=preset, out=out, quiet=True))


@pytest.mark.parametrize("name", ["cgan", "infogan"])
def test_each_fake_set_is_stored_with_the_conditions_it_was_drawn_with(name: str, tmp_path: Path) -> None:
    """A conditional generator's fakes are stored with their class labels (InfoGAN's with its code
    values): drawn again from the trained weights with those conditions and the set's seed, they are
    the stored images."""
    from ganbench.runtime import derive_seed

    runner = tiny_runner(name, tmp_path)
    trained = runner.generation.train_generator(name)
    sampled = runner.generation.sample_generator(name, trained)
    stored = runner.context.fakes(sampled)
    model = runner.context.load_trained(name, trained)
    conditions = "eval_labels" if name == "cgan" else "eval_codes"
    assert torch.equal(stored[conditions], model.evaluation_conditions(30)[0 if name == "cgan" else 1])
    for which in FAKE_SETS:
        drawn = model.sample(len(stored[which]), labels=stored[f"{which}_{conditions.split('_')[1]}"],
                             seed=derive_seed(0, name, which))
        assert torch.equal(runner.context.on_real_levels(drawn), stored[which]), which


def test_sampling_speed_counts_the_images_of_all_three_fake_sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """The sample unit's images per second divide every fake it drew, the three sets together, by the
    seconds its sampling took (a stand-in clock: 4 s)."""
    from types import SimpleNamespace

    from ganbench import generation

    runner = tiny_runner("dcgan", tmp_path)
    trained = runner.generation.train_generator("dcgan")
    readings = iter([100.0, 104.0])
    monkeypatch.setattr(generation, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    sampled = runner.generation.sample_generator("dcgan", trained)
    assert sampled.metrics["images_per_second"] == pytest.approx((30 + 20 + 20) / 4)
