"""Presets decide *how much* work a run does; suites (``ganbench.suites``) decide *what* runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ganbench.registry import Registry


@dataclass(frozen=True)
class Preset:
    """Budgets shared by every unit of a run.

    ``steps`` counts generator updates; ``max_seconds`` caps a training unit's wall clock (the
    record says when the cap, not the step budget, ended training). ``width`` scales every
    variant's channel counts so that one preset is comparable across variants.
    ``detection_plan`` (:func:`detectors.protocols.detection_plan`) decides which detectors are
    trained: ``matrix`` (one per generator, train-on-all, leave-one-out) or ``compact`` (the
    first generator's and train-on-all), which keeps CPU presets' detector fits at two.
    """

    name: str
    resolution: int
    steps: int
    batch_size: int
    width: int
    max_seconds: float | None
    checkpoint_every: int
    n_eval: int
    n_detector_train: int
    n_detector_test: int
    detector_epochs: int
    classifier_epochs: int
    detection_plan: str = "matrix"

    def with_overrides(self, **changes: object) -> Preset:
        return replace(self, **changes)


PRESETS: Registry[Preset] = Registry("preset")
for _preset in (
    Preset("smoke", resolution=16, steps=20, batch_size=32, width=16, max_seconds=None,
           checkpoint_every=10, n_eval=500, n_detector_train=128, n_detector_test=128,
           detector_epochs=1, classifier_epochs=2, detection_plan="compact"),
    Preset("quick", resolution=16, steps=1500, batch_size=64, width=32, max_seconds=60.0,
           checkpoint_every=250, n_eval=2000, n_detector_train=1000, n_detector_test=500,
           detector_epochs=4, classifier_epochs=6, detection_plan="compact"),
    Preset("standard", resolution=32, steps=20000, batch_size=64, width=64, max_seconds=None,
           checkpoint_every=1000, n_eval=10000, n_detector_train=5000, n_detector_test=2000,
           detector_epochs=10, classifier_epochs=10),
    Preset("full", resolution=32, steps=100000, batch_size=64, width=64, max_seconds=None,
           checkpoint_every=5000, n_eval=50000, n_detector_train=20000, n_detector_test=10000,
           detector_epochs=20, classifier_epochs=10),
):
    PRESETS.register(_preset)


def get_preset(name: str) -> Preset:
    return PRESETS.get(name)


def default_preset(device_type: str) -> str:
    """``quick`` on CPU, ``standard`` on CUDA."""
    return "standard" if device_type == "cuda" else "quick"
