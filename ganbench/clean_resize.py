"""clean-fid's resize into Inception: Parmar, Zhang & Zhu, "On Aliased Resizing and Surprising
Subtleties in GAN Evaluation", CVPR 2022 (https://github.com/GaParmar/clean-fid, mode ``clean``).

The paper shows that FID moves with the resize that brings images to Inception's 299x299, and
that torch's bilinear resize without antialiasing (pytorch-fid's) aliases when it shrinks. Its
``clean`` mode resizes each channel of the RGB image separately as a 32-bit float PIL image with
PIL's bicubic filter (which widens its kernel, so antialiases, when shrinking), clips the result
to [0, 255] without rounding it, and scales it into the network as ``(x - 128) / 128``.

:func:`clean_resize` is that resize; :data:`CLEAN_SCALE` maps its output onto the ``[0, 1]``
input of :class:`ganbench.inception.FIDInceptionV3`, whose ``2 x - 1`` then gives
``(x - 128) / 128``.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

#: clean-fid's input scaling (x - 128) / 128, written as a [0, 1] input to a network computing 2 x - 1
CLEAN_SCALE = 1.0 / 256.0


def clean_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 ``N,C,H,W`` -> float32 ``N,3,size`` in [0, 255]: grey repeated to RGB, each channel
    resized on its own as a float image with PIL's bicubic filter, clipped, not rounded."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 N,1|3,H,W images, got {images.dtype} {tuple(images.shape)}")
    height, width = size
    out = np.empty((len(images), 3, height, width), dtype=np.float32)
    array = images.numpy()
    for i, image in enumerate(array):
        for channel in range(3):
            plane = Image.fromarray(image[channel % len(image)].astype(np.float32), mode="F")
            out[i, channel] = np.asarray(plane.resize((width, height), resample=Image.BICUBIC))
    return torch.from_numpy(np.clip(out, 0.0, 255.0, out=out))
