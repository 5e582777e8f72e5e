"""SIGINT and SIGTERM stop a run with one line (what was interrupted, what is kept, how to resume),
released locks and exit code 128 + signal (130, 143); the same command then finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_with_one_line_and_the_run_resumes(signum: int, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "ganbench", "train", "dcgan", "--preset", "smoke", "--checkpoint-every", "5",
            "--quiet", "--out", str(tmp_path)]
    running = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list((tmp_path / "checkpoints").glob("*.pt")) and running.poll() is None:
        time.sleep(0.02)
    running.send_signal(signum)
    _, stderr = running.communicate(timeout=120)
    assert running.returncode == 128 + signum, stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"train dcgan interrupted by {signal.Signals(signum).name}; ")
    assert f"finished units are kept in {tmp_path / 'records'}" in line and "resumes from its last checkpoint" in line
    assert line.endswith("run the same command again to continue")
    assert not list((tmp_path / "locks").iterdir())
    if signum == signal.SIGINT:
        resumed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr
