"""Throughput of toy-2D seeds trained as one batched model against the same seeds one after another.

For each variant, ``--seeds`` models train on ring-8 for ``--steps`` generator steps in two ways,
alternated ``--rounds`` times in one process so that both see the same load on a shared machine:
one :class:`ganbench.generators.seed_batch.SeedBatch` (``train_seed_batch``), and each seed on
its own through ``ganbench.generators.trainer.train``, one after another. Both use ``--threads``
threads. Prints a Markdown table of seed-steps per second (median over rounds) and the batched /
sequential ratio (median of the rounds' ratios).

    PYTHONPATH=. python benchmarks/seed_batch_speed.py --seeds 10 --steps 10 --rounds 3 [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ganbench.data import load_toy2d
from ganbench.runtime import resolve_device
from ganbench.generators import DataSpec, create_generator
from ganbench.generators.seed_batch import SeedBatch, train_seed_batch
from ganbench.generators.trainer import TrainConfig, train

VARIANTS = ("gan", "wgan-gp", "lsgan", "sngan", "gan+packing")


def measure(variant: str, seeds: int, steps: int, rounds: int, batch_size: int,
            device: torch.device) -> tuple[list[float], list[float]]:
    """Seconds per round of the batched training and of the sequential one, alternated."""
    data = load_toy2d("ring")
    spec = DataSpec("points", 0, 0, data.num_classes)
    batched = SeedBatch.create(variant, spec, range(seeds), device)
    separate = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        separate.append(create_generator(variant, spec).to(device))

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def run_batched(n: int) -> float:
        started = time.perf_counter()
        train_seed_batch(batched, data.x_train, data.y_train, n, batch_size)
        sync()
        return time.perf_counter() - started

    def run_sequential(n: int) -> float:
        started = time.perf_counter()
        for seed, model in enumerate(separate):
            train(model, data.x_train, data.y_train, TrainConfig(steps=n, batch_size=batch_size, seed=seed))
        sync()
        return time.perf_counter() - started

    run_batched(1)
    run_sequential(1)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        times[0].append(run_batched(steps))
        times[1].append(run_sequential(steps))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10, help="generator steps per timed run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args = parser.parse_args()
    if min(args.seeds, args.steps, args.rounds) < 1:
        parser.error("--seeds, --steps and --rounds must be positive")
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    work = args.seeds * args.steps
    lines = [f"toy2d ring-8, {args.seeds} seeds x {args.steps} generator steps, batch {args.batch_size}, "
             f"{args.threads} thread(s) on {device}; median of {args.rounds} alternated rounds (the ratio: median of "
             "the rounds' ratios)", "",
             "| variant | one after another (seed-steps/s) | batched (seed-steps/s) | batched / one after another |",
             "|---|---|---|---|"]
    for variant in args.variants:
        batched, sequential = measure(variant, args.seeds, args.steps, args.rounds, args.batch_size, device)
        ratio = statistics.median(s / b for b, s in zip(batched, sequential))
        lines.append(f"| {variant} | {work / statistics.median(sequential):.1f} "
                     f"| {work / statistics.median(batched):.1f} | {ratio:.2f}x |")
        print(lines[-1], flush=True)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
