"""``ganbench human-eval`` refuses a data set under the size a run needs, as ``run`` does, and
``--allow-small`` lets it rate one with a warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ganbench.human_eval.app as human_eval_app
from ganbench.cli import app
from ganbench.context import RunConfig, RunContext
from ganbench.generation import GenerationUnits
from ganbench.presets import get_preset
from ganbench.units import UnitEngine


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A DCGAN trained (smoke preset, with ``allow_small``) on 70 images: 56 to train, 14 to test."""
    tmp = tmp_path_factory.mktemp("small_run")
    rng = np.random.default_rng(0)
    np.savez(tmp / "seventy.npz", x_train=rng.integers(0, 256, (70, 8, 8), dtype=np.uint8),
             y_train=np.arange(70) % 2)
    dataset = f"npz:{tmp / 'seventy.npz'}"
    config = RunConfig(suite="dcgan", preset=get_preset("smoke"), dataset=dataset, out=tmp / "run", quiet=True,
                       allow_small=True)
    context = RunContext(config)
    units = GenerationUnits(context, UnitEngine(context.store, context.scope, context.console), curves=None)
    assert units.train_generator("dcgan").status == "ok"
    return tmp / "run", dataset


def test_human_eval_refuses_a_small_set_unless_allowed(small_run, monkeypatch) -> None:
    out, dataset = small_run
    args = ["human-eval", "--out", str(out), "--dataset", dataset, "--n", "4", "--port", "0"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1, refused.output
    assert "14 test image(s), fewer than 20" in refused.output and "--allow-small" in refused.output

    served: list[int] = []
    monkeypatch.setattr(human_eval_app, "serve", lambda session, rater, port, on_ready: served.append(session.total))
    allowed = CliRunner().invoke(app, [*args, "--allow-small"])
    assert allowed.exit_code == 0, allowed.output
    assert served == [4]
    warning = " ".join(allowed.stderr.split())
    assert "14 test image(s), fewer than 20" in warning and "running anyway (--allow-small)" in warning
    assert "no votes yet" in warning
