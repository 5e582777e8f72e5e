"""Splitting a suite: ``--shard i/n`` runs on one folder add up to the unsharded run, and
``--jobs N`` workers write the records of a serial run."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from rich.console import Console

from ganbench import parallel
from ganbench.cli import app
from ganbench.context import RunConfig
from ganbench.errors import Interrupted
from ganbench.locks import this_process
from ganbench.parallel import CLAIMS_OWNER, CLAIMS_PREFIX, STAGES, Claims, remove_claims_of_killed_runs, run_in_workers
from ganbench.presets import PRESETS, Preset
from ganbench.planning import shard_of
from ganbench.store import RunStore
from ganbench.units import RunSummary
from ganbench.generators import GENERATORS
from ganbench.generators.dcgan import DCGAN

TINY = Preset("tiny-shard", resolution=16, steps=8, batch_size=16, width=8,
              checkpoint_every=100, n_eval=100, n_detector_train=60, n_detector_test=40,
              detector_epochs=1, classifier_epochs=1)


class WideDCGAN(DCGAN):
    """A second registered generator, so that two shards each get one."""

    name = "dcgan-wide"


@pytest.fixture()
def two_generators(monkeypatch):
    """The tiny preset and a second generator; one CPU thread, which is fastest for such small tensors."""
    monkeypatch.setitem(PRESETS._entries, TINY.name, TINY)
    monkeypatch.setitem(GENERATORS._entries, WideDCGAN.name, WideDCGAN)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(cli, out: Path, *extra: str) -> None:
    args = ["run", "--suite", "dcgan,dcgan-wide,spectrum", "--preset", TINY.name, "--out", str(out), "-q", *extra]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output


def comparable(out: Path) -> dict[tuple[str, str], tuple]:
    """Every record's identity and results; timings (``*seconds*`` metrics) naturally differ."""
    return {(r.kind, r.key): (r.status, r.generator, r.train_generator,
                              {k: v for k, v in r.metrics.items() if "second" not in k})
            for r in RunStore(out).records()}


def test_shards_round_robin_over_sorted_names():
    names = ["wgan", "dcgan", "began", "sngan", "lsgan"]
    shards = [shard_of(names, (i, 3)) for i in (1, 2, 3)]
    assert shards == [["began", "sngan"], ["wgan", "dcgan"], ["lsgan"]]
    assert sorted(sum(shards, [])) == sorted(names)
    assert shard_of(names, None) == names


def test_two_shards_produce_the_records_of_one_run(cli, tmp_path: Path, two_generators):
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    run(cli, whole)

    run(cli, sharded, "--shard", "1/2")
    done_by_first = {(kind, value[1]) for (kind, _), value in comparable(sharded).items()}
    assert done_by_first == {("train", "dcgan"), ("sample", "dcgan"), ("generation", "dcgan")}

    run(cli, sharded, "--shard", "2/2")
    records = comparable(sharded)
    expected = comparable(whole)
    detections = sum(1 for kind, _ in records if kind == "detection")
    assert detections > 4 and detections == sum(1 for kind, _ in expected if kind == "detection")
    assert records == expected


@pytest.mark.parametrize("spec", ["3/2", "0/2", "1", "a/b"])
def test_bad_shard_is_one_line(cli, tmp_path: Path, spec: str):
    result = cli.invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path), "--shard", spec])
    assert result.exit_code == 2 and "--shard" in result.output and len(result.output.strip().splitlines()) == 1


def test_jobs_write_the_records_of_a_serial_run(tmp_path: Path):
    """Two workers on the smoke suite: the generator stage has one item, the detector stage three
    (two training sets and the null check); every unit of a serial run with a worker's thread
    count is there with the same results, and the claim files are gone. (The thread count must
    match: channels_last convolutions on the CPU round differently with one thread than with two,
    which training amplifies to ~1e-4 in the weights.)"""
    root = Path(__file__).resolve().parents[1]
    threads = torch.get_num_threads()

    def smoke(out: Path, n_threads: int, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ganbench", "run", "--suite", "smoke", "--preset", "smoke",
                               "--out", str(out), *options], check=False, cwd=root, capture_output=True, text=True,
                              timeout=300,
                              env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": str(n_threads)})

    jobs = tmp_path / "jobs"
    done = smoke(jobs, threads, "--jobs", "2")
    serial_done = smoke(tmp_path / "serial", max(1, threads // 2))
    assert done.returncode == 0 and serial_done.returncode == 0, done.stderr + serial_done.stderr
    assert re.search(rf"detectors: 2 workers, {max(1, threads // 2)} thread", done.stderr)
    parallel, serial = comparable(jobs), comparable(tmp_path / "serial")
    assert parallel.keys() == serial.keys() and len(parallel) > 20
    for key, (status, generator, trained_on, metrics) in serial.items():
        assert parallel[key][:3] == (status, generator, trained_on)
        assert parallel[key][3] == pytest.approx(metrics, rel=1e-5, abs=1e-6), key
    assert not list(jobs.glob("jobs-*")) and not list((jobs / "locks").iterdir())


def test_jobs_below_one_is_one_line(cli, tmp_path: Path):
    result = cli.invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path), "--jobs", "0"])
    assert result.exit_code == 2 and "--jobs" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_work_item_is_claimed_by_one_worker_only(tmp_path: Path):
    first, second = Claims(tmp_path), Claims(tmp_path)
    items = ["generator dcgan", "detector spectrum all", "null check spectrum"]
    assert [first.take(item) for item in items] == [True, True, True]
    assert [second.take(item) for item in items] == [False, False, False]
    assert [first.take(item) for item in items] == [False, False, False]
    assert second.take("generator dcgan-wide") and len(list(tmp_path.iterdir())) == 4


def test_claim_folders_of_killed_runs_are_removed_and_others_kept(tmp_path: Path):
    """kill -9 leaves a ``--jobs`` run's claim folder behind; the next run removes it when its
    owner was a process of this host that has ended, and keeps a live owner's or another host's."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owners = {"dead": {**this_process(), "pid": dead.pid}, "live": this_process(),
              "elsewhere": {**this_process(), "pid": dead.pid, "host": "another-host"}}
    for name, owner in owners.items():
        (tmp_path / f"{CLAIMS_PREFIX}{name}" / "generators").mkdir(parents=True)
        (tmp_path / f"{CLAIMS_PREFIX}{name}" / CLAIMS_OWNER).write_text(json.dumps(owner))
    (tmp_path / f"{CLAIMS_PREFIX}unnamed").mkdir()
    console = Console(record=True, width=200)
    remove_claims_of_killed_runs(tmp_path, console)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{CLAIMS_PREFIX}{n}" for n in ("elsewhere", "live", "unnamed")]
    assert console.export_text().strip() == (f"removed {tmp_path / (CLAIMS_PREFIX + 'dead')}, the claim folder of a "
                                              f"killed run (pid {dead.pid} on {os.uname().nodename})")


WORK_ITEMS = {"generators": ["generator dcgan", "generator dcgan-wide"],
              "detectors": ["detector spectrum dcgan", "detector spectrum all", "null check spectrum"]}


class SerialPool:
    """A process pool whose workers run each submitted stage at once, in this process (so they
    claim every item before the calling process does), or whose futures all raise ``failure``."""

    failure: BaseException | None = None

    def __init__(self, workers: int, **options: object) -> None:
        self.workers = workers

    def __enter__(self) -> SerialPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        if self.failure is not None:
            future.set_exception(self.failure)
        else:
            future.set_result(fn(*args))
        return future


@pytest.fixture()
def fake_suite(monkeypatch, tmp_path: Path):
    """A suite of five work items: each stage computes the items it claims, the last pass the rest
    and reuses what is there; the thread count of every pass is noted."""
    done: set[str] = set()
    threads: list[int] = []

    class Runner:
        def __init__(self, config: RunConfig, console: Console | None = None) -> None:
            self.context = SimpleNamespace(data=SimpleNamespace(kind="points"), store=SimpleNamespace(root=config.out))

        def plan(self) -> tuple[list, list]:
            return [], []

        def run(self, stage: str = "all", take=lambda item: True) -> RunSummary:
            threads.append(torch.get_num_threads())
            items = sum((WORK_ITEMS[s] for s in STAGES), []) if stage == "all" else WORK_ITEMS[stage]
            new = [item for item in items if item not in done and take(item)]
            done.update(new)
            return RunSummary(computed=len(new), reused=len(items) - len(new))

    monkeypatch.setattr(parallel, "SuiteRunner", Runner)
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", SerialPool)
    monkeypatch.setattr(parallel, "_set_signals", lambda handler: None)
    saved = torch.get_num_threads()
    torch.set_num_threads(4)
    yield SimpleNamespace(config=RunConfig("fake", TINY, out=tmp_path), done=done, threads=threads)
    torch.set_num_threads(saved)


def test_jobs_count_the_units_their_workers_computed_and_share_the_threads(fake_suite, tmp_path: Path):
    """Units computed by workers count as computed, not as reused by the last pass; every pass runs
    on the workers' share of the threads, given back afterwards; no claim folder is left, and the
    one a killed run left is removed."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{CLAIMS_PREFIX}killed"
    stale.mkdir()
    (stale / CLAIMS_OWNER).write_text(json.dumps({**this_process(), "pid": dead.pid}))
    summary = run_in_workers(fake_suite.config, Console(quiet=True), jobs=2)
    assert (summary.computed, summary.reused) == (5, 0) and len(fake_suite.done) == 5
    assert fake_suite.threads == [2] * 5 and torch.get_num_threads() == 4
    assert not list(tmp_path.glob(f"{CLAIMS_PREFIX}*"))


def test_a_dead_worker_is_reported_and_its_units_computed_here(fake_suite, monkeypatch, tmp_path: Path):
    monkeypatch.setattr(SerialPool, "failure", BrokenProcessPool("a worker died"))
    console = Console(record=True, width=200)
    summary = run_in_workers(fake_suite.config, console, jobs=3)
    assert "a worker process died" in console.export_text()
    assert (summary.computed, summary.reused) == (5, 0) and fake_suite.threads[-1] == 1
    assert not list(tmp_path.glob(f"{CLAIMS_PREFIX}*")) and torch.get_num_threads() == 4


def test_a_worker_error_stops_the_run(fake_suite, monkeypatch, tmp_path: Path):
    monkeypatch.setattr(SerialPool, "failure", RuntimeError("the worker's unit broke"))
    with pytest.raises(RuntimeError, match="unit broke"):
        run_in_workers(fake_suite.config, Console(quiet=True), jobs=2)
    assert not list(tmp_path.glob(f"{CLAIMS_PREFIX}*")) and torch.get_num_threads() == 4



def test_a_worker_starts_on_its_share_of_the_threads_with_signals_ignored(monkeypatch):
    """A spawned worker computes on the thread count in every unit key, and an idle one ignores Ctrl-C."""
    handlers: list[object] = []
    monkeypatch.setattr(parallel, "_set_signals", handlers.append)
    saved = torch.get_num_threads()
    try:
        parallel._start_worker(3)
        assert torch.get_num_threads() == 3 and handlers == [signal.SIG_IGN]
    finally:
        torch.set_num_threads(saved)


def test_a_stopped_worker_ignores_a_second_signal_while_it_unwinds(monkeypatch):
    handlers: list[object] = []
    monkeypatch.setattr(parallel, "_set_signals", handlers.append)
    with pytest.raises(Interrupted) as stopped:
        parallel._stop_worker(signal.SIGTERM, None)
    assert stopped.value.signum == signal.SIGTERM and handlers == [signal.SIG_IGN]


def test_more_jobs_than_threads_run_on_one_thread_each_and_name_their_owner(fake_suite, monkeypatch, tmp_path: Path):
    """Eight jobs on four threads: every pass and every worker runs one thread; the claim folder
    names this process as its owner while the stages run (so a kill -9 leaves it removable)."""
    pools: list[dict[str, object]] = []
    owners: list[dict[str, object]] = []

    class RecordingPool(SerialPool):
        def __init__(self, workers: int, **options: object) -> None:
            super().__init__(workers, **options)
            pools.append({"workers": workers, **options})

    def run_stage(config: RunConfig, stage: str, claims: Path) -> int:
        owners.append(json.loads((claims.parent / CLAIMS_OWNER).read_text()))
        return original(config, stage, claims)

    original = parallel._run_stage
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(parallel, "_run_stage", run_stage)
    summary = run_in_workers(fake_suite.config, Console(quiet=True), jobs=8)
    assert (summary.computed, summary.reused) == (5, 0) and set(fake_suite.threads) == {1}
    assert [(p["workers"], p["initializer"], p["initargs"]) for p in pools] == [(7, parallel._start_worker, (1,))]
    assert len(owners) == 2 * 8 and all((o["pid"], o["host"]) == (os.getpid(), socket.gethostname()) for o in owners)
    assert torch.get_num_threads() == 4
