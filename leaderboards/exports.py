"""Machine-readable results: ``results.csv`` (one tidy row per table cell) and ``results.json``.

The CSV follows the tidy-data layout of Wickham, "Tidy Data", Journal of Statistical Software 2014:
one row per (table, row, column) observation with its mean, std, seed count and the bounds of its
95% interval, so tables of different shapes and protocols share one file without mixing. The
interval is the one the tables show, named in ``interval``: ``seeds`` (the t-interval of the mean
over seeds) or ``bootstrap`` (the bootstrap interval of a detection number measured with one
seed). A ranked table adds one ``rank`` observation per row: the competition rank (``mean``), its
text with the tie mark (``text``) and the p-value of the test against the row above (``p_value``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ganbench.leaderboards.formatting import (RANK, header, interval_statement, legend, rank_test_text,
                                              statistics_line)
from ganbench.leaderboards.sources import RESULTS_FORMAT
from ganbench.leaderboards.tables import Board, Leaderboard, json_rows
from ganbench.leaderboards.uncertainty import ALPHA, CONFIDENCE, rank_tests, row_interval

CSV_COLUMNS = ("table", "kind", "title", "subject", "dataset", "preset", "row", "column", "label", "mean", "std",
               "n", "ci_low", "ci_high", "interval", "p_value", "text", "protocol")


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def tidy_frame(leaderboard: Leaderboard) -> pd.DataFrame:
    """Every cell of every table as one row (identity columns become ``row``, ``dataset`` and ``preset``)."""
    rows = []
    for index, board in enumerate(leaderboard.boards):
        key = board.columns[0].name
        for record in board.data.to_dict("records"):
            identity = {"table": index, "kind": board.kind, "title": board.title, "subject": board.subject,
                        "dataset": record.get("dataset"), "preset": record.get("preset"), "row": record.get(key)}
            if board.rank_by:
                rows.append(identity | {"column": "rank", "label": RANK.label, "mean": _plain(record.get("rank")),
                                        "p_value": _plain(record.get("rank_p")), "text": record.get("rank_text"),
                                        "protocol": statistics_line(board)})
            for column in board.columns[1:]:
                if column.name in ("dataset", "preset"):
                    continue
                label, protocol = header(board, column)
                cell = {"column": column.name, "label": label, "protocol": protocol}
                if column.numeric:
                    cell |= {name: _plain(record.get(column.name + suffix)) for name, suffix in
                             (("mean", ""), ("std", "_std"), ("n", "_n"))}
                    if shown := row_interval(record, column.name):
                        cell |= {"ci_low": shown[0], "ci_high": shown[1], "interval": shown[2]}
                else:
                    cell["text"] = _plain(record.get(column.name))
                rows.append(identity | cell)
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS))


def results_csv(leaderboard: Leaderboard) -> str:
    return tidy_frame(leaderboard).to_csv(index=False, float_format="%.17g")


def board_json(index: int, board: Board) -> dict[str, Any]:
    columns = []
    for column in board.columns:
        label, protocol = header(board, column)
        columns.append({"name": column.name, "label": label, "protocol": protocol, "group": column.group,
                        "better": column.better, "numeric": column.numeric, "with_interval": column.with_interval})
    rows = [{k: _plain(v) for k, v in record.items()} for record in board.data.to_dict("records")]
    ranking = {"by": board.rank_by, "test": rank_test_text(rank_tests(board.data, board.rank_by)), "alpha": ALPHA,
               "legend": legend(board)} if board.rank_by else None
    return {"table": index, "kind": board.kind, "title": board.title, "subject": board.subject,
            "notice": board.notice, "protocols": board.protocols, "statistics": statistics_line(board), "confidence": CONFIDENCE,
            "intervals": interval_statement(board), "ranking": ranking, "columns": columns, "rows": rows}


def record_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documented row fields of each record plus its ``info``, ``created`` and ``ganbench_version``: every
    field a report needs, so a published ``results.json`` can be read back as a source."""
    return [row | {"info": record.get("info") or {}, "created": record.get("created"),
                   "ganbench_version": record.get("ganbench_version")}
            for row, record in zip(json_rows(records), records)]


def results_json(leaderboard: Leaderboard, env: dict[str, Any], records: list[dict[str, Any]],
                 sources: Sequence[str] = ()) -> str:
    """Environment, every table (values, ``_std``, ``_n``, ``_seed_ci_low`` and ``_seed_ci_high`` per column,
    ``_boot_ci_low`` and ``_boot_ci_high`` per detection column, ranks, notice), problems, the sources and the
    records (``format`` 2: every field of each record; see ``ganbench.leaderboards.sources``)."""
    document = {"format": RESULTS_FORMAT, "environment": env,
                "tables": [board_json(i, b) for i, b in enumerate(leaderboard.boards)],
                "problems": leaderboard.problems, "sources": list(sources), "records": record_rows(records)}
    return json.dumps(document, indent=1, default=str, allow_nan=False)
