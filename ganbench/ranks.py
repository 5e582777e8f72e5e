"""Ranks other than 0 of a ``torchrun`` job: they train in step with rank 0.

Rank 0 runs the units and tells the other ranks, through :meth:`World.share`, when it starts a
training (:data:`TRAIN_SIGNAL`) and when it is done (:data:`DONE_SIGNAL`); the other ranks never
read or write the run store (rank 0 shares a resumed checkpoint with them).
"""

from __future__ import annotations

from ganbench.context import RunConfig, build_generator, run_data, training_config
from ganbench.generators.distributed import World
from ganbench.generators.trainer import train
from ganbench.runtime import configure_backends

TRAIN_SIGNAL, DONE_SIGNAL = "train", "done"


def follow_training(config: RunConfig, name: str, world: World) -> None:
    """Train ``name`` whenever rank 0 trains it, until rank 0 says it is done."""
    data, spec = run_data(config)
    configure_backends(config.device)
    while world.share(None) == TRAIN_SIGNAL:
        train(build_generator(config, spec, name), data.x_train, data.y_train, training_config(config))
