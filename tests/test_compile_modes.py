"""``TrainConfig.compiled``: every network compiled in the mode asked for, and in the CUDA-graph
modes each training step marked as a new step (so no step reads a graph output that a later replay
overwrote); the default mode marks nothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.data import load_dataset
from ganbench.generators import DataSpec, create_generator
from ganbench.generators.trainer import TrainConfig, train


@pytest.mark.parametrize("mode,marks", [("default", 0), ("reduce-overhead", 3), ("max-autotune", 3)])
def test_networks_compile_in_the_mode_and_graph_modes_mark_each_step(mode: str, marks: int,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[tuple[str, str]] = []
    steps: list[int] = []
    monkeypatch.setattr(nn.Module, "compile",
                        lambda self, *args, **kwargs: compiled.append((type(self).__name__, kwargs["mode"])))
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: steps.append(1))
    data = load_dataset("digits", 8)
    torch.manual_seed(0)
    model = create_generator("gan", DataSpec(data.kind, data.channels, data.resolution, data.num_classes), preset_width=4)
    outcome = train(model, data.x_train, data.y_train, TrainConfig(steps=3, batch_size=8, compiled=mode))
    assert outcome.status == "ok" and outcome.steps == 3
    assert compiled and {m for _, m in compiled} == {mode}
    assert {name for name, _ in compiled} == {type(n).__name__ for n in model.children()}
    assert len(steps) == marks


def test_an_unknown_compile_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="compiled must be None or one of default, reduce-overhead, max-autotune"):
        TrainConfig(steps=1, batch_size=1, compiled="fast")


def test_the_compile_mode_enters_the_training_key_and_record(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from ganbench.cli import app
    from ganbench.presets import get_preset
    from ganbench.units import Scope, train_unit

    monkeypatch.setattr(nn.Module, "compile", lambda self, *args, **kwargs: None)
    scopes = [Scope("digits", "f", "image", get_preset("smoke"), 0, compiled=mode)
              for mode in (None, "default", "reduce-overhead")]
    assert len({train_unit(scope, "dcgan").key for scope in scopes}) == 3
    assert len({scope.base()["preset"]["steps"] for scope in scopes}) == 1
    out = tmp_path / "run"
    common = ["--preset", "smoke", "--set", "preset.steps=2", "--device", "cpu"]
    trained = CliRunner().invoke(app, ["train", "dcgan", *common, "--out", str(out), "-q",
                                       "--compile-mode", "reduce-overhead"])
    assert trained.exit_code == 0, trained.output
    (record,) = [json.loads(p.read_text()) for p in (out / "records").glob("train-*.json")]
    assert record["protocol"]["compiled"] == "reduce-overhead"
    sample = ["sample", "dcgan", *common, "--n", "2", "--runs", str(out)]
    eager = CliRunner().invoke(app, [*sample, "--out", str(tmp_path / "a.npz")])
    assert eager.exit_code == 2 and "--compile" in eager.output
    found = CliRunner().invoke(app, [*sample, "--out", str(tmp_path / "b.npz"), "--compile-mode", "reduce-overhead"])
    assert found.exit_code == 0, found.output
    unknown = CliRunner().invoke(app, ["train", "dcgan", *common, "--out", str(out), "--compile-mode", "fast"])
    assert unknown.exit_code == 2 and "--compile-mode must be one of" in unknown.output


def test_the_api_trains_and_finds_a_compiled_generator(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ganbench import sample_generator, train_generator
    from ganbench.errors import UserError

    monkeypatch.setattr(nn.Module, "compile", lambda self, *args, **kwargs: None)
    options = {"overrides": {"preset.steps": 2}, "device": "cpu"}
    trained = train_generator("gan", out=tmp_path, measure=False, compile_mode="max-autotune", **options)
    assert trained.records[0]["protocol"]["compiled"] == "max-autotune"
    assert sample_generator(tmp_path, "gan", n=2, compile_mode="max-autotune", **options).shape[0] == 2
    with pytest.raises(UserError, match="trained with other options"):
        sample_generator(tmp_path, "gan", n=2, **options)
    with pytest.raises(UserError, match="compile_mode must be one of"):
        train_generator("gan", out=tmp_path, compile_mode="fast", **options)
