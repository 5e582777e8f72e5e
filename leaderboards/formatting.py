"""Cell and header text shared by every rendering: ``mean ± std`` over seeds, protocol-naming headers.

Numbers keep four significant digits (two for the spread); integers and large values are written
out in full, so a reader never meets scientific notation in a leaderboard.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from leaderboards.protocols import describe
from leaderboards.tables import Board, Column

ARROWS = {"lower": " ↓", "higher": " ↑"}
MISSING = "–"
SMALL = 1e-4


def number(value: Any, digits: int = 4, integer: bool = False) -> str:
    """A number for people: integers of count columns and values of 10^digits or more in full
    (thousands separated), others with ``digits`` significant digits, trailing zeros kept."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    value = float(value)
    if (integer and value.is_integer()) or abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    if value != 0 and abs(value) < SMALL:
        return f"{value:.{digits - 1}e}"
    text = f"{value:#.{digits}g}"
    return f"{value:,.0f}" if "e" in text else text.rstrip(".")


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def family_text(value: Any) -> str:
    if is_missing(value):
        return MISSING
    return "GAN" if str(value).lower() == "gan" else f"{value} (non-GAN)"


def cell(row: Mapping[str, Any], column: Column) -> str:
    """``mean ± std`` where several seeds ran, ``mean`` for one, a dash for none; text as is."""
    value = row.get(column.name)
    if column.name == "family":
        return family_text(value)
    if not column.numeric:
        return MISSING if is_missing(value) else str(value)
    text = number(value, integer=column.integer)
    spread = row.get(f"{column.name}_std")
    if text != MISSING and not is_missing(spread) and (row.get(f"{column.name}_n") or 0) > 1:
        text += " ± 0" if spread == 0 else f" ± {number(spread, 2)}"
    return text


def header(board: Board, column: Column) -> tuple[str, str]:
    """The column's label (with its better direction) and the text naming its protocol."""
    protocol = board.protocols.get(column.group, {}) if column.group else {}
    return column.label + ARROWS.get(column.better or "", ""), describe(protocol) if protocol else ""


def text_rows(board: Board) -> list[list[str]]:
    return [[cell(row, c) for c in board.columns] for row in board.data.to_dict("records")]


def protocol_lines(board: Board) -> list[str]:
    """One ``group: key=value, ...`` line per protocol of the board, every key included."""
    return [f"{group}: " + ", ".join(f"{k}={v}" for k, v in sorted(p.items())) for group, p in board.protocols.items()]
