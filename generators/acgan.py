"""AC-GAN: Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs",
ICML 2017 (arXiv:1610.09585).

Defining components:

* the class label is an input of G only: ``X_fake = G(c, z)`` with ``c ~ p_c`` (uniform over the
  K classes), fed by concatenation, ``[z, onehot(c)]``, as the paper's 110-dimensional generator
  input for 10 classes (100 noise dimensions and the class) implies; D never sees the label;
* D has two heads on one shared trunk: the source head ``P(S | X)`` (real or fake, one logit)
  and the auxiliary classifier ``P(C | X)`` (K logits);
* two log-likelihoods, ``L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]`` and
  ``L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]``: D maximises ``L_S + L_C`` (the
  BCE source loss plus the class cross-entropy of real images with their labels and of fakes
  with the labels they were sampled for), G maximises ``L_C - L_S`` with the source term in its
  non-saturating form (``-log P(S = real | X_fake)`` plus the class cross-entropy of its fakes);
* DCGAN-style convolutional networks with BatchNorm, ReLU/Tanh in G and LeakyReLU 0.2 in D,
  weights from N(0, 0.02), Adam with learning rate 2e-4 and betas (0.5, 0.999) for both
  players (the paper's CIFAR-10 settings).

Simplifications against the paper's CIFAR-10 networks: G and D are ganbench's shared DCGAN ones
(``DCGANGenerator``, ``ConvTrunk``: 4x4 kernels, one convolution per resolution, BatchNorm after
G's first projection) in place of the paper's linear layer and 5x5 transposed convolutions in G
and six 3x3 convolutions with dropout 0.5 in D; ``width`` 96 gives the paper's generator
channels at 32x32 (384, 192, 96), and presets scale it. The two heads are two linear layers on
the trunk's features, which is the paper's single linear layer of 1 + K outputs split in two.
The paper trains an ensemble of 100 AC-GANs on 10-class splits of ImageNet; here one model
covers all classes of the data set.

Sampling asks for any labels (``sample(n, labels)``; balanced classes by default), so the
conditional-accuracy metric applies.

Architecture schedule (:meth:`ACGAN.architecture`): DCGAN's (``ganbench.generators.dcgan``), a
stage per doubling from 4x4 in G and per halving down to 4x4 in D, channels halving from at
most ``8 width`` at 4x4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import UserError
from ganbench.generators import GENERATORS
from ganbench.generators.base import Batch, DataSpec
from ganbench.generators.blocks import ConvTrunk, Discriminator, LabelConcat
from ganbench.generators.architecture import Architecture
from ganbench.generators.dcgan import DCGANGenerator, convolutional_architecture
from ganbench.generators.layers import init_dcgan_weights
from ganbench.generators.noise_gan import NoiseGAN
from ganbench.generators.tricks import TrickHooks, Tricks


def class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``-E[log P(C = c | X)]``: the auxiliary classifier's cross-entropy on one batch (Odena et al. 2017)."""
    return F.cross_entropy(logits.float(), labels)


class AuxiliaryClassifierDiscriminator(Discriminator):
    """The shared discriminator (source head ``P(S | X)``) with AC-GAN's second head on its trunk:
    :meth:`class_logits` maps the trunk's features to the logits of ``P(C | X)``."""

    def __init__(self, make_trunk: Callable[[int], nn.Module], tricks: Tricks, num_classes: int) -> None:
        super().__init__(make_trunk, tricks)
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def class_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features)


@dataclass
class ACGANConfig:
    z_dim: int = 100
    width: int = 96
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "nonsaturating"
    tricks: Tricks = field(default_factory=Tricks)


@GENERATORS.register
class ACGAN(NoiseGAN):
    name = "acgan"
    paper = "Odena et al., Conditional Image Synthesis with Auxiliary Classifier GANs"
    year = 2017
    conditional = True
    config_class = ACGANConfig

    def __init__(self, spec: DataSpec, config: ACGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or ACGANConfig()
        c = self.config
        if c.tricks.packing > 1:
            raise UserError("acgan cannot use packing: the auxiliary classifier must classify each sample")
        k = spec.num_classes
        self.condition = LabelConcat(k)
        self.G = DCGANGenerator(c.z_dim + k, spec.channels, spec.resolution, c.width)
        self.D = AuxiliaryClassifierDiscriminator(lambda m: ConvTrunk(spec.channels * m, spec.resolution, c.width),
                                                  c.tricks, k)
        init_dcgan_weights(self.G)
        init_dcgan_weights(self.D)
        self.tricks = TrickHooks(c.tricks, c.loss, spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: ACGANConfig | None = None) -> Architecture:
        return convolutional_architecture(spec, (config or ACGANConfig()).width)

    def sample_labels(self, n: int) -> torch.Tensor:
        """``c ~ p_c``: classes drawn uniformly for the fakes of a training step."""
        return torch.randint(self.spec.num_classes, (n,), device=self.device)

    def fake(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``G(c, z)`` for the classes ``labels`` and fresh noise."""
        return self.G(self.condition(self.noise(len(labels), generator), labels))

    def discriminator_losses(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """D's ``-L_S`` and ``-L_C`` on the real batch (its labels) and as many detached fakes (sampled labels)."""
        labels = self.sample_labels(len(batch.real))
        with torch.no_grad():
            fake = self.fake(labels)
        real_features = self.D.features(self.tricks.view(batch.real, batch.step))
        fake_features = self.D.features(self.tricks.view(fake, batch.step))
        source = self.tricks.discriminator_loss(self.D.classify(real_features), self.D.classify(fake_features))
        classes = (class_loss(self.D.class_logits(real_features), batch.labels)
                   + class_loss(self.D.class_logits(fake_features), labels))
        return source, classes

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        source, classes = self.discriminator_losses(batch)
        self.optimize(self.opt_d, source + classes)
        return {"loss_d": source.detach(), "loss_class": classes.detach()}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        labels = self.sample_labels(len(batch.real))
        features = self.D.features(self.tricks.view(self.fake(labels), batch.step))
        source = self.tricks.generator_loss(self.D, self.tricks.view(batch.real, batch.step), features)
        self.optimize(self.opt_g, source + class_loss(self.D.class_logits(features), labels))
        return {"loss_g": source.detach()}

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        if labels is None:
            labels = self.default_labels(n).to(self.device)
        return self.sampling_network(self.condition(self.noise(n, generator), labels))
