"""``index.html``: one static, self-contained page (inline CSS, no script, no external asset).

The markup lives in jinja2 templates beside this module (``templates/index.html.j2`` and its
macros); this module only turns the tables into plain values for them. The environment escapes
every value it writes (``autoescape``; HTML Living Standard, WHATWG, section 13.1 on text and
attribute values), so a record string such as a generator named ``<script>`` shows as text and
never runs. The page opens from disk: every image is a PNG beside it, referenced by a relative name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ganbench.leaderboards.environment import environment_rows
from ganbench.leaderboards.figures import FigureFile
from ganbench.leaderboards.formatting import (RANK, cell, column_places, is_missing, label, legend, protocol_fields,
                                              protocol_lines, right_aligned, shown_columns, statistics_line)
from ganbench.leaderboards.markdown import SECTIONS, problems_title
from ganbench.leaderboards.tables import Board, Leaderboard


@dataclass(frozen=True)
class SampleGrid:
    generator: str
    dataset: str
    preset: str
    name: str | None


@dataclass
class Assets:
    """The files a page shows, keyed by the index of their table in ``Leaderboard.boards`` where tied to one."""

    scatter: dict[int, FigureFile] = field(default_factory=dict)
    heatmaps: dict[int, FigureFile] = field(default_factory=dict)
    roc: list[FigureFile] = field(default_factory=list)
    generator_roc: list[FigureFile] = field(default_factory=list)
    calibration: list[FigureFile] = field(default_factory=list)
    robustness: list[FigureFile] = field(default_factory=list)
    samples: list[SampleGrid] = field(default_factory=list)
    curves: list[FigureFile] = field(default_factory=list)
    spectra: list[FigureFile] = field(default_factory=list)


@dataclass(frozen=True)
class Head:
    label: str
    numeric: bool


@dataclass(frozen=True)
class Cell:
    text: str
    classes: str = ""
    badge: bool = False


@dataclass(frozen=True)
class Row:
    cells: list[Cell]
    non_gan: bool = False


@dataclass(frozen=True)
class TableView:
    """What the ``table`` macro shows of one board."""

    title: str
    protocol: list[str]
    fields: list[str]
    heads: list[Head]
    rows: list[Row]
    statistics: str | None = None
    legend: str | None = None
    notice: str | None = None


@lru_cache(maxsize=1)
def templates() -> Environment:
    """The page's template environment: templates shipped in the package, every value escaped."""
    return Environment(loader=PackageLoader("ganbench.leaderboards", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _best_rows(board: Board) -> dict[str, int]:
    """Row position of the best value of each column that has a better direction (two rows at least)."""
    best = {}
    for column in board.columns:
        if board.kind == "cross" or not column.better or column.name == "seeds":
            continue
        values = board.data[column.name].astype(float)
        if values.nunique() >= 2:
            best[column.name] = int(values.argmin() if column.better == "lower" else values.argmax())
    return best


def is_non_gan(board: Board, row: dict[str, Any]) -> bool:
    family = row.get("family")
    return board.kind == "generators" and not is_missing(family) and str(family).lower() != "gan"


def table_view(board: Board) -> TableView:
    """The board's title, notice, protocol, statistics, short headers, cells (the best of each column marked) and
    legend."""
    columns = shown_columns(board)
    places = column_places(board, columns)
    best = _best_rows(board)
    rows = []
    for position, record in enumerate(board.data.to_dict("records")):
        non_gan = is_non_gan(board, record)
        cells = []
        for column in columns:
            classes = ["num"] if right_aligned(column) else []
            if column is RANK:
                classes.append("rank")
            if column.name == board.columns[0].name:
                classes.append("subject")
            if best.get(column.name) == position:
                classes.append("best")
            if board.kind == "cross" and column.name == record.get("train_generator"):
                classes.append("diag")
            cells.append(Cell(cell(record, column, places.get(column.name, 0)), " ".join(classes),
                              badge=column.name == "family" and non_gan))
        rows.append(Row(cells, non_gan))
    return TableView(board.title, protocol_lines(board), protocol_fields(board),
                     [Head(label(c), right_aligned(c)) for c in columns], rows, statistics_line(board), legend(board),
                     board.notice)


def problem_rows(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"kind": p["kind"], "status": p["status"], "reason": p.get("reason") or "",
             "subject": " ".join(str(p[k]) for k in ("generator", "train_generator", "detector") if p.get(k))}
            for p in problems]


def render_page(leaderboard: Leaderboard, env: dict[str, Any], assets: Assets) -> str:
    """The whole page as one string."""
    boards = list(enumerate(leaderboard.boards))
    generators = [(i, b) for i, b in boards if b.kind == "generators"]
    detectors = [b for _, b in boards if b.kind == "detectors"]
    cross = [(i, b) for i, b in boards if b.kind == "cross"]
    arms_race = [b for _, b in boards if b.kind == "arms_race"]
    present = {"generators": bool(generators), "samples": bool(assets.samples),
               "curves": bool(assets.curves), "detectors": bool(detectors),
               "cross": bool(cross), "arms_race": bool(arms_race), "robustness": bool(detectors),
               "problems": bool(leaderboard.problems)}
    titles = {"generators": "Generators", "samples": "Samples",
              "curves": "Training curves", "detectors": "Detectors", "cross": "Cross-generator",
              "arms_race": "Arms race",
              "robustness": "Robustness", "problems": problems_title(leaderboard.problems)}
    sections = {anchor: title for anchor, title in titles.items() if present[anchor]} or {"empty": "No results"}
    return templates().get_template("index.html.j2").render(
        env=env, environment=environment_rows(env), sections=sections,
        notes={kind: note for kind, _, note in SECTIONS},
        generators=[table_view(b) for _, b in generators],
        scatter=[assets.scatter[i] for i, _ in generators if i in assets.scatter],
        non_gan=any(is_non_gan(b, r) for _, b in generators for r in b.data.to_dict("records")),
        samples=assets.samples, curves=assets.curves,
        detectors=[table_view(b) for b in detectors], roc=assets.roc, generator_roc=assets.generator_roc,
        calibration=assets.calibration, spectra=assets.spectra,
        cross=[(assets.heatmaps.get(i), table_view(b)) for i, b in cross],
        arms_race=[table_view(b) for b in arms_race],
        robustness=assets.robustness,
        problems=problem_rows(leaderboard.problems))
