"""Training batches read from a streamed data set's cache file through a torch ``DataLoader``.

The order of the batches is the order the in-memory trainer draws (``DeviceBatches`` in
``ganbench.generators.trainer``): a permutation of the train split from a ``torch.Generator``
seeded with the run seed, cut into batches of ``batch_size``, a fresh permutation when fewer than
``batch_size`` images are left. :class:`BatchOrder` draws it in this process; the ``DataLoader``
only reads the rows it is given (``batch_size=None``, one index batch per item) and hands the
batches back in that order whatever its number of workers, so a seed gives the same batches
streamed or in memory, with 0 or 8 workers. Each worker maps the file itself; nothing but paths
and index tensors crosses between processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset as TorchDataset

from ganbench.data import CacheFile
from ganbench.geometry import Geometry


class BatchOrder:
    """Which train images each batch holds: shuffled epochs from a seeded generator (the
    in-memory trainer's order), with a state that checkpoints and resumes it."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size = n, min(batch_size, n)
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.order = torch.empty(0, dtype=torch.long)
        self.position = 0

    def next_index(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.order):
            self.order = torch.randperm(self.n, generator=self.generator)
            self.position = 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": self.order.clone(), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].cpu()
        self.position = int(state["position"])

    def copy(self) -> BatchOrder:
        twin = BatchOrder(self.n, self.batch_size, 0)
        twin.load_state_dict(self.state_dict())
        return twin

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            yield self.next_index()


@dataclass(frozen=True)
class StreamedImages:
    """The train split of a streamed data set, as the trainer receives it: its cache file and the
    geometry that puts each batch on the model canvas."""

    cache: CacheFile
    geometry: Geometry

    def __len__(self) -> int:
        return self.cache.n_train


class CacheRows(TorchDataset):
    """Item = a tensor of train-split rows -> (those rows, their images on the model canvas)."""

    def __init__(self, images: StreamedImages) -> None:
        self.images = images
        self.rows: np.memmap | None = None

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.rows is None:
            cache = self.images.cache
            self.rows = np.memmap(cache.path, np.uint8, "r", shape=cache.shape)
        batch = torch.from_numpy(self.rows[index.numpy()])
        return index, self.images.geometry.to_model(batch)

    def __len__(self) -> int:
        return len(self.images)


def batch_loader(images: StreamedImages, order: BatchOrder, workers: int, pin_memory: bool) -> DataLoader:
    """A ``DataLoader`` that reads the batches ``order`` draws from now on, in that order. It gets
    a generator of its own: the seed it draws for its workers must not advance the global one,
    which draws the training's noise."""
    return DataLoader(CacheRows(images), batch_size=None, sampler=order.copy(), num_workers=workers,
                      pin_memory=pin_memory, prefetch_factor=4 if workers else None,
                      generator=torch.Generator().manual_seed(0))
