"""Wall time and peak memory of ``ganbench run --suite all`` per preset, and its slowest units.

Each preset runs as a fresh subprocess into an empty run folder; peak RSS is the largest of the
maximum resident set size that ``wait4`` reports for that subprocess and the resident memory of
its whole process tree (its ``--jobs`` workers included) sampled every half second. Peak PSS is
the tree's proportional set size sampled the same way: pages shared by the workers (the PyTorch
libraries) counted once in all rather than once per process. Per-unit times come from the records.

    PYTHONPATH=. python benchmarks/suite.py [--presets smoke,quick] [--suite all] [--out FILE.json]
        [--keep DIR]   # keep each preset's run folder as DIR/PRESET (e.g. for quality_targets.py)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def process_tree(root: int) -> set[int]:
    """``root`` and all its descendants, from /proc (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return tree


def tree_memory_mib(root: int) -> tuple[float, float]:
    """Summed RSS and summed PSS of a process tree in MiB. RSS counts pages that processes share
    (the PyTorch libraries every worker maps) once per process; PSS splits them among the
    sharers, so its sum is what the tree occupies."""
    rss = pss = 0
    for pid in process_tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines()[1:] if ":" in line)
        rss += int(fields.get("Rss", "0 kB").split()[0])
        pss += int(fields.get("Pss", "0 kB").split()[0])
    return rss / 1024, pss / 1024


def watch_memory(pid: int, peak: list[float], stop: threading.Event) -> None:
    """Keep the peaks of the tree's summed RSS (``peak[0]``) and summed PSS (``peak[1]``)."""
    while not stop.wait(0.5):
        rss, pss = tree_memory_mib(pid)
        peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)


def run_preset(suite: str, preset: str, device: str, out: Path, threads: int | None, jobs: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "ganbench", "run", "--suite", suite, "--preset", preset,
                                    "--device", device, "--out", str(out), "--jobs", str(jobs), "--quiet"],
                                   cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=err)
        peak, stop = [0.0, 0.0], threading.Event()
        watcher = threading.Thread(target=watch_memory, args=(process.pid, peak, stop), daemon=True)
        watcher.start()
        _, status, usage = os.wait4(process.pid, 0)
        stop.set()
        watcher.join()
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
    return {"preset": preset, "jobs": jobs, "exit_code": process.returncode, "wall_seconds": wall,
            "peak_rss_mib": max(usage.ru_maxrss / 1024, peak[0]), "peak_pss_mib": peak[1], "units": units, "stderr_tail": stderr[-2000:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="all")
    parser.add_argument("--presets", default="smoke,quick")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--top", type=int, default=10, help="slowest units to print per preset")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (ganbench run --jobs)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep each preset's run folder as KEEP/PRESET")
    args = parser.parse_args()
    existing = [args.keep / preset for preset in args.presets.split(",") if args.keep and (args.keep / preset).exists()]
    if existing:
        parser.error(f"--keep: {existing[0]} already exists (a run folder must start empty)")

    results = []
    for preset in args.presets.split(","):
        if args.keep is not None:
            folder = args.keep / preset
            folder.mkdir(parents=True)
            result = run_preset(args.suite, preset, args.device, folder, args.threads, args.jobs)
        else:
            with tempfile.TemporaryDirectory(prefix=f"ganbench-suite-{preset}-") as temporary:
                result = run_preset(args.suite, preset, args.device, Path(temporary), args.threads, args.jobs)
        result["threads"] = args.threads
        results.append(result)
        print(f"\n{args.suite} @ {preset}: {result['wall_seconds']:.1f} s wall, peak RSS {result['peak_rss_mib']:.0f} MiB "
              f"(summed over processes), peak PSS {result['peak_pss_mib']:.0f} MiB, "
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
