"""DDPM: Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020
(arXiv:2006.11239), with DDIM sampling from Song, Meng & Ermon, "Denoising Diffusion Implicit
Models", ICLR 2021 (arXiv:2010.02502) and the cosine schedule of Nichol & Dhariwal, "Improved
Denoising Diffusion Probabilistic Models", ICML 2021 (arXiv:2102.09672).

A non-adversarial reference generator (family ``diffusion``). Defining components:

* a fixed forward process q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) over
  T = 1000 steps, with a linear beta schedule (1e-4 to 0.02, Ho et al.) or the cosine schedule
  (offset s = 0.008, betas clipped at 0.999, Nichol & Dhariwal);
* a U-Net eps_theta(x_t, t) with a sinusoidal time embedding (``ganbench.generators.unet``), trained
  with the simplified objective E ||eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 -
  alpha_bar_t) eps, t)||^2 at t drawn uniformly (Adam 2e-4, gradients clipped at norm 1, EMA
  of the weights with decay 0.9999; Ho et al.'s 5,000-step learning-rate warm-up is left out
  for short budgets, and the EMA decay warms up as min(decay, (1 + n) / (10 + n)) after n
  updates so that short runs sample from a useful average);
* ancestral sampling through all T steps with sigma_t^2 = beta_t (``sampler="ancestral"``),
  or DDIM over a uniformly spaced subsequence of timesteps, deterministic for eta = 0
  (``sampler="ddim"``, the default, with 50 steps: 20x fewer network evaluations); both clip the
  predicted x_0 to [-1, 1] as in Ho et al.'s released code.

The network here is small: one residual block per level and, by default, the U-Net runs on
non-overlapping 4x4 patches (pixel unshuffle in, pixel shuffle out), so a 32x32 image is an 8x8
grid; ``patch_size=1`` with ``width=128, channel_mults=(1, 2, 2, 2), num_res_blocks=2,
attention_resolutions=(16,), dropout=0.1`` is Ho et al.'s CIFAR-10 network.

Architecture schedule (:meth:`DDPM.architecture`): Ho et al.'s U-Nets halve their maps once per
level, four levels at 32 px (``channel_mults`` (1, 2, 2, 2)) and six at 256 px ((1, 1, 2, 2, 4,
4)): more pixels, more levels. ``channel_mults`` gives the levels up to 32 px; each doubling of
the image above 32 px adds a level with the last multiplier (:func:`level_multipliers`; with
the default (1, 2) and 4x4 patches: (1, 2, 2) at 64 px, (1, 2, 2, 2) at 128, (1, 2, 2, 2, 2) at
256), so the innermost map stays 4x4 and self-attention stays where ``attention_resolutions``
puts it on the patch grid (the 4x4 maps by default; Ho et al. use the 16x16 ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.generators import GENERATORS
from ganbench.generators.architecture import Architecture, from_path
from ganbench.generators.base import Batch, DataSpec, GenerativeModel
from ganbench.generators.unet import UNet, unet_schedule

SCHEDULES = ("linear", "cosine")
SAMPLERS = ("ancestral", "ddim")


def linear_betas(timesteps: int, start: float = 1e-4, end: float = 0.02) -> torch.Tensor:
    """Ho et al.'s schedule: betas evenly spaced from ``start`` to ``end`` (float64)."""
    return torch.linspace(start, end, timesteps, dtype=torch.float64)


def cosine_betas(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal's schedule: alpha_bar(t) = f(t) / f(0), f(t) = cos^2(((t/T + s) / (1 + s)) pi/2)."""
    t = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2).pow(2)
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def make_betas(schedule: str, timesteps: int) -> torch.Tensor:
    if schedule == "linear":
        return linear_betas(timesteps)
    if schedule == "cosine":
        return cosine_betas(timesteps)
    raise ValueError(f"unknown beta schedule {schedule!r}; expected one of {SCHEDULES}")


def ddim_timesteps(timesteps: int, steps: int) -> torch.Tensor:
    """``steps`` distinct timesteps spread evenly over 0 .. T-1, increasing."""
    if not 1 <= steps <= timesteps:
        raise ValueError(f"sampling steps must lie in 1..{timesteps}, got {steps}")
    return torch.linspace(0, timesteps - 1, steps, dtype=torch.float64).round().long()


class NoiseSchedule(nn.Module):
    """The forward process and the quantities both samplers need, computed in float64, kept in float32."""

    def __init__(self, betas: torch.Tensor) -> None:
        super().__init__()
        alpha_bar = torch.cumprod(1 - betas, dim=0)
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        buffers = {
            "betas": betas,
            "alpha_bar": alpha_bar,
            "alpha_bar_prev": alpha_bar_prev,
            "posterior_x0": betas * alpha_bar_prev.sqrt() / (1 - alpha_bar),
            "posterior_xt": (1 - betas).sqrt() * (1 - alpha_bar_prev) / (1 - alpha_bar),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.float(), persistent=False)

    @property
    def timesteps(self) -> int:
        return len(self.betas)

    def alpha_bar_at(self, t: torch.Tensor) -> torch.Tensor:
        """alpha_bar_t, with alpha_bar_{-1} = 1 (the clean image)."""
        padded = torch.cat([self.alpha_bar.new_ones(1), self.alpha_bar])
        return padded[t + 1]

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """A draw of q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) given its noise."""
        ab = self.alpha_bar[t].view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def ddim_sigma(self, t: torch.Tensor, t_prev: torch.Tensor, eta: float) -> torch.Tensor:
        """Song et al.'s sigma_t(eta) for a step t -> t_prev; eta = 1 between neighbours is DDPM's posterior std."""
        ab, ab_prev = self.alpha_bar_at(t), self.alpha_bar_at(t_prev)
        return eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).clamp(min=0).sqrt()


@dataclass
class DDPMConfig:
    width: int = 64
    channel_mults: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 1
    attention_resolutions: tuple[int, ...] = (4,)
    dropout: float = 0.0
    patch_size: int = 4
    timesteps: int = 1000
    schedule: str = "linear"
    lr: float = 2e-4
    grad_clip: float = 1.0
    ema_decay: float = 0.9999
    sampler: str = "ddim"
    sampling_steps: int = 50
    eta: float = 0.0
    clip_denoised: bool = True


LEVELS_UP_TO = 32  # the image side up to which ``channel_mults`` gives the U-Net's levels as they are


def level_multipliers(resolution: int, config: DDPMConfig) -> tuple[int, ...]:
    """``channel_mults``, extended by its last multiplier once per doubling of the image above 32 px."""
    extra = max(0, round(math.log2(resolution / LEVELS_UP_TO)))
    return (*config.channel_mults, *(config.channel_mults[-1:] * extra))


class DenoisingNetwork(nn.Module):
    """eps_theta(x_t, t) on pixels: the U-Net applied to ``patch_size`` x ``patch_size`` patches."""

    def __init__(self, channels: int, resolution: int, config: DDPMConfig) -> None:
        super().__init__()
        p = config.patch_size
        if resolution % p:
            raise ValueError(f"resolution {resolution} is not divisible by the patch size {p}")
        self.patch_size = p
        self.unet = UNet(channels * p * p, resolution // p, config.width, level_multipliers(resolution, config),
                         config.num_res_blocks, config.attention_resolutions, config.dropout)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.unet(F.pixel_unshuffle(x, self.patch_size), t), self.patch_size)


@GENERATORS.register
class DDPM(GenerativeModel):
    """``G`` is the noise predictor; ``G_ema`` its EMA copy, which produces samples."""

    name = "ddpm"
    paper = "Ho et al., Denoising Diffusion Probabilistic Models"
    year = 2020
    family = "diffusion"
    config_class = DDPMConfig
    n_critic = 0

    def __init__(self, spec: DataSpec, config: DDPMConfig | None = None) -> None:
        super().__init__(spec)
        self.config = config or DDPMConfig()
        c = self.config
        if c.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {c.sampler!r}; expected one of {SAMPLERS}")
        if c.sampler == "ddim":
            ddim_timesteps(c.timesteps, c.sampling_steps)
        self.G = DenoisingNetwork(spec.channels, spec.resolution, c)
        self.schedule = NoiseSchedule(make_betas(c.schedule, c.timesteps))
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        self.host_ema_updates: int | None = None
        self.init_ema(c.ema_decay)

    def _load_from_state_dict(self, *args: object, **kwargs: object) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self.host_ema_updates = None

    @classmethod
    def architecture(cls, spec: DataSpec, config: DDPMConfig | None = None) -> Architecture:
        c = config or DDPMConfig()
        size, ch, p = spec.resolution, spec.channels, c.patch_size
        unet = unet_schedule(size // p, c.width, level_multipliers(size, c), c.num_res_blocks,
                             c.attention_resolutions, ch * p * p)
        path = [(size, ch), *zip(unet.sides, unet.channels), (size, ch)]
        return {"G": from_path(path, unet.residual_blocks, unet.attention)}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        self.opt = torch.optim.Adam(self.G.parameters(), lr=self.config.lr, foreach=True)
        return {"g": self.opt}

    @torch.no_grad()
    def update_ema(self) -> None:
        """EMA with the decay warmed up as min(decay, (1 + n) / (10 + n)) after n updates (the count
        kept on the host too, so an update never waits for the GPU)."""
        if self.host_ema_updates is None:
            self.host_ema_updates = int(self.ema_updates)
        self.host_ema_updates += 1
        self.ema_updates.fill_(self.host_ema_updates)
        n = float(self.host_ema_updates)
        self.ema_decay = min(self.config.ema_decay, (1 + n) / (10 + n))
        super().update_ema()

    def loss(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ho et al.'s simplified objective: the mean squared error of the predicted noise."""
        t = torch.randint(0, self.schedule.timesteps, (len(x0),), device=x0.device, generator=generator)
        noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
        predicted = self.G(self.schedule.q_sample(x0, t, noise), t)
        return F.mse_loss(predicted.float(), noise.float())

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        loss = self.loss(batch.real)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.G.parameters(), self.config.grad_clip)
        self.opt.step()
        return {"loss_eps": loss.detach()}

    def _denoise(self, net: nn.Module, x: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted (x_0, eps) at step ``t``; x_0 clipped to [-1, 1] and eps made consistent with it."""
        t_batch = torch.full((len(x),), t, device=x.device, dtype=torch.long)
        eps = net(x, t_batch).float()
        ab = self.schedule.alpha_bar[t]
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        if self.config.clip_denoised:
            x0 = x0.clamp(-1, 1)
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
        return x0, eps

    def ancestral_sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ho et al.'s Algorithm 2 through all T steps, from x_T = ``x``."""
        s = self.schedule
        net = self.sampling_network
        for t in reversed(range(s.timesteps)):
            x0, _ = self._denoise(net, x, t)
            x = s.posterior_x0[t] * x0 + s.posterior_xt[t] * x
            if t > 0:
                x = x + s.betas[t].sqrt() * torch.randn(x.shape, device=x.device, generator=generator)
        return x

    def ddim_sample(self, x: torch.Tensor, steps: int, eta: float = 0.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Song et al.'s generalised sampler over ``steps`` timesteps from x_T = ``x``; eta = 0 is deterministic."""
        s = self.schedule
        net = self.sampling_network
        seq = ddim_timesteps(s.timesteps, steps).tolist()
        for t, t_prev in zip(reversed(seq), reversed([-1] + seq[:-1])):
            x0, eps = self._denoise(net, x, t)
            t_tensor, t_prev_tensor = torch.tensor(t, device=x.device), torch.tensor(t_prev, device=x.device)
            ab_prev = s.alpha_bar_at(t_prev_tensor)
            sigma = s.ddim_sigma(t_tensor, t_prev_tensor, eta)
            x = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma.pow(2)).clamp(min=0).sqrt() * eps
            if eta > 0 and t_prev >= 0:
                x = x + sigma * torch.randn(x.shape, device=x.device, generator=generator)
        return x

    def denoise_from(self, x_t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x_0 from pure noise x_T with the configured sampler."""
        c = self.config
        if c.sampler == "ddim":
            return self.ddim_sample(x_t, c.sampling_steps, c.eta, generator)
        return self.ancestral_sample(x_t, generator)

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        """Samples from x_T ~ N(0, I) (diffusion has no truncation: ``truncation`` is always None here)."""
        shape = (n, self.spec.channels, self.spec.resolution, self.spec.resolution)
        x_t = torch.randn(shape, device=self.device, generator=generator)
        return self.denoise_from(x_t, generator).clamp(-1, 1)
