"""Presets decide *how much* work a run does; suites (``ganbench.suites``) decide *what* runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ganbench.registry import Registry


@dataclass(frozen=True)
class Preset:
    """Budgets shared by every unit of a run.

    ``steps`` counts generator updates, the same for every variant, and is the only training
    budget: no result depends on the machine's speed or load (``--max-minutes`` is a safety limit
    whose truncated trainings are left out of every ranking). A step trains on ``batch_size``
    real images per discriminator update (``training_images`` over the budget). ``width`` scales every variant's
    channel counts so that one preset is comparable across variants.
    ``detection_plan`` (:func:`ganbench.detectors.protocols.detection_plan`) decides which detectors are
    trained: ``matrix`` (one per generator, train-on-all, leave-one-out) or ``compact`` (the
    first generator's and train-on-all), which keeps CPU presets' detector fits at two.
    Images keep their data set's native side up to ``max_resolution`` (larger ones are
    downsampled); ``resolution`` declares a side instead (``--resolution``; see ``ganbench.geometry``).
    """

    name: str
    steps: int
    batch_size: int
    width: int
    checkpoint_every: int
    n_eval: int
    n_detector_train: int
    n_detector_test: int
    detector_epochs: int
    classifier_epochs: int
    detection_plan: str = "matrix"
    max_resolution: int = 32
    resolution: int | None = None

    def with_overrides(self, **changes: object) -> Preset:
        return replace(self, **changes)

    @property
    def training_images(self) -> int:
        """Real images seen by a variant with one D update per G update over the whole budget."""
        return self.steps * self.batch_size


#: Detection plans (``ganbench.detectors.protocols.detection_plan``).
PLANS = ("matrix", "compact")
#: The sides a run's images may have, in pixels.
MIN_RESOLUTION, MAX_RESOLUTION = 8, 1024
#: The fewest images an evaluation or detection set may hold: the Inception Score's ten splits
#: need two images each, precision/recall five neighbours, a detector a validation split.
MIN_SET_SIZE = 20
SET_SIZES = ("n_eval", "n_detector_train", "n_detector_test")


def preset_field_problem(name: str, value: object) -> str | None:
    """Why ``value`` is not valid for preset field ``name``, or None when it is."""
    if name == "detection_plan" and value not in PLANS:
        return f"must be one of {', '.join(PLANS)}"
    if name in ("resolution", "max_resolution") and value is not None and not (
            MIN_RESOLUTION <= value <= MAX_RESOLUTION):
        return f"must be from {MIN_RESOLUTION} to {MAX_RESOLUTION} pixels"
    if name in SET_SIZES and value < MIN_SET_SIZE:
        return f"must be at least {MIN_SET_SIZE} images"
    if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
        return "must be positive"
    return None


PRESETS: Registry[Preset] = Registry("preset")
PRESETS.register(Preset("smoke", steps=20, batch_size=32, width=16,
                        checkpoint_every=10, n_eval=500, n_detector_train=128, n_detector_test=128,
                        detector_epochs=1, classifier_epochs=2, detection_plan="compact"))
PRESETS.register(Preset("quick", steps=400, batch_size=64, width=32,
                        checkpoint_every=250, n_eval=2000, n_detector_train=1000, n_detector_test=500,
                        detector_epochs=4, classifier_epochs=6, detection_plan="compact"))
PRESETS.register(Preset("standard", steps=20000, batch_size=64, width=64,
                        checkpoint_every=1000, n_eval=10000, n_detector_train=5000, n_detector_test=2000,
                        detector_epochs=10, classifier_epochs=10))
PRESETS.register(Preset("full", steps=100000, batch_size=64, width=64,
                        checkpoint_every=5000, n_eval=50000, n_detector_train=20000, n_detector_test=10000,
                        detector_epochs=20, classifier_epochs=10))


def get_preset(name: str) -> Preset:
    return PRESETS.get(name)


def default_preset(device_type: str) -> str:
    """``quick`` on CPU, ``standard`` on CUDA."""
    return "standard" if device_type == "cuda" else "quick"
