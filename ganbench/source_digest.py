"""Digests of the source code a generator's or a detector's results depend on, for unit keys and records.

A trained generator depends on its variant's module, the modules of its base classes (a variant
with tricks is its base variant's code), the modules those use from the generators package
(layers, losses, blocks, the EMA) or from their own top-level package (a plugin's helpers; for
a plugin that is one top-level module, the modules beside it in its folder), and
on the shared training loop, the canvas geometry, the streamed batches and the runtime. A detector depends likewise on its module, its base classes' and
what they use from the detectors package (training loops, augmentations) or its own package.
:func:`source_files` follows the names a module's globals bind to other such modules,
transitively; :func:`source_digest` hashes those files' bytes, so an edit to any of them gives
new keys, and a run recomputes rather than reuse results computed by other code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

from ganbench.store import file_digest

GENERATORS_PACKAGE = "ganbench.generators"
DETECTORS_PACKAGE = "ganbench.detectors"
TRAINING_LOOP = "ganbench.generators.trainer"
#: What every training runs through besides its variant: the loop, the canvas geometry, the
#: streamed batches and the device, precision and seed decisions.
TRAINING_MODULES = (TRAINING_LOOP, "ganbench.geometry", "ganbench.streaming", "ganbench.runtime")


def _module_of(value: object) -> ModuleType | None:
    if isinstance(value, ModuleType):
        return value
    name = getattr(value, "__module__", None)
    return sys.modules.get(name) if isinstance(name, str) else None


def _library_folders() -> set[Path]:
    paths = sysconfig.get_paths()
    return {Path(paths[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}


def _module_file(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _home_folder(cls: type) -> Path | None:
    """The folder of a plugin written as a top-level module (``mydetector.py`` beside its helper
    modules), whose sibling modules are its own; None for a package or an installed module."""
    top = sys.modules.get(cls.__module__.partition(".")[0])
    file = None if top is None or hasattr(top, "__path__") else _module_file(top)
    if file is None or file.parent in _library_folders():
        return None
    return file.parent


def _followed(module: ModuleType, home: str, package: str, folder: Path | None = None) -> bool:
    name = module.__name__
    if name.startswith(package) or name.partition(".")[0] == home != "ganbench":
        return True
    file = None if folder is None else _module_file(module)
    return file is not None and folder in file.parents


@functools.cache
def source_files(cls: type, package: str = GENERATORS_PACKAGE,
                 also: tuple[str, ...] = TRAINING_MODULES) -> tuple[Path, ...]:
    """The source files of the modules of ``cls`` and its base classes in ``package`` or in its own
    top-level package, of the modules they use there (transitively), and of the modules named in
    ``also`` (:data:`TRAINING_MODULES`, for a generator); sorted. A package's submodules are not followed
    just for being loaded into its namespace. Found once per class (every unit key of a run asks);
    the digest re-reads a file only when it changes."""
    home, folder = cls.__module__.partition(".")[0], _home_folder(cls)
    bases = [sys.modules[c.__module__] for c in cls.__mro__[1:] if c.__module__ in sys.modules]
    seen: dict[str, ModuleType] = {}
    pending = [sys.modules[cls.__module__], *(m for m in bases if _followed(m, home, package, folder)),
               *map(importlib.import_module, also)]
    while pending:
        module = pending.pop()
        if module.__name__ in seen:
            continue
        seen[module.__name__] = module
        is_package = hasattr(module, "__path__")
        for value in vars(module).values():
            if is_package and isinstance(value, ModuleType):
                continue
            used = _module_of(value)
            if used is not None and used.__name__ not in seen and _followed(used, home, package, folder):
                pending.append(used)
    files = set()
    for module in seen.values():
        try:
            files.add(Path(inspect.getfile(module)).resolve())
        except (TypeError, OSError):
            continue
    return tuple(sorted(files))


def files_digest(paths: tuple[Path, ...]) -> str:
    """SHA-256 (16 hex digits) over the names and contents of ``paths``."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path.name}:{file_digest(path)}\n".encode())
    return digest.hexdigest()[:16]


def source_digest(cls: type, package: str = GENERATORS_PACKAGE, also: tuple[str, ...] = TRAINING_MODULES) -> str:
    """:func:`files_digest` of :func:`source_files`."""
    return files_digest(source_files(cls, package, also))


def modules_digest(names: tuple[str, ...]) -> str:
    """:func:`files_digest` of exactly the named modules' files (their imports are not followed)."""
    return files_digest(tuple(sorted(Path(inspect.getfile(importlib.import_module(name))).resolve()
                                     for name in names)))
