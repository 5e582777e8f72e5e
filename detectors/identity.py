"""What a detector *is*, for cache keys and records: its code, its constructor arguments and the
content of every weights file it loads.

A detection unit is recomputed when any of these changes: an edit to the detector's module, to
one it uses or to a base class's (or its distribution's version), another constructor argument, or a weights file whose bytes differ
(a swapped checkpoint under the same path). Weights files are found two ways: a detector class
may name them with ``weights_files(arguments) -> list[Path]`` (a classmethod given the
constructor's arguments, defaults included: e.g. the CNN detectors' ``weights="auto"`` resolving
to a local ImageNet file), and any constructor argument, or default, that names an existing
file is taken to be one.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import os
from pathlib import Path
from typing import Any

from ganbench.detectors.plugins import DetectorSpec
from ganbench.source_digest import DETECTORS_PACKAGE, source_digest
from ganbench.store import file_digest


@functools.lru_cache(maxsize=1)
def _distributions_of_packages() -> dict[str, list[str]]:
    """Top-level package -> distributions; scanning every installed distribution takes seconds,
    and installing a package mid-process is not a case worth that cost per call."""
    return importlib.metadata.packages_distributions()


def code_identity(cls: type) -> dict[str, str]:
    """The digest of the source ``cls`` depends on (its module, its base classes' and the modules
    they use from the detectors package or their own package: ``ganbench.source_digest``) and,
    for an installed distribution, its version."""
    identity: dict[str, str] = {"module": cls.__module__,
                                "source_digest": source_digest(cls, DETECTORS_PACKAGE, also=())}
    top = cls.__module__.partition(".")[0]
    try:
        distributions = _distributions_of_packages().get(top, [])
        if distributions:
            identity["version"] = importlib.metadata.version(distributions[0])
    except importlib.metadata.PackageNotFoundError:
        pass
    return identity


def constructor_arguments(spec: DetectorSpec) -> dict[str, Any]:
    """The constructor's defaults, overridden by the arguments the user chose."""
    try:
        parameters = inspect.signature(spec.cls.__init__).parameters.values()
    except (TypeError, ValueError):
        parameters = []
    defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    return {**defaults, **dict(spec.arguments)}


def weights_identity(spec: DetectorSpec) -> dict[str, str]:
    """``{file name: sha256}`` of every weights file the detector would load with its arguments."""
    arguments = constructor_arguments(spec)
    declared = getattr(spec.cls, "weights_files", None)
    files = [Path(p) for p in declared(arguments)] if callable(declared) else []
    files += [Path(os.path.expanduser(v)) for v in arguments.values()
              if isinstance(v, (str, Path)) and str(v) and Path(os.path.expanduser(str(v))).is_file()]
    return {path.name: file_digest(path) for path in sorted(set(files)) if path.is_file()}


def detector_identity(spec: DetectorSpec) -> dict[str, Any]:
    """Everything about a detector that changes its results: the part of a detection unit's key
    (and record protocol) that names the detector."""
    return {"detector": spec.name, "source": spec.source, "code": code_identity(spec.cls),
            "arguments": {k: str(v) for k, v in spec.arguments}, "weights": weights_identity(spec)}
