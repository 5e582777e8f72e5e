"""Records: one typed object per finished unit, one JSON file on disk.

Every record shares the fields of :class:`Record`; each unit kind has its own subclass, chosen by
``kind`` when a file is read (:func:`record_from_dict`), whose properties name what that kind
keeps in ``metrics`` and ``info``. The JSON layout on disk is the dataclass's fields, sorted,
plus a checksum the store adds; ``ganbench_version`` says which version wrote it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ganbench import __version__

STATUSES = ("ok", "failed", "diverged", "skipped", "truncated")


def plain_number(value: Any) -> float | int | None:
    """A JSON-safe number: ints stay ints, non-finite floats become None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return int(value)
    value = float(value)
    return value if np.isfinite(value) else None


@dataclass
class Record:
    """One finished unit. ``metrics`` holds numbers under the fixed keys listed in README."""

    KIND: ClassVar[str] = ""

    kind: str
    key: str
    dataset: str
    preset: str
    seed: int
    status: str = "ok"
    generator: str | None = None
    train_generator: str | None = None
    detector: str | None = None
    perturbation: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    ganbench_version: str = __version__
    created: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def finished(self) -> bool:
        """Whether later runs may reuse it (a divergence is a result too)."""
        return self.status in ("ok", "diverged")

    def to_dict(self) -> dict[str, Any]:
        """The JSON body; ``created`` is stamped now unless the record was read back."""
        body = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        body["metrics"] = {k: plain_number(v) for k, v in self.metrics.items()}
        body["created"] = self.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        return body


RECORD_KINDS: dict[str, type[Record]] = {}


def record_kind(cls: type[Record]) -> type[Record]:
    """Register a record class under its ``KIND``."""
    RECORD_KINDS[cls.KIND] = cls
    return cls


def record_from_dict(body: dict[str, Any]) -> Record:
    """The typed record of a JSON body (unknown kinds read as a plain :class:`Record`)."""
    cls = RECORD_KINDS.get(body.get("kind", ""), Record)
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in body.items() if k in names})


def new_record(kind: str, key: str, **fields: Any) -> Record:
    """A fresh record of ``kind``, typed by its kind."""
    return RECORD_KINDS.get(kind, Record)(kind=kind, key=key, **fields)


@record_kind
@dataclass
class TrainRecord(Record):
    """A training unit: ``metrics`` steps, params, train_seconds; ``info`` the checkpoint and losses."""

    KIND: ClassVar[str] = "train"

    @property
    def checkpoint(self) -> str:
        """The checkpoint's path inside the run folder."""
        return str(self.info["checkpoint"])

    @property
    def steps(self) -> int:
        return int(self.metrics.get("steps") or 0)


@record_kind
@dataclass
class SampleRecord(Record):
    """A sample unit: ``info`` the fakes file and sample grid; ``metrics`` speed and task measures."""

    KIND: ClassVar[str] = "sample"

    @property
    def fakes_file(self) -> str:
        """The ``.npz`` of the three fake sets, inside the run folder."""
        return str(self.info["fakes"])

    @property
    def task_measures(self) -> dict[str, float]:
        """The image-to-image task measures it recorded (none for noise-to-image variants)."""
        return {k: self.metrics[k] for k in self.info.get("task_measures", ())}  # type: ignore[misc]


@record_kind
@dataclass
class GenerationRecord(Record):
    """Quality metrics of a generator's ``eval`` fakes; ``protocol`` the extractor and counts."""

    KIND: ClassVar[str] = "generation"


@record_kind
@dataclass
class DetectionRecord(Record):
    """One evaluation of a detector: ``metrics`` AUC, AP, accuracies, EER...; ``info`` the ROC."""

    KIND: ClassVar[str] = "detection"


@record_kind
@dataclass
class NullCheckRecord(Record):
    """A detector fitted and tested on real against real images, with the AUC's interval."""

    KIND: ClassVar[str] = "null_check"

    @property
    def passed(self) -> bool:
        return bool(self.metrics.get("null_pass"))


@record_kind
@dataclass
class HumanRecord(Record):
    """One rater over a whole image set."""

    KIND: ClassVar[str] = "human"


@record_kind
@dataclass
class ExternalFakesRecord(Record):
    """Stands for a ``--fakes`` set among the test generators; never written to disk."""

    KIND: ClassVar[str] = "external"


WALL_CLOCK_FIELDS = ("created", "checksum", "seconds")


def without_wall_clock(value: Any) -> Any:
    """A record body less the fields no seed fixes: times, rates per second, the checksum over them
    (what two runs of one command on one thread count must agree on)."""
    if isinstance(value, dict):
        return {k: without_wall_clock(v) for k, v in value.items()
                if k not in WALL_CLOCK_FIELDS and "second" not in k}
    if isinstance(value, list):
        return [without_wall_clock(v) for v in value]
    return value
