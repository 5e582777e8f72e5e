"""``TrainConfig.compile_mode``: every network compiled in the mode asked for, and in the CUDA-graph
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
    model = create_generator("gan", DataSpec(data.kind, data.channels, data.resolution, data.num_classes), width=4)
    outcome = train(model, data.x_train, data.y_train, TrainConfig(steps=3, batch_size=8, compile=True,
                                                                   compile_mode=mode))
    assert outcome.status == "ok" and outcome.steps == 3
    assert compiled and {m for _, m in compiled} == {mode}
    assert {name for name, _ in compiled} == {type(n).__name__ for n in model.children()}
    assert len(steps) == marks


def test_an_unknown_compile_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="compile_mode must be one of default, reduce-overhead, max-autotune"):
        TrainConfig(steps=1, batch_size=1, compile=True, compile_mode="fast")
