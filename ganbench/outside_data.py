"""Real and fake images from outside a run, for ``ganbench detect``: folders, ``.npz`` files and
the CNNDetection test layout, read at their native size with the path of every image.

CNNDetection layout (Wang et al., "CNN-generated images are surprisingly easy to spot... for
now", CVPR 2020): ``<root>/<generator>/0_real`` and ``<root>/<generator>/1_fake``, or one more
level of class folders, ``<root>/<generator>/<class>/0_real`` (e.g. ProGAN's LSUN classes).
Each generator is tested against its own reals. A root that itself holds ``0_real`` and
``1_fake`` is one generator. Images are found recursively inside ``0_real`` / ``1_fake``;
hidden folders are ignored.

Decoding follows the folder data sets' rules (:func:`ganbench.folders.decode_image`: EXIF
orientation, alpha over black, 16-bit grey scaled to 8 bits). Framing: images keep their native size unless a side ``N`` is declared. ``center-crop`` takes
the central ``N x N`` window (an image smaller than ``N`` is an error, never padded);
``resize`` centre-crops to a square and resizes to ``N`` (bilinear, antialiased when
shrinking, :func:`ganbench.data.resize_images`). Grey images are repeated to three channels
when a set mixes grey and colour. Reals and fakes always go through the same functions.

Every input is checked before any work: folders are listed and each image's header read, each
``.npz`` is read whole, so a wrong layout or a corrupt file ends with one line before a detector
is fitted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganbench.data import resize_images
from ganbench.detectors.external import _read_npz, parse_fakes_option
from ganbench.errors import UserError
from ganbench.folders import IMAGE_SUFFIXES, UnreadableImage, decode_image

REAL_FOLDER, FAKE_FOLDER = "0_real", "1_fake"
FRAMINGS = ("center-crop", "resize")


@dataclass(frozen=True)
class ImageSource:
    """The image files of a folder (listed, not yet decoded) or an ``.npz`` file."""

    label: str
    files: tuple[Path, ...] = ()
    npz: Path | None = None

    def __len__(self) -> int:
        return len(self.files)


@dataclass(frozen=True)
class TestSet:
    """One generator's fakes and the reals they are tested against."""

    generator: str
    real: ImageSource
    fake: ImageSource


@dataclass
class Images:
    """Decoded uint8 ``C,H,W`` images (sizes may differ) and where each one came from."""

    images: list[torch.Tensor]
    paths: list[str]

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class Framing:
    """Native size (``size`` None) or a declared side reached by ``center-crop`` or ``resize``."""

    size: int | None = None
    mode: str = "center-crop"

    def __post_init__(self) -> None:
        if self.mode not in FRAMINGS:
            raise UserError(f"--resize {self.mode!r}: expected {' or '.join(FRAMINGS)}")
        if self.size is not None and self.size < 1:
            raise UserError(f"--size must be positive (got {self.size})")

    def apply(self, image: torch.Tensor, where: str) -> torch.Tensor:
        if self.size is None:
            return image
        h, w = image.shape[-2:]
        if self.mode == "resize":
            return resize_images(image[None], self.size)[0]
        if h < self.size or w < self.size:
            raise UserError(f"{where} is {h}x{w}, smaller than --size {self.size}: a centre crop cannot pad it "
                            "(use --resize resize)")
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return image[:, top : top + self.size, left : left + self.size].contiguous()

    def describe(self) -> str:
        if self.size is None:
            return "native size"
        if self.mode == "resize":
            return f"centre square crop, then bilinear resize (antialiased when shrinking) to {self.size}x{self.size}"
        return f"centre crop {self.size}x{self.size}"


def check_header(path: Path) -> None:
    """Refuse a file that does not open as an image (its header only is read, nothing decoded)."""
    try:
        Image.open(path).close()
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError) as exc:
        reason = f"{exc.__class__.__name__}: {' '.join(str(exc).split())}"[:200]
        raise UserError(f"corrupt or unreadable image {path} ({reason})") from None


def list_images(folder: Path) -> tuple[Path, ...]:
    """The image files under ``folder``, recursively, in sorted order, each one's header read; none at
    all, or one that does not open as an image, is a UserError."""
    if not folder.exists():
        raise UserError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder")
    files = tuple(f for f in sorted(folder.rglob("*"))
                  if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in f.relative_to(folder).parts))
    if not files:
        raise UserError(f"{folder}: no image files found")
    for file in files:
        check_header(file)
    return files


def parse_source(option: str, flag: str) -> ImageSource:
    """``folder:PATH`` or ``npz:PATH``, listed (every header read) or read whole now."""
    kind, colon, location = option.partition(":")
    if not colon or kind not in ("folder", "npz") or not location:
        raise UserError(f"{flag} {option!r}: expected folder:PATH or npz:PATH")
    path = Path(location).expanduser()
    if kind == "folder":
        return ImageSource(f"folder:{path}", files=list_images(path))
    if path.is_dir():
        raise UserError(f"{flag} {option}: {path} is a folder, not an .npz file (use folder:{path})")
    if not path.is_file():
        raise UserError(f"{flag}: no such file: {path}")
    if not len(_read_npz(path)):
        raise UserError(f"{flag} {option}: {path} holds no images")
    return ImageSource(f"npz:{path}", npz=path)


def parse_fakes(option: str) -> tuple[str, ImageSource]:
    """``NAME=folder:PATH`` / ``NAME=npz:PATH`` -> the generator name and its source."""
    name, kind, path = parse_fakes_option(option)
    return name, parse_source(f"{kind}:{path}", "--fakes")


def _visible_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _generator_set(name: str, folder: Path) -> TestSet:
    """A generator folder with ``0_real``/``1_fake`` directly inside or inside each class folder."""
    groups = [folder] if (folder / REAL_FOLDER).exists() or (folder / FAKE_FOLDER).exists() \
        else _visible_folders(folder)
    if not groups:
        raise UserError(f"{folder}: no {REAL_FOLDER} and {FAKE_FOLDER} folders (directly or in class folders)")
    real: list[Path] = []
    fake: list[Path] = []
    for group in groups:
        missing = [f for f in (REAL_FOLDER, FAKE_FOLDER) if not (group / f).is_dir()]
        if missing:
            raise UserError(f"{group}: missing {' and '.join(missing)} (CNNDetection layout: "
                            f"<root>/<generator>[/<class>]/{REAL_FOLDER} and {FAKE_FOLDER})")
        real.extend(list_images(group / REAL_FOLDER))
        fake.extend(list_images(group / FAKE_FOLDER))
    return TestSet(name, ImageSource(f"folder:{folder}/**/{REAL_FOLDER}", tuple(real)),
                   ImageSource(f"folder:{folder}/**/{FAKE_FOLDER}", tuple(fake)))


def cnndetection_sets(root: Path) -> list[TestSet]:
    """One test set per generator folder of a CNNDetection-layout ``root``."""
    if root.exists() and not root.is_dir():
        raise UserError(f"--root {root} is a file, not a folder: give the folder that holds "
                        f"<generator>/{REAL_FOLDER} and {FAKE_FOLDER}")
    if not root.is_dir():
        raise UserError(f"--root: no such folder: {root}")
    if (root / REAL_FOLDER).exists() or (root / FAKE_FOLDER).exists():
        return [_generator_set(root.name, root)]
    generators = _visible_folders(root)
    if not generators:
        raise UserError(f"{root}: no generator folders (expected <root>/<generator>/{REAL_FOLDER} and {FAKE_FOLDER})")
    return [_generator_set(g.name, g) for g in generators]


def read_image(path: Path) -> torch.Tensor:
    """One image file as uint8 ``C,H,W`` by the folder data sets' decoding rules (:mod:`ganbench.folders`)."""
    try:
        return torch.from_numpy(decode_image(path).pixels.copy())
    except UnreadableImage as exc:
        raise UserError(f"corrupt or unreadable image {path} ({exc})") from None


def decode(source: ImageSource, framing: Framing) -> Images:
    """Every image of ``source``, framed; an ``.npz`` image's path is ``FILE#index``."""
    if source.npz is not None:
        array = _read_npz(source.npz)
        where = [f"{source.npz}#{i}" for i in range(len(array))]
        images = [framing.apply(torch.from_numpy(np.ascontiguousarray(a)), w) for a, w in zip(array, where)]
        if not images:
            raise UserError(f"{source.npz}: no images")
        return Images(images, where)
    return Images([framing.apply(read_image(f), str(f)) for f in source.files], [str(f) for f in source.files])


def common_channels(*sets: Images) -> list[Images]:
    """The sets with one channel count: grey images repeated to RGB when any image is RGB."""
    if all(image.shape[0] == 1 for s in sets for image in s.images):
        return list(sets)
    return [Images([i.expand(3, -1, -1).contiguous() if i.shape[0] == 1 else i for i in s.images], s.paths)
            for s in sets]


def stacked(images: Images, what: str) -> torch.Tensor:
    """All images as one ``N,C,H,W`` tensor; images of several sizes are a UserError."""
    shapes = sorted({tuple(i.shape) for i in images.images})
    if len(shapes) > 1:
        sizes = ", ".join(f"{h}x{w}" for _, h, w in shapes[:3])
        raise UserError(f"{what} come in {len(shapes)} sizes ({sizes}...); pass --size N to give them one")
    return torch.stack(images.images)
