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

Constructor arguments chosen by the user (``ganbench detect --detector-arg key=value``) travel on
the detector's spec and are passed by :func:`build_detector` next to the run settings; a name the
``__init__`` does not accept, or a parameter without a default that neither supplies, is a
:class:`ganbench.errors.UserError` when the detector is named (:func:`check_arguments`).

Saving (optional): a detector that can be saved once fitted implements ``state()``, returning a
flat ``dict[str, numpy.ndarray | torch.Tensor]`` of everything ``fit`` learned, and
``load_state(state)``, which restores it into a freshly built instance (constructor arguments are
stored beside the state, see :mod:`ganbench.detectors.saved`). Scores are probabilities of
"fake" when the class declares ``outputs_probability = True`` and logits otherwise; that decides
the default threshold (0.5 or 0) where no validation data exists. A class whose instances score
without being fitted (e.g. one that loads its own released weights) declares ``needs_fit = False``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ganbench.errors import UserError


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


SETTING_NAMES = ("seed", "epochs", "device")
"""The run settings :func:`build_detector` always offers a constructor (all that ``detect`` has)."""
RUN_SETTING_NAMES = (*SETTING_NAMES, "extractor")
"""What a run's detection units offer: the extractor too, built for a class that names it."""


def accepted_arguments(function: Any, offered: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``offered`` that ``function`` accepts by name (all of it with ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(offered)
    return {k: v for k, v in offered.items() if k in parameters}


def missing_arguments(cls: type, supplied: Iterable[str]) -> list[str]:
    """The parameters of ``cls``'s constructor that need a value and are not among the ``supplied``
    names (a positional-only one can never be given by name, so it is always missing)."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return []
    given = set(supplied)
    return [p.name for p in parameters
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and (p.kind is p.POSITIONAL_ONLY or p.name not in given)]


def check_arguments(cls: type, arguments: Iterable[tuple[str, object]],
                    settings: Iterable[str] | None = None) -> dict[str, object]:
    """``arguments`` as a dict; a name that ``cls.__init__`` does not accept is a UserError. With
    ``settings`` (the names of the run settings the command offers, :data:`SETTING_NAMES` or
    :data:`RUN_SETTING_NAMES`), so is a constructor parameter that needs a value neither of them gives."""
    given = dict(arguments)
    accepted = {} if cls.__init__ is object.__init__ else accepted_arguments(cls.__init__, given)
    refused = sorted(set(given) - set(accepted))
    if refused:
        raise UserError(f"detector {detector_name(cls)} does not accept the argument(s) {', '.join(refused)}")
    missing = [] if settings is None else missing_arguments(cls, [*given, *settings])
    if missing:
        example = " ".join(f"--detector-arg {name}=VALUE" for name in missing)
        raise UserError(f"detector {detector_name(cls)} needs a value for constructor parameter(s) "
                        f"{', '.join(missing)} that nothing supplies: pass {example} (eval-detector, detect) "
                        "or give the parameter a default")
    return given


def build_detector(cls: type, settings: RunSettings, arguments: Iterable[tuple[str, object]] = ()) -> Any:
    """Instantiate ``cls`` with the run settings its ``__init__`` names and the user's ``arguments``
    (which override a setting of the same name)."""
    given = check_arguments(cls, arguments)
    offered = {"seed": settings.seed, "epochs": settings.epochs, "device": settings.device}
    if settings.extractor is not None:
        offered["extractor"] = settings.extractor
    if cls.__init__ is object.__init__:
        return cls()
    if not given:
        return cls(**accepted_arguments(cls.__init__, offered))
    try:
        return cls(**{**accepted_arguments(cls.__init__, offered), **given})
    except (TypeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise UserError(f"detector {detector_name(cls)}: bad value among {', '.join(sorted(given))} ({reason})"
                        ) from None


def wants_extractor(cls: type) -> bool:
    """Whether ``cls.__init__`` names an ``extractor`` parameter (computing one costs a classifier fit)."""
    try:
        return "extractor" in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False


def detector_name(detector: object) -> str:
    return getattr(detector, "name", None) or (detector.__name__ if isinstance(detector, type) else type(detector).__name__)


def is_baseline(cls: type) -> bool:
    """Whether a detector class is a baseline that never sees a fake (``baseline = True``): fitted and
    thresholded on reals alone, kept out of a generator's detectability."""
    return bool(getattr(cls, "baseline", False))


def describe(detector: object) -> dict[str, Any]:
    """The detector's own description for records (its ``describe()`` when it has one)."""
    method = getattr(detector, "describe", None)
    return dict(method()) if callable(method) else {}


def in_chunks(function: Callable[[torch.Tensor], np.ndarray], images: torch.Tensor, chunk: int = 1024) -> np.ndarray:
    """``function`` applied to ``chunk`` images at a time and concatenated: memory flat in ``N``."""
    return np.concatenate([function(images[start : start + chunk]) for start in range(0, max(len(images), 1), chunk)])

