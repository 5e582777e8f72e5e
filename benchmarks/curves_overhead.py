"""What training curves cost: the same training units with and without their curve file.

Each generator trains through ``GenerationUnits.train_generator`` (the suite's own wiring) for
``--steps`` steps at the preset's size, once with the default ``CurveConfig`` (a loss line every
10 steps, 5 cheap checks) and once without, interleaved (the order flips every repeat). Reported
per generator: the training loop's wall time (the record's ``train_seconds``) and the process's
CPU time over the unit, each summed over the repeats, the overhead of logging in both, and the
wall and CPU time spent inside the logger itself (``on_step``, ``due`` and ``check``, timed
directly) as a share of the training without it. On a loaded machine the totals move by more
than the logger costs from one identical run to the next; the direct timing is then the figure
to read. The reference classifier and the real statistics of the cheap FID are computed once per
run folder before timing; their one-time cost is printed separately (the classifier is trained
for the generation units anyway).

    PYTHONPATH=. python benchmarks/curves_overhead.py --threads 1 [--steps 200] [--generators dcgan,stylegan2]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganbench.context import RunConfig, RunContext
from ganbench.curves import CurveConfig, CurveLogger, curve_probe
from ganbench.generation import GenerationUnits
from ganbench.generators import GenerativeModel
from ganbench.presets import get_preset
from ganbench.units import UnitEngine


class TimedUnits(GenerationUnits):
    """Generation units whose curve logger adds the wall and CPU time spent in its methods to
    ``logger_seconds`` and ``logger_cpu``."""

    logger_seconds = 0.0
    logger_cpu = 0.0

    def curve_logger(self, name: str, key: str, model: GenerativeModel) -> CurveLogger | None:
        logger = super().curve_logger(name, key, model)
        if logger is None:
            return None
        for method in ("on_step", "due", "check"):
            setattr(logger, method, self.timed(getattr(logger, method)))
        return logger

    def timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return method(*args)
            finally:
                TimedUnits.logger_seconds += time.perf_counter() - started
                TimedUnits.logger_cpu += time.process_time() - cpu
        return wrapper


def measure(units: GenerationUnits, name: str) -> dict[str, float]:
    """One training of ``name`` from scratch: loop wall time, unit CPU time, time inside the logger."""
    ctx = units.context
    for folder in ("checkpoints", "curves"):
        for path in (ctx.store.root / folder).glob("*"):
            path.unlink()
    TimedUnits.logger_seconds = TimedUnits.logger_cpu = 0.0
    cpu = time.process_time()
    record = units.train_generator(name)
    cpu = time.process_time() - cpu
    if not record.ok:
        raise SystemExit(f"{name}: training {record.status}: {record.reason}")
    return {"wall": float(record.metrics["train_seconds"]), "cpu": cpu, "logger": TimedUnits.logger_seconds,
            "logger_cpu": TimedUnits.logger_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick", help="preset giving resolution, width and batch size")
    parser.add_argument("--steps", type=int, default=200, help="training steps (the curve's budget)")
    parser.add_argument("--generators", default="dcgan,stylegan2", help="comma list")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats of each pair")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = CurveConfig()
    with tempfile.TemporaryDirectory() as folder:
        preset = get_preset(args.preset).with_overrides(steps=args.steps)
        ctx = RunContext(RunConfig(suite="dcgan", preset=preset, out=Path(folder), quiet=True, force=True))
        started = time.perf_counter()
        ctx.extractor()
        classifier_seconds = time.perf_counter() - started
        engine = UnitEngine(ctx.store, ctx.scope, ctx.console, force=True)
        logged, plain = TimedUnits(ctx, engine, config), TimedUnits(ctx, engine, None)
        names = [n.strip() for n in args.generators.split(",") if n.strip()]
        started = time.perf_counter()
        probe = curve_probe(ctx.build(names[0]), ctx.data, ctx.extractor, ctx.config.seed, config)
        if probe is not None and probe.extractor is not None:
            probe.real_statistics()
        real_seconds = time.perf_counter() - started
        print(f"{args.preset} size, {args.steps} steps, {torch.get_num_threads()} thread(s), {config}")
        print(f"one-time: reference classifier {classifier_seconds:.2f} s, real statistics {real_seconds:.3f} s")
        results: dict[str, dict[str, list[dict[str, float]]]] = {n: {"with": [], "without": []} for n in names}
        for repeat in range(args.repeats):
            for name in names:
                order = [("without", plain), ("with", logged)]
                for mode, units in order if repeat % 2 == 0 else order[::-1]:
                    results[name][mode].append(measure(units, name))
                    run = results[name][mode][-1]
                    print(f"  {name:10s} repeat {repeat} {mode:7s} wall {run['wall']:7.2f} s  cpu {run['cpu']:7.2f} s"
                          f"  in logger {run['logger']:.3f} s wall, {run['logger_cpu']:.3f} s cpu", flush=True)
    summary = {}
    print(f"\n{'generator':10s} {'wall off':>9s} {'wall on':>9s} {'wall +%':>8s} {'cpu off':>9s} {'cpu on':>9s} "
          f"{'cpu +%':>8s} {'logger wall':>12s} {'logger cpu':>11s}")
    for name, runs in results.items():
        total = {mode: {k: sum(r[k] for r in runs[mode]) for k in ("wall", "cpu", "logger", "logger_cpu")}
                 for mode in runs}
        off, on = total["without"], total["with"]
        row = {"wall_off": off["wall"], "wall_on": on["wall"], "wall_overhead": on["wall"] / off["wall"] - 1,
               "cpu_off": off["cpu"], "cpu_on": on["cpu"], "cpu_overhead": on["cpu"] / off["cpu"] - 1,
               "logger_seconds": on["logger"], "logger_share": on["logger"] / off["wall"],
               "logger_cpu": on["logger_cpu"], "logger_cpu_share": on["logger_cpu"] / off["cpu"]}
        summary[name] = row
        print(f"{name:10s} {row['wall_off']:9.2f} {row['wall_on']:9.2f} {100 * row['wall_overhead']:+7.2f}% "
              f"{row['cpu_off']:9.2f} {row['cpu_on']:9.2f} {100 * row['cpu_overhead']:+7.2f}% "
              f"{row['logger_seconds']:6.3f} {100 * row['logger_share']:4.2f}% "
              f"{row['logger_cpu']:6.3f} {100 * row['logger_cpu_share']:4.2f}%")
    if args.out:
        args.out.write_text(json.dumps({"preset": args.preset, "steps": args.steps, "threads": torch.get_num_threads(),
                                        "repeats": args.repeats, "config": asdict(config),
                                        "classifier_seconds": classifier_seconds, "real_seconds": real_seconds,
                                        "generators": summary}, indent=1))


if __name__ == "__main__":
    main()
