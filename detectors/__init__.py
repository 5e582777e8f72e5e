"""The detector family: a registry of detectors that implement :class:`detectors.base.Detector`."""

from __future__ import annotations

from ganbench.registry import Registry
from detectors.base import Detector, detector_name
from detectors.spectrum import SpectrumDetector

DETECTORS: Registry[type] = Registry("detector")
for _detector in (SpectrumDetector,):
    DETECTORS.register(_detector)

__all__ = ["DETECTORS", "Detector", "detector_name"]
