"""The detector family: a registry of detectors that implement :class:`detectors.base.Detector`.

Built-ins register here; installed distributions register more under the entry-point group
``ganbench.detectors`` and any class can be named by import path (see :mod:`detectors.plugins`).
"""

from __future__ import annotations

from ganbench.registry import Registry
from detectors.base import Detector, RunSettings, build_detector, detector_name
from detectors.cnn import EfficientNetDetector, ResNet50Detector, XceptionDetector
from detectors.dct import DCTDetector
from detectors.npr import NPRDetector
from detectors.probe import ProbeDetector
from detectors.small_cnn import SmallCNNDetector
from detectors.spectrum import SpectrumDetector

DETECTORS: Registry[type] = Registry("detector")
for _detector in (SpectrumDetector, DCTDetector, ResNet50Detector, XceptionDetector, EfficientNetDetector,
                  NPRDetector, ProbeDetector, SmallCNNDetector):
    DETECTORS.register(_detector)

__all__ = ["DETECTORS", "Detector", "RunSettings", "build_detector", "detector_name"]
