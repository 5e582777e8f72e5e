"""Soak test: a suite interrupted at random moments, over and over, by kill -9 and SIGINT, with two
processes on one run folder, and files damaged between rounds, ends with the records of an
uninterrupted run.

One uninterrupted ``ganbench run --jobs 2`` of ``--suite`` at ``--preset`` gives the reference
records. Then trials: in a fresh folder, rounds start two processes at once on that folder (one
with ``--jobs 2``, one serial) and send each, after its own random delay (uniform in
``[--min-delay, --max-delay]`` seconds, seeded), SIGKILL or SIGINT at random; a signal goes to the
process's group (its ``--jobs`` workers too), as a terminal's Ctrl-C or a job scheduler's kill
does. Every signal that lands before the process is done is one *interruption point*. After a
SIGINT the process must exit 130 with its last stderr line saying what was interrupted and how to
resume, and print no traceback. Between rounds, with probability ``--damage``, one finished file
is damaged (a checkpoint, fakes file, record or the classifier cache: truncated, one byte flipped,
or a record made invalid JSON). Once the folder holds every record, a last run without signals
resumes it: it must exit 0, leave records equal to the reference's apart from wall-clock fields,
no lock files, and every damaged file read since moved aside to ``<name>.damaged``; then the next
trial starts. The run stops after ``--points`` interruption points and finishes its trial.

Every process runs with ``OMP_NUM_THREADS=1`` (and its own cache folder), so that a unit gives
the same numbers whichever process or ``--jobs`` worker computes it. Prints one line per round and
a Markdown summary; exit code 1 when a resumed run differs from the reference or a check fails.

    PYTHONPATH=. python benchmarks/soak.py --points 50 [--suite dcgan,cgan,spectrum] [--preset smoke]
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.records import without_wall_clock

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"kill -9": signal.SIGKILL, "SIGINT": signal.SIGINT}


def command(suite: str, preset: str, out: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "ganbench", "run", "--suite", suite, "--preset", preset, "--out", str(out),
            "--jobs", str(jobs), "-q"]


def environment() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("GANBENCH_CACHE", None)
    return env


def records(out: Path) -> dict[str, Any]:
    """Readable records by file name, wall-clock fields left out."""
    found = {}
    for path in sorted((out / "records").glob("*.json")):
        try:
            found[path.name] = without_wall_clock(json.loads(path.read_text()))
        except ValueError:
            continue
    return found


def damage(out: Path, rng: random.Random) -> Path | None:
    """Damage one finished file at random: truncate it, flip a byte, or (a record) break its JSON."""
    candidates = sorted([*(out / "checkpoints").glob("*.pt"), *(out / "fakes").glob("*.npz"),
                         *(out / "records").glob("*.json"), *(out / "cache").glob("classifier-*.pt")])
    if not candidates:
        return None
    path = rng.choice(candidates)
    data = bytearray(path.read_bytes())
    how = rng.choice(["truncate", "flip", "json"] if path.suffix == ".json" else ["truncate", "flip"])
    if how == "truncate":
        data = data[: max(1, len(data) // 3)]
    elif how == "flip":
        data[rng.randrange(len(data))] ^= 0xFF
    else:
        data = bytearray(b"{" + data[1:])
    path.write_bytes(bytes(data))
    return path


@dataclass
class Soak:
    suite: str
    preset: str
    rng: random.Random
    points: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in KINDS})
    finished_first: int = 0
    damaged: list[Path] = field(default_factory=list)
    trials: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def interruptions(self) -> int:
        return sum(self.points.values())

    def round(self, out: Path, min_delay: float, max_delay: float) -> str:
        """Two processes on ``out``, each interrupted after its own random delay; a line on what happened."""
        started = time.monotonic()
        running = []
        for jobs in (2, 1):
            process = subprocess.Popen(command(self.suite, self.preset, out, jobs), env=environment(),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                       start_new_session=True)
            kind = self.rng.choice(list(KINDS))
            running.append((process, jobs, kind, started + self.rng.uniform(min_delay, max_delay)))
        notes = []
        for process, jobs, kind, deadline in sorted(running, key=lambda item: item[3]):
            try:
                code = process.wait(timeout=max(0.0, deadline - time.monotonic()))
                notes.append(f"jobs {jobs}: done first (exit {code})")
                self.finished_first += 1
                if code != 0:
                    self.failures.append(f"an uninterrupted process exited {code}: {process.stderr.read()[-300:]}")
                continue
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, KINDS[kind])
            code = process.wait()
            stderr = process.stderr.read()
            if code == 0:
                notes.append(f"jobs {jobs}: {kind} at {deadline - started:4.1f} s after it was done (exit 0)")
                self.finished_first += 1
                continue
            self.points[kind] += 1
            notes.append(f"jobs {jobs}: {kind} at {deadline - started:4.1f} s (exit {code})")
            if kind == "SIGINT" and not self.interrupted_cleanly(code, stderr):
                notes.append(f"SIGINT CHECK FAILED: {self.failures[-1]}")
        return "; ".join(notes)

    def interrupted_cleanly(self, code: int, stderr: str) -> bool:
        """Whether a SIGINT ended the process with exit 130, no traceback and the resume line last."""
        lines = stderr.strip().splitlines()
        if code != 128 + signal.SIGINT or not lines or "interrupted by SIGINT" not in lines[-1] \
                or "run the same command again" not in lines[-1] or "Traceback" in stderr:
            self.failures.append(f"SIGINT: exit {code}, stderr ends {' | '.join(lines[-3:])[-400:]}")
            return False
        return True

    def resume(self, out: Path, reference: dict[str, Any]) -> bool:
        """The last run of a trial, without signals; whether it matched the reference."""
        done = subprocess.run(command(self.suite, self.preset, out, 2), env=environment(), capture_output=True,
                              text=True)
        got = records(out)
        differing = sorted(name for name in reference.keys() | got.keys() if reference.get(name) != got.get(name))
        locks = list((out / "locks").iterdir())
        unhealed = [p.name for p in self.damaged if p.is_relative_to(out) and p.exists()
                    and not p.with_name(p.name + ".damaged").exists() and not intact(p)]
        matched = done.returncode == 0 and not differing and not locks and not unhealed
        self.trials.append({"rounds": 0, "matched": matched, "exit": done.returncode, "differing": differing,
                            "locks": len(locks), "unhealed": unhealed})
        if not matched:
            self.failures.append(f"resumed run: exit {done.returncode}, {len(differing)} record(s) differ "
                                 f"({', '.join(differing[:5])}), {len(locks)} lock(s) left, unhealed {unhealed}; "
                                 f"{done.stderr.strip()[-300:]}")
        return matched


def intact(path: Path) -> bool:
    """Whether a file damaged earlier was rewritten whole since (read as the run reads it)."""
    sys.path.insert(0, str(ROOT))
    from ganbench.store import DamagedFile, RunStore, load_npz, load_torch

    try:
        if path.suffix == ".json":
            RunStore.load_record(path)
        elif path.suffix == ".npz":
            load_npz(path, "fakes")
        else:
            load_torch(path, "checkpoint")
    except (OSError, DamagedFile):
        return False
    return True


def markdown(soak: Soak, args: argparse.Namespace, reference_seconds: float, n_records: int,
             total_seconds: float) -> str:
    matched = sum(t["matched"] for t in soak.trials)
    kinds = ", ".join(f"{n} {kind}" for kind, n in soak.points.items())
    return "\n".join([
        f"| soak of `--suite {args.suite} --preset {args.preset}`, seed {args.seed} | |",
        "|---|---|",
        f"| reference run (`--jobs 2`, uninterrupted) | {reference_seconds:.0f} s, {n_records} records |",
        f"| interruption points | {soak.interruptions} ({kinds}), delays {args.min_delay:g}-{args.max_delay:g} s |",
        f"| processes done before their signal | {soak.finished_first} |",
        "| processes per round | 2 at once on one folder: `--jobs 2` and serial |",
        f"| files damaged between rounds | {len(soak.damaged)} |",
        f"| resumed runs matching the uninterrupted records | {matched} of {len(soak.trials)} |",
        f"| checks failed | {len(soak.failures)} |",
        f"| total wall time | {total_seconds / 60:.1f} min |",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="dcgan,cgan,spectrum")
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--points", type=int, default=50, help="interruption points to reach")
    parser.add_argument("--min-delay", type=float, default=1.0)
    parser.add_argument("--max-delay", type=float, default=25.0)
    parser.add_argument("--damage", type=float, default=0.3, help="probability of damaging a file between rounds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rounds", type=int, default=40, help="rounds a trial may take to finish the suite")
    args = parser.parse_args()
    soak = Soak(args.suite, args.preset, random.Random(args.seed))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        reference_dir = Path(tmp) / "reference"
        done = subprocess.run(command(args.suite, args.preset, reference_dir, 2), env=environment(),
                              capture_output=True, text=True)
        reference_seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(f"reference run failed ({done.returncode}): {done.stderr.strip()[-500:]}")
            return 1
        reference = records(reference_dir)
        print(f"reference run: {reference_seconds:.1f} s, {len(reference)} records", flush=True)
        trial = 0
        while soak.interruptions < args.points:
            trial += 1
            out = Path(tmp) / f"trial-{trial}"
            out.mkdir()
            rounds = 0
            while len(records(out)) < len(reference) or any((out / "locks").glob("*.lock")):
                rounds += 1
                if rounds > args.max_rounds:
                    soak.failures.append(f"trial {trial}: {len(records(out))} of {len(reference)} records after "
                                         f"{args.max_rounds} rounds")
                    break
                line = soak.round(out, args.min_delay, args.max_delay)
                note = "no damage"
                if soak.rng.random() < args.damage and (hurt := damage(out, soak.rng)) is not None:
                    soak.damaged.append(hurt)
                    note = f"damaged {hurt.parent.name}/{hurt.name}"
                print(f"trial {trial} round {rounds:2d}: {line}; {len(records(out))} records; {note}", flush=True)
            matched = soak.resume(out, reference)
            soak.trials[-1]["rounds"] = rounds
            print(f"trial {trial}: resumed run {'matches' if matched else 'DIFFERS from'} the reference "
                  f"({soak.interruptions} interruption points so far)", flush=True)
    for failure in soak.failures:
        print(f"FAILED: {failure}")
    print()
    print(markdown(soak, args, reference_seconds, len(reference), time.perf_counter() - started))
    return 1 if soak.failures else 0


if __name__ == "__main__":
    sys.exit(main())
