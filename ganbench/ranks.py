"""Ranks other than 0 of a ``torchrun`` job: they train in step with rank 0.

Rank 0 runs the units and tells the other ranks, through :meth:`World.share`, when it starts a
training and when it is done (``TRAIN_SIGNAL`` and ``DONE_SIGNAL`` of ``generators.distributed``).
The other ranks train on the very inputs rank 0 does (``generation.training_inputs``: the model canvas, a streamed set's
cache file, an image-to-image task view and its content network, read from the shared cache);
they never read or write records or checkpoints (rank 0 shares a resumed checkpoint with them).
"""

from __future__ import annotations

from ganbench.context import RunConfig, build_generator, content_network, run_data, training_config
from ganbench.generation import training_inputs
from ganbench.generators.distributed import TRAIN_SIGNAL, World
from ganbench.generators.trainer import train
from ganbench.runtime import configure_backends
from ganbench.store import RunStore


def follow_training(config: RunConfig, name: str, world: World) -> None:
    """Train ``name`` whenever rank 0 trains it, until rank 0 says it is done."""
    data, spec = run_data(config)
    configure_backends(config.device)
    cache_dir = RunStore(config.out).cache_dir
    while world.share(None) == TRAIN_SIGNAL:
        model = build_generator(config, spec, name)
        x, y, task = training_inputs(model, data, lambda: content_network(config, data, spec, cache_dir).model)
        train(model, x, y, training_config(config), **task)
