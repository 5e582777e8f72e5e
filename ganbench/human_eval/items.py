"""Which images a rater sees, and in which order.

Half of the items are real *test* images and half are fresh fakes, split evenly over the chosen
generators: the balanced real/fake design of HYPE (Zhou et al., "HYPE: A Benchmark for Human eYe
Perceptual Evaluation of Generative Models", NeurIPS 2019). The fakes are sampled from the
trained checkpoints with seeds reserved for human evaluation, so no detector or metric has seen
them. The image set depends only on the run (data set, preset, seed) and the options, so every
rater of a run rates the same images; the order depends on the seed and the rater, so a rater
who resumes sees the same sequence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from ganbench.errors import UserError
from ganbench.imageio import png_bytes
from ganbench.context import RunContext
from ganbench.runtime import derive_seed, preserved_rng, torch_generator
from ganbench.units import human_eval_set_key

REAL = "real"
FAKE = "fake"
LABELS = (REAL, FAKE)


@dataclass(frozen=True)
class Item:
    """One image to rate; ``truth`` and ``generator`` stay on the server."""

    position: int
    truth: str
    generator: str | None
    index: int
    png: bytes

    @property
    def name(self) -> str:
        """Where the image came from: ``real/<test index>`` or ``fake/<generator>/<sample index>``."""
        return f"{REAL}/{self.index}" if self.truth == REAL else f"{FAKE}/{self.generator}/{self.index}"

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.png).hexdigest()[:16]


@dataclass(frozen=True)
class ItemSet:
    """The ordered items of one rater; ``key`` identifies the image set (the same for every rater)."""

    key: str
    items: tuple[Item, ...]
    generators: tuple[str, ...]
    resolution: int

    def __len__(self) -> int:
        return len(self.items)


def split_counts(n: int, generators: list[str] | tuple[str, ...]) -> tuple[int, dict[str, int]]:
    """``n // 2`` real images and ``n // 2`` fakes, the fakes spread evenly over ``generators``.

    Where the fakes do not divide evenly, the first generators (in the given order) get one more.
    """
    if not generators:
        raise UserError("no generator to rate")
    if n < 2 or n % 2:
        raise UserError(f"--n must be a positive even number (half real, half fake), got {n}")
    n_fake = n // 2
    if n_fake < len(generators):
        raise UserError(f"--n {n} gives {n_fake} fakes, fewer than the {len(generators)} generators to rate; "
                        f"use --n {2 * len(generators)} or more")
    share, extra = divmod(n_fake, len(generators))
    return n - n_fake, {g: share + (i < extra) for i, g in enumerate(generators)}


def order_seed(seed: int, rater: str) -> int:
    return derive_seed(seed, "human-eval", "order", rater)


def build_item_set(context: RunContext, generators: list[str], n: int, rater: str) -> ItemSet:
    """Real test images and fresh fakes of ``generators`` (trained in ``context``'s run), shuffled for ``rater``."""
    data = context.data
    if data.kind != "image":
        raise UserError(f"human evaluation needs an image data set; {context.config.dataset!r} holds points")
    names = tuple(sorted(dict.fromkeys(generators)))
    n_real, n_fakes = split_counts(n, names)
    if n_real > len(data.x_test):
        raise UserError(f"--n {n} asks for {n_real} real images but the test split holds {len(data.x_test)}")
    models = {name: context.trained_model(name) for name in names}
    seed = context.config.seed
    pool: list[tuple[str, str | None, int, torch.Tensor]] = []
    chosen = torch.randperm(len(data.x_test), generator=torch_generator(derive_seed(seed, "human-eval", REAL)))
    for index in chosen[:n_real].sort().values.tolist():
        pool.append((REAL, None, index, data.x_test[index]))
    for name, model in models.items():
        with preserved_rng():
            fakes = model.sample(n_fakes[name], seed=derive_seed(seed, "human-eval", FAKE, name))
        pool.extend((FAKE, name, i, image) for i, image in enumerate(fakes))
    order = torch.randperm(len(pool), generator=torch_generator(order_seed(seed, rater))).tolist()
    items = tuple(Item(position, pool[j][0], pool[j][1], pool[j][2], png_bytes(pool[j][3]))
                  for position, j in enumerate(order))
    return ItemSet(human_eval_set_key(context.scope, names, n), items, names, data.resolution)
