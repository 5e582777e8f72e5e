"""Digests of the source code a generator's or a detector's results depend on, for unit keys and records.

A trained generator depends on its variant's module, the modules of its base classes (a variant
with tricks is its base variant's code), the modules those use from the generators package
(layers, losses, blocks, the EMA), from the core modules that shape results
(:data:`SHARED_MODULES`: pixel encoding, spectra, feature networks, task views) or from their own
top-level package (a plugin's helpers; for a plugin that is one top-level module, the modules
beside it in its folder), and on the shared training loop, the canvas geometry, the streamed
batches and the runtime. A detector depends likewise on its module, its base classes' and what
they use from the detectors package (training loops, augmentations), the shared core modules or
its own package.
:func:`source_files` follows the names a module's globals bind to other such modules,
transitively; :func:`source_digest` hashes those files' bytes, so an edit to any of them gives
new keys, and a run recomputes rather than reuse results computed by other code.

A key must describe the code that computes its unit, which is the code this process loaded, not
whatever is on disk when the key is asked for. A file's digest is therefore pinned to the module
object (and import) it was first read for; if the file changes on disk while that module stays
loaded, the next digest raises :class:`SourceChanged` rather than give the edited code's key to
results of the loaded code. A module imported afresh (a new process, or removed from
``sys.modules`` and imported again) is pinned anew. A run pins every planned unit's sources when
it plans (:func:`pin_sources`), so an edit made during a long run is found however late a unit's
key is asked for.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from ganbench.errors import UserError
from ganbench.store import file_digest

GENERATORS_PACKAGE = "ganbench.generators"
DETECTORS_PACKAGE = "ganbench.detectors"
TRAINING_LOOP = "ganbench.generators.trainer"
#: What every training runs through besides its variant: the loop (and, followed from it, the
#: shared core modules it uses: the canvas geometry, the streamed batches, the pixel encoding and
#: the device, precision and seed decisions).
TRAINING_MODULES = (TRAINING_LOOP,)
#: Core modules whose code shapes the results of the generators and detectors that use them: followed
#: like a plugin package's own modules (a detector's spectra, SRGAN's content network, StarGAN's domains).
SHARED_MODULES = frozenset({"ganbench.geometry", "ganbench.streaming", "ganbench.pixels", "ganbench.runtime",
                            "ganbench.spectra", "ganbench.features", "ganbench.tasks"})


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
    if name.startswith(package) or name in SHARED_MODULES or name.partition(".")[0] == home != "ganbench":
        return True
    file = None if folder is None else _module_file(module)
    return file is not None and folder in file.parents


class SourceChanged(UserError):
    """A source file changed on disk after this process loaded its module."""


@functools.cache
def source_modules(cls: type, package: str = GENERATORS_PACKAGE,
                   also: tuple[str, ...] = TRAINING_MODULES) -> tuple[tuple[Path, ModuleType], ...]:
    """The modules of ``cls`` and its base classes in ``package`` or in its own top-level package,
    the modules they use there (transitively), and the modules named in ``also``
    (:data:`TRAINING_MODULES`, for a generator), with their source files, sorted by file. A
    package's submodules are not followed just for being loaded into its namespace. Found once per
    class (every unit key of a run asks); the digest re-reads a file only when it changes."""
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
    files: dict[Path, ModuleType] = {}
    for module in seen.values():
        try:
            files.setdefault(Path(inspect.getfile(module)).resolve(), module)
        except (TypeError, OSError):
            continue
    return tuple(sorted(files.items(), key=lambda item: item[0]))


def source_files(cls: type, package: str = GENERATORS_PACKAGE,
                 also: tuple[str, ...] = TRAINING_MODULES) -> tuple[Path, ...]:
    """The files of :func:`source_modules`."""
    return tuple(path for path, _ in source_modules(cls, package, also))


#: each source file's digest when first read for the module (and import) holding it
_AS_LOADED: dict[Path, tuple[ModuleType, object, str]] = {}


def loaded_digest(path: Path, module: ModuleType) -> str:
    """``path``'s digest as ``module`` loaded it: the digest when first read for this module object
    and import (its ``__spec__``); :class:`SourceChanged` if the file has changed since."""
    now = file_digest(path)
    pinned = _AS_LOADED.get(path)
    if pinned is None or pinned[0] is not module or pinned[1] is not module.__spec__:
        _AS_LOADED[path] = (module, module.__spec__, now)
        return now
    if pinned[2] != now:
        raise SourceChanged(f"{path} changed after this process loaded it: results of the loaded code would be "
                            f"keyed as the edited code's; run the command again (finished units are kept)")
    return now


def files_digest(files: tuple[tuple[Path, ModuleType], ...]) -> str:
    """SHA-256 (16 hex digits) over the names and loaded contents (:func:`loaded_digest`) of the
    modules' files."""
    digest = hashlib.sha256()
    for path, module in files:
        digest.update(f"{path.name}:{loaded_digest(path, module)}\n".encode())
    return digest.hexdigest()[:16]


def source_digest(cls: type, package: str = GENERATORS_PACKAGE, also: tuple[str, ...] = TRAINING_MODULES) -> str:
    """:func:`files_digest` of :func:`source_modules`."""
    return files_digest(source_modules(cls, package, also))


def modules_digest(names: tuple[str, ...]) -> str:
    """:func:`files_digest` of exactly the named modules' files (their imports are not followed)."""
    modules = (importlib.import_module(name) for name in names)
    return files_digest(tuple(sorted(((Path(inspect.getfile(m)).resolve(), m) for m in modules),
                                     key=lambda item: item[0])))


def pin_sources(generators: Iterable[type], detectors: Iterable[type], modules: tuple[str, ...]) -> None:
    """Read the sources of a run's generators, detectors and named modules now, pinning each file
    to the module this process loaded (:func:`loaded_digest`)."""
    for cls in generators:
        source_digest(cls)
    for cls in detectors:
        source_digest(cls, DETECTORS_PACKAGE, also=())
    modules_digest(modules)
