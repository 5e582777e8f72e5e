"""``benchmarks/gpu.py``: the whole check on the CPU at tiny sizes, and its one line without CUDA."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gpu_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ganbench_gpu_check", ROOT / "benchmarks" / "gpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv,message", [([], "no CUDA device here"),
                                          (["--cpu", "--variants", "dcgan,nope"], "unknown image generator(s) nope"),
                                          (["--cpu", "--modes", "plain,fast"], "unknown mode(s) fast"),
                                          (["--cpu", "--sections", "prdc,speed"], "unknown section(s) speed"),
                                          (["--cpu", "--seed-batch-variants", "gan,dcgan"],
                                           "unknown seed-batch variant(s) dcgan"),
                                          (["--cpu", "--resolutions", "8,x"], "--resolutions takes a comma list"),
                                          (["--cpu", "--resolutions", "4"], "at least 8 pixels"),
                                          (["--cpu", "--batch", "0"], "--batch and --suite-jobs at least 1"),
                                          (["--cpu", "--suite-jobs", "0"], "--batch and --suite-jobs at least 1")])
def test_mistakes_end_with_one_line_and_exit_2(gpu_check: ModuleType, argv: list[str], message: str,
                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["gpu.py", *argv])
    with pytest.raises(SystemExit) as stopped:
        gpu_check.main()
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and message in err


def test_cpu_check_measures_every_section(gpu_check: ModuleType, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "check.json"
    assert gpu_check.run(torch.device("cpu"), quick=True, variants=["dcgan"], out=out) == 0
    result = json.loads(out.read_text())
    assert result["device"].startswith("CPU") and result["torch"] == torch.__version__
    assert [(r["resolution"], r["mode"], r["status"]) for r in result["training"]] == [
        (8, "plain", "ok"), (8, "ganbench", "ok"), (8, "amp", "ok"), (16, "plain", "ok"), (16, "ganbench", "ok"),
        (16, "amp", "ok")]
    assert all(r["images_per_second"] > 0 and r["steps_per_second"] > 0 for r in result["training"])
    assert [(r["resolution"], r["status"]) for r in result["sampling"]] == [(8, "ok"), (16, "ok")]
    assert [(r["network"], r["resolution"]) for r in result["features"]] == [("classifier", 8), ("classifier", 16),
                                                                             ("inception", 16)]
    assert result["prdc"]["n"] == 1000 and 0 < result["prdc"]["precision"] <= 1
    (determinism,) = result["determinism"]
    assert determinism["status"] == "ok" and determinism["same_losses"] and determinism["same_weights"]
    assert [(r["variant"], r["status"]) for r in result["seed_batches"]] == [
        (name, "ok") for name in gpu_check.SEED_BATCH_VARIANTS]
    assert all(r["batched_per_second"] > 0 and r["speedup"] > 0 for r in result["seed_batches"])
    printed = capsys.readouterr().out
    assert printed.startswith("# ganbench GPU check: CPU")
    assert "| dcgan | 8 | plain |" in printed and "| 1.00 |" in printed
    for title in ("Training throughput", "Sampling throughput", "Feature throughput", "PRDC (k = 5)", "Determinism",
                  "Toy-2D seeds trained as one batched model"):
        assert f"### {title}" in printed


def test_chosen_modes_sections_batch_and_sizes(gpu_check: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    modes = [gpu_check.MODES[name] for name in ("plain", "bf16", "compiled-plain")]
    assert gpu_check.run(torch.device("cpu"), quick=True, variants=["dcgan"], out=out, modes=modes,
                         sections=("training",), batch=4, resolutions=(8,)) == 0
    result = json.loads(out.read_text())
    assert [(r["resolution"], r["mode"], r["status"]) for r in result["training"]] == [
        (8, "plain", "ok"), (8, "bf16", "ok"), (8, "compiled-plain", "ok")]
    assert result["sizes"]["batch"] == 4 and result["sizes"]["resolutions"] == [8]
    assert not result["sampling"] and not result["features"] and result["prdc"] is None


def test_seed_batches_time_the_chosen_toy_variants(gpu_check: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    assert gpu_check.run(torch.device("cpu"), quick=True, variants=["dcgan"], out=out, sections=("seed_batches",),
                         seed_batch_variants=("sngan", "gan+packing")) == 0
    rows = json.loads(out.read_text())["seed_batches"]
    assert [(r["variant"], r["status"]) for r in rows] == [("sngan", "ok"), ("gan+packing", "ok")]


def test_a_failed_measurement_says_where_and_keeps_its_traceback(gpu_check: ModuleType, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_training(*args: object, **kwargs: object) -> None:
        raise AssertionError

    monkeypatch.setattr(gpu_check, "train", broken_training)
    out = tmp_path / "check.json"
    assert gpu_check.run(torch.device("cpu"), quick=True, variants=["dcgan"], out=out, modes=[gpu_check.MODES["plain"]],
                         sections=("training",), resolutions=(8,)) == 1
    (row,) = json.loads(out.read_text())["training"]
    assert row["status"] == "failed: AssertionError:  (at test_gpu_check.py:{} in broken_training)".format(
        broken_training.__code__.co_firstlineno + 1)
    assert "Traceback (most recent call last)" in row["traceback"] and "raise AssertionError" in row["traceback"]


def test_the_quick_suite_runs_with_the_chosen_workers(gpu_check: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = []

    def finished(command: list[str], **kwargs: object) -> object:
        commands.append(command)
        return type("Done", (), {"returncode": 0, "stderr": "582 unit(s) computed, 0 reused"})()

    monkeypatch.setattr(gpu_check.subprocess, "run", finished)
    suite = gpu_check.suite_wall_time(torch.device("cpu"), 10.0, jobs=4)
    (command,) = commands
    assert command[command.index("--jobs") + 1] == "4" and command[command.index("--device") + 1] == "cpu"
    assert suite["status"] == "ok" and suite["jobs"] == 4 and suite["summary"] == "582 unit(s) computed, 0 reused"
    report = gpu_check.report({"training": [], "host_syncs": [], "sampling": [], "features": [], "prdc": None,
                               "determinism": [], "suite": suite})
    assert "`ganbench run --suite all --preset quick --jobs 4`:" in report
