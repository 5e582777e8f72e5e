"""Several seeds of one toy-2D variant trained as one batched model.

For the mode-collapse benchmark of VEEGAN (Srivastava et al., NeurIPS 2017) and PacGAN (Lin et
al., NeurIPS 2018). :class:`SeedBatch` stacks the parameters and buffers of S models of one
variant along a leading seed axis and runs the variant's own ``discriminator_loss`` and
``generator_loss`` on each seed's slice with ``torch.func.vmap`` and ``functional_call``, so the
networks, losses, tricks (packing), gradient penalty, BatchNorm statistics and spectral-norm
power iterations are the variant's, kept per seed; its own optimizers minimise the sum of the
seeds' losses (each seed's gradient is its own loss's, Adam is elementwise).
:func:`train_seed_batch` follows ``ganbench.generators.trainer.train``: seed ``s`` draws its
batches from ``DeviceBatches(..., seed=s)`` and its latents (and WGAN-GP's interpolation weights)
from a generator seeded with ``s``, in the order a run with ``TrainConfig(seed=s)`` draws them.
Each seed may have a data set of its own (models of one variant built for several layouts), so one
batch trains both toy-2D layouts.

A batched seed equals its separate run up to rounding, not bitwise: under vmap a linear layer is
a batched product plus a bias add (a separate run uses ``addmm``, or a matrix-vector product for
D's one-unit head) and BatchNorm reduces over a ``(batch, seeds x channels)`` view, so sums are
accumulated in another order, also depending on the seed's position. In float64, five steps
agree to about 1e-13 (``tests/test_seed_batch.py`` asks 1e-9) and gan's first 200 to 1e-12;
SNGAN's training grows any difference by about 25% a step (as it grows a 1e-14 change of one
weight in a separate run). In float32 one step's losses agree to about 1e-5, but Adam's first
steps turn rounding-sized gradients into full learning-rate steps and near-tied maxout pieces
flip: after 50 steps the two runs differ as much as a separate run differs from itself with one
weight changed by one part in 1e7, so long runs agree in distribution, not in digits.

Batching pays only where a separate run is bound by per-operation overhead, as small kernels on
a GPU are. On a CPU core these steps are bound by their arithmetic (a batched GEMM costs what its
S separate GEMMs cost): the batch is about as fast as its seeds one after another
(``benchmarks/seed_batch_speed.py``). On a GPU the batched step is still bound by the Python that
issues its operations one by one; ``train_seed_batch(..., replay="cuda-graph")`` records the
step's updates once and replays them (``ganbench.generators.step_replay``), with the step's data
and random inputs drawn eagerly as before (:meth:`SeedBatch.step_inputs`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from types import MethodType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.utils.parametrizations import _SpectralNorm

from ganbench.errors import UserError
from ganbench.runtime import autocast, torch_generator
from ganbench.generators import DataSpec, create_generator
from ganbench.generators.base import Batch, in_eval_chunks
from ganbench.generators.noise_gan import NoiseGAN, Tensors
from ganbench.generators.step_replay import StepReplay
from ganbench.generators.trainer import DeviceBatches, TrainOutcome, _prepare


@torch.no_grad()
def _power_method(self: _SpectralNorm, weight_mat: torch.Tensor, n_power_iterations: int) -> None:
    """torch's spectral-norm power iteration, writing ``u`` and ``v`` with ``copy_`` (the same
    values) instead of ``out=``, which ``vmap`` cannot batch."""
    for _ in range(n_power_iterations):
        self._u.copy_(F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps))
        self._v.copy_(F.normalize(torch.mv(weight_mat.H, self._u), dim=0, eps=self.eps))


def _batchnorm_in_parameter_dtype(module: nn.modules.batchnorm._BatchNorm,
                                  inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Lift a bf16 input (autocast's linear output) to the float32 of BatchNorm's statistics:
    the CPU kernel accepts the mixed pair but ``vmap``'s batched BatchNorm does not. The layer
    computes its statistics in float32 either way, and the next layer's autocast rounds its
    output (after ReLU, which commutes with rounding) to the bf16 of a separate run."""
    x = inputs[0]
    if module.weight is not None and x.dtype != module.weight.dtype:
        return (x.to(module.weight.dtype), *inputs[1:])
    return inputs


def _install(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Put ``tensor`` in place of the parameter or buffer ``name`` of ``model``."""
    owner, _, attr = name.rpartition(".")
    module = model.get_submodule(owner)
    if attr in module._parameters:
        module._parameters[attr] = nn.Parameter(tensor)
    else:
        module._buffers[attr] = tensor


class SeedBatch(nn.Module):
    """``len(seeds)`` models of one point variant as one: every parameter and buffer of
    :attr:`model` holds the seeds' tensors stacked along a leading axis, in the order of
    :attr:`seeds` (its ``state_dict`` is the seeds' state dicts, stacked)."""

    def __init__(self, models: Sequence[NoiseGAN], seeds: Sequence[int]) -> None:
        super().__init__()
        if len(models) != len(seeds) or not models:
            raise ValueError(f"one model per seed, got {len(models)} models for {len(seeds)} seeds")
        first = models[0]
        if any(type(m) is not type(first) or m.config != first.config for m in models):
            raise ValueError("the models of a seed batch must be one variant with one configuration")
        if not (isinstance(first, NoiseGAN) and first.spec.kind == "points"
                and type(first).discriminator_step is NoiseGAN.discriminator_step
                and type(first).generator_step is NoiseGAN.generator_step):
            raise UserError(f"{first.name}: seeds train as one batch only for the noise GANs on points whose "
                            "updates are a loss and an optimizer step")
        if first.tricks.tricks.instance_noise or first.tricks.history is not None:
            raise UserError(f"{first.name}: instance noise and historical averaging do not train as a seed batch")
        self.seeds = list(seeds)
        self.model = copy.deepcopy(first)
        params, buffers = stack_module_state(list(models))
        for name, tensor in {**params, **buffers}.items():
            _install(self.model, name, tensor.detach().requires_grad_(name in params))
        for module in self.model.modules():
            if isinstance(module, _SpectralNorm):
                module._power_method = MethodType(_power_method, module)  # type: ignore[method-assign]
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.register_forward_pre_hook(_batchnorm_in_parameter_dtype)
        self.optimizers = self.model.configure_optimizers()
        self.state = {**dict(self.named_parameters()), **dict(self.named_buffers())}

    @classmethod
    def create(cls, variant: str, spec: DataSpec, seeds: Sequence[int],
               device: torch.device | str = "cpu") -> SeedBatch:
        """The variant built once per seed after ``torch.manual_seed(seed)``, as
        ``benchmarks/toy2d_modes.py`` builds a separate run, then batched."""
        models = []
        for seed in seeds:
            torch.manual_seed(seed)
            models.append(create_generator(variant, spec).to(device))
        return cls(models, seeds)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def forward(self, task: str, *inputs: object) -> object:
        """One seed's ``task`` on that seed's tensors (called through ``functional_call``):
        ``"sample"`` maps latents through the sampling network; ``"discriminator"`` and
        ``"generator"`` take ``(real, labels, draws, step, progress)`` and return the player's
        loss and logged values."""
        if task == "sample":
            return self.model.sampling_network(inputs[0])
        real, labels, draws, step, progress = inputs
        method = getattr(self.model, f"{task}_loss")
        return method(Batch(real, labels, step, progress=progress), draws)  # type: ignore[arg-type]

    def per_seed(self, task: str, *inputs: object) -> Any:
        """:meth:`forward` of every seed at once; tensors among ``inputs`` (and the values of a
        dict) carry the seed axis first, other values are shared."""
        dims = tuple(0 if isinstance(x, (torch.Tensor, dict)) else None for x in inputs)
        run = vmap(lambda state, *args: functional_call(self, state, (task, *args)),
                   in_dims=(0, *dims), randomness="error")
        return run(self.state, *inputs)

    def step_inputs(self, streams: Sequence[DeviceBatches], generators: Sequence[torch.Generator], step: int,
                    progress: float) -> Tensors:
        """The data and random inputs of one training step of every seed, drawn from the seed's
        streams in the order of its separate run and stacked along the seed axis:
        ``batch<i>.real`` and ``batch<i>.labels`` for the i-th discriminator update, with its
        draws ``d<i>.<name>``; the generator's draws ``g.<name>`` (it takes the last batch)."""
        inputs: Tensors = {}
        for i in range(self.model.n_critic):
            batches = [stream.next("points", step, progress) for stream in streams]
            inputs[f"batch{i}.real"] = torch.stack([batch.real for batch in batches])
            inputs[f"batch{i}.labels"] = torch.stack([batch.labels for batch in batches])
            inputs.update(_stacked(f"d{i}", [self.model.discriminator_draws(b, g) for b, g in zip(batches, generators)]))
        inputs.update(_stacked("g", [self.model.generator_draws(b, g) for b, g in zip(batches, generators)]))
        return inputs

    def training_step(self, inputs: Tensors, step: int = 0, progress: float = 0.0) -> Tensors:
        """One training step of every seed on :meth:`step_inputs`' ``inputs``: ``n_critic``
        discriminator updates, then the generator's; the logged values, one per seed. ``step``
        and ``progress`` reach the losses' batches, which the point variants a seed batch accepts
        do not read, so one recorded step may be replayed at every step."""
        logs: Tensors = {}
        last = self.model.n_critic - 1
        for i in range(last + 1):
            logs.update(self.update("discriminator", inputs, f"batch{i}", f"d{i}", step, progress))
        logs.update(self.update("generator", inputs, f"batch{last}", "g", step, progress))
        return logs

    def update(self, player: str, inputs: Tensors, batch: str, draws: str, step: int, progress: float) -> Tensors:
        """One update of ``player`` in every seed on the batch named ``batch`` in ``inputs`` with
        the random inputs named ``draws``; the logged values, one per seed."""
        drawn = {name.split(".", 1)[1]: value for name, value in inputs.items() if name.startswith(f"{draws}.")}
        losses, logs = self.per_seed(player, inputs[f"{batch}.real"], inputs[f"{batch}.labels"], drawn, step, progress)
        self.model.optimize(self.optimizers["d" if player == "discriminator" else "g"], losses.sum())
        return logs

    @torch.inference_mode()
    def sample(self, n: int, seeds: Sequence[int], batch_size: int = 500) -> torch.Tensor:
        """``n`` points of every seed on the CPU, ``(seeds, n, 2)``: row ``i`` is what the i-th
        model's ``sample(n, seed=seeds[i])`` returns, up to rounding."""
        if len(seeds) != len(self.seeds):
            raise ValueError(f"one sampling seed per model, got {len(seeds)} for {len(self.seeds)}")
        generators = [torch_generator(seed, self.device) for seed in seeds]

        def chunk(start: int, size: int) -> torch.Tensor:
            z = torch.stack([self.model.noise(size, gen) for gen in generators])
            return self.per_seed("sample", z).float().cpu()

        chunks = in_eval_chunks(self, n, batch_size, chunk)
        return torch.cat(chunks, dim=1) if chunks else torch.empty(len(seeds), 0, 2)


def _stacked(prefix: str, drawn: Sequence[Tensors]) -> Tensors:
    """The seeds' draws of one update, stacked along the seed axis, named ``<prefix>.<name>``."""
    return {f"{prefix}.{name}": torch.stack([d[name] for d in drawn]) for name in drawn[0]}


def train_seed_batch(model: SeedBatch, x: torch.Tensor | Sequence[torch.Tensor],
                     y: torch.Tensor | Sequence[torch.Tensor], steps: int, batch_size: int, read_every: int = 10,
                     amp: bool = False, replay: str | None = None,
                     on_step: Callable[[int, list[int]], None] | None = None) -> list[TrainOutcome]:
    """Train every seed of ``model`` on the points ``x`` (labels ``y``) for ``steps`` generator
    steps of ``batch_size`` (packs), as ``train(variant, x, y, TrainConfig(steps, batch_size,
    seed=seed, read_every=read_every, amp=amp))`` trains each seed; one outcome per seed. Given
    sequences, ``x[i]`` and ``y[i]`` are the data set of the i-th seed alone (several layouts in
    one batch: one step's operations then serve all of them).

    ``replay="cuda-graph"`` records the step's updates once as a CUDA graph and replays them
    (:class:`ganbench.generators.step_replay.StepReplay`), ``"static"`` runs the same protocol
    and, on CUDA, the same kernels without a graph (on CUDA both keep Adam's step counts on the
    device, which changes its rounding against ``replay=None``). The data and random inputs are
    drawn eagerly either way, so every seed still follows its separate run's streams.

    Losses are checked every ``read_every`` steps and at the end; a seed whose loss was not
    finite stops there (its slice still follows the batch, unused). ``on_step(step, training)``
    runs after every step with the positions of the seeds still training.
    """
    variant, device = model.model, model.device
    members = len(model.seeds)
    xs = [x] * members if isinstance(x, torch.Tensor) else list(x)
    ys = [y] * members if isinstance(y, torch.Tensor) else list(y)
    if len(xs) != members or len(ys) != members:
        raise ValueError(f"one data set per seed: {members} seeds, {len(xs)} point sets, {len(ys)} label sets")
    streams = [DeviceBatches(_prepare(points, "points", device, channels_last=False), labels.to(device),
                             batch_size * variant.pack_size, seed)
               for points, labels, seed in zip(xs, ys, model.seeds)]
    generators = [torch_generator(seed, device) for seed in model.seeds]
    training = list(range(len(model.seeds)))
    outcomes: dict[int, TrainOutcome] = {}
    unchecked: list[tuple[int, Tensors]] = []
    if replay == "cuda-graph" and device.type != "cuda":
        raise UserError(f"CUDA graphs replay steps on a CUDA device; this seed batch is on {device}")
    replayed = None if replay is None else StepReplay(model.training_step, replay)
    if replayed is not None and device.type == "cuda":
        make_capturable(model.optimizers.values())

    def check(step: int) -> None:
        """Stop the seeds with a non-finite loss among the unchecked steps."""
        finite = torch.stack([torch.stack(list(logs.values())).isfinite().all(0) for _, logs in unchecked]).cpu()
        for position in list(training):
            bad = (~finite[:, position]).nonzero()
            if len(bad):
                first, logs = unchecked[int(bad[0])]
                outcomes[position] = TrainOutcome("diverged", first, time.perf_counter() - started, "diverged",
                                                  diverged_at=first,
                                                  losses={k: float(v[position]) for k, v in logs.items()})
                training.remove(position)
        unchecked.clear()

    model.train()
    started = time.perf_counter()
    step = 0
    logs: Tensors = {}
    while step < steps and training:
        progress = step / steps
        inputs = model.step_inputs(streams, generators, step, progress)
        with autocast(device, amp, cache=replayed is None):
            logs = model.training_step(inputs, step, progress) if replayed is None else replayed(inputs)
        variant.update_ema()
        step += 1
        unchecked.append((step, logs))
        if step % read_every == 0 or step == steps:
            check(step)
        if on_step is not None and training:
            on_step(step, list(training))
    seconds = time.perf_counter() - started
    for position in training:
        outcomes[position] = TrainOutcome("ok", step, seconds, "steps",
                                          losses={k: float(v[position]) for k, v in logs.items()})
    return [outcomes[position] for position in range(len(model.seeds))]


def make_capturable(optimizers: Iterable[torch.optim.Optimizer]) -> None:
    """Let ``optimizers`` step inside a CUDA graph: their step counts move to the parameters'
    device, where a replayed step advances them."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["capturable"] = True
            for parameter in group["params"]:
                state = optimizer.state.get(parameter, {})
                if "step" in state:
                    state["step"] = state["step"].to(parameter.device, torch.float32)
