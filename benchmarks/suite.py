"""Wall time and peak memory of ``ganbench run --suite all`` per preset, and its slowest units.

Each preset runs as a fresh subprocess into an empty run folder; peak RSS is the maximum resident
set size that ``wait4`` reports for that subprocess. Per-unit times come from the records.

    PYTHONPATH=. python benchmarks/suite.py [--presets smoke,quick] [--suite all] [--out FILE.json]
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


def run_preset(suite: str, preset: str, device: str, out: Path, threads: int | None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "ganbench", "run", "--suite", suite, "--preset", preset,
                                    "--device", device, "--out", str(out), "--quiet"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode()
    units = []
    for path in sorted((out / "records").glob("*.json")):
        record = json.loads(path.read_text())
        label = "/".join(filter(None, [record.get("detector"), record.get("train_generator"), record.get("generator")]))
        units.append({"kind": record["kind"], "unit": label, "status": record["status"], "seconds": record["seconds"]})
    units.sort(key=lambda u: -u["seconds"])
    return {"preset": preset, "exit_code": process.returncode, "wall_seconds": wall,
            "peak_rss_mib": usage.ru_maxrss / 1024, "units": units, "stderr_tail": stderr[-2000:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="all")
    parser.add_argument("--presets", default="smoke,quick")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--top", type=int, default=10, help="slowest units to print per preset")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    results = []
    for preset in args.presets.split(","):
        with tempfile.TemporaryDirectory(prefix=f"ganbench-suite-{preset}-") as folder:
            result = run_preset(args.suite, preset, args.device, Path(folder), args.threads)
        result["threads"] = args.threads
        results.append(result)
        print(f"\n{args.suite} @ {preset}: {result['wall_seconds']:.1f} s wall, peak RSS {result['peak_rss_mib']:.0f} MiB, "
              f"exit code {result['exit_code']}, {len(result['units'])} units")
        print(f"  {'seconds':>9s}  {'kind':10s} {'unit':40s} status")
        for unit in result["units"][: args.top]:
            print(f"  {unit['seconds']:9.2f}  {unit['kind']:10s} {unit['unit']:40s} {unit['status']}")
        if result["exit_code"] not in (0, 1):
            print(result["stderr_tail"])
    if args.out:
        args.out.write_text(json.dumps({"benchmark": "suite", "suite": args.suite, "cpus": os.cpu_count(),
                                        "results": results}, indent=1))


if __name__ == "__main__":
    main()
