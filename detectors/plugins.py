"""Detectors from outside the project: an import path ``package.module:ClassName`` (the current
directory is on the import path) or a name registered by an installed distribution under the
entry-point group ``ganbench.detectors`` (loaded only when named). Every problem a plugin can
cause at load or score time becomes one :class:`ganbench.errors.UserError` line.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ganbench.detectors.base import detector_name
from ganbench.errors import UserError

ENTRY_POINT_GROUP = "ganbench.detectors"


@dataclass(frozen=True)
class DetectorSpec:
    """A resolved detector: the name its records carry, its class, where it came from, and the
    constructor arguments the user chose (passed by :func:`ganbench.detectors.base.build_detector`)."""

    name: str
    cls: type
    source: str  # "builtin", "entry-point:<value>", "import:<module:Class>" or "published:<name>"
    arguments: tuple[tuple[str, object], ...] = ()

    @property
    def builtin(self) -> bool:
        return self.source == "builtin"

    @property
    def plugin(self) -> bool:
        """Whether the class is the user's: imported as ``module:Class`` or from an entry point."""
        return self.source.startswith(("import:", "entry-point:"))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


def check_detector_class(obj: object, source: str) -> type:
    """``obj`` must be a class with callable ``fit`` and ``score``."""
    if not isinstance(obj, type):
        raise UserError(f"detector {source} is not a class (got {type(obj).__name__})")
    missing = [m for m in ("fit", "score") if not callable(getattr(obj, m, None))]
    if missing:
        raise UserError(f"detector {source} lacks {' and '.join(missing)}() (see detectors/base.py)")
    return obj


def import_detector(path: str) -> type:
    """Import ``package.module:ClassName`` with the current directory on ``sys.path``."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise UserError(f"detector import path {path!r} must look like package.module:ClassName")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UserError(f"cannot import detector module {module_name!r} ({_one_line(exc)})") from None
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise UserError(f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return check_detector_class(obj, path)


def entry_point(name: str) -> importlib.metadata.EntryPoint | None:
    found = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    return found[0] if found else None


def resolve_detector(spec: str) -> DetectorSpec:
    """A built-in name, an entry-point name of group ``ganbench.detectors``, or ``module:Class``."""
    from ganbench.detectors import DETECTORS

    if spec in DETECTORS:
        return DetectorSpec(spec, DETECTORS.get(spec), "builtin")
    if ":" in spec:
        cls = import_detector(spec)
        return DetectorSpec(detector_name(cls), cls, f"import:{spec}")
    ep = entry_point(spec)
    if ep is None:
        DETECTORS.get(spec)  # unknown name: one line with a did-you-mean hint
    try:
        obj = ep.load()
    except Exception as exc:
        raise UserError(f"cannot load detector entry point {spec!r} = {ep.value} ({_one_line(exc)})") from None
    return DetectorSpec(spec, check_detector_class(obj, f"{spec} ({ep.value})"), f"entry-point:{ep.value}")


def _source_file(cls: type) -> str | None:
    try:
        found = inspect.getsourcefile(cls)
    except TypeError:
        return None
    return os.path.realpath(found) if found else None


def plugin_failure(exc: BaseException, specs: Iterable[DetectorSpec]) -> UserError | None:
    """``exc`` as one UserError line when it passed through a plugin detector's own module: the
    detector, the exception and the innermost line of that module; None when it did not (then it
    is no mistake of the plugin's)."""
    plugins = [spec for spec in specs if spec.plugin]
    by_file = {path: spec for spec in plugins if (path := _source_file(spec.cls)) is not None}
    steps = list(traceback.walk_tb(exc.__traceback__))
    inside = [(frame, line) for frame, line in steps if os.path.realpath(frame.f_code.co_filename) in by_file]
    if not inside:
        return None
    frame, line = inside[-1]
    owner = by_file[os.path.realpath(frame.f_code.co_filename)]
    called = [step.f_locals.get("self") for step, _ in steps]
    owner = next((spec for instance in called for spec in plugins if isinstance(instance, spec.cls)), owner)
    return UserError(f"detector {owner.name} failed with {_one_line(exc)[:300]} at {frame.f_code.co_filename}:{line} "
                     f"in {frame.f_code.co_name}(); fix the detector there (--debug shows the traceback)")


def checked_scores(name: str, scores: object, n: int) -> np.ndarray:
    """``score()`` output as float64 ``(n,)``; a wrong shape or a non-finite value is a UserError."""
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    try:
        array = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"detector {name}: score() returned {type(scores).__name__}, not an array of floats") from None
    if array.shape != (n,):
        raise UserError(f"detector {name}: score() returned shape {array.shape} for {n} images (expected ({n},))")
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise UserError(f"detector {name}: score() returned {bad} NaN or infinite value(s) of {n}")
    return array
