"""Cell, header and protocol text shared by every rendering.

Headers are short (``FID ↓``): each table states its protocols once, above it, naming the columns
each one covers. A data set or preset shared by every row of a table moves from its columns into
that statement. Every numeric column is written with one number of decimals, chosen so that the
column's median magnitude keeps four significant digits (at most four decimals); counts are whole
numbers; thousands are separated, so a reader never meets scientific notation in a leaderboard.

A ranked table (``Board.rank_by``) opens with a rank column (``2=`` for a tie, see
``ganbench.leaderboards.uncertainty``) and shows the 95% t-interval of its ranking metric in a
column beside it, written with that metric's decimals; a statistics line above the table states
the seed counts, the interval and the test once, and a legend below it explains the marks.

Detection numbers (``Column.with_interval``) carry their interval in the cell itself,
``0.9310 [0.9050, 0.9550]``: the t-interval over seeds where a row has two seeds or more, the
bootstrap interval of its records otherwise; the table's protocol line says which, and a number
whose records hold no interval is written alone.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from ganbench.leaderboards.protocols import describe
from ganbench.leaderboards.tables import Board, Column
from ganbench.leaderboards.uncertainty import (ALPHA, BOOTSTRAP, CONFIDENCE, SAMPLING, SEEDS, TIE_MARK, UNTESTED_MARK,
                                               interval_kinds, rank_tests, row_interval, seed_counts)

ARROWS = {"lower": " ↓", "higher": " ↑"}
MISSING = "–"
DIGITS = 4
MAX_DECIMALS = 4
SHARED = {"dataset": "data set", "preset": "preset"}
RANK = Column("rank_text", "rank", numeric=False)
GROUP_NAMES = {"quality": "quality", "detection": "detectability", "human": "human evaluation", "train": "cost",
               "clean": "clean fakes", "robust": "perturbed fakes", "null": "real-vs-real null check"}


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def label(column: Column) -> str:
    """The column's short header: its name and the direction that is better."""
    return column.label + ARROWS.get(column.better or "", "")


def right_aligned(column: Column) -> bool:
    """Numbers and intervals align right, text left."""
    return column.numeric or column.interval_of is not None


def interval_column(column: Column) -> Column:
    """The column showing the confidence interval of numeric ``column``."""
    return Column(f"{column.name}_ci", f"{column.label} {CONFIDENCE:.0%} CI", numeric=False, interval_of=column.name)


def header(board: Board, column: Column) -> tuple[str, str]:
    """The column's short header and the text naming its protocol (for machine-readable exports)."""
    protocol = board.protocols.get(column.group, {}) if column.group else {}
    return label(column), describe(protocol) if protocol else ""


def decimals(values: Iterable[Any], integer: bool = False) -> int:
    """One number of decimals for a column: ``DIGITS`` significant digits at its median non-zero magnitude."""
    finite = [float(v) for v in values if not is_missing(v) and math.isfinite(float(v))]
    if integer:
        return 0 if all(v.is_integer() for v in finite) else 1
    magnitudes = [abs(v) for v in finite if v != 0]
    if not magnitudes:
        return 0
    places = DIGITS - 1 - math.floor(math.log10(statistics.median(magnitudes)))
    return min(max(places, 0), MAX_DECIMALS)


def number(value: Any, places: int) -> str:
    """``value`` with ``places`` decimals and thousands separated; a dash when missing; never ``-0``."""
    if is_missing(value):
        return MISSING
    text = f"{float(value):,.{places}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def family_text(value: Any) -> str:
    if is_missing(value):
        return MISSING
    return "GAN" if str(value).lower() == "gan" else f"{value} (non-GAN)"


def interval(row: Mapping[str, Any], name: str, places: int) -> str:
    """``[low, high]`` of column ``name`` (over seeds, else the one seed's bootstrap interval); ``n=1`` where
    one seed gives no interval; a dash for no value."""
    if is_missing(row.get(name)):
        return MISSING
    shown = row_interval(row, name)
    if shown is None:
        count = row.get(f"{name}_n")
        return MISSING if is_missing(count) else f"n={int(count)}"
    return f"[{number(shown[0], places)}, {number(shown[1], places)}]"


def cell(row: Mapping[str, Any], column: Column, places: int) -> str:
    """``mean ± std`` where several seeds ran, ``mean`` for one, a dash for none, then ``[low, high]`` in a
    ``with_interval`` column that has one; intervals; text as is."""
    value = row.get(column.name)
    if column.interval_of:
        return interval(row, column.interval_of, places)
    if column.name == "family":
        return family_text(value)
    if not column.numeric:
        return MISSING if is_missing(value) else str(value)
    text = number(value, places)
    spread = row.get(f"{column.name}_std")
    if text != MISSING and not is_missing(spread) and (row.get(f"{column.name}_n") or 0) > 1:
        text += f" ± {number(spread, places)}"
    if column.with_interval and (shown := row_interval(row, column.name)):
        text += f" [{number(shown[0], places)}, {number(shown[1], places)}]"
    return text


def headline(board: Board) -> Column | None:
    """The column a board is ranked by, if any."""
    return board.column(board.rank_by) if board.rank_by else None


def shown_columns(board: Board) -> list[Column]:
    """The board's columns less the data set and preset where every row shares one (the protocol names it).

    A ranked board adds its rank column first and, where a row has an interval (two seeds or more, or a
    generation record's over its fakes), the interval of the ranking metric beside that metric (unless its
    cells show it).
    """
    columns = [c for c in board.columns if c.name not in SHARED or board.data[c.name].nunique(dropna=False) != 1]
    ranking = headline(board)
    if ranking is None:
        return columns
    if not ranking.with_interval and interval_kinds(board.data, [ranking.name]):
        columns.insert(columns.index(ranking) + 1, interval_column(ranking))
    return [RANK, *columns]


def column_places(board: Board, columns: Iterable[Column]) -> dict[str, int]:
    """Decimals of each numeric column, from its values; an interval column takes its metric's."""
    columns = list(columns)
    places = {c.name: decimals(board.data[c.name], c.integer) for c in columns if c.numeric}
    return places | {c.name: places[c.interval_of] for c in columns if c.interval_of in places}


def text_rows(board: Board, columns: list[Column] | None = None) -> list[list[str]]:
    """Cell texts of ``columns`` (the shown ones by default), one list per row."""
    columns = shown_columns(board) if columns is None else columns
    places = column_places(board, columns)
    return [[cell(row, c, places.get(c.name, 0)) for c in columns] for row in board.data.to_dict("records")]


def scope(board: Board) -> list[str]:
    """What every row of the board shares outside its column groups: data set, preset and seed."""
    parts = [f"{word} {board.data[name].iloc[0]}" for name, word in SHARED.items()
             if board.column(name) and board.data[name].nunique(dropna=False) == 1]
    seeds = {str(p["seed"]) for p in board.protocols.values() if "seed" in p}
    if len(seeds) == 1:
        parts.append(f"seed {seeds.pop()}")
    return parts


def interval_statement(board: Board) -> str | None:
    """What the ``[low, high]`` in the board's cells are, where its cells show any."""
    kinds = interval_kinds(board.data, [c.name for c in board.columns if c.with_interval])
    seeds = f"{CONFIDENCE:.0%} t-interval of the mean over seeds (cut to [0, 1])"
    bootstrap = (f"{CONFIDENCE:.0%} bootstrap interval of each evaluation (a cell averaging several shows "
                 "their mean bounds)")
    if kinds == {SEEDS}:
        return f"intervals [low, high]: {seeds}"
    if kinds == {BOOTSTRAP}:
        return f"intervals [low, high]: {bootstrap}"
    return f"intervals [low, high]: {seeds}; where a cell has one seed, the {bootstrap}" if kinds else None


def protocol_lines(board: Board) -> list[str]:
    """The table's protocol, stated once: ``Protocol: ...`` and, where column groups differ, one line per group.

    A group line names the columns it covers: ``quality (FID, KID): classifier features · real test n=360``.
    The first line also says what the intervals in the cells are.
    """
    shown = shown_columns(board)
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for group, protocol in board.protocols.items():
        labels = [c.label for c in shown if c.group == group]
        text = describe(protocol)
        if labels and text:
            names, covered = groups.setdefault(text, ([], []))
            names.append(GROUP_NAMES.get(group, group))
            covered.extend(labels)
    lead, intervals = " · ".join(scope(board)), interval_statement(board)
    if len(groups) <= 1:
        text = " · ".join(part for part in [lead, *groups, intervals] if part)
        return [f"Protocol: {text}"] if text else []
    lead = " · ".join(part for part in [lead, intervals] if part)
    head = f"Protocol: {lead}" if lead else "Protocol by column group:"
    return [head] + [f"{', '.join(names)} ({', '.join(labels)}): {text}" for text, (names, labels) in groups.items()]


def _seeds(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{high} seeds" if low == high else f"{low}–{high} seeds"


def rank_test_text(tests: set[str]) -> str:
    """The test that ranks a board's rows, for the statistics line."""
    welch = f"Welch's t-test against the row above, α = {ALPHA:g}"
    bootstrap = f"z-test on the bootstrap standard errors against the row above, α = {ALPHA:g}"
    if tests == {SEEDS}:
        return welch
    if tests == {BOOTSTRAP}:
        return bootstrap
    if tests:
        return f"{welch} (rows with two seeds or more); {bootstrap} (rows with one)"
    return "one seed: ranks not tested"


def statistics_line(board: Board) -> str | None:
    """How the numbers aggregate over seeds and how the rows are ranked, stated once above the table."""
    ranking = headline(board)
    names = [ranking.name] if ranking else [c.name for c in board.columns if c.numeric]
    counts = [n for name in names for n in seed_counts(board.data, name)]
    if not counts:
        return None
    inline = interval_kinds(board.data, [c.name for c in board.columns if c.with_interval])
    beside = interval_kinds(board.data, [ranking.name]) if ranking and not ranking.with_interval else set()
    if max(counts) < 2:
        parts = ["one seed (n=1): no std" + ("" if inline or beside else ", no interval")]
    else:
        parts = [f"mean ± std over {_seeds(counts)}"]
    seeds = f"{CONFIDENCE:.0%} t-interval of the mean, cut to the metric's range"
    sampling = (f"{CONFIDENCE:.0%} bootstrap interval over the fakes one trained generator drew (the protocol's "
                "bootstrap): it leaves out training's own variation, which more seeds measure")
    if beside == {SEEDS}:
        parts.append(f"[{seeds}]" + (" (n=1: none)" if min(counts) < 2 else ""))
    elif beside == {SAMPLING}:
        parts.append(f"[{sampling}]")
    elif beside:
        parts.append(f"[{seeds}; n=1: the {sampling}]")
    if ranking:
        parts.append(f"rank by {label(ranking)}: {rank_test_text(rank_tests(board.data, ranking.name))}")
    return "Statistics: " + " · ".join(parts)


def legend(board: Board) -> str | None:
    """The line below a ranked table of two rows or more that explains its rank marks."""
    ranking = headline(board)
    if ranking is None or len(board.data) < 2:
        return None
    tests = rank_tests(board.data, ranking.name)
    if not tests:
        return f"Rank: order by {label(ranking)}; one seed: ranks not tested (no ties claimed either way)."
    test = {frozenset({SEEDS}): "Welch's t-test over seeds",
            frozenset({BOOTSTRAP}): "a z-test on their bootstrap standard errors"}.get(
        frozenset(tests), "the test (Welch's over seeds, or a z-test on bootstrap standard errors for one seed)")
    text = (f"Rank: rows marked k{TIE_MARK} are tied: {test} cannot tell each from the tied row "
            f"above it (p ≥ {ALPHA:g}), so the chain shares one rank and the next rank skips the shared places "
            f"(1{TIE_MARK}, 1{TIE_MARK}, 3).")
    if any(isinstance(t, str) and t.endswith(UNTESTED_MARK) for t in board.data["rank_text"]):
        text += (f" k{UNTESTED_MARK}: not tested against the row above (one of the two has a single seed)."
                 if BOOTSTRAP not in tests else
                 f" k{UNTESTED_MARK}: not tested against the row above (each test needs two seeds or more on both "
                 "sides, or one seed and a bootstrap interval on both).")
    return text


def protocol_fields(board: Board) -> list[str]:
    """One ``group: key=value, ...`` line per protocol of the board, every key included."""
    return [f"{group}: " + ", ".join(f"{k}={v}" for k, v in sorted(p.items())) for group, p in board.protocols.items()]
