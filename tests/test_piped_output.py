"""Tables written to a pipe or a file (no terminal, no ``COLUMNS``) keep their natural width: no
cell folded to a few characters, no row wrapped onto a second line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ganbench.cli import app


def table_rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("┃", "│"))]


def assert_unwrapped(output: str) -> None:
    """Every row of a table is one line with as many cells as the header, and no cell is cut."""
    rows = table_rows(output)
    assert rows and "…" not in output
    header = rows[0].count("┃")
    assert all(row.count("┃") == header or row.count("│") == header for row in rows), output


def test_a_piped_preset_table_holds_whole_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    result = CliRunner().invoke(app, ["list", "presets"])
    assert result.exit_code == 0, result.output
    assert_unwrapped(result.output)
    (quick,) = [row for row in table_rows(result.output) if "quick" in row]
    assert "compact" in quick and "checkpoint_every" in result.output
    assert len(table_rows(result.output)) == 1 + 4


def test_columns_still_sets_the_width_of_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = CliRunner().invoke(app, ["list", "presets"])
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) <= 60


def test_a_piped_leaderboard_is_not_squeezed(smoke_run, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = smoke_run
    monkeypatch.delenv("COLUMNS", raising=False)
    result = CliRunner().invoke(app, ["leaderboard", "show", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "dcgan" in result.output and "…" not in result.output
    assert any("generator" in row and "FID" in row for row in table_rows(result.output))
