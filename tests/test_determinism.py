"""No result depends on the machine's load: budgets are steps, and every schedule follows steps.

The smoke suite run while a busy loop competes for the CPU writes the same records, field for
field, as the same command on a quiet machine; only wall-clock fields differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.planning import parse_seeds

ROOT = Path(__file__).resolve().parent.parent
WALL_CLOCK = ("created", "seconds", "checksum")
WALL_CLOCK_INFO = ("fit_seconds", "images_per_second")


def without_wall_clock(body: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in body.items() if k not in WALL_CLOCK}
    body["metrics"] = {k: v for k, v in body["metrics"].items() if "second" not in k}
    body["info"] = {k: v for k, v in body["info"].items() if k not in WALL_CLOCK_INFO}
    return body


def records(out: Path) -> dict[str, dict[str, Any]]:
    return {p.name: without_wall_clock(json.loads(p.read_text())) for p in sorted((out / "records").glob("*.json"))}


BUSY_LOOP = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


def test_a_busy_machine_writes_the_records_of_a_quiet_one(smoke_run, tmp_path: Path) -> None:
    quiet, result = smoke_run
    assert result.exit_code == 0, result.output
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP])]
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        loaded = subprocess.run([sys.executable, "-m", "ganbench", "run", "--suite", "smoke", "--preset", "smoke",
                                 "--out", str(tmp_path), "--quiet"], env=env, capture_output=True, text=True)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert loaded.returncode == 0, loaded.stderr
    expected, found = records(quiet), records(tmp_path)
    assert found.keys() == expected.keys() and len(found) > 10
    for name, body in expected.items():
        assert found[name] == body, name


def test_seeds_run_every_unit_once_per_seed(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["run", "--suite", "gan", "--preset", "smoke", "--dataset", "toy2d", "--quiet"]
    both = runner.invoke(app, [*args, "--seeds", "2", "--out", str(tmp_path / "both")])
    assert both.exit_code == 0, both.output
    alone = runner.invoke(app, [*args, "--seed", "1", "--out", str(tmp_path / "alone")])
    assert alone.exit_code == 0, alone.output
    seeds = {body["seed"] for body in records(tmp_path / "both").values()}
    assert seeds == {0, 1}
    one = {n: b for n, b in records(tmp_path / "both").items() if b["seed"] == 1}
    assert one == records(tmp_path / "alone")


@pytest.mark.parametrize("text,seeds", [("3", (0, 1, 2)), ("0,4,2", (0, 4, 2)), ("1", (0,))])
def test_seeds_are_a_count_or_a_list(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("args", [["--seeds", "0"], ["--seeds", "a,b"], ["--seeds", "1,1"], ["--seeds", "-1,2"],
                                  ["--seeds", "0,4294967296"], ["--seeds", "2", "--seed", "3"],
                                  ["--max-minutes", "0"]])
def test_bad_seeds_and_limits_end_with_one_line(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--suite", "gan", "--preset", "smoke", "--out", str(tmp_path), *args])
    assert result.exit_code == 2 and not list((tmp_path / "records").glob("*.json"))
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_each_seed_initialises_and_trains_its_own_generator(tmp_path: Path) -> None:
    """Seeds are what a table's intervals over seeds vary: the run seed reaches a generator's initial
    weights and its training's draws (from the same initial weights, another seed trains other
    weights); the same seed repeats both."""
    import copy
    import dataclasses

    import torch

    from ganbench.cli import _run_config
    from ganbench.context import build_generator, run_data, training_config
    from ganbench.generation import training_inputs
    from ganbench.generators.trainer import train

    def flat(model: torch.nn.Module) -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    configs = {seed: _run_config("dcgan", preset="smoke", out=tmp_path, device="cpu", quiet=True, seed=seed)
               for seed in (0, 1)}
    data, spec = run_data(configs[0])
    first, other, again = (build_generator(configs[s], spec, "dcgan") for s in (0, 1, 0))
    assert torch.equal(flat(first), flat(again)) and not torch.equal(flat(first), flat(other))
    trained = {}
    for seed, model in ((0, copy.deepcopy(first)), (1, copy.deepcopy(first)), (2, copy.deepcopy(first))):
        config = configs[0 if seed == 2 else seed]
        x, y, _ = training_inputs(model, data, lambda: None)
        train(model, x, y, dataclasses.replace(training_config(config), steps=2))
        trained[seed] = flat(model)
    assert torch.equal(trained[0], trained[2]) and not torch.equal(trained[0], trained[1])
