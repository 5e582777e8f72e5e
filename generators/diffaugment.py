"""Differentiable augmentation: Zhao, Liu, Lin, Zhu & Han, "Differentiable Augmentation for
Data-Efficient GAN Training", NeurIPS 2020.

The same random, differentiable transforms are applied to real *and* fake images every time
the discriminator sees them (in its own update and in the generator's), so that gradients
reach the generator through the augmentation and D cannot memorise the small training set.

Policies (images in [-1, 1], ``N,C,H,W``):

* ``color``: brightness shift in [-0.5, 0.5], saturation scale in [0, 2], contrast scale in
  [0.5, 1.5], each drawn per image;
* ``translation``: shift by up to 1/8 of the image size in each axis, zero padding;
* ``cutout``: zero a square of half the image size at a random position.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganbench.errors import UserError


def color(x: torch.Tensor) -> torch.Tensor:
    n = len(x)
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (2 * torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype)) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = max(int(h * ratio + 0.5), 1), max(int(w * ratio + 0.5), 1)
    dy = torch.randint(-sh, sh + 1, (n, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1), device=x.device)
    rows = (torch.arange(h, device=x.device) + dy + sh).view(n, h, 1)
    cols = (torch.arange(w, device=x.device) + dx + sw).view(n, 1, w)
    padded = torch.nn.functional.pad(x, (sw, sw, sh, sh))
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h, (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w, (n, 1, 1), device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout,
}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> the names, checked against :data:`POLICIES`."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise UserError(f"unknown DiffAugment policy {unknown[0]!r} (known: {', '.join(POLICIES)})")
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """Apply the named transforms in order, each with fresh randomness per image."""
    for name in policy:
        x = POLICIES[name](x)
    return x
