"""Throughput of toy-2D seeds trained as one batched model against the same seeds one after another.

For each variant, ``--seeds`` models train on ring-8 for ``--steps`` generator steps in two ways,
alternated ``--rounds`` times in one process so that both see the same load on a shared machine:
one :class:`ganbench.generators.seed_batch.SeedBatch` (``train_seed_batch``), and each seed on
its own through ``ganbench.generators.trainer.train``, one after another. Both use ``--threads``
threads. On CUDA, ``--cuda-graphs`` adds a third: the batch with its step recorded once as a
CUDA graph and replayed (``--graph-steps`` steps per run, as each run records its graph anew
after three eager steps). Prints a Markdown table of the tensor operations one batched step
issues (counted on the CPU), seed-steps per second (median over rounds) and each batched way's
ratio to one after another (median of the rounds' ratios).

    PYTHONPATH=. python benchmarks/seed_batch_speed.py --seeds 10 --steps 10 --rounds 3 [--threads 2]
    PYTHONPATH=. python benchmarks/seed_batch_speed.py --device cuda --steps 20 --cuda-graphs --graph-steps 500
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ganbench.data import load_toy2d
from ganbench.errors import UserError
from ganbench.runtime import resolve_device, torch_generator
from ganbench.generators import DataSpec, create_generator
from ganbench.generators.seed_batch import SeedBatch, train_seed_batch
from ganbench.generators.trainer import DeviceBatches, TrainConfig, train

VARIANTS = ("gan", "wgan-gp", "lsgan", "sngan", "gan+packing")


class OperationCount(TorchDispatchMode):
    """Counts the tensor operations issued under it: vmap's batched ones, autograd's backward and
    the optimizers' updates, each one a kernel launch or more on a GPU."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        self.count += 1
        return func(*args, **(kwargs or {}))


def operations_per_step(variant: str, seeds: int, batch_size: int) -> int:
    """The tensor operations of one batched training step on the CPU (the second step, once the
    optimizers' state exists; the data and noise drawn before it are not counted)."""
    data = load_toy2d("ring")
    model = SeedBatch.create(variant, DataSpec("points", 0, 0, data.num_classes), range(seeds))
    streams = [DeviceBatches(data.x_train, data.y_train, batch_size * model.model.pack_size, seed)
               for seed in model.seeds]
    generators = [torch_generator(seed) for seed in model.seeds]
    model.train()
    model.training_step(model.step_inputs(streams, generators, 0, 0.0))
    inputs = model.step_inputs(streams, generators, 1, 0.0)
    with OperationCount() as counted:
        model.training_step(inputs, 1)
    return counted.count


def measure(variant: str, seeds: int, steps: int, rounds: int, batch_size: int, device: torch.device,
            graph_steps: int | None = None) -> dict[str, list[float]]:
    """Seconds per round, alternated: ``batched`` and ``sequential`` runs of ``steps`` steps and,
    with ``graph_steps``, ``graphed`` runs of that many (the batch replayed as a CUDA graph)."""
    data = load_toy2d("ring")
    spec = DataSpec("points", 0, 0, data.num_classes)
    separate = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        separate.append(create_generator(variant, spec).to(device))

    def batch(replay: str | None) -> Callable[[int], object]:
        model = SeedBatch.create(variant, spec, range(seeds), device)
        return lambda n: train_seed_batch(model, data.x_train, data.y_train, n, batch_size, replay=replay)

    def one_after_another(n: int) -> None:
        for seed, model in enumerate(separate):
            train(model, data.x_train, data.y_train, TrainConfig(steps=n, batch_size=batch_size, seed=seed))

    def seconds(work: Callable[[int], object], n: int) -> float:
        started = time.perf_counter()
        work(n)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    runs = {"batched": (batch(None), steps), "sequential": (one_after_another, steps)}
    if graph_steps:
        runs["graphed"] = (batch("cuda-graph"), graph_steps)
    for work, _ in runs.values():
        seconds(work, 1)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (work, n) in runs.items():
            times[name].append(seconds(work, n))
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
    parser.add_argument("--cuda-graphs", action="store_true", help="also time the batch replayed as a CUDA graph")
    parser.add_argument("--graph-steps", type=int, default=500, help="generator steps per run of the graphed batch")
    args = parser.parse_args()
    if min(args.seeds, args.steps, args.rounds, args.graph_steps) < 1:
        parser.error("--seeds, --steps, --rounds and --graph-steps must be positive")
    torch.set_num_threads(args.threads)
    try:
        device = resolve_device(args.device)
    except UserError as error:
        parser.error(str(error))
    if args.cuda_graphs and device.type != "cuda":
        parser.error("--cuda-graphs needs --device cuda")
    graph_steps = args.graph_steps if args.cuda_graphs else None
    graphed = f" (graphed: {graph_steps})" if graph_steps else ""
    lines = [f"toy2d ring-8, {args.seeds} seeds x {args.steps} generator steps{graphed}, "
             f"batch {args.batch_size}, {args.threads} thread(s) on {device}; median of {args.rounds} alternated "
             "rounds (each ratio: median of the rounds' ratios)", "",
             "| variant | operations per step | one after another (seed-steps/s) | batched (seed-steps/s) "
             "| batched / one after another |"
             + (" graphed (seed-steps/s) | graphed / one after another |" if graph_steps else ""),
             "|---|---|---|---|---|" + ("---|---|" if graph_steps else "")]
    for variant in args.variants:
        times = measure(variant, args.seeds, args.steps, args.rounds, args.batch_size, device, graph_steps)
        row = rates(times, args.seeds, args.steps, graph_steps)
        cells = [f"{operations_per_step(variant, args.seeds, args.batch_size):,}", f"{row['sequential_per_second']:.1f}", f"{row['batched_per_second']:.1f}", f"{row['speedup']:.2f}x"]
        if graph_steps:
            cells += [f"{row['graphed_per_second']:.1f}", f"{row['graphed_speedup']:.2f}x"]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    print()
    print("\n".join(lines))


def rates(times: dict[str, list[float]], seeds: int, steps: int, graph_steps: int | None) -> dict[str, float]:
    """Seed-steps per second (median over rounds) of each way in ``times``, and each batched
    way's speed-up over one after another (median of the rounds' ratios)."""
    per_step = {name: statistics.median(seconds) / (graph_steps if name == "graphed" else steps)
                for name, seconds in times.items()}
    row = {f"{name}_per_second": seeds / value for name, value in per_step.items()}
    row["speedup"] = statistics.median(s / b for b, s in zip(times["batched"], times["sequential"]))
    if "graphed" in times:
        assert graph_steps is not None
        row["graphed_speedup"] = statistics.median((s / steps) / (g / graph_steps)
                                                   for g, s in zip(times["graphed"], times["sequential"]))
    return row


if __name__ == "__main__":
    main()
