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
(``benchmarks/seed_batch_speed.py``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
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

    def update(self, player: str, batches: Sequence[Batch], generators: Sequence[torch.Generator]) -> Tensors:
        """One update of ``player`` in every seed on its batch, with random inputs drawn from its
        generator; the logged values, one per seed."""
        drawn = [getattr(self.model, f"{player}_draws")(batch, gen) for batch, gen in zip(batches, generators)]
        draws = {name: torch.stack([d[name] for d in drawn]) for name in drawn[0]}
        first = batches[0]
        losses, logs = self.per_seed(player, torch.stack([b.real for b in batches]),
                                     torch.stack([b.labels for b in batches]), draws, first.step, first.progress)
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


def train_seed_batch(model: SeedBatch, x: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int,
                     read_every: int = 10, amp: bool = False,
                     on_step: Callable[[int, list[int]], None] | None = None) -> list[TrainOutcome]:
    """Train every seed of ``model`` on the points ``x`` (labels ``y``) for ``steps`` generator
    steps of ``batch_size`` (packs), as ``train(variant, x, y, TrainConfig(steps, batch_size,
    seed=seed, read_every=read_every, amp=amp))`` trains each seed; one outcome per seed.

    Losses are checked every ``read_every`` steps and at the end; a seed whose loss was not
    finite stops there (its slice still follows the batch, unused). ``on_step(step, training)``
    runs after every step with the positions of the seeds still training.
    """
    variant, device = model.model, model.device
    points = _prepare(x, "points", device, channels_last=False)
    streams = [DeviceBatches(points, y.to(device), batch_size * variant.pack_size, seed) for seed in model.seeds]
    generators = [torch_generator(seed, device) for seed in model.seeds]
    training = list(range(len(model.seeds)))
    outcomes: dict[int, TrainOutcome] = {}
    unchecked: list[tuple[int, Tensors]] = []

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
        with autocast(device, amp):
            logs = {}
            batches = [stream.next("points", step, progress) for stream in streams]
            for i in range(variant.n_critic):
                if i:
                    batches = [stream.next("points", step, progress) for stream in streams]
                logs.update(model.update("discriminator", batches, generators))
            logs.update(model.update("generator", batches, generators))
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
