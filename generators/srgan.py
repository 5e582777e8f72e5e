"""SRGAN: Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", CVPR 2017 (arXiv:1609.04802).

Defining components:

* the SRResNet generator: residual blocks (Conv-BN-PReLU-Conv-BN, 16 of them), a long skip and
  sub-pixel convolution (pixel shuffle) x2 up-sampling stages, x4 in all;
* a VGG-style discriminator: eight 3x3 convolutions with strided down-sampling, 64 to 512
  channels, LeakyReLU 0.2, two dense layers to one logit;
* the perceptual loss: a content loss, the MSE between feature maps of a fixed, frozen network
  (the paper's VGG19 ``phi_5,4``, a classifier that plays no part in its evaluation; here the
  last convolutional block of a classifier trained on the real train split, attached with
  :meth:`SRGAN.set_content_network`; the pixel MSE when none is attached), plus 1e-3 times the
  adversarial loss ``-log D(G(x))``. A run attaches ``RunContext.content_network()``
  (:class:`ganbench.features.ContentClassifier`): the reference classifier's architecture
  trained with its own recipe and seed, so its weights differ from the ``classifier``
  extractor's and SRGAN is never scored by the features it was trained to match; the train
  record names it (``info["content_network"]``: recipe, seed, weights hash);
* two stages, as in the paper, which initialises SRGAN with the trained MSE-based SRResNet: for
  the first ``pretrain_fraction`` of the step budget G is trained alone on the pixel MSE and D
  rests; then the adversarial stage trains both with the perceptual loss;
* Adam, learning rate 1e-4, beta1 = 0.9; the paper trains SRGAN 10^5 iterations at 1e-4 and
  another 10^5 at 1e-5, so the second half of the adversarial stage runs both players at a tenth
  of the rate (:func:`stage_lr`, following :attr:`ganbench.generators.base.Batch.progress`).

Trains on the ``super-resolution`` task (:mod:`ganbench.tasks`): x4 bicubic down-sampled image
(x2 below 32 px) -> image.

Architecture schedule (:meth:`SRGAN.architecture`): the paper's Fig. 4 at every size: G keeps
the input's size through its 16 residual blocks (``n_blocks``), then one conv + pixel-shuffle x2
stage per doubling (two for x4); D has eight 3x3 convolutions, 64 to 512 channels (``width`` 64),
every second of stride 2 (so maps of ``N / 16``), then Dense(1024) and Dense(1). Its first dense
layer reads the whole ``N / 16`` map, as the paper's reads the 6x6 map of its 96 px crops: its
weights grow with the pixel count (``8 width x (N / 16)^2 x 16 width``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.features import ReferenceClassifier
from ganbench.tasks import sr_factor
from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture
from ganbench.generators.base import Batch, DataSpec, set_learning_rate
from ganbench.generators.losses import discriminator_loss, generator_loss
from ganbench.generators.translation_blocks import (SRResNet, TranslationModel, VGGDiscriminator, frozen,
                                                    srresnet_schedule, vgg_schedule)


def classifier_feature_maps(classifier: ReferenceClassifier) -> nn.Module:
    """The reference classifier's convolutional trunk up to its last block, before pooling."""
    return nn.Sequential(*list(classifier.trunk.children())[:-2])


#: The learning rate's factor over the second half of the adversarial stage (1e-4 -> 1e-5 in the paper).
LATE_LR_FACTOR = 0.1


def stage_lr(lr: float, progress: float, pretrain_fraction: float) -> float:
    """The learning rate at ``progress`` (the share of the step budget done): ``lr`` through the
    pretraining stage and the first half of the adversarial one, ``lr * LATE_LR_FACTOR`` after."""
    late = pretrain_fraction + (1.0 - pretrain_fraction) / 2
    return lr * LATE_LR_FACTOR if progress >= late else lr


@dataclass
class SRGANConfig:
    width: int = 64
    n_blocks: int = 16
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    adversarial_weight: float = 1e-3
    loss: str = "nonsaturating"
    pretrain_fraction: float = 0.5


@GENERATORS.register
class SRGAN(TranslationModel):
    name = "srgan"
    paper = "Ledig et al., Photo-Realistic Single Image Super-Resolution Using a GAN"
    year = 2017
    task = "paired"
    task_view = "super-resolution"
    needs_reference = True
    config_class = SRGANConfig
    channels_last_on_cpu = True

    def __init__(self, spec: DataSpec, config: SRGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or SRGANConfig()
        c = self.config
        self.scale = sr_factor(spec.resolution)
        self.G = SRResNet(spec.channels, self.scale, c.width, c.n_blocks)
        self.D = VGGDiscriminator(spec.channels, spec.resolution, c.width)
        # Kept out of the module tree: the frozen network is neither trained nor checkpointed.
        self.__dict__["content_network"] = None
        self._fake: tuple[Batch, torch.Tensor] | None = None

    @classmethod
    def architecture(cls, spec: DataSpec, config: SRGANConfig | None = None) -> Architecture:
        c, size = config or SRGANConfig(), spec.resolution
        return {"G": srresnet_schedule(spec.channels, size, sr_factor(size), c.width, c.n_blocks),
                "D": vgg_schedule(spec.channels, size, c.width)}

    def set_content_network(self, network: nn.Module | ReferenceClassifier) -> None:
        """Freeze ``network`` (a reference classifier, or any module from images in [-1, 1] to
        feature maps) and use it for the content loss."""
        network.requires_grad_(False)
        if isinstance(network, ReferenceClassifier):
            network = classifier_feature_maps(network)
        network = network.to(self.device).eval()
        self.__dict__["content_network"] = network

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=c.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=c.betas)
        return {"g": self.opt_g, "d": self.opt_d}

    def content_loss(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """MSE between the frozen network's feature maps (pixel MSE without one)."""
        net = self.content_network
        if net is None:
            return F.mse_loss(fake, real)
        net.eval()
        return F.mse_loss(net(fake), net(real))

    def pretraining(self, batch: Batch) -> bool:
        """Whether ``batch`` falls in the SRResNet stage (G alone on the pixel MSE)."""
        return batch.progress < self.config.pretrain_fraction

    def follow_lr_schedule(self, batch: Batch) -> None:
        """Set both players' learning rate to :func:`stage_lr` at ``batch.progress``."""
        c = self.config
        set_learning_rate(stage_lr(c.lr, batch.progress, c.pretrain_fraction), self.opt_g, self.opt_d)

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        self.follow_lr_schedule(batch)
        if self.pretraining(batch):
            return {}
        fake = self.G(batch.source)
        self._fake = (batch, fake)
        loss = discriminator_loss(self.config.loss, self.D(batch.real), self.D(fake.detach()))
        self.optimize(self.opt_d, loss)
        return {"loss_d": loss.detach()}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        self.follow_lr_schedule(batch)
        if self.pretraining(batch):
            mse = F.mse_loss(self.G(batch.source), batch.real)
            self.optimize(self.opt_g, mse)
            return {"mse": mse.detach()}
        cached, self._fake = self._fake, None
        fake = cached[1] if cached is not None and cached[0] is batch else self.G(batch.source)
        with frozen(self.D):
            adversarial = generator_loss(self.config.loss, self.D(fake))
        content = self.content_loss(fake, batch.real)
        loss = content + self.config.adversarial_weight * adversarial
        self.optimize(self.opt_g, loss)
        return {"loss_g": adversarial.detach(), "content": content.detach()}

    def translate_float(self, source: torch.Tensor, target_labels: torch.Tensor | None) -> torch.Tensor:
        return self.G(source)
