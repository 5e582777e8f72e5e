"""--set and --config: validated against the dataclasses, part of the keys, listed in the records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.context import RunContext
from ganbench.errors import UserError
from ganbench.overrides import Overrides, build_overrides
from ganbench.presets import get_preset
from ganbench.units import Scope, train_unit


def test_overrides_convert_to_the_field_types(tmp_path: Path):
    file = tmp_path / "exp.toml"
    file.write_text("[preset]\nsteps = 7\n\n[dcgan]\nlr = 0.001\nbetas = [0.0, 0.9]\n")
    overrides = build_overrides(["dcgan.lr=1e-4", "preset.batch_size=8"], file)
    assert dict(overrides.preset) == {"steps": 7, "batch_size": 8}
    assert overrides.for_generator("dcgan") == {"lr": 1e-4, "betas": (0.0, 0.9)}
    assert overrides.apply_to_preset(get_preset("smoke")).steps == 7
    assert build_overrides(["preset.resolution=none", "wgan-gp.n_critic=3"]).for_generator("wgan-gp") == {"n_critic": 3}


@pytest.mark.parametrize("option, message", [
    ("dcgan.lrr=1", "dcgan has no field 'lrr' (did you mean 'lr'?)"),
    ("dcgna.lr=1", "unknown target 'dcgna'"),
    ("dcgan.lr=fast", "'fast' is not a valid float"),
    ("preset.steps=-3", "preset.steps must be positive"),
    ("preset.name=x", "preset has no field 'name'"),
    ("steps=3", "expected TARGET.FIELD=VALUE"),
    ("dcgan.betas=0.5", "is not 2 comma-separated values"),
])
def test_bad_overrides_are_one_line_errors(option, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        build_overrides([option])


def test_a_generator_override_changes_only_its_own_training_key():
    plain = Scope("digits", "f", "image", get_preset("smoke"), 0)
    tuned = Scope("digits", "f", "image", get_preset("smoke"), 0, build_overrides(["dcgan.lr=1e-4"]))
    assert train_unit(plain, "dcgan").key != train_unit(tuned, "dcgan").key
    assert train_unit(plain, "wgan").key == train_unit(tuned, "wgan").key
    assert Scope("digits", "f", "image", get_preset("smoke"), 0, Overrides()).base() == plain.base()


def test_overrides_reach_the_model_and_the_train_record(tmp_path: Path):
    out = tmp_path / "run"
    (tmp_path / "exp.toml").write_text("[preset]\nsteps = 3\n")
    result = CliRunner().invoke(app, ["train", "dcgan", "--preset", "smoke", "--out", str(out), "-q",
                                      "--config", str(tmp_path / "exp.toml"), "--set", "dcgan.z_dim=16",
                                      "--set", "dcgan.width=4"])
    assert result.exit_code == 0, result.output
    train = next(json.loads(p.read_text()) for p in (out / "records").glob("*.json")
                 if json.loads(p.read_text())["kind"] == "train")
    assert train["metrics"]["steps"] == 3
    assert train["protocol"]["overrides"] == {"preset": {"steps": 3}, "dcgan": {"z_dim": 16, "width": 4}}
    assert train["protocol"]["hyperparameters"]["z_dim"] == 16
    assert train["protocol"]["hyperparameters"]["width"] == 4 != get_preset("smoke").width
    assert train["protocol"]["geometry"]["image_size"] == 8 and train["protocol"]["geometry"]["model_size"] == 16
    from ganbench.cli import _run_config

    config = _run_config("dcgan", preset="smoke", out=out, device="cpu", quiet=True, sets=("dcgan.z_dim=16", "dcgan.width=4"),
                         config_file=tmp_path / "exp.toml")
    trained = RunContext(config).trained_model("dcgan")
    assert (trained.config.z_dim, trained.config.width) == (16, 4)
    bad = CliRunner().invoke(app, ["train", "dcgan", "--preset", "smoke", "--out", str(out), "--set", "dcgan.zdim=3"])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1
