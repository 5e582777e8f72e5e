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


@pytest.mark.parametrize("text, value", [("false", False), ("False", False), ("0", False), ("no", False),
                                         ("true", True), ("1", True), ("yes", True)])
def test_a_switch_is_set_from_its_words_on_the_command_line_and_in_a_file(text: str, value: bool, tmp_path: Path):
    assert build_overrides([f"ddpm.clip_denoised={text}"]).for_generator("ddpm") == {"clip_denoised": value}
    file = tmp_path / "exp.toml"
    file.write_text(f"[ddpm]\nclip_denoised = {str(value).lower()}\n")
    assert build_overrides([], file).for_generator("ddpm") == {"clip_denoised": value}
    with pytest.raises(UserError, match="'maybe' is not a valid bool"):
        build_overrides(["ddpm.clip_denoised=maybe"])


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


def test_a_run_builds_its_generators_at_the_presets_width_unless_a_width_is_set():
    """The preset's width sizes every generator of a run; a `--set NAME.width` wins for that generator only."""
    from ganbench.context import RunConfig, build_generator
    from ganbench.generators import DataSpec

    spec = DataSpec("image", 1, 16, 10)
    sizes = {}
    for width in (4, 8):
        config = RunConfig("dcgan", get_preset("smoke").with_overrides(width=width))
        model = build_generator(config, spec, "dcgan")
        assert model.config.width == width
        sizes[width] = model.parameter_count()
    assert sizes[4] < sizes[8]
    tuned = RunConfig("dcgan", get_preset("smoke").with_overrides(width=4), overrides=build_overrides(["dcgan.width=8"]))
    assert build_generator(tuned, spec, "dcgan").config.width == 8 and build_generator(tuned, spec, "gan").config.width == 4


def test_every_hyper_parameter_of_every_variant_has_a_rule_and_the_defaults_keep_it():
    import dataclasses

    from ganbench.generators import GENERATORS, generator_config
    from ganbench.generators.config_rules import has_rule

    for name in GENERATORS.names():
        missing = [f.name for f in dataclasses.fields(GENERATORS.get(name).config_class) if not has_rule(f.name)]
        assert not missing, (name, missing)
        generator_config(name, preset_width=8)


@pytest.mark.parametrize("option, message", [
    ("dcgan.lr=0", "dcgan.lr must be positive (got 0.0)"),
    ("wgan.lr=-1e-4", "wgan.lr must be positive"),
    ("dcgan.z_dim=0", "dcgan.z_dim must be positive"),
    ("wgan-gp.n_critic=0", "wgan-gp.n_critic must be positive"),
    ("dcgan.loss=bogus", "dcgan.loss must be one of nonsaturating, minimax"),
    ("vae.likelihood=poisson", "vae.likelihood must be one of bernoulli"),
    ("wgan-gp.gp_weight=-1", "wgan-gp.gp_weight must be zero or more"),
    ("stylegan2.style_mixing=1.5", "stylegan2.style_mixing must be from 0 to 1"),
    ("progan.ema_decay=1", "progan.ema_decay must be at least 0 and below 1"),
    ("dcgan.betas=0.5,1.0", "dcgan.betas must be at least 0 and below 1"),
    ("pix2pix.dropout=-0.1", "pix2pix.dropout must be at least 0 and below 1"),
    ("preset.detection_plan=bogus", "preset.detection_plan must be one of matrix, compact"),
    ("preset.max_resolution=4", "preset.max_resolution must be from 8 to 1024 pixels"),
    ("preset.resolution=100000", "preset.resolution must be from 8 to 1024 pixels"),
    ("preset.n_eval=1", "preset.n_eval must be at least 20 images"),
    ("preset.n_detector_train=5", "preset.n_detector_train must be at least 20 images"),
    ("preset.n_detector_test=19", "preset.n_detector_test must be at least 20 images"),
])
def test_a_hyper_parameter_outside_its_range_is_refused(option, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_overrides([option])


def test_the_api_refuses_a_hyper_parameter_outside_its_range_too():
    from ganbench.generators import DataSpec, create_generator

    spec = DataSpec("image", 1, 16, 10)
    assert create_generator("dcgan", spec, preset_width=8, lr=1e-3).config.lr == 1e-3
    with pytest.raises(UserError, match="dcgan.lr must be positive"):
        create_generator("dcgan", spec, preset_width=8, lr=0.0)


def test_a_variant_with_tricks_takes_its_base_variants_overrides_and_its_own_win():
    overrides = build_overrides(["gan.lr=1e-3", "gan.z_dim=8", "gan+packing.lr=5e-4"])
    assert overrides.for_generator("gan+packing") == {"lr": 5e-4, "z_dim": 8}
    assert overrides.for_generator("gan+label-smoothing") == {"lr": 1e-3, "z_dim": 8}
    assert overrides.for_generator("dcgan") == {}
    assert overrides.targets_outside(["gan+packing"]) == []
    assert overrides.targets_outside(["dcgan"]) == ["gan", "gan+packing"]


def test_an_override_for_a_generator_the_command_does_not_train(tmp_path: Path):
    out = tmp_path / "run"
    typed = CliRunner().invoke(app, ["train", "dcgan", "--preset", "smoke", "--out", str(out), "--set", "wgan.lr=1"])
    assert typed.exit_code == 2 and "does not train wgan" in typed.stderr
    assert len(typed.stderr.strip().splitlines()) == 1 and not out.exists()
    (tmp_path / "all.toml").write_text("[wgan]\nlr = 1e-4\n")
    out.mkdir()
    filed = CliRunner().invoke(app, ["sample", "dcgan", "--n", "2", "--out", str(tmp_path / "s.npz"), "--runs", str(out),
                                     "--preset", "smoke", "--config", str(tmp_path / "all.toml")])
    lines = filed.stderr.strip().splitlines()
    assert lines[0].startswith("warning: ") and "[wgan] table sets nothing here" in lines[0]
    assert filed.exit_code == 2 and "no trained dcgan" in lines[-1]


def test_every_registered_preset_keeps_the_preset_rules():
    import dataclasses

    from ganbench.presets import PRESETS, preset_field_problem

    for name, preset in PRESETS:
        problems = {f.name: preset_field_problem(f.name, getattr(preset, f.name)) for f in dataclasses.fields(preset)}
        assert not any(problems.values()), (name, problems)


def test_value_rules_accept_their_bounds_and_refuse_past_them() -> None:
    """Each rule's bounds: weights may be 0, shares may be 1, every entry of a tuple is checked."""
    from ganbench.generators.config_rules import value_problem

    assert value_problem("gp_weight", 0.0) is None and value_problem("gp_weight", -0.1) == "must be zero or more"
    assert value_problem("style_mixing", 1.0) is None and value_problem("style_mixing", 0.0) is None
    assert value_problem("style_mixing", 1.01) == "must be from 0 to 1"
    assert value_problem("betas", (0.0, 0.99)) is None
    assert value_problem("betas", (0.5, 1.0)) == "must be at least 0 and below 1"
    assert value_problem("lr", 0.0) == "must be positive" and value_problem("lr", None) is None
    assert value_problem("loss", "bogus").startswith("must be one of")


@pytest.mark.parametrize("text, message", [
    ("[preset]\nsteps = 2.5\n", "preset.steps: 2.5 is not a valid int"),
    ("[preset]\nsteps = true\n", "preset.steps: True is not a valid int"),
    ("[dcgan]\nlr = true\n", "dcgan.lr: True is not a valid float"),
    ("steps = 3\n", "'steps' must be a table"),
])
def test_a_config_file_value_of_another_type_is_refused_not_cast(text: str, message: str, tmp_path: Path):
    """TOML keeps types: a float or a switch where an int is wanted is an error, never rounded or counted as 1."""
    file = tmp_path / "exp.toml"
    file.write_text(text)
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        build_overrides([], file)
