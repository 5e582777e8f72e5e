"""Leaderboard tables and renderings from synthetic records whose true aggregates are known."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from rich.console import Console

from ganbench.detectors.evaluate import roc_points
from ganbench.cli import app
from ganbench.errors import UserError
from ganbench.records import Record, record_from_dict
from ganbench.store import RunStore, unit_key
from ganbench.leaderboards import build_leaderboard, records_frame
from ganbench.leaderboards.environment import environment
from ganbench.leaderboards.exports import results_csv
from ganbench.leaderboards.formatting import decimals, label, number, shown_columns
from ganbench.leaderboards.markdown import leaderboard_markdown
from ganbench.leaderboards.html import Assets, render_page, templates
from ganbench.leaderboards.publish import parse_formats, publish
from ganbench.leaderboards.terminal import print_detector

GENERATORS = {"dcgan": "gan", "wgan": "gan", "vae": "vae"}
FID = {("dcgan", 0): 10.0, ("dcgan", 1): 12.0, ("wgan", 0): 8.0, ("wgan", 1): 9.0, ("vae", 0): 30.0, ("vae", 1): 30.5}
RANK = {"dcgan": 0, "wgan": 1, "vae": 2}
DETECTORS = ("spectrum", "cnn")
GEN_PROTOCOL = {"extractor": "classifier", "resize": "none", "n_real": 360, "n_fake": 500, "real_split": "test"}
DET_PROTOCOL = {"n_real": 200, "n_fake": 200, "real_split": "test", "threshold": "validation of train generator"}
ROC = [[0.0, 0.0], [0.1, 0.6], [0.3, 0.9], [1.0, 1.0]]


def auc(detector: str, train: str, test: str, seed: int) -> float:
    """A known AUC per cell: in-distribution high, cross lower, varying with seed."""
    base = 0.95 if train == test else 0.70
    return base - 0.05 * RANK.get(test, 1) - (0.04 if detector == "cnn" else 0.0) - 0.01 * seed


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def make(kind: str, seed: int = 0, dataset: str = "digits", preset: str = "smoke", **fields: Any) -> dict[str, Any]:
    record = Record(kind=kind, key=unit_key({"kind": kind, "seed": seed, **fields}), dataset=dataset, preset=preset,
                    seed=seed, **fields)
    return record.to_dict()


def synthetic_records(names: dict[str, str] = GENERATORS, seeds: tuple[int, ...] = (0, 1)) -> list[dict[str, Any]]:
    records = []
    for seed in seeds:
        for name, family in names.items():
            records.append(make("train", seed, generator=name, metrics={"steps": 60, "params": 1000 + len(name),
                                "train_seconds": 2.0 + seed}, info={"family": family, "device": "cpu",
                                "torch": "2.4.0", "data": "abc123def4567890"}))
            records.append(make("sample", seed, generator=name, metrics={"images_per_second": 100.0 * (seed + 1)},
                                info={"samples": f"samples/{safe(name)}-s{seed}.png"}))
            records.append(make("generation", seed, generator=name,
                                metrics={"fid": FID.get((name, seed), 20.0), "is": 2.0 + seed, "classes_covered": 10},
                                protocol={**GEN_PROTOCOL, "weights": f"w{seed}", "classifier_test_acc": 0.9}))
            for detector in DETECTORS:
                for train in names:
                    value = auc(detector, train, name, seed)
                    records.append(make("detection", seed, generator=name, train_generator=train, detector=detector,
                                        perturbation="none", metrics={"auc": value, "ap": value, "acc": value - 0.1},
                                        protocol=DET_PROTOCOL, info={"fit_seconds": 1.5, "images_per_second": 400.0,
                                                                     "roc": ROC}))
                for perturbation, drop in (("jpeg:90", 0.05), ("jpeg:50", 0.2), ("blur:1", 0.1), ("blur:2", 0.3)):
                    records.append(make("detection", seed, generator=name, train_generator=name, detector=detector,
                                        perturbation=perturbation, protocol=DET_PROTOCOL,
                                        metrics={"auc": auc(detector, name, name, seed) - drop}))
        for detector in DETECTORS:
            records.append(make("detection", seed, generator="real", train_generator="dcgan", detector=detector,
                                perturbation="none", protocol=DET_PROTOCOL,
                                metrics={"auc": 0.5 + 0.01 * seed, "auc_ci_low": 0.44, "auc_ci_high": 0.56}))
    records.append(make("detection", 0, generator="dcgan", detector="human:alice", perturbation="none",
                        metrics={"fooled_rate": 0.4}, protocol={"n_real": 20, "n_fake": 20}))
    records.append(make("detection", 0, generator="dcgan", detector="human:bob", perturbation="none",
                        metrics={"fooled_rate": 0.2}, protocol={"n_real": 20, "n_fake": 20}))
    records.append(make("train", 0, generator="broken", status="failed", reason="RuntimeError: <boom>"))
    return records


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return synthetic_records()


@pytest.fixture(scope="module")
def leaderboard(records: list[dict[str, Any]]):
    return build_leaderboard(records)


def row(board, key: str, value: str) -> dict[str, Any]:
    matches = [r for r in board.data.to_dict("records") if r[key] == value]
    assert len(matches) == 1, (key, value, matches)
    return matches[0]


# ------------------------------------------------------------------------------ tables
def test_generator_table_means_and_stds_over_seeds(leaderboard) -> None:
    (board,) = leaderboard.of_kind("generators")
    dcgan = row(board, "generator", "dcgan")
    assert dcgan["fid"] == pytest.approx(11.0)
    assert dcgan["fid_std"] == pytest.approx(math.sqrt(2.0))
    assert dcgan["fid_n"] == 2 and dcgan["seeds"] == 2
    assert dcgan["is"] == pytest.approx(2.5)
    assert dcgan["train_seconds"] == pytest.approx(2.5) and dcgan["images_per_second"] == pytest.approx(150.0)
    per_seed = [[auc(d, t, "dcgan", s) for d in DETECTORS for t in GENERATORS] for s in (0, 1)]
    assert dcgan["detect_auc_mean"] == pytest.approx(np.mean([np.mean(v) for v in per_seed]))
    assert dcgan["detect_auc_worst"] == pytest.approx(np.mean([min(v) for v in per_seed]))
    assert dcgan["detect_auc_worst"] < dcgan["detect_auc_mean"]
    assert dcgan["fooled_rate"] == pytest.approx(0.3)
    assert row(board, "generator", "vae")["family"] == "vae"
    assert board.protocols["quality"]["extractor"] == "classifier"
    assert "weights" not in board.protocols["quality"]


def test_generators_sorted_by_fid_and_by_any_column(leaderboard) -> None:
    (board,) = leaderboard.of_kind("generators")
    assert list(board.data.generator) == ["wgan", "dcgan", "vae"]
    by_auc = leaderboard.sorted_by("detect_auc_mean").of_kind("generators")[0]
    assert list(by_auc.data.detect_auc_mean) == sorted(board.data.detect_auc_mean)
    by_params = leaderboard.sorted_by("params").of_kind("generators")[0]
    assert list(by_params.data.generator) == ["vae", "wgan", "dcgan"]
    detectors = leaderboard.sorted_by("in_auc").of_kind("detectors")[0]
    assert list(detectors.data.detector) == ["spectrum", "cnn"]
    with pytest.raises(UserError, match="no column 'nope'"):
        leaderboard.sorted_by("nope")


def test_rows_of_different_protocols_never_share_a_table(records) -> None:
    extra = [make("generation", 0, generator="dcgan", metrics={"fid": 99.0},
                  protocol={**GEN_PROTOCOL, "extractor": "inception", "weights": "pt_inception-2015-12-05"}),
             make("detection", 0, generator="dcgan", train_generator="dcgan", detector="big", perturbation="none",
                  metrics={"auc": 0.99}, protocol={**DET_PROTOCOL, "n_real": 1000, "n_fake": 1000})]
    leaderboard = build_leaderboard(records + extra)
    generators = leaderboard.of_kind("generators")
    seen = set()
    for board in generators:
        quality, detection = board.protocols["quality"], board.protocols["detection"]
        seen.add((quality["extractor"], detection["n_real"]))
        fids = set(board.data.fid)
        assert fids == {99.0} if quality["extractor"] == "inception" else 99.0 not in fids
        if detection["n_real"] == 1000:
            assert list(board.data.generator) == ["dcgan"]
            assert list(board.data.detect_auc_mean) == [0.99]
    assert seen == {("classifier", 200), ("classifier", 1000), ("inception", 200), ("inception", 1000)}
    main = next(b for b in generators if b.protocols["quality"]["extractor"] == "classifier"
                and b.protocols["detection"]["n_real"] == 200)
    assert sorted(main.data.generator) == sorted(GENERATORS)
    detectors = leaderboard.of_kind("detectors")
    big = next(b for b in detectors if b.protocols.get("clean", {}).get("n_real") == 1000)
    assert list(big.data.detector) == ["big"]
    assert all("big" not in set(b.data.detector) for b in detectors if b is not big)


def test_cells_of_the_evaluation_design_share_one_table(records) -> None:
    """Protocol name and training generators place a detection row in the design; they do not split tables."""
    designs = [("cross-generator", ["dcgan"]), ("train-on-all", ["dcgan", "wgan"]), ("leave-one-out", ["wgan"])]
    extra = [make("detection", 0, generator="dcgan", train_generator=label, detector="spectrum", perturbation="none",
                  metrics={"auc": 0.7}, protocol={**DET_PROTOCOL, "name": name, "train_generators": trained})
             for (name, trained), label in zip(designs, ["dcgan", "all", "all-but:dcgan"])]
    leaderboard = build_leaderboard(records + extra)
    assert len(leaderboard.of_kind("generators")) == 1 and len(leaderboard.of_kind("detectors")) == 1


def test_detector_table(leaderboard) -> None:
    spectrum = row(next(b for b in leaderboard.of_kind("detectors") if "spectrum" in set(b.data.detector)),
                   "detector", "spectrum")
    in_dist = [np.mean([auc("spectrum", g, g, s) for g in GENERATORS]) for s in (0, 1)]
    assert spectrum["in_auc"] == pytest.approx(np.mean(in_dist))
    assert spectrum["in_auc_std"] == pytest.approx(np.std(in_dist, ddof=1))
    assert spectrum["worst_generator"] == "vae"
    assert spectrum["worst_auc"] == pytest.approx(np.mean([auc("spectrum", "vae", "vae", s) for s in (0, 1)]))
    cross = [np.mean([auc("spectrum", t, g, s) for t in GENERATORS for g in GENERATORS if t != g]) for s in (0, 1)]
    assert spectrum["cross_auc"] == pytest.approx(np.mean(cross))
    assert spectrum["auc_jpeg"] == pytest.approx(np.mean(in_dist) - (0.05 + 0.2) / 2)
    assert spectrum["auc_blur"] == pytest.approx(np.mean(in_dist) - (0.1 + 0.3) / 2)
    assert spectrum["null_auc"] == pytest.approx(0.505) and spectrum["null_auc_ci_low"] == pytest.approx(0.44)
    assert spectrum["fit_seconds"] == pytest.approx(1.5) and spectrum["detect_ips"] == pytest.approx(400.0)


def test_cross_matrix(leaderboard) -> None:
    board = next(b for b in leaderboard.of_kind("cross") if b.subject == "cnn")
    assert list(board.data.train_generator) == sorted(GENERATORS)
    assert [c.name for c in board.columns[1:]] == sorted(GENERATORS)
    for train in GENERATORS:
        for test in GENERATORS:
            expected = np.mean([auc("cnn", train, test, s) for s in (0, 1)])
            assert row(board, "train_generator", train)[test] == pytest.approx(expected)


def test_missing_kinds_degrade_to_fewer_columns() -> None:
    only_train = [r for r in synthetic_records() if r["kind"] in ("train", "sample")]
    leaderboard = build_leaderboard(only_train)
    (board,) = leaderboard.of_kind("generators")
    assert {c.name for c in board.columns} >= {"params", "train_seconds", "images_per_second"}
    assert board.column("fid") is None and board.column("detect_auc_mean") is None
    assert not leaderboard.of_kind("detectors") and not leaderboard.of_kind("cross")
    assert [p["generator"] for p in leaderboard.problems] == ["broken"]
    assert build_leaderboard([]).boards == []


def test_environment_comes_from_records(records) -> None:
    env = environment(records)
    assert env["device"] == ["cpu"] and env["torch"] == ["2.4.0"]
    assert env["datasets"] == {"digits": ["abc123def4567890"]}
    assert env["ganbench"] and env["records"] == len(records)


def test_roc_points_are_bounded_and_monotone() -> None:
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(500), np.ones(500)]
    scores = rng.normal(size=1000) + labels
    points = np.asarray(roc_points(labels, scores))
    assert 2 < len(points) <= 50
    assert points[0].tolist() == [0.0, 0.0] and points[-1].tolist() == [1.0, 1.0]
    assert np.all(np.diff(points[:, 0]) >= 0) and np.all(np.diff(points[:, 1]) >= 0)
    assert np.trapezoid(points[:, 1], points[:, 0]) == pytest.approx(0.76, abs=0.03)


# ------------------------------------------------------------------------------ renderings
def markdown_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    tables, lines = [], text.splitlines()
    split = re.compile(r"(?<!\\)\|")
    for i, line in enumerate(lines):
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1]) <= set("|:-") and lines[i + 1]:
            cells = lambda s: [c.strip().replace("\\|", "|") for c in split.split(s)[1:-1]]  # noqa: E731
            body = []
            for follow in lines[i + 2:]:
                if not follow.startswith("|"):
                    break
                body.append(cells(follow))
            tables.append((cells(line), body))
    return tables


def parse_number(text: str) -> tuple[float, float | None]:
    mean, _, std = text.partition(" ± ")
    return float(mean.replace(",", "")), float(std.replace(",", "")) if std else None


def places(text: str) -> int:
    """Decimals written in a cell (of its mean; the spread uses the same)."""
    mean = text.partition(" ± ")[0]
    return len(mean.partition(".")[2])


def test_markdown_round_trips_to_the_same_numbers(leaderboard, records) -> None:
    text = leaderboard_markdown(leaderboard, environment(records))
    tables = markdown_tables(text)
    assert len(tables) == len(leaderboard.boards) + 2  # environment, the tables, units that did not finish
    tables = tables[1:-1]
    for board, (heads, body) in zip(leaderboard.boards, tables):
        columns = shown_columns(board)
        assert heads == [label(c) for c in columns] and len(body) == len(board.data)
        assert not any("(" in head or "n=" in head for head in heads), heads
        for index, column in enumerate(columns):
            cells = [cells[index] for cells in body if cells[index] != "–"]
            if column.numeric and cells:
                assert len({places(c) for c in cells}) == 1, (column.name, cells)  # one format per column
        for record, cells in zip(board.data.to_dict("records"), body):
            for column, text_cell in zip(columns, cells):
                if not column.numeric or text_cell == "–":
                    continue
                mean, std = parse_number(text_cell)
                tolerance = 0.51 * 10 ** -places(text_cell) + 1e-12
                assert mean == pytest.approx(record[column.name], abs=tolerance)
                if std is not None:
                    assert std == pytest.approx(record[f"{column.name}_std"], abs=tolerance)
    assert tables[0][0][:7] == ["rank", "generator", "family", "seeds ↑", "FID ↓", "FID 95% CI", "IS ↑"]
    assert [row[4] for row in tables[0][1]] == ["8.50 ± 0.71", "11.00 ± 1.41", "30.25 ± 0.35"]
    assert [row[5] for row in tables[0][1]] == ["[2.15, 14.85]", "[-1.71, 23.71]", "[27.07, 33.43]"]


def sections(markdown: str) -> dict[str, list[str]]:
    """The lines of each ``###`` section of a Markdown document, by title."""
    found: dict[str, list[str]] = {}
    for part in markdown.split("\n### ")[1:]:
        title, *lines = part.split("\n")
        found[title] = lines
    return found


def test_markdown_states_each_protocol_once_above_its_table(leaderboard, records) -> None:
    text = leaderboard_markdown(leaderboard, environment(records))
    found = sections(text)
    assert len(found) == len(leaderboard.boards)
    for title, lines in found.items():
        table = next(i for i, line in enumerate(lines) if line.startswith("|"))
        protocol = [i for i, line in enumerate(lines) if line.startswith("Protocol")]
        assert len(protocol) == 1 and protocol[0] < table, title
    generators = found["Generators"]
    assert generators[1] == "Protocol: data set digits · preset smoke"
    assert "- quality (FID, IS, classes covered): classifier features · real test n=360 · fake n=500" in generators
    assert "- cost (train s, sampling img/s): cpu" in generators
    assert found["Detectors"][1] == ("Protocol: data set digits · preset smoke · real test n=200 · fake n=200 · "
                                     "threshold from validation of train generator")
    assert found["Cross-generator AUC · cnn · digits / smoke"][1].startswith("Protocol: real test n=200")
    assert text.count("n=360") == 1


def test_numbers_keep_one_format_per_column() -> None:
    assert decimals([3.955, 156.7, 110.0, 20.02, 29.09]) == 2
    assert decimals([0.05513, 0.1766, 8.712, 0.001601]) == 4
    assert decimals([4522.0, 66393.0, 36.39]) == 0
    assert decimals([10, 9, 4], integer=True) == 0 and decimals([9.5, 10], integer=True) == 1
    assert decimals([0.0, float("nan")]) == 0
    assert number(66393.0, 0) == "66,393" and number(0.0002160, 4) == "0.0002" and number(-0.00001, 2) == "0.00"
    assert number(float("nan"), 2) == "–"


def test_csv_round_trips_exactly(leaderboard) -> None:
    frame = pd.read_csv(io.StringIO(results_csv(leaderboard)))
    checked = 0
    for index, board in enumerate(leaderboard.boards):
        part = frame[frame.table == index]
        key = board.columns[0].name
        for record in board.data.to_dict("records"):
            for column in board.columns[1:]:
                if not column.numeric or column.name in ("dataset", "preset"):
                    continue
                (cell,) = part[(part.row == record[key]) & (part.column == column.name)].to_dict("records")
                if pd.isna(record[column.name]):
                    assert pd.isna(cell["mean"])
                else:
                    assert cell["mean"] == record[column.name]
                    checked += 1
    assert checked > 50


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    names = {"dcgan": "gan", "<script>alert(1)</script>": "gan", "vae": "vae"}
    run = tmp_path_factory.mktemp("run")
    store = RunStore(run)
    for record in synthetic_records(names):
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    for name in names:
        for seed in (0, 1):
            Image.new("L", (34, 34), 128).save(run / "samples" / f"{safe(name)}-s{seed}.png")
    out = tmp_path_factory.mktemp("site")
    written = publish(run, out)
    assert sorted(p.name for p in written) == ["index.html", "leaderboard.md", "results.csv", "results.json"]
    return out


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self.sections: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "img":
            self.images.append(values["src"] or "")
        if tag == "section":
            self.sections.append(values.get("id") or "")
        if tag in ("link", "script", "a") and values.get("href", "#").split("#")[0]:
            self.links.append(values.get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_parses_and_every_image_exists(site: Path) -> None:
    parser = PageParser()
    parser.feed((site / "index.html").read_text())
    parser.close()
    assert parser.sections[:5] == ["generators", "samples", "detectors", "cross", "robustness"]
    assert parser.tags.count("table") >= 5
    assert not parser.links, "the page must not load anything from elsewhere"
    kinds = {name.split("-")[0] for name in parser.images}
    assert kinds == {"scatter", "samples", "roc", "cross", "robustness"}
    assert len([n for n in parser.images if n.startswith("samples")]) == 3
    for name in parser.images:
        assert "/" not in name and (site / name).is_file(), name
        with Image.open(site / name) as image:
            assert image.format == "PNG" and min(image.size) >= 30
    text = "".join(parser.text)
    for fact in ("2.4.0", "cpu", "abc123def4567890", "0.1.0"):
        assert fact in text
    assert "RuntimeError: <boom>" in text


def test_user_strings_are_escaped(site: Path) -> None:
    page = (site / "index.html").read_text()
    parser = PageParser()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "<script>alert(1)</script>" in "".join(parser.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    markdown = (site / "leaderboard.md").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    document = json.loads((site / "results.json").read_text())
    assert any(r["generator"] == "<script>alert(1)</script>" for t in document["tables"] for r in t["rows"]
               if "generator" in r)
    rows = list(csv.DictReader(io.StringIO((site / "results.csv").read_text())))
    assert any(r["row"] == "<script>alert(1)</script>" for r in rows)


def test_html_states_each_protocol_once_above_its_table(site: Path) -> None:
    page = (site / "index.html").read_text()
    tables = [part for part in page.split("<h3>")[1:] if "<table>" in part]
    assert len(tables) == 4
    for part in tables:
        protocol = '<div class="protocol">'
        assert part.count(protocol) == 1 and part.index(protocol) < part.index("<table>")
    generators = tables[0]
    assert "<p>Protocol: data set digits · preset smoke</p>" in generators
    quality = "quality (FID, IS, classes covered): classifier features · real test n=360 · fake n=500"
    assert f"<li>{quality}</li>" in generators
    heads = re.findall(r'<th class="(?:num|text)" scope="col">([^<]*)</th>', generators)
    assert heads[:6] == ["rank", "generator", "family", "seeds ↑", "FID ↓", "FID 95% CI"]
    assert "extractor=classifier" in generators.split("<table>")[1]  # every field, in a collapsed block below


def test_templates_escape_detector_names() -> None:
    name = '<script>alert("x")</script>'
    records = [r | {"detector": name} if r.get("detector") == "cnn" else r
               for r in synthetic_records({"dcgan": "gan", "vae": "vae"}, seeds=(0,))]
    page = render_page(build_leaderboard(records), environment(records), Assets())
    parser = PageParser()
    parser.feed(page)
    assert templates().autoescape is True
    assert "script" not in parser.tags and "<script>" not in page
    text = "".join(parser.text)
    assert name in text and f"Cross-generator AUC · {name} · digits / smoke" in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_json_holds_tables_environment_and_records(site: Path) -> None:
    document = json.loads((site / "results.json").read_text())
    kinds = [t["kind"] for t in document["tables"]]
    assert kinds == ["generators", "detectors", "cross", "cross"]
    generators = document["tables"][0]
    dcgan = next(r for r in generators["rows"] if r["generator"] == "dcgan")
    assert dcgan["fid"] == pytest.approx(11.0) and dcgan["fid_n"] == 2
    fid = next(c for c in generators["columns"] if c["name"] == "fid")
    assert fid["label"] == "FID ↓" and fid["better"] == "lower"
    assert fid["protocol"] == "classifier features · real test n=360 · fake n=500"
    assert document["environment"]["device"] == ["cpu"]
    assert len(document["records"]) > 100


def test_cli_publish_show_and_errors(site: Path, tmp_path: Path, cli) -> None:
    assert parse_formats("md, csv,md") == ["md", "csv"]
    with pytest.raises(UserError, match="unknown --format pdf"):
        parse_formats("md,pdf")
    run = tmp_path / "run"
    store = RunStore(run)
    for record in synthetic_records({"dcgan": "gan", "vae": "vae"}, seeds=(0,)):
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    result = cli.invoke(app, ["leaderboard", "publish", "--out", str(run), "--site", str(tmp_path / "s"),
                              "--format", "md,csv"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["leaderboard.md", "results.csv"]
    shown = cli.invoke(app, ["leaderboard", "show", "--out", str(run), "--table", "generators", "--sort", "fid"],
                       env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and shown.output.index("dcgan") < shown.output.index("vae")
    bad = cli.invoke(app, ["leaderboard", "show", "--out", str(run), "--sort", "nope"])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output
    missing = cli.invoke(app, ["leaderboard", "publish", "--out", str(tmp_path / "none"), "--site", str(tmp_path)])
    assert missing.exit_code == 2 and "no records" in missing.output


def header_lines(output: str, labels: list[str]) -> list[str]:
    """The output lines holding every label of ``labels``."""
    return [line for line in output.splitlines() if all(label in line for label in labels)]


def test_piped_terminal_output_keeps_headers_whole(tmp_path: Path, cli) -> None:
    run = tmp_path / "run"
    store = RunStore(run)
    for record in synthetic_records(seeds=(0,)):
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    shown = cli.invoke(app, ["leaderboard", "show", "--out", str(run)], env={"COLUMNS": "40"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    labels = ["generator", "family", "seeds ↑", "FID ↓", "IS ↑", "classes covered ↑", "humans fooled ↑",
              "detector AUC mean ↓", "detector AUC worst ↓", "parameters", "train s ↓", "sampling img/s ↑"]
    (generators,) = [lines.index(line) for line in header_lines(shown.output, labels)]
    assert lines.index("Protocol: data set digits · preset smoke") < generators
    assert "  quality (FID, IS, classes covered): classifier features w0 · real test n=360 · fake n=500" in lines
    (detectors,) = header_lines(shown.output, ["detector", "in-dist AUC ↑", "cross-gen AUC ↑", "AUC JPEG ↑",
                                               "AUC blur ↑", "null-check AUC", "scoring img/s ↑"])
    assert lines.index(detectors) > lines.index("Detectors")
    assert any("spectrum" in line and "0.9000" in line and "400.0" in line for line in lines)
    assert len(header_lines(shown.output, ["trained on ↓ · tested on →", "dcgan ↑", "vae ↑", "wgan ↑"])) == 2
    assert "train broken: failed (RuntimeError: <boom>)" in lines


def test_one_detector_prints_its_rows_and_matrix(records) -> None:
    buffer = io.StringIO()
    print_detector(records, Console(file=buffer, width=60), "spectrum")
    output = buffer.getvalue()
    lines = output.splitlines()
    assert "Generators" not in lines and "Cross-generator AUC · cnn · digits / smoke" not in lines
    (header,) = [lines.index(line) for line in header_lines(output, ["in-dist AUC ↑", "worst generator", "fit s ↓"])]
    assert lines.index("Detectors") < lines.index("Protocol: data set digits · preset smoke · real test n=200 · "
                                                   "fake n=200 · threshold from validation of train generator") < header
    assert lines.index("Cross-generator AUC · spectrum · digits / smoke") > header
    empty = io.StringIO()
    print_detector(records, Console(file=empty, width=60), "absent")
    assert empty.getvalue() == "no records of detector absent\n"


def test_records_frame_keeps_documented_columns(records) -> None:
    frame = records_frame(records)
    for name in ("kind", "dataset", "preset", "seed", "generator", "train_generator", "perturbation", "detector",
                 "status", "fid", "auc", "protocol", "info"):
        assert name in frame
