"""small-cnn: a compact CNN trained from scratch, the CPU baseline of the detector family.

Three conv-BN-ReLU stages (16, 32, 64 channels) with max pooling, global average pooling and one
logit, trained with the shared loop of :mod:`ganbench.detectors.training` (no augmentation by default). It
follows the shallow from-scratch baselines of Wang et al., "CNN-generated images are
surprisingly easy to spot... for now", CVPR 2020, scaled to a few seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ganbench.detectors import DETECTORS
from ganbench.detectors.training import CNNDetector, TrainerConfig


@dataclass(frozen=True)
class SmallCNNConfig:
    widths: tuple[int, ...] = (16, 32, 64)


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    def __init__(self, channels: int, config: SmallCNNConfig = SmallCNNConfig()) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = channels
        for i, width in enumerate(config.widths):
            layers.append(conv_bn_relu(cin, width))
            if i < len(config.widths) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, 1)

    def forward(self, x):
        return self.head(self.features(x))


@DETECTORS.register
class SmallCNNDetector(CNNDetector):
    name = "small-cnn"
    paper = "compact from-scratch CNN baseline (after Wang et al., CNN-generated images are surprisingly easy to spot)"
    year = 2020
    trainer = TrainerConfig(lr=1e-3)
    architecture = SmallCNNConfig()

    def build(self, channels: int, height: int, width: int) -> nn.Module:
        return SmallCNN(channels, self.architecture)
