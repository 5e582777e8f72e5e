r"""Mode collapse on the toy 2-D mixtures: modes covered and % high-quality samples.

The protocol of VEEGAN (Srivastava et al., NeurIPS 2017) as used by PacGAN (Lin et al., NeurIPS
2018, Table 1): train on ring-8 (std 0.02) and grid-25 (std 0.05), draw 2,500 samples, count a
sample as high quality when it lies within 3 standard deviations of its nearest mode, and a
mode as covered when it is the nearest mode of at least one high-quality sample. Mean and
standard deviation over seeds, next to PacGAN's published anchors.

``--steps 500 1000 1500`` scores every run after 500, 1,000 and 1,500 generator steps (one table
each) at the cost of the longest. Every (variant, layout, seed) run is independent: ``--jobs N``
trains N of them at once in separate processes of ``--threads`` threads each (on CUDA they share
the GPU, which small MLPs leave mostly idle). ``--batched-seeds`` trains all seeds of a variant,
on every layout, as one model instead (``ganbench.generators.seed_batch``; ``--jobs`` then runs
that many variants' batches at once): the same rows, each seed on the data and noise of its
separate run, equal to it up to floating-point rounding (which two runs of different kernels
amplify over many steps, so the rows agree with the separate runs' statistically, not digit for
digit), and ``seconds`` is the batch's wall clock. With ``--out runs/x.json`` every checkpoint's
rows are also appended to ``runs/x.jsonl`` as soon as they are scored, so a run stopped early
keeps them (``--tables-from runs/x.jsonl`` prints their tables). On a CPU core the batch is about
as fast as its seeds one after another (``benchmarks/seed_batch_speed.py``). On CUDA, ``--cuda-graphs``
records a batch's training step once and replays it (``ganbench.generators.step_replay``), which
removes the Python and launch overhead that bounds these small networks' steps on a GPU.

    PYTHONPATH=. python benchmarks/toy2d_modes.py --seeds 10 --steps 2000 [--jobs 8 --device cuda]
    PYTHONPATH=. python benchmarks/toy2d_modes.py --seeds 10 --steps 2000 --batched-seeds
    PYTHONPATH=. python benchmarks/toy2d_modes.py --seeds 10 --steps 5000 25000 --batched-seeds --cuda-graphs \
        --device cuda --out runs/toy2d_25k.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from ganbench.data import load_toy2d
from ganbench.errors import UserError
from ganbench.metrics import mode_coverage_2d
from ganbench.runtime import resolve_device
from ganbench.generators import GENERATORS, DataSpec, create_generator
from ganbench.generators.seed_batch import SeedBatch, train_seed_batch
from ganbench.generators.trainer import TrainConfig, train
from ganbench.leaderboards.uncertainty import t_interval

VARIANTS = ("gan", "wgan-gp", "lsgan", "sngan", "gan+packing")
MODE_COUNTS = {"ring": 8, "grid": 25}
ANCHORS = {  # PacGAN Table 1: (modes, % high quality)
    ("GAN", "ring"): (6.3, 98.2), ("GAN", "grid"): (17.3, 94.8),
    ("PacGAN4", "ring"): (7.8, 95.9), ("PacGAN4", "grid"): (24.8, 93.6),
}


def append_rows(path: Path | None, rows: list[dict[str, object]]) -> None:
    """Append ``rows`` to the JSON-lines file ``path`` (None: nowhere) in one write, so the lines of
    workers appending at once never interleave."""
    if path is not None and rows:
        with path.open("a") as out:
            out.write("".join(json.dumps(row) + "\n" for row in rows))


def run(variant: str, layout: str, seed: int, checkpoints: list[int], batch_size: int, n_samples: int,
        device: str, threads: int, scored: Path | None = None) -> list[dict[str, object]]:
    """Train one seed to the last checkpoint, scoring ``n_samples`` samples at every checkpoint on the
    way (each checkpoint's row appended to ``scored`` at once)."""
    torch.set_num_threads(threads)
    data = load_toy2d(layout)
    spec = DataSpec("points", 0, 0, data.num_classes)
    torch.manual_seed(seed)
    model = create_generator(variant, spec).to(resolve_device(device))
    started = time.perf_counter()
    rows: list[dict[str, object]] = []

    def score(step: int, losses: dict[str, float]) -> None:
        if step in checkpoints:
            coverage = mode_coverage_2d(model.sample(n_samples, seed=seed + 1000).cpu(), data.modes, data.mode_std)
            rows.append({"variant": variant, "layout": layout, "seed": seed, "steps": step,
                         "modes": coverage["modes_covered"], "high_quality": coverage["high_quality"],
                         "seconds": round(time.perf_counter() - started, 1)})
            append_rows(scored, rows[-1:])

    outcome = train(model, data.x_train, data.y_train, TrainConfig(steps=max(checkpoints), batch_size=batch_size,
                                                                     seed=seed), on_step=score)
    return [{**row, "status": outcome.status} for row in rows]


def run_batched(variant: str, layouts: list[str], seeds: list[int], checkpoints: list[int], batch_size: int,
                n_samples: int, device: str, threads: int, replay: str | None = None,
                scored: Path | None = None) -> list[dict[str, object]]:
    """:func:`run` for every seed of ``seeds`` on every layout of ``layouts`` at once, trained as one
    batched model (its step replayed as a CUDA graph with ``replay="cuda-graph"``)."""
    torch.set_num_threads(threads)
    members = [(layout, seed) for layout in layouts for seed in seeds]
    data = {layout: load_toy2d(layout) for layout in layouts}
    models = []
    for layout, seed in members:
        torch.manual_seed(seed)
        models.append(create_generator(variant, DataSpec("points", 0, 0, data[layout].num_classes))
                      .to(resolve_device(device)))
    model = SeedBatch(models, [seed for _, seed in members])
    started = time.perf_counter()
    rows: list[dict[str, object]] = []
    positions: list[int] = []

    def score(step: int, training: list[int]) -> None:
        if step in checkpoints:
            samples = model.sample(n_samples, [seed + 1000 for _, seed in members])
            seconds = round(time.perf_counter() - started, 1)
            for position in training:
                layout, seed = members[position]
                coverage = mode_coverage_2d(samples[position], data[layout].modes, data[layout].mode_std)
                rows.append({"variant": variant, "layout": layout, "seed": seed, "steps": step,
                             "modes": coverage["modes_covered"], "high_quality": coverage["high_quality"],
                             "seconds": seconds})
                positions.append(position)
            append_rows(scored, rows[-len(training):])

    outcomes = train_seed_batch(model, [data[layout].x_train for layout, _ in members],
                                [data[layout].y_train for layout, _ in members], max(checkpoints), batch_size,
                                replay=replay, on_step=score)
    return [{**row, "status": outcomes[position].status} for row, position in zip(rows, positions)]


def summarise(rows: list[dict[str, object]], steps: int, seeds: int) -> str:
    """The markdown table of rows scored after ``steps`` generator steps."""
    lines = [f"toy2d, {seeds} seed(s), {steps} generator steps, 2,500 samples; mean (std) [95% t-interval of the "
             "mean] over seeds", "",
             "| variant | ring-8 modes | ring-8 % HQ | grid-25 modes | grid-25 % HQ |", "|---|---|---|---|---|"]

    def cell(values: list[float], limits: tuple[float, float]) -> str:
        mean = statistics.mean(values)
        if len(values) < 2:
            return f"{mean:.1f}"
        spread = statistics.stdev(values)
        low, high = t_interval(mean, spread, len(values), limits=limits)
        return f"{mean:.1f} ({spread:.1f}) [{low:.1f}, {high:.1f}]"

    for variant in dict.fromkeys(str(r["variant"]) for r in rows):
        cells = []
        for layout in ("ring", "grid"):
            picked = [r for r in rows if r["variant"] == variant and r["layout"] == layout]
            modes = (0.0, float(MODE_COUNTS[layout]))
            cells += [cell([float(r["modes"]) for r in picked], modes),
                      cell([float(r["high_quality"]) for r in picked], (0.0, 100.0))] if picked else ["-", "-"]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    for name in ("GAN", "PacGAN4"):
        (rm, rq), (gm, gq) = ANCHORS[(name, "ring")], ANCHORS[(name, "grid")]
        lines.append(f"| {name} (PacGAN, published) | {rm} | {rq} | {gm} | {gq} |")
    return "\n".join(lines)


def print_tables(rows: list[dict[str, Any]]) -> None:
    """One table per step count in ``rows``, variants in the order of :data:`VARIANTS`."""
    names = list(dict.fromkeys(str(r["variant"]) for r in rows))
    names.sort(key=lambda v: VARIANTS.index(v) if v in VARIANTS else len(VARIANTS))
    ordered = sorted(rows, key=lambda r: (names.index(str(r["variant"])), r["layout"], r["seed"]))
    for steps in sorted({r["steps"] for r in ordered}):
        picked = [r for r in ordered if r["steps"] == steps]
        print()
        print(summarise(picked, steps, len({r["seed"] for r in picked})))


def saved_rows(paths: list[Path]) -> list[dict[str, object]]:
    """The rows of ``--out`` files (JSON lists, or the JSON lines of rows as they were scored); a later
    row replaces an earlier one of the same run and steps."""
    rows: dict[tuple[object, ...], dict[str, object]] = {}
    for path in paths:
        text = path.read_text()
        for row in [json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl" \
                else json.loads(text):
            rows[(row["variant"], row["layout"], row["seed"], row["steps"])] = row
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--layouts", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, nargs="+", default=[2000],
                        help="generator steps to train for; several values score each run at each of them")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--samples", type=int, default=2500)
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process")
    parser.add_argument("--batched-seeds", action="store_true",
                        help="train all seeds of a variant, on every layout, as one batched model (one run per batch)")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help="with --batched-seeds on CUDA: record each batch's training step once as a CUDA graph "
                             "and replay it")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the per-seed rows")
    parser.add_argument("--tables-from", type=Path, nargs="+", default=None, metavar="JSON",
                        help="print the tables of rows saved with --out instead of training (a row in a later "
                             "file replaces the same variant, layout, seed and steps in an earlier one)")
    args = parser.parse_args()
    if args.tables_from is not None:
        try:
            print_tables(saved_rows(args.tables_from))
        except (OSError, ValueError, KeyError, TypeError) as error:
            parser.error(f"cannot read the saved rows: {error}")
        return
    if min(args.steps) < 1:
        parser.error("--steps must be positive")
    for variant in args.variants:
        if variant not in GENERATORS or not GENERATORS.get(variant).supports_points:
            parser.error(f"{variant!r} is not a generator that trains on points")
    try:
        device = resolve_device(args.device)
    except UserError as error:
        parser.error(str(error))
    if args.cuda_graphs and not (args.batched_seeds and device.type == "cuda"):
        parser.error("--cuda-graphs replays the steps of --batched-seeds on a CUDA device")
    settings = (sorted(args.steps), args.batch_size, args.samples, args.device, args.threads)
    scored = None if args.out is None else args.out.with_suffix(".jsonl")
    if scored is not None:
        scored.parent.mkdir(parents=True, exist_ok=True)
        scored.write_text("")
    rows = []
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        if args.batched_seeds:
            pending = [pool.submit(run_batched, variant, args.layouts, list(range(args.seeds)), *settings,
                                   "cuda-graph" if args.cuda_graphs else None, scored)
                       for variant in args.variants]
        else:
            pending = [pool.submit(run, variant, layout, seed, *settings, scored)
                       for seed in range(args.seeds) for layout in args.layouts for variant in args.variants]
        for done in as_completed(pending):
            for row in done.result():
                rows.append(row)
                print(json.dumps(row), flush=True)
            if args.out is not None:
                args.out.write_text(json.dumps(rows, indent=1))
    print_tables(rows)


if __name__ == "__main__":
    main()
