"""Suites decide *what* runs: named groups of generators and detectors, or a comma list of names."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from ganbench.detectors import DETECTORS
from ganbench.errors import UserError
from ganbench.registry import Registry
from ganbench.generators import GENERATORS, GenerativeModel
from ganbench.generators.tricks import TRICK_NAMES


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    selects: Callable[[type[GenerativeModel]], bool]
    detectors: tuple[str, ...] | None = None
    members: tuple[str, ...] = ()

    def generators(self) -> list[str]:
        if self.members:
            return list(self.members)
        return [name for name, cls in GENERATORS if self.selects(cls)]

    def detector_names(self) -> list[str]:
        return list(self.detectors) if self.detectors is not None else DETECTORS.names()


SUITES: Registry[Suite] = Registry("suite")
SUITES.register(Suite("smoke", "DCGAN and the spectrum detector: the end-to-end check",
                      lambda c: c.name == "dcgan", ("spectrum",)))
SUITES.register(Suite("all", "every registered generator and detector", lambda c: True))
SUITES.register(Suite("gans", "every GAN (no VAE or diffusion reference rows)", lambda c: c.family == "gan"))
SUITES.register(Suite("unconditional", "noise-to-image GANs without labels",
                      lambda c: c.family == "gan" and c.task == "noise" and not c.conditional))
SUITES.register(Suite("conditional", "class-conditional noise-to-image GANs",
                      lambda c: c.task == "noise" and c.conditional))
SUITES.register(Suite("translation", "image-to-image GANs (paired, unpaired, multi-domain)",
                      lambda c: c.task in {"paired", "unpaired", "multi-domain"}))
SUITES.register(Suite("reference", "non-GAN reference generators (VAE, diffusion)", lambda c: c.family != "gan"))
SUITES.register(Suite("tricks", "gan alone and with each training trick switched on (ablation)", lambda c: False,
                      ("spectrum",), members=("gan", *(f"gan+{trick}" for trick in TRICK_NAMES))))


def resolve_suite(spec: str) -> tuple[list[str], list[str]]:
    """Generator and detector names of a suite name or a comma list of generator/detector names."""
    if spec in SUITES:
        suite = SUITES.get(spec)
        return suite.generators(), suite.detector_names()
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if len(names) == 1 and names[0] not in GENERATORS and names[0] not in DETECTORS:
        SUITES.get(names[0])
    generators, detectors = [], []
    for name in names:
        if name in GENERATORS:
            generators.append(name)
        elif name in DETECTORS:
            detectors.append(name)
        elif "+" in name:
            GENERATORS.get(name)
        else:
            known = [*GENERATORS.names(), *DETECTORS.names()]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UserError(f"unknown generator or detector {name!r} in suite {spec!r}{hint} "
                            "(ganbench list generators, ganbench list detectors)")
    if not generators:
        raise UserError(f"suite {spec!r} names no generator")
    return generators, detectors or SUITES.get("smoke").detector_names()
