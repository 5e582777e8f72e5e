"""The adversarial losses and regularizers of ``ganbench.generators.losses``, each checked against
its paper's formula written out independently on fixed inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.generators.losses import (clip_weights, discriminator_loss, drift_penalty, generator_loss,
                                        gradient_penalty, mutual_information_loss, orthogonal_regularization,
                                        r1_penalty)

REAL = torch.tensor([0.3, -1.2, 2.0, 0.0, 0.8], dtype=torch.float64)
FAKE = torch.tensor([-0.4, 1.5, -2.5, 0.7, -0.9], dtype=torch.float64)


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log(1 / (1 + exp(-x))), elementwise."""
    return torch.tensor([-math.log1p(math.exp(-v)) for v in x.tolist()], dtype=x.dtype)


def log_one_minus_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log(1 - 1 / (1 + exp(-x))) = log(1 / (1 + exp(x))), elementwise."""
    return torch.tensor([-math.log1p(math.exp(v)) for v in x.tolist()], dtype=x.dtype)


DISCRIMINATOR_FORMULAS = {
    "nonsaturating": lambda r, f, t: -(t * log_sigmoid(r) + (1 - t) * log_one_minus_sigmoid(r)).mean()
    - log_one_minus_sigmoid(f).mean(),
    "minimax": lambda r, f, t: -(t * log_sigmoid(r) + (1 - t) * log_one_minus_sigmoid(r)).mean()
    - log_one_minus_sigmoid(f).mean(),
    "lsgan": lambda r, f, t: 0.5 * ((r - t) ** 2).mean() + 0.5 * (f**2).mean(),
    "wasserstein": lambda r, f, t: f.mean() - r.mean(),
    "hinge": lambda r, f, t: torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean(),
}

GENERATOR_FORMULAS = {
    "nonsaturating": lambda f: -log_sigmoid(f).mean(),
    "minimax": lambda f: log_one_minus_sigmoid(f).mean(),
    "lsgan": lambda f: 0.5 * ((f - 1) ** 2).mean(),
    "wasserstein": lambda f: -f.mean(),
    "hinge": lambda f: -f.mean(),
}


@pytest.mark.parametrize("kind", list(DISCRIMINATOR_FORMULAS))
def test_discriminator_losses_follow_their_papers(kind: str) -> None:
    expected = DISCRIMINATOR_FORMULAS[kind](REAL, FAKE, 1.0)
    torch.testing.assert_close(discriminator_loss(kind, REAL, FAKE), expected)


@pytest.mark.parametrize("kind", ["nonsaturating", "lsgan"])
def test_label_smoothing_moves_only_the_real_target(kind: str) -> None:
    expected = DISCRIMINATOR_FORMULAS[kind](REAL, FAKE, 0.9)
    torch.testing.assert_close(discriminator_loss(kind, REAL, FAKE, real_target=0.9), expected)
    with pytest.raises(ValueError, match="label smoothing"):
        discriminator_loss("hinge", REAL, FAKE, real_target=0.9)


@pytest.mark.parametrize("kind", list(GENERATOR_FORMULAS))
def test_generator_losses_follow_their_papers(kind: str) -> None:
    torch.testing.assert_close(generator_loss(kind, FAKE), GENERATOR_FORMULAS[kind](FAKE))


def test_generator_losses_push_the_discriminator_output_towards_real() -> None:
    for kind in GENERATOR_FORMULAS:
        fake = FAKE.clamp(max=0.9).requires_grad_(True)
        generator_loss(kind, fake).backward()
        assert bool((fake.grad < 0).all()), kind


class HalfSquaredNorm(nn.Module):
    """f(x) = w / 2 * ||x||^2 per sample, whose input gradient is w * x."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.w * x.pow(2).flatten(1).sum(1)


def test_gradient_penalty_is_taken_at_random_interpolates() -> None:
    real, fake = torch.randn(6, 2, 3, 3), torch.randn(6, 2, 3, 3) + 2
    critic = HalfSquaredNorm()
    torch.manual_seed(5)
    penalty = gradient_penalty(critic, real, fake)
    torch.manual_seed(5)
    alpha = torch.rand(6, 1, 1, 1)
    x_hat = alpha * real + (1 - alpha) * fake
    norms = 1.5 * x_hat.flatten(1).norm(dim=1)
    torch.testing.assert_close(penalty, ((norms - 1) ** 2).mean())
    torch.manual_seed(5)
    torch.testing.assert_close(gradient_penalty(critic, real, fake, target=0.5), ((norms - 0.5) ** 2).mean())
    penalty.backward()
    assert critic.w.grad is not None and float(critic.w.grad.abs()) > 0


def test_r1_penalty_is_the_squared_gradient_norm_on_real_data() -> None:
    real = torch.randn(4, 3, 2, 2, requires_grad=True)
    out = real.pow(3).flatten(1).sum(1) / 3
    expected = real.detach().pow(4).flatten(1).sum(1).mean()
    torch.testing.assert_close(r1_penalty(out, real), expected)


def test_drift_penalty_is_the_mean_squared_critic_output() -> None:
    torch.testing.assert_close(drift_penalty(REAL.float()), (REAL.float() ** 2).mean())


class WithEmbedding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 4)
        self.embed = nn.Embedding(5, 3)


def test_orthogonal_regularization_sums_squared_off_diagonal_gram_entries() -> None:
    module = WithEmbedding()
    w = module.linear.weight.detach()
    expected = sum(float(w[i] @ w[j]) ** 2 for i in range(4) for j in range(4) if i != j)
    assert float(orthogonal_regularization(module).detach()) == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():
        module.linear.weight.copy_(torch.eye(4, 3) * 3)
    assert float(orthogonal_regularization(module).detach()) == pytest.approx(0.0, abs=1e-12)


def test_weight_clipping_clamps_every_parameter_to_the_limit() -> None:
    module = nn.Linear(6, 6)
    with torch.no_grad():
        module.weight.copy_(torch.linspace(-0.05, 0.05, 36).view(6, 6))
    before = [p.detach().clone() for p in module.parameters()]
    clip_weights(module, 0.01)
    for old, new in zip(before, module.parameters()):
        torch.testing.assert_close(new.detach(), old.clamp(-0.01, 0.01))
    weight = module.weight.detach()
    assert float(weight.max()) == pytest.approx(0.01) and float(weight.min()) == pytest.approx(-0.01)


def test_mutual_information_term_is_cross_entropy_plus_weighted_gaussian_nll() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-0.5, 1.5, 0.0]])
    codes = torch.tensor([0, 2, 1])
    means = torch.tensor([[0.5, -0.2], [0.1, 0.9], [-0.7, 0.3]])
    cont = torch.tensor([[0.4, 0.4], [-0.5, 1.0], [-1.0, -0.2]])
    cross_entropy = -torch.log_softmax(logits, dim=1)[torch.arange(3), codes].mean()
    squared = ((means - cont) ** 2).sum(1).mean()
    torch.testing.assert_close(mutual_information_loss(logits, codes, means, cont), cross_entropy + 0.05 * squared)
    torch.testing.assert_close(mutual_information_loss(logits, codes), cross_entropy)
