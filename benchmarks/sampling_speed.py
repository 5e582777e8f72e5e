"""Sampling speed per generator family: a GAN, a VAE and a diffusion model (full chain and DDIM).

Each row builds its generator at a preset's resolution and width and times ``sample`` (which
includes the uint8 quantization every fake goes through) in batches until ``--min-seconds``
have passed, after one untimed warm-up batch. The cost of a sample does not depend on the
weights, so the networks are freshly initialised.

    python benchmarks/sampling_speed.py --preset quick --out sampling_speed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ganbench.errors import UserError
from ganbench.presets import get_preset
from ganbench.runtime import configure_backends, resolve_device
from ganbench.generators import DataSpec, GenerativeModel, create_generator


@dataclass(frozen=True)
class Row:
    label: str
    generator: str
    overrides: dict[str, object]


ROWS = (
    Row("dcgan", "dcgan", {}),
    Row("vae", "vae", {}),
    Row("ddpm (ancestral, 1000 steps)", "ddpm", {"sampler": "ancestral"}),
    Row("ddpm (DDIM, 50 steps)", "ddpm", {"sampler": "ddim", "sampling_steps": 50, "eta": 0.0}),
)


@dataclass
class Timing:
    row: str
    generator: str
    family: str
    network_evaluations: int
    images: int
    seconds: float
    images_per_second: float
    parameters: int


def network_evaluations(model: GenerativeModel) -> int:
    """Forward passes of the sampling network per image."""
    if model.family != "diffusion":
        return 1
    config = model.config
    return config.timesteps if config.sampler == "ancestral" else config.sampling_steps


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_sampling(model: GenerativeModel, batch: int, min_seconds: float) -> tuple[int, float]:
    """Images sampled and seconds taken, over whole batches, after one warm-up batch."""
    model.sample(min(batch, 8), seed=0, batch_size=batch)
    sync(model.device)
    images, started = 0, time.perf_counter()
    while True:
        model.sample(batch, seed=1 + images, batch_size=batch)
        sync(model.device)
        images += batch
        seconds = time.perf_counter() - started
        if seconds >= min_seconds:
            return images, seconds


def measure(row: Row, spec: DataSpec, width: int, device: torch.device, batch: int, min_seconds: float) -> Timing:
    torch.manual_seed(0)
    model = create_generator(row.generator, spec, preset_width=width, **row.overrides).to(device)
    images, seconds = time_sampling(model, batch, min_seconds)
    return Timing(row.label, row.generator, model.family, network_evaluations(model), images, round(seconds, 3),
                  round(images / seconds, 3), model.parameter_count())


def table(timings: list[Timing]) -> str:
    header = f"{'generator':<30} {'family':<10} {'evals/img':>9} {'images':>7} {'seconds':>8} {'images/s':>10}"
    lines = [header, "-" * len(header)]
    for t in timings:
        lines.append(f"{t.row:<30} {t.family:<10} {t.network_evaluations:>9} {t.images:>7} {t.seconds:>8.1f} "
                     f"{t.images_per_second:>10.2f}")
    return "\n".join(lines)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick", help="preset whose resolution and width are used (quick)")
    parser.add_argument("--channels", type=int, default=1, help="image channels (1, as the digits)")
    parser.add_argument("--batch", type=int, default=64, help="images per sampling call (64)")
    parser.add_argument("--min-seconds", type=float, default=5.0, help="time each row at least this long (5)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--only", default=None, help="comma list of generator names to keep (dcgan,vae,ddpm)")
    parser.add_argument("--out", type=Path, default=None, help="also write the timings as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        preset = get_preset(args.preset)
        device = resolve_device(args.device)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_backends(device)
    keep = None if args.only is None else {name.strip() for name in args.only.split(",")}
    spec = DataSpec("image", args.channels, preset.resolution, 10)
    timings = [measure(row, spec, preset.width, device, args.batch, args.min_seconds)
               for row in ROWS if keep is None or row.generator in keep]
    print(f"preset {preset.name}: {spec.resolution}x{spec.resolution}x{spec.channels}, width {preset.width}, "
          f"device {device}, {torch.get_num_threads()} CPU threads")
    print(table(timings))
    if args.out is not None:
        meta = {"preset": preset.name, "resolution": spec.resolution, "channels": spec.channels,
                "width": preset.width, "device": str(device), "threads": torch.get_num_threads(),
                "batch": args.batch, "torch": torch.__version__}
        args.out.write_text(json.dumps({**meta, "rows": [asdict(t) for t in timings]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
