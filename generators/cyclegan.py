"""CycleGAN: Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", ICCV 2017 (arXiv:1703.10593).

Defining components:

* two ResNet-block generators, ``G_AB``: A -> B and ``G_BA``: B -> A (instance norm; 6 blocks
  as for 128 px images, 9 from 256 px; Appendix 7.2: c7s1-64, d128, d256, 6 or 9 R256, u128,
  u64, c7s1-3: two stride-2 halvings before the blocks and two doublings after them, at every
  size);
* two PatchGAN discriminators, ``D_A`` and ``D_B``;
* the least-squares adversarial loss (Mao et al. 2017): D minimises
  ``((D(y) - 1)^2 + D(G(x))^2) / 2``, G minimises ``(D(G(x)) - 1)^2``;
* the cycle-consistency loss ``|G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1`` with lambda = 10;
* the identity loss ``|G_AB(b) - b|_1 + |G_BA(a) - a|_1`` weighted 0.5 lambda;
* discriminators updated on a history pool of the 50 last generated images;
* Adam, learning rate 2e-4, beta1 = 0.5; weights ~ N(0, 0.02). The paper keeps the rate for
  100 epochs and decays it linearly to 0 over the next 100: here the rate is constant for the
  first half of the step budget and falls linearly towards 0 over the second half, following
  :attr:`ganbench.generators.base.Batch.progress` (:func:`decayed_lr`).

Architecture schedule (:meth:`CycleGAN.architecture`): the generators above, with 3 residual
blocks below 128 px (a choice for 16-64 px images), and the 70x70 PatchGAN discriminators
(``ganbench.generators.translation_blocks.patch_schedule``).

Trains on the ``two-domain`` task (:mod:`ganbench.tasks`): ``Batch.source`` holds domain A
images, ``Batch.real`` domain B images, unpaired. ``translate`` maps to domain 1 (B) with
``G_AB`` and to domain 0 (A) with ``G_BA``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganbench.generators import GENERATORS
from ganbench.generators.base import Batch, DataSpec, set_learning_rate
from ganbench.generators.losses import discriminator_loss, generator_loss
from ganbench.generators.architecture import Architecture
from ganbench.generators.translation_blocks import (HistoryPool, PatchDiscriminator, ResnetGenerator, TranslationModel,
                                                    frozen, init_normal, instance_norm, patch_schedule,
                                                    resnet_schedule)

LOSS = "lsgan"


def default_blocks(resolution: int) -> int:
    """The paper's 9 residual blocks from 256 px, 6 from 128 px; 3 below (our 16-32 px images)."""
    return 9 if resolution >= 256 else 6 if resolution >= 128 else 3


def decayed_lr(lr: float, progress: float) -> float:
    """The learning rate at ``progress`` (the share of the step budget done): ``lr`` over the first
    half, then a linear fall that would reach 0 at the end of the budget."""
    return lr * min(1.0, 2.0 * (1.0 - progress))


@dataclass
class CycleGANConfig:
    width: int = 64
    n_blocks: int | None = None
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    cycle_weight: float = 10.0
    identity_weight: float = 0.5
    pool_size: int = 50


@GENERATORS.register
class CycleGAN(TranslationModel):
    name = "cyclegan"
    paper = "Zhu et al., Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks"
    year = 2017
    task = "unpaired"
    task_view = "two-domain"
    config_class = CycleGANConfig

    def __init__(self, spec: DataSpec, config: CycleGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or CycleGANConfig()
        c, ch = self.config, spec.channels
        blocks = c.n_blocks if c.n_blocks is not None else default_blocks(spec.resolution)
        self.G_AB = ResnetGenerator(ch, ch, c.width, blocks)
        self.G_BA = ResnetGenerator(ch, ch, c.width, blocks)
        self.D_A = PatchDiscriminator(ch, spec.resolution, c.width, norm=instance_norm)
        self.D_B = PatchDiscriminator(ch, spec.resolution, c.width, norm=instance_norm)
        for net in (self.G_AB, self.G_BA, self.D_A, self.D_B):
            init_normal(net)
        self.pool_a = HistoryPool(c.pool_size, (ch, spec.resolution, spec.resolution))
        self.pool_b = HistoryPool(c.pool_size, (ch, spec.resolution, spec.resolution))
        self._fakes: tuple[Batch, torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def architecture(cls, spec: DataSpec, config: CycleGANConfig | None = None) -> Architecture:
        c, ch, size = config or CycleGANConfig(), spec.channels, spec.resolution
        blocks = c.n_blocks if c.n_blocks is not None else default_blocks(size)
        generator = resnet_schedule(ch, ch, size, c.width, blocks)
        critic = patch_schedule(ch, size, c.width)
        return {"G_AB": generator, "G_BA": generator, "D_A": critic, "D_B": critic}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        g_params = [*self.G_AB.parameters(), *self.G_BA.parameters()]
        self.opt_g = torch.optim.Adam(g_params, lr=c.lr, betas=c.betas)
        self.opt_d = torch.optim.Adam([*self.D_A.parameters(), *self.D_B.parameters()], lr=c.lr, betas=c.betas)
        return {"g": self.opt_g, "d": self.opt_d}

    def follow_lr_schedule(self, batch: Batch) -> None:
        """Set both players' learning rate to :func:`decayed_lr` at ``batch.progress``."""
        set_learning_rate(decayed_lr(self.config.lr, batch.progress), self.opt_g, self.opt_d)

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        self.follow_lr_schedule(batch)
        a, b = batch.source, batch.real
        fake_b, fake_a = self.G_AB(a), self.G_BA(b)
        self._fakes = (batch, fake_b, fake_a)
        loss_a = discriminator_loss(LOSS, self.D_A(a), self.D_A(self.pool_a.query(fake_a)))
        loss_b = discriminator_loss(LOSS, self.D_B(b), self.D_B(self.pool_b.query(fake_b)))
        self.optimize(self.opt_d, loss_a + loss_b)
        return {"loss_d_a": loss_a.detach(), "loss_d_b": loss_b.detach()}

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor, fake_b: torch.Tensor | None = None,
                         fake_a: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Adversarial (least squares), cycle and identity terms, unweighted."""
        fake_b = self.G_AB(a) if fake_b is None else fake_b
        fake_a = self.G_BA(b) if fake_a is None else fake_a
        with frozen(self.D_A, self.D_B):
            # losses.py keeps Mao's factor 1/2 on the generator term; CycleGAN's has none.
            adversarial = 2 * (generator_loss(LOSS, self.D_B(fake_b)) + generator_loss(LOSS, self.D_A(fake_a)))
        cycle = F.l1_loss(self.G_BA(fake_b), a) + F.l1_loss(self.G_AB(fake_a), b)
        identity = F.l1_loss(self.G_AB(b), b) + F.l1_loss(self.G_BA(a), a)
        return {"adversarial": adversarial, "cycle": cycle, "identity": identity}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        c = self.config
        self.follow_lr_schedule(batch)
        cached, self._fakes = self._fakes, None
        fakes = cached[1:] if cached is not None and cached[0] is batch else (None, None)
        terms = self.generator_losses(batch.source, batch.real, *fakes)
        loss = terms["adversarial"] + c.cycle_weight * terms["cycle"]
        if c.identity_weight:
            loss = loss + c.identity_weight * c.cycle_weight * terms["identity"]
        self.optimize(self.opt_g, loss)
        return {"loss_g": terms["adversarial"].detach(), "cycle": terms["cycle"].detach(),
                "identity": terms["identity"].detach()}

    def translate_float(self, source: torch.Tensor, target_labels: torch.Tensor | None) -> torch.Tensor:
        if target_labels is None:
            return self.G_AB(source)
        to_b = target_labels == 1
        out = torch.empty_like(source)
        for mask, net in ((to_b, self.G_AB), (~to_b, self.G_BA)):
            if mask.any():
                out[mask] = net(source[mask])
        return out
