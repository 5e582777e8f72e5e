"""One geometry for real and fake images.

Real images keep their data set's native size (digits 8 px, MNIST and Fashion-MNIST 28, CIFAR-10
32) unless the user declares another: a smaller size is reached by centre cropping and
antialiased downsampling, a larger one only on request and with a warning (the protocol records
it). That size, ``image_size``, is what every metric and detector sees, for reals and fakes alike.

Networks work at ``model_size``, the smallest power of two at least ``image_size`` and at least
:data:`MIN_MODEL_SIZE` (the architectures' smallest side). Where the two differ, real images enter
training centred on a ``model_size`` canvas whose border repeats their edge pixels
(:meth:`Geometry.to_model`), and every generated image is centre-cropped back to ``image_size``
(:meth:`Geometry.to_image`) before anything measures it. The border is never seen by a metric or a
detector, so neither interpolation nor padding can become a cue that tells reals from fakes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

MIN_MODEL_SIZE = 16


def model_size_for(image_size: int) -> int:
    """The smallest power of two that is at least ``image_size`` and :data:`MIN_MODEL_SIZE`."""
    size = MIN_MODEL_SIZE
    while size < image_size:
        size *= 2
    return size


def centre_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size x size`` window of ``N,C,H,W`` images (unchanged when already that size)."""
    h, w = images.shape[-2:]
    if h == size and w == size:
        return images
    top, left = (h - size) // 2, (w - size) // 2
    return images[..., top : top + size, left : left + size].contiguous()


@dataclass(frozen=True)
class Geometry:
    """The side of the images that are measured (``image_size``) and of the networks' canvas (``model_size``)."""

    image_size: int
    model_size: int

    @classmethod
    def for_images(cls, image_size: int) -> Geometry:
        return cls(image_size, model_size_for(image_size))

    @property
    def border(self) -> tuple[int, int]:
        """Pixels of canvas before and after the image along each axis."""
        before = (self.model_size - self.image_size) // 2
        return before, self.model_size - self.image_size - before

    def to_model(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``N,C,S,S`` images (``S = image_size``) centred on the model canvas, edges repeated;
        images already of ``model_size`` are returned as they are."""
        before, after = self.border
        side = images.shape[-1]
        if side == self.model_size:
            return images
        if side != self.image_size:
            raise ValueError(f"images of {side} px are neither of the image size {self.image_size} "
                             f"nor of the model size {self.model_size}")
        padded = [F.pad(chunk.float(), (before, after, before, after), mode="replicate")
                  for chunk in images.split(4096)]
        return torch.cat(padded).to(images.dtype) if padded else images.new_zeros(
            (0, *images.shape[1:2], self.model_size, self.model_size))

    def to_image(self, images: torch.Tensor) -> torch.Tensor:
        """Model-canvas images cropped back to the measured ``image_size``."""
        return centre_crop(images, self.image_size)

    def protocol(self) -> dict[str, object]:
        return {"image_size": self.image_size, "model_size": self.model_size,
                "canvas": "edge-replicated border, cropped from every output" if self.border != (0, 0) else "none"}


@dataclass(frozen=True)
class SizeRequest:
    """The image side a run asks of a data set: ``exact`` when declared, otherwise the native
    side, at most ``maximum`` (reached by downsampling)."""

    exact: int | None = None
    maximum: int | None = None

    def choose(self, native: int) -> int:
        if self.exact is not None:
            return self.exact
        return native if self.maximum is None else min(native, self.maximum)


def size_request(resolution: int | SizeRequest | None) -> SizeRequest:
    """An int is an exact side; None asks for the native side."""
    if isinstance(resolution, SizeRequest):
        return resolution
    return SizeRequest(exact=resolution)
