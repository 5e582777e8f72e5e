"""What each image variant costs from 32 to 256 px: parameters, peak memory and time per step.

Every (variant, resolution) cell runs in a fresh subprocess: it builds the variant with its stated
architecture schedule (``GenerativeModel.architecture``) at ``--width``, then times ``--steps``
training steps (``n_critic`` discriminator updates and one generator update each, on random
images, after one warm-up step) at ``--batch-size``. Peak memory is the growth of the process's
peak resident set over its size before the model was built (CPU) or ``max_memory_allocated``
(CUDA). Prints a Markdown table; ``--out`` also writes the rows as JSON.

    PYTHONPATH=. python benchmarks/resolution_scaling.py --resolutions 32,64,128 [--variants dcgan,sagan]
        [--width 32] [--batch-size 16] [--device cpu] [--timeout 600] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASSES = 10


def rss_mib() -> float:
    """The current resident set of this process in MiB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def parameter_counts(model: object) -> dict[str, int]:
    """Parameters of the generating networks (G, CycleGAN's two, the VAE's encoder; not the EMA
    copy) and of the discriminators (D, CycleGAN's two, InfoGAN's Q)."""
    counts = {"G": 0, "D": 0}
    for child, module in model.named_children():
        if child.startswith("D") or child == "Q":
            counts["D"] += sum(p.numel() for p in module.parameters())
        elif child.startswith(("G", "E")) and child != "G_ema":
            counts["G"] += sum(p.numel() for p in module.parameters())
    return counts


def measure(name: str, resolution: int, width: int, batch_size: int, steps: int, device_name: str) -> dict:
    """One cell, in this process."""
    import torch

    from ganbench.generators import DataSpec, create_generator
    from ganbench.generators.base import Batch
    from ganbench.generators.translation_blocks import TranslationModel
    from ganbench.runtime import resolve_device

    device = resolve_device(device_name)
    torch.manual_seed(0)
    before = rss_mib()
    spec = DataSpec("image", 3, resolution, CLASSES)
    model = create_generator(name, spec, preset_width=width).to(device)
    counts = parameter_counts(model)
    model.configure_optimizers()
    images = torch.rand(batch_size, 3, resolution, resolution, device=device) * 2 - 1
    labels = torch.arange(batch_size, device=device) % CLASSES
    source = None
    if isinstance(model, TranslationModel):
        scale = getattr(model, "scale", 1)
        source = torch.rand(batch_size, 3, resolution // scale, resolution // scale, device=device) * 2 - 1
    domains = torch.arange(batch_size, device=device) % getattr(model, "num_domains", 2)
    batch = Batch(images, labels, 0, source=source, source_labels=domains, progress=1.0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(steps + 1):
        batch.step = step
        started = time.perf_counter()
        for _ in range(model.n_critic):
            model.discriminator_step(batch)
        model.generator_step(batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    return {"variant": name, "resolution": resolution, "g_params": counts["G"], "d_params": counts["D"],
            "peak_mib": round(peak, 1), "seconds_per_step": round(statistics.median(times[1:]), 4)}


def run_cell(name: str, resolution: int, args: argparse.Namespace) -> dict:
    """One cell in a fresh subprocess (so that peak memory is its own)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, str(Path(__file__).resolve()), "--one", name, "--resolutions", str(resolution),
               "--width", str(args.width), "--batch-size", str(args.batch_size), "--steps", str(args.steps),
               "--device", args.device]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"variant": name, "resolution": resolution, "error": f"over {args.timeout} s"}
    if done.returncode != 0:
        return {"variant": name, "resolution": resolution, "error": done.stderr.strip().splitlines()[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = ["| variant | px | G params | D params | peak MiB | s / step |", "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['variant']} | {row['resolution']} | {row['error']} | | | |")
        else:
            lines.append(f"| {row['variant']} | {row['resolution']} | {row['g_params']:,} | {row['d_params']:,} | "
                         f"{row['peak_mib']:.0f} | {row['seconds_per_step']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="", help="comma list (default: every image variant)")
    parser.add_argument("--resolutions", default="32,64,128,256")
    parser.add_argument("--width", type=int, default=32, help="every variant's width (the quick preset's: 32)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per cell before it is reported as too slow")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    resolutions = [int(r) for r in args.resolutions.split(",")]
    if args.one:
        print(json.dumps(measure(args.one, resolutions[0], args.width, args.batch_size, args.steps, args.device)))
        return
    from ganbench.generators import GENERATORS

    variants = args.variants.split(",") if args.variants else [n for n, cls in GENERATORS if cls.supports_images]
    rows = []
    for name in variants:
        for resolution in resolutions:
            rows.append(run_cell(name, resolution, args))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
