"""StarGAN: Choi, Choi, Kim, Ha, Kim & Choo, "StarGAN: Unified Generative Adversarial Networks
for Multi-Domain Image-to-Image Translation", CVPR 2018 (arXiv:1711.09020).

Defining components:

* one generator for all domains, conditioned on the target domain: the one-hot label is
  replicated spatially and concatenated to the input image (ResNet-block generator with
  instance norm: c7s1-64, two 4x4 stride-2 down-samplings, 6 residual blocks, two 4x4 stride-2
  transposed-convolution up-samplings; zero padding, as in the paper's architecture table
  (Table 4): the label maps are constant, so under
  reflection padding the first instance norm would erase them);
* a PatchGAN discriminator with two heads on a shared trunk: ``D_src`` (real/fake patch map) and
  ``D_cls`` (domain logits);
* the WGAN-GP adversarial loss (gradient penalty lambda = 10), the domain-classification loss
  (lambda_cls = 1; D learns it on real images, G on its outputs) and the reconstruction
  (cycle) loss ``|x - G(G(x, c'), c)|_1`` with lambda_rec = 10;
* five D updates per G update; Adam, learning rate 1e-4, betas (0.5, 0.999).

Architecture schedule (:meth:`StarGAN.architecture`): the paper's Table 4 (128 px) at every
size: G is two stride-2 halvings, 6 residual blocks (``n_blocks``) and two doublings; D halves
the image with 4x4 stride-2 convolutions down to 2x2 (six layers at 128 px, 64 to 2048 channels
for ``width`` 64), then ``src`` keeps the 2x2 map and ``cls`` reads it whole.

Trains on the ``multi-domain`` task (:mod:`ganbench.tasks`): images labelled with one of K
domains (single-label, as for the paper's RaFD expressions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.tasks import domain_count
from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, from_path
from ganbench.generators.base import Batch, DataSpec
from ganbench.generators.losses import discriminator_loss, generator_loss, gradient_penalty
from ganbench.generators.translation_blocks import ResnetGenerator, TranslationModel, frozen, resnet_schedule

LOSS = "wasserstein"


class ConditionalGenerator(nn.Module):
    """G(x, c): the target domain's one-hot map concatenated to the image, then a ResNet generator."""

    def __init__(self, channels: int, num_domains: int, width: int, n_blocks: int) -> None:
        super().__init__()
        self.num_domains = num_domains
        self.net = ResnetGenerator(channels + num_domains, channels, width, n_blocks, pad="zeros", resample_kernel=4)

    def forward(self, x: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(domains, self.num_domains).to(x.dtype)
        return self.net(torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[-2:])], 1))


class StarDiscriminator(nn.Module):
    """Stride-2 Conv 4x4 + LeakyReLU 0.01 down to 2x2, then ``src`` (3x3 conv, a patch map of
    critic values) and ``cls`` (a conv over the whole map, one logit per domain)."""

    def __init__(self, channels: int, resolution: int, num_domains: int, width: int) -> None:
        super().__init__()
        levels = int(math.log2(resolution)) - 1
        layers: list[nn.Module] = []
        cin, cout = channels, width
        for _ in range(levels):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.01)]
            cin, cout = cout, cout * 2
        self.trunk = nn.Sequential(*layers)
        side = resolution // 2**levels
        self.src = nn.Conv2d(cin, 1, 3, 1, 1, bias=False)
        self.cls = nn.Conv2d(cin, num_domains, side, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.src(h), self.cls(h).flatten(1)


@dataclass
class StarGANConfig:
    width: int = 64
    n_blocks: int = 6
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 5
    cls_weight: float = 1.0
    rec_weight: float = 10.0
    gp_weight: float = 10.0


@GENERATORS.register
class StarGAN(TranslationModel):
    name = "stargan"
    paper = "Choi et al., StarGAN: Unified GANs for Multi-Domain Image-to-Image Translation"
    year = 2018
    task = "multi-domain"
    task_view = "multi-domain"
    config_class = StarGANConfig

    def __init__(self, spec: DataSpec, config: StarGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or StarGANConfig()
        c = self.config
        self.n_critic = c.n_critic
        self.num_domains = domain_count("multi-domain", spec.num_classes)
        self.G = ConditionalGenerator(spec.channels, self.num_domains, c.width, c.n_blocks)
        self.D = StarDiscriminator(spec.channels, spec.resolution, self.num_domains, c.width)

    @classmethod
    def architecture(cls, spec: DataSpec, config: StarGANConfig | None = None) -> Architecture:
        c, ch, size = config or StarGANConfig(), spec.channels, spec.resolution
        levels = int(math.log2(size)) - 1
        trunk = [(size >> (i + 1), c.width * 2**i) for i in range(levels)]
        critic = from_path([(size, ch), *trunk, (2, 1), (1, domain_count("multi-domain", spec.num_classes))])
        return {"G": resnet_schedule(ch, ch, size, c.width, c.n_blocks), "D": critic}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=c.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=c.betas)
        return {"g": self.opt_g, "d": self.opt_d}

    def random_targets(self, domains: torch.Tensor) -> torch.Tensor:
        """A uniformly drawn target domain for each image."""
        return torch.randint(0, self.num_domains, domains.shape, device=domains.device)

    def discriminator_losses(self, real: torch.Tensor, domains: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.G(real, self.random_targets(domains))
        src_real, cls_real = self.D(real)
        src_fake, _ = self.D(fake)
        return {"adversarial": discriminator_loss(LOSS, src_real, src_fake),
                "cls": F.cross_entropy(cls_real.float(), domains),
                "gp": gradient_penalty(lambda x: self.D(x)[0], real, fake)}

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        c = self.config
        terms = self.discriminator_losses(batch.source, batch.source_labels)
        loss = terms["adversarial"] + c.cls_weight * terms["cls"] + c.gp_weight * terms["gp"]
        self.optimize(self.opt_d, loss)
        return {"loss_d": terms["adversarial"].detach(), "cls_d": terms["cls"].detach(), "gp": terms["gp"].detach()}

    def generator_losses(self, real: torch.Tensor, domains: torch.Tensor) -> dict[str, torch.Tensor]:
        targets = self.random_targets(domains)
        fake = self.G(real, targets)
        with frozen(self.D):
            src_fake, cls_fake = self.D(fake)
        return {"adversarial": generator_loss(LOSS, src_fake),
                "cls": F.cross_entropy(cls_fake.float(), targets),
                "rec": F.l1_loss(self.G(fake, domains), real)}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        c = self.config
        terms = self.generator_losses(batch.source, batch.source_labels)
        loss = terms["adversarial"] + c.cls_weight * terms["cls"] + c.rec_weight * terms["rec"]
        self.optimize(self.opt_g, loss)
        return {"loss_g": terms["adversarial"].detach(), "cls_g": terms["cls"].detach(), "rec": terms["rec"].detach()}

    def translate_float(self, source: torch.Tensor, target_labels: torch.Tensor | None) -> torch.Tensor:
        if target_labels is None:
            raise ValueError("stargan needs a target domain for each image")
        return self.G(source, target_labels)
