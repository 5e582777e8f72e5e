"""Fitted detectors saved to one file and loaded back, with no pickle anywhere.

A detector opts in with ``state()`` / ``load_state(state)`` (see :mod:`ganbench.detectors.base`).
The file is an ``.npz`` archive (format version 1):

* ``state/<key>``: every array of ``state()``; torch tensors are stored as numpy arrays and their
  keys listed in the header, so they come back as tensors (network weights, input shapes);
  scikit-learn heads are their plain coefficient, intercept and scaler arrays
  (:mod:`ganbench.detectors.linear_state`);
* ``header``: a UTF-8 JSON object stored as uint8 bytes: ``format`` (``"ganbench-detector"``),
  ``version``, ``detector`` (name), ``source`` (``builtin``, ``import:<module:Class>`` or
  ``entry-point:<value>``), ``class`` (module and qualified name), ``arguments`` (the
  constructor arguments), ``threshold`` and ``threshold_source`` (from the validation slice of
  the training data), ``outputs_probability``, ``torch_keys`` and ``training`` (image counts,
  folders, geometry).

Loading uses ``numpy.load(allow_pickle=False)``, so reading a file can never run code. The
class is the one the user names (``--detector SPEC@PATH``), which must be the one the header
records; a built-in can also be found from the header alone. A damaged file or a layout that
does not fit the detector is one :class:`ganbench.errors.UserError` line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.detectors.base import RunSettings, build_detector, detector_name
from ganbench.detectors.plugins import DetectorSpec
from ganbench.errors import UserError
from ganbench.store import read_npz, write_npz

FORMAT = "ganbench-detector"
VERSION = 1
HEADER = "header"
STATE = "state/"


@dataclass
class SavedDetector:
    """A detector restored from a file, with the header that describes it."""

    detector: Any
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def threshold(self) -> float | None:
        value = self.header.get("threshold")
        return None if value is None else float(value)


def _as_array(key: str, value: object, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = value.float() if value.dtype == torch.bfloat16 else value
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise UserError(f"detector {name}: state() entry {key!r} is not a numeric array (dtype {array.dtype})")
    return array


def save_fitted(detector: Any, path: Path, spec: DetectorSpec, threshold: float | None = None,
                threshold_source: str = "", training: dict[str, Any] | None = None) -> None:
    """Write a fitted ``detector`` of ``spec`` (its ``state()`` and a JSON header) to ``path``."""
    name = spec.name
    if not callable(getattr(detector, "state", None)) or not callable(getattr(detector, "load_state", None)):
        raise UserError(f"detector {name} cannot be saved: it implements no state()/load_state() "
                        "(see detectors/base.py)")
    state = detector.state()
    if not isinstance(state, dict) or not state or not all(isinstance(k, str) for k in state):
        raise UserError(f"detector {name}: state() must return a non-empty dict of named arrays")
    cls = type(detector)
    header = {"format": FORMAT, "version": VERSION, "detector": name, "source": spec.source,
              "class": f"{cls.__module__}.{cls.__qualname__}", "arguments": dict(spec.arguments),
              "threshold": threshold, "threshold_source": threshold_source,
              "outputs_probability": bool(getattr(detector, "outputs_probability", False)),
              "torch_keys": sorted(k for k, v in state.items() if isinstance(v, torch.Tensor)),
              "training": training or {}}
    arrays = {STATE + key: _as_array(key, value, name) for key, value in state.items()}
    arrays[HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    write_npz(path, **arrays)


def read_saved(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the state arrays of a saved detector file; any damage is one UserError line."""
    if not path.is_file():
        raise UserError(f"no such saved detector file: {path}")
    arrays = read_npz(path)
    if arrays is None:
        raise UserError(f"{path}: not a saved ganbench detector (damaged, truncated or another format)")
    if HEADER not in arrays:
        raise UserError(f"{path}: not a saved ganbench detector (no header)")
    try:
        header = json.loads(arrays[HEADER].astype(np.uint8).tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path}: the saved detector's header is damaged") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UserError(f"{path}: not a saved ganbench detector (format {header.get('format')!r})"
                        if isinstance(header, dict) else f"{path}: the saved detector's header is damaged")
    if header.get("version") != VERSION:
        raise UserError(f"{path}: saved detector format version {header.get('version')!r}; "
                        f"this ganbench reads version {VERSION}")
    if not isinstance(header.get("arguments", {}), dict) or not isinstance(header.get("torch_keys", []), list):
        raise UserError(f"{path}: the saved detector's header is damaged")
    torch_keys = set(header.get("torch_keys", []))
    state = {k.removeprefix(STATE): v for k, v in arrays.items() if k.startswith(STATE)}
    return header, {k: torch.from_numpy(np.array(v)) if k in torch_keys else v for k, v in state.items()}


def _spec_from_header(header: dict[str, Any], path: Path) -> DetectorSpec:
    from ganbench.detectors import DETECTORS

    name, source = header.get("detector"), header.get("source")
    if source != "builtin":
        raise UserError(f"{path}: saved from {source}; name that detector: --detector SPEC@{path}")
    return DetectorSpec(str(name), DETECTORS.get(str(name)), "builtin")


def load_fitted(path: Path, spec: DetectorSpec | None = None, settings: RunSettings = RunSettings()) -> SavedDetector:
    """The fitted detector saved in ``path``. ``spec`` (the user's choice, with constructor
    arguments that override the saved ones) must be the detector the file was saved from; without
    it only a built-in detector is restored."""
    header, state = read_saved(path)
    spec = spec or _spec_from_header(header, path)
    if header.get("detector") != spec.name or header.get("source") != spec.source:
        raise UserError(f"{path} holds detector {header.get('detector')!r} ({header.get('source')}), "
                        f"not {spec.name!r} ({spec.source})")
    arguments = {**header.get("arguments", {}), **dict(spec.arguments)}
    detector = build_detector(spec.cls, settings, arguments.items())
    if not callable(getattr(detector, "load_state", None)):
        raise UserError(f"detector {detector_name(detector)} implements no load_state(); it cannot be loaded")
    try:
        detector.load_state(state)
    except UserError:
        raise
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise UserError(f"{path}: does not fit detector {spec.name} ({exc.__class__.__name__}: {reason[:200]})"
                        ) from None
    return SavedDetector(detector, header)
