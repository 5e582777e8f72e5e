"""Image inputs of ``ganbench metrics`` and ``ganbench stats``, each read at its own size.

Spec strings:

* ``folder:PATH`` - every image file under PATH, sub-folders included, in sorted path order, at
  its own size: grey files (PIL modes 1, L, LA) as one channel, every other 8-bit file converted
  to RGB as PIL's ``convert("RGB")`` does (alpha dropped); 16-bit and float images are refused
  rather than clipped. Images of different sizes are batched by size, never resized here. Before
  any feature is extracted every file is decoded once (:meth:`FolderImages.shapes`), so that a
  corrupt file is named before the work starts.
* ``npz:PATH`` - the image array of an ``.npz``: ``x`` (what ``ganbench sample`` writes),
  ``images`` or ``arr_0`` (numpy's default name), uint8 ``N,H,W``, ``N,H,W,C`` or ``N,C,H,W``.
* ``dataset:SPEC[@SPLIT]`` or a bare data-set spec (``digits``, ``mnist:DIR``, ``cifar10``,
  ``fashion-mnist:FILE.npz``): one split of any ``--dataset`` spec at the data set's native size,
  ``test`` by default, ``train`` or ``all``; ``dataset:npz:PATH`` and ``dataset:folder:PATH`` are
  the data-set readers of those paths (train/test arrays, class sub-folders). A data set is also
  what the ``classifier`` extractor trains on.

``run:`` and ``stats:`` inputs are resolved by :mod:`ganbench.folder_metrics`.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ganbench.data import DATASETS, Dataset, load_dataset, to_nchw_uint8
from ganbench.folders import IMAGE_SUFFIXES
from ganbench.errors import UserError
from ganbench.runtime import torch_generator

GREY_MODES = {"1", "L", "LA", "La"}
NPZ_IMAGE_KEYS = ("x", "images", "arr_0")
SPLITS = ("test", "train", "all")
CHECK_REPORT_EVERY = 100
#: ``(images read, images in the set)`` while a folder's images are checked
Progress = Callable[[int, int], None]
INPUT_FORMS = ("folder:PATH, npz:PATH, a data set (digits, mnist:PATH, dataset:SPEC@test|train|all), "
               "run:RUNDIR:GENERATOR[@SEED] or stats:PATH.npz")


class ImageSet:
    """Images read lazily in batches of one size each; ``dataset`` is set for data-set inputs."""

    spec: str
    dataset: Dataset | None = None

    def __len__(self) -> int:
        raise NotImplementedError

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """uint8 ``N,C,H,W`` batches of at most ``batch_size`` images, in the set's order."""
        raise NotImplementedError

    def take(self, index: torch.Tensor) -> ImageSet:
        raise NotImplementedError

    def shapes(self, report: Progress | None = None) -> set[tuple[int, ...]]:
        """The ``C,H,W`` of the set's images; every image is read (and a corrupt one named) to find them."""
        raise NotImplementedError

    def subset(self, n: int, seed: int) -> ImageSet:
        """``n`` images drawn without replacement with ``seed``, kept in the set's order."""
        if n > len(self):
            raise UserError(f"{self.spec} holds {len(self)} images, fewer than the {n} asked for (--n)")
        if n == len(self):
            return self
        return self.take(torch.randperm(len(self), generator=torch_generator(seed))[:n].sort().values)


@dataclass
class TensorImages(ImageSet):
    """Images already in memory: uint8 ``N,C,H,W``."""

    spec: str
    images: torch.Tensor
    dataset: Dataset | None = None
    info: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        yield from self.images.split(batch_size)

    def take(self, index: torch.Tensor) -> TensorImages:
        return replace(self, images=self.images[index])

    def shapes(self, report: Progress | None = None) -> set[tuple[int, ...]]:
        return {tuple(self.images.shape[1:])}


@dataclass
class FolderImages(ImageSet):
    """Image files decoded when their batch is needed (and once before, by :meth:`shapes`)."""

    spec: str
    files: list[Path]
    _shapes: set[tuple[int, ...]] | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.files)

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(self.files), batch_size):
            groups: dict[tuple[int, ...], list[torch.Tensor]] = {}
            for file in self.files[start : start + batch_size]:
                image = read_image(file)
                groups.setdefault(tuple(image.shape), []).append(image)
            for images in groups.values():
                yield torch.stack(images)

    def take(self, index: torch.Tensor) -> FolderImages:
        return replace(self, files=[self.files[i] for i in index.tolist()])

    def shapes(self, report: Progress | None = None) -> set[tuple[int, ...]]:
        """Every file decoded once (in threads), so that a corrupt one is named before any feature is extracted."""
        if self._shapes is None:
            found: set[tuple[int, ...]] = set()
            pool = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
            try:
                for done, shape in enumerate(pool.map(_shape_of, self.files), start=1):
                    found.add(shape)
                    if report is not None and (done % CHECK_REPORT_EVERY == 0 or done == len(self.files)):
                        report(done, len(self.files))
            finally:
                pool.shutdown(cancel_futures=True)
            self._shapes = found
        return self._shapes


def read_image(file: Path) -> torch.Tensor:
    """One image file as uint8 ``C,H,W`` at its own size (grey: one channel, anything else RGB)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            mode = img.mode
            if not mode.startswith(("I", "F")):
                array = np.array(img.convert("L" if mode in GREY_MODES else "RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"corrupt or unreadable image {file} ({exc.__class__.__name__})") from None
    if mode.startswith(("I", "F")):
        raise UserError(f"{file} is a {mode} (16-bit or float) image; metrics read 8-bit images")
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def _shape_of(file: Path) -> tuple[int, ...]:
    return tuple(read_image(file).shape)


def open_folder(spec: str, path: Path) -> FolderImages:
    if not path.exists():
        raise UserError(f"no such folder: {path}")
    if not path.is_dir():
        raise UserError(f"not a folder: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{path}: no image files found ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return FolderImages(spec, files)


def open_npz(spec: str, path: Path) -> TensorImages:
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            key = next((k for k in NPZ_IMAGE_KEYS if k in keys), None)
            array = archive[key] if key is not None else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc.__class__.__name__})") from None
    if array is None:
        hint = f"; it is a data set, use dataset:npz:{path}" if "x_train" in keys else ""
        raise UserError(f"{path}: no image array {', '.join(NPZ_IMAGE_KEYS)} (found {', '.join(sorted(keys))}){hint}")
    images = torch.from_numpy(to_nchw_uint8(array, str(path)))
    if len(images) == 0:
        raise UserError(f"{path}: the image array {key} is empty")
    return TensorImages(spec, images, info={"array": key})


def open_dataset(spec: str, dataset_spec: str) -> TensorImages:
    """A split of a data set (``SPEC@split``, ``test`` by default) at its native size."""
    base, at, split = dataset_spec.rpartition("@")
    location = dataset_spec.partition(":")[2]
    if at and split not in SPLITS and split.isidentifier() and not (location and Path(location).exists()):
        raise UserError(f"{dataset_spec}: unknown split {split!r} (one of {', '.join(SPLITS)})")
    if not at or split not in SPLITS:
        base, split = dataset_spec, "test"
    data = load_dataset(base)
    if data.kind != "image":
        raise UserError(f"{base} is a set of {data.kind}, not images")
    images = {"test": data.x_test, "train": data.x_train, "all": torch.cat([data.x_train, data.x_test])}[split]
    if len(images) == 0:
        raise UserError(f"{base}: its {split} split is empty")
    return TensorImages(spec, images, dataset=data, info={"dataset": data.name, "split": split})


def is_dataset_spec(spec: str) -> bool:
    """Whether ``spec`` names a data set directly (``digits``, ``mnist:DIR``; not ``npz:``/``folder:``)."""
    name = spec.partition(":")[0].partition("@")[0]
    return name in DATASETS and name not in ("npz", "folder")


def open_images(spec: str) -> ImageSet:
    """The image set of a ``folder:``, ``npz:`` or data-set spec; see the module docstring."""
    kind, _, location = spec.partition(":")
    if kind == "folder" and location:
        return open_folder(spec, Path(location).expanduser())
    if kind == "npz" and location:
        return open_npz(spec, Path(location).expanduser())
    if kind == "dataset" and location:
        return open_dataset(spec, location)
    if is_dataset_spec(spec):
        return open_dataset(spec, spec)
    raise UserError(f"unknown input {spec!r}: use {INPUT_FORMS}")
