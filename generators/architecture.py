"""Architecture schedules: what a variant's networks are at one image size, stated as data.

Every image variant states, per network, the path of feature maps from its input to its output
(:class:`Schedule`) in ``architecture(resolution, config)`` (a class method of the variant), and
builds its networks from the same numbers. Its module docstring gives the paper's schedule that
the statement follows. ``tests/test_resolution_scaling.py`` reads the built modules back and
compares them with the statement at 64 and 128 px; ``benchmarks/resolution_scaling.py`` prints
what every schedule costs from 32 to 256 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """One network at one image size.

    ``sides`` and ``channels`` follow the feature maps from the input to the output: one entry per
    stretch of consecutive layers at one side, with the widest channel count there (an image
    input or output counts as a stretch; a U-Net visits a side on the way down and again on the
    way up). ``dense`` lists the widths of the fully connected layers in order (maxout units
    counted once, not per piece). ``residual_blocks`` counts residual blocks and ``attention``
    the sides at which self-attention runs, in order.
    """

    sides: tuple[int, ...]
    channels: tuple[int, ...]
    residual_blocks: int = 0
    attention: tuple[int, ...] = ()
    dense: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.sides) != len(self.channels):
            raise ValueError(f"{len(self.sides)} sides but {len(self.channels)} channel counts")

    @property
    def upsampling(self) -> int:
        """Stages that double the side."""
        return sum(b == 2 * a for a, b in zip(self.sides, self.sides[1:]))

    @property
    def downsampling(self) -> int:
        """Stages that halve the side."""
        return sum(2 * b == a for a, b in zip(self.sides, self.sides[1:]))


Architecture = dict[str, Schedule]


def from_path(path: list[tuple[int, int]], residual_blocks: int = 0, attention: tuple[int, ...] = (),
              dense: tuple[int, ...] = ()) -> Schedule:
    """The schedule of a network whose layers produce, in order, maps of the given (side, channels)."""
    sides: list[int] = []
    channels: list[int] = []
    for side, width in path:
        if sides and sides[-1] == side:
            channels[-1] = max(channels[-1], width)
        else:
            sides.append(side)
            channels.append(width)
    return Schedule(tuple(sides), tuple(channels), residual_blocks, attention, dense)


def doublings(start: int, end: int) -> tuple[int, ...]:
    """``start, 2 start, ..., end``: the sides of a network that doubles its feature maps."""
    steps = int(math.log2(end // start)) if end >= start else -1
    if steps < 0 or start * 2**steps != end:
        raise ValueError(f"{end} is not {start} times a power of two")
    return tuple(start * 2**i for i in range(steps + 1))


def capped_doubling(width: int, stages: int, cap: int) -> list[int]:
    """Channels of ``stages`` stages that start at ``width`` and double at each, never above ``cap``."""
    return [min(width * 2**i, cap) for i in range(stages)]
