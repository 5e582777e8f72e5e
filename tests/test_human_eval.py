"""Human evaluation without a browser or a trained model: counts, intervals, metrics, vote log, records."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from scipy.stats import binomtest

from ganbench.errors import UserError
from ganbench.human_eval import (Item, ItemSet, VoteLog, human_records, resolve_run, split_counts, vote_metrics,
                                 wilson_interval)
from ganbench.human_eval import session as session_module
from ganbench.human_eval import votes as votes_module
from ganbench.human_eval.app import check_rater
from ganbench.human_eval.items import build_item_set, order_seed
from ganbench.human_eval.page import display_pixels, render
from ganbench.human_eval.server import check_port
from ganbench.human_eval.session import RatingSession, VoteRejected
from ganbench.human_eval.votes import votes_path
from ganbench.leaderboards.sources import read_sources
from ganbench.presets import get_preset
from ganbench.context import RunConfig, RunContext
from ganbench.records import new_record
from ganbench.store import RunStore


def test_split_counts_is_balanced_and_spreads_fakes_evenly() -> None:
    assert split_counts(40, ["a", "b", "c"]) == (20, {"a": 7, "b": 7, "c": 6})
    assert split_counts(40, ["dcgan"]) == (20, {"dcgan": 20})
    assert split_counts(6, ["a", "b", "c"]) == (3, {"a": 1, "b": 1, "c": 1})  # one fake each is enough
    n_real, fakes = split_counts(12, ["x", "y"])
    assert n_real == sum(fakes.values()) == 6
    with pytest.raises(UserError, match="even"):
        split_counts(41, ["a"])
    with pytest.raises(UserError, match="fewer than the 3 generators"):
        split_counts(4, ["a", "b", "c"])


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (15, 20), (20, 20), (1, 1), (37, 40)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)
    assert low <= k / n <= high


def test_wilson_interval_known_values() -> None:
    # all wrong out of 10: [0, z^2 / (n + z^2)]
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775328), abs=1e-6)
    # 15 of 20 right
    assert wilson_interval(15, 20) == pytest.approx((0.5313, 0.8881), abs=1e-4)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def _vote(truth: str, vote: str, generator: str | None = None, position: int = 0) -> dict:
    return {"truth": truth, "vote": vote, "generator": generator, "position": position, "correct": truth == vote,
            "seconds": 1.5}


def test_vote_metrics_on_a_known_vote_set() -> None:
    votes = ([_vote("real", "real")] * 8 + [_vote("real", "fake")] * 2
             + [_vote("fake", "fake", "g")] * 7 + [_vote("fake", "real", "g")] * 3)
    m = vote_metrics(votes)
    assert (m["acc"], m["real_acc"], m["fake_acc"]) == (0.75, 0.8, 0.7)
    assert m["balanced_acc"] == pytest.approx(0.75)
    assert m["fooled_rate"] == pytest.approx(0.3)
    assert (m["votes"], m["real_votes"], m["fake_votes"], m["correct"], m["fooled"]) == (20, 10, 10, 15, 3)
    assert (m["acc_ci_low"], m["acc_ci_high"]) == wilson_interval(15, 20)
    assert (m["fooled_rate_ci_low"], m["fooled_rate_ci_high"]) == wilson_interval(3, 10)
    assert (m["real_acc_ci_low"], m["fake_acc_ci_high"]) == (wilson_interval(8, 10)[0], wilson_interval(7, 10)[1])
    only_fakes = vote_metrics([_vote("fake", "real", "g")])
    assert math.isnan(only_fakes["real_acc"]) and only_fakes["fooled_rate"] == 1.0


def _item_set(key: str = "set1", n: int = 6) -> ItemSet:
    items = tuple(Item(p, "real" if p % 2 else "fake", None if p % 2 else "g", p, bytes([p]) * 8) for p in range(n))
    return ItemSet(key, items, ("g",), 16)


def test_vote_log_appends_resumes_and_cuts_a_torn_last_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(votes_module.os, "fsync", lambda fd: synced.append(fd))
    path = votes_path(tmp_path, "ann")
    log = VoteLog(path, "ann", _item_set())
    log.append(log.item_set.items[0], "real", 0.5)
    log.append(log.item_set.items[1], "real", 0.7)
    assert len(synced) == 2
    assert [json.loads(line)["position"] for line in path.read_text().splitlines()] == [0, 1]
    with open(path, "a") as f:
        f.write('{"set": "set1", "rat')
    again = VoteLog(path, "ann", _item_set())
    assert sorted(again.votes) == [0, 1]
    assert again.votes[0]["correct"] is False and again.votes[1]["correct"] is True
    again.append(again.item_set.items[2], "fake", None)
    assert len(VoteLog(path, "ann", _item_set()).votes) == 3
    with pytest.raises(ValueError, match="already"):
        again.append(again.item_set.items[2], "fake", None)


def test_vote_log_refuses_other_sets_changed_images_and_damage(tmp_path: Path) -> None:
    path = votes_path(tmp_path, "ann")
    VoteLog(path, "ann", _item_set()).append(_item_set().items[3], "fake", 1.0)
    with pytest.raises(UserError, match="another image set"):
        VoteLog(path, "ann", _item_set(key="set2"))
    changed = _item_set()
    changed = ItemSet("set1", changed.items[:3] + (Item(3, "real", None, 3, b"other"),) + changed.items[4:], ("g",), 16)
    with pytest.raises(UserError, match="changed since"):
        VoteLog(path, "ann", changed)
    with open(path, "a") as f:
        f.write("not json\n")
    with pytest.raises(UserError, match="line 2"):
        VoteLog(path, "ann", _item_set())


def test_vote_log_refuses_another_raters_votes_and_unknown_labels(tmp_path: Path) -> None:
    """A log copied to another rater's name, or holding a vote that is neither real nor fake, stops the command."""
    path = votes_path(tmp_path, "ann")
    log = VoteLog(path, "ann", _item_set())
    log.append(log.item_set.items[0], "fake", 1.0)
    with pytest.raises(ValueError, match="vote must be one of"):
        log.append(log.item_set.items[1], "maybe", 1.0)
    assert len(path.read_text().splitlines()) == 1 and sorted(log.votes) == [0]
    bob = votes_path(tmp_path, "bob")
    bob.write_bytes(path.read_bytes())
    with pytest.raises(UserError, match="a vote of rater 'ann' in the log of 'bob'"):
        VoteLog(bob, "bob", _item_set())
    vote = json.loads(path.read_text())
    path.write_text(json.dumps({**vote, "vote": "maybe"}) + "\n")
    with pytest.raises(UserError, match="out of range"):
        VoteLog(path, "ann", _item_set())


def test_rater_names_are_printable_and_at_most_64_characters() -> None:
    assert check_rater("  Zoë 李  ") == "Zoë 李" and check_rater("x" * 64) == "x" * 64
    for bad in ("", "   ", "x" * 65, "ann\tbob", "ann\x1b[31m", "a\u200bb"):
        with pytest.raises(UserError, match="--rater"):
            check_rater(bad)


def test_images_are_enlarged_by_a_whole_factor_up_to_384_pixels() -> None:
    """Nearest-neighbour scaling by a whole factor keeps every generated pixel the same size on screen."""
    assert [display_pixels(side) for side in (8, 16, 28, 64, 100, 384, 500)] == [384, 384, 364, 384, 300, 384, 500]
    assert 'width="364" height="364"' in render("ann", 28)["/"][1].decode()


def test_the_pages_keys_and_buttons_vote_what_they_say() -> None:
    """R and the Real button vote real, F and the Fake button vote fake (checked in a browser too,
    where one is installed)."""
    import re

    script = render("ann", 28)["/app.js"][1].decode()
    keys = dict(re.findall(r'key === "(\w)"\) vote\("(\w+)"\)', script))
    buttons = dict(re.findall(r'\$\("(\w+)"\)\.addEventListener\("click", \(\) => vote\("(\w+)"\)\)', script))
    assert keys == {"r": "real", "f": "fake"} and buttons == {"real": "real", "fake": "fake"}


def test_resolve_run_rates_the_generators_of_one_seed_and_one_preset(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    for generator, preset, seed in (("dcgan", "smoke", 0), ("wgan", "smoke", 1), ("lsgan", "quick", 0)):
        store.write_record(new_record("train", f"{generator}-{preset}-{seed}", dataset="digits", preset=preset,
                                      seed=seed, generator=generator), generator)
    with pytest.raises(UserError, match="presets quick, smoke; choose one with --preset"):
        resolve_run(tmp_path, "digits", None, 0, None)
    config, generators = resolve_run(tmp_path, "digits", "smoke", 0, None)
    assert generators == ["dcgan"] and (config.seed, config.preset.name, config.suite) == (0, "smoke", "dcgan")
    assert resolve_run(tmp_path, "digits", None, 1, None)[1] == ["wgan"]
    with pytest.raises(UserError, match="no trained generator"):
        resolve_run(tmp_path, "digits", "quick", 1, None)


def test_rater_names_never_share_a_vote_file(tmp_path: Path) -> None:
    assert votes_path(tmp_path, "a b") != votes_path(tmp_path, "a_b")
    assert votes_path(tmp_path, "../x").parent == tmp_path / "human"


def test_human_records_shape_and_numbers(tmp_path: Path) -> None:
    preset = get_preset("smoke").with_overrides(name="tiny", resolution=16)
    context = RunContext(RunConfig(suite="dcgan", preset=preset, out=tmp_path, quiet=True))
    items = tuple(Item(p, "real", None, p, b"r") for p in range(4)) + tuple(
        Item(4 + p, "fake", "a" if p < 2 else "b", p, b"f") for p in range(4))
    item_set = ItemSet("k", items, ("a", "b", "c"), 16)
    votes = ([{**_vote("real", v), "position": p} for p, v in enumerate(["real", "real", "real", "fake"])]
             + [{**_vote("fake", "real", "a"), "position": 4}, {**_vote("fake", "fake", "a"), "position": 5},
                {**_vote("fake", "fake", "b"), "position": 6}])
    path = votes_path(tmp_path, "ann <1>")
    written = [(r, label) for r, label in human_records(context, item_set, "ann <1>", votes, path)]
    for record, label in written:
        context.store.write_record(record, label)
    assert sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "records").iterdir()) == [
        "detection-human-ann_1_-a", "detection-human-ann_1_-b", "human-ann_1_"]
    rows = {(r.kind, r.generator): r for r in RunStore(tmp_path).records()}
    assert set(rows) == {("detection", "a"), ("detection", "b"), ("human", None)}  # c has no votes yet
    merged = read_sources([tmp_path], lambda line: None)  # each row a unit of its own: none merged into another
    assert len(merged.records) == 3 and not merged.conflicts
    a = rows[("detection", "a")]
    assert (a.detector, a.train_generator, a.perturbation, a.status) == ("human:ann <1>", "human", "none", "ok")
    assert (a.dataset, a.preset, a.seed) == ("digits", "tiny", 0)
    assert a.metrics["votes"] == 6 and a.metrics["fooled_rate"] == 0.5 and a.metrics["real_acc"] == 0.75
    assert a.metrics["acc"] == pytest.approx(4 / 6)
    assert (a.metrics["acc_ci_low"], a.metrics["acc_ci_high"]) == pytest.approx(wilson_interval(4, 6))
    assert rows[("detection", "b")].metrics["fooled_rate"] == 0.0
    assert (a.protocol["n_real"], a.protocol["n_fake"], a.protocol["items"]) == (4, 2, 8)
    assert a.seconds == pytest.approx(6 * 1.5)  # the rater's time on the real images and on a's fakes
    assert a.info["complete"] is False and a.info["votes_file"].startswith("human/votes-ann_1_-")
    rater = rows[("human", None)]
    assert rater.detector == "human:ann <1>" and rater.metrics["votes"] == 7
    assert rater.metrics["fooled_rate"] == pytest.approx(1 / 3)
    assert rater.metrics["acc"] == pytest.approx(5 / 7)
    assert rater.seconds == pytest.approx(7 * 1.5)
    assert (rater.protocol["n_real"], rater.protocol["n_fake"]) == (4, 3)
    assert rater.metrics["balanced_acc"] == pytest.approx((0.75 + 2 / 3) / 2)


def test_a_closed_session_takes_no_vote_and_keeps_the_ones_cast(tmp_path: Path) -> None:
    items = tuple(Item(p, truth, None if truth == "real" else "gan", p, bytes([p]) * 8)
                  for p, truth in enumerate(["real", "fake", "fake", "real"]))
    item_set = ItemSet("set", items, ("gan",), 8)
    session = RatingSession(item_set, VoteLog(tmp_path / "votes.jsonl", "ann", item_set))
    first = session.state()["id"]
    with pytest.raises(VoteRejected) as unknown:
        session.vote(first, "maybe")
    assert unknown.value.status == 400 and session.answered == 0
    second = session.vote(first, "fake")["id"]
    with pytest.raises(VoteRejected) as double:
        session.vote(first, "real")
    assert double.value.status == 409
    assert [v["vote"] for v in session.close()] == ["fake"]
    with pytest.raises(VoteRejected) as late:
        session.vote(second, "fake")
    assert late.value.status == 503 and session.answered == 1
    assert len((tmp_path / "votes.jsonl").read_text().splitlines()) == 1


def test_the_response_time_runs_from_the_first_showing_to_the_vote(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Reloading the page shows the same image under the same id and does not restart its clock."""
    now = [10.0]
    monkeypatch.setattr(session_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    item_set = _item_set()
    session = RatingSession(item_set, VoteLog(tmp_path / "votes.jsonl", "ann", item_set))
    first = session.state()["id"]
    now[0] = 15.0
    assert session.state()["id"] == first
    now[0] = 17.5
    session.vote(first, "fake")
    assert session.log.votes[0]["seconds"] == 7.5


def test_the_order_seed_follows_the_run_seed_and_the_rater() -> None:
    seeds = {(seed, rater): order_seed(seed, rater) for seed in (0, 1) for rater in ("ann", "bob")}
    assert len(set(seeds.values())) == 4 and order_seed(1, "bob") == seeds[(1, "bob")]


def test_port_numbers_are_checked_at_their_edges() -> None:
    for port in (0, 1, 65535):
        check_port(port)
    for port in (-1, 65536):
        with pytest.raises(UserError, match="--port must be between 0 and 65535"):
            check_port(port)


def test_human_evaluation_needs_an_image_data_set(tmp_path: Path) -> None:
    preset = get_preset("smoke").with_overrides(name="tiny", resolution=16)
    context = RunContext(RunConfig(suite="dcgan", preset=preset, dataset="toy2d", out=tmp_path, quiet=True))
    with pytest.raises(UserError, match="human evaluation needs an image data set; 'toy2d' holds points"):
        build_item_set(context, ["dcgan"], 4, "ann")
