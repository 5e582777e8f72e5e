"""The one training loop of the CNN detectors (timm CNNs, NPR, small-cnn): binary cross-entropy on
real (0) vs fake (1) uint8 images, Adam, optional Blur+JPEG augmentation, seeded shuffling.

The defaults follow Wang et al., "CNN-generated images are surprisingly easy to spot... for
now", CVPR 2020: Adam (lr 1e-4, betas 0.9/0.999), batch 64, binary cross-entropy. When a
validation pair is given, the weights of the epoch with the lowest validation loss are kept.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.detectors.augment import BlurJpeg, BlurJpegConfig


@dataclass(frozen=True)
class TrainerConfig:
    epochs: int = 4
    batch_size: int = 64
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    augment: BlurJpegConfig | None = None


@dataclass
class TrainHistory:
    losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    seconds: float = 0.0


def images_to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32 in [0, 1]."""
    return images.float().div_(255.0)


@torch.inference_mode()
def predict_logits(network: nn.Module, prepare: Any, images: torch.Tensor, device: torch.device,
                   batch_size: int = 256) -> torch.Tensor:
    network.eval()
    out = [network(prepare(chunk).to(device)).float().view(-1).cpu() for chunk in images.split(batch_size)]
    return torch.cat(out) if out else torch.zeros(0)


def train_binary(network: nn.Module, prepare: Any, real: torch.Tensor, fake: torch.Tensor, config: TrainerConfig,
                 seed: int, device: torch.device,
                 validation: tuple[torch.Tensor, torch.Tensor] | None = None) -> TrainHistory:
    """Train ``network`` (one logit per image) on real vs fake; ``prepare`` maps uint8 batches to inputs."""
    rng = np.random.default_rng(seed)
    augment = BlurJpeg(config.augment) if config.augment is not None else None
    images = torch.cat([real, fake])
    labels = torch.cat([torch.zeros(len(real)), torch.ones(len(fake))])
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, betas=config.betas,
                                 weight_decay=config.weight_decay)
    history = TrainHistory()
    best_state: dict[str, torch.Tensor] | None = None
    started = time.perf_counter()
    for epoch in range(config.epochs):
        network.train()
        order = torch.from_numpy(rng.permutation(len(images)))
        total, count = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            if len(index) < 2:
                continue
            batch = images[index]
            if augment is not None:
                batch = augment(batch, rng)
            logits = network(prepare(batch).to(device)).float().view(-1)
            loss = F.binary_cross_entropy_with_logits(logits, labels[index].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            count += len(index)
        history.losses.append(total / max(count, 1))
        if validation is not None:
            val_real, val_fake = validation
            logits = predict_logits(network, prepare, torch.cat([val_real, val_fake]), device)
            target = torch.cat([torch.zeros(len(val_real)), torch.ones(len(val_fake))])
            history.val_losses.append(float(F.binary_cross_entropy_with_logits(logits, target)))
            if history.best_epoch is None or history.val_losses[-1] < history.val_losses[history.best_epoch]:
                history.best_epoch = epoch
                best_state = copy.deepcopy(network.state_dict())
    if best_state is not None:
        network.load_state_dict(best_state)
    history.seconds = time.perf_counter() - started
    return history


class CNNDetector:
    """Base of the trained CNN detectors: subclasses say how to ``build`` the network and ``prepare`` inputs.

    Run settings arrive through the constructor: ``seed``, ``epochs`` (the preset's detector
    epochs; the class's ``trainer`` default otherwise), ``device`` and ``augment`` (override the
    class default for Blur+JPEG augmentation).
    """

    name = "cnn"
    paper = ""
    year = 0
    trainer = TrainerConfig()
    outputs_probability = True

    def __init__(self, seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None,
                 augment: bool | None = None) -> None:
        self.seed = seed
        self.device = torch.device(device or "cpu")
        config = self.trainer if epochs is None else replace(self.trainer, epochs=epochs)
        if augment is not None:
            config = replace(config, augment=BlurJpegConfig() if augment else None)
        self.config = config
        self.network: nn.Module | None = None
        self.input_shape: tuple[int, int, int] | None = None
        self.history = TrainHistory()

    def build(self, channels: int, height: int, width: int) -> nn.Module:
        raise NotImplementedError

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``N,C,H,W`` -> network input; default: [-1, 1]."""
        return images_to_unit(images).mul_(2).sub_(1)

    def fit(self, real: torch.Tensor, fake: torch.Tensor,
            validation: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        torch.manual_seed(self.seed)
        _, c, h, w = real.shape
        self.input_shape = (c, h, w)
        self.network = self.build(c, h, w).to(self.device)
        self.history = train_binary(self.network, self.prepare, real, fake, self.config, self.seed, self.device,
                                    validation)

    def score(self, images: torch.Tensor) -> np.ndarray:
        if self.network is None:
            raise RuntimeError(f"{self.name}: score() before fit()")
        return torch.sigmoid(predict_logits(self.network, self.prepare, images, self.device)).double().numpy()

    def state(self) -> dict[str, torch.Tensor]:
        """The fitted network's weights (``network.<key>``) and the ``input_shape`` it was built for."""
        if self.network is None:
            raise RuntimeError(f"{self.name}: state() before fit()")
        shape = torch.tensor(self.input_shape, dtype=torch.int64)
        return {"input_shape": shape, **{f"network.{k}": v for k, v in self.network.state_dict().items()}}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        """Rebuild the network for the saved ``input_shape`` and load its weights strictly."""
        c, h, w = (int(v) for v in state["input_shape"])
        self.input_shape = (c, h, w)
        self.network = self.build(c, h, w).to(self.device)
        weights = {k.removeprefix("network."): v for k, v in state.items() if k.startswith("network.")}
        self.network.load_state_dict(weights, strict=True)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"epochs": self.config.epochs, "batch_size": self.config.batch_size,
                                "lr": self.config.lr, "augment": "blur+jpeg" if self.config.augment else "none",
                                "train_losses": [round(x, 4) for x in self.history.losses]}
        if self.network is not None:
            info["params"] = sum(p.numel() for p in self.network.parameters())
        if self.history.best_epoch is not None:
            info["best_epoch"] = self.history.best_epoch + 1
        return info
