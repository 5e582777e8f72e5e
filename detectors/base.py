"""The detector protocol: what every built-in detector and every user plugin implements.

Construction: a detector class is built with the keyword arguments of its ``__init__`` that the
run can supply (see :class:`RunSettings`): ``seed`` (int), ``epochs`` (the preset's
``detector_epochs``), ``device`` (a ``torch.device``) and ``extractor`` (the run's reference
feature extractor, :class:`ganbench.features.FeatureExtractor`). A class asks for the ones it
needs by naming them; a plugin whose ``__init__`` takes no arguments is built with none.

Fitting: ``fit(real, fake)`` gets uint8 ``N,C,H,W`` tensors; a ``fit`` that also names a
``validation`` parameter receives ``(real_val, fake_val)`` from the training generator(s), e.g.
for model selection. The decision threshold is never the detector's business: the runner picks
it on that validation pair and applies it unchanged to every test set.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class Detector(Protocol):
    """``fit`` on uint8 ``N,C,H,W`` real and fake images; ``score`` returns N floats, higher = more likely fake."""

    name: str  # optional on plugins; the class name otherwise

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None: ...

    def score(self, images: torch.Tensor) -> np.ndarray: ...


@dataclass(frozen=True)
class RunSettings:
    """What a run can hand to a detector's constructor (only the names it accepts are passed)."""

    seed: int = 0
    epochs: int = 4
    device: torch.device = torch.device("cpu")
    extractor: Any = None


def accepted_arguments(function: Any, offered: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``offered`` that ``function`` accepts by name (all of it with ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(offered)
    return {k: v for k, v in offered.items() if k in parameters}


def build_detector(cls: type, settings: RunSettings) -> Any:
    """Instantiate ``cls`` with the run settings its ``__init__`` names."""
    offered = {"seed": settings.seed, "epochs": settings.epochs, "device": settings.device}
    if settings.extractor is not None:
        offered["extractor"] = settings.extractor
    if cls.__init__ is object.__init__:
        return cls()
    return cls(**accepted_arguments(cls.__init__, offered))


def wants_extractor(cls: type) -> bool:
    """Whether ``cls.__init__`` names an ``extractor`` parameter (computing one costs a classifier fit)."""
    try:
        return "extractor" in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False


def detector_name(detector: object) -> str:
    return getattr(detector, "name", None) or (detector.__name__ if isinstance(detector, type) else type(detector).__name__)


def describe(detector: object) -> dict[str, Any]:
    """The detector's own description for records (its ``describe()`` when it has one)."""
    method = getattr(detector, "describe", None)
    return dict(method()) if callable(method) else {}


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``N,C,H,W`` -> float64 ``N,H,W`` luminance (ITU-R BT.601 weights for RGB)."""
    x = images.double()
    if x.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(1, 3, 1, 1)
        return (x * weights).sum(1)
    return x.mean(1)


def in_chunks(function: Callable[[torch.Tensor], np.ndarray], images: torch.Tensor, chunk: int = 1024) -> np.ndarray:
    """``function`` applied to ``chunk`` images at a time and concatenated: memory flat in ``N``."""
    return np.concatenate([function(images[start : start + chunk]) for start in range(0, max(len(images), 1), chunk)])

