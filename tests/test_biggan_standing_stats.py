"""BigGAN's standing statistics (Brock et al., ICLR 2019, Section 3.1): the EMA generator samples
with BatchNorm statistics of its own activations, not with the live generator's."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganbench.generators import DataSpec, GenerativeModel, create_generator
from ganbench.generators.trainer import TrainConfig, train

SPEC = DataSpec("image", 1, 16, 10)
STANDING = {"standing_batches": 5, "standing_batch_size": 24, "standing_seed": 7}


def build(seed: int = 0) -> GenerativeModel:
    torch.manual_seed(seed)
    return create_generator("biggan", SPEC, preset_width=8, **STANDING)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerativeModel, Path]:
    """A BigGAN after a few training steps (never sampled), and the checkpoint the trainer wrote."""
    model = build()
    images = torch.randint(0, 256, (64, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    checkpoint = tmp_path_factory.mktemp("biggan") / "ckpt.pt"
    outcome = train(model, images, torch.arange(64) % 10, TrainConfig(steps=3, batch_size=16), checkpoint,
                    save=lambda path, state: torch.save(state, path))
    assert outcome.status == "ok"
    return model, checkpoint


def norms(network: nn.Module) -> dict[str, nn.BatchNorm2d]:
    return {name: m for name, m in network.named_modules() if isinstance(m, nn.BatchNorm2d)}


def test_ema_samples_with_the_batch_statistics_of_its_own_activations(trained: tuple[GenerativeModel, Path]) -> None:
    model = copy.deepcopy(trained[0])
    ema_norms, live_norms = norms(model.G_ema), norms(model.G)
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in ema_norms}

    def recorder(name: str) -> Any:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if module.training:
                seen[name].append(inputs[0].detach().clone())
        return hook

    handles = [m.register_forward_pre_hook(recorder(name)) for name, m in ema_norms.items()]
    spectral = {k: v.clone() for k, v in model.G_ema.state_dict().items() if k.endswith(("_u", "_v"))}
    model.sample(10, seed=0)
    for handle in handles:
        handle.remove()

    assert spectral and all(torch.equal(model.G_ema.state_dict()[k], v) for k, v in spectral.items())
    assert len(ema_norms) == 2 * len(model.G_ema.blocks) + 1
    for name, norm in ema_norms.items():
        batches = seen[name]
        assert len(batches) == STANDING["standing_batches"]
        assert all(len(x) == STANDING["standing_batch_size"] for x in batches)
        mean = torch.stack([x.mean(dim=(0, 2, 3)) for x in batches]).mean(0)
        var = torch.stack([x.transpose(0, 1).flatten(1).var(dim=1) for x in batches]).mean(0)
        torch.testing.assert_close(norm.running_mean, mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(norm.running_var, var, rtol=1e-4, atol=1e-5)
        live = live_norms[name]
        assert not torch.allclose(norm.running_mean, live.running_mean, atol=1e-3)
        assert not torch.allclose(norm.running_var, live.running_var, atol=1e-3)
        assert norm.momentum == live.momentum


def test_sampling_is_deterministic_and_leaves_the_global_rng_alone(trained: tuple[GenerativeModel, Path]) -> None:
    first, second = copy.deepcopy(trained[0]), copy.deepcopy(trained[0])
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = first.sample(12, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    b = second.sample(12, seed=5)
    assert torch.equal(a, b)
    assert torch.equal(first.sample(12, seed=5), a)
    assert not torch.equal(first.sample(12, seed=6), a)
    assert torch.equal(torch.get_rng_state(), state)


def test_new_ema_weights_get_new_standing_statistics(trained: tuple[GenerativeModel, Path]) -> None:
    model = copy.deepcopy(trained[0])
    model.sample(4, seed=0)
    model.update_ema()
    live = norms(model.G)["out.0"].running_mean
    assert torch.equal(norms(model.G_ema)["out.0"].running_mean, live)
    model.sample(4, seed=0)
    assert not torch.allclose(norms(model.G_ema)["out.0"].running_mean, live, atol=1e-3)


def test_a_loaded_checkpoint_samples_as_the_model_did_after_training(trained: tuple[GenerativeModel, Path]) -> None:
    model, checkpoint = copy.deepcopy(trained[0]), trained[1]
    after_training = model.sample(16, seed=3)
    state = torch.load(checkpoint, weights_only=True)["model"]
    restored = build(seed=99)
    restored.load_state_dict(state)
    assert torch.equal(restored.sample(16, seed=3), after_training)
    model.load_state_dict(state)
    assert torch.equal(model.sample(16, seed=3), after_training)
