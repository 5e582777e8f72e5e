"""Warm-up of the generator's exponential moving average.

ProGAN (Karras et al., ICLR 2018), BigGAN (Brock et al., ICLR 2019) and StyleGAN2 (Karras et
al., CVPR 2020) sample from a running average of the generator's weights. With a fixed decay
such as 0.999 a short run would average mostly the random initialisation, so the horizon is
ramped up as in StyleGAN2-ADA (Karras et al., NeurIPS 2020): the half-life is at most
``rampup`` times the steps taken, and the paper's decay applies once training is long enough.
"""

from __future__ import annotations

import math


def warmup_ema_decay(step: int, decay: float, rampup: float = 0.05) -> float:
    """EMA decay to use after ``step`` generator updates (0 at the start: the average is a copy)."""
    if step <= 0 or decay <= 0:
        return 0.0
    half_life = min(math.log(0.5) / math.log(decay), rampup * step)
    return 0.5 ** (1.0 / half_life)
