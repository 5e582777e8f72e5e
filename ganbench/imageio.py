"""Writing images: sample grids and PNG folders of uint8 ``N,C,H,W`` tensors."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganbench.errors import UserError
from ganbench.store import atomic_write_bytes, write_npz


def _to_pil(image: torch.Tensor) -> Image.Image:
    array = image.permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def png_bytes(image: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    _to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def make_grid(images: torch.Tensor, columns: int | None = None, padding: int = 2) -> torch.Tensor:
    """Tile uint8 ``N,C,H,W`` images into one ``C,H',W'`` image with a black border."""
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = torch.zeros(c, rows * (h + padding) + padding, columns * (w + padding) + padding, dtype=torch.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = image
    return grid


def save_grid(images: torch.Tensor, path: Path, columns: int | None = None) -> None:
    atomic_write_bytes(path, png_bytes(make_grid(images, columns)))


def save_png_folder(images: torch.Tensor, folder: Path, labels: torch.Tensor | None = None) -> None:
    """One PNG per image, ``000000.png`` ... (``000000_c3.png`` with a label); a folder that cannot
    be made is a :class:`UserError`, as a file that cannot be written is."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    width = max(6, len(str(len(images))))
    for i, image in enumerate(images):
        suffix = "" if labels is None else f"_c{int(labels[i])}"
        atomic_write_bytes(folder / f"{i:0{width}d}{suffix}.png", png_bytes(image))


def save_npz(images: torch.Tensor, path: Path, labels: torch.Tensor | None = None) -> None:
    arrays = {"x": images.numpy()}
    if labels is not None:
        arrays["y"] = labels.numpy().astype(np.int64)
    write_npz(path, **arrays)
