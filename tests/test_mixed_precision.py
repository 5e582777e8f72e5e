"""The speed options (bf16 autocast under ``--amp``, channels_last by default on CUDA) exercised
on the CPU, where ``amp=True`` and ``channels_last=True`` force them: every variant trains under
them with finite losses, its layers really compute in bf16, the gradient penalties stay float32,
and samples keep their dtype and shape."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ganbench.api import sample_generator, train_generator
from ganbench.features import ReferenceClassifier
from ganbench.generation import training_inputs
from ganbench.runtime import accelerated, autocast
from ganbench.generators import GENERATORS, DataSpec, create_generator
from ganbench.generators.losses import gradient_penalty, r1_penalty
from ganbench.generators import trainer
from ganbench.generators.trainer import TrainConfig, train, uses_channels_last


def test_speed_options_default_to_cuda_only() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not accelerated(cpu, None) and accelerated(cuda, None)
    assert accelerated(cpu, True) and not accelerated(cuda, False)
    with autocast(cpu, False):
        assert not torch.is_autocast_enabled("cpu")
    with autocast(cpu, True):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


@pytest.mark.parametrize("name", GENERATORS.names())
def test_every_generator_trains_under_bf16_autocast_and_channels_last(name: str, digits16) -> None:
    model = create_generator(name, DataSpec("image", 1, 16, 10), preset_width=8)
    x, y, sources = training_inputs(model, digits16, lambda: ReferenceClassifier(1, 10))
    output_dtypes: set[torch.dtype] = set()

    def record(module: nn.Module, inputs: object, output: object) -> None:
        if isinstance(output, torch.Tensor):
            output_dtypes.add(output.dtype)

    hooks = [m.register_forward_hook(record) for m in model.modules() if not any(m.children())]
    config = TrainConfig(steps=2, batch_size=8, checkpoint_every=10**9, amp=True, channels_last=True)
    outcome = train(model, x, y, config, **sources)
    for hook in hooks:
        hook.remove()

    assert outcome.status == "ok" and outcome.steps == 2
    assert outcome.losses and all(math.isfinite(v) for v in outcome.losses.values())
    assert torch.bfloat16 in output_dtypes
    kernels = [p for p in model.parameters() if p.dim() == 4 and p.shape[-1] > 1]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
    if hasattr(model, "translate"):
        return
    samples = model.sample(4, seed=0)
    assert samples.dtype == torch.uint8 and samples.shape == (4, 1, 16, 16)


@pytest.mark.parametrize(("name", "choice"), [("stylegan2", None), ("infogan", None), ("stylegan2", False)])
def test_channels_last_on_cpu_is_the_variants_default_unless_turned_off(name: str, choice: bool | None,
                                                                        digits16) -> None:
    model = create_generator(name, DataSpec("image", 1, 16, 10), preset_width=8)
    config = TrainConfig(steps=1, batch_size=8, checkpoint_every=10**9, channels_last=choice)
    outcome = train(model, digits16.x_train, digits16.y_train, config)
    expected = model.channels_last_on_cpu and choice is None
    assert outcome.memory_format == ("channels_last" if expected else "contiguous")
    assert GENERATORS.get("stylegan2").channels_last_on_cpu and not GENERATORS.get("infogan").channels_last_on_cpu
    kernels = [p for p in model.parameters() if p.dim() == 4 and p.shape[-1] > 1 and p.shape[1] > 1]
    assert kernels
    fmt = torch.channels_last if expected else torch.contiguous_format
    assert all(p.is_contiguous(memory_format=fmt) for p in kernels)


def test_compiled_networks_on_cuda_stay_contiguous_unless_channels_last_is_asked_for() -> None:
    """Inductor picks a compiled network's layouts on CUDA, so channels_last is then no default;
    asked for, or on the CPU, or eager on CUDA, the usual rules hold."""
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    dcgan = GENERATORS.get("dcgan")
    assert dcgan.channels_last_on_cpu
    for mode in ("default", "reduce-overhead"):
        assert not uses_channels_last(dcgan, cuda, None, mode)
        assert uses_channels_last(dcgan, cuda, True, mode)
        assert uses_channels_last(dcgan, cpu, None, mode)
    assert uses_channels_last(dcgan, cuda, None, None) and not uses_channels_last(dcgan, cuda, False, None)


def test_training_decides_the_memory_format_knowing_the_compile_mode(monkeypatch, digits16) -> None:
    asked: list[tuple] = []

    def spy(model, device, choice=None, compiled=None) -> bool:
        asked.append((device.type, choice, compiled))
        return False

    monkeypatch.setattr(trainer, "uses_channels_last", spy)
    monkeypatch.setattr(trainer, "compile_networks", lambda model, mode="default": None)
    model = create_generator("dcgan", DataSpec("image", 1, 16, 10), preset_width=8)
    config = TrainConfig(steps=1, batch_size=8, checkpoint_every=10**9, compiled="reduce-overhead")
    train(model, digits16.x_train, digits16.y_train, config)
    assert asked == [("cpu", None, "reduce-overhead")]


def test_gradient_penalty_is_float32_and_unchanged_under_autocast() -> None:
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    critic_dtypes: list[torch.dtype] = []
    critic.register_forward_hook(lambda m, i, out: critic_dtypes.append(out.dtype))
    torch.manual_seed(1)
    reference = gradient_penalty(critic, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert critic(real).dtype == torch.bfloat16
        mixed = gradient_penalty(critic, real.bfloat16(), fake.bfloat16())
    assert critic_dtypes[-1] == torch.float32
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, reference, rtol=2e-2, atol=1e-4)


def test_r1_penalty_is_float32_on_a_bf16_critic() -> None:
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))
    real = torch.randn(8, 1, 4, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = critic(real)
        penalty = r1_penalty(out, real)
    assert out.dtype == torch.bfloat16 and penalty.dtype == torch.float32
    expected = critic[1].weight.detach().pow(2).sum()
    torch.testing.assert_close(penalty, expected, rtol=2e-2, atol=1e-4)


def test_bf16_is_opt_in_and_enters_the_training_key_and_record(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from ganbench.cli import app
    from ganbench.presets import get_preset
    from ganbench.units import Scope, train_unit

    assert TrainConfig(steps=1, batch_size=1).amp is False
    plain = Scope("digits", "f", "image", get_preset("smoke"), 0)
    bf16 = Scope("digits", "f", "image", get_preset("smoke"), 0, amp=True)
    assert train_unit(plain, "dcgan").key != train_unit(bf16, "dcgan").key and plain.base() == bf16.base()
    out = tmp_path / "run"
    for extra in ([], ["--amp"]):
        result = CliRunner().invoke(app, ["train", "dcgan", "--preset", "smoke", "--set", "preset.steps=2",
                                          "--device", "cpu", "--out", str(out), "-q", *extra])
        assert result.exit_code == 0, result.output
    trains = [json.loads(p.read_text()) for p in (out / "records").glob("train-*.json")]
    assert sorted(record["protocol"]["precision"] for record in trains) == ["bf16-autocast", "float32"]
    assert [record["protocol"]["memory_format"] for record in trains] == ["channels_last"] * 2
    drawn = {}
    for extra in ([], ["--amp"]):
        target = tmp_path / f"samples{len(extra)}.npz"
        result = CliRunner().invoke(app, ["sample", "dcgan", "--preset", "smoke", "--set", "preset.steps=2", "--n", "4",
                                          "--device", "cpu", "--runs", str(out), "--out", str(target), "--raw-values", *extra])
        assert result.exit_code == 0, result.output
        drawn[len(extra)] = np.load(target)["x"]
    assert not np.array_equal(drawn[0], drawn[1])
    trained = train_generator("dcgan", preset="smoke", out=out, overrides=["preset.steps=2"], device="cpu", amp=True)
    assert trained.records[0]["protocol"]["precision"] == "bf16-autocast"
    np.testing.assert_array_equal(sample_generator(out, "dcgan", n=4, overrides=["preset.steps=2"], device="cpu",
                                                   amp=True, raw_values=True), drawn[1])
