"""Configuration overrides: ``--set TARGET.FIELD=VALUE`` and ``--config FILE.toml``.

``TARGET`` is ``preset`` (a :class:`ganbench.presets.Preset` field: ``preset.steps=2000``) or a
generator name (a field of that variant's configuration dataclass: ``dcgan.lr=1e-4``). A TOML
file holds one table per target with the same fields::

    [preset]
    steps = 2000

    [dcgan]
    lr = 1e-4

Every override is checked against the dataclass before any work starts: an unknown target or
field, or a value that does not fit the field's type, is one error line. ``--set`` wins over the
file. Preset overrides enter every unit's key through the preset; a generator's overrides enter
its training unit's key through its hyper-parameters, and the train record lists them.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import UserError
from ganbench.generators import GENERATORS
from ganbench.generators.config_rules import value_problem
from ganbench.generators.tricks import split_name
from ganbench.presets import Preset, preset_field_problem

PRESET = "preset"
# Preset fields that name the preset or are set by their own options.
RESERVED_PRESET_FIELDS = ("name",)


@dataclass(frozen=True)
class Overrides:
    """Validated overrides: preset fields, and fields of each named generator's configuration."""

    preset: tuple[tuple[str, Any], ...] = ()
    generators: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = field(default=())

    def for_generator(self, name: str) -> dict[str, Any]:
        """The overrides of generator ``name``: those of its base variant (``gan`` for
        ``gan+packing``), then its own, which win."""
        chosen = dict(self.generators)
        base, _ = split_name(name)
        return {**dict(chosen.get(base, ())), **dict(chosen.get(name, ()))}

    def targets_outside(self, names: list[str]) -> list[str]:
        """The generator targets that set nothing for any of ``names``."""
        bases = {split_name(name)[0] for name in names}
        return [target for target, _ in self.generators if target not in names and target not in bases]

    def apply_to_preset(self, preset: Preset) -> Preset:
        return preset.with_overrides(**dict(self.preset)) if self.preset else preset

    def __bool__(self) -> bool:
        return bool(self.preset or self.generators)


def _closest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (one of {', '.join(options)})"


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _convert(where: str, value: Any, annotation: Any) -> Any:
    """``value`` (a string from ``--set`` or a TOML value) as the field's type."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if isinstance(value, str) and value.lower() in ("none", "null"):
            return None
        annotation = next(a for a in args if a is not type(None))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif annotation in (int, float):
        numbers = (int,) if annotation is int else (int, float)
        if isinstance(value, numbers) and not isinstance(value, bool):
            return annotation(value)
        if isinstance(value, str):
            try:
                return annotation(value)
            except ValueError:
                pass
    elif annotation is str:
        return str(value)
    elif origin is tuple and args and Ellipsis not in args:
        parts = value.split(",") if isinstance(value, str) else value
        if isinstance(parts, (list, tuple)) and len(parts) == len(args):
            return tuple(_convert(where, part.strip() if isinstance(part, str) else part, kind)
                         for part, kind in zip(parts, args))
        raise UserError(f"{where}: {value!r} is not {len(args)} comma-separated values")
    else:
        raise UserError(f"{where}: this field ({annotation}) cannot be set from the command line or a file")
    name = getattr(annotation, "__name__", str(annotation))
    raise UserError(f"{where}: {value!r} is not a valid {name}")


def _target_class(target: str, generators: list[str]) -> type:
    if target == PRESET:
        return Preset
    if target not in GENERATORS:
        raise UserError(f"--set/--config: unknown target {target!r}{_closest(target, [PRESET, *generators])}")
    return GENERATORS.get(target).config_class


def _checked(target: str, name: str, value: Any, generators: list[str]) -> Any:
    cls = _target_class(target, generators)
    field_types = _field_types(cls)
    if target == PRESET and name in RESERVED_PRESET_FIELDS or name not in field_types:
        options = [n for n in field_types if not (target == PRESET and n in RESERVED_PRESET_FIELDS)]
        raise UserError(f"--set/--config: {target} has no field {name!r}{_closest(name, options)}")
    converted = _convert(f"{target}.{name}", value, field_types[name])
    problem = preset_field_problem(name, converted) if target == PRESET else value_problem(name, converted)
    if problem:
        raise UserError(f"--set/--config: {target}.{name} {problem} (got {converted!r})")
    return converted


def parse_set(option: str) -> tuple[str, str, str]:
    """``TARGET.FIELD=VALUE`` -> (target, field, value text)."""
    left, sep, value = option.partition("=")
    target, dot, name = left.strip().rpartition(".")
    if not sep or not dot or not target or not name:
        raise UserError(f"--set {option!r}: expected TARGET.FIELD=VALUE, e.g. preset.steps=2000 or dcgan.lr=1e-4")
    return target, name, value.strip()


def read_config_file(path: Path) -> list[tuple[str, str, Any]]:
    """The (target, field, value) items of a TOML file with one table per target."""
    if not path.is_file():
        raise UserError(f"--config: no such file: {path}")
    try:
        tables = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"--config {path}: not valid TOML ({exc})") from None
    items = []
    for target, table in tables.items():
        if not isinstance(table, dict):
            raise UserError(f"--config {path}: {target!r} must be a table ([{target}] with fields)")
        items += [(target, name, value) for name, value in table.items()]
    return items


def build_overrides(sets: list[str] | tuple[str, ...] = (), config_file: Path | None = None) -> Overrides:
    """Validated overrides from a TOML file and ``--set`` options (``--set`` last, so it wins)."""
    items = read_config_file(config_file) if config_file is not None else []
    items += [parse_set(option) for option in sets]
    generators = GENERATORS.names()
    chosen: dict[str, dict[str, Any]] = {}
    for target, name, value in items:
        chosen.setdefault(target, {})[name] = _checked(target, name, value, generators)
    preset = tuple(sorted(chosen.pop(PRESET, {}).items()))
    return Overrides(preset, tuple(sorted((g, tuple(sorted(fields.items()))) for g, fields in chosen.items())))
