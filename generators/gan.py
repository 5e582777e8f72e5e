"""GAN: Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville & Bengio,
"Generative Adversarial Nets", NeurIPS 2014 (arXiv:1406.2661).

Defining components:

* multilayer perceptrons for both players: G maps noise through ReLU layers to a Tanh image
  (or to 2-D points on toy2d), D maps the flattened input through maxout layers to one logit;
* the two-player minimax game with D's binary cross-entropy; G minimises the non-saturating
  ``-log D(G(z))`` the paper recommends in practice, or the saturating ``log(1 - D(G(z)))``
  with ``loss="minimax"``;
* one D update per G update (the paper's k = 1).

Adam (2e-4, beta1 0.5) replaces the paper's SGD with momentum, and the image generator uses
BatchNorm; both follow common practice and keep the variant comparable under one budget.

Architecture schedule (:meth:`GAN.architecture`): the paper's networks are multilayer
perceptrons with no resolution levels, so an image size changes only the layers that read or
write pixels: G has two hidden layers of ``8 width`` ReLU units and a dense output of
``C x N x N`` values, D two maxout layers of ``8 width`` units on the flattened image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


from ganbench.errors import UserError
from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, Schedule
from ganbench.generators.base import DataSpec
from ganbench.generators.blocks import Discriminator, MLPGenerator, MLPTrunk, image_shape, point_discriminator, point_generator
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


@dataclass
class GANConfig:
    z_dim: int = 100
    width: int = 64
    maxout_pieces: int = 5
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "nonsaturating"
    tricks: Tricks = field(default_factory=Tricks)


@GENERATORS.register
class GAN(NoiseGAN):
    name = "gan"
    paper = "Goodfellow et al., Generative Adversarial Nets"
    year = 2014
    supports_points = True
    config_class = GANConfig

    def __init__(self, spec: DataSpec, config: GANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or GANConfig()
        c = self.config
        if c.loss not in ("nonsaturating", "minimax"):
            raise UserError(f"gan's loss is 'nonsaturating' or 'minimax', not {c.loss!r}")
        if spec.kind == "points":
            self.G = point_generator(c.z_dim)
            self.D = point_discriminator(c.tricks)
        else:
            shape, hidden = image_shape(spec), 8 * c.width
            self.G = MLPGenerator(c.z_dim, shape, hidden=hidden, depth=2)
            self.D = Discriminator(lambda m: MLPTrunk(math.prod(shape) * m, hidden, depth=2, pieces=c.maxout_pieces),
                                   c.tricks)
        self.tricks = TrickHooks(c.tricks, c.loss, spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: GANConfig | None = None) -> Architecture:
        hidden, image = 8 * (config or GANConfig()).width, ((spec.resolution,), (spec.channels,))
        return {"G": Schedule(*image, dense=(hidden, hidden, spec.channels * spec.resolution**2)),
                "D.trunk": Schedule(*image, dense=(hidden, hidden))}
