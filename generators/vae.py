"""VAE: Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (arXiv:1312.6114).

A non-adversarial reference generator (family ``vae``). Defining components:

* a convolutional encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))) and a convolutional decoder
  p(x|z), with the prior p(z) = N(0, I);
* the reparameterization trick z = mu + exp(logvar / 2) * eps, eps ~ N(0, I), so the ELBO is
  differentiable in the encoder's outputs;
* the ELBO, E_q[log p(x|z)] - KL(q(z|x) || p(z)), with the KL term in closed form (the paper's
  Appendix B) and the reconstruction term estimated with one sample of z;
* a Bernoulli decoder on intensities scaled to [0, 1] (the paper's MNIST likelihood) or a
  Gaussian decoder with a fixed standard deviation;
* samples decode z drawn from the prior and show the decoder's mean.

Training has no discriminator: ``n_critic = 0`` and each trainer step is one ELBO update (Adam;
the paper used Adagrad).

Architecture schedule (:meth:`VAE.architecture`): the paper's encoder and decoder are MLPs; here
they are DCGAN-style convolutional stacks (``ganbench.generators.dcgan``): one 4x4 stride-2
convolution per halving down to 4x4 in the encoder and one transposed convolution per doubling in
the decoder, channels halving from at most ``8 width`` at 4x4
(``ganbench.generators.blocks.dcgan_channels``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, Schedule
from ganbench.generators.base import Batch, DataSpec, GenerativeModel
from ganbench.generators.blocks import conv_trunk_schedule, dcgan_channels
from ganbench.generators.dcgan import generator_schedule

LIKELIHOODS = ("bernoulli", "gaussian")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample, summed over latent dimensions."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One differentiable sample z = mu + sigma * eps of N(mu, exp(logvar))."""
    eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
    return mu + (0.5 * logvar).exp() * eps


def reconstruction_nll(likelihood: str, output: torch.Tensor, x: torch.Tensor, decoder_std: float) -> torch.Tensor:
    """-log p(x|z) per sample, summed over pixels; ``x`` in [-1, 1], ``output`` the decoder's raw output.

    Bernoulli: ``output`` are logits of intensities in [0, 1]. Gaussian: ``output`` is the mean in
    [-1, 1] units and the density includes its normalising constant.
    """
    if likelihood == "bernoulli":
        target = (x + 1.0) / 2.0
        return F.binary_cross_entropy_with_logits(output, target, reduction="none").flatten(1).sum(1)
    if likelihood == "gaussian":
        squared = (x - output).pow(2) / (2.0 * decoder_std**2)
        return (squared + math.log(decoder_std) + 0.5 * math.log(2.0 * math.pi)).flatten(1).sum(1)
    raise ValueError(f"unknown likelihood {likelihood!r}; expected one of {LIKELIHOODS}")


@dataclass
class ELBOTerms:
    """Per-sample terms: ``reconstruction`` = -log p(x|z) at one z ~ q(z|x), ``kl`` = KL(q(z|x) || p(z))."""

    reconstruction: torch.Tensor
    kl: torch.Tensor

    @property
    def elbo(self) -> torch.Tensor:
        return -(self.reconstruction + self.kl)


class VAEEncoder(nn.Module):
    """resolution -> 4x4 by strided convolutions (channels doubling), then linear heads for mu and logvar."""

    def __init__(self, channels: int, resolution: int, width: int, z_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch_in = channels
        for ch in dcgan_channels(width, resolution):
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch_in = ch
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(ch_in * 16, 2 * z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.features(x)).chunk(2, dim=1)
        return mu, logvar


class VAEDecoder(nn.Module):
    """z -> 4x4 by a linear layer, then transposed convolutions (channels halving) to the resolution."""

    def __init__(self, channels: int, resolution: int, width: int, z_dim: int) -> None:
        super().__init__()
        chans = dcgan_channels(width, resolution)[::-1]
        self.ch = chans[0]
        self.project = nn.Sequential(nn.Linear(z_dim, self.ch * 16), nn.ReLU(True), nn.Unflatten(1, (self.ch, 4, 4)))
        layers: list[nn.Module] = []
        for cin, cout in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.ReLU(True)]
        layers.append(nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z))


@dataclass
class VAEConfig:
    z_dim: int = 32
    width: int = 64
    likelihood: str = "bernoulli"
    decoder_std: float = 0.1
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)


@GENERATORS.register
class VAE(GenerativeModel):
    """``E`` is the encoder q(z|x), ``G`` the decoder p(x|z) that produces samples."""

    name = "vae"
    paper = "Kingma & Welling, Auto-Encoding Variational Bayes"
    year = 2014
    family = "vae"
    config_class = VAEConfig
    truncation_range = (0.0, float("inf"))
    n_critic = 0

    def __init__(self, spec: DataSpec, config: VAEConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or VAEConfig()
        c = self.config
        if c.likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {c.likelihood!r}; expected one of {LIKELIHOODS}")
        self.E = VAEEncoder(spec.channels, spec.resolution, c.width, c.z_dim)
        self.G = VAEDecoder(spec.channels, spec.resolution, c.width, c.z_dim)

    @classmethod
    def architecture(cls, spec: DataSpec, config: VAEConfig | None = None) -> Architecture:
        c = config or VAEConfig()
        encoder = conv_trunk_schedule(spec.channels, spec.resolution, c.width)
        decoder = generator_schedule(spec.channels, spec.resolution, c.width)
        return {"E": Schedule(encoder.sides, encoder.channels, dense=(2 * c.z_dim,)),
                "G": Schedule(decoder.sides, decoder.channels, dense=(16 * decoder.channels[0],))}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        params = list(self.E.parameters()) + list(self.G.parameters())
        self.opt = torch.optim.Adam(params, lr=self.config.lr, betas=self.config.betas, foreach=True)
        return {"vae": self.opt}

    def elbo_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> ELBOTerms:
        """Reconstruction and KL terms of the ELBO of images ``x`` in [-1, 1], per sample."""
        mu, logvar = self.E(x)
        mu, logvar = mu.float(), logvar.float()
        output = self.G(reparameterize(mu, logvar, generator)).float()
        reconstruction = reconstruction_nll(self.config.likelihood, output, x.float(), self.config.decoder_std)
        return ELBOTerms(reconstruction, gaussian_kl(mu, logvar))

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        terms = self.elbo_terms(batch.real)
        loss = -terms.elbo.mean()
        self.optimize(self.opt, loss)
        return {"neg_elbo": loss.detach(), "recon": terms.reconstruction.mean().detach(), "kl": terms.kl.mean().detach()}

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image in [-1, 1] for latents ``z``."""
        output = self.sampling_network(z).float()
        return torch.sigmoid(output) * 2.0 - 1.0 if self.config.likelihood == "bernoulli" else output.clamp(-1, 1)

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        """Decoded prior samples; ``truncation`` scales the prior's standard deviation (temperature)."""
        z = torch.randn(n, self.config.z_dim, device=self.device, generator=generator)
        return self.decode_mean(z * truncation if truncation is not None else z)
