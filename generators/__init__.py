"""The generator family: a registry of variants built on shared layers, losses and one trainer."""

from __future__ import annotations

from dataclasses import fields, replace

from ganbench.registry import Registry
from generators.base import Batch, DataSpec, GenerativeModel
from generators.cyclegan import CycleGAN
from generators.dcgan import DCGAN
from generators.pix2pix import Pix2Pix
from generators.srgan import SRGAN
from generators.stargan import StarGAN

GENERATORS: Registry[type[GenerativeModel]] = Registry("generator")
for _variant in (DCGAN, Pix2Pix, CycleGAN, SRGAN, StarGAN):
    GENERATORS.register(_variant)


def create_generator(name: str, spec: DataSpec, width: int | None = None, **overrides: object) -> GenerativeModel:
    """Build a registered variant with its paper defaults, the preset's width and any overrides."""
    cls = GENERATORS.get(name)
    config = cls.config_class(**overrides)
    if width is not None and "width" in {f.name for f in fields(config)}:
        config = replace(config, width=width)
    return cls(spec, config)


__all__ = ["GENERATORS", "Batch", "DataSpec", "GenerativeModel", "create_generator"]
