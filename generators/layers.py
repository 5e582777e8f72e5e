"""Layers shared by the GAN variants."""

from __future__ import annotations

import torch
from torch import nn


def init_dcgan_weights(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation (Radford et al. 2015): conv weights ~ N(0, 0.02), BatchNorm gamma ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- minibatch discrimination


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016).

    Features ``f`` (``N,A``) are projected by a tensor ``T`` (``A,B*C``) to ``B`` kernels of ``C``
    dimensions; for each kernel ``o_b(x_i) = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_1)`` tells the
    discriminator how close a sample is to the rest of its batch. Returns ``[f, o]`` (``N, A+B``).
    """

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Linear(in_features, kernels * kernel_dim, bias=False)
        nn.init.normal_(self.T.weight, 0.0, 0.1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        m = self.T(features).view(len(features), self.kernels, self.kernel_dim)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(-1)
        closeness = torch.exp(-l1).sum(1) - 1.0
        return torch.cat([features, closeness], dim=1)
