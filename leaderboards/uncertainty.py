"""Uncertainty over seeds: t-intervals of the mean, Welch's test between neighbours, tie-aware ranks.

Every statistic works from a row's summary over seeds (mean, sample std ``s`` and seed count ``n``):

* interval: the 95% confidence interval of the mean, ``mean ± t_{0.975, n-1} · s / sqrt(n)``
  (Student, "The probable error of a mean", Biometrika 1908); none for a single seed;
* test: Welch's unequal-variance t-test (Welch, "The generalization of 'Student's' problem when
  several different population variances are involved", Biometrika 1947), with the
  Welch-Satterthwaite degrees of freedom, two-sided;
* ranks: rows in sort order, best first. A row whose test against the row above gives
  ``p >= ALPHA`` cannot be told apart from it and joins its tie group (groups chain down the
  table); every member of a group takes the group's standard competition rank (1=, 1=, 3). A row
  with fewer than two seeds is not tested: it forms its own group, claiming neither a tie nor a
  difference.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
TIE_MARK = "="
UNTESTED_MARK = "?"
RANK_COLUMNS = ("rank", "rank_text", "rank_p", "rank_tied")
LOW, HIGH = "_seed_ci_low", "_seed_ci_high"


def _floats(data: pd.DataFrame, column: str) -> list[float]:
    """A column as floats, NaN where missing (every value NaN where the column is absent)."""
    if column not in data:
        return [math.nan] * len(data)
    return [float(v) for v in pd.to_numeric(data[column], errors="coerce")]


def t_interval(mean: float, std: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student's t confidence interval of the mean; NaNs for fewer than two seeds or a missing value."""
    if not (n >= 2 and math.isfinite(mean) and math.isfinite(std)):
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return mean - half, mean + half


def with_intervals(data: pd.DataFrame, names: Iterable[str], confidence: float = CONFIDENCE) -> pd.DataFrame:
    """``data`` plus the interval bounds ``<name>_seed_ci_low`` and ``<name>_seed_ci_high`` of each column ``name``."""
    data = data.copy()
    for name in names:
        summaries = zip(_floats(data, name), _floats(data, f"{name}_std"), _floats(data, f"{name}_n"))
        bounds = [t_interval(mean, std, n, confidence) for mean, std, n in summaries]
        data[name + LOW] = [low for low, _ in bounds]
        data[name + HIGH] = [high for _, high in bounds]
    return data


def welch_p(mean_a: float, std_a: float, n_a: float, mean_b: float, std_b: float, n_b: float) -> float:
    """Two-sided p-value of Welch's t-test that two rows share a mean; NaN for fewer than two seeds on a side.

    Where neither row varies over its seeds the test degenerates: p is 1 for equal means, 0 otherwise.
    """
    values = (mean_a, std_a, mean_b, std_b)
    if not (n_a >= 2 and n_b >= 2 and all(math.isfinite(v) for v in values)):
        return math.nan
    var_a, var_b = std_a ** 2 / n_a, std_b ** 2 / n_b
    spread = var_a + var_b
    if spread == 0:
        return 1.0 if mean_a == mean_b else 0.0
    t = (mean_a - mean_b) / math.sqrt(spread)
    dof = spread ** 2 / (var_a ** 2 / (n_a - 1) + var_b ** 2 / (n_b - 1))
    return float(2 * stats.t.sf(abs(t), dof))


@dataclass(frozen=True)
class RankCell:
    """One row's place: competition rank, its text, the p-value against the row above, whether it is tied."""

    rank: float
    text: str | None
    p: float
    tied: bool


def tie_ranks(means: list[float], stds: list[float], ns: list[float], alpha: float = ALPHA) -> list[RankCell]:
    """Ranks of rows sorted best first; a row without a value gets none.

    Where at least one row has two seeds or more, a row with fewer is marked ``UNTESTED_MARK``.
    """
    tested = any(n >= 2 for mean, n in zip(means, ns) if math.isfinite(mean))
    groups: list[list[int]] = []
    p_values = [math.nan] * len(means)
    for index, mean in enumerate(means):
        if not math.isfinite(mean):
            continue
        if groups:
            before = index - 1
            p_values[index] = welch_p(means[before], stds[before], ns[before], mean, stds[index], ns[index])
        if groups and p_values[index] >= alpha:
            groups[-1].append(index)
        else:
            groups.append([index])
    cells = [RankCell(math.nan, None, math.nan, False) for _ in means]
    for group in groups:
        rank, tied = group[0] + 1, len(group) > 1
        for index in group:
            mark = TIE_MARK if tied else (UNTESTED_MARK if tested and not ns[index] >= 2 else "")
            cells[index] = RankCell(float(rank), f"{rank}{mark}", p_values[index], tied)
    return cells


def ranked(data: pd.DataFrame, name: str, alpha: float = ALPHA) -> pd.DataFrame:
    """``data`` (sorted best first by ``name``) plus the ``RANK_COLUMNS`` of its tie-aware ranks."""
    cells = tie_ranks(_floats(data, name), _floats(data, f"{name}_std"), _floats(data, f"{name}_n"), alpha)
    return data.assign(rank=[c.rank for c in cells], rank_text=[c.text for c in cells], rank_p=[c.p for c in cells],
                       rank_tied=[c.tied for c in cells])


def seed_counts(data: pd.DataFrame, name: str) -> list[int]:
    """The seed counts of column ``name`` over the rows that hold a value."""
    if name not in data or f"{name}_n" not in data:
        return []
    values = pd.to_numeric(data[name], errors="coerce")
    counts = pd.to_numeric(data[f"{name}_n"], errors="coerce")[values.notna()]
    return [int(n) for n in counts.dropna()]
