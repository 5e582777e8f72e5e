"""Layers shared by the GAN variants."""

from __future__ import annotations

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
