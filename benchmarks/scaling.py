"""How the per-unit work grows with the number of fakes (1k, 10k, 50k by default).

For each count, a fresh subprocess times the three stages whose cost depends on it: sampling the
fakes (DCGAN at the preset's width), quality metrics (classifier feature extraction of the fakes,
then FID against the real test split) and detector scoring (the spectrum detector, fitted once
on a fixed 1k/1k set, scoring all fakes). Time per 1k fakes should stay flat (linear growth) or
fall; peak RSS of the subprocess shows the memory cost of the larger counts.

    PYTHONPATH=. python benchmarks/scaling.py [--counts 1000,10000,50000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(n: int, preset_name: str, device_name: str, cache: Path) -> dict[str, float]:
    """Seconds of each stage for ``n`` fakes, in this process."""
    import torch

    from ganbench.detectors.spectrum import SpectrumDetector
    from ganbench.data import load_dataset
    from ganbench.features import ClassifierExtractor
    from ganbench.metrics import fid_from_features
    from ganbench.presets import get_preset
    from ganbench.runtime import resolve_device, seed_everything
    from ganbench.generators import DataSpec, create_generator

    device = resolve_device(device_name)
    preset = get_preset(preset_name)
    data = load_dataset("digits", preset.resolution)
    spec = DataSpec(data.kind, data.channels, data.resolution, data.num_classes)
    seed_everything(0)
    model = create_generator("dcgan", spec, preset_width=preset.width).to(device)
    extractor = ClassifierExtractor(data, cache, seed=0, epochs=1, device=device)
    real_features = extractor.extract(data.x_test).features
    detector = SpectrumDetector()
    detector.fit(data.x_train[:1000], model.sample(1000, seed=1))

    times: dict[str, float] = {}
    started = time.perf_counter()
    fakes = model.sample(n, seed=2)
    times["sampling"] = time.perf_counter() - started
    started = time.perf_counter()
    fid_from_features(real_features, extractor.extract(fakes).features)
    times["metrics"] = time.perf_counter() - started
    started = time.perf_counter()
    scores = detector.score(fakes)
    times["detector_scoring"] = time.perf_counter() - started
    assert len(scores) == n and fakes.dtype == torch.uint8
    return times


def run_count(n: int, preset: str, device: str, cache: Path, threads: int | None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--one", str(n), "--preset", preset,
                                    "--device", device, "--cache", str(cache)], cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"measurement of {n} fakes failed:\n{stderr[-3000:]}")
    return {"fakes": n, "seconds": json.loads(stdout.strip().splitlines()[-1]), "peak_rss_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1000,10000,50000")
    parser.add_argument("--preset", default="quick", help="preset giving resolution and width")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one is not None:
        print(json.dumps(measure(args.one, args.preset, args.device, args.cache)))
        return
    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory(prefix="ganbench-scaling-") as cache:
        run_count(min(counts), args.preset, args.device, Path(cache), args.threads)
        rows = [run_count(n, args.preset, args.device, Path(cache), args.threads) for n in counts]
    base = rows[0]
    stages = list(base["seconds"])
    print(f"{'fakes':>7s}  " + "  ".join(f"{s + ' s':>18s} {'per 1k':>7s}" for s in stages) + f"  {'peak RSS':>9s}")
    for row in rows:
        cells = [f"{row['seconds'][s]:18.2f} {1000 * row['seconds'][s] / row['fakes']:7.3f}" for s in stages]
        print(f"{row['fakes']:7d}  " + "  ".join(cells) + f"  {row['peak_rss_mib']:6.0f} MiB")
    for row in rows[1:]:
        growth = {s: (row["seconds"][s] / base["seconds"][s]) / (row["fakes"] / base["fakes"]) for s in stages}
        row["cost_per_fake_vs_smallest"] = growth
        print(f"{row['fakes']} vs {base['fakes']}: time per fake x" + ", ".join(f"{s} {g:.2f}" for s, g in growth.items())
              + "  (<= 1: linear or better)")
    if args.out:
        args.out.write_text(json.dumps({"benchmark": "scaling", "preset": args.preset, "device": args.device,
                                        "cpus": os.cpu_count(), "threads": args.threads, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
