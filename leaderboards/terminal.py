"""rich renderings of the leaderboard tables for a terminal.

Terminals are narrow, so a header carries its protocol as a short tag (``[q]``) and the table's
caption spells every tagged protocol out; data set and preset move to the title when one table
holds a single one of each.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from leaderboards.formatting import header, text_rows
from leaderboards.protocols import describe
from leaderboards.tables import Board, build_leaderboard

TABLES = ("generators", "detectors", "cross")
SHARED = ("dataset", "preset")
MIN_WIDTH, MAX_WIDTH = 5, 24


def _title(board: Board, hidden: list[str]) -> str:
    if board.kind == "cross" or not hidden:
        return board.title
    return board.title + " · " + " / ".join(str(board.data[name].iloc[0]) for name in hidden)


def rich_table(board: Board, width: int = 200) -> Table:
    """A rich table; user strings go in as ``Text`` so that rich never reads them as markup.

    Columns keep their values unbroken where ``width`` allows it; otherwise rich folds cells.
    """
    hidden = [n for n in SHARED if board.column(n) and board.data[n].nunique(dropna=False) == 1]
    shown = [i for i, c in enumerate(board.columns) if c.name not in hidden]
    tags = {group: group[0] for group in board.protocols}
    caption = "\n".join(f"[{tags[g]}] {g}: {describe(p) or ', '.join(f'{k}={v}' for k, v in sorted(p.items()))}"
                        for g, p in board.protocols.items())
    table = Table(title=Text(_title(board, hidden)), caption=Text(caption), caption_justify="left",
                  header_style="bold")
    rows = text_rows(board)
    widths = [min(max([len(r[i]) for r in rows] + [MIN_WIDTH]), MAX_WIDTH) for i in shown]
    words = [max(len(w) for w in (header(board, board.columns[i])[0] + " [x]").split()) for i in shown]
    fits = sum(max(a, b) for a, b in zip(widths, words)) + 3 * len(widths) + 1 < width - 2
    for index, widest in zip(shown, widths):
        column = board.columns[index]
        label, _ = header(board, column)
        tag = f" [{tags[column.group]}]" if column.group in tags and board.kind != "cross" else ""
        table.add_column(Text(label + tag), justify="right" if column.numeric else "left",
                         min_width=widest if fits else None, overflow="fold")
    for row in rows:
        table.add_row(*(Text(row[i]) for i in shown))
    return table


def print_leaderboard(records: list[dict[str, Any]], console: Console, table: str | None = None,
                      sort: str | None = None) -> None:
    """Print the tables of ``records`` (all, or one of ``TABLES``), optionally sorted by a column."""
    leaderboard = build_leaderboard(records, sort)
    if not leaderboard.boards and not leaderboard.problems:
        console.print("no records yet")
        return
    for kind in TABLES:
        if table in (None, kind):
            for board in leaderboard.of_kind(kind):
                console.print(rich_table(board, console.width))
    for problem in leaderboard.problems:
        if problem["status"] != "skipped":
            subject = " ".join(str(problem[k]) for k in ("generator", "detector") if problem.get(k))
            console.print(Text(f"{problem['kind']} {subject}: {problem['status']} ({problem['reason']})", style="red"))
