"""Uncertainty: t-intervals over seeds, bootstrap intervals of one evaluation, tests between neighbours,
tie-aware ranks and the multiple-test correction of the null checks.

Every statistic works from a row's summary over seeds (mean, sample std ``s`` and seed count
``n``) and, for detection numbers, the bounds of the bootstrap interval its records carry:

* interval over seeds: the 95% confidence interval of the mean, ``mean ± t_{0.975, n-1} · s /
  sqrt(n)`` (Student, "The probable error of a mean", Biometrika 1908), cut to the metric's range
  (a proportion such as an AUC to [0, 1], FID to [0, inf)); none for a single seed;
* bootstrap interval (``<name>_boot_ci_low`` / ``_high``): the stratified percentile interval of
  one evaluation (``ganbench.detectors.evaluate``); a cell that averages several evaluations
  holds the mean of their bounds, which is no narrower than the interval of the mean under a
  normal approximation (the standard deviation of a sum never exceeds the sum of the standard
  deviations). A row shows its interval over seeds where it has two seeds or more, otherwise
  its bootstrap interval;
* sampling interval (``<name>_sample_ci_low`` / ``_high``): a generation record's bootstrap
  interval over the fakes that one trained generator drew (``ganbench.score_intervals``), shown
  where a row has one seed. It leaves out training's own variation, which is usually the larger
  (over seeds), so no rank is tested on it;
* tests between neighbours: Welch's unequal-variance t-test over seeds (Welch, "The
  generalization of 'Student's' problem when several different population variances are
  involved", Biometrika 1947), with the Welch-Satterthwaite degrees of freedom, two-sided, where
  both rows have two seeds or more; where both have one seed and bootstrap bounds, a two-sided
  z-test with each row's standard error read from its interval (half its width over z_0.975).
  The z-test treats the rows as independent; rows scored on the same test images usually err
  together, which makes it err toward ties;
* ranks: rows in sort order, best first. A row whose test against the row above gives
  ``p >= ALPHA`` cannot be told apart from it and joins its tie group (groups chain down the
  table); every member of a group takes the group's standard competition rank (1=, 1=, 3). A row
  that no test compares with the row above (one seed and no bootstrap bounds, or seeds on one side
  and one seed on the other) forms its own group, claiming neither a tie nor a difference;
* null checks: Holm's step-down adjusted p-values over every check of a table (Holm, "A simple
  sequentially rejective multiple test procedure", Scandinavian Journal of Statistics 1979;
  Wright, "Adjusted P-values for simultaneous inference", Biometrics 1992), so the chance that
  any sound detector of the table is called failed stays at ``ALPHA``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
TIE_MARK = "="
UNTESTED_MARK = "?"
RANK_COLUMNS = ("rank", "rank_text", "rank_p", "rank_tied")
LOW, HIGH = "_seed_ci_low", "_seed_ci_high"
BOOT_LOW, BOOT_HIGH = "_boot_ci_low", "_boot_ci_high"
SAMPLE_LOW, SAMPLE_HIGH = "_sample_ci_low", "_sample_ci_high"
SEEDS, BOOTSTRAP, SAMPLING = "seeds", "bootstrap", "sampling"
UNBOUNDED = (-math.inf, math.inf)
PROPORTION = (0.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)


def _floats(data: pd.DataFrame, column: str) -> list[float]:
    """A column as floats, NaN where missing (every value NaN where the column is absent)."""
    if column not in data:
        return [math.nan] * len(data)
    return [float(v) for v in pd.to_numeric(data[column], errors="coerce")]


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def t_interval(mean: float, std: float, n: float, confidence: float = CONFIDENCE,
               limits: tuple[float, float] = UNBOUNDED) -> tuple[float, float]:
    """Student's t confidence interval of the mean, cut to the metric's ``limits`` (an AUC's t-interval
    can reach past 1; the mean cannot); NaNs for fewer than two seeds or a missing value."""
    if not (n >= 2 and math.isfinite(mean) and math.isfinite(std)):
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return max(mean - half, limits[0]), min(mean + half, limits[1])


def with_intervals(data: pd.DataFrame, names: Iterable[str], confidence: float = CONFIDENCE,
                   limits: Mapping[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """``data`` plus the interval bounds ``<name>_seed_ci_low`` and ``<name>_seed_ci_high`` of each column ``name``,
    cut to ``limits[name]`` where given."""
    data = data.copy()
    for name in names:
        summaries = zip(_floats(data, name), _floats(data, f"{name}_std"), _floats(data, f"{name}_n"))
        bounds = [t_interval(mean, std, n, confidence, (limits or {}).get(name, UNBOUNDED)) for mean, std, n in summaries]
        data[name + LOW] = [low for low, _ in bounds]
        data[name + HIGH] = [high for _, high in bounds]
    return data


def row_interval(row: Mapping[str, Any], name: str) -> tuple[float, float, str] | None:
    """The interval a row shows for column ``name``: over seeds where it has one, else its bootstrap interval
    (of one evaluation, or of the fakes one trained generator drew)."""
    if not _finite(row.get(name)):
        return None
    for low, high, kind in ((LOW, HIGH, SEEDS), (BOOT_LOW, BOOT_HIGH, BOOTSTRAP), (SAMPLE_LOW, SAMPLE_HIGH, SAMPLING)):
        bounds = row.get(name + low), row.get(name + high)
        if _finite(*bounds):
            return float(bounds[0]), float(bounds[1]), kind
    return None


def interval_kinds(data: pd.DataFrame, names: Iterable[str]) -> set[str]:
    """The kinds of interval (``SEEDS``, ``BOOTSTRAP``, ``SAMPLING``) that the rows show for columns ``names``."""
    rows = data.to_dict("records")
    return {shown[2] for name in names for row in rows if (shown := row_interval(row, name))}


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


def bootstrap_z_p(mean_a: float, low_a: float, high_a: float, mean_b: float, low_b: float, high_b: float,
                  confidence: float = CONFIDENCE) -> float:
    """Two-sided p-value of a z-test that two rows share a value, each standard error read from its bootstrap
    interval; NaN where a value or bound is missing. Rows without spread: p 1 for equal values, 0 otherwise."""
    if not _finite(mean_a, low_a, high_a, mean_b, low_b, high_b):
        return math.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    spread = math.hypot((high_a - low_a) / (2 * z), (high_b - low_b) / (2 * z))
    if spread == 0:
        return 1.0 if mean_a == mean_b else 0.0
    return float(2 * stats.norm.sf(abs(mean_a - mean_b) / spread))


@dataclass(frozen=True)
class RowStatistics:
    """What the tests know of one row: its mean, std and seed count, and its bootstrap bounds."""

    mean: float
    std: float = math.nan
    n: float = math.nan
    boot_low: float = math.nan
    boot_high: float = math.nan

    @property
    def over_seeds(self) -> bool:
        return self.n >= 2

    @property
    def bootstrapped(self) -> bool:
        return not self.over_seeds and _finite(self.boot_low, self.boot_high)

    @property
    def testable(self) -> bool:
        return self.over_seeds or self.bootstrapped


def neighbour_p(a: RowStatistics, b: RowStatistics) -> float:
    """Welch's test where both rows have seeds, the bootstrap z-test where both have one seed and bounds, else NaN."""
    if a.over_seeds and b.over_seeds:
        return welch_p(a.mean, a.std, a.n, b.mean, b.std, b.n)
    if a.bootstrapped and b.bootstrapped:
        return bootstrap_z_p(a.mean, a.boot_low, a.boot_high, b.mean, b.boot_low, b.boot_high)
    return math.nan


@dataclass(frozen=True)
class RankCell:
    """One row's place: competition rank, its text, the p-value against the row above, whether it is tied."""

    rank: float
    text: str | None
    p: float
    tied: bool


def tie_ranks(means: list[float], stds: list[float], ns: list[float], alpha: float = ALPHA,
              boot_lows: Sequence[float] | None = None, boot_highs: Sequence[float] | None = None) -> list[RankCell]:
    """Ranks of rows sorted best first; a row without a value gets none.

    Where at least one row can be tested, a row that no test compares with the row above (or, first,
    that cannot be tested at all) is marked ``UNTESTED_MARK``.
    """
    lows = boot_lows if boot_lows is not None else [math.nan] * len(means)
    highs = boot_highs if boot_highs is not None else [math.nan] * len(means)
    rows = [RowStatistics(*values) for values in zip(means, stds, ns, lows, highs)]
    tested = any(row.testable for row in rows if math.isfinite(row.mean))
    groups: list[list[int]] = []
    p_values = [math.nan] * len(means)
    for index, row in enumerate(rows):
        if not math.isfinite(row.mean):
            continue
        if groups:
            p_values[index] = neighbour_p(rows[index - 1], row)
        if groups and p_values[index] >= alpha:
            groups[-1].append(index)
        else:
            groups.append([index])
    cells = [RankCell(math.nan, None, math.nan, False) for _ in means]
    first = groups[0][0] if groups else -1
    for group in groups:
        rank, tied = group[0] + 1, len(group) > 1
        for index in group:
            untested = not rows[index].testable or (index != first and math.isnan(p_values[index]))
            mark = TIE_MARK if tied else (UNTESTED_MARK if tested and untested else "")
            cells[index] = RankCell(float(rank), f"{rank}{mark}", p_values[index], tied)
    return cells


def ranked(data: pd.DataFrame, name: str, alpha: float = ALPHA) -> pd.DataFrame:
    """``data`` (sorted best first by ``name``) plus the ``RANK_COLUMNS`` of its tie-aware ranks."""
    cells = tie_ranks(_floats(data, name), _floats(data, f"{name}_std"), _floats(data, f"{name}_n"), alpha,
                      _floats(data, name + BOOT_LOW), _floats(data, name + BOOT_HIGH))
    return data.assign(rank=[c.rank for c in cells], rank_text=[c.text for c in cells], rank_p=[c.p for c in cells],
                       rank_tied=[c.tied for c in cells])


def rank_tests(data: pd.DataFrame, name: str) -> set[str]:
    """Which tests rank column ``name``: ``SEEDS`` (Welch) and ``BOOTSTRAP`` (z-test), by the rows it holds."""
    rows = [RowStatistics(*values) for values in zip(_floats(data, name), _floats(data, f"{name}_std"),
                                                     _floats(data, f"{name}_n"), _floats(data, name + BOOT_LOW),
                                                     _floats(data, name + BOOT_HIGH)) if math.isfinite(values[0])]
    return {kind for kind, used in ((SEEDS, any(r.over_seeds for r in rows)),
                                    (BOOTSTRAP, any(r.bootstrapped for r in rows))) if used}


def seed_counts(data: pd.DataFrame, name: str) -> list[int]:
    """The seed counts of column ``name`` over the rows that hold a value."""
    if name not in data or f"{name}_n" not in data:
        return []
    values = pd.to_numeric(data[name], errors="coerce")
    counts = pd.to_numeric(data[f"{name}_n"], errors="coerce")[values.notna()]
    return [int(n) for n in counts.dropna()]


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest of m is
    ``max over j <= i of min(1, (m - j + 1) p_(j))``; a check fails where its adjusted p is at most alpha."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [math.nan] * len(p_values), 0.0
    for step, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - step) * p_values[index]))
        adjusted[index] = running
    return adjusted
