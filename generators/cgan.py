"""Conditional GAN: Mirza & Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784,
2014.

Defining components:

* the class label ``y`` is an extra input of *both* players: G models ``p(x | y)`` from
  ``[z, onehot(y)]`` and D judges the pair ``[x, onehot(y)]`` (conditioning by concatenation);
* multilayer perceptrons as in the paper's MNIST experiment (ReLU generator with a Tanh image
  output, maxout discriminator);
* the GAN minimax objective with the non-saturating generator loss.

Fakes in D's update carry the labels of the real batch; sampling asks for any labels
(``sample(n, labels)``; balanced classes by default).

Architecture schedule (:meth:`CGAN.architecture`): the paper's networks are multilayer
perceptrons with no resolution levels, so an image size changes only the layers that read or
write pixels: G has two hidden layers of ``8 width`` ReLU units and a dense output of
``C x N x N`` values, D two maxout layers of ``8 width`` units on the flattened image and its one-hot label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, Schedule
from ganbench.generators.base import Batch, DataSpec
from ganbench.generators.blocks import Discriminator, LabelConcat, MLPGenerator, MLPTrunk, image_shape
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


@dataclass
class CGANConfig:
    z_dim: int = 100
    width: int = 64
    maxout_pieces: int = 5
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "nonsaturating"
    tricks: Tricks = field(default_factory=Tricks)


@GENERATORS.register
class CGAN(NoiseGAN):
    name = "cgan"
    paper = "Mirza & Osindero, Conditional Generative Adversarial Nets"
    year = 2014
    conditional = True
    config_class = CGANConfig

    def __init__(self, spec: DataSpec, config: CGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or CGANConfig()
        c = self.config
        k, shape, hidden = spec.num_classes, image_shape(spec), 8 * c.width
        self.condition = LabelConcat(k)
        self.G = MLPGenerator(c.z_dim + k, shape, hidden=hidden, depth=2)
        self.D = Discriminator(lambda m: MLPTrunk((math.prod(shape) + k) * m, hidden, depth=2, pieces=c.maxout_pieces),
                               c.tricks)
        self.tricks = TrickHooks(c.tricks, c.loss, spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: CGANConfig | None = None) -> Architecture:
        hidden = 8 * (config or CGANConfig()).width
        return {"G": Schedule((spec.resolution,), (spec.channels,),
                              dense=(hidden, hidden, spec.channels * spec.resolution**2)),
                "D.trunk": Schedule((), (), dense=(hidden, hidden))}

    def fake(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.G(self.condition(self.noise(len(labels), generator), labels))

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.fake(batch.labels)
        real_out = self.D(self.condition(self.tricks.view(batch.real, batch.step), batch.labels))
        fake_out = self.D(self.condition(self.tricks.view(fake, batch.step), batch.labels))
        loss = self.tricks.discriminator_loss(real_out, fake_out)
        self.optimize(self.opt_d, loss)
        return {"loss_d": loss.detach()}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        fake = self.fake(batch.labels)
        features = self.D.features(self.condition(self.tricks.view(fake, batch.step), batch.labels))
        real_view = self.condition(self.tricks.view(batch.real, batch.step), batch.labels)
        loss = self.tricks.generator_loss(self.D, real_view, features)
        self.optimize(self.opt_g, loss)
        return {"loss_g": loss.detach()}

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        if labels is None:
            labels = self.default_labels(n).to(self.device)
        return self.sampling_network(self.condition(self.noise(n, generator), labels))
