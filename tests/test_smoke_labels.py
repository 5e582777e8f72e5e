"""Tables of smoke-preset records say so above the table, in every rendering; other tables do not."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from ganbench.leaderboards import build_leaderboard, print_leaderboard
from ganbench.leaderboards.environment import environment
from ganbench.leaderboards.html import Assets, render_page
from ganbench.leaderboards.markdown import leaderboard_markdown
from ganbench.leaderboards.tables import SMOKE_NOTICE
from ganbench.records import Record
from ganbench.store import unit_key

PROTOCOL = {"extractor": "classifier", "n_real": 100, "n_fake": 100, "real_split": "test"}


def make(kind: str, preset: str, dataset: str = "digits", **fields: Any) -> dict[str, Any]:
    key = unit_key({"kind": kind, "preset": preset, "dataset": dataset, **fields})
    return Record(kind=kind, key=key, dataset=dataset, preset=preset, seed=0, protocol=PROTOCOL, **fields).to_dict()


def records() -> list[dict[str, Any]]:
    """dcgan and wgan on digits under the smoke and the quick preset (one protocol for all), dcgan on mnist
    (quick), each with a quality record and a spectrum detection record."""
    found = []
    for dataset, preset, generators in (("digits", "smoke", ("dcgan", "wgan")), ("digits", "quick", ("dcgan", "wgan")),
                                        ("mnist", "quick", ("dcgan",))):
        for generator in generators:
            found.append(make("generation", preset, dataset, generator=generator, metrics={"fid": 10.0 + len(preset)}))
            found.append(make("detection", preset, dataset, generator=generator, train_generator=generator,
                              detector="spectrum", perturbation="none", metrics={"auc": 0.9}))
    return found


@pytest.fixture(scope="module")
def leaderboard():
    return build_leaderboard(records())


def test_tables_split_by_data_set_and_preset_and_smoke_ones_carry_the_notice(leaderboard) -> None:
    scopes = []
    for board in leaderboard.boards:
        if board.kind == "cross":
            scope = {tuple(board.title.rsplit(" · ", 1)[1].split(" / "))}
        else:
            scope = set(zip(board.data["dataset"], board.data["preset"]))
        assert len(scope) == 1, board.title
        scopes.append(scope.pop())
        assert board.notice == (SMOKE_NOTICE if scopes[-1][1] == "smoke" else None)
    assert sorted(set(scopes)) == [("digits", "quick"), ("digits", "smoke"), ("mnist", "quick")]
    assert scopes.count(("digits", "smoke")) == 3  # generators, detectors, the cross-generator matrix


def smoke_count(leaderboard) -> int:
    return sum(board.notice is not None for board in leaderboard.boards)


def test_terminal_tables_say_smoke_above_each_smoke_table(leaderboard) -> None:
    buffer = io.StringIO()
    print_leaderboard(records(), Console(file=buffer, width=200))
    lines = buffer.getvalue().splitlines()
    notices = [i for i, line in enumerate(lines) if line == SMOKE_NOTICE]
    assert len(notices) == smoke_count(leaderboard) == 3
    for index in notices:  # directly above a table; its board (since the blank line before) is a smoke one
        assert lines[index + 1].startswith("┏")
        start = max((i for i in range(index) if not lines[i].strip()), default=-1)
        assert "preset smoke" in "\n".join(lines[start:index]) or lines[start + 1].endswith("digits / smoke")


def test_markdown_quotes_the_notice_in_each_smoke_section(leaderboard) -> None:
    text = leaderboard_markdown(leaderboard, environment(records()))
    sections = text.split("\n### ")[1:]
    assert len(sections) == len(leaderboard.boards)
    for board, section in zip(leaderboard.boards, sections):
        quoted = f"> **{SMOKE_NOTICE}**"
        if board.notice:
            assert section.count(quoted) == 1 and section.index(quoted) < section.index("\n| ")
            assert "preset smoke" in section or "/ smoke" in section
        else:
            assert SMOKE_NOTICE not in section


def test_html_shows_a_banner_above_each_smoke_table(leaderboard) -> None:
    page = render_page(leaderboard, environment(records()), Assets())
    banner = f'<p class="notice" role="note">{SMOKE_NOTICE}</p>'
    assert page.count(banner) == smoke_count(leaderboard)
    tables = [part for part in page.split("<h3>")[1:] if "<table>" in part]
    assert len(tables) == len(leaderboard.boards)
    for board, part in zip(leaderboard.boards, tables):
        assert (banner in part) == bool(board.notice)
        if board.notice:
            assert part.index(banner) < part.index("<table>")
    assert ".notice {" in page
