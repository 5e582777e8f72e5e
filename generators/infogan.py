"""InfoGAN: Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, "InfoGAN: Interpretable
Representation Learning by Information Maximizing Generative Adversarial Nets", NeurIPS 2016
(arXiv:1606.03657).

Defining components:

* a structured latent code next to the noise: one categorical code with 10 values and two
  continuous codes uniform on [-1, 1] (the paper's MNIST setting, with 62 noise dimensions);
* an auxiliary network Q that *shares the discriminator's trunk* and adds one hidden layer,
  predicting the categorical code (logits) and the continuous codes (means);
* the variational mutual-information term ``L_I`` (``ganbench.generators.losses.mutual_information_loss``),
  weight 1 for the categorical code and 0.1 for the continuous ones, minimised by G and by D/Q
  together with the GAN loss;
* the paper's MNIST networks: G is two dense layers (BatchNorm, ReLU) and two 4x4 stride-2
  transposed convolutions; D is two 4x4 stride-2 convolutions and a dense layer (LeakyReLU
  0.1, BatchNorm after the first layer); Adam with learning rate 2e-4 for D and Q, 1e-3 for G,
  beta1 0.5.

``sample(n, labels=codes)`` fixes the categorical code (the unsupervised "class").

Architecture schedule (:meth:`InfoGAN.architecture`): the paper's generators reshape the dense
output to a small map and add one 4x4 stride-2 transposed convolution per doubling (MNIST: 7x7
-> 14 -> 28; CelebA: 2x2 -> 4 -> 8 -> 16 -> 32, Table 1 of the appendix), and its discriminators
mirror them. Here the dense layer reaches ``N / 4`` below 32 px and 8x8 from 32 px up, with ``2
width`` channels; each doubling above 32 px adds one transposed convolution of ``2 width``
channels (BatchNorm, ReLU) before the last two in G, and one stride-2 convolution of ``2 width``
channels (BatchNorm, LeakyReLU 0.1) after the first two in D, so the dense layers stay the size
they have at 32 px.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import UserError
from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, Schedule, doublings
from ganbench.generators.base import Batch, DataSpec, GenerativeModel
from ganbench.generators.blocks import Discriminator
from ganbench.generators.layers import init_dcgan_weights
from ganbench.generators.losses import mutual_information_loss
from ganbench.generators.tricks import TrickHooks, Tricks


DENSE_SIDE = 8  # the side of the dense layer's map from 32 px up


def dense_side(resolution: int) -> int:
    """The side of the map that G's dense layers produce and D's dense layer reads."""
    if resolution < 8 or resolution % 4:
        raise ValueError(f"InfoGAN needs a resolution divisible by 4 and >= 8, got {resolution}")
    side = min(resolution // 4, DENSE_SIDE)
    doublings(side, resolution)
    return side


def extra_stages(resolution: int) -> int:
    """Stride-2 stages of ``2 width`` channels beyond the paper's two, one per doubling above 32 px."""
    return len(doublings(dense_side(resolution), resolution)) - 3


class InfoGANGenerator(nn.Module):
    """[z, c] -> dense 16w -> dense 2w x side^2 -> [deconv 2w per doubling above 32 px] -> deconv w ->
    deconv C, Tanh."""

    def __init__(self, in_features: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        self.side, self.ch = dense_side(resolution), 2 * width
        self.dense = nn.Sequential(
            nn.Linear(in_features, 16 * width, bias=False), nn.BatchNorm1d(16 * width), nn.ReLU(True),
            nn.Linear(16 * width, self.ch * self.side**2, bias=False), nn.BatchNorm1d(self.ch * self.side**2),
            nn.ReLU(True), nn.Unflatten(1, (self.ch, self.side, self.side)))
        extra: list[nn.Module] = []
        for _ in range(extra_stages(resolution)):
            extra += [nn.ConvTranspose2d(self.ch, self.ch, 4, 2, 1, bias=False), nn.BatchNorm2d(self.ch), nn.ReLU(True)]
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(self.ch, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh())
        self.extra = nn.Sequential(*extra)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.extra(self.dense(latent)))


class InfoGANTrunk(nn.Module):
    """x -> conv w -> conv 2w (BatchNorm) -> [conv 2w (BatchNorm) per doubling above 32 px] -> dense
    16w (BatchNorm), LeakyReLU 0.1: shared by D and Q."""

    def __init__(self, in_channels: int, resolution: int, width: int) -> None:
        super().__init__()
        side = dense_side(resolution)
        extra: list[nn.Module] = []
        for _ in range(extra_stages(resolution)):
            extra += [nn.Conv2d(2 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
                      nn.LeakyReLU(0.1, True)]
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.1, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.1, True),
            *extra, nn.Flatten(),
            nn.Linear(2 * width * side**2, 16 * width, bias=False), nn.BatchNorm1d(16 * width), nn.LeakyReLU(0.1, True))
        self.feature_dim = 16 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class QHead(nn.Module):
    """Q(c | x) on the shared trunk's features: logits of the categorical code, means of the continuous ones."""

    def __init__(self, in_features: int, hidden: int, categories: int, continuous: int) -> None:
        super().__init__()
        self.categories = categories
        self.net = nn.Sequential(nn.Linear(in_features, hidden, bias=False), nn.BatchNorm1d(hidden),
                                 nn.LeakyReLU(0.1, True), nn.Linear(hidden, categories + continuous))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(features)
        return out[:, : self.categories], out[:, self.categories :]


@dataclass
class InfoGANConfig:
    z_dim: int = 62
    categories: int = 10
    continuous: int = 2
    width: int = 64
    lr_d: float = 2e-4
    lr_g: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    info_weight: float = 1.0
    continuous_weight: float = 0.1
    loss: str = "nonsaturating"
    tricks: Tricks = field(default_factory=Tricks)


@GENERATORS.register
class InfoGAN(GenerativeModel):
    name = "infogan"
    paper = "Chen et al., InfoGAN: Interpretable Representation Learning by Information Maximizing GANs"
    year = 2016
    config_class = InfoGANConfig

    def __init__(self, spec: DataSpec, config: InfoGANConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or InfoGANConfig()
        c = self.config
        if c.tricks.packing > 1:
            raise UserError("infogan cannot use packing: Q must recover each sample's own code")
        self.G = InfoGANGenerator(c.z_dim + c.categories + c.continuous, spec.channels, spec.resolution, c.width)
        self.D = Discriminator(lambda m: InfoGANTrunk(spec.channels * m, spec.resolution, c.width), c.tricks)
        self.Q = QHead(self.D.feature_dim, 2 * c.width, c.categories, c.continuous)
        for net in (self.G, self.D, self.Q):
            init_dcgan_weights(net)
        self.tricks = TrickHooks(c.tricks, c.loss, spec, self.G, self.D)

    @classmethod
    def architecture(cls, spec: DataSpec, config: InfoGANConfig | None = None) -> Architecture:
        w, side = (config or InfoGANConfig()).width, dense_side(spec.resolution)
        sides = doublings(side, spec.resolution)
        extra = (2 * w,) * extra_stages(spec.resolution)
        return {"G": Schedule(sides, (2 * w, *extra, w, spec.channels), dense=(16 * w, 2 * w * side**2)),
                "D.trunk": Schedule(sides[::-1], (spec.channels, w, 2 * w, *extra), dense=(16 * w,))}

    @property
    def code_values(self) -> int:
        return self.config.categories

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=c.betas)
        self.opt_d = torch.optim.Adam([*self.D.parameters(), *self.Q.parameters()], lr=c.lr_d, betas=c.betas)
        return {"g": self.opt_g, "d": self.opt_d}

    def latent(self, n: int, codes: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Noise, categorical codes (random unless given) and continuous codes, concatenated for G."""
        c = self.config
        z = torch.randn(n, c.z_dim, device=self.device, generator=generator)
        if codes is None:
            codes = torch.randint(c.categories, (n,), device=self.device, generator=generator)
        cont = torch.rand(n, c.continuous, device=self.device, generator=generator) * 2 - 1
        latent = torch.cat([z, F.one_hot(codes, c.categories).float(), cont], dim=1)
        return latent, codes, cont

    def information_loss(self, features: torch.Tensor, codes: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        logits, means = self.Q(features)
        c = self.config
        return c.info_weight * mutual_information_loss(logits, codes, means if c.continuous else None,
                                                       cont if c.continuous else None, c.continuous_weight)

    def joint_features(self, real: torch.Tensor, fake: torch.Tensor,
                       step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Trunk features of real and fake images passed as one batch.

        The trunk ends in BatchNorm: normalising an all-real and an all-fake batch separately
        would give both the same feature means and leave D at chance, so, as in the paper's code,
        D sees the two halves together.
        """
        features = self.D.features(torch.cat([self.tricks.view(real, step), self.tricks.view(fake, step)]))
        return features[: len(real)], features[len(real) :]

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        latent, codes, cont = self.latent(len(batch.real))
        with torch.no_grad():
            fake = self.G(latent)
        real_features, fake_features = self.joint_features(batch.real, fake, batch.step)
        adversarial = self.tricks.discriminator_loss(self.D.classify(real_features), self.D.classify(fake_features))
        info = self.information_loss(fake_features, codes, cont)
        loss = adversarial + info
        self.optimize(self.opt_d, loss)
        return {"loss_d": adversarial.detach(), "loss_info": info.detach()}

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        latent, codes, cont = self.latent(len(batch.real))
        _, features = self.joint_features(batch.real, self.G(latent), batch.step)
        adversarial = self.tricks.generator_loss(self.D, self.tricks.view(batch.real, batch.step), features)
        loss = adversarial + self.information_loss(features, codes, cont)
        self.optimize(self.opt_g, loss)
        return {"loss_g": adversarial.detach()}

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        latent, _, _ = self.latent(n, labels, generator)
        return self.sampling_network(latent)
