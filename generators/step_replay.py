"""One training step recorded once and replayed, for steps bound by kernel launches.

A step of a small network on a GPU costs the launches of its many tiny kernels (and the Python
that issues them), not their arithmetic. A CUDA graph (``torch.cuda.graph``; NVIDIA, "CUDA
Graphs", CUDA C++ Programming Guide) records the kernels of one step and replays them all with
one launch. A recorded step reads and writes fixed memory and runs no Python, so
:class:`StepReplay` keeps its own input buffers, copies each step's inputs into them, and hands
back copies of the recorded outputs, which the next replay overwrites. The step function must be
the same kernels every time: no host sync, no Python value that changes from step to step, no
random draw (the caller draws the step's random inputs, outside the recording).

``mode="cuda-graph"`` runs the first ``warmup`` steps eagerly on a side stream (as PyTorch's
guide to whole-network capture asks, so that lazily created state such as an optimizer's moments
exists before recording), records the next one and replays it from then on. ``mode="static"``
follows the same protocol on any device without a graph: fixed input buffers, and outputs written
into the same tensors at every step, as a graph writes them; the CPU tests check the protocol
with it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganbench.errors import UserError

#: Tensors by name: a step's inputs or outputs.
Tensors = dict[str, torch.Tensor]
REPLAY_MODES = ("cuda-graph", "static")


class StepReplay:
    """``step(inputs) -> outputs`` on fixed buffers, recorded after ``warmup`` eager calls and
    replayed afterwards; calling it runs one step and returns that step's outputs."""

    def __init__(self, step: Callable[[Tensors], Tensors], mode: str, warmup: int = 3) -> None:
        if mode not in REPLAY_MODES:
            raise ValueError(f"replay mode is one of {REPLAY_MODES}, not {mode!r}")
        if mode == "cuda-graph" and not torch.cuda.is_available():
            raise UserError("CUDA graphs need a CUDA device; none is available here")
        self.step, self.mode, self.warmup = step, mode, warmup
        self.inputs: Tensors = {}
        self.outputs: Tensors = {}
        self.calls = 0
        self.replay: Callable[[], None] | None = None

    def __call__(self, inputs: Tensors) -> Tensors:
        self.load(inputs)
        if self.calls < self.warmup:
            outputs = self.eager()
        else:
            if self.replay is None:
                self.replay = self.record()
            self.replay()
            outputs = self.outputs
        self.calls += 1
        return {name: value.clone() for name, value in outputs.items()}

    def load(self, inputs: Tensors) -> None:
        """Copy ``inputs`` into the buffers the step reads (made on the first call)."""
        if not self.inputs:
            self.inputs = {name: value.clone() for name, value in inputs.items()}
            return
        if inputs.keys() != self.inputs.keys():
            raise ValueError(f"a replayed step takes the inputs {sorted(self.inputs)}, got {sorted(inputs)}")
        for name, value in inputs.items():
            buffer = self.inputs[name]
            if value.shape != buffer.shape or value.dtype != buffer.dtype:
                raise ValueError(f"input {name!r} was {tuple(buffer.shape)} {buffer.dtype} when recorded, "
                                 f"now {tuple(value.shape)} {value.dtype}")
            buffer.copy_(value)

    def eager(self) -> Tensors:
        """One step run as it is (on a side stream under ``cuda-graph``)."""
        if self.mode == "static":
            return self.step(self.inputs)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            outputs = self.step(self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        return outputs

    def record(self) -> Callable[[], None]:
        """The replay of one recorded step; it fills :attr:`outputs` (recording runs nothing)."""
        if self.mode == "cuda-graph":
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.outputs = self.step(self.inputs)
            return graph.replay

        def replay() -> None:
            fresh = self.step(self.inputs)
            if not self.outputs:
                self.outputs = {name: torch.empty_like(value) for name, value in fresh.items()}
            for name, value in fresh.items():
                self.outputs[name].copy_(value)

        return replay
