"""The detector family: a registry of detectors that implement :class:`ganbench.detectors.base.Detector`.

Each built-in detector registers its class where it is defined, with ``@DETECTORS.register``;
importing this package imports the modules of :data:`DETECTOR_MODULES` in registry order.
Installed distributions register more under the entry-point group ``ganbench.detectors`` and any
class can be named by import path (see :mod:`ganbench.detectors.plugins`).
"""

from __future__ import annotations

import importlib

from ganbench.registry import Registry
from ganbench.detectors.base import Detector, RunSettings, build_detector, detector_name

DETECTORS: Registry[type] = Registry("detector")

#: The detector modules in registry order (suites and tables follow it).
DETECTOR_MODULES = ("spectrum", "dct", "cnn", "npr", "probe", "small_cnn", "one_class")
for _module in DETECTOR_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["DETECTORS", "Detector", "RunSettings", "build_detector", "detector_name"]
