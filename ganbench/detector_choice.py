"""The ``--detector`` and ``--detector-arg`` options of ``ganbench detect``.

``--detector SPEC[@PATH]``: SPEC is a built-in name, a published one
(:data:`ganbench.detectors.published.PUBLISHED`), an entry point of group
``ganbench.detectors`` or ``module:Class``; ``@PATH`` names the file the detector is loaded
from, fitted (a saved detector, or the published checkpoint). ``--detector-arg key=value``
gives every detector a constructor argument: ``true``/``false`` become bools, ``none`` None, a
number an int or float, anything else stays text (paths included). Each option is checked
here, before any work: an unknown name, a missing file, a malformed or refused argument, or a
constructor parameter that nothing supplies is one :class:`ganbench.errors.UserError` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ganbench.detectors.base import SETTING_NAMES, check_arguments
from ganbench.detectors.plugins import DetectorSpec, entry_point, resolve_detector
from ganbench.detectors.published import PUBLISHED, PublishedDetector
from ganbench.errors import UserError
from ganbench.registry import Registry

ARGUMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class DetectorChoice:
    """A resolved ``--detector`` option: the detector and, after ``@``, the file it is loaded from."""

    spec: DetectorSpec
    weights: Path | None = None

    @property
    def label(self) -> str:
        """The detector's name in tables and score files, with the weights file's name when loaded from one."""
        return self.spec.name if self.weights is None else f"{self.spec.name}@{self.weights.name}"

    @property
    def published(self) -> bool:
        return issubclass(self.spec.cls, PublishedDetector)

    @property
    def needs_training(self) -> bool:
        return self.weights is None and not self.published and getattr(self.spec.cls, "needs_fit", True)


def parse_value(text: str) -> object:
    """A ``--detector-arg`` value: a bool (true/false), None (none), an int, a float, or the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse_arguments(options: list[str]) -> tuple[tuple[str, object], ...]:
    """``key=value`` options -> constructor arguments; a malformed or repeated key is a UserError."""
    parsed: dict[str, object] = {}
    for option in options:
        key, sep, value = option.partition("=")
        key = key.strip()
        if not sep or not ARGUMENT_NAME.match(key):
            raise UserError(f"--detector-arg {option!r}: expected key=value with a Python name as key")
        if key in parsed:
            raise UserError(f"--detector-arg {key} is given twice")
        parsed[key] = parse_value(value)
    return tuple(parsed.items())


def resolve_any(name: str) -> DetectorSpec:
    """A published name, a built-in name, an entry point or ``module:Class``; unknown names get one line."""
    from ganbench.detectors import DETECTORS

    if name in PUBLISHED:
        return DetectorSpec(name, PUBLISHED.get(name), f"published:{name}")
    if ":" not in name and name not in DETECTORS and entry_point(name) is None:
        known: Registry[type] = Registry("detector")
        for each, cls in [*DETECTORS, *PUBLISHED]:
            known.register(cls, each)
        known.get(name)  # an unknown name: one line with a did-you-mean hint
    return resolve_detector(name)


def parse_detector(option: str, arguments: tuple[tuple[str, object], ...]) -> DetectorChoice:
    """``SPEC`` or ``SPEC@PATH`` with the constructor ``arguments`` checked against the class."""
    name, at, location = option.partition("@")
    if not name or (at and not location):
        raise UserError(f"--detector {option!r}: expected NAME, module:Class or entry point, optionally @PATH")
    spec = replace(resolve_any(name), arguments=arguments)
    weights = Path(location).expanduser() if at else None
    choice = DetectorChoice(spec, weights)
    # a saved detector's file holds the arguments it was built with; anything else is built from these alone
    check_arguments(spec.cls, arguments, None if weights is not None and not choice.published else SETTING_NAMES)
    if weights is not None and not weights.is_file():
        raise UserError(f"--detector {option}: no such file: {weights}")
    if choice.published and weights is None:
        raise UserError(f"{spec.name} is a published detector: give its checkpoint as --detector {spec.name}@PATH")
    return choice
