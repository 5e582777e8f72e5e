"""NPR: Tan et al., "Rethinking the Up-Sampling Operations in CNN-based Generative Network for
Generalizable Deepfake Detection", CVPR 2024.

Neighbouring Pixel Relationships: up-sampling layers make nearby pixels of a generated image
depend on each other. The residual ``x - up(down(x))`` (nearest neighbour, factor 2) exposes those
local correlations and removes the content; a shallow ResNet (two residual stages) classifies it.
An image whose height or width is odd is cropped by one row/column to an even size first. On an
image that is itself a nearest-neighbour x2 up-sampling the residual is exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.detectors import DETECTORS
from ganbench.detectors.training import CNNDetector, TrainerConfig, images_to_unit


def crop_even(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    return x[..., : h - h % 2, : w - w % 2]


def npr_residual(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """``x - up(down(x))`` with nearest interpolation; ``x`` float ``N,C,H,W`` (odd sizes cropped to even)."""
    x = crop_even(x)
    down = F.interpolate(x, scale_factor=1 / factor, mode="nearest")
    return x - F.interpolate(down, scale_factor=factor, mode="nearest")


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


@dataclass(frozen=True)
class NPRConfig:
    widths: tuple[int, int] = (32, 64)
    blocks_per_stage: int = 2
    residual_scale: float = 4.0  # the residual of [0, 1] images is small; scale it to unit-ish range


class ShallowResNet(nn.Module):
    """Stem + two residual stages + global pooling + one logit (the truncated ResNet of NPR)."""

    def __init__(self, channels: int, config: NPRConfig = NPRConfig()) -> None:
        super().__init__()
        w1, w2 = config.widths
        self.stem = nn.Sequential(nn.Conv2d(channels, w1, 3, 1, 1, bias=False), nn.BatchNorm2d(w1), nn.ReLU(True))
        stage1 = [BasicBlock(w1, w1, 1) for _ in range(config.blocks_per_stage)]
        stage2 = [BasicBlock(w1, w2, 2)] + [BasicBlock(w2, w2, 1) for _ in range(config.blocks_per_stage - 1)]
        self.stages = nn.Sequential(*stage1, *stage2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


@DETECTORS.register
class NPRDetector(CNNDetector):
    name = "npr"
    paper = "Tan et al., Rethinking the Up-Sampling Operations in CNN-based Generative Network (NPR)"
    year = 2024
    trainer = TrainerConfig(lr=2e-4)
    architecture = NPRConfig()

    def build(self, channels: int, height: int, width: int) -> nn.Module:
        return ShallowResNet(channels, self.architecture)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return npr_residual(images_to_unit(images)).mul_(self.architecture.residual_scale)
