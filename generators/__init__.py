"""The generator family: a registry of variants built on shared layers, losses and one trainer.

Names may carry training tricks after a ``+`` (``gan+packing``, ``lsgan+diffaugment+label-smoothing``):
the registry resolves them to the base variant with those tricks switched on
(``ganbench.generators.tricks``), so every command that takes a generator name can ablate them.

Each variant module registers its class where it is defined, with ``@GENERATORS.register``;
importing this package imports the modules of :data:`VARIANT_MODULES` in registry order.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import fields, replace
from typing import Any

from ganbench.errors import UserError
from ganbench.registry import Registry
from ganbench.generators.base import Batch, DataSpec, GenerativeModel
from ganbench.generators.blocks import POINT_Z_DIM
from ganbench.generators.tricks import split_name


@functools.lru_cache(maxsize=None)
def with_tricks(base: type[GenerativeModel], tricks: tuple[str, ...]) -> type[GenerativeModel]:
    """A subclass of ``base`` named ``base+trick+...`` whose config has ``tricks`` switched on."""
    if "tricks" not in {f.name for f in fields(base.config_class)}:
        raise UserError(f"{base.name} has no training-trick options")

    class Tricked(base):  # type: ignore[valid-type, misc]
        name = "+".join((base.name, *tricks))
        supports_points = base.supports_points and "diffaugment" not in tricks

        def __init__(self, spec: DataSpec, config: object | None = None) -> None:
            config = config or base.config_class()
            super().__init__(spec, replace(config, tricks=config.tricks.enable(*tricks)))

    Tricked.__name__ = Tricked.__qualname__ = f"{base.__name__}With{''.join(t.title().replace('-', '') for t in tricks)}"
    return Tricked


class GeneratorRegistry(Registry[type[GenerativeModel]]):
    """The registry of variants; ``get`` also resolves ``variant+trick`` names."""

    def get(self, name: str) -> type[GenerativeModel]:
        base, tricks = split_name(name)
        cls = super().get(base)
        return with_tricks(cls, tricks) if tricks else cls

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except UserError:
            return False
        return True


GENERATORS = GeneratorRegistry("generator")

#: The variant modules in registry order (suites and tables follow it). Each registers its class
#: with ``@GENERATORS.register`` when imported here.
VARIANT_MODULES = ("gan", "dcgan", "cgan", "acgan", "infogan", "wgan", "wgan_gp", "lsgan", "sngan", "sagan",
                   "biggan", "progan", "stylegan2", "stylegan3", "pix2pix", "cyclegan", "srgan", "stargan", "vae",
                   "ddpm")
for _module in VARIANT_MODULES:
    importlib.import_module(f"{__name__}.{_module}")


def generator_config(name: str, preset_width: int | None = None, kind: str = "image", **overrides: object) -> Any:
    """A registered variant's configuration: its defaults, the preset's width and any overrides
    (an overridden ``width`` wins over ``preset_width``).

    A name with tricks (``gan+packing``) has them switched on, as its model has.
    On points (``kind="points"``) the latent is two-dimensional unless ``z_dim`` is overridden.
    A value outside its field's rule (``ganbench.generators.config_rules``) is a :class:`UserError`.
    """
    from ganbench.generators.config_rules import check_config

    config = GENERATORS.get(name).config_class(**overrides)
    names = {f.name for f in fields(config)}
    tricks = split_name(name)[1]
    if tricks:
        config = replace(config, tricks=config.tricks.enable(*tricks))
    if preset_width is not None and "width" in names and "width" not in overrides:
        config = replace(config, width=preset_width)
    if kind == "points" and "z_dim" in names and "z_dim" not in overrides:
        config = replace(config, z_dim=POINT_Z_DIM)
    check_config(name, config)
    return config


def create_generator(name: str, spec: DataSpec, preset_width: int | None = None,
                     **overrides: object) -> GenerativeModel:
    """Build a registered variant with its :func:`generator_config`."""
    return GENERATORS.get(name)(spec, generator_config(name, preset_width, spec.kind, **overrides))


__all__ = ["GENERATORS", "Batch", "DataSpec", "GenerativeModel", "create_generator", "generator_config", "with_tricks"]
