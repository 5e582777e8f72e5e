"""The memory budget of a run, and the memory-mapped cache a folder data set beyond it streams from.

Budget (``--memory-budget``): the most bytes of decoded uint8 images a folder data set may take
in memory. ``auto`` (the default) is a quarter of the machine's RAM; ``0`` streams every folder
set; otherwise a size: ``512MB``, ``4GB``, ``10KB`` or a plain count of bytes (K, M, G and T
are powers of 1024; ``KiB`` ... are read the same). A folder whose ``N x C x S x S`` bytes at the
run's side ``S`` exceed it is streamed.

Cache: ``<cache>/data/<digest>/`` where the digest hashes the folder's content fingerprint
(every file's path relative to the folder, label, size and modification time, in scan order),
the side, ``skip_bad``, :data:`CACHE_FORMAT` and the digest of the code that decodes, resizes and
splits the images (:data:`DECODING_MODULES`), so an edited decoder rebuilds the cache rather than
stream what the old one made. It holds

* ``images.u8``: raw uint8 ``N,C,S,S``, the train split then the test split (memory-mapped);
* ``y_train.npy``, ``y_test.npy``, ``sizes_train.npy``, ``sizes_test.npy``: labels and each file's
  ``H, W`` before resizing (``np.load(..., allow_pickle=False)``);
* ``meta.json``: shapes, the split sizes, the data set fingerprint (the hash
  :attr:`ganbench.data.Dataset.fingerprint` gives the same arrays in memory, so unit keys do not
  depend on the path), the loader's warnings, and :data:`PROBE_BLOCKS` spot digests of
  ``images.u8``.

It is built once, decoded by worker processes (:func:`ganbench.folders.read_folder`) straight
into a memory map in split order, in a temporary folder renamed into place when complete, so a
crash never leaves a cache that is reused. Builds hold a lock (``<digest>.lock``, a
:class:`ganbench.locks.UnitLock`), so runs that need the same cache at once decode it once. A cache whose meta does not parse, whose file sizes or
array shapes disagree with its meta, or whose spot digests differ is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ganbench.data import CacheFile, Dataset, ResizeTo, StreamOptions, content_fingerprint, split_indices
from ganbench.errors import UserError
from ganbench.folders import FolderLayout, read_folder, scan_folder
from ganbench.locks import UnitLock
from ganbench.source_digest import modules_digest

CACHE_FORMAT = 1
#: What makes a cache's arrays from a folder's files: the decoding rules, the resize and split, the build.
DECODING_MODULES = ("ganbench.folders", "ganbench.data", __name__)
PROBE_BLOCKS = 16
PROBE_BYTES = 4096
AUTO_BUDGET_SHARE = 4
COPY_ROWS = 1024
UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def machine_memory() -> int:
    """The machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def parse_memory_budget(text: str) -> int:
    """``auto`` (a quarter of the machine's RAM), ``0`` or a size such as ``512MB`` -> bytes."""
    value = text.strip()
    if value.lower() == "auto":
        return machine_memory() // AUTO_BUDGET_SHARE
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", value.upper())
    if match is None:
        raise UserError(f"--memory-budget {text!r}: expected auto, 0 or a size such as 512MB or 4GB")
    return int(float(match.group(1)) * UNITS[match.group(2)])


def describe_bytes(size: int) -> str:
    """``size`` bytes in the largest unit that keeps it at 1 or more (``1.5 GB``)."""
    for unit in ("T", "G", "M", "K"):
        if size >= UNITS[unit]:
            return f"{size / UNITS[unit]:.3g} {unit}B"
    return f"{size} B"


def default_workers() -> int:
    """Decoding and loading processes when ``--data-workers`` is not given: the CPUs, at most 8."""
    return min(8, os.cpu_count() or 1)


def cache_digest(layout: FolderLayout, side: int, skip_bad: bool) -> str:
    """The name of a folder's cache: its files (path, label, size, modification and change times,
    inode), the side, ``skip_bad`` and the decoding code's digest. The change time moves whenever a
    file's bytes are written, even where its modification time is set back (``cp -p``, ``rsync -t``,
    ``tar``)."""
    digest = hashlib.sha256(json.dumps({"format": CACHE_FORMAT, "side": side, "skip_bad": skip_bad,
                                        "code": modules_digest(DECODING_MODULES)}).encode())
    for file in layout.files:
        try:
            stat = file.path.stat()
            state = f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"
        except OSError:
            state = "missing"
        digest.update(f"{file.path.relative_to(layout.root)}\0{file.label}\0{state}\n".encode())
    return digest.hexdigest()[:20]


def _probe(path: Path, size: int) -> list[str]:
    """Digests of :data:`PROBE_BLOCKS` blocks spread evenly over a file of ``size`` bytes."""
    starts = sorted({int(i * max(size - PROBE_BYTES, 0) / max(PROBE_BLOCKS - 1, 1)) for i in range(PROBE_BLOCKS)})
    out = []
    with open(path, "rb") as f:
        for start in starts:
            f.seek(start)
            out.append(hashlib.blake2b(f.read(PROBE_BYTES), digest_size=8).hexdigest())
    return out


def _progress(quiet: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True, quiet=quiet), transient=True, disable=quiet)


def build_cache(root: Path, layout: FolderLayout, side: int, folder: Path, options: StreamOptions,
                skip_bad: bool, warn: Callable[[str], None] | None) -> None:
    """Decode ``root``'s images into a new cache at ``folder`` (see the module docstring)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.part"
    building.mkdir()
    warnings: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)

    try:
        labels = np.asarray([file.label for file in layout.files], dtype=np.int64)
        train, test = split_indices(labels, str(root))
        place = np.empty(len(labels), dtype=np.int64)
        place[np.concatenate([train, test])] = np.arange(len(labels))
        decoded: list[np.memmap] = []

        def keep(number: int, image: np.ndarray) -> None:
            if not decoded:
                decoded.append(np.memmap(building / "decoded.u8", np.uint8, "w+", shape=(len(labels), *image.shape)))
            decoded[0][place[number]] = image

        with _progress(options.quiet) as progress:
            task = progress.add_task(f"decode {root.name} into the data cache", total=len(layout.files))
            read = read_folder(root, ResizeTo(side), skip_bad=skip_bad, warn=note, workers=options.workers,
                               keep=keep, advance=lambda n: progress.advance(task, n))
        shape = (len(read.read), *decoded[0].shape[1:])
        if len(read.read) == len(labels):
            order = np.concatenate([train, test])
            y, sizes, n_train = labels[order], read.sizes[order], len(train)
            decoded[0].flush()
            decoded.clear()
            (building / "decoded.u8").rename(building / "images.u8")
        else:
            train, test = split_indices(read.labels, str(root))
            order = np.concatenate([train, test])
            y, sizes, n_train = read.labels[order], read.sizes[order], len(train)
            rows = place[read.read[order]]
            compact = np.memmap(building / "images.u8", np.uint8, "w+", shape=shape)
            for start in range(0, len(rows), COPY_ROWS):
                compact[start : start + COPY_ROWS] = decoded[0][rows[start : start + COPY_ROWS]]
            compact.flush()
            del compact
            decoded.clear()
            (building / "decoded.u8").unlink()
        x = _images(building / "images.u8", shape)
        fingerprint = content_fingerprint(x[:n_train], torch.from_numpy(y[:n_train]), x[n_train:],
                                          torch.from_numpy(y[n_train:]))
        del x
        arrays = {"y_train": y[:n_train], "y_test": y[n_train:], "sizes_train": sizes[:n_train],
                  "sizes_test": sizes[n_train:]}
        for name, array in arrays.items():
            np.save(building / f"{name}.npy", array, allow_pickle=False)
        stored = building / "images.u8"
        meta = {"format": CACHE_FORMAT, "digest": folder.name, "shape": list(shape), "n_train": n_train,
                "fingerprint": fingerprint, "probe": _probe(stored, stored.stat().st_size),
                "skipped_files": len(read.skipped), "repeated_files": layout.repeated, "warnings": warnings}
        (building / "meta.json").write_text(json.dumps(meta))
        if open_cache(folder) is None:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):  # another process put a complete cache there first
                os.replace(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _images(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """The cache file as a uint8 tensor over a copy-on-write memory map (nothing is read yet)."""
    return torch.from_numpy(np.memmap(path, np.uint8, "c", shape=shape))


def open_cache(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """A complete cache's meta and small arrays, or None when it is missing or damaged."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        shape = tuple(int(v) for v in meta["shape"])
        n_train = int(meta["n_train"])
        images = folder / "images.u8"
        if meta.get("format") != CACHE_FORMAT or meta.get("digest") != folder.name or len(shape) != 4:
            return None
        if images.stat().st_size != int(np.prod(shape)) or _probe(images, images.stat().st_size) != meta["probe"]:
            return None
        arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False)
                  for name in ("y_train", "y_test", "sizes_train", "sizes_test")}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    n = {"train": n_train, "test": shape[0] - n_train}
    for split, count in n.items():
        if arrays[f"y_{split}"].shape != (count,) or arrays[f"sizes_{split}"].shape != (count, 2):
            return None
    return meta, arrays


def load_streamed_folder(root: Path, side: int, options: StreamOptions, skip_bad: bool = False,
                         warn: Callable[[str], None] | None = None) -> Dataset:
    """A folder data set whose arrays are views of its cache file, built first when missing or damaged."""
    layout = scan_folder(root)
    if not layout.files:
        raise UserError(f"{root}: no image files found")
    folder = options.cache_dir / "data" / cache_digest(layout, side, skip_bad)
    opened, built = open_cache(folder), False
    if opened is None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with UnitLock(folder.parent / f"{folder.name}.lock", label=f"the data cache of {root}",
                      on_wait=None if options.quiet else lambda line: print(line, file=sys.stderr, flush=True)):
            opened = open_cache(folder)
            if opened is None:
                build_cache(root, layout, side, folder, options, skip_bad, warn)
                opened, built = open_cache(folder), True
                if opened is None:
                    raise UserError(f"{folder}: the data cache just written does not read back; check the disk")
    if not built and warn is not None:
        for message in opened[0]["warnings"]:
            warn(message)
    meta, arrays = opened
    shape = tuple(int(v) for v in meta["shape"])
    n_train = int(meta["n_train"])
    x = _images(folder / "images.u8", shape)
    y_train, y_test = torch.from_numpy(arrays["y_train"]), torch.from_numpy(arrays["y_test"])
    data = Dataset(name=f"folder:{root.name}", x_train=x[:n_train], y_train=y_train, x_test=x[n_train:],
                   y_test=y_test, num_classes=int(max(arrays["y_train"].max(initial=0),
                                                      arrays["y_test"].max(initial=0))) + 1,
                   notes={"skipped_files": int(meta["skipped_files"]), "repeated_files": int(meta["repeated_files"]),
                          "source_sizes": {"train": arrays["sizes_train"], "test": arrays["sizes_test"]}})
    data.cache = CacheFile(folder / "images.u8", shape, n_train, str(meta["fingerprint"]), folder.name)
    return data
