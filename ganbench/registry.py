"""Name -> object registries, as in timm: each entry registers itself where it is defined.

A class registers with ``@REGISTRY.register`` (under its ``name`` attribute) or
``@REGISTRY.add("name")``; a plain record registers with ``REGISTRY.register(Record(...))``.
Entries keep their registration order, which listings, suites and tables follow.
``REGISTRY.get(name)`` raises :class:`UserError` with a did-you-mean hint for an unknown name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ganbench.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects in registration order; ``kind`` names the entries in messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, obj: T, name: str | None = None) -> T:
        """Register ``obj`` under ``name`` (default: its ``name`` attribute) and return it unchanged.

        Used bare as a class decorator. A name registered twice raises :class:`ValueError`.
        """
        key = name or getattr(obj, "name")
        if key in self._entries:
            raise ValueError(f"{self.kind} {key!r} is registered twice")
        self._entries[key] = obj
        return obj

    def add(self, name: str) -> Callable[[T], T]:
        """Decorator form that registers under an explicit name."""

        def decorator(obj: T) -> T:
            return self.register(obj, name)

        return decorator

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name is a :class:`UserError`."""
        if name not in self._entries:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self._entries))
            raise UserError(f"unknown {self.kind} {name!r}{hint} (known: {known})")
        return self._entries[name]

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)
