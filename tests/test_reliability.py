"""Fault injection: kill -9 and resume, two runs on one folder, stale locks, divergence, full disks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.presets import get_preset
from ganbench.locks import UnitLock
from ganbench.store import RunStore, read_npz

ROOT = Path(__file__).resolve().parents[1]


def ganbench(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "ganbench", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def rows(out: Path) -> list[dict]:
    return json.loads(CliRunner().invoke(app, ["leaderboard", "show", "--out", str(out), "--json"]).stdout)


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    (path,) = (out / "checkpoints").glob("dcgan-*.pt")
    state = RunStore.load_checkpoint(path)
    assert state["finished"] and state["step"] == get_preset("smoke").steps
    return state["model"]


def test_kill_during_training_resumes_to_the_uninterrupted_result(smoke_run, tmp_path: Path):
    """Killed mid-training, resumed from a checkpoint of step 5, 10, ...: the final weights equal
    those of the smoke run's uninterrupted training of the same unit (same seed, the preset's
    checkpoint interval)."""
    args = ["train", "dcgan", "--preset", "smoke", "--checkpoint-every", "5", "--quiet", "--out", str(tmp_path)]
    killed = ganbench(*args)
    deadline = time.time() + 300
    checkpoints = tmp_path / "checkpoints"
    while time.time() < deadline and not list(checkpoints.glob("dcgan-*.pt")) and killed.poll() is None:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    partial = RunStore.load_checkpoint(next(checkpoints.glob("dcgan-*.pt")))
    assert not partial["finished"] and 0 < partial["step"] < get_preset("smoke").steps
    assert not list((tmp_path / "records").glob("train-*.json"))

    resumed = ganbench(*args)
    assert resumed.wait() == 0, resumed.stderr.read()
    a, b = final_weights(tmp_path), final_weights(smoke_run[0])
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


def comparable(out: Path) -> dict[tuple, dict]:
    """Records by unit identity, with wall-clock measures (which no seed fixes) left out."""
    identity = ("kind", "generator", "train_generator", "perturbation", "detector")
    return {tuple(r[k] for k in identity): {"status": r["status"],
                                            **{k: v for k, v in r["metrics"].items() if "second" not in k}}
            for r in rows(out)}


def test_kill_in_every_phase_resumes_to_the_uninterrupted_records(smoke_run, tmp_path: Path):
    """kill -9 while writing a record, while writing fakes, in a metric unit and in a detector
    unit, one after the other; each rerun reuses what was finished, and the records in the end
    equal those of an uninterrupted run with the same seed."""
    args = ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    finished: set[tuple] = set()
    for moment in ("record", "sampling", "metrics", "detector"):
        killed = subprocess.run([sys.executable, str(ROOT / "tests" / "kill_switch.py"), moment, *args],
                                cwd=ROOT, env=env, capture_output=True, timeout=300)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        now = comparable(tmp_path)
        assert finished <= set(now) and all(record["status"] == "ok" for record in now.values())
        assert all(read_npz(path) is not None for path in (tmp_path / "fakes").glob("*.npz"))
        finished = set(now)
    assert {key[0] for key in finished} == {"train", "sample", "generation"}
    resumed = ganbench(*args)
    assert resumed.wait() == 0, resumed.stderr.read()
    assert comparable(tmp_path) == comparable(smoke_run[0])
    assert not list((tmp_path / "locks").iterdir())


def test_another_seed_gives_other_records(smoke_run, tmp_path: Path):
    other = ganbench("train", "dcgan", "--preset", "smoke", "--seed", "1", "--out", str(tmp_path), "-q")
    assert other.wait() == 0, other.stderr.read()
    mine = {key: m for key, m in comparable(tmp_path).items() if key[0] == "generation"}
    base = {key: m for key, m in comparable(smoke_run[0]).items() if key[0] == "generation"}
    assert mine.keys() == base.keys() and len(mine) == 1
    (key,) = mine
    assert mine[key].keys() == base[key].keys() and mine[key]["fid"] != base[key]["fid"]
    a, b = final_weights(tmp_path), final_weights(smoke_run[0])
    assert any(not torch.equal(a[name], b[name]) for name in a)


def test_two_runs_on_one_folder_compute_each_unit_once(tmp_path: Path):
    args = ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path)]
    first, second = ganbench(*args), ganbench(*args)
    outputs = [p.communicate() for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    computed = [int(out[1].split(" unit(s) computed")[0].split()[-1]) for out in outputs]
    records = rows(tmp_path)
    assert sum(computed) == len(records) and len(records) > 4
    assert all(r["status"] == "ok" for r in records)
    assert not list((tmp_path / "locks").iterdir())


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "unit.lock"
    path.write_text(f"{dead.pid} {os.uname().nodename}")
    lock = UnitLock(path)
    started = time.time()
    with lock:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert time.time() - started < 2 and not lock.waited and not path.exists()


def test_lock_of_a_live_process_is_waited_for(tmp_path: Path):
    path = tmp_path / "unit.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, sys.argv[2]); from ganbench.locks import UnitLock; "
        "lock = UnitLock(__import__('pathlib').Path(sys.argv[1])); lock.acquire(); "
        "print('held', flush=True); time.sleep(1.5); lock.release()"), str(path), str(ROOT)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.time()
    with UnitLock(path, poll=0.05) as lock:
        assert lock.waited and time.time() - started > 0.5
    holder.wait()


def test_divergence_ends_the_unit_and_skips_its_dependants(tmp_path: Path, monkeypatch):
    from ganbench.generators.dcgan import DCGAN

    step_of = DCGAN.generator_step

    def diverging(self, batch):
        logs = step_of(self, batch)
        return {**logs, "loss_g": logs["loss_g"] * float("nan")} if batch.step == 7 else logs

    monkeypatch.setattr(DCGAN, "generator_step", diverging)
    result = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 1
    by_kind = {r["kind"]: r for r in rows(tmp_path)}
    assert by_kind["train"]["status"] == "diverged" and "step 8" in by_kind["train"]["reason"]
    for kind in ("sample", "generation", "detection"):
        assert by_kind[kind]["status"] == "skipped" and "diverged" in by_kind[kind]["reason"]
    again = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path), "-q"])
    assert again.exit_code == 1 and by_kind["train"] == {r["kind"]: r for r in rows(tmp_path)}["train"]


def test_full_disk_is_one_line_and_keeps_earlier_records(tmp_path: Path, monkeypatch):
    import ganbench.store as store

    writes = {"n": 0}
    real_replace = os.replace

    def replace_until_full(src, dst):
        writes["n"] += 1
        if str(dst).endswith(".json") and "generation-" in str(dst):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", replace_until_full)
    result = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 2
    assert "No space left on device" in result.output and len(result.output.strip().splitlines()) == 1
    kinds = sorted(r["kind"] for r in rows(tmp_path))
    assert kinds == ["sample", "train"]
    assert not list((tmp_path / "locks").iterdir())


def test_checkpoint_of_another_variant_is_refused(tmp_path: Path):
    from ganbench.errors import UserError
    from ganbench.generators import DataSpec, create_generator
    from ganbench.generators.trainer import TrainConfig, train

    path = tmp_path / "other.pt"
    RunStore(tmp_path).save_checkpoint(path, {"variant": "wgan", "model": {}})
    model = create_generator("dcgan", DataSpec("image", 1, 32, 10), preset_width=8)
    with pytest.raises(UserError, match="checkpoint of 'wgan'"):
        train(model, torch.zeros(4, 1, 32, 32, dtype=torch.uint8), torch.zeros(4, dtype=torch.long),
              TrainConfig(steps=1, batch_size=2), path, load=RunStore.load_checkpoint)


def test_npz_with_pickled_objects_is_refused(tmp_path: Path):
    import numpy as np

    from ganbench.data import load_dataset
    from ganbench.errors import UserError

    np.savez(tmp_path / "evil.npz", x_train=np.array([object()], dtype=object), y_train=np.zeros(1))
    with pytest.raises(UserError):
        load_dataset(f"npz:{tmp_path / 'evil.npz'}")
