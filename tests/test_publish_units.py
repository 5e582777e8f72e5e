"""What a report publishes and what a rater sees: sources merged, HTML cells, the rating page and its vote log."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ganbench.context import RunConfig, RunContext
from ganbench.errors import UserError
from ganbench.human_eval import Item, ItemSet, VoteLog, human_records, resolve_run
from ganbench.human_eval.page import render
from ganbench.human_eval.votes import votes_path
from ganbench.leaderboards.html import table_view
from ganbench.leaderboards.sources import (Source, merge, newest_answers, read_records, read_results, read_sources,
                                          run_file)
from ganbench.leaderboards.tables import Board, Column
from ganbench.presets import get_preset
from ganbench.records import new_record
from ganbench.store import RunStore


def body(key: str, **fields: Any) -> dict[str, Any]:
    """A generation record of dcgan on digits, preset smoke, seed 0, with ``fields`` changed."""
    return {"kind": "generation", "key": key, "generator": "dcgan", "dataset": "digits", "preset": "smoke", "seed": 0,
            "status": "ok", "metrics": {"fid": 10.0}, "protocol": {}, "info": {}, **fields}


def test_a_damaged_record_is_left_out_and_named(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    for key in ("a1", "b2"):
        store.write_record(new_record("train", key, generator="dcgan", dataset="digits", preset="smoke", seed=0), key)
    edited = sorted((tmp_path / "records").glob("*.json"))[0]
    edited.write_text(edited.read_text().replace('"dcgan"', '"wgan"'))
    lines: list[str] = []
    records = read_records(tmp_path, lines.append)
    assert [r["key"] for r in records] == ["b2"]
    assert len(lines) == 1 and lines[0].startswith("left out 1 damaged or edited record(s)") and edited.name in lines[0]


def test_only_an_older_results_file_is_said_to_lack_its_info(tmp_path: Path) -> None:
    for version, warned in ((1, True), (2, False)):
        path = tmp_path / f"results-{version}.json"
        path.write_text(json.dumps({"format": version, "records": [body("k")]}))
        lines: list[str] = []
        assert [r["key"] for r in read_results(path, lines.append)] == ["k"]
        assert bool(lines) is warned, version


def test_a_status_difference_is_a_conflict_attributed_to_both_sources() -> None:
    """One unit failed in source b and succeeded in source a: a conflict that keeps a's record and names both."""
    merged = merge([Source(Path("a"), [body("k")], True), Source(Path("b"), [body("k", status="failed")], True)])
    (conflict,) = merged.conflicts
    assert conflict.differ == ["status"] and conflict.record["status"] == "ok"
    assert (conflict.kept_from, conflict.other_from) == (Path("a"), Path("b"))
    assert "a (kept) and b differ in status" in conflict.reason()
    assert [r["status"] for r in merged.records] == ["ok"]


def test_the_newest_answer_wins_whatever_its_key() -> None:
    old = body("zz-old", created="2020-01-01T00:00:00+00:00", metrics={"fid": 50.0})
    new = body("aa-new", created="2030-01-01T00:00:00+00:00", metrics={"fid": 7.0})
    for order in ([old, new], [new, old]):
        kept, left_out = newest_answers(order)
        assert [r["key"] for r in kept] == ["aa-new"]
        assert [(s.record["key"], s.newer["key"]) for s in left_out] == [("zz-old", "aa-new")]


def test_cells_of_other_training_generators_or_data_sets_are_other_questions() -> None:
    detection = {"kind": "detection", "generator": "dcgan", "detector": "spectrum", "perturbation": "none"}
    records = [body("d1", **detection, train_generator="dcgan", created="2020"),
               body("d2", **detection, train_generator="wgan", created="2030"),
               body("g1", created="2020"), body("g2", dataset="mnist", created="2030")]
    kept, left_out = newest_answers(records)
    assert [r["key"] for r in kept] == ["d1", "d2", "g1", "g2"] and not left_out


def test_no_source_or_a_source_named_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no source given"):
        read_sources([], lambda line: None)
    with pytest.raises(UserError, match="is given more than once"):
        read_sources([tmp_path, tmp_path / "." / ""], lambda line: None)


def test_a_results_row_without_its_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    unnamed = {k: v for k, v in body("k2").items() if k != "kind"}
    path.write_text(json.dumps({"format": 2, "records": [body("k1"), unnamed]}))
    with pytest.raises(UserError, match="record 1 is not a ganbench record"):
        read_results(path)


def test_a_detection_record_without_a_perturbation_answers_the_unperturbed_question() -> None:
    """Records written before perturbations were named hold none; they answer the same question as "none"."""
    detection = {"kind": "detection", "generator": "dcgan", "detector": "spectrum", "train_generator": "dcgan"}
    old = body("d-old", **detection, created="2020")
    new = body("d-new", **detection, perturbation="none", created="2030")
    kept, left_out = newest_answers([old, new])
    assert [r["key"] for r in kept] == ["d-new"] and [s.record["key"] for s in left_out] == ["d-old"]


def test_run_file_stays_inside_the_run_folder_and_checks_the_suffix(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "grid.png").write_bytes(b"png")
    (tmp_path / "secret.png").write_bytes(b"png")
    assert run_file([run], "grid.png", ".png") == (run / "grid.png").resolve()
    assert run_file([run], "../secret.png", ".png") is None
    assert run_file([run], str(tmp_path / "secret.png"), ".png") is None
    assert run_file([run], "grid.png", ".jpg") is None


def test_html_marks_the_cross_diagonal_and_no_best_in_a_constant_column() -> None:
    """A detector tested on the generator it was trained on is marked on the diagonal; a cross matrix and a
    column whose rows tie mark no best cell."""
    columns = [Column("train_generator", "trained on", numeric=False),
               Column("dcgan", "dcgan", "clean", "higher"), Column("wgan", "wgan", "clean", "higher")]
    data = pd.DataFrame({"train_generator": ["wgan", "dcgan"], "dcgan": [0.7, 0.9], "wgan": [0.8, 0.6]})
    view = table_view(Board("cross", "Cross", columns, data))
    marks = [[("diag" in c.classes, "best" in c.classes) for c in row.cells[1:]] for row in view.rows]
    assert marks == [[(False, False), (True, False)], [(True, False), (False, False)]]
    columns = [Column("generator", "Generator", numeric=False), Column("is", "IS", better="higher"),
               Column("fid", "FID", better="lower")]
    data = pd.DataFrame({"generator": ["dcgan", "wgan"], "is": [2.0, 2.0], "fid": [10.0, 5.0]})
    view = table_view(Board("generators", "Generators", columns, data))
    assert [["best" in c.classes for c in row.cells[1:]] for row in view.rows] == [[False, False], [False, True]]


def test_html_badges_the_family_cell_of_a_non_gan_row_alone() -> None:
    columns = [Column("generator", "Generator", numeric=False), Column("family", "Family", numeric=False),
               Column("fid", "FID", better="lower")]
    data = pd.DataFrame({"generator": ["dcgan", "vae"], "family": ["gan", "vae"], "fid": [10.0, 5.0]})
    view = table_view(Board("generators", "Generators", columns, data))
    assert [row.non_gan for row in view.rows] == [False, True]
    assert [[c.badge for c in row.cells] for row in view.rows] == [[False, False, False], [False, True, False]]


def test_resolve_run_leaves_out_failed_trainings_and_other_data_sets(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    for generator, dataset, status in (("dcgan", "digits", "ok"), ("wgan", "digits", "failed"),
                                       ("lsgan", "mnist", "ok")):
        store.write_record(new_record("train", generator, dataset=dataset, preset="smoke", seed=0,
                                      generator=generator, status=status), generator)
    assert resolve_run(tmp_path, "digits", None, 0, None)[1] == ["dcgan"]
    assert resolve_run(tmp_path, "mnist", None, 0, None)[1] == ["lsgan"]


def _item_set() -> ItemSet:
    items = tuple(Item(p, "real" if p % 2 else "fake", None if p % 2 else "g", p, bytes([p]) * 8) for p in range(4))
    return ItemSet("set1", items, ("g",), 16)


def test_a_vote_log_line_with_a_text_position_is_refused_as_damage(tmp_path: Path) -> None:
    path = votes_path(tmp_path, "ann")
    VoteLog(path, "ann", _item_set()).append(_item_set().items[1], "real", 1.0)
    path.write_text(json.dumps({**json.loads(path.read_text()), "position": "1"}) + "\n")
    with pytest.raises(UserError, match="line 1: not a vote record"):
        VoteLog(path, "ann", _item_set())


def test_no_vote_writes_no_record(tmp_path: Path) -> None:
    """A rater who stopped before the first vote has no score: no record (with NaN rates) is written."""
    context = RunContext(RunConfig(suite="dcgan", preset=get_preset("smoke"), out=tmp_path, quiet=True))
    assert human_records(context, _item_set(), "ann", [], votes_path(tmp_path, "ann")) == []


def test_vote_log_refuses_a_negative_position_and_a_second_vote(tmp_path: Path) -> None:
    path = votes_path(tmp_path, "ann")
    log = VoteLog(path, "ann", _item_set())
    log.append(log.item_set.items[3], "real", 1.0)
    with pytest.raises(ValueError, match="already voted"):
        log.append(log.item_set.items[3], "fake", 1.0)
    assert len(path.read_text().splitlines()) == 1
    vote = json.loads(path.read_text())
    path.write_text(json.dumps({**vote, "position": -1}) + "\n")
    with pytest.raises(UserError, match="out of range"):
        VoteLog(path, "ann", _item_set())


DRIVER = """
const script = require("fs").readFileSync(0, "utf8");
const elements = {};
const markup = [];
function element(id) {
  if (!elements[id]) {
    const listeners = {};
    elements[id] = {
      id, hidden: false, disabled: false, textContent: "", src: "", max: 0, value: 0, listeners,
      addEventListener(type, f) { listeners[type] = f; },
      set innerHTML(v) { markup.push(id); },
    };
  }
  return elements[id];
}
const keyListeners = [];
const posted = [];
let answer = null;
let serve = () => {};
globalThis.document = {
  getElementById: element,
  addEventListener(type, f) { if (type === "keydown") keyListeners.push(f); },
};
globalThis.fetch = (path, options) => {
  if (options.method === "POST") posted.push(JSON.parse(options.body).label);
  const state = path === "/api/state"
    ? { id: 0, image: "data:,", answered: 0, total: 4, done: false }
    : answer;
  return new Promise((resolve) => { serve = () => resolve({ json: async () => state }); });
};
const press = (key, repeat) => keyListeners.forEach((f) => f({ key, repeat, ctrlKey: false, metaKey: false,
                                                               altKey: false }));
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
(async () => {
  eval(script);
  serve();
  await settle();
  answer = { error: "<b>stale</b>", state: { id: 1, image: "data:,", answered: 1, total: 4, done: false } };
  press("f", false);
  press("r", true);
  element("real").listeners.click();
  serve();
  await settle();
  press("r", true);
  const message = element("message").textContent;
  answer = { done: true, answered: 4, total: 4,
             summary: { real_correct: 1, real_votes: 2, fake_correct: 2, fake_votes: 2 } };
  press("r", false);
  serve();
  await settle();
  const summary = element("summary").textContent;
  process.stdout.write(JSON.stringify({ posted, markup, message, summary }));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
def test_rating_page_votes_once_per_image_and_sets_server_text_as_text() -> None:
    """The page's own script in node with a stand-in DOM: one vote per image (a held key repeats, a second
    click while the first vote is under way), the server's text set as text, never as markup, and the
    rater's score over every image once all are rated."""
    script = render("ann", 28)["/app.js"][1].decode()
    result = subprocess.run(["node", "-e", DRIVER], input=script, capture_output=True, text=True, timeout=30,
                            check=True)
    shown = json.loads(result.stdout)
    assert shown == {"posted": ["fake", "real"], "markup": [], "message": "<b>stale</b>",
                     "summary": "You were right on 3 of 4 images (75%): 1 of 2 real images and 2 of 2 fakes."}


def test_rating_page_enlarges_images_without_smoothing() -> None:
    """The rater sees the generator's pixels, not the browser's interpolation between them."""
    css = render("ann", 28)["/app.css"][1].decode()
    assert re.search(r"#image \{[^}]*image-rendering: pixelated;", css)
