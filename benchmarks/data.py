"""Batches per second: ``ganbench.generators.trainer.DeviceBatches`` vs a ``torch.utils.data.DataLoader``.

Both yield the same shuffled float [-1, 1] batches of the same uint8 images. ``DeviceBatches``
keeps the whole data set as one tensor on the device and indexes it with a permutation (no
per-sample Python, no collation, no worker processes); the DataLoader loop is the usual
``TensorDataset`` + ``shuffle=True`` pipeline, converted and moved to the device per batch.

    PYTHONPATH=. python benchmarks/data.py [--device cuda] [--workers 0] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from ganbench.data import load_dataset
from ganbench.pixels import to_float
from ganbench.runtime import resolve_device
from ganbench.generators.trainer import DeviceBatches


def device_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, n_batches: int, device: torch.device) -> float:
    batches = DeviceBatches(x.to(device), y.to(device), batch_size, seed=0)
    started = time.perf_counter()
    for step in range(n_batches):
        batch = batches.next("image", step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    assert batch.real.shape[0] == batch_size
    return n_batches / (time.perf_counter() - started)


def dataloader_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, n_batches: int, device: torch.device,
                       workers: int) -> float:
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, drop_last=True,
                        num_workers=workers, generator=torch.Generator().manual_seed(0),
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    done = 0
    started = time.perf_counter()
    while done < n_batches:
        for images, labels in loader:
            real = to_float(images.to(device, non_blocking=True))
            labels = labels.to(device, non_blocking=True)
            done += 1
            if done == n_batches:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    assert real.shape[0] == batch_size
    return n_batches / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = load_dataset(args.dataset, args.resolution)
    x, y = data.x_train, data.y_train
    ours = device_batches(x, y, args.batch_size, args.batches, device)
    loader = dataloader_batches(x, y, args.batch_size, args.batches, device, args.workers)
    result = {"benchmark": "data", "device": str(device), "dataset": args.dataset, "images": len(x),
              "resolution": args.resolution, "batch_size": args.batch_size, "batches": args.batches,
              "workers": args.workers, "threads": torch.get_num_threads(),
              "device_batches_per_second": ours, "dataloader_batches_per_second": loader,
              "ratio": ours / loader}
    print(f"{'pipeline':28s} {'batches/s':>10s} {'images/s':>12s}")
    print(f"{'DeviceBatches':28s} {ours:10.1f} {ours * args.batch_size:12.0f}")
    print(f"{f'DataLoader ({args.workers} workers)':28s} {loader:10.1f} {loader * args.batch_size:12.0f}")
    print(f"ratio {result['ratio']:.2f}x")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
