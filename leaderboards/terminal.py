"""rich renderings of the leaderboard tables for a terminal.

Each table prints as its title, its protocol stated once, its notice (a table of smoke-preset rows
says that it is a pipeline check, not a result), then the table with short headers. On a
terminal rich fits the table to the window; written to a pipe or a file (where the width is
unknown) a table keeps its natural width, so no column is ever folded to a few characters a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ganbench.leaderboards.formatting import (label, legend, protocol_lines, right_aligned, shown_columns,
                                              statistics_line, text_rows)
from ganbench.leaderboards.markdown import board_markdown
from ganbench.leaderboards.tables import DEFAULT_TABLES, Board, Leaderboard, build_leaderboard

PIPED_WIDTH = 10_000


def legible(console: Console) -> Console:
    """``console`` itself on a terminal; otherwise one writing to the same file that never narrows a table."""
    if console.is_terminal:
        return console
    return Console(file=console.file, width=PIPED_WIDTH, quiet=console.quiet, no_color=console.no_color,
                   highlight=False)


def rich_table(board: Board) -> Table:
    """The board as a rich table; user strings go in as ``Text`` so that rich never reads them as markup."""
    columns = shown_columns(board)
    table = Table(header_style="bold")
    for column in columns:
        table.add_column(Text(label(column)), justify="right" if right_aligned(column) else "left", overflow="fold")
    for row in text_rows(board, columns):
        table.add_row(*(Text(value) for value in row))
    return table


def board_renderable(board: Board) -> Group:
    """Title, protocol (column groups indented under it), statistics, notice, table and rank legend of one board."""
    notice = [Text(board.notice, style="bold yellow")] if board.notice else []
    lines = [Text(("  " if index else "") + line, style="dim") for index, line in enumerate(protocol_lines(board))]
    above = [Text(text, style="dim") for text in (statistics_line(board),) if text]
    below = [Text(text, style="dim") for text in (legend(board),) if text]
    return Group(Text(board.title, style="bold"), *lines, *above, *notice, rich_table(board), *below)


def print_boards(leaderboard: Leaderboard, console: Console, kinds: Iterable[str] = DEFAULT_TABLES,
                 markdown: bool = False) -> None:
    """The tables of ``kinds`` in that order (rich tables, or GitHub Markdown), then the units that failed or
    diverged."""
    out = legible(console)
    for kind in kinds:
        for board in leaderboard.of_kind(kind):
            if markdown:
                out.out(board_markdown(board), highlight=False)
            else:
                out.print(board_renderable(board))
                out.print()
    for problem in leaderboard.problems:
        if problem["status"] != "skipped":
            subject = " ".join(str(problem[k]) for k in ("generator", "detector") if problem.get(k))
            out.print(Text(f"{problem['kind']} {subject}: {problem['status']} ({problem['reason']})", style="red"))


def print_leaderboard(records: list[dict[str, Any]], console: Console, table: str | None = None,
                      sort: str | None = None, conflicts: Sequence[dict[str, Any]] = (),
                      columns: Sequence[str] = (), markdown: bool = False) -> None:
    """Print the tables of ``records`` (the default ones, or the one named ``table``: a key of
    :data:`BOARD_BUILDERS`, such as the ``by-generator`` view of the cross-generator matrices), optionally
    sorted by a column and cut to ``columns`` (see :meth:`Leaderboard.with_columns`), as rich tables or
    Markdown, then the problems (``conflicts``: records of merged sources that disagree)."""
    kinds = DEFAULT_TABLES if table is None else (table,)
    leaderboard = build_leaderboard(records, sort, conflicts, kinds)
    if not leaderboard.boards and not leaderboard.problems:
        console.print("no records yet")
        return
    if columns:
        leaderboard = leaderboard.with_columns(columns)
    print_boards(leaderboard, console, kinds, markdown)


def print_detector(records: list[dict[str, Any]], console: Console, detector: str) -> None:
    """One detector's leaderboard rows: its detectors table, its cross-generator matrix and its unfinished units."""
    leaderboard = build_leaderboard([r for r in records if r.get("detector") == detector])
    if not leaderboard.boards and not leaderboard.problems:
        console.print(f"no records of detector {detector}")
        return
    print_boards(leaderboard, console, ("detectors", "cross"))
