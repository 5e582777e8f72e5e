"""Soak test: a suite killed with SIGKILL at random moments, over and over, ends with the records
of an uninterrupted run, damages healed on the way.

One uninterrupted run of ``--suite`` at ``--preset`` gives the reference records. Then, in a
fresh folder, the same command is started ``--rounds`` times and killed after a random delay
(uniform in ``[0, --max-delay]`` seconds, seeded); between rounds, with probability ``--damage``,
one finished file is damaged at random: a checkpoint or fakes file truncated, a record's JSON
cut short, or the reference classifier's cache overwritten. A last run without a kill must exit
0 and leave records equal, field by field, to the reference's (wall-clock measures excepted), no
lock files behind, and every fakes file readable. Prints one line per round and a summary; exit
code 1 when the final records differ.

    PYTHONPATH=. python benchmarks/soak.py --rounds 20 [--suite dcgan,cgan,spectrum] [--preset smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IDENTITY = ("kind", "generator", "train_generator", "perturbation", "detector")


def command(suite: str, preset: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "ganbench", "run", "--suite", suite, "--preset", preset, "--out", str(out), "-q"]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def comparable(out: Path) -> dict[tuple, dict]:
    """Records by unit identity, with wall-clock measures left out."""
    found = {}
    for path in sorted((out / "records").glob("*.json")):
        try:
            body = json.loads(path.read_text())
        except ValueError:
            continue
        key = tuple(body.get(k) for k in IDENTITY)
        found[key] = {"status": body.get("status"),
                      **{k: v for k, v in body.get("metrics", {}).items() if "second" not in k}}
    return found


def damage(out: Path, rng: random.Random) -> str:
    """Damage one finished file at random; returns what was done."""
    candidates = ([("checkpoint", p) for p in (out / "checkpoints").glob("*.pt")]
                  + [("fakes", p) for p in (out / "fakes").glob("*.npz")]
                  + [("record", p) for p in (out / "records").glob("*.json")]
                  + [("cache", p) for p in (out / "cache").glob("classifier-*.pt")])
    if not candidates:
        return "nothing to damage yet"
    what, path = rng.choice(candidates)
    data = path.read_bytes()
    path.write_bytes(data[: max(1, len(data) // 3)])
    return f"truncated {what} {path.name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="dcgan,cgan,spectrum")
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--max-delay", type=float, default=20.0)
    parser.add_argument("--damage", type=float, default=0.3, help="probability of damaging a file between rounds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        reference, soaked = Path(tmp) / "reference", Path(tmp) / "soaked"
        started = time.perf_counter()
        done = subprocess.run(command(args.suite, args.preset, reference), env=environment(), capture_output=True,
                              text=True)
        if done.returncode != 0:
            print(f"reference run failed ({done.returncode}): {done.stderr.strip()[-500:]}")
            return 1
        print(f"reference run: {time.perf_counter() - started:.1f} s, {len(comparable(reference))} records")
        for round_ in range(1, args.rounds + 1):
            delay = rng.uniform(0, args.max_delay)
            process = subprocess.Popen(command(args.suite, args.preset, soaked), env=environment(),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                code = process.wait(timeout=delay)
                state = f"finished before the kill (exit {code})"
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                state = "killed"
            note = damage(soaked, rng) if rng.random() < args.damage else "no damage"
            print(f"round {round_:3d}: {state} after {delay:5.1f} s; {len(comparable(soaked))} records; {note}")
        final = subprocess.run(command(args.suite, args.preset, soaked), env=environment(), capture_output=True,
                               text=True)
        expected, got = comparable(reference), comparable(soaked)
        differing = sorted(str(k) for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
        locks = list((soaked / "locks").iterdir()) if (soaked / "locks").is_dir() else []
        print(f"final run: exit {final.returncode}; {len(got)} records, {len(differing)} differing from the "
              f"reference; {len(locks)} lock file(s) left")
        for key in differing[:10]:
            print(f"  differs: {key}")
        return 0 if final.returncode == 0 and not differing and not locks else 1


if __name__ == "__main__":
    sys.exit(main())
