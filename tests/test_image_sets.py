"""Image inputs read directly: file modes, .npz arrays, data-set splits and seeded subsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.errors import UserError
from ganbench.image_sets import TensorImages, open_images, read_image


def test_grey_files_with_alpha_are_one_channel_and_colour_alpha_is_dropped(tmp_path: Path) -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(np.stack([grey, np.full_like(grey, 9)], axis=-1), mode="LA").save(tmp_path / "la.png")
    assert torch.equal(read_image(tmp_path / "la.png"), torch.from_numpy(grey)[None])
    rgba = np.dstack([grey, grey + 1, grey + 2, np.full_like(grey, 9)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    assert torch.equal(read_image(tmp_path / "rgba.png"), torch.from_numpy(rgba[..., :3]).permute(2, 0, 1))


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_sixteen_bit_and_float_files_are_refused_not_clipped(mode: str, tmp_path: Path) -> None:
    Image.new(mode, (4, 3)).save(tmp_path / "deep.tiff")
    with pytest.raises(UserError, match=r"\(16-bit or float\) image"):
        read_image(tmp_path / "deep.tiff")


def test_an_npz_input_prefers_x_then_images_then_arr_0_and_refuses_an_empty_array(tmp_path: Path) -> None:
    arrays = {name: np.full((2, 4, 4), value, np.uint8) for value, name in enumerate(("arr_0", "images", "x"))}
    np.savez(tmp_path / "all.npz", **arrays)
    np.savez(tmp_path / "two.npz", arr_0=arrays["arr_0"], images=arrays["images"])
    assert open_images(f"npz:{tmp_path / 'all.npz'}").info == {"array": "x"}
    two = open_images(f"npz:{tmp_path / 'two.npz'}")
    assert two.info == {"array": "images"} and int(two.images.max()) == 1
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 4, 4), np.uint8))
    with pytest.raises(UserError, match="the image array x is empty"):
        open_images(f"npz:{tmp_path / 'empty.npz'}")


def test_a_set_of_points_is_no_image_input() -> None:
    with pytest.raises(UserError, match="is a set of points, not images"):
        open_images("dataset:toy2d")


def test_a_subset_keeps_the_sets_order_and_never_asks_for_more_than_it_holds() -> None:
    images = TensorImages("t", torch.arange(20, dtype=torch.uint8).view(20, 1, 1, 1))
    drawn = images.subset(8, seed=3).images.flatten()
    assert len(drawn) == 8 and len(set(drawn.tolist())) == 8 and torch.equal(drawn, drawn.sort().values)
    assert images.subset(20, seed=3) is images
    with pytest.raises(UserError, match="holds 20 images, fewer than the 21 asked for"):
        images.subset(21, seed=3)


def test_a_folder_is_checked_with_a_final_report_and_read_in_batches_of_one_size(tmp_path: Path) -> None:
    sizes = [(4, 3), (5, 2), (4, 3)]
    for i, (width, height) in enumerate(sizes):
        Image.fromarray(np.full((height, width), i * 40, np.uint8), mode="L").save(tmp_path / f"{i}.png")
    images = open_images(f"folder:{tmp_path}")
    reports: list[tuple[int, int]] = []
    assert images.shapes(lambda done, total: reports.append((done, total))) == {(1, 3, 4), (1, 2, 5)}
    assert reports == [(3, 3)]
    batches = list(images.batches(3))
    assert [tuple(batch.shape) for batch in batches] == [(2, 1, 3, 4), (1, 1, 2, 5)]
    assert batches[0][:, 0, 0, 0].tolist() == [0, 80] and int(batches[1].max()) == 40
    assert [len(batch) for batch in images.batches(2)] == [1, 1, 1]


def test_an_unknown_split_is_named() -> None:
    with pytest.raises(UserError, match="unknown split 'val'"):
        open_images("dataset:digits@val")
    assert open_images("digits@train").info == {"dataset": "digits", "split": "train"}
