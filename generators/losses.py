"""Adversarial losses, on raw discriminator outputs (logits / critic values).

* ``nonsaturating`` / ``minimax``: Goodfellow et al. 2014 (the generator's non-saturating
  form ``-log D(G(z))`` and the original saturating ``log(1 - D(G(z)))``).
* ``lsgan``: Mao et al. 2017, least squares with targets a=0, b=c=1.
* ``wasserstein``: Arjovsky et al. 2017.
* ``hinge``: Lim & Ye 2017; Miyato et al. 2018.

Regularizers below: gradient penalty, R1, drift, orthogonal regularization, weight clipping
and the InfoGAN mutual-information term.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

LOSS_KINDS = ("nonsaturating", "minimax", "lsgan", "wasserstein", "hinge")
TARGET_LOSSES = ("nonsaturating", "minimax", "lsgan")


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Loss the discriminator minimises, given its outputs on real and on fake inputs.

    ``real_target`` below 1 is one-sided label smoothing (Salimans et al. 2016); it applies to
    the losses with targets (BCE and least squares) only.
    """
    if real_target != 1.0 and kind not in TARGET_LOSSES:
        raise ValueError(f"label smoothing needs a loss with targets {TARGET_LOSSES}, not {kind!r}")
    if kind in ("nonsaturating", "minimax"):
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if kind == "lsgan":
        return 0.5 * ((real - real_target).pow(2).mean() + fake.pow(2).mean())
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


# ----------------------------------------------------------------------------- regularizers


def interpolation_weights(real: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One weight ``alpha ~ U[0, 1]`` per sample of ``real``, shaped to broadcast against it."""
    return torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device, generator=generator)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     target: float = 1.0, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] on random interpolates x_hat.

    ``x_hat = alpha real + (1 - alpha) fake``, with ``alpha`` from :func:`interpolation_weights`
    when not given. The input gradient is taken with ``torch.func.grad``, which keeps it
    differentiable with respect to the critic's weights and also runs under ``torch.func.vmap``.
    Computed in float32 even under autocast, since the penalty is sensitive to precision.
    """
    if alpha is None:
        alpha = interpolation_weights(real)
    mixed = (alpha * real.detach().float() + (1 - alpha) * fake.detach().float())
    with torch.autocast(real.device.type, enabled=False):
        grad = torch.func.grad(lambda x: critic(x).sum())(mixed)
    return (grad.flatten(1).norm(2, dim=1) - target).pow(2).mean()


def r1_penalty(real_out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E[||grad D(x)||^2] on real data; ``real`` must require grad."""
    (grad,) = torch.autograd.grad(real_out.float().sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def drift_penalty(real_out: torch.Tensor) -> torch.Tensor:
    """ProGAN's drift term (Karras et al. 2018): E[D(x)^2], keeps the critic near zero (weight 1e-3)."""
    return real_out.float().pow(2).mean()


def orthogonal_regularization(module: nn.Module) -> torch.Tensor:
    """BigGAN's orthogonal regularization (Brock et al. 2019): sum ||W W^T * (1 - I)||_F^2 over weights."""
    total = None
    for name, param in module.named_parameters():
        if param.dim() < 2 or "embed" in name or not param.requires_grad:
            continue
        w = param.flatten(1)
        gram = w @ w.t()
        off_diagonal = gram * (1 - torch.eye(len(gram), device=w.device, dtype=w.dtype))
        term = off_diagonal.pow(2).sum()
        total = term if total is None else total + term
    return total if total is not None else torch.zeros((), device=next(module.parameters()).device)


@torch.no_grad()
def clip_weights(module: nn.Module, limit: float = 0.01) -> None:
    """WGAN weight clipping (Arjovsky et al. 2017): every parameter into [-limit, limit]."""
    for param in module.parameters():
        param.clamp_(-limit, limit)


def mutual_information_loss(code_logits: torch.Tensor | None, codes: torch.Tensor | None,
                            continuous_mean: torch.Tensor | None = None,
                            continuous: torch.Tensor | None = None, continuous_weight: float = 0.1) -> torch.Tensor:
    """InfoGAN (Chen et al. 2016) variational lower bound on I(c; G(z, c)), as a loss to minimise.

    Categorical codes: cross-entropy of Q's logits against the sampled code. Continuous codes:
    Gaussian negative log-likelihood with unit variance (a squared error), weighted by 0.1 as in
    the paper's MNIST experiments.
    """
    loss = torch.zeros((), device=(code_logits if code_logits is not None else continuous_mean).device)
    if code_logits is not None:
        loss = loss + F.cross_entropy(code_logits.float(), codes)
    if continuous_mean is not None:
        loss = loss + continuous_weight * 0.5 * (continuous_mean.float() - continuous).pow(2).sum(1).mean()
    return loss
