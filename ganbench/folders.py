"""Image folders: which files make the data set, and how each file becomes uint8 pixels.

Layout: one sub-folder per class (sorted names give labels 0..K-1; each is searched
recursively), or image files directly inside the folder (one class). Names starting with ``.``
(``.ipynb_checkpoints``, ``.DS_Store``) are ignored; image files beside class folders are
ignored with a warning. Only names ending in :data:`IMAGE_SUFFIXES` are read.

Links are followed once:

* a file reached twice (through a link, or a hard link) in one class counts once; a file
  reached from two classes is refused, since it would carry two labels;
* a class folder that resolves to the data set folder (or a folder above it), to another class
  folder, or into another class folder is refused, naming it;
* a folder already visited within a class is not entered again, so a link loop ends;
* a link that leads nowhere counts as an unreadable file.

Decoding (Pillow), by the mode a file opens in, after the EXIF orientation is applied
(``ImageOps.exif_transpose``, so a rotated camera JPEG loads upright); a multi-frame file gives
its first frame:

* ``1`` (bilevel): grey, 0 and 255;
* ``L``: grey, as stored;
* ``I;16``, ``I;16L``, ``I;16B``, ``I;16N`` (16-bit) and ``I`` (32-bit integers holding 0..65535):
  grey, ``round(v * 255 / 65535)``; an ``I`` file with values outside 0..65535 is refused;
* ``LA``: grey with alpha, composited over black (``round(L * A / 255)``);
* ``P`` (palette), ``RGB``, ``RGBX``, ``YCbCr``, ``CMYK``: Pillow's conversion to RGB (for CMYK
  its plain ``R = 255 - C - K`` formula, no colour profile);
* ``RGBA``, ``PA``, and ``P``/``L``/``RGB`` files with a transparency key: composited over black
  (``round(C * A / 255)``), so a transparent pixel reads as black whatever colour it stores;
* ``F`` (32-bit float) and every other mode: refused, since no range is agreed for them.

A file that cannot be decoded or is refused stops loading with one line naming it; with
``skip_bad`` it is skipped and counted in one warning.

Parallel decoding: with ``workers`` above 1, files are decoded (and prepared) by that many worker
processes in chunks of :data:`DECODE_CHUNK` files, at most two chunks per worker in flight, and
taken back in file order, so the result is the one a serial read gives.

Channels: ``1``, ``L``, ``LA`` and the integer modes are grey (one channel); the colour modes give
three. A data set is all grey or all colour: a folder that mixes them is refused, naming a file
of each, rather than guessing which one the user meant.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar, cast

import numpy as np
from PIL import Image, ImageOps

from ganbench.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
INTEGER_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N"}
GREY_MODES = {"1", "L", "LA"} | INTEGER_MODES
COLOUR_MODES = {"P", "PA", "RGB", "RGBX", "RGBA", "YCbCr", "CMYK"}
SIXTEEN_BIT_MAX = 65535
DECODE_CHUNK = 32

T = TypeVar("T")


class UnreadableImage(Exception):
    """A file that cannot become pixels by the decoding rules; the message says why."""


@dataclass(frozen=True)
class ImageFile:
    """One file of a folder data set, as found under the folder, with its class label."""

    path: Path
    label: int


@dataclass(frozen=True)
class FolderLayout:
    """The files that make a folder data set, and what the scan left out."""

    root: Path
    classes: tuple[str, ...]
    files: tuple[ImageFile, ...]
    repeated: int
    beside_classes: int


@dataclass(frozen=True)
class DecodedImage:
    """A file's pixels as uint8 ``C,H,W`` and the mode it was stored in."""

    pixels: np.ndarray
    mode: str

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[2])


@dataclass
class FolderImages(Generic[T]):
    """The prepared images of a folder with, per image, its file's place in ``layout.files``
    (``read``), its label, its ``H, W`` and mode as stored; the files skipped (name and reason)
    and the folder's channel count. ``images`` is empty where a ``keep`` callback took them."""

    layout: FolderLayout
    images: list[T]
    read: np.ndarray
    labels: np.ndarray
    sizes: np.ndarray
    modes: list[str]
    skipped: list[str]
    channels: int


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and _visible(path.name)


def _identity(path: Path) -> tuple[int, int] | None:
    """Device and inode of what ``path`` leads to; None for a link that leads nowhere."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _check_class_folders(root: Path, folders: list[Path]) -> None:
    """Refuse class folders that are the root, contain it, or coincide with or nest in each other."""
    real_root = root.resolve()
    resolved = [(folder, folder.resolve()) for folder in folders]
    for folder, real in resolved:
        if real_root.is_relative_to(real):
            raise UserError(f"{root}: class folder {folder.name!r} leads to {real}, the data set folder itself "
                            f"or one above it; remove that link")
    for folder, real in resolved:
        for other, other_real in resolved:
            if other is folder:
                continue
            if real == other_real:
                raise UserError(f"{root}: class folders {folder.name!r} and {other.name!r} are the same folder "
                                f"({real}); keep one")
            if real.is_relative_to(other_real):
                raise UserError(f"{root}: class folder {folder.name!r} leads to {real}, inside class folder "
                                f"{other.name!r}; an image needs one class")


def _class_files(folder: Path) -> list[Path]:
    """Image files under ``folder``, following links to folders, entering each real folder once."""
    found: list[Path] = []
    entered: set[tuple[int, int]] = set()
    for current, dirnames, filenames in os.walk(folder, followlinks=True):
        identity = _identity(Path(current))
        if identity is None or identity in entered:
            dirnames.clear()
            continue
        entered.add(identity)
        dirnames[:] = sorted(d for d in dirnames if _visible(d))
        found.extend(Path(current) / name for name in filenames if _is_image_name(Path(name)))
    return sorted(found)


def _flat_files(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if _is_image_name(p) and (p.is_file() or not p.exists()))


def scan_folder(root: Path) -> FolderLayout:
    """The image files of a folder data set and their labels, by the layout and link rules above."""
    if not root.exists():
        raise UserError(f"no such folder: {root}")
    if not root.is_dir():
        raise UserError(f"not a folder: {root}")
    class_folders = sorted(p for p in root.iterdir() if _visible(p.name) and p.is_dir())
    _check_class_folders(root, class_folders)
    if class_folders:
        groups = [(label, _class_files(folder)) for label, folder in enumerate(class_folders)]
        beside = len(_flat_files(root))
    else:
        groups, beside = [(0, _flat_files(root))], 0
    seen: dict[tuple[int, int], ImageFile] = {}
    files: list[ImageFile] = []
    repeated = 0
    for label, paths in groups:
        for path in paths:
            identity = _identity(path)
            if identity is None:
                files.append(ImageFile(path, label))
                continue
            first = seen.get(identity)
            if first is None:
                seen[identity] = ImageFile(path, label)
                files.append(seen[identity])
            elif first.label == label:
                repeated += 1
            else:
                raise UserError(f"{root}: {path.relative_to(root)} is the same file as {first.path.relative_to(root)} "
                                f"in another class (through a link); an image needs one class")
    names = tuple(p.name for p in class_folders) or (root.name,)
    return FolderLayout(root, names, tuple(files), repeated, beside)


def _over_black(pixels: np.ndarray) -> np.ndarray:
    """``H,W,C+1`` uint8 with alpha last -> ``H,W,C`` composited over black, rounded."""
    colour, alpha = pixels[..., :-1].astype(np.uint32), pixels[..., -1:].astype(np.uint32)
    return ((colour * alpha + 127) // 255).astype(np.uint8)


def _sixteen_bit(pixels: np.ndarray, mode: str) -> np.ndarray:
    """0..65535 grey -> 8 bits, ``round(v * 255 / 65535)``: ``(v + 128) // 257`` exactly, since
    65535 = 255 * 257 and no value falls on a tie."""
    values = pixels.astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > SIXTEEN_BIT_MAX:
        raise UnreadableImage(f"mode {mode} with values {low}..{high}; only 0..{SIXTEEN_BIT_MAX} is read")
    return ((values + 128) // 257).astype(np.uint8)


def _pixels(image: Image.Image) -> np.ndarray:
    """An opened, upright Pillow image -> ``H,W`` (grey) or ``H,W,3`` uint8 by the decoding rules."""
    mode, keyed = image.mode, "transparency" in image.info
    if mode in INTEGER_MODES:
        return _sixteen_bit(np.asarray(image), mode)
    if mode == "LA" or (mode == "L" and keyed):
        return _over_black(np.asarray(image.convert("LA")))[..., 0]
    if mode in ("1", "L"):
        return np.asarray(image.convert("L"))
    if mode in ("RGBA", "PA") or (mode in ("P", "RGB") and keyed):
        return _over_black(np.asarray(image.convert("RGBA")))
    if mode in COLOUR_MODES:
        return np.asarray(image.convert("RGB"))
    raise UnreadableImage(f"mode {mode} is not read (32-bit float and unusual modes have no agreed range): "
                          "convert it to 8 or 16 bits")


def decode_image(path: Path) -> DecodedImage:
    """A file's pixels by the decoding rules; :class:`UnreadableImage` says why a file is not read."""
    try:
        with Image.open(path) as opened:
            opened.load()
            mode = opened.mode
            pixels = _pixels(ImageOps.exif_transpose(opened))
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"{exc.__class__.__name__}: {' '.join(str(exc).split())}"[:200]) from exc
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return DecodedImage(np.array(pixels, dtype=np.uint8, order="C"), mode)


def channels_of(mode: str) -> int:
    """1 for the grey modes, 3 for the colour ones (unread modes never get this far)."""
    return 1 if mode in GREY_MODES else 3


@dataclass(frozen=True)
class Prepared(Generic[T]):
    """One file after decoding and ``prepare``: the image, its mode and ``H, W`` as stored, or
    why it could not be read (``error``)."""

    image: T | None
    mode: str
    size: tuple[int, int]
    error: str | None = None


def prepare_file(path: Path, prepare: Callable[[np.ndarray], T]) -> Prepared[T]:
    """Decode ``path`` and prepare its pixels; an unreadable file comes back with its reason."""
    try:
        decoded = decode_image(path)
    except UnreadableImage as exc:
        return Prepared(None, "", (0, 0), str(exc))
    return Prepared(prepare(decoded.pixels), decoded.mode, decoded.size)


def _prepare_chunk(paths: list[Path], prepare: Callable[[np.ndarray], T]) -> list[Prepared[T]]:
    return [prepare_file(path, prepare) for path in paths]


def _one_thread() -> None:
    """Worker set-up: one thread per process (the workers are the parallelism)."""
    import torch

    torch.set_num_threads(1)


def prepared_files(paths: Sequence[Path], prepare: Callable[[np.ndarray], T], workers: int = 1
                   ) -> Iterator[Prepared[T]]:
    """:func:`prepare_file` of every path, in order; by ``workers`` processes when above 1
    (``prepare`` must then be picklable)."""
    if workers <= 1:
        yield from (prepare_file(path, prepare) for path in paths)
        return
    chunks = [list(paths[start : start + DECODE_CHUNK]) for start in range(0, len(paths), DECODE_CHUNK)]
    pool = ProcessPoolExecutor(workers, initializer=_one_thread)
    pending: list[Future[list[Prepared[T]]]] = []
    try:
        for chunk in chunks:
            pending.append(pool.submit(_prepare_chunk, chunk, prepare))
            if len(pending) >= 2 * workers:
                yield from pending.pop(0).result()
        for future in pending:
            yield from future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def read_folder(root: Path, prepare: Callable[[np.ndarray], T], skip_bad: bool = False,
                warn: Callable[[str], None] | None = None, workers: int = 1,
                keep: Callable[[int, T], None] | None = None,
                advance: Callable[[int], None] | None = None) -> FolderImages[T]:
    """Scan ``root``, decode every file (by ``workers`` processes) and pass its ``C,H,W`` pixels
    through ``prepare`` (one at a time, so that a folder of large images never sits in memory at
    full size). ``keep(file_number, image)``, when given, receives each prepared image instead of
    the returned list; ``advance(1)`` is called after every file."""
    layout = scan_folder(root)
    if not layout.files:
        raise UserError(f"{root}: no image files found")
    images: list[T] = []
    read, labels, sizes, modes, skipped = [], [], [], [], []
    first_of: dict[int, Path] = {}
    decoded = prepared_files([file.path for file in layout.files], prepare, workers)
    with contextlib.closing(decoded):
        for number, (file, prepared) in enumerate(zip(layout.files, decoded)):
            if advance is not None:
                advance(1)
            if prepared.error is not None:
                if not skip_bad:
                    raise UserError(f"corrupt or unreadable image {file.path} ({prepared.error}); "
                                    "pass --skip-bad to skip such files")
                skipped.append(f"{file.path.relative_to(root)} ({prepared.error})")
                continue
            channels = channels_of(prepared.mode)
            first_of.setdefault(channels, file.path)
            if len(first_of) > 1:
                raise UserError(f"{root}: images of mixed channel counts ({first_of[1]} is grey, {first_of[3]} is "
                                "colour); convert them to one")
            image = cast(T, prepared.image)
            if keep is None:
                images.append(image)
            else:
                keep(number, image)
            read.append(number)
            labels.append(file.label)
            sizes.append(prepared.size)
            modes.append(prepared.mode)
    if warn and skipped:
        warn(f"skipped {len(skipped)} unreadable image file(s) in {root}, first {skipped[0]}")
    if warn and layout.beside_classes:
        warn(f"ignored {layout.beside_classes} image file(s) directly in {root} beside its class folders")
    if not read:
        raise UserError(f"{root}: no readable images")
    return FolderImages(layout, images, np.asarray(read, dtype=np.int64), np.asarray(labels, dtype=np.int64),
                        np.asarray(sizes, dtype=np.int64).reshape(-1, 2), modes, skipped, next(iter(first_of)))
