"""The CLI end to end: the smoke run, its leaderboard, reruns, listings and user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganbench import __version__
from ganbench.cli import app


def test_smoke_run_end_to_end(smoke_run):
    out, result = smoke_run
    assert result.exit_code == 0, result.output
    rows = json.loads(CliRunner().invoke(app, ["leaderboard", "show", "--out", str(out), "--json"]).stdout)
    generation = [r for r in rows if r["kind"] == "generation"]
    detection = [r for r in rows if r["kind"] == "detection" and r["perturbation"] == "none"]
    assert generation and generation[0]["generator"] == "dcgan" and generation[0]["metrics"]["fid"] > 0
    assert detection and 0 <= detection[0]["metrics"]["auc"] <= 1
    for row in rows:
        assert {"kind", "dataset", "preset", "seed", "generator", "train_generator", "perturbation", "detector",
                "status", "reason", "seconds", "metrics"} <= set(row)
    assert {r["detector"] for r in detection if r["train_generator"] == "dcgan"} == {"spectrum", "one-class"}
    stored = [json.loads(p.read_text()) for p in (out / "records").glob("detection-*.json")]
    assert {r["detector"] for r in stored if r["info"].get("baseline") is True} == {"one-class"}
    assert {r["perturbation"] for r in rows if r["kind"] == "detection"} > {"none", "jpeg:70", "blur:2@256px"}
    assert list((out / "samples").glob("dcgan-*.png")) and list((out / "checkpoints").glob("dcgan-*.pt"))


def test_rerun_recomputes_nothing(smoke_run):
    out, _ = smoke_run
    before = {p.name: p.stat().st_mtime_ns for p in (out / "records").iterdir()}
    result = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(out)])
    assert result.exit_code == 0
    assert "0 unit(s) computed" in result.output
    assert before == {p.name: p.stat().st_mtime_ns for p in (out / "records").iterdir()}


def test_sample_command_writes_png_folder_and_npz(smoke_run, tmp_path: Path):
    out, _ = smoke_run
    cli = CliRunner()
    args = ["sample", "dcgan", "--runs", str(out), "--preset", "smoke", "--n", "5", "--seed", "3"]
    assert cli.invoke(app, [*args, "--out", str(tmp_path / "png")]).exit_code == 0
    assert len(list((tmp_path / "png").glob("*.png"))) == 5
    assert cli.invoke(app, [*args, "--out", str(tmp_path / "f.npz")]).exit_code == 0
    import numpy as np

    x = np.load(tmp_path / "f.npz")["x"]
    assert x.shape == (5, 1, 8, 8) and x.dtype == np.uint8
    missing = cli.invoke(app, ["sample", "dcgan", "--runs", str(tmp_path), "--out", str(tmp_path / "n.npz")])
    assert missing.exit_code == 2 and "ganbench train dcgan" in missing.output


def test_sample_puts_digits_samples_on_the_reals_grey_levels_unless_raw_values(smoke_run, tmp_path: Path):
    """`ganbench sample` writes the fakes a run's detectors see: on the digits' 17 grey levels, like the
    run's fake sets; --raw-values keeps the generator's own values, which fall between them."""
    import numpy as np

    from ganbench.data import load_dataset
    from ganbench.pixels import intensity_levels

    out, _ = smoke_run
    levels = set(intensity_levels(load_dataset("digits").x_train))
    args = ["sample", "dcgan", "--runs", str(out), "--preset", "smoke", "--n", "64", "--seed", "3"]
    snapped = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "snapped.npz")])
    raw = CliRunner().invoke(app, [*args, "--raw-values", "--out", str(tmp_path / "raw.npz")])
    assert snapped.exit_code == 0 and "17 intensity values" in snapped.output
    assert raw.exit_code == 0 and "own values" in raw.output
    snapped_values = np.load(tmp_path / "snapped.npz")["x"]
    raw_values = np.load(tmp_path / "raw.npz")["x"]
    assert set(np.unique(snapped_values).tolist()) <= levels
    assert set(np.unique(raw_values).tolist()) - levels
    assert np.abs(snapped_values.astype(int) - raw_values.astype(int)).max() <= 8


def test_samples_of_a_conditional_generator_are_drawn_for_its_balanced_labels_with_the_given_seed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A conditional generator's samples come with the labels they were drawn for (0, 1, ..., K-1, 0, ...),
    and the seed passed is the one they are drawn with."""
    from ganbench.context import RunConfig, RunContext
    from ganbench.presets import get_preset

    context = RunContext(RunConfig("cgan", get_preset("smoke"), out=tmp_path, quiet=True))
    model = context.build("cgan")
    monkeypatch.setattr(context, "trained_model", lambda name: model)
    images, labels = context.samples("cgan", 12, seed=3, raw_values=True)
    assert labels is not None and labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert torch.equal(images, model.sample(12, labels=labels, seed=3))
    assert not torch.equal(images, model.sample(12, labels=labels, seed=0))
    assert not torch.equal(context.samples("cgan", 12, seed=4, raw_values=True)[0], images)


def test_samples_are_drawn_with_the_truncation_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A truncation reaches the model: the samples are those of the truncated latent, not of the full one."""
    from ganbench.context import RunConfig, RunContext
    from ganbench.presets import get_preset

    context = RunContext(RunConfig("vae", get_preset("smoke"), out=tmp_path, quiet=True))
    model = context.build("vae")
    monkeypatch.setattr(context, "trained_model", lambda name: model)
    truncated, labels = context.samples("vae", 8, seed=2, truncation=0.3, raw_values=True)
    assert labels is None and torch.equal(truncated, model.sample(8, seed=2, truncation=0.3))
    assert not torch.equal(truncated, model.sample(8, seed=2))


def test_failed_unit_is_recorded_and_the_run_goes_on(tmp_path: Path, monkeypatch):
    from ganbench.generators.dcgan import DCGAN

    def explode(self, batch):
        raise RuntimeError("boom")

    monkeypatch.setattr(DCGAN, "generator_step", explode)
    result = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 1
    rows = json.loads(CliRunner().invoke(app, ["leaderboard", "show", "--out", str(tmp_path), "--json"]).stdout)
    status = {r["kind"]: r for r in rows}
    assert status["train"]["status"] == "failed" and "boom" in status["train"]["reason"]
    assert status["sample"]["status"] == "skipped" and status["detection"]["status"] == "skipped"


@pytest.mark.parametrize("what", ["generators", "detectors", "datasets", "metrics", "extractors", "suites", "presets"])
def test_list_json(what):
    result = CliRunner().invoke(app, ["list", what, "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)


@pytest.mark.parametrize("args,message", [
    (["run", "--suite", "nope"], "unknown suite 'nope'"),
    (["run", "--preset", "quik"], "did you mean 'quick'"),
    (["run", "--dataset", "folder:/definitely/missing"], "no such folder"),
    (["train", "dcgna"], "did you mean 'dcgan'"),
    (["train", "dcgan", "--resolution", "6"], "--resolution must be from 8 to"),
    (["run", "--detection-plan", "grid"], "--detection-plan must be one of matrix, compact"),
    (["leaderboard", "show", "--out", "/definitely/missing"], "no records"),
])
def test_user_errors_are_one_line_exit_2(args, message, tmp_path: Path):
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)] if args[0] != "leaderboard" else args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def grey_folder(root: Path, side: int, unreadable: str | None = None) -> Path:
    """A folder data set of two classes, ``a`` and ``b``, of four grey ``side``-px PNGs each, with an
    unreadable file at ``unreadable`` (relative to ``root``) when given."""
    from PIL import Image

    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (side, side), 30 * i).save(root / label / f"{i}.png")
    if unreadable is not None:
        (root / unreadable).write_bytes(b"not an image")
    return root


def test_corrupt_image_names_the_file(tmp_path: Path):
    grey_folder(tmp_path / "img", 8, unreadable="b/bad.png")
    result = CliRunner().invoke(app, ["run", "--dataset", f"folder:{tmp_path / 'img'}", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "bad.png" in result.output


def test_resolution_option_overrides_only_the_preset_resolution(tmp_path: Path):
    from ganbench.cli import _run_config
    from ganbench.presets import get_preset

    config = _run_config("dcgan", preset="quick", out=tmp_path, device="cpu", quiet=True, resolution=32)
    assert config.preset == get_preset("quick").with_overrides(resolution=32)


def test_skip_bad_reads_a_folder_around_its_unreadable_files(tmp_path: Path):
    """With --skip-bad a run leaves out (and names) an unreadable file instead of refusing the folder."""
    import dataclasses

    from ganbench.context import RunConfig, run_data
    from ganbench.errors import UserError
    from ganbench.presets import get_preset

    grey_folder(tmp_path / "img", 8, unreadable="b/bad.png")
    config = RunConfig("dcgan", get_preset("smoke"), dataset=f"folder:{tmp_path / 'img'}", out=tmp_path / "o")
    with pytest.raises(UserError, match="bad.png"):
        run_data(config, check=False)
    warnings: list[str] = []
    data, _ = run_data(dataclasses.replace(config, skip_bad=True), warn=warnings.append, check=False)
    assert len(data.x_train) + len(data.x_test) == 8 and any("bad.png" in line for line in warnings)


def test_the_presets_maximum_side_shrinks_larger_images(tmp_path: Path):
    """Images above the preset's max_resolution are downsampled to it; smaller ones keep their native side."""
    from ganbench.context import RunConfig, run_data
    from ganbench.presets import get_preset

    grey_folder(tmp_path / "img", 16)
    sides = {}
    for maximum in (8, 32):
        preset = get_preset("smoke").with_overrides(max_resolution=maximum)
        config = RunConfig("dcgan", preset, dataset=f"folder:{tmp_path / 'img'}", out=tmp_path / "o")
        data, spec = run_data(config, check=False)
        sides[maximum] = (data.resolution, tuple(data.x_train.shape[-2:]))
    assert sides == {8: (8, (8, 8)), 32: (16, (16, 16))}


def test_a_changed_hyperparameter_retrains_instead_of_reusing(tmp_path: Path, monkeypatch):
    import functools

    from ganbench.presets import get_preset
    from ganbench.context import RunConfig
    from ganbench.runner import SuiteRunner
    from ganbench.generators.gan import GAN, GANConfig

    config = RunConfig(suite="gan", preset=get_preset("smoke"), out=tmp_path, quiet=True)
    first = SuiteRunner(config).generation.train_generator("gan")
    same = SuiteRunner(config)
    assert same.generation.train_generator("gan").key == first.key and same.summary.computed == 0
    monkeypatch.setattr(GAN, "config_class", functools.partial(GANConfig, lr=1e-3))
    changed = SuiteRunner(config)
    record = changed.generation.train_generator("gan")
    assert record.status == "ok" and record.key != first.key and changed.summary.computed == 1



def test_a_changed_metric_setting_rescores_instead_of_reusing(tmp_path: Path, monkeypatch):
    import functools

    from ganbench import units
    from ganbench.cli import _run_config
    from ganbench.context import RunContext
    from ganbench.quality import QualityConfig

    scope = RunContext(_run_config("dcgan", preset="smoke", out=tmp_path, device="cpu", quiet=True)).scope
    key = units.generation_unit(scope, "dcgan", "fakes", "classifier", None).key
    monkeypatch.setattr(units, "QualityConfig", functools.partial(QualityConfig, is_shuffle_seed=1))
    assert units.generation_unit(scope, "dcgan", "fakes", "classifier", None).key != key


def test_the_device_kind_and_the_thread_count_are_in_every_key(tmp_path: Path):
    import dataclasses

    from ganbench import units
    from ganbench.presets import get_preset

    scope = units.Scope("digits", "f", "image", get_preset("smoke"), 0, threads=2)
    other = dataclasses.replace(scope, threads=1)
    assert units.train_unit(scope, "dcgan").key != units.train_unit(other, "dcgan").key
    assert units.null_check_unit(scope, {"detector": "spectrum"}).key != units.null_check_unit(
        other, {"detector": "spectrum"}).key
    assert units.Scope("digits", "f", "image", get_preset("smoke"), 0).threads == torch.get_num_threads()
    cuda = dataclasses.replace(scope, device="cuda")
    assert units.sample_unit(scope, "dcgan", "t").key != units.sample_unit(cuda, "dcgan", "t").key


def test_detection_plan_changes_which_units_exist_not_their_keys(tmp_path: Path):
    from ganbench.cli import _run_config
    from ganbench.context import RunContext

    compact = _run_config("dcgan", preset="smoke", out=tmp_path, device="cpu", quiet=True)
    matrix = _run_config("dcgan", preset="smoke", out=tmp_path, device="cpu", quiet=True,
                         detection_plan="matrix")
    assert (compact.preset.detection_plan, matrix.preset.detection_plan) == ("compact", "matrix")
    assert RunContext(compact).scope.base() == RunContext(matrix).scope.base()


def test_sample_finds_a_run_trained_at_another_resolution(tmp_path: Path):
    runs = tmp_path / "runs"
    trained = CliRunner().invoke(app, ["train", "gan", "--preset", "smoke", "--resolution", "8", "--out", str(runs),
                                       "--quiet"])
    assert trained.exit_code == 0, trained.output
    args = ["sample", "gan", "--preset", "smoke", "--runs", str(runs), "--n", "4"]
    missing = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a.npz")])
    assert missing.exit_code == 2 and "was trained with other options (the preset's fields, such as --resolution" \
        in " ".join(missing.output.split())
    found = CliRunner().invoke(app, [*args, "--resolution", "8", "--out", str(tmp_path / "b.npz")])
    assert found.exit_code == 0, found.output
    assert np.load(tmp_path / "b.npz")["x"].shape[-1] == 8


def test_version_prints_without_a_command():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == __version__


class RecordingRunner:
    """Stands in for the suite runner: keeps each configuration ``ganbench run`` builds, runs nothing."""

    configs: list = []
    problems: list = []

    def __init__(self, config, console) -> None:
        self.configs.append(config)

    def run(self):
        from ganbench.units import RunSummary

        return RunSummary(records=list(self.problems))


@pytest.fixture()
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingRunner]:
    monkeypatch.setattr("ganbench.runner.SuiteRunner", RecordingRunner)
    monkeypatch.setattr(RecordingRunner, "configs", [])
    monkeypatch.setattr(RecordingRunner, "problems", [])
    return RecordingRunner


def test_every_run_option_reaches_each_seeds_configuration(recording, tmp_path: Path):
    from ganbench.presets import get_preset

    result = CliRunner().invoke(app, [
        "run", "--suite", "gan,dcgan", "--preset", "smoke", "--seeds", "3,5", "--checkpoint-every", "7",
        "--resolution", "16", "--detection-plan", "matrix", "--compile", "--detectors", "spectrum, dct",
        "--max-minutes", "2.5", "--set", "dcgan.lr=0.0001", "--set", "preset.steps=9", "--out", str(tmp_path),
        "--quiet"])
    assert result.exit_code == 0, result.output
    assert [config.seed for config in recording.configs] == [3, 5]
    expected = get_preset("smoke").with_overrides(steps=9, checkpoint_every=7, resolution=16, detection_plan="matrix")
    for config in recording.configs:
        assert config.preset == expected and config.compiled == "default" and config.max_minutes == 2.5
        assert config.detectors == ("spectrum", "dct") and config.overrides.for_generator("dcgan") == {"lr": 0.0001}
        assert config.suite == "gan,dcgan" and config.out == tmp_path


def test_the_run_options_reach_the_training_loop():
    """--max-minutes is handed on in seconds; the preset's steps, batch size and checkpoint interval, the seed,
    --amp, --compile and the data workers reach the trainer's configuration as given."""
    from ganbench.context import RunConfig, training_config
    from ganbench.presets import get_preset

    preset = get_preset("smoke").with_overrides(steps=9, batch_size=8, checkpoint_every=7)
    train = training_config(RunConfig("dcgan", preset, seed=4, max_minutes=2.5, amp=True, compiled="default",
                                      data_workers=3))
    assert (train.steps, train.batch_size, train.seed, train.checkpoint_every) == (9, 8, 4, 7)
    assert train.max_seconds == 150.0 and train.amp is True and train.compiled == "default" and train.data_workers == 3
    plain = training_config(RunConfig("dcgan", preset))
    assert plain.max_seconds is None and plain.amp is False and plain.compiled is None


def test_a_run_with_one_seed_uses_it_and_exits_1_when_a_unit_failed(recording, tmp_path: Path):
    from ganbench.records import Record

    args = ["run", "--suite", "gan", "--preset", "smoke", "--seed", "11", "--out", str(tmp_path), "--quiet"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert [config.seed for config in recording.configs] == [11] and recording.configs[0].compiled is None
    recording.problems.append(Record(kind="train", key="k", dataset="digits", preset="smoke", seed=11,
                                     generator="gan", status="failed", reason="boom"))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "1 unit(s) failed, diverged or were truncated" in result.output


def test_train_exits_1_when_its_training_failed(tmp_path: Path, monkeypatch):
    from ganbench.generators.dcgan import DCGAN

    def explode(self, batch):
        raise RuntimeError("boom")

    monkeypatch.setattr(DCGAN, "generator_step", explode)
    result = CliRunner().invoke(app, ["train", "dcgan", "--preset", "smoke", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "train: failed" in result.output
