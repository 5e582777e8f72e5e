"""Adversarial losses, on raw discriminator outputs (logits / critic values).

* ``nonsaturating`` / ``minimax``: Goodfellow et al. 2014 (the generator's non-saturating
  form ``-log D(G(z))`` and the original saturating ``log(1 - D(G(z)))``).
* ``lsgan``: Mao et al. 2017, least squares with targets a=0, b=c=1.
* ``wasserstein``: Arjovsky et al. 2017.
* ``hinge``: Lim & Ye 2017; Miyato et al. 2018.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSS_KINDS = ("nonsaturating", "minimax", "lsgan", "wasserstein", "hinge")


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Loss the discriminator minimises, given its outputs on real and on fake inputs."""
    if kind in ("nonsaturating", "minimax"):
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if kind == "lsgan":
        return 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean())
    if kind == "wasserstein":
        return fake.mean() - real.mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    raise ValueError(f"unknown loss {kind!r}; expected one of {LOSS_KINDS}")


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """Loss the generator minimises, given the discriminator's outputs on its samples."""
    if kind == "nonsaturating":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if kind == "lsgan":
        return 0.5 * (fake - 1).pow(2).mean()
    if kind in ("wasserstein", "hinge"):
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r}; expected one of {LOSS_KINDS}")
