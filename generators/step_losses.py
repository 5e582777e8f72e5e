"""A training step's losses, kept on the device and read in batches.

Reading the value of a CUDA tensor (``float(loss)``) makes the host wait until every queued kernel
has run; done at every step it drains the GPU's queue once a step. :class:`LossReader` keeps each
step's loss tensors as the variant returned them and reads every step not read yet at once, with
one stacked transfer per accelerator (values on the CPU cost no wait and are read one by one), when
the trainer asks (every few steps) or when a value is first looked at. The values are exactly those
``float(loss)`` gives: stacking promotes bf16, fp16 and fp32 losses to a common dtype that holds
them exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import torch


class StepLosses(Mapping[str, float]):
    """One step's losses: a read-only mapping of names to floats, read from the device on first look.

    Looking at a value (``losses["loss_d"]``, ``dict(losses)``, ``losses.items()``) reads every step
    its reader has not read yet, in one transfer; the names (``list(losses)``) need no read.
    """

    def __init__(self, step: int, tensors: Mapping[str, torch.Tensor | float], reader: LossReader) -> None:
        self.step = step
        self._tensors = dict(tensors)
        self._values: dict[str, float] | None = None
        self._reader = reader

    @property
    def is_read(self) -> bool:
        """Whether the values have come to the host."""
        return self._values is not None

    def values_read(self) -> dict[str, float]:
        """The values as floats (reading them first if needed)."""
        if self._values is None:
            self._reader.read()
        assert self._values is not None
        return self._values

    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.values_read().values())

    def __getitem__(self, name: str) -> float:
        return self.values_read()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def __repr__(self) -> str:
        shown = self._values if self._values is not None else "unread"
        return f"StepLosses(step={self.step}, {shown})"


class LossReader:
    """The losses of the steps since the last read, waiting on their devices."""

    def __init__(self) -> None:
        self._unread: list[StepLosses] = []

    def add(self, step: int, tensors: Mapping[str, torch.Tensor | float]) -> StepLosses:
        """Keep ``step``'s losses (detached, not read)."""
        kept = {name: value.detach() if isinstance(value, torch.Tensor) else value for name, value in tensors.items()}
        entry = StepLosses(step, kept, self)
        self._unread.append(entry)
        return entry

    def read(self) -> None:
        """Bring the values of every unread step to the host: one stack and copy per accelerator
        (CPU tensors are read one by one, which costs no wait)."""
        entries, self._unread = self._unread, []
        by_device: dict[torch.device, list[torch.Tensor]] = {}
        for entry in entries:
            for value in entry._tensors.values():
                if _on_accelerator(value):
                    by_device.setdefault(value.device, []).append(value.reshape(()))
        read = {device: iter(torch.stack(tensors).tolist()) for device, tensors in by_device.items()}
        for entry in entries:
            entry._values = {name: float(next(read[value.device]) if _on_accelerator(value) else value)
                             for name, value in entry._tensors.items()}


def _on_accelerator(value: torch.Tensor | float) -> bool:
    return isinstance(value, torch.Tensor) and not value.is_cpu
