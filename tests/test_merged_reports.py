"""One report from many sources: run folders and results.json files merged by unit, conflicts named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.errors import UserError
from ganbench.leaderboards import build_leaderboard
from ganbench.leaderboards.publish import publish
from ganbench.leaderboards.sources import Source, merge, read_records, read_results, read_sources
from ganbench.records import record_from_dict
from ganbench.store import RunStore, unit_key


def variant(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The record of another unit: ``changes`` applied, a new key, and no files of the original run folder."""
    info = {k: v for k, v in (body.get("info") or {}).items() if k not in ("samples", "curves", "checkpoint", "fakes")}
    return {**body, **changes, "info": info, "key": unit_key({"of": body["key"], **changes})}


def write_run(folder: Path, bodies: list[dict[str, Any]]) -> Path:
    store = RunStore(folder)
    for body in bodies:
        store.write_record(record_from_dict(body), f"{body['kind']}-{body['key']}")
    return folder


@pytest.fixture(scope="module")
def sources(smoke_run, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The smoke run (digits); a second run folder of the same units on mnist plus one unit of the smoke run
    with another FID (a conflict); a results.json published from a third folder (the smoke units, seed 1)."""
    smoke, result = smoke_run
    assert result.exit_code == 0, result.output
    records = read_records(smoke)
    root = tmp_path_factory.mktemp("merged")
    generation = next(r for r in records if r["kind"] == "generation")
    edited = {**generation, "metrics": {**generation["metrics"], "fid": generation["metrics"]["fid"] + 1.0}}
    mnist = write_run(root / "mnist", [variant(r, dataset="mnist") for r in records] + [edited])
    seed1 = write_run(root / "seed1", [variant(r, seed=1) for r in records])
    publish(seed1, root / "earlier", ["json"])
    return {"smoke": smoke, "mnist": mnist, "results": root / "earlier" / "results.json", "records": records,
            "generation": generation, "root": root}


def board_keys(board) -> set[tuple[str, str]]:
    return set(zip(board.data["dataset"], board.data["preset"])) if "dataset" in board.data else set()


def test_the_merged_report_holds_every_source_and_names_the_conflict(sources: dict[str, Any]) -> None:
    lines: list[str] = []
    merged = read_sources([sources["smoke"], sources["mnist"], sources["results"]], lines.append)
    n = len(sources["records"])
    assert len(merged.records) == 3 * n  # the conflicting record kept once, from the first source
    assert merged.run_folders == [sources["smoke"], sources["mnist"]]
    (conflict,) = merged.conflicts
    (line,) = lines
    generation = sources["generation"]
    assert generation["key"] in line and str(sources["smoke"]) in line and str(sources["mnist"]) in line
    assert "fid" in line and "(kept)" in line
    kept = next(r for r in merged.records if r["key"] == generation["key"])
    assert kept["metrics"]["fid"] == generation["metrics"]["fid"]
    leaderboard = build_leaderboard(merged.records, conflicts=merged.problems)
    generators = leaderboard.of_kind("generators")
    assert sorted(board_keys(b).pop() for b in generators) == [("digits", "smoke"), ("mnist", "smoke")]
    assert all(len(board_keys(b)) == 1 for b in leaderboard.boards if b.kind != "cross")
    digits = next(b for b in generators if board_keys(b) == {("digits", "smoke")})
    assert list(digits.data["seeds"]) == [2]  # seed 0 from the run folder, seed 1 from the results.json
    fids = [r["metrics"]["fid"] for r in merged.records if r["kind"] == "generation" and r["dataset"] == "digits"]
    assert digits.data["fid"].iloc[0] == pytest.approx(sum(fids) / 2)
    assert [p["status"] for p in leaderboard.problems] == ["conflict"]


def test_records_of_one_unit_that_differ_in_wall_clock_alone_are_no_conflict(sources: dict[str, Any]) -> None:
    """The same unit run on a faster machine: other times and rates per second, the same results."""
    generation = sources["generation"]
    timed = {**generation, "seconds": generation.get("seconds", 0.0) + 5.0,
             "metrics": {**generation["metrics"], "images_per_second": 1.0, "fit_seconds": 99.0}}
    merged = merge([Source(Path("a"), [generation], True), Source(Path("b"), [timed], True)])
    assert merged.records == [generation] and not merged.conflicts
    other = {**timed, "metrics": {**timed["metrics"], "fid": generation["metrics"]["fid"] + 0.5}}
    (conflict,) = merge([Source(Path("a"), [generation], True), Source(Path("b"), [other], True)]).conflicts
    assert conflict.differ == ["fid"]


def test_the_cli_merges_and_publishes(sources: dict[str, Any], tmp_path: Path) -> None:
    cli = CliRunner()
    args = ["--out", str(sources["smoke"]), "--out", str(sources["mnist"]), str(sources["results"])]
    shown = cli.invoke(app, ["leaderboard", "show", *args, "--table", "generators"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    warnings = [line for line in shown.stderr.splitlines() if line.startswith("warning: conflicting records")]
    assert len(warnings) == 1 and sources["generation"]["key"] in warnings[0]
    assert shown.stdout.count("Generators") == 2 and "data set mnist" in shown.stdout
    assert f"generation dcgan: conflict (key {sources['generation']['key']}" in shown.stdout
    site = tmp_path / "site"
    published = cli.invoke(app, ["leaderboard", "publish", *args, "--site", str(site)])
    assert published.exit_code == 0, published.output
    markdown = (site / "leaderboard.md").read_text()
    assert "## Units that did not finish, conflicting records" in markdown and "| conflict |" in markdown
    page = (site / "index.html").read_text()
    assert page.count('alt="samples of dcgan"') == 1  # only the run folder that holds the grid shows it
    assert page.count("sample grid not found") == 1  # the mnist units name no file of a run folder
    document = json.loads((site / "results.json").read_text())
    assert document["sources"] == [str(sources["smoke"]), str(sources["mnist"]), str(sources["results"])]
    again = read_sources([site / "results.json"], lambda line: None)
    assert len(again.records) == 3 * len(sources["records"])
    assert build_leaderboard(again.records).boards[0].data.equals(build_leaderboard(
        read_sources([sources["smoke"], sources["mnist"], sources["results"]], lambda line: None).records
    ).boards[0].data)


def test_bad_and_old_results_files(tmp_path: Path, sources: dict[str, Any]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(UserError, match="not a JSON file"):
        read_results(broken)
    (tmp_path / "other.json").write_text(json.dumps({"tables": []}))
    with pytest.raises(UserError, match="no records list"):
        read_results(tmp_path / "other.json")
    (tmp_path / "row.json").write_text(json.dumps({"format": 2, "records": [{"kind": "train"}]}))
    with pytest.raises(UserError, match="record 0 is not a ganbench record"):
        read_results(tmp_path / "row.json")
    document = json.loads(sources["results"].read_text())
    old = {"records": [{k: v for k, v in r.items() if k not in ("info", "created", "ganbench_version")}
                       for r in document["records"]]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    lines: list[str] = []
    assert len(read_results(tmp_path / "old.json", lines.append)) == len(document["records"])
    assert len(lines) == 1 and "older ganbench" in lines[0]
    result = CliRunner().invoke(app, ["leaderboard", "show", str(broken), "--out", str(sources["smoke"])])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "not a JSON file" in result.output
    twice = CliRunner().invoke(app, ["leaderboard", "show", "--out", str(sources["smoke"]), str(sources["smoke"])])
    assert twice.exit_code == 2 and "more than once" in twice.output


def recomputed(body: dict[str, Any], created: str, **metrics: float) -> dict[str, Any]:
    """The record of the same question computed again (other code or options: a new key), at ``created``."""
    return {**variant(body, created=created), "metrics": {**body["metrics"], **metrics}}


def test_an_older_answer_to_the_same_question_is_superseded_never_averaged(sources: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    """One run folder holds a generation record of the same generator, data set, preset and seed twice, the
    second computed later with other code: the table shows the newer FID, not their mean, and says so."""
    generation = sources["generation"]
    old = recomputed(generation, "2020-01-01T00:00:00+00:00", fid=500.0)
    new = recomputed(generation, "2030-01-01T00:00:00+00:00", fid=7.0)
    folder = write_run(tmp_path / "run", [r for r in sources["records"] if r["kind"] != "generation"] + [new, old])
    lines: list[str] = []
    merged = read_sources([folder], lines.append)
    assert [r["key"] for r in merged.records if r["kind"] == "generation"] == [new["key"]]
    (superseded,) = merged.superseded
    assert superseded.record["key"] == old["key"] and superseded.newer["key"] == new["key"]
    (line,) = lines
    assert line.startswith("left out 1 older record(s) superseded") and f"key {old['key']} by {new['key']}" in line
    leaderboard = build_leaderboard(merged.records, conflicts=merged.problems)
    (board,) = leaderboard.of_kind("generators")
    assert list(board.data["fid"]) == [7.0] and list(board.data["seeds"]) == [1]
    assert [p["status"] for p in leaderboard.problems] == ["superseded"]
    assert new["key"] in leaderboard.problems[0]["reason"]
    shown = CliRunner().invoke(app, ["leaderboard", "show", "--out", str(folder), "--table", "generators"],
                               env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and "warning: left out 1 older record(s) superseded" in shown.stderr
    assert "generation dcgan: superseded" in shown.stdout


def test_answers_to_other_questions_are_all_kept(sources: dict[str, Any]) -> None:
    """Another seed, another protocol (features of another extractor) or a detector built with other
    arguments is another question: nothing is superseded, whatever the dates."""
    generation = sources["generation"]
    detection = next(r for r in sources["records"] if r["kind"] == "detection")
    others = [recomputed(generation, "2030-01-01T00:00:00+00:00", fid=7.0) | {"seed": 5},
              recomputed(generation, "2030-01-02T00:00:00+00:00")
              | {"protocol": {**generation["protocol"], "extractor": "inception", "weights": "pt_inception"}},
              recomputed(detection, "2030-01-03T00:00:00+00:00")
              | {"protocol": {**detection["protocol"], "detector": {"arguments": {"epochs": 9}}}}]
    merged = merge([Source(Path("a"), [*sources["records"], *others], True)])
    assert not merged.superseded and len(merged.records) == len(sources["records"]) + 3
