"""One training loop for every variant.

The loop draws batches from a tensor already on the device (or, for a streamed data set, from
its cache file through a ``DataLoader`` of ``data_workers`` processes, in the same order:
``ganbench.streaming``), runs ``n_critic`` discriminator
updates per generator update, keeps the generator EMA, checkpoints every ``checkpoint_every``
steps (and resumes from the last checkpoint), stops at the step budget, and ends with status
``diverged`` when a loss is not finite. The losses stay on the device and are read every
``read_every`` steps, at checkpoints and at the end (``ganbench.generators.step_losses``), so on
CUDA no step waits for the GPU's queue to drain: a divergence is acted on at the next read, within
``read_every`` steps, and recorded at the first step whose loss was not finite; no checkpoint is
written past it. Every schedule (ProGAN's growth, SRGAN's pre-training) follows
:attr:`Batch.progress`, the share of the step budget done, so no result depends on the machine's
speed or load. ``max_seconds`` is a safety limit only: a training it stops ends with status
``truncated`` (under ``torchrun`` the ranks agree on it every ``read_every`` steps). Steps run in
float32 (TF32 matrix products on CUDA); ``amp=True`` runs them under bf16 autocast, which at the
presets' batch of 64 was slower than float32 on an H200 and pays only at larger batches (README,
GPU readiness). On CUDA the networks use channels_last memory format unless compiled (``channels_last``: ``None``
means on CUDA only, ``True`` on any device, ``False`` never), and on CPU channels_last is also the
default of the convolutional variants it speeds up (``channels_last_on_cpu``); ``compile``
compiles every network with ``torch.compile`` in ``compile_mode``: ``"reduce-overhead"`` replays
each network's kernels as CUDA graphs, for steps bound by kernel launches (small batches on a
GPU), and marks each training step's start so that a step never reads a graph output that the
next replay overwrote.
Under ``torchrun`` the loop trains data-parallel (``ganbench.generators.distributed``): each rank draws
its own batches, gradients are averaged, and only the caller on rank 0 passes ``save``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganbench.pixels import to_float
from ganbench.errors import UserError
from ganbench.runtime import accelerated, autocast, seed_everything
from ganbench.streaming import BatchOrder, StreamedImages, batch_loader
from ganbench.generators.base import Batch, GenerativeModel
from ganbench.generators.distributed import World, current as current_world
from ganbench.generators.step_losses import LossReader, StepLosses

CHECKPOINT_FORMAT = 1
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


def check_compile_mode(mode: str | None, option: str) -> None:
    """Refuse a ``torch.compile`` mode outside :data:`COMPILE_MODES` (None: not compiled), naming ``option``."""
    if mode is not None and mode not in COMPILE_MODES:
        raise UserError(f"{option} must be one of {', '.join(COMPILE_MODES)} (got {mode!r})")


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_size: int
    seed: int = 0
    max_seconds: float | None = None
    checkpoint_every: int = 500
    amp: bool = False
    channels_last: bool | None = None
    compiled: str | None = None  # the torch.compile mode of every network (one of COMPILE_MODES); None: eager
    read_every: int = 10
    data_workers: int = 0

    def __post_init__(self) -> None:
        if self.read_every < 1:
            raise ValueError(f"read_every must be at least 1, got {self.read_every}")
        if self.compiled is not None and self.compiled not in COMPILE_MODES:
            raise ValueError(f"compiled must be None or one of {', '.join(COMPILE_MODES)}, got {self.compiled!r}")

    def reads_at(self, step: int) -> bool:
        """Whether the losses are read after ``step``: every ``read_every`` steps, at checkpoints and at the end."""
        return step % self.read_every == 0 or step % self.checkpoint_every == 0 or step == self.steps


@dataclass
class TrainOutcome:
    """How a training ended; a diverged one counts ``steps`` up to its first non-finite loss
    (``diverged_at``), whichever later read found it, so the record does not follow the read schedule."""

    status: str
    steps: int
    seconds: float
    stopped_by: str
    diverged_at: int | None = None
    losses: dict[str, float] = field(default_factory=dict)
    memory_format: str = "contiguous"  # of the networks and batches: "contiguous" or "channels_last"


class DeviceBatches:
    """Shuffled batches from tensors that already live on the device (no DataLoader, no per-sample Python).

    ``source`` and ``source_labels`` (image-to-image tasks) are indexed with the same permutation
    as ``x`` and ``y``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int,
                 source: torch.Tensor | None = None, source_labels: torch.Tensor | None = None) -> None:
        self.x, self.y, self.source, self.source_labels = x, y, source, source_labels
        self.batch_size = min(batch_size, len(x))
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.order = torch.empty(0, dtype=torch.long)
        self.position = 0

    def next_index(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.order):
            order = torch.randperm(len(self.x), generator=self.generator)
            # from pinned memory the copy to the GPU does not wait for the queued steps
            self.order = order.pin_memory().to(self.x.device, non_blocking=True) if self.x.is_cuda else order
            self.position = 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index

    def next(self, kind: str, step: int, progress: float = 0.0) -> Batch:
        """The next batch, images converted to float [-1, 1]."""
        index = self.next_index()
        convert = (lambda t: t) if kind == "points" else to_float
        return Batch(convert(self.x[index]), self.y[index], step,
                     source=None if self.source is None else to_float(self.source[index]),
                     source_labels=None if self.source_labels is None else self.source_labels[index],
                     progress=progress)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": self.order.cpu(), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].to(self.x.device)
        self.position = int(state["position"])


class StreamedBatches:
    """:class:`DeviceBatches`' batches, read from a streamed data set's cache file by a
    ``DataLoader`` (``workers`` processes, pinned memory on CUDA) and moved to ``device``; its
    state is :class:`DeviceBatches`' too, so a checkpoint resumes on either path."""

    def __init__(self, images: StreamedImages, y: torch.Tensor, batch_size: int, seed: int, workers: int,
                 device: torch.device, channels_last: bool) -> None:
        self.images, self.y, self.workers = images, y.to(device), workers
        self.device, self.channels_last = device, channels_last
        self.order = BatchOrder(len(images), batch_size, seed)
        self.loaded: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None

    def next(self, kind: str, step: int, progress: float = 0.0) -> Batch:
        """The next batch, images converted to float [-1, 1] on the device."""
        if self.loaded is None:
            self.loaded = iter(batch_loader(self.images, self.order, self.workers, self.device.type == "cuda"))
        index = self.order.next_index()
        read, images = next(self.loaded)
        if not torch.equal(read, index):
            raise RuntimeError("streamed batches came back out of order")
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return Batch(to_float(images), self.y[index.to(self.device)], step, progress=progress)

    def state_dict(self) -> dict[str, Any]:
        return self.order.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order.load_state_dict(state)
        self.loaded = None


def checkpoint_state(model: GenerativeModel, optimizers: dict[str, torch.optim.Optimizer],
                     batches: DeviceBatches | StreamedBatches,
                     step: int, elapsed: float, finished: bool) -> dict[str, Any]:
    state = {
        "format": CHECKPOINT_FORMAT,
        "variant": model.name,
        "spec": [model.spec.kind, model.spec.channels, model.spec.resolution, model.spec.num_classes],
        "step": step,
        "elapsed": elapsed,
        "finished": finished,
        "model": model.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "batches": batches.state_dict(),
        "rng": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def uses_channels_last(model: GenerativeModel | type[GenerativeModel], device: torch.device,
                       choice: bool | None = None, compiled: str | None = None) -> bool:
    """Whether training runs in channels_last: ``choice`` when given; by default on CUDA unless the
    networks are compiled, and on CPU where the variant's ``channels_last_on_cpu`` says so.

    Compiled on CUDA the default is contiguous: Inductor picks convolution layouts itself, and its
    stride prediction for DCGAN's transposed convolutions in channels_last failed there (README,
    GPU readiness) where the same network compiled contiguous ran.
    """
    if choice is None and compiled is not None and device.type == "cuda":
        return False
    return accelerated(device, choice) or (choice is None and device.type == "cpu" and model.channels_last_on_cpu)


def _prepare(x: torch.Tensor, kind: str, device: torch.device, channels_last: bool) -> torch.Tensor:
    if kind == "points":
        return x.to(device, torch.get_default_dtype())
    x = x.to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def compile_networks(model: GenerativeModel, mode: str = "default") -> None:
    """Compile each network of the variant in place in ``mode`` (state dict keys are unchanged)."""
    for network in model.children():
        network.compile(mode=mode)


def first_divergence(steps: list[StepLosses], world: World, device: torch.device) -> StepLosses | None:
    """The losses of the first of ``steps`` with a non-finite loss on any rank (read now), or None.

    Under ``torchrun`` every rank returns its own losses of that step, the earliest over the ranks.
    """
    bad = next((losses for losses in steps if not losses.finite()), None)
    if not world.any(bad is not None, device):
        return None
    if world.active:
        first = min(step for step in world.gather(None if bad is None else bad.step) if step is not None)
        return next(losses for losses in steps if losses.step == first)
    return bad


def train(model: GenerativeModel, x: torch.Tensor | StreamedImages, y: torch.Tensor, config: TrainConfig,
          checkpoint: Path | None = None,
          source: torch.Tensor | None = None, source_labels: torch.Tensor | None = None,
          save: Callable[[Path, dict[str, Any]], None] | None = None,
          load: Callable[[Path], dict[str, Any] | None] | None = None,
          on_step: Callable[[int, Mapping[str, float]], None] | None = None) -> TrainOutcome:
    """Train ``model`` on uint8 images (or float points) ``x`` with labels ``y``; ``x`` may be a
    streamed data set's train split (:class:`ganbench.streaming.StreamedImages`).

    Image-to-image variants also get ``source`` images (and their ``source_labels``), batched
    alongside ``x``.
    When ``checkpoint`` exists (and ``load`` returns its state, not None) it is resumed; when ``save`` is given the loop writes checkpoints
    there every ``config.checkpoint_every`` steps and at the end.
    ``on_step(step, losses)`` runs after every step; ``losses`` is a :class:`StepLosses`, a mapping
    read lazily: looking at its values on a step where the trainer did not read (see
    :meth:`TrainConfig.reads_at`) costs a wait for the device, keeping it to look later does not.
    """
    device = model.device
    world = current_world()
    seed_everything(world.seed(config.seed))
    world.broadcast(model)
    channels_last = uses_channels_last(model, device, config.channels_last, config.compiled)
    memory_format = "channels_last" if channels_last else "contiguous"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if config.compiled is not None:
        compile_networks(model, config.compiled)
    graph_steps = config.compiled in CUDA_GRAPH_MODES
    optimizers = model.configure_optimizers()
    world.average_gradients(optimizers)
    batches: DeviceBatches | StreamedBatches
    if isinstance(x, StreamedImages):
        batches = StreamedBatches(x, y, config.batch_size * model.pack_size, world.seed(config.seed),
                                  config.data_workers, device, channels_last)
    else:
        batches = DeviceBatches(_prepare(x, model.spec.kind, device, channels_last), y.to(device),
                                config.batch_size * model.pack_size, world.seed(config.seed),
                                source=None if source is None else _prepare(source, "image", device, channels_last),
                                source_labels=None if source_labels is None else source_labels.to(device))
    step, elapsed = 0, 0.0
    state = world.share(load(checkpoint) if checkpoint is not None and load is not None and checkpoint.exists()
                        else None)
    if state is not None:
        if state.get("variant") != model.name:
            raise UserError(f"{checkpoint}: checkpoint of {state.get('variant')!r}, not {model.name!r}")
        model.load_state_dict(state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        batches.load_state_dict(state["batches"])
        torch.set_rng_state(state["rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if world.active and len(state.get("ranks", [])) == world.size:
            batches.load_state_dict(state["ranks"][world.rank]["batches"])
            torch.set_rng_state(state["ranks"][world.rank]["rng"])
        step, elapsed = int(state["step"]), float(state["elapsed"])

    def write(finished: bool) -> None:
        ranks = world.gather({"batches": batches.state_dict(), "rng": torch.get_rng_state()}) if world.active else None
        if save is not None and checkpoint is not None:
            state = checkpoint_state(model, optimizers, batches, step, elapsed, finished)
            if ranks is not None:
                state["ranks"] = ranks
            save(checkpoint, state)

    def stopped(diverged: StepLosses) -> TrainOutcome:
        return TrainOutcome("diverged", diverged.step, time.perf_counter() - started, "diverged",
                            diverged_at=diverged.step, losses=dict(diverged), memory_format=memory_format)

    model.train()
    started = time.perf_counter() - elapsed
    reader = LossReader()
    unchecked: list[StepLosses] = []
    losses: Mapping[str, float] = {}
    status = "ok"
    while step < config.steps:
        out_of_time = config.max_seconds is not None and time.perf_counter() - started > config.max_seconds
        if (not world.active or step % config.read_every == 0) and world.any(out_of_time, device):
            status = "truncated"
            break
        progress = step / config.steps
        if graph_steps:
            torch.compiler.cudagraph_mark_step_begin()
        with autocast(device, config.amp):
            logs: dict[str, torch.Tensor] = {}
            batch = batches.next(model.spec.kind, step, progress)
            for i in range(model.n_critic):
                if i:
                    batch = batches.next(model.spec.kind, step, progress)
                logs.update(model.discriminator_step(batch))
            logs.update(model.generator_step(batch))
        model.update_ema()
        step += 1
        losses = reader.add(step, logs)
        unchecked.append(losses)
        if config.reads_at(step):
            diverged = first_divergence(unchecked, world, device)
            unchecked = []
            if diverged is not None:
                return stopped(diverged)
        if on_step is not None:
            on_step(step, losses)
        if step % config.checkpoint_every == 0 and step < config.steps:
            elapsed = time.perf_counter() - started
            write(finished=False)
    diverged = first_divergence(unchecked, world, device)
    if diverged is not None:
        return stopped(diverged)
    elapsed = time.perf_counter() - started
    world.sync_buffers(model)
    write(finished=status == "ok")
    return TrainOutcome(status, step, elapsed, "time" if status == "truncated" else "steps", losses=dict(losses),
                        memory_format=memory_format)
