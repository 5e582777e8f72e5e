"""Helpers for the reference generators' quality tests: short training and FID on digits."""

from __future__ import annotations

from pathlib import Path

from ganbench.data import Dataset
from ganbench.features import ClassifierExtractor
from ganbench.metrics import fid_from_features
from ganbench.generators import DataSpec, GenerativeModel, create_generator
from ganbench.generators.trainer import TrainConfig, train


def digits_extractor(data: Dataset, cache_dir: Path) -> ClassifierExtractor:
    """The reference classifier of the digits split (two epochs: enough to separate the classes)."""
    return ClassifierExtractor(data, cache_dir, seed=0, epochs=2)


def build(name: str, data: Dataset, width: int, **overrides: object) -> GenerativeModel:
    spec = DataSpec("image", data.channels, data.resolution, data.num_classes)
    return create_generator(name, spec, preset_width=width, **overrides)


def fid(model: GenerativeModel, data: Dataset, extractor: ClassifierExtractor, n: int = 400, seed: int = 1) -> float:
    """FID of ``n`` samples against the real test split, on the classifier's features."""
    fakes = model.sample(n, seed=seed)
    return fid_from_features(extractor.extract(data.x_test).features, extractor.extract(fakes).features)


def train_steps(model: GenerativeModel, data: Dataset, steps: int, batch_size: int = 32) -> dict[str, float]:
    """Train for ``steps`` updates on the train split; returns the last logged losses."""
    outcome = train(model, data.x_train, data.y_train, TrainConfig(steps=steps, batch_size=batch_size, seed=0))
    assert outcome.status == "ok", outcome
    return outcome.losses
