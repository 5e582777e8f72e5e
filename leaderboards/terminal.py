"""rich renderings of the leaderboard tables."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from leaderboards.tables import cross_matrix, detector_table, generator_table, records_frame


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def rich_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for column in frame.columns:
        table.add_column(str(column), justify="right" if pd.api.types.is_numeric_dtype(frame[column]) else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def print_leaderboard(records: list[dict[str, Any]], console: Console, table: str | None = None) -> None:
    frame = records_frame(records)
    if frame.empty:
        console.print("no records yet")
        return
    if table in (None, "generators"):
        console.print(rich_table(generator_table(frame), "Generators (quality; detectability = detector AUC on fresh fakes)"))
    if table in (None, "detectors"):
        console.print(rich_table(detector_table(frame), "Detectors (real test split vs fresh fakes)"))
    if table in (None, "cross"):
        for detector in sorted(frame.detector.dropna().unique()) if "detector" in frame else []:
            matrix = cross_matrix(frame, detector).reset_index()
            console.print(rich_table(matrix, f"Cross-generator AUC: {detector} (rows: train, columns: test)"))
    problems = frame[frame.status.isin(["failed", "diverged"])]
    for row in problems.itertuples(index=False):
        console.print(f"[red]{row.kind} {row.generator or ''} {row.detector or ''}: {row.status} ({row.reason})")
