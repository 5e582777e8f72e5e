"""Written images: sample grids, and the PNG folders and .npz files of ``ganbench sample`` read back
by the loaders that score them (``ganbench metrics folder:...`` / ``npz:...``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ganbench.image_sets import open_images
from ganbench.imageio import make_grid, save_npz, save_png_folder


def test_a_grid_places_images_row_by_row_inside_a_black_border() -> None:
    images = torch.arange(1, 6, dtype=torch.uint8).mul(40).view(5, 1, 1, 1).expand(5, 3, 2, 3).contiguous()
    grid = make_grid(images, columns=3, padding=2)
    assert grid.shape == (3, 2 * (2 + 2) + 2, 3 * (3 + 2) + 2)
    painted = torch.zeros_like(grid, dtype=torch.bool)
    for i, image in enumerate(images):
        top, left = 2 + (i // 3) * 4, 2 + (i % 3) * 5
        assert torch.equal(grid[:, top : top + 2, left : left + 3], image), i
        painted[:, top : top + 2, left : left + 3] = True
    assert not grid[~painted].any()
    assert make_grid(images).shape == (3, 2 * 4 + 2, 3 * 5 + 2)


def test_png_folders_and_npz_files_give_back_the_images_and_labels(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    grey = torch.randint(0, 256, (12, 1, 5, 4), dtype=torch.uint8, generator=generator)
    colour = torch.randint(0, 256, (12, 3, 5, 4), dtype=torch.uint8, generator=generator)
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
    for name, images in (("grey", grey), ("colour", colour)):
        folder = tmp_path / name
        save_png_folder(images, folder, labels)
        names = sorted(p.name for p in folder.iterdir())
        assert [int(re.fullmatch(r"\d{6}_c(\d+)\.png", n).group(1)) for n in names] == labels.tolist()
        read = torch.cat(list(open_images(f"folder:{folder}").batches(5)))
        assert torch.equal(read, images), name
    save_png_folder(grey, tmp_path / "unlabelled")
    assert sorted(p.name for p in (tmp_path / "unlabelled").iterdir())[10] == "000010.png"
    save_npz(colour, tmp_path / "samples.npz", labels)
    with np.load(tmp_path / "samples.npz") as archive:
        assert archive["y"].dtype == np.int64 and archive["y"].tolist() == labels.tolist()
    assert torch.equal(torch.cat(list(open_images(f"npz:{tmp_path / 'samples.npz'}").batches(12))), colour)
