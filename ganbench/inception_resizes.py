"""Resizes into the FID Inception's 299x299 input that other FID implementations use.

Parmar, Zhang & Zhu, "On Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR
2022, show that FID moves with the resize that brings images to 299x299. pytorch-fid's (torch's
bilinear ``interpolate``, ``align_corners=False``, no antialiasing) lives in
:func:`ganbench.features.resize_for_network`; this module holds the two others:

* :func:`clean_resize`, clean-fid's ``clean`` mode (https://github.com/GaParmar/clean-fid): each
  channel of the RGB image resized on its own as a 32-bit float PIL image with PIL's bicubic
  filter (whose kernel widens, so antialiases, when shrinking), clipped to [0, 255], not rounded;
* :func:`tensorflow_resize`, the bilinear resize of TensorFlow 1.x (``tf.image.resize_bilinear``,
  ``align_corners=False``) inside the Inception graph of the original FID code (Heusel et al.,
  NeurIPS 2017) and Inception Score code, which torch-fidelity reproduces: the source of output
  pixel ``i`` is ``i * in / out``, with no half-pixel offset, so the image shifts by up to a pixel.

Both feed the network ``(x - 128) / 128``: :data:`INPUT_SCALE` maps their [0, 255] output onto the
``[0, 1]`` input of :class:`ganbench.inception.FIDInceptionV3`, whose ``2 x - 1`` gives that.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

#: (x - 128) / 128 of clean-fid and the TensorFlow graph, as a [0, 1] input to a network computing 2 x - 1
INPUT_SCALE = 1.0 / 256.0


def _rgb(images: torch.Tensor) -> torch.Tensor:
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 N,1|3,H,W images, got {images.dtype} {tuple(images.shape)}")
    return images.expand(-1, 3, -1, -1)


def clean_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 ``N,C,H,W`` -> float32 ``N,3,size`` in [0, 255]: grey repeated to RGB, each channel
    resized on its own as a float image with PIL's bicubic filter, clipped, not rounded."""
    array = _rgb(images).numpy()
    height, width = size
    out = np.empty((len(array), 3, height, width), dtype=np.float32)
    for i, image in enumerate(array):
        for channel, plane in enumerate(image):
            float_plane = Image.fromarray(plane.astype(np.float32), mode="F")
            out[i, channel] = np.asarray(float_plane.resize((width, height), resample=Image.BICUBIC))
    return torch.from_numpy(np.clip(out, 0.0, 255.0, out=out))


def _source_pixels(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each output pixel along one axis: its two source pixels and the weight of the second."""
    position = torch.arange(n_out, dtype=torch.float32) * (n_in / n_out)
    low = position.long()
    return low, (low + 1).clamp_max(n_in - 1), position - low.float()


def tensorflow_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 ``N,C,H,W`` -> float32 ``N,3,size`` in [0, 255] by TensorFlow 1.x's bilinear resize
    (``align_corners=False``): each output pixel interpolates between source pixels ``floor(i * in /
    out)`` and the next, along the width first, then the height."""
    x = _rgb(images).float()
    top, bottom, dy = _source_pixels(x.shape[-2], size[0])
    left, right, dx = _source_pixels(x.shape[-1], size[1])
    upper, lower = x[:, :, top], x[:, :, bottom]
    upper = upper[..., left] + (upper[..., right] - upper[..., left]) * dx
    lower = lower[..., left] + (lower[..., right] - lower[..., left]) * dx
    return upper + (lower - upper) * dy.view(-1, 1)
