"""The data set health report: counts, refusals with their numbers, warnings; npz label and size checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.context import RunConfig, run_data
from ganbench.data import Dataset, load_dataset
from ganbench.data_health import FLOOR_TEST, FLOOR_TRAIN, MIN_TEST, MIN_TRAIN, check_dataset
from ganbench.errors import UserError
from ganbench.presets import get_preset


def distinct_images(n: int, side: int = 8, offset: int = 0) -> torch.Tensor:
    """``n`` different grey images: image i holds the number offset + i in its first pixels."""
    x = torch.zeros(n, 1, side, side, dtype=torch.uint8)
    index = torch.arange(offset, offset + n)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = (index % 256).to(torch.uint8), (index // 256).to(torch.uint8)
    return x


def dataset(n_train: int, n_test: int, classes: int = 2, side: int = 8) -> Dataset:
    return Dataset("toy", distinct_images(n_train, side), torch.arange(n_train) % classes,
                   distinct_images(n_test, side, offset=n_train), torch.arange(n_test) % classes, classes,
                   notes={"native_size": side})


def test_a_usable_set_is_counted_and_passes() -> None:
    data = dataset(60, 20)
    data.x_test[:3] = data.x_train[:3]
    data.x_train[10] = data.x_train[11]
    health = check_dataset(data, needs_classes=True)
    assert (health.n_train, health.n_test) == (60, 20)
    assert health.train_per_class == (30, 30) and health.test_per_class == (10, 10)
    assert (health.test_in_train, health.repeats_in_train) == (3, 1)
    assert (health.shorter_min, health.shorter_median, health.shorter_max) == (8, 8, 8)
    summary = health.summary()
    assert "80 images (60 train, 20 test)" in summary and "3 test image(s) equal a training image" in summary


def test_duplicates_across_splits_and_repeats_in_train_are_warned() -> None:
    data = dataset(60, 20)
    data.x_train[1] = data.x_train[0]
    data.x_test[:3] = data.x_train[:3]
    warnings: list[str] = []
    check_dataset(data, needs_classes=True, warn=warnings.append)
    assert any("3 of 20 test images are exact copies" in w for w in warnings)
    assert any("1 of 60 training images repeat" in w for w in warnings)
    clean: list[str] = []
    check_dataset(dataset(60, 20), needs_classes=True, warn=clean.append)
    assert clean == []


def test_too_few_images_are_refused_with_the_numbers() -> None:
    floor = rf"2 training image\(s\), fewer than {FLOOR_TRAIN}.*3 test image\(s\), fewer than {FLOOR_TEST}"
    with pytest.raises(UserError, match=floor):
        check_dataset(dataset(2, 3), needs_classes=False, allow_small=True)
    with pytest.raises(UserError, match=rf"40 training image\(s\), fewer than {MIN_TRAIN}.*--allow-small") as refused:
        check_dataset(dataset(40, 20), needs_classes=False)
    assert "test images" not in str(refused.value)
    with pytest.raises(UserError, match=rf"19 test image\(s\), fewer than {MIN_TEST}"):
        check_dataset(dataset(50, 19), needs_classes=False)
    warnings: list[str] = []
    check_dataset(dataset(40, 20), needs_classes=False, allow_small=True, warn=warnings.append)
    assert len(warnings) == 1 and "--allow-small" in warnings[0]
    check_dataset(dataset(MIN_TRAIN, MIN_TEST), needs_classes=False)  # exactly the least counts run
    check_dataset(dataset(FLOOR_TRAIN, FLOOR_TEST), needs_classes=False, allow_small=True)



def test_under_six_test_images_are_refused_even_with_allow_small() -> None:
    """Precision and recall take each real test image's 5 nearest neighbours among the others: 6 is
    the floor, below which --allow-small does not run either."""
    with pytest.raises(UserError, match=r"5 test image\(s\), fewer than 6 \(precision/recall"):
        check_dataset(dataset(10, 5), needs_classes=False, allow_small=True)
    check_dataset(dataset(10, 6), needs_classes=False, allow_small=True)

def test_one_class_is_refused_only_where_the_run_needs_classes() -> None:
    with pytest.raises(UserError, match="1 class.*classifier extractor"):
        check_dataset(dataset(60, 20, classes=1), needs_classes=True)
    assert check_dataset(dataset(60, 20, classes=1), needs_classes=False).classes_in_train == 1


def test_images_under_eight_pixels_are_refused() -> None:
    with pytest.raises(UserError, match="loaded at 4 px.*at least 8 px"):
        check_dataset(dataset(60, 20, side=4), needs_classes=False)
    check_dataset(dataset(60, 20, side=8), needs_classes=False)



def test_images_shrunk_below_eight_pixels_are_refused_whatever_their_source() -> None:
    """32 px sources loaded at 4 px: the loaded side alone is under 8 px, and that refuses the set."""
    data = dataset(60, 20, side=4)
    data.notes["source_sizes"] = {"train": np.full((60, 2), 32), "test": np.full((20, 2), 32)}
    with pytest.raises(UserError, match="loaded at 4 px from shorter sides of 32 to 32 px"):
        check_dataset(data, needs_classes=False)

def test_enlarged_and_huge_images_are_warned_from_the_source_sizes() -> None:
    data = dataset(60, 20, side=32)
    sides = np.full((80, 2), 12)
    sides[5] = (400, 300)
    data.notes["source_sizes"] = {"train": sides[:60], "test": sides[60:]}
    warnings: list[str] = []
    health = check_dataset(data, needs_classes=False, warn=warnings.append)
    assert (health.enlarged, health.huge, health.shorter_max) == (79, 1, 300)
    assert any("79 of 80 images are enlarged more than 2x" in w for w in warnings)
    assert any("1 image(s) have a shorter side over 8x the median (up to 300 px" in w for w in warnings)



def test_images_enlarged_up_to_twice_are_not_counted_as_enlarged() -> None:
    """12 px sources loaded at 20 px (1.7x) and 10 px ones at 20 px (exactly 2x) are not enlarged
    more than 2x; 9 px ones are."""
    data = dataset(60, 20, side=20)
    sides = np.full((80, 2), 12)
    sides[:10], sides[10:13] = 10, 9
    data.notes["source_sizes"] = {"train": sides[:60], "test": sides[60:]}
    warnings: list[str] = []
    assert check_dataset(data, needs_classes=False, warn=warnings.append).enlarged == 3
    assert warnings == []

def test_source_sizes_are_judged_by_most_images_and_against_the_median() -> None:
    """70 images of 100 px, 9 of 5 px, one of 900 px, loaded at 32 px: the few small ones are neither refused nor
    most of the set (no blur warning); the large one is over 8x the median, not just over 8x the smallest."""
    data = dataset(60, 20, side=32)
    sides = np.tile([100, 120], (80, 1))
    sides[:9] = (5, 12)
    sides[40] = (950, 900)
    data.notes["source_sizes"] = {"train": sides[:60], "test": sides[60:]}
    warnings: list[str] = []
    health = check_dataset(data, needs_classes=False, warn=warnings.append)
    assert (health.shorter_min, health.shorter_median, health.shorter_max) == (5, 100, 900)
    assert (health.enlarged, health.huge) == (9, 1)
    assert len(warnings) == 1 and "1 image(s) have a shorter side over 8x the median" in warnings[0]
    data.notes["source_sizes"] = {"train": np.full((60, 2), 6), "test": np.full((20, 2), 6)}
    with pytest.raises(UserError, match="from shorter sides of 6 to 6 px"):
        check_dataset(data, needs_classes=False)


def test_repeats_in_train_are_warned_from_one_percent() -> None:
    rare = dataset(300, 20)
    rare.x_train[1] = rare.x_train[0]
    rare.x_train[3] = rare.x_train[2]
    warnings: list[str] = []
    assert check_dataset(rare, needs_classes=False, warn=warnings.append).repeats_in_train == 2
    assert warnings == []
    rare.x_train[5] = rare.x_train[4]
    check_dataset(rare, needs_classes=False, warn=warnings.append)
    assert len(warnings) == 1 and "3 of 300 training images repeat another" in warnings[0]


def test_classes_without_training_images_are_warned() -> None:
    data = dataset(60, 20, classes=2)
    data.num_classes = 5
    warnings: list[str] = []
    check_dataset(data, needs_classes=True, warn=warnings.append)
    assert any("3 class(es) have no training images (labels 2, 3, 4)" in w for w in warnings)


def write_npz(path: Path, n: int, labels: np.ndarray | None = None, **extra: np.ndarray) -> str:
    x = np.random.default_rng(n).integers(0, 256, (n, 8, 8), dtype=np.uint8)
    np.savez(path, x_train=x, y_train=np.arange(n) % 2 if labels is None else labels, **extra)
    return f"npz:{path}"


def test_npz_labels_must_be_whole_numbers(tmp_path: Path) -> None:
    whole = load_dataset(write_npz(tmp_path / "whole.npz", 100, (np.arange(100) % 3).astype(np.float32)))
    assert whole.y_train.dtype == torch.int64 and sorted(set(whole.y_train.tolist())) == [0, 1, 2]
    with pytest.raises(UserError, match=r"y_train holds 1 label\(s\) that are not whole numbers \(first 2.5\)"):
        load_dataset(write_npz(tmp_path / "half.npz", 100, np.r_[np.zeros(99), 2.5]))
    with pytest.raises(UserError, match="not whole numbers"):
        load_dataset(write_npz(tmp_path / "nan.npz", 100, np.r_[np.zeros(99), np.nan]))
    with pytest.raises(UserError, match="y_test holds negative labels"):
        load_dataset(write_npz(tmp_path / "neg.npz", 100, x_test=np.zeros((4, 8, 8), np.uint8),
                               y_test=np.array([0, 1, -1, 0])))
    with pytest.raises(UserError, match="dtype <U1"):
        load_dataset(write_npz(tmp_path / "text.npz", 4, np.array(list("abab"))))
    with pytest.raises(UserError, match="labels go up to 1000 for 100 images"):
        load_dataset(write_npz(tmp_path / "far.npz", 100, np.r_[np.zeros(99, int), 1000]))


def test_npz_too_small_or_empty_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"x_train holds no images \(shape \(0, 8, 8\)\)"):
        load_dataset(write_npz(tmp_path / "empty.npz", 0))
    with pytest.raises(UserError, match="1 image.* too few to split"):
        load_dataset(write_npz(tmp_path / "one.npz", 1))
    with pytest.raises(UserError, match="20 image.*10 class.* too few to split"):
        load_dataset(write_npz(tmp_path / "many_classes.npz", 20, np.arange(20) % 10))
    with pytest.raises(UserError, match="zero size"):
        np.savez(tmp_path / "flat.npz", x_train=np.zeros((4, 0, 8), np.uint8), y_train=np.zeros(4, int))
        load_dataset(f"npz:{tmp_path / 'flat.npz'}")
    three = load_dataset(write_npz(tmp_path / "three.npz", 3))
    assert (len(three.x_train), len(three.x_test)) == (2, 1)


def test_the_run_refuses_a_tiny_set_before_any_unit(tmp_path: Path) -> None:
    preset = get_preset("smoke")
    spec = write_npz(tmp_path / "three.npz", 3)
    with pytest.raises(UserError, match=r"2 training image\(s\), fewer than 10"):
        run_data(RunConfig(suite="dcgan", preset=preset, dataset=spec, out=tmp_path / "out"))
    small = write_npz(tmp_path / "small.npz", 70)
    with pytest.raises(UserError, match="--allow-small"):
        run_data(RunConfig(suite="dcgan", preset=preset, dataset=small, out=tmp_path / "out"))
    warnings: list[str] = []
    data, _ = run_data(RunConfig(suite="dcgan", preset=preset, dataset=small, out=tmp_path / "out", allow_small=True),
                       warn=warnings.append)
    assert len(data.x_train) == 56 and any("--allow-small" in w for w in warnings)
    assert not (tmp_path / "out").exists()


def test_allow_small_on_the_command_line_passes_the_data_check(tmp_path: Path) -> None:
    command = ["train", "dcgan", "--dataset", write_npz(tmp_path / "seventy.npz", 70), "--preset", "smoke",
               "--set", "preset.steps=1", "--set", "preset.n_eval=20", "--set", "preset.classifier_epochs=1",
               "--out", str(tmp_path / "out")]
    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 2 and "14 test image(s), fewer than 20" in refused.output
    allowed = CliRunner().invoke(app, [*command, "--allow-small"])
    assert allowed.exit_code == 0, allowed.output
    assert "running anyway" in allowed.output


def test_data_report_prints_the_counts_and_refuses_like_a_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data-report", write_npz(tmp_path / "three.npz", 3)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and lines[0].endswith("3 images (2 train, 1 test), 1 channel(s), loaded at 8 px")
    assert lines[-1].startswith("error: ") and "2 training image(s), fewer than 10" in lines[-1]
    usable = CliRunner().invoke(app, ["data-report", "digits"])
    assert usable.exit_code == 0 and "1797 images (1437 train, 360 test)" in usable.output
    assert usable.output.strip().endswith("a run would start on this data set")


def test_a_conditional_generator_on_one_class_is_warned_of(tmp_path: Path) -> None:
    from rich.console import Console

    from ganbench.context import RunContext

    spec = write_npz(tmp_path / "one_class.npz", 200, np.zeros(200, np.int64))
    console = Console(record=True, width=400)
    context = RunContext(RunConfig(suite="cgan", preset=get_preset("smoke"), dataset=spec, out=tmp_path / "out",
                                   extractor="inception"), console)
    context.require_support("dcgan")
    assert console.export_text() == ""
    context.require_support("cgan")
    assert "cgan is class-conditional, but data set" in console.export_text()
