"""Shared check that a short training run improves a generator: FID before vs after.

FID is computed on the reference classifier's features (``ganbench.features.ClassifierExtractor``,
trained once per resolution on the digits train split and cached for the test session) between
the digits test split and samples of the generator.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import torch

from ganbench.data import Dataset, load_digits
from ganbench.features import ClassifierExtractor
from ganbench.metrics import conditional_accuracy, fid_from_features
from ganbench.generators import GenerativeModel
from ganbench.generators.trainer import TrainConfig, train

CLASSIFIER_EPOCHS = 3
# the reference classifiers' weights, removed when the test process exits
CACHE = tempfile.TemporaryDirectory(prefix="ganbench-quality-")


@functools.cache
def digits(resolution: int) -> Dataset:
    return load_digits(resolution)


@functools.cache
def extractor(resolution: int) -> ClassifierExtractor:
    """The reference classifier for digits at ``resolution``, trained once per session."""
    return ClassifierExtractor(digits(resolution), Path(CACHE.name), seed=0, epochs=CLASSIFIER_EPOCHS)


def fid(model: GenerativeModel, n: int = 500, seed: int = 0) -> float:
    """FID of ``n`` samples of ``model`` against the digits test split at the model's resolution."""
    resolution = model.spec.resolution
    features = extractor(resolution)
    real = features.extract(digits(resolution).x_test).features
    fake = features.extract(model.sample(n, seed=seed)).features
    return fid_from_features(real, fake)


def fid_before_after(model: GenerativeModel, steps: int, batch_size: int = 32, n: int = 500,
                     seed: int = 0) -> tuple[float, float]:
    """FID of ``model`` untrained and after ``steps`` training steps on digits."""
    data = digits(model.spec.resolution)
    before = fid(model, n, seed)
    outcome = train(model, data.x_train, data.y_train, TrainConfig(steps=steps, batch_size=batch_size, seed=seed))
    assert outcome.status == "ok", outcome
    return before, fid(model, n, seed)


def conditional_accuracy_before_after(model: GenerativeModel, steps: int, batch_size: int = 32,
                                      n: int = 500) -> tuple[float, float]:
    """The reference classifier's accuracy on ``n`` samples of the classes asked for (balanced),
    untrained and after ``steps`` training steps on digits."""
    data = digits(model.spec.resolution)
    labels = torch.arange(n) % data.num_classes

    def accuracy() -> float:
        probs = extractor(model.spec.resolution).extract(model.sample(n, labels=labels, seed=0)).probs
        return conditional_accuracy(probs, labels)

    before = accuracy()
    outcome = train(model, data.x_train, data.y_train, TrainConfig(steps=steps, batch_size=batch_size))
    assert outcome.status == "ok", outcome
    return before, accuracy()
