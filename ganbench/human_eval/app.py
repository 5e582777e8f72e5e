"""``ganbench human-eval``: find the trained run, build the rater's images, serve, write records.

The protocol is HYPE's (Zhou et al., "HYPE: A Benchmark for Human eYe Perceptual Evaluation of
Generative Models", NeurIPS 2019): a balanced, blind, one-image-at-a-time real-or-fake task whose
error rate on a generator's fakes is that generator's fooled rate. Records are written when the
rater finishes and when the command is stopped (Ctrl-C), from the vote log alone.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console

from ganbench.errors import UserError
from ganbench.human_eval.items import build_item_set, split_counts
from ganbench.human_eval.scoring import human_records
from ganbench.human_eval.server import check_port, serve
from ganbench.human_eval.session import RatingSession
from ganbench.human_eval.votes import VoteLog, votes_path
from ganbench.planning import SEED_LIMIT
from ganbench.presets import default_preset, get_preset
from ganbench.context import RunConfig, RunContext
from ganbench.store import RunStore

MAX_RATER_LENGTH = 64


@dataclass
class HumanEvalOutcome:
    """What a session left behind: progress, the records written and their headline numbers."""

    rater: str
    answered: int
    total: int
    votes_file: Path
    records: list[Path] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    fooled_rate: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.answered == self.total


def check_rater(rater: str) -> str:
    """A rater name: 1 to 64 printable characters (any script), surrounding spaces removed."""
    name = rater.strip()
    if not name or len(name) > MAX_RATER_LENGTH:
        raise UserError(f"--rater must have 1 to {MAX_RATER_LENGTH} characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise UserError("--rater must not contain control characters")
    return name


def resolve_run(out: Path, dataset: str, preset: str | None, seed: int, generators: list[str] | None,
                resolution: int | None = None, allow_small: bool = False) -> tuple[RunConfig, list[str]]:
    """The run configuration of ``out`` and the generators to rate.

    Without ``preset``, the one preset the run's generators were trained with is used; without
    ``generators``, every generator trained in the run for that data set, preset and seed. With
    ``allow_small`` a data set under the size a run needs is rated with a warning, as ``run
    --allow-small`` trains on it (``ganbench.data_health``).
    """
    if preset is not None:
        get_preset(preset)
    if not 0 <= seed < SEED_LIMIT:
        raise UserError(f"--seed must be in [0, 2^32) (got {seed})")
    if not (out / "records").is_dir():
        raise UserError(f"no run in {out}: train generators first (`ganbench run --out {out}` "
                        f"or `ganbench train GENERATOR --out {out}`)")
    trained = [r for r in RunStore(out).records() if r.kind == "train" and r.ok and r.dataset == dataset
               and r.seed == seed]
    if preset is None:
        presets = sorted({r.preset for r in trained})
        if len(presets) > 1:
            raise UserError(f"{out} holds generators trained with presets {', '.join(presets)}; choose one with --preset")
        preset = presets[0] if presets else default_preset("cpu")
    if generators is None:
        generators = sorted({r.generator for r in trained if r.preset == preset})
        if not generators:
            raise UserError(f"no trained generator in {out} for data set {dataset!r}, preset {preset!r}, seed {seed} "
                            f"(run `ganbench train GENERATOR --out {out}` first)")
    chosen = get_preset(preset)
    if resolution is not None:
        chosen = chosen.with_overrides(resolution=resolution)
    config = RunConfig(suite=",".join(generators), preset=chosen, dataset=dataset, out=out,
                       device=torch.device("cpu"), seed=seed, quiet=True, allow_small=allow_small)
    return config, generators


def run_human_eval(config: RunConfig, generators: list[str], n: int, rater: str, port: int,
                   on_ready: Callable[[str, int, int], None] | None = None,
                   console: Console | None = None) -> HumanEvalOutcome:
    """Rate ``n`` images of ``config``'s run as ``rater`` in a browser; records are written at the end.

    ``on_ready(url, answered, total)`` is called once the page is being served. A rater whose
    votes are all in already is not served; their records are (re)written. Warnings about the
    data set go to ``console`` (none without it).
    """
    rater = check_rater(rater)
    check_port(port)
    split_counts(n, generators)
    context = RunContext(config, console or Console(stderr=True, quiet=True))
    item_set = build_item_set(context, generators, n, rater)
    path = votes_path(context.store.root, rater)
    session = RatingSession(item_set, VoteLog(path, rater, item_set))
    if not session.complete:
        serve(session, rater, port,
              None if on_ready is None else lambda url: on_ready(url, session.answered, session.total))
    votes = session.close()
    outcome = HumanEvalOutcome(rater, len(votes), len(item_set), path)
    for record, label in human_records(context, item_set, rater, votes, path):
        outcome.records.append(context.store.write_record(record, label))
        if record.kind == "human":
            outcome.metrics = record.metrics
        else:
            outcome.fooled_rate[str(record.generator)] = record.metrics["fooled_rate"]
    return outcome
