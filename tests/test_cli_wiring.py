"""Each command hands its options to the code that does its work, and refuses before that work starts.

The work itself (sampling a trained generator, fitting detectors, extracting features) is stood in
for by recorders, so these tests check the commands' wiring alone; the work has tests of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.errors import UserError


def test_sample_hands_its_seeds_truncation_and_values_on_and_writes_the_labels(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from ganbench.context import RunContext

    asked: dict[str, Any] = {}

    def recorded(self: RunContext, name: str, n: int, seed: int, truncation: float | None = None,
                 raw_values: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        asked.update(name=name, n=n, seed=seed, truncation=truncation, raw_values=raw_values,
                     train_seed=self.config.seed)
        return torch.arange(n * 64, dtype=torch.uint8).reshape(n, 1, 8, 8), torch.tensor([3, 1, 4, 1])[:n]

    monkeypatch.setattr(RunContext, "samples", recorded)
    (tmp_path / "runs").mkdir()
    args = ["sample", "biggan", "--runs", str(tmp_path / "runs"), "--preset", "smoke", "--n", "4", "--seed", "7",
            "--train-seed", "2", "--truncation", "0.5", "--raw-values", "--out", str(tmp_path / "s.npz")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert asked == {"name": "biggan", "n": 4, "seed": 7, "truncation": 0.5, "raw_values": True, "train_seed": 2}
    written = np.load(tmp_path / "s.npz")
    assert written["y"].tolist() == [3, 1, 4, 1] and written["x"].shape == (4, 1, 8, 8)


class StoppedDetect:
    """Stands in for ``ganbench.forensics.Detect``: keeps the request and stops before any image is read."""

    requests: list[Any] = []

    def __init__(self, request: Any, *printers: Any) -> None:
        self.requests.append(request)
        self.choices: list[Any] = []

    def run(self) -> None:
        raise UserError("stopped before the work")


def test_detect_hands_every_option_to_the_detection_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganbench.forensics as forensics

    monkeypatch.setattr(forensics, "Detect", StoppedDetect)
    StoppedDetect.requests.clear()
    args = ["detect", "--detector", "spectrum", "--detector-arg", "epochs=2", "--real", "folder:r", "--fakes",
            "g=folder:f", "--train-real", "folder:tr", "--train-fakes", "folder:tf", "--size", "32", "--resize",
            "resize", "--perturbation", "jpeg:70", "--scores", str(tmp_path / "s.csv"), "--save-detector",
            str(tmp_path / "d.pt"), "--seed", "5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "stopped before the work" in result.output
    (request,) = StoppedDetect.requests
    assert (request.detectors, request.arguments, request.real, request.fakes) == (
        ["spectrum"], ["epochs=2"], "folder:r", ["g=folder:f"])
    assert (request.train_real, request.train_fakes, request.size, request.resize) == (
        "folder:tr", "folder:tf", 32, "resize")
    assert (request.perturbations, request.scores, request.save_detector, request.seed) == (
        ["jpeg:70"], tmp_path / "s.csv", tmp_path / "d.pt", 5)


def test_eval_detector_refuses_a_constructor_argument_before_any_work(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from ganbench.runner import SuiteRunner

    def no_work(self: SuiteRunner) -> None:
        raise AssertionError("the suite started")

    monkeypatch.setattr(SuiteRunner, "run", no_work)
    result = CliRunner().invoke(app, ["eval-detector", "spectrum", "--preset", "smoke", "--out", str(tmp_path / "run"),
                                      "--detector-arg", "no_such_argument=1"])
    assert result.exit_code == 2 and "no_such_argument" in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1


def test_metrics_scores_input_one_against_input_two_with_the_interval_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    import ganbench.folder_metrics as folder_metrics

    asked: list[tuple[list[str], Any, Any]] = []

    def recorded(inputs: list[str], wanted: Any, options: Any, **kwargs: Any) -> dict[str, Any]:
        asked.append((inputs, wanted, options))
        return {"metrics": {"precision": 0.25}, "protocol": {}}

    monkeypatch.setattr(folder_metrics, "score", recorded)
    for flag, intervals in (("--no-intervals", False), ("--intervals", True)):
        result = CliRunner().invoke(app, ["metrics", "folder:fakes", "folder:reals", "--prdc", "--extractor",
                                          "classifier", flag, "--json", "--quiet"])
        assert result.exit_code == 0, result.output
        inputs, wanted, options = asked[-1]
        assert inputs == ["folder:fakes", "folder:reals"] and wanted == ["prdc"]
        assert (options.quality.intervals is not None) is intervals
        assert json.loads(result.stdout)["metrics"] == {"precision": 0.25}


def test_stats_refuses_an_existing_file_before_reading_any_image(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import ganbench.folder_metrics as folder_metrics

    def no_work(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("images were read")

    monkeypatch.setattr(folder_metrics, "statistics", no_work)
    out = tmp_path / "stats.npz"
    out.write_bytes(b"earlier statistics")
    result = CliRunner().invoke(app, ["stats", "digits", "--out", str(out), "--extractor", "classifier"])
    assert result.exit_code == 2 and "exists; pass --force to overwrite it" in result.output
    assert out.read_bytes() == b"earlier statistics"
