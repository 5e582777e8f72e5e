"""Training throughput (images/s) of every registered generator through the shared trainer.

For DCGAN (Radford et al., ICLR 2016) the same networks, batch and Adam settings also run as a
plain PyTorch loop written out below, in the same process and interleaved with the trainer, so
the ratio measures what the trainer adds (batching from a device tensor, the variant's step
methods, loss bookkeeping, divergence checks). With ``--device cuda`` the trainer uses bf16
autocast, channels_last and (``--compile``) ``torch.compile``, while the plain loop stays fp32
eager: the ratio is then the speed-up of ganbench's GPU path. ``--compare-memory-formats`` times
contiguous and channels_last training of each generator interleaved; on CPU the trainer uses
channels_last for the variants whose ``channels_last_on_cpu`` says it is faster.
``--compare-read-every 1,10`` times the trainer reading its losses from the device after every
step (what it did before it kept them there) and every 10 steps (its default), interleaved.

    PYTHONPATH=. python benchmarks/train_step.py [--device cuda] [--compile] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F

from ganbench.data import load_dataset
from ganbench.pixels import to_float
from ganbench.features import ContentClassifier
from ganbench.presets import get_preset
from ganbench.generation import training_inputs
from ganbench.runtime import configure_backends, resolve_device, seed_everything
from ganbench.store import RunStore
from ganbench.generators import GENERATORS, DataSpec, create_generator
from ganbench.generators.dcgan import DCGANDiscriminator, DCGANGenerator
from ganbench.generators.layers import init_dcgan_weights
from ganbench.generators.trainer import TrainConfig, train, uses_channels_last


def trainer_throughput(name: str, data, spec: DataSpec, preset, device: torch.device, steps: int, warmup: int,
                       compile_networks: bool, channels_last: bool | None = None, read_every: int = 10) -> float:
    """Images/s over ``steps`` trainer steps after ``warmup`` (timed between on_step callbacks)."""
    seed_everything(0)
    model = create_generator(name, spec, preset_width=preset.width).to(device)
    marks: dict[int, float] = {}

    def on_step(step: int, losses: Mapping[str, float]) -> None:
        if step in (warmup, warmup + steps):
            if device.type == "cuda":
                torch.cuda.synchronize()
            marks[step] = time.perf_counter()

    config = TrainConfig(steps=warmup + steps, batch_size=preset.batch_size, checkpoint_every=10**9,
                         compiled="default" if compile_networks else None, channels_last=channels_last,
                         read_every=read_every)
    x, y, sources = training_data(model, data, preset, device)
    train(model, x, y, config, on_step=on_step, **sources)
    images = steps * preset.batch_size * model.pack_size * (model.n_critic + 1)
    return images / (marks[warmup + steps] - marks[warmup])


def training_data(model, data, preset, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """What the suite runner trains ``model`` on (an image-to-image variant's task view included)."""
    def reference() -> torch.nn.Module:
        with tempfile.TemporaryDirectory() as folder:
            cache = RunStore(folder).cache_dir
            return ContentClassifier(data, cache, epochs=preset.classifier_epochs, device=device).model

    return training_inputs(model, data, reference)


def plain_dcgan_throughput(data, spec: DataSpec, preset, device: torch.device, steps: int, warmup: int) -> float:
    """The DCGAN step as a hand-written fp32 eager loop: one D update, one G update per step."""
    seed_everything(0)
    z_dim, lr, betas = 100, 2e-4, (0.5, 0.999)
    G = DCGANGenerator(z_dim, spec.channels, spec.resolution, preset.width).to(device)
    D = DCGANDiscriminator(spec.channels, spec.resolution, preset.width).to(device)
    init_dcgan_weights(G)
    init_dcgan_weights(D)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    x = data.x_train.to(device)
    batch = preset.batch_size
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        real = to_float(x[torch.randint(len(x), (batch,), device=device)])
        with torch.no_grad():
            fake = G(torch.randn(batch, z_dim, device=device))
        out_real, out_fake = D(real), D(fake)
        loss_d = (F.binary_cross_entropy_with_logits(out_real, torch.ones_like(out_real))
                  + F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake)))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        out = D(G(torch.randn(batch, z_dim, device=device)))
        loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        float(loss_d.detach()), float(loss_g.detach())
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch * 2 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks (trainer path)")
    parser.add_argument("--preset", default="quick", help="preset giving resolution, width and batch size")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before each measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the median is reported")
    parser.add_argument("--generators", default=None, help="comma list (default: every registered one)")
    parser.add_argument("--memory-format", choices=["default", "contiguous", "channels_last"], default="default",
                        help="the trainer's memory format (default: the trainer's own choice for the device)")
    parser.add_argument("--compare-memory-formats", action="store_true",
                        help="time contiguous and channels_last training interleaved and report the speed-up")
    parser.add_argument("--compare-read-every", default=None, metavar="A,B",
                        help="time the trainer reading losses every A and every B steps, interleaved")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    channels_last = {"default": None, "contiguous": False, "channels_last": True}[args.memory_format]
    read_intervals = [int(s) for s in args.compare_read_every.split(",")] if args.compare_read_every else []
    if read_intervals and len(read_intervals) != 2:
        parser.error("--compare-read-every takes two intervals, e.g. 1,10")
    configure_backends(device)
    preset = get_preset(args.preset)
    data = load_dataset("digits", preset.resolution)
    spec = DataSpec(data.kind, data.channels, data.resolution, data.num_classes)
    names = args.generators.split(",") if args.generators else [n for n, c in GENERATORS if c.supports_images]
    rows = []
    for name in names:
        runs: dict[str, list[float]] = {"ganbench": [], "plain": [], "contiguous": [], "channels_last": []}
        for _ in range(args.repeats):
            for every in read_intervals:
                runs.setdefault(f"read_every={every}", []).append(trainer_throughput(
                    name, data, spec, preset, device, args.steps, args.warmup, args.compile, channels_last, every))
            if read_intervals:
                continue
            if args.compare_memory_formats:
                for fmt, choice in (("contiguous", False), ("channels_last", True)):
                    runs[fmt].append(trainer_throughput(name, data, spec, preset, device, args.steps, args.warmup,
                                                        args.compile, choice))
                continue
            runs["ganbench"].append(trainer_throughput(name, data, spec, preset, device, args.steps, args.warmup,
                                                       args.compile, channels_last))
            if name == "dcgan":
                runs["plain"].append(plain_dcgan_throughput(data, spec, preset, device, args.steps, args.warmup))
        if read_intervals:
            a, b = (f"read_every={every}" for every in read_intervals)
            row = {"generator": name, a: statistics.median(runs[a]), b: statistics.median(runs[b])}
            row["speedup"] = row[b] / row[a]
            rows.append(row)
            print(f"{name:20s} {a} {row[a]:9.1f}  {b} {row[b]:9.1f} img/s  speedup {row['speedup']:.3f}", flush=True)
            continue
        if args.compare_memory_formats:
            default = "channels_last" if uses_channels_last(GENERATORS.get(name), device) else "contiguous"
            row = {"generator": name, "default": default,
                   **{fmt: statistics.median(runs[fmt]) for fmt in ("contiguous", "channels_last")}}
            row["speedup"] = row["channels_last"] / row["contiguous"]
            rows.append(row)
            print(f"{name:20s} contiguous {row['contiguous']:9.1f}  channels_last {row['channels_last']:9.1f} img/s"
                  f"  speedup {row['speedup']:.2f}  (default: {row['default']})", flush=True)
            continue
        row = {"generator": name, "images_per_second": statistics.median(runs["ganbench"])}
        if runs["plain"]:
            row["plain_images_per_second"] = statistics.median(runs["plain"])
            row["ratio_vs_plain"] = row["images_per_second"] / row["plain_images_per_second"]
        rows.append(row)
        plain = f"  plain {row['plain_images_per_second']:9.1f}  ratio {row['ratio_vs_plain']:.3f}" if runs["plain"] else ""
        print(f"{name:20s} {row['images_per_second']:9.1f} img/s{plain}", flush=True)

    result = {"benchmark": "train_step", "device": str(device),
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
              "threads": torch.get_num_threads(), "torch": torch.__version__, "compile": args.compile,
              "amp_bf16": device.type == "cuda", "memory_format": args.memory_format,
              "compare_memory_formats": args.compare_memory_formats, "compare_read_every": read_intervals,
              "preset": preset.name,
              "resolution": preset.resolution, "width": preset.width, "batch_size": preset.batch_size,
              "steps": args.steps, "repeats": args.repeats, "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
