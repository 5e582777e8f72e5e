"""What a run does: the suite's generators and detectors for its data set, and shards of the work.

``shard=(i, n)`` runs the train, sample and generation units of every n-th generator (sorted by
name, starting at the i-th); the detection units need every generator's fakes, so they run in
whichever shard finds all sample records written when its own generators are done (the last
shard to finish, or any shard run again later). The per-unit locks keep two shards from
computing one unit twice.
"""

from __future__ import annotations

import dataclasses

from ganbench.context import RunContext
from ganbench.detectors.base import check_arguments
from ganbench.detectors.plugins import DetectorSpec, resolve_detector
from ganbench.errors import UserError
from ganbench.records import Record
from ganbench.suites import resolve_suite
from ganbench.units import sample_unit, train_unit

ONE_CLASS_BASELINE = "one-class"


def suite_plan(context: RunContext) -> tuple[list[str], list[DetectorSpec]]:
    """The suite's generators that support the run's data set, and the detectors to run: those asked
    for (with the run's ``--detector-arg`` constructor arguments) and, on every table, the one-class
    baseline (a detector that never sees a fake)."""
    config = context.config
    generators, detectors = resolve_suite(config.suite)
    generators = [g for g in generators if context.supports(g)]
    if not generators:
        raise UserError(f"no generator of suite {config.suite!r} supports data set {config.dataset!r}")
    if config.fakes and context.data.kind != "image":
        raise UserError(f"--fakes needs an image data set, not {config.dataset!r}")
    names = list(config.detectors or detectors)
    specs = [resolve_detector(d) for d in names]
    if config.detector_arguments:
        specs = [dataclasses.replace(spec, arguments=tuple(check_arguments(spec.cls, config.detector_arguments).items()))
                 for spec in specs]
    if ONE_CLASS_BASELINE not in names:
        specs.append(resolve_detector(ONE_CLASS_BASELINE))
    return generators, specs


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) -> ``(i, n)``."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected i/n, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise UserError(f"--shard {text!r}: i must be between 1 and n")
    return i, n


SEED_LIMIT = 2**32


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> ``(0, 1, 2)``; a single number ``"3"`` means three seeds, ``(0, 1, 2)``."""
    try:
        numbers = [int(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--seeds {text!r}: expected a count (3) or a comma list (0,1,2)") from None
    seeds = tuple(range(numbers[0])) if len(numbers) == 1 else tuple(numbers)
    if not seeds:
        raise UserError(f"--seeds {text!r}: asks for no seed")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {text!r}: a seed is listed twice")
    if not all(0 <= s < SEED_LIMIT for s in seeds):
        raise UserError(f"--seeds {text!r}: every seed must be in [0, 2^32)")
    return seeds


def shard_of(generators: list[str], shard: tuple[int, int] | None) -> list[str]:
    """The generators of shard ``(i, n)``: round-robin over the sorted names (all of them without a shard)."""
    if shard is None:
        return generators
    i, n = shard
    mine = set(sorted(generators)[i - 1 :: n])
    return [g for g in generators if g in mine]


def written_samples(context: RunContext, generators: list[str]) -> dict[str, Record] | None:
    """The sample record of every generator (any status), or None while one is still missing."""
    found = {}
    for name in generators:
        unit = sample_unit(context.scope, name, train_unit(context.scope, name).key)
        record = context.store.find_record(unit.kind, unit.label, unit.key)
        if record is None:
            return None
        found[name] = record
    return found
