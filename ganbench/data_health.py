"""A data set's health, checked before any unit of a run starts.

:func:`inspect_dataset` counts images per class and split, the files' shorter sides (before
resizing, from ``Dataset.notes["source_sizes"]`` where a loader keeps them, otherwise the set's
``native_size``), and exact duplicates (a content hash of every loaded image) within the train
split and between train and test. :meth:`DataHealth.findings` turns the counts into refusals
and warnings; :func:`check_dataset` raises the refusals as one line.

Refused, always (the run could not produce a meaningful number):

* fewer than :data:`FLOOR_TRAIN` (10) training or :data:`FLOOR_TEST` (6) test images. The null
  check fits a detector on one half of the train split against the other and keeps 20% of each
  half as the validation slice that sets its threshold (``ganbench.detection``), so 10 images are
  the least that leave one image per side; precision, recall, density and coverage use the
  k = 5 nearest neighbours of each real test image (Naeem et al. 2020), which needs 6;
* a single class where the run needs classes: the ``classifier`` extractor learns its features
  from the labels, so with one class every set of images scores alike (an untrained generator's
  FID comes out near 0);
* images under :data:`MIN_SIDE` (8) px: loaded below it, or all of them below it at source.

Refused unless ``allow_small`` (``--allow-small``): fewer than :data:`MIN_TRAIN` (50) training or
:data:`MIN_TEST` (20) test images. With 50, each validation slice of the null check holds 5
images; with 20 test images the null check compares 10 against 10, whose AUC under the null
hypothesis already has a standard deviation of sqrt((n+m+1)/(12nm)) = 0.13 (Mann-Whitney).

Warned: most images enlarged more than 2x; images whose shorter side is over 8x the median (a
few huge images among small ones); test images that are exact copies of training images; 1% or
more of the training images repeating another exactly; classes without training images.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ganbench.data import Dataset
from ganbench.errors import UserError

FLOOR_TRAIN = 10
FLOOR_TEST = 6
MIN_TRAIN = 50
MIN_TEST = 20
MIN_SIDE = 8
ENLARGED_FACTOR = 2.0
HUGE_FACTOR = 8.0
REPEATS_SHARE = 0.01
SHOWN_CLASSES = 12


def _hashes(images: torch.Tensor) -> list[bytes]:
    """A 128-bit BLAKE2b digest of each image's pixels."""
    rows = images.contiguous().numpy().reshape(len(images), int(np.prod(images.shape[1:])))
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows]


def _shorter_sides(data: Dataset) -> np.ndarray:
    """Each image's shorter side at source, train then test."""
    sizes = data.notes.get("source_sizes")
    if isinstance(sizes, dict):
        return np.concatenate([np.asarray(sizes["train"]), np.asarray(sizes["test"])]).reshape(-1, 2).min(axis=1)
    native = data.notes.get("native_size")
    side = native if isinstance(native, int) else data.resolution
    return np.full(len(data.x_train) + len(data.x_test), side, dtype=np.int64)


def _counts(counts: tuple[int, ...]) -> str:
    if len(counts) <= SHOWN_CLASSES:
        return ", ".join(str(c) for c in counts)
    return f"min {min(counts)}, median {int(np.median(counts))}, max {max(counts)}"


@dataclass(frozen=True)
class Findings:
    """What stops a run (each a phrase with its numbers) and what it is warned about."""

    refusals: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class DataHealth:
    """The counts a data set is judged by."""

    name: str
    channels: int
    side: int
    train_per_class: tuple[int, ...]
    test_per_class: tuple[int, ...]
    shorter_min: int
    shorter_median: int
    shorter_max: int
    enlarged: int
    huge: int
    repeats_in_train: int
    test_in_train: int

    @property
    def n_train(self) -> int:
        return sum(self.train_per_class)

    @property
    def n_test(self) -> int:
        return sum(self.test_per_class)

    @property
    def classes_in_train(self) -> int:
        return sum(1 for c in self.train_per_class if c)

    def summary(self) -> str:
        """A few lines for a person: sizes, classes, sides, duplicates."""
        return "\n".join([
            f"{self.name}: {self.n_train + self.n_test} images ({self.n_train} train, {self.n_test} test), "
            f"{self.channels} channel(s), loaded at {self.side} px",
            f"classes: {len(self.train_per_class)}; train per class {_counts(self.train_per_class)}; "
            f"test per class {_counts(self.test_per_class)}",
            f"shorter side at source: min {self.shorter_min}, median {self.shorter_median}, max {self.shorter_max} px; "
            f"{self.enlarged} enlarged more than {ENLARGED_FACTOR:g}x, {self.huge} over {HUGE_FACTOR:g}x the median",
            f"exact duplicates: {self.repeats_in_train} training image(s) repeat another, "
            f"{self.test_in_train} test image(s) equal a training image",
        ])

    def _short(self, train: int, test: int, train_reason: str, test_reason: str) -> str:
        """The splits under ``train`` / ``test`` images, each with why that is too few ('' if none)."""
        parts = []
        if self.n_train < train:
            parts.append(f"{self.n_train} training image(s), fewer than {train} ({train_reason})")
        if self.n_test < test:
            parts.append(f"{self.n_test} test image(s), fewer than {test} ({test_reason})")
        return " and ".join(parts)

    def findings(self, needs_classes: bool, allow_small: bool) -> Findings:
        """Refusals and warnings by the rules of the module docstring."""
        refusals, warnings = [], []
        floor = self._short(FLOOR_TRAIN, FLOOR_TEST, "the null check's validation slices would be empty",
                            "precision/recall's 5 nearest neighbours need 6")
        small = self._short(MIN_TRAIN, MIN_TEST, "the null check's threshold would rest on under 5 images a side",
                            "the null check's test halves would hold under 10 images each")
        if floor:
            refusals.append(f"{floor}; no run can use so few")
        elif small and allow_small:
            warnings.append(f"{self.name}: {small}; running anyway (--allow-small), expect noisy numbers")
        elif small:
            refusals.append(f"{small} (pass --allow-small to run anyway)")
        if needs_classes and self.classes_in_train < 2:
            refusals.append(f"{self.classes_in_train} class(es) with training images where the run needs 2 or "
                            "more: the classifier extractor learns its features from the labels, so every set of "
                            "images would score alike; add class sub-folders or use --extractor inception")
        if self.side < MIN_SIDE or self.shorter_max < MIN_SIDE:
            refusals.append(f"images loaded at {self.side} px from shorter sides of {self.shorter_min} to "
                            f"{self.shorter_max} px; a run needs images of at least {MIN_SIDE} px")
        total = self.n_train + self.n_test
        if self.enlarged * 2 > total:
            warnings.append(f"{self.name}: {self.enlarged} of {total} images are enlarged more than "
                            f"{ENLARGED_FACTOR:g}x (median shorter side {self.shorter_median} px, loaded at "
                            f"{self.side} px): generators would learn the interpolation's blur")
        if self.huge:
            warnings.append(f"{self.name}: {self.huge} image(s) have a shorter side over {HUGE_FACTOR:g}x the median "
                            f"(up to {self.shorter_max} px against {self.shorter_median} px) and are shrunk that much; "
                            "check that they belong to the set")
        if self.test_in_train:
            warnings.append(f"{self.name}: {self.test_in_train} of {self.n_test} test images are exact copies of "
                            "training images; quality metrics and detectors score them as unseen")
        if self.repeats_in_train >= REPEATS_SHARE * self.n_train and self.repeats_in_train:
            warnings.append(f"{self.name}: {self.repeats_in_train} of {self.n_train} training images repeat another "
                            "training image exactly")
        empty = [str(label) for label, count in enumerate(self.train_per_class) if not count]
        if empty and self.classes_in_train:
            shown = ", ".join(empty[:SHOWN_CLASSES]) + (", ..." if len(empty) > SHOWN_CLASSES else "")
            warnings.append(f"{self.name}: {len(empty)} class(es) have no training images (labels {shown})")
        return Findings(tuple(refusals), tuple(warnings))


def inspect_dataset(data: Dataset) -> DataHealth:
    """The counts of an image data set, as :class:`DataHealth`."""
    shorter = _shorter_sides(data)
    median = float(np.median(shorter))
    train_hashes, test_hashes = _hashes(data.x_train), _hashes(data.x_test)
    known = set(train_hashes)
    return DataHealth(
        name=data.name,
        channels=data.channels,
        side=data.resolution,
        train_per_class=tuple(int(c) for c in torch.bincount(data.y_train, minlength=data.num_classes)),
        test_per_class=tuple(int(c) for c in torch.bincount(data.y_test, minlength=data.num_classes)),
        shorter_min=int(shorter.min()),
        shorter_median=int(median),
        shorter_max=int(shorter.max()),
        enlarged=int((data.resolution > ENLARGED_FACTOR * shorter).sum()),
        huge=int((shorter > HUGE_FACTOR * median).sum()),
        repeats_in_train=len(train_hashes) - len(known),
        test_in_train=sum(h in known for h in test_hashes),
    )


def refusal(name: str, findings: Findings) -> str:
    """The one line that refuses a data set: its name, then every reason with its numbers."""
    return f"{name}: " + "; ".join(findings.refusals)


def needs_classes(extractor: str) -> bool:
    """Whether a run scored with ``extractor`` needs two classes or more: the classifier learns from labels."""
    return extractor == "classifier"


def enforce(health: DataHealth, needs_classes: bool, allow_small: bool = False,
            warn: Callable[[str], None] | None = None) -> None:
    """Refuse an unusable data set with one line; pass each warning to ``warn``."""
    findings = health.findings(needs_classes, allow_small)
    if findings.refusals:
        raise UserError(refusal(health.name, findings))
    if warn:
        for message in findings.warnings:
            warn(message)


def check_dataset(data: Dataset, needs_classes: bool, allow_small: bool = False,
                  warn: Callable[[str], None] | None = None) -> DataHealth:
    """:func:`inspect_dataset`, then :func:`enforce`."""
    health = inspect_dataset(data)
    enforce(health, needs_classes, allow_small, warn)
    return health
