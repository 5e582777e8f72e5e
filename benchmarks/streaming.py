"""Folder data sets in memory and streamed: decoding speed, cache build and reuse, batch throughput.

Writes ``--n`` MNIST digits (``../shared/data/mnist.npz``) as PNGs into a temporary folder, then
prints, the best of :data:`REPEATS` timings each (the machine's load shifts them; compare ratios
within one run):

* decoding the folder in memory with 1 and ``--workers`` processes;
* building the streamed cache (``--workers`` processes) and opening it again;
* training batches per second from memory (``DeviceBatches``) and streamed (``StreamedBatches``,
  0 and ``--workers`` loader processes), CPU, batch 64.

    python benchmarks/streaming.py [--n 6000] [--workers 2] [--side 28] [--stored 28]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from ganbench.data import StreamOptions, load_dataset, load_folder
from ganbench.generators.trainer import DeviceBatches, StreamedBatches
from ganbench.geometry import Geometry
from ganbench.streaming import StreamedImages

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
BATCHES = 200
T = TypeVar("T")
REPEATS = 3


def write_folder(root: Path, n: int, stored: int) -> None:
    """``n`` MNIST digits as ``stored x stored`` PNGs (enlarged from 28 px where larger)."""
    archive = np.load(MNIST)
    images, labels = archive["x_train"][:n], archive["y_train"][:n]
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).resize((stored, stored), Image.BILINEAR).save(folder / f"{i:06d}.png")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """The result of ``action`` and its best time of :data:`REPEATS`."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return result, best


def batches_per_second(make: Callable[[], DeviceBatches | StreamedBatches]) -> float:
    """Batches drawn per second after the first (which starts any loader workers)."""
    def draw() -> None:
        batches = make()
        batches.next("image", 0)
        for step in range(BATCHES):
            batches.next("image", step)

    return BATCHES / timed(lambda: draw())[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--side", type=int, default=28, help="side the run asks for")
    parser.add_argument("--stored", type=int, default=28, help="side of the PNG files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "mnist"
        write_folder(root, args.n, args.stored)
        print(f"{args.n} PNGs of MNIST stored at {args.stored} px, read at {args.side} px, {args.workers} workers")
        memory, serial = timed(lambda: load_folder(root, args.side, workers=1))
        _, parallel = timed(lambda: load_folder(root, args.side, workers=args.workers))
        print(f"decode in memory: 1 process {serial:.2f} s, {args.workers} processes {parallel:.2f} s "
              f"(x{serial / parallel:.2f})")
        options = StreamOptions(budget=0, workers=args.workers, cache_dir=Path(scratch) / "cache")
        started = time.perf_counter()
        streamed = load_dataset(f"folder:{root}", args.side, stream=options)
        build = time.perf_counter() - started
        _, reuse = timed(lambda: load_dataset(f"folder:{root}", args.side, stream=options))
        assert streamed.cache is not None and torch.equal(streamed.x_train, memory.x_train)
        print(f"streamed cache: build {build:.2f} s, reuse {reuse:.2f} s, "
              f"{streamed.cache.path.stat().st_size / 2**20:.1f} MiB on disk")
        geometry = Geometry.for_images(args.side)
        cpu = torch.device("cpu")
        canvas = geometry.to_model(memory.x_train)
        images = StreamedImages(streamed.cache, geometry)
        rates = {"memory": batches_per_second(lambda: DeviceBatches(canvas, memory.y_train, 64, 0))}
        for workers in (0, args.workers):
            rates[f"streamed, {workers} workers"] = batches_per_second(
                lambda: StreamedBatches(images, memory.y_train, 64, 0, workers, cpu, channels_last=False))
        for name, rate in rates.items():
            print(f"batches of 64 per second, {name}: {rate:.0f} (x{rate / rates['memory']:.2f} of memory)")


if __name__ == "__main__":
    main()
