"""``leaderboard.md``: GitHub-flavoured Markdown tables (GitHub Flavored Markdown Spec, 0.29-gfm, 2019).

Cells are escaped so that a user string can neither break the table (``|``, new lines) nor inject
HTML (``<``, ``>``, ``&``).
"""

from __future__ import annotations

import html
from typing import Any

from ganbench.leaderboards.environment import environment_rows
from ganbench.leaderboards.formatting import (label, legend, protocol_lines, right_aligned, shown_columns,
                                              statistics_line, text_rows)
from ganbench.leaderboards.tables import Board, Leaderboard


def escape(text: str) -> str:
    """Markdown table cell text: HTML-escaped, pipes and backslashes escaped, one line."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def board_markdown(board: Board) -> str:
    """A section for one table: its title, its protocol and statistics stated once, its notice as a quote
    (smoke-preset rows) right above the table with short headers, then the legend of its rank marks."""
    columns = shown_columns(board)
    heads = [escape(label(c)) for c in columns]
    align = ["---:" if right_aligned(c) else ":---" for c in columns]
    lead, *groups = protocol_lines(board) or [""]
    lines = [f"### {escape(board.title)}", ""]
    if lead:
        lines += [escape(lead), ""] + [f"- {escape(line)}" for line in groups] + ([""] if groups else [])
    if statistics := statistics_line(board):
        lines += [escape(statistics), ""]
    if board.notice:
        lines += [f"> **{escape(board.notice)}**", ""]
    lines += ["| " + " | ".join(heads) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(escape(v) for v in row) + " |" for row in text_rows(board, columns)]
    if marks := legend(board):
        lines += ["", escape(marks)]
    return "\n".join(lines) + "\n"


def environment_markdown(env: dict[str, Any]) -> str:
    return "| | |\n|:---|:---|\n" + "\n".join(f"| {escape(k)} | {escape(str(v))} |"
                                             for k, v in environment_rows(env)) + "\n"


SECTIONS = (("generators", "Generators", "Mean ± sample std over seeds; ranked by the sort metric, with its 95% "
             "t-interval. Detector AUC: every detector (and training generator) on the generator's fresh, clean "
             "fakes; lower means harder to detect. Image-to-image generators translate real test images, so their "
             "FID is not comparable with a generator's from noise: they have tables of their own, one per task."),
            ("detectors", "Detectors", "In-distribution: trained and tested on the same generator. Cross-generator: "
             "mean over the off-diagonal of the matrix below. Robustness: mean AUC under each perturbation family. "
             "[low, high]: the 95% interval the protocol line names. Null check: real vs real; the checks of a table "
             "are judged together (Holm), so a sound detector is not called failed by a 1-in-20 chance."),
            ("cross", "Cross-generator matrices", "Rows: the generator the detector was trained on; columns: the "
             "generator of the fresh test fakes."),
            ("arms_race", "Arms race", "Each detector trained on the fakes of one generator of the pair and tested on "
             "the fresh fakes of the same and of the other generator (train → test), AUC with its 95% interval. "
             "The one-class detector never sees a fake: it is fitted on reals only."))


def problems_title(problems: list[dict[str, Any]]) -> str:
    """The heading of the problems section; it names conflicting records where merged sources disagree
    and superseded records where newer ones of the same table cells replaced them."""
    statuses = {p["status"] for p in problems}
    named = [text for status, text in (("conflict", "conflicting records"), ("superseded", "superseded records"))
             if status in statuses]
    return ", ".join(["Units that did not finish", *named])


def leaderboard_markdown(leaderboard: Leaderboard, env: dict[str, Any]) -> str:
    parts = ["# ganbench leaderboard", "", environment_markdown(env)]
    for kind, title, note in SECTIONS:
        boards = leaderboard.of_kind(kind)
        if boards:
            parts += [f"## {title}", "", note, ""] + [board_markdown(b) for b in boards]
    if leaderboard.problems:
        parts += [f"## {problems_title(leaderboard.problems)}", "", "| unit | subject | status | reason |", "|:---|:---|:---|:---|"]
        for p in leaderboard.problems:
            subject = " ".join(str(p[k]) for k in ("generator", "train_generator", "detector") if p.get(k))
            parts.append(f"| {escape(p['kind'])} | {escape(subject)} | {escape(p['status'])} | {escape(p['reason'] or '')} |")
        parts.append("")
    return "\n".join(parts)
