"""Run store: stable keys, atomic writes, verified records, safe checkpoints."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ganbench.errors import UserError
from ganbench.records import Record, TrainRecord
from ganbench.locks import LOCK_TIMEOUT_ENV, UnitLock, _pid_scope
from ganbench.store import (CACHE_ENV, DamagedFile, RunStore, _checksum, atomic_write_bytes, file_digest, file_mode,
                            load_npz, read_npz, unit_key, write_npz)


def test_unit_key_is_stable_and_order_free():
    assert unit_key({"a": 1, "b": [1, 2]}) == unit_key({"b": [1, 2], "a": 1})
    assert unit_key({"a": 1}) != unit_key({"a": 2})


def test_unit_key_is_the_first_12_hex_digits_of_the_sorted_compact_json_sha256():
    blob = '{"a":1,"b":[1,2]}'
    assert unit_key({"b": [1, 2], "a": 1}) == hashlib.sha256(blob.encode()).hexdigest()[:12]


def test_a_files_digest_is_the_first_16_hex_digits_of_the_sha256_of_all_its_bytes(tmp_path: Path):
    """A file over the 1 MiB read block is hashed whole: an edit past the first block changes its digest."""
    data = bytes(range(256)) * 4096 + b"tail"
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert file_digest(path) == hashlib.sha256(data).hexdigest()[:16]


def test_labels_are_made_safe_file_names(tmp_path: Path):
    """A label's path separators, spaces and other characters become ``_`` (one per run of them),
    so every unit's files stay in their folder; a long label is cut to 80 characters."""
    store = RunStore(tmp_path)
    assert store.record_path("train", "gan+packing/../x y", "k").name == "train-gan_packing_.._x_y-k.json"
    assert store.checkpoint_path("a" * 100, "k").name == "a" * 80 + "-k.pt"


def test_the_cache_variable_names_the_cache_folder(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "shared"))
    assert RunStore(tmp_path / "out").cache_dir == tmp_path / "shared"


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path, monkeypatch):
    target = tmp_path / "x.json"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(UserError, match="cannot write .*x.json: disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_records_round_trip_and_damaged_ones_are_ignored(tmp_path: Path):
    store = RunStore(tmp_path)
    record = Record(kind="generation", key="abc", dataset="digits", preset="smoke", seed=0, generator="dcgan",
                    metrics={"fid": 12.5, "nan": float("nan")})
    path = store.write_record(record, "dcgan")
    body = store.find_record("generation", "dcgan", "abc")
    assert body.metrics == {"fid": 12.5, "nan": None} and body.status == "ok"

    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    assert store.find_record("generation", "dcgan", "abc") is None
    tampered = json.loads(text)
    tampered["metrics"]["fid"] = 1.0
    path.write_text(json.dumps(tampered))
    assert store.find_record("generation", "dcgan", "abc") is None and list(store.records()) == []


def test_a_checksummed_record_of_no_known_layout_is_damaged_not_a_crash(tmp_path: Path):
    store = RunStore(tmp_path)
    body = {"kind": "train", "metrics": {}}
    path = store.record_path("train", "dcgan", "abc")
    path.write_text(json.dumps({**body, "checksum": _checksum(body)}))
    with pytest.raises(DamagedFile, match="fields of no known record layout"):
        RunStore.load_record(path)
    assert store.find_record("train", "dcgan", "abc") is None and list(store.records()) == []


def test_each_units_files_are_its_own(tmp_path: Path):
    """Two units of one generator (another key: other settings) or two generators never share a file."""
    store = RunStore(tmp_path)
    paths = [
        lambda label, key: store.record_path("train", label, key),
        store.checkpoint_path, store.curves_path, store.tensorboard_dir, store.fakes_path, store.samples_path,
        lambda label, key: store.lock("train", label, key).path,
    ]
    for path in paths:
        assert len({path("dcgan", "aaa"), path("dcgan", "bbb"), path("wgan", "aaa")}) == 3


def test_records_read_back_typed_by_their_kind_with_exact_integers(tmp_path: Path):
    """A train record reads back as a :class:`TrainRecord` (its checkpoint and steps at hand), an
    integer metric beyond a float's 53 bits stays exact, and an unknown kind reads as a plain record."""
    store = RunStore(tmp_path)
    big = 2**53 + 1
    store.write_record(TrainRecord(kind="train", key="k", dataset="digits", preset="smoke", seed=0,
                                   metrics={"steps": np.int64(big), "params": 7},
                                   info={"checkpoint": "checkpoints/gan-k.pt"}), "gan")
    record = store.find_record("train", "gan", "k")
    assert isinstance(record, TrainRecord) and record.checkpoint == "checkpoints/gan-k.pt"
    assert record.steps == big and type(record.metrics["steps"]) is int and type(record.metrics["params"]) is int
    store.write_record(Record(kind="someday", key="k", dataset="digits", preset="smoke", seed=0), "gan")
    assert type(store.find_record("someday", "gan", "k")) is Record


def test_a_record_with_a_field_of_a_later_version_is_read(tmp_path: Path):
    """Fields this version does not know are left out; the record is not taken for damaged."""
    store = RunStore(tmp_path)
    path = store.write_record(Record(kind="generation", key="k", dataset="digits", preset="smoke", seed=0,
                                     metrics={"fid": 3.0}), "gan")
    body = json.loads(path.read_text())
    del body["checksum"]
    body["added_later"] = [1, 2]
    body["checksum"] = _checksum(body)
    path.write_text(json.dumps(body))
    record = store.find_record("generation", "gan", "k")
    assert record is not None and record.metrics == {"fid": 3.0}


def test_a_diverged_unit_is_finished_but_not_ok():
    diverged = Record(kind="train", key="k", dataset="digits", preset="smoke", seed=0, status="diverged")
    assert diverged.finished and not diverged.ok
    assert Record(kind="train", key="k", dataset="digits", preset="smoke", seed=0).ok


def test_out_that_is_a_file_is_a_user_error(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        RunStore(tmp_path / "file")


def test_checkpoints_cannot_run_code(tmp_path: Path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"model": Payload()}))
    with pytest.raises(UserError, match="unsafe"):
        RunStore.load_checkpoint(evil)
    assert not (tmp_path / "pwned").exists()
    store = RunStore(tmp_path / "run")
    store.save_checkpoint(tmp_path / "ok.pt", {"w": torch.ones(2), "step": 3})
    assert RunStore.load_checkpoint(tmp_path / "ok.pt")["step"] == 3


def test_a_trained_generator_is_read_back_only_from_a_finished_record_of_its_own_variant(tmp_path: Path):
    """A failed training's record is no trained generator; an ok one gives its checkpoint's weights; a
    checkpoint of another variant of the same shapes (gan where gan+label-smoothing is asked for) is refused."""
    from ganbench.context import RunConfig, RunContext
    from ganbench.presets import get_preset
    from ganbench.units import train_unit

    context = RunContext(RunConfig("gan", get_preset("smoke"), out=tmp_path / "run", quiet=True))
    model = context.build("gan")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.5)
    (context.store.root / "checkpoints").mkdir(exist_ok=True)
    context.store.save_checkpoint(context.store.root / "checkpoints" / "gan.pt",
                                  {"variant": "gan", "model": model.state_dict()})
    unit = train_unit(context.scope, "gan")

    def record(status: str) -> TrainRecord:
        written = context.scope.new_record(unit.kind, unit.key, generator="gan", status=status,
                                           info={"checkpoint": "checkpoints/gan.pt"})
        context.store.write_record(written, unit.label)
        return written

    record("failed")
    with pytest.raises(UserError, match="no trained gan"):
        context.trained_model("gan")
    finished = record("ok")
    loaded = context.trained_model("gan")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    with pytest.raises(UserError, match=r"checkpoint of 'gan' where 'gan\+label-smoothing' was expected"):
        context.load_trained("gan+label-smoothing", finished)


def test_npz_round_trip_and_truncation(tmp_path: Path):
    path = tmp_path / "f.npz"
    write_npz(path, x=torch.arange(6).numpy())
    assert read_npz(path)["x"].tolist() == list(range(6))
    path.write_bytes(path.read_bytes()[:20])
    assert read_npz(path) is None


def test_an_npz_holding_pickled_objects_is_refused_unread(tmp_path: Path):
    """An ``.npz`` member that needs unpickling is damage, never loaded (unpickling can run code)."""
    path = tmp_path / "fakes.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DamagedFile, match="unreadable"):
        load_npz(path, "fakes")
    assert read_npz(path) is None


def test_runs_share_the_reference_classifier_through_the_cache_variable(smoke_run, shared_cache: Path):
    out, _ = smoke_run
    assert list(shared_cache.glob("classifier-*.pt")), "the smoke run trains its classifier into $GANBENCH_CACHE"
    assert not list((out / "cache").iterdir())
    assert RunStore(out).cache_dir == shared_cache


def test_without_the_cache_variable_a_run_keeps_its_own_cache(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV)
    assert RunStore(tmp_path).cache_dir == tmp_path / "cache"


# -- unit locks


def write_lock(path: Path, host: str = "other-host", pid: int = 4242, heartbeat: float | None = None,
               **extra: Any) -> None:
    """A lock file as another process writes it, put in place atomically."""
    body = {"host": host, "pid": pid, "unit": "train dcgan", "started": time.time(),
            "heartbeat": time.time() if heartbeat is None else heartbeat, "token": "theirs", **extra}
    tmp = path.with_name(path.name + ".writing")
    tmp.write_text(json.dumps(body))
    os.replace(tmp, path)


def lock_body(path: Path) -> dict[str, Any]:
    """The lock file's JSON (read again if caught in the middle of a heartbeat)."""
    for _ in range(20):
        try:
            return json.loads(path.read_text())
        except ValueError:
            time.sleep(0.01)
    raise AssertionError(f"{path} holds no JSON")


def acquire_in_background(lock: UnitLock) -> threading.Thread:
    thread = threading.Thread(target=lock.acquire, daemon=True)
    thread.start()
    return thread


def heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lock heartbeat")]


def test_lock_of_another_host_is_waited_for_while_it_beats_then_taken_over(tmp_path: Path):
    path = tmp_path / "unit.lock"
    write_lock(path)
    messages: list[str] = []
    lock = UnitLock(path, poll=0.01, label="train dcgan", timeout=0.5, on_wait=messages.append, report_every=0.1)
    started = time.monotonic()
    thread = acquire_in_background(lock)
    while time.monotonic() - started < 0.8:
        write_lock(path)
        time.sleep(0.05)
    assert thread.is_alive() and not lock.held and lock.waited
    assert "waiting for train dcgan: locked by pid 4242 on other-host" in messages[0]
    assert "waiting since" in messages[0] and len(messages) >= 3

    beats_stopped = time.monotonic()
    thread.join(3)
    assert not thread.is_alive() and lock.held and time.monotonic() - beats_stopped > 0.4
    body = lock_body(path)
    assert (body["host"], body["pid"], body["unit"]) == (socket.gethostname(), os.getpid(), "train dcgan")
    assert "took over the lock of pid 4242 on other-host" in messages[-1]
    lock.release()
    assert not path.exists() and not heartbeat_threads()


def test_lock_of_a_dead_process_of_this_host_is_taken_over_at_once(tmp_path: Path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "unit.lock"
    write_lock(path, host=socket.gethostname(), pid=dead.pid, pid_scope=_pid_scope())
    started = time.monotonic()
    with UnitLock(path, poll=0.01, timeout=60) as lock:
        assert lock_body(path)["pid"] == os.getpid()
    assert time.monotonic() - started < 1 and not lock.waited and not path.exists()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_zombie_holds_no_lock(tmp_path: Path):
    """A holder that has exited but not been reaped by its parent (a zombie) still has its pid; it holds nothing."""
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(500):
            if Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.01)
        else:
            pytest.fail("the child never became a zombie")
        path = tmp_path / "unit.lock"
        write_lock(path, host=socket.gethostname(), pid=zombie.pid, pid_scope=_pid_scope())
        started = time.monotonic()
        with UnitLock(path, poll=0.01, timeout=60) as lock:
            assert lock_body(path)["pid"] == os.getpid()
        assert time.monotonic() - started < 1 and not lock.waited
    finally:
        zombie.wait()


def test_a_pid_of_another_boot_or_namespace_is_not_judged_here(tmp_path: Path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "unit.lock"
    write_lock(path, host=socket.gethostname(), pid=dead.pid, pid_scope="another boot")
    started = time.monotonic()
    with UnitLock(path, poll=0.01, timeout=0.3) as lock:
        assert lock.waited and time.monotonic() - started > 0.25


def test_a_dead_pid_of_another_host_is_not_judged_here(tmp_path: Path):
    """A pid free on this host says nothing of a process of another host: its lock is waited out."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "unit.lock"
    write_lock(path, host="other-host", pid=dead.pid, pid_scope=_pid_scope())
    started = time.monotonic()
    with UnitLock(path, poll=0.01, timeout=0.3) as lock:
        assert lock.waited and time.monotonic() - started > 0.25


def test_a_holder_whose_clock_runs_ahead_is_taken_over_once_it_stops_beating(tmp_path: Path):
    """A heartbeat stamped an hour in the future never looks old by the holder's clock; the lock is
    stale once it has stood unchanged for the timeout."""
    path = tmp_path / "unit.lock"
    write_lock(path, heartbeat=time.time() + 3600)
    lock = UnitLock(path, poll=0.01, timeout=0.3)
    started = time.monotonic()
    thread = acquire_in_background(lock)
    thread.join(3)
    assert lock.held and lock.waited and time.monotonic() - started > 0.25
    lock.release()
    assert not path.exists()


def race_for_the_lock(path: str, log: str, barrier: Any, die: bool) -> None:
    """Take the lock, mark entering and leaving in ``log``, then release it or die holding it."""
    barrier.wait()
    lock = UnitLock(Path(path), poll=0.005, timeout=2)
    lock.acquire()
    with open(log, "a") as f:
        f.write(f"enter {os.getpid()}\n")
    time.sleep(0.02)
    with open(log, "a") as f:
        f.write(f"exit {os.getpid()}\n")
    if die:
        os._exit(0)
    lock.release()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_processes_racing_to_take_over_a_stale_lock_hold_it_one_at_a_time(tmp_path: Path):
    """Four processes race for a stale lock of another host; where dead processes can be told from
    live ones, two of them die holding it, so the others race again to take over a dead process's
    lock. Every hold is whole and alone."""
    context = multiprocessing.get_context("fork")
    dying = Path("/proc/self/stat").exists()
    for round_ in range(5):
        path, log = tmp_path / f"unit-{round_}.lock", tmp_path / f"log-{round_}"
        write_lock(path, heartbeat=time.time() - 60)
        barrier = context.Barrier(4)
        racers = [context.Process(target=race_for_the_lock, args=(str(path), str(log), barrier, dying and i % 2 == 0))
                  for i in range(4)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(10)
        assert [racer.exitcode for racer in racers] == [0] * 4
        events = [line.split() for line in log.read_text().splitlines()]
        assert len(events) == 8
        for enter, leave in zip(events[::2], events[1::2]):
            assert enter[0] == "enter" and leave == ["exit", enter[1]], events
        assert {pid for _, pid in events} == {str(racer.pid) for racer in racers}
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_heartbeat_advances_while_held_and_stops_on_release(tmp_path: Path):
    path = tmp_path / "unit.lock"
    with UnitLock(path, timeout=0.4, heartbeat=0.05) as lock:
        first = lock_body(path)
        time.sleep(0.3)
        later = lock_body(path)
        assert later["heartbeat"] > first["heartbeat"] + 0.1
        assert later["started"] == first["started"] and later["token"] == first["token"]
        assert len(heartbeat_threads()) == 1 and not lock.lost
    assert not path.exists() and not heartbeat_threads()


def test_old_format_lock_is_understood(tmp_path: Path):
    path = tmp_path / "unit.lock"
    path.write_text("4242 other-host")
    messages: list[str] = []
    lock = UnitLock(path, poll=0.01, timeout=1, on_wait=messages.append)
    thread = acquire_in_background(lock)
    time.sleep(0.2)
    assert thread.is_alive() and "locked by pid 4242 on other-host" in messages[0]
    os.utime(path, (time.time() - 60, time.time() - 60))
    thread.join(2)
    assert lock.held and lock_body(path)["pid"] == os.getpid()
    lock.release()
    assert not path.exists()


def test_an_owner_that_was_taken_over_leaves_the_new_lock_alone(tmp_path: Path):
    path = tmp_path / "unit.lock"
    lock = UnitLock(path, timeout=60, heartbeat=0.02)
    lock.acquire()
    write_lock(path)
    time.sleep(0.2)
    assert lock.lost
    lock.release()
    assert lock_body(path)["host"] == "other-host" and not heartbeat_threads()


def test_lock_is_released_on_exceptions(tmp_path: Path):
    path = tmp_path / "unit.lock"
    with pytest.raises(KeyError), UnitLock(path):
        assert path.exists()
        raise KeyError("boom")
    assert not path.exists() and not heartbeat_threads()


def test_lock_timeout_comes_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.5")
    lock = UnitLock(tmp_path / "unit.lock")
    assert lock.timeout == 0.5 and lock.heartbeat == 0.125
    assert UnitLock(tmp_path / "unit.lock", timeout=300).heartbeat == 10
    for bad in ("soon", "0", "-3", "nan", "inf"):
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, bad)
        with pytest.raises(UserError, match=LOCK_TIMEOUT_ENV):
            UnitLock(tmp_path / "unit.lock")


def test_store_lock_names_its_unit(tmp_path: Path):
    store = RunStore(tmp_path)
    with store.lock("train", "dcgan", "abc", on_wait=print) as lock:
        assert lock_body(tmp_path / "locks" / "train-dcgan-abc.lock")["unit"] == "train dcgan"
        assert lock.on_wait is print and not lock.waited
    assert not list((tmp_path / "locks").iterdir())


def test_written_files_are_readable_as_the_umask_allows(tmp_path: Path):
    previous = os.umask(0o022)
    file_mode.cache_clear()
    try:
        store = RunStore(tmp_path)
        record = store.write_record(Record(kind="train", key="k", dataset="digits", preset="smoke", seed=0), "gan")
        checkpoint = store.checkpoint_path("gan", "k")
        store.save_checkpoint(checkpoint, {"step": 1})
        assert {stat.S_IMODE(p.stat().st_mode) for p in (record, checkpoint)} == {0o644}
    finally:
        os.umask(previous)
        file_mode.cache_clear()
