"""Digests of the source code a generator's results depend on, for unit keys and records.

A trained generator depends on its variant's module and on the modules that module uses from the
generators package (layers, losses, blocks, the EMA) or from its own top-level package (a
plugin's helpers), and on the shared training loop. :func:`source_files` follows the names a
module's globals bind to other such modules, transitively; :func:`source_digest` hashes those
files' bytes, so an edit to any of them gives new keys, and a run retrains rather than reuse
results computed by other code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import sys
from pathlib import Path
from types import ModuleType

from ganbench.store import file_digest

GENERATORS_PACKAGE = "ganbench.generators"
TRAINING_LOOP = "ganbench.generators.trainer"


def _module_of(value: object) -> ModuleType | None:
    if isinstance(value, ModuleType):
        return value
    name = getattr(value, "__module__", None)
    return sys.modules.get(name) if isinstance(name, str) else None


def _followed(module: ModuleType, home: str) -> bool:
    name = module.__name__
    return name.startswith(GENERATORS_PACKAGE) or name.partition(".")[0] == home != "ganbench"


@functools.cache
def source_files(cls: type) -> tuple[Path, ...]:
    """The source files of ``cls``'s module, of the modules it uses in the generators package or
    in its own top-level package (transitively), and of the training loop; sorted. A package's
    submodules are not followed just for being loaded into its namespace. Found once per class
    (every unit key of a run asks); the digest re-reads a file only when it changes."""
    start = sys.modules[cls.__module__]
    home = start.__name__.partition(".")[0]
    seen: dict[str, ModuleType] = {}
    pending = [start, importlib.import_module(TRAINING_LOOP)]
    while pending:
        module = pending.pop()
        if module.__name__ in seen:
            continue
        seen[module.__name__] = module
        package = hasattr(module, "__path__")
        for value in vars(module).values():
            if package and isinstance(value, ModuleType):
                continue
            used = _module_of(value)
            if used is not None and used.__name__ not in seen and _followed(used, home):
                pending.append(used)
    files = set()
    for module in seen.values():
        try:
            files.add(Path(inspect.getfile(module)).resolve())
        except (TypeError, OSError):
            continue
    return tuple(sorted(files))


def source_digest(cls: type) -> str:
    """SHA-256 (16 hex digits) over the names and contents of :func:`source_files`."""
    digest = hashlib.sha256()
    for path in source_files(cls):
        digest.update(f"{path.name}:{file_digest(path)}\n".encode())
    return digest.hexdigest()[:16]
