"""The contract every generator implements, and what the trainer and runner rely on.

A variant is an ``nn.Module`` that owns its networks (``G``, ``D`` and any extra heads), builds
its optimizers in :meth:`GenerativeModel.configure_optimizers`, and performs one discriminator
update in :meth:`discriminator_step` and one generator update in :meth:`generator_step`. The
shared trainer (``ganbench.generators.trainer``) decides how often each runs (``n_critic``), keeps the
EMA of the generator, checkpoints, enforces the budget and detects divergence.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ganbench.pixels import to_uint8
from ganbench.errors import UserError
from ganbench.generators.architecture import Architecture
from ganbench.geometry import Geometry
from ganbench.runtime import torch_generator


@dataclass(frozen=True)
class DataSpec:
    """What a generator is asked to model: ``kind`` is ``image`` or ``points``.

    Networks work at ``resolution`` (a power of two); ``image_size`` is the side of the images
    that are measured (0: the same). Training batches are real images on the ``resolution``
    canvas; :meth:`GenerativeModel.sample` and ``TranslationModel.translate`` return images of
    ``image_size`` (``ganbench.geometry``).
    """

    kind: str
    channels: int
    resolution: int
    num_classes: int
    image_size: int = 0

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.image_size or self.resolution, self.resolution)


@dataclass
class Batch:
    """One training batch on the model's device.

    ``real`` is float in [-1, 1] (images) or raw coordinates (points). Image-to-image tasks also
    fill ``source`` (the input image) and ``source_labels`` (its domain). ``progress`` is the
    share of the step budget done before this step, in [0, 1] (schedules such as ProGAN's growth
    follow it, so they never depend on the machine's speed).
    """

    real: torch.Tensor
    labels: torch.Tensor
    step: int
    source: torch.Tensor | None = None
    source_labels: torch.Tensor | None = None
    progress: float = 0.0


def set_learning_rate(lr: float, *optimizers: torch.optim.Optimizer) -> None:
    """Set every parameter group of ``optimizers`` to ``lr``: a paper's schedule that follows
    :attr:`Batch.progress`, so that it depends on steps alone and a resumed run continues it."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = lr


def in_eval_chunks(module: nn.Module, n: int, batch_size: int,
                   chunk: Callable[[int, int], torch.Tensor]) -> list[torch.Tensor]:
    """``chunk(start, size)`` over ``n`` items in batches of ``batch_size`` with ``module`` in eval
    mode, restored to its former mode afterwards."""
    was_training = module.training
    module.eval()
    try:
        return [chunk(start, min(batch_size, n - start)) for start in range(0, n, batch_size)]
    finally:
        module.train(was_training)


class GenerativeModel(nn.Module):
    """Base class of every generator in the registry."""

    name: ClassVar[str]
    paper: ClassVar[str]
    year: ClassVar[int]
    family: ClassVar[str] = "gan"
    task: ClassVar[str] = "noise"
    conditional: ClassVar[bool] = False
    supports_points: ClassVar[bool] = False
    supports_images: ClassVar[bool] = True
    #: whether the trainer uses the channels_last memory format on CPU too (it always does on
    #: CUDA): true where ``benchmarks/train_step.py --compare-memory-formats`` measured it faster
    channels_last_on_cpu: ClassVar[bool] = False
    #: ``(low, high)``: ``sample(truncation=t)`` takes low < t <= high; None where the variant has no truncation
    truncation_range: ClassVar[tuple[float, float] | None] = None
    config_class: ClassVar[type]

    n_critic: int = 1
    ema_decay: float | None = None

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.spec = spec

    @property
    def pack_size(self) -> int:
        """Samples D judges as one (PacGAN's ``m``, 1 without packing). A training step draws
        ``pack_size * batch_size`` real samples and as many fakes, so that D sees ``batch_size``
        packs, as in the paper."""
        tricks = getattr(getattr(self, "config", None), "tricks", None)
        return int(getattr(tricks, "packing", 1))

    # -- training
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @staticmethod
    def optimize(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """One update of one player: clear its gradients, back-propagate ``loss``, step."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    # -- EMA of the generator (Karras 2018; Yazici 2019)
    def init_ema(self, decay: float) -> None:
        self.ema_decay = decay
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.ema_decay is None:
            return
        for ema_p, p in zip(self.G_ema.parameters(), self.G.parameters()):
            ema_p.lerp_(p.detach(), 1.0 - self.ema_decay)
        for ema_b, b in zip(self.G_ema.buffers(), self.G.buffers()):
            ema_b.copy_(b)

    @property
    def sampling_network(self) -> nn.Module:
        """The network that produces samples: the EMA copy where the variant keeps one."""
        return self.G_ema if self.ema_decay is not None else self.G

    # -- sampling
    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        """``n`` outputs in [-1, 1] (images) or raw coordinates (points), on the model's device."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def code_values(self) -> int:
        """Values of an unsupervised categorical latent code that ``sample(labels=...)`` fixes
        (InfoGAN's); 0 when the variant has none."""
        return 0

    def default_labels(self, n: int) -> torch.Tensor:
        """Balanced labels 0, 1, ..., K-1, 0, 1, ... for conditional sampling."""
        return torch.arange(n) % max(self.spec.num_classes, 1)

    def evaluation_conditions(self, n: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(class labels, code values) that ``n`` evaluation samples are drawn with: balanced
        labels for a conditional variant, balanced values of an unsupervised code otherwise;
        whichever is not None goes to ``sample(labels=...)``."""
        labels = self.default_labels(n) if self.conditional else None
        codes = torch.arange(n) % self.code_values if self.code_values else None
        return labels, codes

    @classmethod
    def check_truncation(cls, truncation: float | None) -> None:
        """Refuse a truncation the variant has none of, or one outside its :attr:`truncation_range`."""
        if truncation is None:
            return
        if cls.truncation_range is None:
            from ganbench.generators import GENERATORS

            having = [name for name, variant in GENERATORS if variant.truncation_range is not None]
            raise UserError(f"{cls.name} has no truncation (--truncation is for {', '.join(having)})")
        low, high = cls.truncation_range
        if not low < truncation <= high:
            raise UserError(f"{cls.name}'s truncation must be above {low:g} and at most {high:g} (got {truncation:g})")

    @torch.inference_mode()
    def sample(self, n: int, labels: torch.Tensor | None = None, seed: int = 0,
               truncation: float | None = None, batch_size: int = 500) -> torch.Tensor:
        """``n`` samples on the CPU: uint8 ``N,C,H,W`` images cropped to the measured image size
        (float points for toy2d)."""
        self.check_truncation(truncation)
        if self.conditional and labels is None:
            labels = self.default_labels(n)
        gen = torch_generator(seed, self.device)

        def chunk(start: int, size: int) -> torch.Tensor:
            chunk_labels = None if labels is None else labels[start : start + size].to(self.device)
            out = self.generate(size, chunk_labels, gen, truncation).float()
            return out.cpu() if self.spec.kind == "points" else self.spec.geometry.to_image(to_uint8(out)).cpu()

        chunks = in_eval_chunks(self, n, batch_size, chunk)
        return torch.cat(chunks) if chunks else torch.empty(0)

    @classmethod
    def architecture(cls, spec: DataSpec, config: object | None = None) -> Architecture:
        """Each network's :class:`ganbench.generators.architecture.Schedule` for the images of
        ``spec`` under ``config`` (the defaults when None), keyed by the network's attribute path
        on the model."""
        raise NotImplementedError(f"{cls.name} states no architecture schedule")

    @classmethod
    def describe(cls) -> dict[str, object]:
        return {"name": cls.name, "paper": cls.paper, "year": cls.year, "family": cls.family,
                "task": cls.task, "conditional": cls.conditional}

    def parameter_count(self) -> int:
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith("G_ema."))
