"""Training tricks any variant can switch on, so that a suite can ablate them.

Each variant's config carries a :class:`Tricks` (all off by default). The variant builds its
discriminator with :class:`ganbench.generators.blocks.Discriminator`, which reads the architectural
tricks (packing, minibatch discrimination), and routes every loss through one
:class:`TrickHooks`, which applies the rest. A name such as ``gan+packing`` or
``lsgan+diffaugment+label-smoothing`` selects a variant with those tricks on at the defaults
below (see :func:`split_name`).

* ``label-smoothing``: one-sided, real targets 0.9 (Salimans et al., "Improved Techniques for
  Training GANs", NeurIPS 2016);
* ``feature-matching``: G matches the mean of D's last hidden features on real data instead of
  fooling D (Salimans et al. 2016);
* ``minibatch-discrimination``: 100 kernels of 5 dimensions before D's output (Salimans et al.
  2016; ``ganbench.generators.layers.MinibatchDiscrimination``);
* ``instance-noise``: Gaussian noise of std 0.1, annealed linearly to 0 over 1,000 steps, on
  everything D sees (Sonderby et al., "Amortised MAP Inference for Image Super-resolution",
  ICLR 2017; Arjovsky & Bottou, ICLR 2017);
* ``packing``: D judges packs of 4 samples concatenated along channels, a batch being
  ``batch_size`` packs (Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in
  generative adversarial networks", NeurIPS 2018);
* ``historical-averaging``: ``||theta - mean of past theta||^2`` added to each player's loss
  (Salimans et al. 2016);
* ``diffaugment``: color, translation and cutout on real and fake images before D (Zhao et
  al., NeurIPS 2020; ``ganbench.generators.diffaugment``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ganbench.errors import UserError
from ganbench.generators.base import DataSpec
from ganbench.generators.diffaugment import diff_augment, parse_policy
from ganbench.generators.losses import TARGET_LOSSES, discriminator_loss, generator_loss


@dataclass(frozen=True)
class Tricks:
    """Which tricks are on and their settings; the defaults switch everything off."""

    label_smoothing: float = 0.0
    feature_matching: bool = False
    minibatch_kernels: int = 0
    minibatch_kernel_dim: int = 5
    instance_noise: float = 0.0
    instance_noise_steps: int = 1000
    packing: int = 1
    historical_averaging: float = 0.0
    diffaugment: str = ""

    def enable(self, *names: str) -> Tricks:
        """A copy with the named tricks switched on at their paper defaults."""
        changes: dict[str, object] = {}
        for name in names:
            if name not in TRICK_DEFAULTS:
                raise UserError(f"unknown training trick {name!r} (known: {', '.join(TRICK_DEFAULTS)})")
            changes.update(TRICK_DEFAULTS[name])
        return replace(self, **changes)

    def active(self) -> list[str]:
        """Names of the tricks that are on."""
        off = Tricks()
        return [name for name, setting in TRICK_DEFAULTS.items()
                if any(getattr(self, key) != getattr(off, key) for key in setting)]


TRICK_DEFAULTS: dict[str, dict[str, object]] = {
    "label-smoothing": {"label_smoothing": 0.1},
    "feature-matching": {"feature_matching": True},
    "minibatch-discrimination": {"minibatch_kernels": 100},
    "instance-noise": {"instance_noise": 0.1},
    "packing": {"packing": 4},
    "historical-averaging": {"historical_averaging": 1e-3},
    "diffaugment": {"diffaugment": "color,translation,cutout"},
}
TRICK_NAMES = tuple(TRICK_DEFAULTS)


def split_name(name: str) -> tuple[str, tuple[str, ...]]:
    """``"gan+packing+diffaugment"`` -> ``("gan", ("packing", "diffaugment"))``."""
    base, *tricks = name.split("+")
    for trick in tricks:
        if trick not in TRICK_DEFAULTS:
            raise UserError(f"unknown training trick {trick!r} in {name!r} (known: {', '.join(TRICK_DEFAULTS)})")
    return base, tuple(tricks)


class HistoricalAverage(nn.Module):
    """Running mean of a network's parameters and the squared distance of the current ones to it."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.parameters_of = list(network.parameters())
        for i, p in enumerate(self.parameters_of):
            self.register_buffer(f"mean_{i}", p.detach().clone())
        self.register_buffer("count", torch.ones((), dtype=torch.long))

    def means(self) -> list[torch.Tensor]:
        return [getattr(self, f"mean_{i}") for i in range(len(self.parameters_of))]

    def penalty(self) -> torch.Tensor:
        """``sum ||theta - mean||^2``, then the current parameters join the mean."""
        means = self.means()
        total = sum((p.float() - m.float()).pow(2).sum() for p, m in zip(self.parameters_of, means))
        with torch.no_grad():
            self.count += 1
            for p, m in zip(self.parameters_of, means):
                m.lerp_(p.detach(), 1.0 / float(self.count))
        return total


class TrickHooks(nn.Module):
    """The single place where tricks act on a training step.

    A variant calls :meth:`view` on every real or fake batch before D sees it, and computes its
    adversarial losses with :meth:`discriminator_loss` and :meth:`generator_loss`; everything
    that is not architectural happens here.
    """

    def __init__(self, tricks: Tricks, loss: str, spec: DataSpec, G: nn.Module, D: nn.Module) -> None:
        super().__init__()
        self.tricks, self.loss = tricks, loss
        if tricks.label_smoothing and loss not in TARGET_LOSSES:
            raise UserError(f"label smoothing needs a loss with targets ({', '.join(TARGET_LOSSES)}), not {loss!r}")
        if tricks.packing < 1:
            raise UserError(f"packing must be at least 1, got {tricks.packing}")
        self.policy = parse_policy(tricks.diffaugment)
        if self.policy and spec.kind != "image":
            raise UserError("DiffAugment applies to images, not to points")
        self.history = nn.ModuleDict({"g": HistoricalAverage(G), "d": HistoricalAverage(D)}) \
            if tricks.historical_averaging else None

    def noise_std(self, step: int) -> float:
        t = self.tricks
        return t.instance_noise * max(0.0, 1.0 - step / max(t.instance_noise_steps, 1))

    def view(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """What D sees of a real or fake batch: DiffAugment, then instance noise."""
        if self.policy:
            x = diff_augment(x, self.policy)
        std = self.noise_std(step)
        return x + std * torch.randn_like(x) if std > 0 else x

    def averaging_penalty(self, player: str) -> torch.Tensor | float:
        if self.history is None:
            return 0.0
        return self.tricks.historical_averaging * self.history[player].penalty()

    def discriminator_loss(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        """The variant's D loss with one-sided label smoothing and historical averaging."""
        loss = discriminator_loss(self.loss, real_out, fake_out, real_target=1.0 - self.tricks.label_smoothing)
        return loss + self.averaging_penalty("d")

    def generator_loss(self, D: nn.Module, real_view: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
        """The variant's G loss (or feature matching) plus historical averaging.

        ``fake_features`` are ``D.features`` of the fake view; ``real_view`` is only looked at
        for feature matching.
        """
        if self.tricks.feature_matching:
            with torch.no_grad():
                target = D.features(real_view).float().mean(0)
            loss = (fake_features.float().mean(0) - target).pow(2).sum()
        else:
            loss = generator_loss(self.loss, D.classify(fake_features))
        return loss + self.averaging_penalty("g")
