"""A rater's votes as numbers: accuracies, the fooled rate and Wilson 95% intervals, as records.

Every rate comes with the score interval of Wilson ("Probable inference, the law of succession,
and statistical inference", Journal of the American Statistical Association, 1927), which stays
inside [0, 1] and keeps its coverage for the few dozen votes one rater casts, where the normal
approximation does not. The fooled rate (the share of a generator's fakes voted real) is the
error rate on fakes of HYPE (Zhou et al., "HYPE: A Benchmark for Human eYe Perceptual Evaluation
of Generative Models", NeurIPS 2019).

Records written for a rater ``R``:

* per generator ``G`` rated: kind ``detection``, detector ``human:R``, generator ``G``,
  train_generator ``human``, perturbation ``none``; scored on all of R's real votes and R's votes
  on G's fakes (the real votes are shared by R's generator rows);
* one per rater: kind ``human``, detector ``human:R``, generator None; scored on all of R's votes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganbench.human_eval.items import FAKE, REAL, ItemSet
from ganbench.context import RunContext
from ganbench.records import Record
from ganbench.units import human_key

Z95 = 1.959963984540054
RATES = ("acc", "real_acc", "fake_acc", "fooled_rate")


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; ``(nan, nan)`` without trials."""
    if trials == 0:
        return math.nan, math.nan
    p = successes / trials
    shrink = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / shrink
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / shrink
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(name: str, successes: int, trials: int) -> dict[str, float]:
    low, high = wilson_interval(successes, trials)
    return {name: successes / trials if trials else math.nan, f"{name}_ci_low": low, f"{name}_ci_high": high}


def vote_metrics(votes: Sequence[dict[str, Any]]) -> dict[str, float]:
    """acc, real_acc, fake_acc, balanced_acc, fooled_rate (with Wilson CIs) and the counts they rest on."""
    real = [v for v in votes if v["truth"] == REAL]
    fake = [v for v in votes if v["truth"] == FAKE]
    real_correct = sum(v["vote"] == REAL for v in real)
    fooled = sum(v["vote"] == REAL for v in fake)
    fake_correct = len(fake) - fooled
    metrics = {
        **_rate("acc", real_correct + fake_correct, len(votes)),
        **_rate("real_acc", real_correct, len(real)),
        **_rate("fake_acc", fake_correct, len(fake)),
        **_rate("fooled_rate", fooled, len(fake)),
    }
    metrics["balanced_acc"] = (metrics["real_acc"] + metrics["fake_acc"]) / 2
    metrics.update(votes=len(votes), real_votes=len(real), fake_votes=len(fake),
                   correct=real_correct + fake_correct, fooled=fooled)
    return metrics


def human_records(context: RunContext, item_set: ItemSet, rater: str, votes: Sequence[dict[str, Any]],
                  votes_file: Path) -> list[tuple[Record, str]]:
    """The rater's records (and their file labels): one per generator with votes, one for the rater."""
    real = [v for v in votes if v["truth"] == REAL]
    detector = f"human:{rater}"
    shared = {"real_split": "test", "fakes": "fresh samples, seeds reserved for human evaluation",
              "decision": "the rater's vote", "interval": "Wilson 95%", "items": len(item_set),
              "answered": len(votes)}
    info = {"rater": rater, "set": item_set.key, "complete": len(votes) == len(item_set),
            "votes_file": str(votes_file.relative_to(context.store.root))}
    out: list[tuple[Record, str]] = []
    for generator in item_set.generators:
        fake = [v for v in votes if v["generator"] == generator]
        if not fake:
            continue
        key = human_key(item_set.key, rater, generator)
        record = context.scope.new_record("detection", key, generator=generator, train_generator="human",
                                   detector=detector, perturbation="none")
        record.metrics = vote_metrics(real + fake)
        record.seconds = round(sum(v["seconds"] or 0.0 for v in real + fake), 3)
        record.protocol = {**shared, "n_real": len(real), "n_fake": len(fake)}
        record.info = dict(info)
        out.append((record, f"human-{rater}-{generator}"))
    if votes:
        key = human_key(item_set.key, rater)
        record = context.scope.new_record("human", key, train_generator="human", detector=detector, perturbation="none")
        record.metrics = vote_metrics(votes)
        record.seconds = round(sum(v["seconds"] or 0.0 for v in votes), 3)
        record.protocol = {**shared, "n_real": len(real), "n_fake": len(votes) - len(real),
                           "generators": list(item_set.generators)}
        record.info = dict(info)
        out.append((record, rater))
    return out
