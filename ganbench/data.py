"""Data sets: every loader returns uint8 ``N,C,H,W`` images and int64 labels, split once.

Spec strings (``--dataset``):

* ``digits`` - scikit-learn's embedded 8x8 handwritten digits (1,797 images, 10 classes); the
  0..16 intensities are scaled to 0..255.
* ``toy2d`` / ``toy2d-ring`` - 8 Gaussians on a ring of radius 2, std 0.02;
  ``toy2d-grid`` - 25 Gaussians on a grid over [-4, 4]^2 with spacing 2, std 0.05
  (the mode-collapse benchmark of VEEGAN and PacGAN). Points, not images.
* ``mnist``, ``fashion-mnist`` (idx files), ``cifar10`` (python batches): read from
  ``mnist:DIR`` / a ``.npz`` path, from ``$GANBENCH_DATA/<name>``, or downloaded from the
  authors' sites where a network exists.
* ``npz:PATH`` - arrays ``x_train, y_train, x_test, y_test`` (uint8 images ``N,H,W``,
  ``N,H,W,C`` or ``N,C,H,W``); an empty test split is made by a stratified 80/20 split.
* ``folder:PATH`` - one sub-folder per class (or images directly inside), decoded by the rules of
  :mod:`ganbench.folders`, in parallel worker processes for large folders. A folder whose decoded
  uint8 size exceeds the run's memory budget (:class:`StreamOptions`) is decoded once into a
  memory-mapped cache file (:mod:`ganbench.data_cache`) and streamed from it; its arrays are then
  views of that file and :attr:`Dataset.cache` says where it lives.

Downloads are checked against the checksums their publishers list (:data:`CHECKSUMS`): the MD5s of
the MNIST idx files (LeCun, Cortes and Burges, yann.lecun.com/exdb/mnist, the files torchvision's
``MNIST.resources`` list), of the Fashion-MNIST files (Xiao et al. 2017, the README of
github.com/zalandoresearch/fashion-mnist) and of CIFAR-10's python archive (Krizhevsky 2009,
cs.toronto.edu/~kriz/cifar.html); a file that does not match is deleted and the run stops.

Size: every set keeps its native side (the shorter side of its images, after a centre crop to a
square) unless a run declares another or its preset caps it (:class:`ganbench.geometry.SizeRequest`);
a declared side is reached with bilinear interpolation (antialiased when shrinking), rounded back
to uint8. ``Dataset.notes`` says the native side and whether the images were enlarged. The
train/test split is stratified and fixed (``random_state=0``), independent of the run seed, so
every run sees the same test set.

Each loader registers itself with :func:`dataset` where it is defined; the module holds every
file format's reader (npz, idx, CIFAR batches, image folders) beside the loader that uses it,
which is why it is longer than most.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import struct
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganbench.errors import UserError
from ganbench.folders import channels_of, read_folder, scan_folder
from ganbench.geometry import SizeRequest, size_request
from ganbench.registry import Registry

SPLIT_SEED = 0
MIN_FOLDER_SIDE = 8
TEST_FRACTION = 0.2
HASH_CHUNK = 1 << 24


@dataclass(frozen=True)
class CacheFile:
    """A streamed data set's images on disk: raw uint8 ``N,C,S,S``, the train split then the test
    split, with the content fingerprint of the four arrays (the one :attr:`Dataset.fingerprint`
    gives) and the digest that names the cache."""

    path: Path
    shape: tuple[int, int, int, int]
    n_train: int
    fingerprint: str
    digest: str


@dataclass(frozen=True)
class StreamOptions:
    """How a run holds a folder data set: ``budget`` bytes of decoded uint8 images at most in
    memory (0: stream every folder set), ``workers`` decoding (and feeding training) processes
    (0: none, all in this process), the cache folder and whether progress is shown."""

    budget: int
    workers: int
    cache_dir: Path
    quiet: bool = True


@dataclass
class Dataset:
    """A data set split into train and test; ``kind`` is ``image`` (uint8) or ``points`` (float32)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    kind: str = "image"
    modes: torch.Tensor | None = None
    mode_std: float | None = None
    notes: dict[str, object] = field(default_factory=dict)
    #: set by the streamed loader only; ``dataclasses.replace`` (new arrays) drops it
    cache: CacheFile | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1]) if self.kind == "image" else 0

    @property
    def resolution(self) -> int:
        return int(self.x_train.shape[-1]) if self.kind == "image" else 0

    @property
    def data_path(self) -> str:
        """``memory`` (the arrays live in memory) or ``streamed`` (views of a cache file)."""
        return "memory" if self.cache is None else "streamed"

    @property
    def fingerprint(self) -> str:
        """Short content hash of all four arrays: caches and records key on it (a streamed set's
        was computed, the same way, when its cache was built)."""
        if self.cache is not None:
            return self.cache.fingerprint
        return content_fingerprint(self.x_train, self.y_train, self.x_test, self.y_test)


def content_fingerprint(*arrays: torch.Tensor) -> str:
    """SHA-256 (first 16 hex digits) of each array's shape and bytes, read in chunks of rows."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str(tuple(array.shape)).encode())
        row = max(1, math.prod(array.shape[1:]) * array.element_size())
        for chunk in array.split(max(1, HASH_CHUNK // row)):
            digest.update(chunk.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class DataRequest:
    """What a ``--dataset`` spec asks of a loader: the part after ``name:``, and how to load."""

    location: str
    resolution: int | SizeRequest | None
    skip_bad: bool = False
    warn: Callable[[str], None] | None = None
    stream: StreamOptions | None = None


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    kind: str
    offline: bool
    load: Callable[[DataRequest], Dataset]


DATASETS: Registry[DatasetInfo] = Registry("data set")


def dataset(name: str, description: str, kind: str = "image", offline: bool = True
            ) -> Callable[[Callable[[DataRequest], Dataset]], Callable[[DataRequest], Dataset]]:
    """Register the decorated loader as data set ``name`` (``ganbench list datasets`` shows the rest)."""

    def decorator(load: Callable[[DataRequest], Dataset]) -> Callable[[DataRequest], Dataset]:
        DATASETS.register(DatasetInfo(name, description, kind, offline, load))
        return load

    return decorator


# ----------------------------------------------------------------------------- array helpers


def to_nchw_uint8(x: np.ndarray, source: str) -> np.ndarray:
    """Accept ``N,H,W``, ``N,H,W,C`` or ``N,C,H,W`` uint8 arrays and return ``N,C,H,W``."""
    if x.dtype != np.uint8:
        raise UserError(f"{source}: images must be uint8, got {x.dtype}")
    if x.ndim == 3:
        if x.shape[-1] in (1, 3, 4) and x.shape[-2] > 4:
            raise UserError(f"{source}: shape {tuple(x.shape)} reads as one H,W,C image without the batch axis, "
                            f"not {x.shape[0]} grey images {x.shape[1]}x{x.shape[2]}; save it as N,H,W,C (x[None])")
        return x[:, None]
    if x.ndim == 4:
        if x.shape[1] in (1, 3):
            return x
        if x.shape[-1] in (1, 3):
            return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    raise UserError(f"{source}: expected images shaped N,H,W or N,H,W,C (C 1 or 3), got {tuple(x.shape)}")


def resize_images(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Center-crop to square and resize uint8 ``N,C,H,W`` images (bilinear, antialiased when shrinking)."""
    h, w = x.shape[-2:]
    if h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[..., top : top + side, left : left + side]
    if x.shape[-1] == resolution:
        return x.contiguous()
    out = []
    for chunk in x.split(4096):
        y = F.interpolate(chunk.float(), size=(resolution, resolution), mode="bilinear",
                          align_corners=False, antialias=chunk.shape[-1] > resolution)
        out.append(y.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


def stratified_split(n: int, labels: np.ndarray, test_fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified, deterministic train/test split."""
    from sklearn.model_selection import train_test_split

    index = np.arange(n)
    counts = np.bincount(labels) if labels.size else np.array([])
    stratify = labels if counts.size and counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(index, test_size=test_fraction, random_state=SPLIT_SEED, stratify=stratify)
    return np.sort(train), np.sort(test)


def _from_arrays(name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                 y_test: np.ndarray, resolution: int | SizeRequest | None, source: str) -> Dataset:
    x_train = to_nchw_uint8(np.asarray(x_train), source)
    y_train = np.asarray(y_train).astype(np.int64).reshape(-1)
    if len(y_train) != len(x_train):
        raise UserError(f"{source}: {len(x_train)} training images but {len(y_train)} labels")
    if x_test is None or len(x_test) == 0:
        train, test = stratified_split(len(x_train), y_train)
        x_test, y_test = x_train[test], y_train[test]
        x_train, y_train = x_train[train], y_train[train]
    else:
        x_test = to_nchw_uint8(np.asarray(x_test), source)
        y_test = np.asarray(y_test).astype(np.int64).reshape(-1)
        if len(y_test) != len(x_test):
            raise UserError(f"{source}: {len(x_test)} test images but {len(y_test)} labels")
        if x_test.shape[1:] != x_train.shape[1:]:
            raise UserError(f"{source}: train images {x_train.shape[1:]} and test images {x_test.shape[1:]} differ")
    if len(x_train) == 0:
        raise UserError(f"{source}: no training images")
    if y_train.min() < 0:
        raise UserError(f"{source}: labels must be non-negative integers")
    num_classes = int(max(y_train.max(), y_test.max() if len(y_test) else 0)) + 1
    native = int(min(x_train.shape[-2:]))
    side = size_request(resolution).choose(native)
    return Dataset(
        name=name,
        x_train=resize_images(torch.from_numpy(x_train), side),
        y_train=torch.from_numpy(y_train),
        x_test=resize_images(torch.from_numpy(x_test), side),
        y_test=torch.from_numpy(y_test),
        num_classes=num_classes,
        notes={"native_size": native, "enlarged": side > native},
    )


# ----------------------------------------------------------------------------- embedded sets


def load_digits(resolution: int | SizeRequest | None = None) -> Dataset:
    """scikit-learn's 8x8 digits; intensities 0..16 scaled to 0..255."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    train, test = stratified_split(len(images), labels)
    return _from_arrays("digits", images[train], labels[train], images[test], labels[test], resolution, "digits")


@dataset("digits", "scikit-learn 8x8 handwritten digits, 1,797 images, 10 classes")
def _digits(request: DataRequest) -> Dataset:
    return load_digits(request.resolution)


def toy2d_modes(layout: str) -> tuple[torch.Tensor, float]:
    """Mode centres and std of the ring-8 (radius 2, std 0.02) or grid-25 (spacing 2, std 0.05) mixture."""
    if layout == "ring":
        angles = torch.arange(8, dtype=torch.float64) * (2 * np.pi / 8)
        return torch.stack([2 * angles.cos(), 2 * angles.sin()], dim=1).float(), 0.02
    if layout == "grid":
        axis = torch.arange(-4, 5, 2, dtype=torch.float32)
        gx, gy = torch.meshgrid(axis, axis, indexing="ij")
        return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1), 0.05
    raise UserError(f"unknown toy2d layout {layout!r} (ring or grid)")


def load_toy2d(layout: str = "ring", n_train: int = 20000, n_test: int = 5000) -> Dataset:
    """Points from an equal-weight Gaussian mixture; labels are mode indices."""
    modes, std = toy2d_modes(layout)
    gen = torch.Generator().manual_seed(SPLIT_SEED)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(len(modes), (n,), generator=gen)
        return modes[labels] + std * torch.randn(n, 2, generator=gen), labels

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return Dataset(f"toy2d-{layout}", x_train, y_train, x_test, y_test, num_classes=len(modes),
                   kind="points", modes=modes, mode_std=std)


@dataset("toy2d", "alias of toy2d-ring", "points")
def _toy2d(request: DataRequest) -> Dataset:
    return load_toy2d("ring")


@dataset("toy2d-ring", "8 Gaussians on a ring, radius 2, std 0.02", "points")
def _toy2d_ring(request: DataRequest) -> Dataset:
    return load_toy2d("ring")


@dataset("toy2d-grid", "25 Gaussians on a 5x5 grid over [-4,4]^2, std 0.05", "points")
def _toy2d_grid(request: DataRequest) -> Dataset:
    return load_toy2d("grid")


# ----------------------------------------------------------------------------- files


def load_npz(path: Path, resolution: int | SizeRequest | None, name: str | None = None) -> Dataset:
    """Arrays ``x_train, y_train`` (and ``x_test, y_test``); labels are whole numbers 0..K-1 of any
    numeric dtype (``2.0`` is read as 2, ``2.5`` refused); an absent or empty test split is cut
    from the training images."""
    if not path.exists():
        raise UserError(f"no such file: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
        keys = set(archive.files)
    except Exception as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc.__class__.__name__})") from exc
    missing = {"x_train", "y_train"} - keys
    if missing:
        raise UserError(f"{path}: missing arrays {sorted(missing)} (expected x_train, y_train, x_test, y_test)")
    try:
        arrays = {k: archive[k] for k in ("x_train", "y_train", "x_test", "y_test") if k in keys}
    except Exception as exc:
        raise UserError(f"{path}: corrupt array data ({exc.__class__.__name__}: {exc})") from exc
    source = str(path)
    x_train, x_test = arrays["x_train"], arrays.get("x_test")
    y_train = _integer_labels(arrays["y_train"], source, "y_train")
    y_test = _integer_labels(arrays.get("y_test", np.zeros(0, np.int64)), source, "y_test")
    n_train = len(x_train) if x_train.ndim else 0
    n_test = len(x_test) if x_test is not None and x_test.ndim else 0
    if n_train == 0:
        raise UserError(f"{path}: x_train holds no images (shape {x_train.shape})")
    for key, images, n in (("x_train", x_train, n_train), ("x_test", x_test, n_test)):
        if n and images.size == 0:
            raise UserError(f"{path}: {key} holds images of zero size (shape {images.shape})")
    if len(y_train) != n_train:
        raise UserError(f"{path}: {n_train} training images but {len(y_train)} labels")
    if x_test is not None and len(y_test) != n_test:
        raise UserError(f"{path}: {n_test} test images but {len(y_test)} labels")
    top = int(max(y_train.max(), y_test.max(initial=0)))
    if top >= n_train + n_test:
        raise UserError(f"{path}: labels go up to {top} for {n_train + n_test} images; labels must be class "
                        "indices 0..K-1")
    if n_test == 0:
        train, test = split_indices(y_train, source)
        x_train, x_test, y_train, y_test = x_train[train], x_train[test], y_train[train], y_train[test]
    return _from_arrays(name or f"npz:{path.name}", x_train, y_train, x_test, y_test, resolution, source)


@dataset("npz", "npz:PATH, x_train, y_train, x_test, y_test arrays in an .npz file")
def _npz(request: DataRequest) -> Dataset:
    if not request.location:
        raise UserError("npz: needs a path, e.g. --dataset npz:data/mnist.npz")
    return load_npz(Path(request.location).expanduser(), request.resolution)


def _integer_labels(labels: np.ndarray, source: str, key: str) -> np.ndarray:
    """Labels as int64 class indices; non-integral, non-finite, negative or non-numeric ones are refused."""
    y = np.asarray(labels).reshape(-1)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise UserError(f"{source}: {key} holds {int(bad.sum())} label(s) that are not whole numbers "
                            f"(first {y[bad][0]}); labels must be class indices 0..K-1")
    elif y.dtype.kind not in "iub":
        raise UserError(f"{source}: {key} must hold class indices 0..K-1, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise UserError(f"{source}: {key} holds negative labels (down to {y.min()}); labels must be class "
                        "indices 0..K-1")
    return y.astype(np.int64)


def split_indices(labels: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stratified_split` of ``labels``; a set too small to split is refused with its numbers."""
    n, classes = len(labels), len(np.unique(labels))
    try:
        return stratified_split(n, labels)
    except ValueError:
        raise UserError(f"{source}: {n} image(s) in {classes} class(es) are too few to split into train and test "
                        f"({TEST_FRACTION:.0%} test, every class in both splits where it has 2 images or more); "
                        "add images") from None


@dataclass(frozen=True)
class ResizeTo:
    """``C,H,W`` uint8 pixels -> the ``side x side`` image :func:`resize_images` makes of them
    (a class, not a closure, so that worker processes can receive it)."""

    side: int

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return resize_images(torch.from_numpy(pixels)[None], self.side)[0].numpy()


def load_folder(path: Path, resolution: int, skip_bad: bool = False,
                warn: Callable[[str], None] | None = None, workers: int = 1) -> Dataset:
    """Class sub-folders (sorted names -> labels 0..K-1) or a flat folder of one class, each file
    decoded by the rules of :mod:`ganbench.folders` (by ``workers`` processes) and resized as it
    is read.

    ``notes`` gain ``skipped_files``, ``repeated_files`` (reached twice through links, read once)
    and ``source_sizes``: each split's ``H, W`` of the files before resizing.
    """
    folder = read_folder(path, ResizeTo(resolution), skip_bad=skip_bad, warn=warn, workers=workers)
    x, y = np.stack(folder.images), folder.labels
    train, test = split_indices(y, str(path))
    dataset = _from_arrays(f"folder:{path.name}", x[train], y[train], x[test], y[test], resolution, str(path))
    dataset.notes.update(skipped_files=len(folder.skipped), repeated_files=folder.layout.repeated,
                         source_sizes={"train": folder.sizes[train], "test": folder.sizes[test]})
    return dataset


@dataset("folder", "folder:PATH, an image folder with one sub-folder per class")
def _folder(request: DataRequest) -> Dataset:
    if not request.location:
        raise UserError("folder: needs a path, e.g. --dataset folder:images/")
    path = Path(request.location).expanduser()
    headers = folder_headers(path)
    side = size_request(request.resolution).choose(headers.native_side)
    stream = request.stream
    if stream is not None and headers.decoded_bytes(side) > stream.budget:
        from ganbench.data_cache import load_streamed_folder

        data = load_streamed_folder(path, side, stream, skip_bad=request.skip_bad, warn=request.warn)
    else:
        workers = decode_workers(stream.workers if stream else 1, headers.files)
        data = load_folder(path, side, skip_bad=request.skip_bad, warn=request.warn, workers=workers)
    data.notes.update(native_size=headers.native_side, enlarged=side > headers.native_side)
    return data


PARALLEL_DECODE_FILES = 256


def decode_workers(workers: int, files: int) -> int:
    """Processes that decode a folder of ``files`` images: ``workers`` from
    :data:`PARALLEL_DECODE_FILES` files up (fewer never pay for starting them), else 1."""
    return max(1, workers) if files >= PARALLEL_DECODE_FILES else 1


@dataclass(frozen=True)
class FolderHeaders:
    """What a folder's file headers say before any pixel is decoded."""

    files: int
    native_side: int
    channels: int

    def decoded_bytes(self, side: int) -> int:
        """The uint8 size of every image at ``side x side``."""
        return self.files * self.channels * side * side


def folder_headers(path: Path) -> FolderHeaders:
    """A folder's file count, native side (the median of its images' shorter sides) and channel
    count (3 when any file opens in a colour mode), read from the file headers of the files
    :func:`ganbench.folders.scan_folder` finds (links followed by its rules)."""
    from PIL import Image

    sides, colour = [], False
    files = scan_folder(path).files
    for file in files:
        try:
            with Image.open(file.path) as img:
                sides.append(min(img.size))
                colour = colour or channels_of(img.mode) == 3
        except Exception:
            continue
    native = int(np.median(sides)) if sides else MIN_FOLDER_SIDE
    return FolderHeaders(len(files), native, 3 if colour else 1)


# ----------------------------------------------------------------------------- standard sets

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DOWNLOADS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
}
#: published MD5 of every file :data:`DOWNLOADS` fetches, by data set and file name
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "cifar10": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
}


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (optionally gzipped): magic, dims, then big-endian uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype_code != 0x08:
            raise ValueError("not a uint8 idx file")
        shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
        array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
        return array.reshape(shape).copy()
    except (OSError, ValueError, struct.error, EOFError) as exc:
        raise UserError(f"{path}: corrupt idx file ({exc})") from exc


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / candidate).exists():
            return directory / candidate
    return None


def load_idx_dir(directory: Path, name: str, resolution: int | SizeRequest | None) -> Dataset:
    found = {key: _find_idx(directory, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[k] for k, v in found.items() if v is None]
    if missing:
        raise UserError(f"{directory}: missing idx files {missing}")
    arrays = {key: read_idx(p) for key, p in found.items()}
    return _from_arrays(name, arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                        resolution, str(directory))


def load_cifar_dir(directory: Path, resolution: int | SizeRequest | None) -> Dataset:
    """The python-pickle batches of CIFAR-10 (``data_batch_1..5``, ``test_batch``)."""
    base = directory / "cifar-10-batches-py" if (directory / "cifar-10-batches-py").is_dir() else directory

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        path = base / name
        if not path.exists():
            raise UserError(f"{base}: missing CIFAR-10 batch {name}")
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            return (np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32),
                    np.asarray(batch[b"labels"], dtype=np.int64))
        except Exception as exc:
            raise UserError(f"{path}: corrupt CIFAR-10 batch ({exc.__class__.__name__})") from exc

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read("test_batch")
    return _from_arrays("cifar10", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                        x_test, y_test, resolution, str(base))


def data_root() -> Path:
    return Path(os.environ.get("GANBENCH_DATA", Path.home() / ".cache" / "ganbench" / "data"))


def download(url: str, target: Path, md5: str | None = None) -> None:
    """Download to ``target`` atomically; no network is a user error that says what to do instead.
    With ``md5``, a file whose MD5 differs is deleted and refused: nothing half-written or
    tampered with is ever kept under ``target``'s name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as f:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                f.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"could not download {url} ({exc.__class__.__name__}); with no network, put the files in "
                        f"{target.parent} or pass --dataset npz:PATH") from exc
    if md5 is not None and digest.hexdigest() != md5:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{url}: downloaded file has MD5 {digest.hexdigest()}, not the published {md5}; it was "
                        "deleted (a broken transfer or a changed file), try again or put a checked copy in "
                        f"{target.parent}")
    os.replace(tmp, target)


def load_standard(name: str, location: str | None, resolution: int | SizeRequest | None) -> Dataset:
    """mnist / fashion-mnist / cifar10 from an explicit path, the data root, or a download."""
    if location:
        path = Path(location).expanduser()
        if path.suffix == ".npz" or path.is_file():
            return load_npz(path, resolution, name)
        if not path.is_dir():
            raise UserError(f"no such file or folder: {path}")
        return load_cifar_dir(path, resolution) if name == "cifar10" else load_idx_dir(path, name, resolution)
    directory = data_root() / name
    if (directory / f"{name.replace('-', '_')}.npz").exists():
        return load_npz(directory / f"{name.replace('-', '_')}.npz", resolution, name)
    if name == "cifar10":
        if not (directory / "cifar-10-batches-py").is_dir():
            archive = directory / "cifar-10-python.tar.gz"
            download(DOWNLOADS["cifar10"], archive, CHECKSUMS["cifar10"][archive.name])
            with tarfile.open(archive) as tar:
                tar.extractall(directory, filter="data")
        return load_cifar_dir(directory, resolution)
    for stem in IDX_FILES.values():
        if _find_idx(directory, stem) is None:
            download(DOWNLOADS[name] + stem + ".gz", directory / (stem + ".gz"), CHECKSUMS[name][stem + ".gz"])
    return load_idx_dir(directory, name, resolution)


@dataset("mnist", "MNIST, idx files or npz (downloaded where a network exists)", offline=False)
def _mnist(request: DataRequest) -> Dataset:
    return load_standard("mnist", request.location or None, request.resolution)


@dataset("fashion-mnist", "Fashion-MNIST, idx files or npz", offline=False)
def _fashion_mnist(request: DataRequest) -> Dataset:
    return load_standard("fashion-mnist", request.location or None, request.resolution)


@dataset("cifar10", "CIFAR-10, python batches or npz", offline=False)
def _cifar10(request: DataRequest) -> Dataset:
    return load_standard("cifar10", request.location or None, request.resolution)


def load_dataset(spec: str, resolution: int | SizeRequest | None = None, skip_bad: bool = False,
                 warn: Callable[[str], None] | None = None, stream: StreamOptions | None = None) -> Dataset:
    """Resolve a ``--dataset`` spec string (``name`` or ``name:location``) to a :class:`Dataset`;
    ``stream`` lets a folder set larger than its budget stream from a cache file."""
    name, _, location = spec.partition(":")
    return DATASETS.get(name).load(DataRequest(location, resolution, skip_bad, warn, stream))
