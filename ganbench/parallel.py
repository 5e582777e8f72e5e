"""``ganbench run --jobs N``: a suite's work items done by N worker processes on one machine.

A run has two stages: the generators (train, sample, measure) and then the detectors (one work
item per detector and training set, and one per null check), since detectors need every
generator's fakes. In each stage the workers hand out the work items first come, first served:
an item belongs to the worker that creates its claim file first, so a slow item (a CycleGAN, a
ResNet-50) does not hold back the items behind it. Workers share the machine's CPU threads
evenly, and the calling process is one of the workers. Units are written exactly as a serial
run writes them (the per-unit locks still apply); a last pass in the calling process reads every
unit back, computes whatever a failed worker left, and returns the summary. Budgets are steps,
so a unit gives the records of a serial run with the worker's thread count. A run killed with
kill -9 leaves its claim folder (``jobs-*``, naming its owner); the next ``--jobs`` run on the
folder removes those whose owner, a process of this host, is gone.

SIGINT and SIGTERM stop a worker's work item as they stop the main process (its unit's lock
released, no traceback); an idle or starting worker ignores them (it is spawned with SIGINT
ignored) and leaves when the pool shuts down. An interrupted main process stops its workers
before it exits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ganbench.context import RunConfig
from ganbench.errors import Interrupted
from ganbench.locks import LockHolder, gone_from_this_host, this_process
from ganbench.runner import SuiteRunner
from ganbench.units import RunSummary

STAGES = ("generators", "detectors")
CLAIMS_PREFIX = "jobs-"
CLAIMS_OWNER = "owner.json"


class Claims:
    """Work items claimed by creating a file exclusively in ``folder`` (one folder per run)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def take(self, item: str) -> bool:
        path = self.folder / hashlib.sha256(item.encode()).hexdigest()[:24]
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return False
        return True


def _run_stage(config: RunConfig, stage: str, claims: Path) -> int:
    """One worker's share of a stage; returns the units it computed."""
    runner = SuiteRunner(replace(config, quiet=True), Console(stderr=True, quiet=True))
    return runner.run(stage, Claims(claims).take).computed


def _set_signals(handler: Any) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)


def _stop_worker(signum: int, frame: object) -> None:
    """A busy worker's SIGINT and SIGTERM: stop its work item once (a second signal, such as the
    main process's terminate after a Ctrl-C, does not break the unwinding)."""
    _set_signals(signal.SIG_IGN)
    raise Interrupted(signum)


def _start_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    _set_signals(signal.SIG_IGN)


def _worker_stage(config: RunConfig, stage: str, claims: Path) -> int:
    """:func:`_run_stage` in a worker, stopped by SIGINT and SIGTERM only while it runs."""
    _set_signals(_stop_worker)
    try:
        return _run_stage(config, stage, claims)
    finally:
        _set_signals(signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Workers spawned in here inherit an ignored SIGINT (a Ctrl-C while they import would print a
    traceback); in the main thread only, where signal handlers live."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def remove_claims_of_killed_runs(root: Path, console: Console) -> None:
    """Remove the claim folders that ``--jobs`` runs of this host left when they were killed
    (kill -9 runs no clean-up); a folder whose owner lives, or ran on another host, stays."""
    for folder in sorted(root.glob(f"{CLAIMS_PREFIX}*")):
        try:
            holder = LockHolder.parse((folder / CLAIMS_OWNER).read_bytes(), 0.0)
        except OSError:
            continue
        if gone_from_this_host(holder):
            shutil.rmtree(folder, ignore_errors=True)
            console.print(f"removed {folder}, the claim folder of a killed run ({holder.describe()})")


def run_in_workers(config: RunConfig, console: Console, jobs: int) -> RunSummary:
    """Run the suite with ``jobs`` workers (this process and ``jobs - 1`` spawned ones), then read
    it back in this process. The reference classifier, which the generation units share, is
    trained (or loaded) here first, so that no two workers train it at once. A unit that failed
    in a worker is tried once more in the last pass, where its error is shown. Every process of
    the run, this one included, computes with the workers' thread count (part of every unit key)."""
    all_threads = torch.get_num_threads()
    threads = max(1, all_threads // jobs)
    torch.set_num_threads(threads)
    try:
        return _run_with_workers(config, console, jobs, threads)
    finally:
        torch.set_num_threads(all_threads)


def _run_with_workers(config: RunConfig, console: Console, jobs: int, threads: int) -> RunSummary:
    runner = SuiteRunner(config, console)
    runner.plan()
    context = runner.context
    if context.data.kind == "image" and (context.data.num_classes > 1 or config.extractor == "classifier"):
        context.extractor()
    root = context.store.root
    del runner, context
    remove_claims_of_killed_runs(root, console)
    claims_root = Path(tempfile.mkdtemp(prefix=CLAIMS_PREFIX, dir=root))
    (claims_root / CLAIMS_OWNER).write_text(json.dumps(this_process()))
    computed = 0
    try:
        with ProcessPoolExecutor(jobs - 1, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_start_worker, initargs=(threads,)) as pool:
            for stage in STAGES:
                console.print(f"[bold]{stage}[/]: {jobs} workers, {threads} thread(s) each")
                folder = claims_root / stage
                folder.mkdir()
                with _sigint_ignored():
                    others = [pool.submit(_worker_stage, config, stage, folder) for _ in range(jobs - 1)]
                try:
                    computed += _run_stage(config, stage, folder)
                    computed += sum(future.result() for future in others)
                except Interrupted as exc:
                    for worker in multiprocessing.active_children():
                        worker.terminate()
                    exc.unit, exc.out = exc.unit or f"the {stage} of the run ({jobs} workers)", exc.out or root
                    raise
    except BrokenProcessPool:
        console.print("[yellow]a worker process died; the remaining units run in this process")
    finally:
        shutil.rmtree(claims_root, ignore_errors=True)
    summary = SuiteRunner(config, console).run()
    summary.computed += computed
    summary.reused -= computed
    return summary
