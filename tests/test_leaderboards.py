"""Leaderboard tables and renderings from synthetic records whose true aggregates are known."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
import re
import string
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
from ganbench.leaderboards import build_leaderboard, print_leaderboard, records_frame
from ganbench.leaderboards.environment import environment, environment_rows
from ganbench.leaderboards.exports import results_csv
from ganbench.leaderboards.formatting import (decimals, label, number, protocol_lines, scope, shown_columns,
                                              statistics_line, text_rows)
from ganbench.leaderboards.markdown import environment_markdown, leaderboard_markdown, problems_title
from ganbench.leaderboards.html import Assets, render_page, templates
from ganbench.leaderboards.publish import parse_formats, publish
from ganbench.leaderboards.sources import read_sources
from ganbench.leaderboards.terminal import print_detector
from ganbench.leaderboards.uncertainty import row_interval
from ganbench.leaderboards.tables import UNRECORDED_CHIP, Board, Column, Leaderboard

GENERATORS = {"dcgan": "gan", "wgan": "gan", "vae": "vae"}
FID = {("dcgan", 0): 10.0, ("dcgan", 1): 12.0, ("wgan", 0): 8.0, ("wgan", 1): 9.0, ("vae", 0): 30.0, ("vae", 1): 30.5}
RANK = {"dcgan": 0, "wgan": 1, "vae": 2}
DETECTORS = ("spectrum", "cnn")
GEN_PROTOCOL = {"extractor": "classifier", "resize": "none", "n_real": 360, "n_fake": 500, "real_split": "test"}
DET_PROTOCOL = {"n_real": 200, "n_fake": 200, "real_split": "test", "threshold": "validation of train generator"}
ROC = [[0.0, 0.0], [0.1, 0.6], [0.3, 0.9], [1.0, 1.0]]
RELIABILITY = [[0.1, 0.2, 150], [0.5, 0.45, 50], [0.9, 0.8, 200]]
BELOW, ABOVE = 0.03, 0.02  # each record's bootstrap interval: [value - BELOW, value + ABOVE]
NULL_P = {("spectrum", 0): 0.5, ("spectrum", 1): 0.6, ("cnn", 0): 0.001, ("cnn", 1): 0.3}


def auc(detector: str, train: str, test: str, seed: int) -> float:
    """A known AUC per cell: in-distribution high, cross lower, varying with seed."""
    base = 0.95 if train == test else 0.70
    return base - 0.05 * RANK.get(test, 1) - (0.04 if detector == "cnn" else 0.0) - 0.01 * seed


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def detection_metrics(value: float) -> dict[str, float]:
    """AUC, AP, balanced accuracy and TPR@1%FPR derived from one number, each with its bootstrap bounds."""
    values = {"auc": value, "ap": value, "acc": value - 0.1, "balanced_acc": value - 0.1, "tpr_at_1fpr": value - 0.3}
    bounds = {f"{k}_ci_{side}": v + shift for k, v in values.items() if k != "acc"
              for side, shift in (("low", -BELOW), ("high", ABOVE))}
    return values | bounds


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
                                        perturbation="none", metrics=detection_metrics(value), protocol=DET_PROTOCOL,
                                        info={"fit_seconds": 1.5, "images_per_second": 400.0, "roc": ROC,
                                              "reliability": RELIABILITY}))
                for perturbation, drop in (("jpeg:90", 0.05), ("jpeg:50", 0.2), ("blur:1@256px", 0.1),
                                           ("blur:2@256px", 0.3)):
                    records.append(make("detection", seed, generator=name, train_generator=name, detector=detector,
                                        perturbation=perturbation, protocol=DET_PROTOCOL,
                                        metrics=detection_metrics(auc(detector, name, name, seed) - drop)))
        for detector in DETECTORS:
            records.append(make("detection", seed, generator="real", train_generator="dcgan", detector=detector,
                                perturbation="none", protocol=DET_PROTOCOL,
                                metrics={"auc": 0.5 + 0.01 * seed, "auc_ci_low": 0.44, "auc_ci_high": 0.56,
                                         "null_p": NULL_P[detector, seed]}))
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
    baseline = make("detection", 0, generator="dcgan", train_generator="dcgan", detector="one-class",
                    perturbation="none", metrics=detection_metrics(0.2), protocol=DET_PROTOCOL,
                    info={"baseline": True})
    (with_baseline,) = build_leaderboard([*synthetic_records(), baseline]).of_kind("generators")
    assert row(with_baseline, "generator", "dcgan")["detect_auc_worst"] == pytest.approx(dcgan["detect_auc_worst"])
    assert dcgan["fooled_rate"] == pytest.approx(0.3)
    assert row(board, "generator", "vae")["family"] == "vae"
    assert board.protocols["quality"]["extractor"] == "classifier"
    assert "weights" not in board.protocols["quality"]


def test_a_generators_row_is_the_mean_over_its_seeds_of_one_data_set() -> None:
    """Three seeds of FID 10, 11 and 15 give a mean of 12 (not their median) and a sample std of
    sqrt(7); the same generator on another data set has a row of its own in another table."""
    protocol = {**GEN_PROTOCOL, "weights": "w"}
    records = [make("generation", seed, generator="dcgan", metrics={"fid": fid}, protocol=protocol)
               for seed, fid in enumerate((10.0, 11.0, 15.0))]
    records.append(make("generation", 0, dataset="cifar10", generator="dcgan", metrics={"fid": 50.0},
                        protocol=protocol))
    boards = build_leaderboard(records).of_kind("generators")
    by_data = {tuple(board.data.dataset): board for board in boards}
    assert set(by_data) == {("digits",), ("cifar10",)}
    digits = row(by_data["digits",], "generator", "dcgan")
    assert digits["fid"] == pytest.approx(12.0) and digits["fid_std"] == pytest.approx(math.sqrt(7.0))
    assert digits["fid_n"] == 3 and digits["seeds"] == 3
    assert row(by_data["cifar10",], "generator", "dcgan")["fid"] == 50.0


def test_a_detectors_row_is_of_one_data_set() -> None:
    """One detector evaluated on two data sets has a row in each data set's table, never their mean."""
    records = [make("detection", 0, dataset=dataset, generator="dcgan", train_generator="dcgan", detector="cnn",
                    perturbation="none", metrics=detection_metrics(value), protocol=DET_PROTOCOL)
               for dataset, value in (("digits", 0.9), ("cifar10", 0.7))]
    boards = build_leaderboard(records).of_kind("detectors")
    in_auc = {tuple(board.data.dataset): list(board.data.in_auc) for board in boards}
    assert in_auc == {("digits",): [0.9], ("cifar10",): [0.7]}


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
    plugin = [make("detection", 0, generator="dcgan", train_generator="dcgan", detector="mydet:Detector",
                   perturbation="none", metrics=detection_metrics(0.8),
                   protocol={**DET_PROTOCOL, "source": "import:mydet:Detector"})]
    with_plugin = build_leaderboard(records + plugin)
    (detectors,) = with_plugin.of_kind("detectors")
    assert "mydet:Detector" in set(detectors.data["detector"])


def test_training_cells_of_other_sizes_share_the_detector_and_cross_tables() -> None:
    """Train-on-all splits its fakes evenly between generators, rounding down: the cell's smaller training
    set neither splits the tables nor repeats the null check on a board of its own; the protocol line
    gives the span of the training sizes."""
    def trained_on(train: str, test: str, n_fake: int) -> dict[str, Any]:
        protocol = {**DET_PROTOCOL, "n_train_real": 800, "n_train_fake": n_fake}
        return make("detection", 0, generator=test, train_generator=train, detector="spectrum", perturbation="none",
                    metrics=detection_metrics(0.9 if train == test else 0.7), protocol=protocol)

    records = [trained_on(train, test, 800) for train in ("dcgan", "wgan", "real") for test in ("dcgan", "wgan")]
    records += [trained_on("all", test, 798) for test in ("dcgan", "wgan")]
    records = [r for r in records if r["train_generator"] != "real"] + [trained_on("dcgan", "real", 800)]
    records[-1]["metrics"] |= {"null_p": 0.5}
    leaderboard = build_leaderboard(records)
    (board,) = leaderboard.of_kind("detectors")
    spectrum = row(board, "detector", "spectrum")
    assert spectrum["in_auc"] == pytest.approx(0.9) and spectrum["all_auc"] == pytest.approx(0.7)
    assert spectrum["null_auc"] == pytest.approx(0.7)
    assert board.protocols["clean"]["n_train_fake"] == "798–800" and board.protocols["clean"]["n_train_real"] == 800
    assert any("trained on real n=800 + fake n=798–800" in line for line in protocol_lines(board))
    (matrix,) = leaderboard.of_kind("cross")
    assert list(matrix.data.train_generator) == ["dcgan", "wgan", "all"]
    assert len(leaderboard.with_columns(["in_auc", "null_auc"]).of_kind("detectors")) == 1


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
    assert spectrum["null_auc"] == pytest.approx(0.505) and spectrum["null_auc_boot_ci_low"] == pytest.approx(0.44)
    assert spectrum["fit_seconds"] == pytest.approx(1.5) and spectrum["detect_ips"] == pytest.approx(400.0)
    assert spectrum["in_balanced_acc"] == pytest.approx(np.mean(in_dist) - 0.1)
    assert spectrum["in_tpr_at_1fpr"] == pytest.approx(np.mean(in_dist) - 0.3)
    for name in ("in_auc", "in_ap", "in_balanced_acc", "in_tpr_at_1fpr", "worst_auc", "cross_auc", "auc_jpeg",
                 "auc_blur"):
        assert spectrum[f"{name}_boot_ci_low"] == pytest.approx(spectrum[name] - BELOW), name
        assert spectrum[f"{name}_boot_ci_high"] == pytest.approx(spectrum[name] + ABOVE), name


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


def test_timings_of_different_chips_are_never_averaged() -> None:
    """Training seconds and sampling speed of seeds timed on two chips fill one table per chip, each
    naming its chip above the table; one chip gives one table."""
    def on(chips: dict[int, str]) -> list[dict[str, Any]]:
        records = synthetic_records()
        for record in records:
            if record["kind"] in ("train", "sample") and record["status"] == "ok":
                record["info"]["processor"] = chips[record["seed"]]
        return records

    boards = build_leaderboard(on({0: "AMD EPYC (AVX512)", 1: "Intel Xeon (AVX2)"})).of_kind("generators")
    timed = {b.protocols["train"]["processor"]: row(b, "generator", "dcgan") for b in boards}
    assert set(timed) == {"AMD EPYC (AVX512)", "Intel Xeon (AVX2)"}
    assert timed["AMD EPYC (AVX512)"]["train_seconds"] == pytest.approx(2.0)
    assert timed["Intel Xeon (AVX2)"]["train_seconds"] == pytest.approx(3.0)
    assert timed["Intel Xeon (AVX2)"]["images_per_second"] == pytest.approx(200.0)
    (board,) = build_leaderboard(on({0: "AMD EPYC (AVX512)", 1: "AMD EPYC (AVX512)"})).of_kind("generators")
    assert board.protocols["train"] == {"device": "cpu", "processor": "AMD EPYC (AVX512)"}
    assert row(board, "generator", "dcgan")["train_seconds"] == pytest.approx(2.5)
    assert any("AMD EPYC (AVX512)" in line for line in protocol_lines(board))


def test_detector_timings_of_several_chips_are_left_blank() -> None:
    """A detector row whose fits ran on two chips shows no fit time or scoring speed (its AUCs stay);
    a row timed on one chip keeps them, and a table timed on one chip names it."""
    def on(chips: dict[tuple[str, int], str]) -> Any:
        records = synthetic_records()
        for record in records:
            if record["kind"] == "detection" and record.get("detector") in DETECTORS:
                record["info"]["processor"] = chips[record["detector"], record["seed"]]
        return build_leaderboard(records).of_kind("detectors")[0]

    board = on({("spectrum", 0): "AMD EPYC (AVX512)", ("spectrum", 1): "Intel Xeon (AVX2)",
                ("cnn", 0): "AMD EPYC (AVX512)", ("cnn", 1): "AMD EPYC (AVX512)"})
    spectrum, cnn = row(board, "detector", "spectrum"), row(board, "detector", "cnn")
    assert math.isnan(spectrum["fit_seconds"]) and math.isnan(spectrum["detect_ips"])
    assert not math.isnan(spectrum["in_auc"])
    assert cnn["fit_seconds"] == pytest.approx(1.5) and cnn["detect_ips"] == pytest.approx(400.0)
    single = on({(d, s): "AMD EPYC (AVX512)" for d in DETECTORS for s in (0, 1)})
    assert single.protocols["clean"]["processor"] == "AMD EPYC (AVX512)"
    assert row(single, "detector", "spectrum")["fit_seconds"] == pytest.approx(1.5)
    unrecorded = on({("spectrum", 0): "AMD EPYC (AVX512)", ("spectrum", 1): "",
                     ("cnn", 0): "AMD EPYC (AVX512)", ("cnn", 1): "AMD EPYC (AVX512)"})
    assert math.isnan(row(unrecorded, "detector", "spectrum")["fit_seconds"])
    assert row(unrecorded, "detector", "cnn")["fit_seconds"] == pytest.approx(1.5)


def test_a_seed_timed_before_chips_were_recorded_never_shares_a_named_chips_cell() -> None:
    """A seed whose records name no chip fills its own table, without a chip above it; a seed whose
    training names a chip and whose sampling names none is timed on that chip and an unrecorded one."""
    def on(chips: dict[tuple[str, int], str | None]) -> list[Any]:
        records = synthetic_records()
        for record in records:
            if record["kind"] in ("train", "sample") and record["status"] == "ok":
                chip = chips[record["kind"], record["seed"]]
                if chip is None:
                    record["info"].pop("processor", None)
                else:
                    record["info"]["processor"] = chip
        return build_leaderboard(records).of_kind("generators")

    boards = on({("train", 0): "AMD EPYC (AVX512)", ("sample", 0): "AMD EPYC (AVX512)",
                 ("train", 1): None, ("sample", 1): None})
    timed = {b.protocols["train"].get("processor"): row(b, "generator", "dcgan") for b in boards}
    assert set(timed) == {"AMD EPYC (AVX512)", None}
    assert timed["AMD EPYC (AVX512)"]["train_seconds"] == pytest.approx(2.0)
    assert timed[None]["train_seconds"] == pytest.approx(3.0)
    boards = on({("train", 0): "AMD EPYC (AVX512)", ("sample", 0): None,
                 ("train", 1): "AMD EPYC (AVX512)", ("sample", 1): "AMD EPYC (AVX512)"})
    chips = {b.protocols["train"]["processor"] for b in boards}
    assert chips == {"AMD EPYC (AVX512)", f"AMD EPYC (AVX512), {UNRECORDED_CHIP}"}


def test_environment_comes_from_records(records) -> None:
    env = environment(records)
    assert env["device"] == ["cpu"] and env["torch"] == ["2.4.0"]
    assert env["datasets"] == {"digits": ["abc123def4567890"]}
    assert env["ganbench"] and env["records"] == len(records)


def stamped(record: dict[str, Any], version: str, created: str) -> dict[str, Any]:
    """``record`` as written by ganbench ``version`` at the time ``created``."""
    return record | {"ganbench_version": version, "created": created}


def test_environment_lists_every_version_device_and_data_set_and_the_span_of_the_runs() -> None:
    """Records of two data sets, trained on two devices under two torch and two ganbench versions."""
    trainings = [("digits", "cpu", "2.3.1", "aaaa", "0.0.9", "2024-01-02T10:00:00+00:00"),
                 ("mnist", "cuda:0", "2.4.0", "bbbb", "0.1.0", "2024-03-05T08:00:00+00:00"),
                 ("digits", "cpu", "2.4.0", "aaaa", "0.1.0", "2024-02-01T00:00:00+00:00")]
    records = [stamped(make("train", seed, dataset, "quick", generator="dcgan",
                            info={"device": device, "torch": torch_version, "data": data}), version, created)
               for seed, (dataset, device, torch_version, data, version, created) in enumerate(trainings)]
    records.append(stamped(make("generation", 0, "mnist", "quick", generator="dcgan", metrics={"fid": 1.0}),
                           "0.1.0", "2024-03-06T00:00:00+00:00"))
    records[0]["info"]["processor"] = records[2]["info"]["processor"] = "Intel Xeon (AVX512)"
    records[1]["info"]["processor"] = "NVIDIA H100 80GB HBM3"
    records[3]["info"] = {"processor": "AMD EPYC (AVX2)"}
    for record, threads in zip(records, (2, 12, 2, 1)):
        record["info"]["threads"] = threads
    env = environment(records, dt.datetime(2024, 4, 1, tzinfo=dt.timezone.utc))
    assert env["ganbench"] == ["0.0.9", "0.1.0"]
    assert env["torch"] == ["2.3.1", "2.4.0"] and env["device"] == ["cpu", "cuda:0"]
    assert env["processor"] == ["AMD EPYC (AVX2)", "Intel Xeon (AVX512)", "NVIDIA H100 80GB HBM3"]
    assert "| processor | AMD EPYC (AVX2), Intel Xeon (AVX512), NVIDIA H100 80GB HBM3 |" in environment_markdown(env)
    assert ("processor", "AMD EPYC (AVX2), Intel Xeon (AVX512), NVIDIA H100 80GB HBM3") in environment_rows(env)
    assert env["threads"] == ["1", "2", "12"]
    assert "| threads | 1, 2, 12 |" in environment_markdown(env)
    assert env["datasets"] == {"digits": ["aaaa"], "mnist": ["bbbb"]}
    assert env["runs"] == "2024-01-02T10:00:00+00:00 .. 2024-03-06T00:00:00+00:00"
    assert env["records"] == 4 and env["published"] == "2024-04-01T00:00:00+00:00"
    silent = environment([stamped(make("train", 0, generator="dcgan"), "0.0.9", "")])
    assert silent["device"] == silent["threads"] == ["not recorded"] and silent["datasets"] == {"digits": ["not recorded"]}
    assert silent["torch"][0].endswith("(publishing machine; not in the records)") and silent["runs"] == "unknown"
    assert dt.datetime.fromisoformat(silent["published"]).utcoffset() == dt.timedelta(0)


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
    mean, _, std = text.partition(" [")[0].partition(" ± ")
    return float(mean.replace(",", "")), float(std.replace(",", "")) if std else None


def parse_interval(text: str) -> tuple[float, float] | None:
    """The ``[low, high]`` written after a number, if any."""
    _, bracket, bounds = text.partition(" [")
    if not bracket:
        return None
    low, high = bounds.rstrip("]").split(", ")
    return float(low.replace(",", "")), float(high.replace(",", ""))


def places(text: str) -> int:
    """Decimals written in a cell (of its mean; the spread uses the same)."""
    mean = text.partition(" ± ")[0]
    return len(mean.partition(".")[2])


def test_markdown_round_trips_to_the_same_numbers(leaderboard, records) -> None:
    text = leaderboard_markdown(leaderboard, environment(records))
    tables = markdown_tables(text)
    intervals = 0
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
                shown = row_interval(record, column.name) if column.with_interval else None
                written = parse_interval(text_cell)
                assert (written is None) == (shown is None), (column.name, text_cell)
                if written:
                    assert written == pytest.approx(shown[:2], abs=tolerance)
                    intervals += 1
    assert tables[0][0][:7] == ["rank", "generator", "family", "seeds ↑", "FID ↓", "FID 95% CI", "IS ↑"]
    assert [row[4] for row in tables[0][1]] == ["8.50 ± 0.71", "11.00 ± 1.41", "30.25 ± 0.35"]
    assert [row[5] for row in tables[0][1]] == ["[2.15, 14.85]", "[0.00, 23.71]", "[27.07, 33.43]"]  # FID >= 0 cuts the middle interval
    assert intervals > 30


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
    assert found["Detectors"][1] == ("Protocol: data set digits · preset smoke · intervals [low, high]: 95% "
                                     "t-interval of the mean over seeds (cut to [0, 1])")
    assert any(line.startswith("- real-vs-real null check (null-check AUC, null check, null Holm p): ")
               and line.endswith("Holm-Bonferroni over the 4 null checks of this table (family-wise α = 0.05; one "
                                 "check alone fails a sound detector 1 time in 20)") for line in found["Detectors"])
    assert found["Cross-generator AUC · cnn · digits / smoke"][1].startswith("Protocol: real test n=200")
    assert text.count("n=360") == 1


def test_numbers_keep_one_format_per_column() -> None:
    assert decimals([3.955, 156.7, 110.0, 20.02, 29.09]) == 2
    assert decimals([0.05513, 0.1766, 8.712, 0.001601]) == 4
    assert decimals([4522.0, 66393.0, 36.39]) == 0
    assert decimals([10, 9, 4], integer=True) == 0 and decimals([9.5, 10], integer=True) == 1
    assert decimals([0.0, float("nan")]) == 0
    assert decimals([0.000012, 0.00003, 0.00002]) == 4  # eight places would keep four digits: capped at four
    assert number(66393.0, 0) == "66,393" and number(0.0002160, 4) == "0.0002" and number(-0.00001, 2) == "0.00"
    assert number(float("nan"), 2) == "–"


def test_a_seed_is_stated_above_a_table_only_when_every_protocol_shares_it() -> None:
    """Column groups of one table drawn with different seeds name no seed; groups sharing one name it once."""
    data = pd.DataFrame({"generator": ["dcgan", "vae"]})
    columns = [Column("generator", "generator", numeric=False)]
    mixed = Board("generators", "Generators", columns, data, {"quality": {"seed": 0}, "detection": {"seed": 1}})
    assert scope(mixed) == []
    shared = Board("generators", "Generators", columns, data, {"quality": {"seed": 3}, "detection": {"seed": 3}})
    assert scope(shared) == ["seed 3"]


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
                for name, suffix in (("std", "_std"), ("n", "_n")):
                    expected = record.get(column.name + suffix)
                    assert pd.isna(cell[name]) if expected is None or pd.isna(expected) else cell[name] == expected
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
    assert kinds == {"scatter", "samples", "roc", "generator_roc", "calibration", "cross", "robustness"}
    assert len([n for n in parser.images if n.startswith("samples")]) == 3
    assert len([n for n in parser.images if n.startswith("generator_roc")]) == 3  # one per test generator
    assert len([n for n in parser.images if n.startswith("calibration")]) == len(DETECTORS)
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


def gfm_cells(row: str) -> list[str]:
    """The cells of a GFM table row as a reader gets them: a backslash before ASCII punctuation makes it a
    plain character, an unescaped pipe ends a cell, and HTML entities are decoded."""
    cells, cell, chars = [], "", iter(row)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            cell += following if following in string.punctuation else char + following
        elif char == "|":
            cells.append(cell)
            cell = ""
        else:
            cell += char
    return [html.unescape(c.strip()) for c in cells[1:]]


def test_markdown_cells_read_back_as_the_names_they_show() -> None:
    """Backslashes are escaped before the pipes they might otherwise unescape, and stars so that no
    name renders as emphasis."""
    from ganbench.leaderboards.markdown import escape

    names = ["gan\\|v2", "dir\\", "*bold*", "x<y>&z"]
    assert gfm_cells("| " + " | ".join(escape(name) for name in names) + " |") == names
    assert escape("gan\\|v2") == r"gan\\\|v2" and escape("*bold*") == r"\*bold\*"


def test_markdown_aligns_numbers_right_and_names_left(leaderboard, records) -> None:
    lines = leaderboard_markdown(leaderboard, environment(records)).splitlines()
    generators = lines.index("| rank | generator | family | seeds ↑ | FID ↓ | FID 95% CI | IS ↑ | classes covered ↑ | "
                             "humans fooled ↑ | detector AUC mean ↓ | detector AUC worst ↓ | parameters | train s ↓ | "
                             "sampling img/s ↑ |")
    assert lines[generators + 1] == "|:---|:---|:---|" + "---:|" * 11
    cross = lines.index("| trained on ↓ · tested on → | dcgan ↑ | vae ↑ | wgan ↑ |")
    assert lines[cross + 1] == "|:---|---:|---:|---:|"


ENVIRONMENT = {"ganbench": ["0.0.9", "0.1.0"], "torch": ["2.3.1", "2.4.0"], "device": ["cpu", "cuda:0"],
               "processor": ["AMD EPYC (AVX2)", "NVIDIA H100 80GB HBM3"], "threads": ["1", "16"],
               "datasets": {"digits": ["aaaa"], "mnist": ["bbbb", "cccc"]}, "records": 5,
               "runs": "2024-01-02T10:00:00+00:00 .. 2024-03-06T00:00:00+00:00",
               "published": "2024-04-01T00:00:00+00:00", "published_with": "ganbench 0.1.0"}


def test_markdown_environment_names_every_value_under_its_own_label() -> None:
    assert environment_markdown(ENVIRONMENT) == (
        "| | |\n|:---|:---|\n"
        "| ganbench | 0.0.9, 0.1.0 |\n"
        "| torch | 2.3.1, 2.4.0 |\n"
        "| device | cpu, cuda:0 |\n"
        "| processor | AMD EPYC (AVX2), NVIDIA H100 80GB HBM3 |\n"
        "| threads | 1, 16 |\n"
        "| data set digits | aaaa |\n"
        "| data set mnist | bbbb, cccc |\n"
        "| records | 5 |\n"
        "| runs | 2024-01-02T10:00:00+00:00 .. 2024-03-06T00:00:00+00:00 |\n"
        "| published | 2024-04-01T00:00:00+00:00 (ganbench 0.1.0) |\n")


def test_markdown_lists_every_unit_that_did_not_finish_with_its_subject_and_reason() -> None:
    """A failed training, a detection skipped for it (named by its test and training generators and
    its detector) and a record a newer one replaced, under a heading that names the superseded."""
    problems = [{"kind": "train", "generator": "broken", "train_generator": None, "detector": None,
                 "status": "failed", "reason": "RuntimeError: <boom>"},
                {"kind": "detection", "generator": "vae", "train_generator": "broken", "detector": "cnn",
                 "status": "skipped", "reason": "its training failed"},
                {"kind": "generation", "generator": "dcgan", "status": "superseded", "reason": None}]
    text = leaderboard_markdown(Leaderboard([], problems), ENVIRONMENT)
    assert text[text.index("## Units"):] == ("## Units that did not finish, superseded records\n\n"
                                             "| unit | subject | status | reason |\n|:---|:---|:---|:---|\n"
                                             "| train | broken | failed | RuntimeError: &lt;boom&gt; |\n"
                                             "| detection | vae broken cnn | skipped | its training failed |\n"
                                             "| generation | dcgan | superseded |  |\n")
    assert problems_title([{"status": "superseded"}, {"status": "conflict"}, {"status": "failed"}]) == (
        "Units that did not finish, conflicting records, superseded records")


def test_a_pipe_or_line_break_in_a_name_keeps_its_markdown_row_whole() -> None:
    from ganbench.leaderboards.markdown import escape

    row = "| " + " | ".join([escape("gan|v2"), escape("two\nlines"), "0.5"]) + " |"
    cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]
    assert cells == [r"gan\|v2", "two lines", "0.5"]


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


class TableCells(HTMLParser):
    """The body rows of each ``<table>`` of a page: the row's class and each cell's (text, classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[tuple[str, list[tuple[str, set[str]]]]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append((classes, []))
        elif tag == "td":
            self.cell = []
            self.tables[-1][-1][1].append(("", set(classes.split())))

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None:
            row = self.tables[-1][-1][1]
            row[-1] = ("".join(self.cell), row[-1][1])
            self.cell = None


def test_html_tables_show_each_boards_cells_and_mark_the_best_of_each_column(leaderboard, records) -> None:
    parser = TableCells()
    parser.feed(render_page(leaderboard, environment(records), Assets()))
    tables = [[row for row in table if row[1]] for table in parser.tables]
    for board, table in zip(leaderboard.boards, tables):
        assert [[text for text, _ in cells] for _, cells in table] == text_rows(board), board.title
    generators, detectors = tables[0], tables[1]

    def best(table, board, name: str) -> list[str]:
        position = [c.name for c in shown_columns(board)].index(name)
        return [cells[1][0] for _, cells in table if "best" in cells[position][1]]

    assert best(generators, leaderboard.boards[0], "fid") == ["wgan"]  # FID 8.5, the lowest
    assert best(generators, leaderboard.boards[0], "detect_auc_mean") == ["vae"]  # the hardest to detect
    assert best(detectors, leaderboard.boards[1], "in_auc") == ["spectrum"]
    assert [cells[1][0] for row_class, cells in generators if row_class == "non-gan"] == ["vae"]


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


def test_published_results_json_reads_back_as_the_same_report(site: Path) -> None:
    """The records of ``results.json`` give the tables and environment it states, and its source holds them."""
    document = json.loads((site / "results.json").read_text())
    again = read_sources([site / "results.json"], lambda line: None).records
    (source,) = document["sources"]
    assert len(again) == len(document["records"]) == len(read_sources([Path(source)], lambda line: None).records)
    stated = {k: v for k, v in document["environment"].items() if k != "published"}
    assert {k: v for k, v in environment(again).items() if k != "published"} == stated
    assert stated["device"] == ["cpu"] and stated["datasets"] == {"digits": ["abc123def4567890"]}
    generators = build_leaderboard(again).boards[0].data
    rows = document["tables"][0]["rows"]
    assert [r["generator"] for r in rows] == list(generators.generator)
    assert [r["fid"] for r in rows] == pytest.approx(list(generators.fid))


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


def test_publish_formats_are_read_in_any_case_and_at_least_one_is_asked_for() -> None:
    assert parse_formats(" MD , Html ") == ["md", "html"]
    with pytest.raises(UserError, match="unknown --format ','"):
        parse_formats(",")


def test_a_refused_sort_makes_no_site(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    for record in synthetic_records(seeds=(0,)):
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    with pytest.raises(UserError, match="no column 'nope' to sort by"):
        publish(tmp_path / "run", tmp_path / "site", sort="nope")
    assert not (tmp_path / "site").exists()


def test_each_data_sets_sample_grid_of_a_generator_is_copied_beside_the_page(tmp_path: Path) -> None:
    """One generator on two data sets: each table row's grid is its own run file, under a name of its own."""
    run = tmp_path / "run"
    store = RunStore(run)
    digits = [r for r in synthetic_records({"dcgan": "gan"}, seeds=(0,))
              if r["kind"] in ("train", "sample", "generation")]
    mnist = [r | {"dataset": "mnist", "key": unit_key({"mnist": r["key"]})} for r in digits]
    for record in mnist:
        if record["kind"] == "sample":
            record["info"] = {"samples": "samples/dcgan-mnist.png"}
    for record in digits + mnist:
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    grids = {}
    for name, grey in (("dcgan-s0", 60), ("dcgan-mnist", 200)):
        Image.new("L", (34, 34), grey).save(run / "samples" / f"{name}.png")
        grids[name] = (run / "samples" / f"{name}.png").read_bytes()
    publish(run, tmp_path / "site", formats=["html"])
    copied = {path.name.split("-")[2]: path.read_bytes() for path in (tmp_path / "site").glob("samples-*.png")}
    assert copied == {"digits": grids["dcgan-s0"], "mnist": grids["dcgan-mnist"]}


def test_publish_ranks_and_orders_its_tables_by_the_chosen_column(tmp_path: Path) -> None:
    records = synthetic_records(seeds=(0,))
    store = RunStore(tmp_path / "run")
    for record in records:
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    publish(tmp_path / "run", tmp_path / "site", formats=["json"], sort="detect_auc_mean")
    generators = json.loads((tmp_path / "site" / "results.json").read_text())["tables"][0]
    assert generators["ranking"]["by"] == "detect_auc_mean"
    order = [r["generator"] for r in generators["rows"]]
    assert order == ["vae", "wgan", "dcgan"]  # lowest mean detector AUC first; by FID it would be wgan, dcgan, vae



def test_publish_of_failed_units_only_and_of_an_empty_run(tmp_path: Path, cli) -> None:
    """A run whose every unit failed still publishes (the failures listed, no figures); a run
    folder without records is refused in one line before the site is made."""
    run = tmp_path / "run"
    store = RunStore(run)
    for record in synthetic_records({"dcgan": "gan"}, seeds=(0,)):
        failed = record_from_dict({**record, "status": "failed", "reason": "ValueError: lr"})
        store.write_record(failed, f"{record['kind']}-{record['key']}")
    result = cli.invoke(app, ["leaderboard", "publish", "--out", str(run), "--site", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "ValueError: lr" in (tmp_path / "s" / "index.html").read_text()
    RunStore(tmp_path / "empty")
    empty = cli.invoke(app, ["leaderboard", "publish", "--out", str(tmp_path / "empty"), "--site", str(tmp_path / "e")])
    assert empty.exit_code == 2 and "nothing to publish" in empty.output and not (tmp_path / "e").exists()

def test_show_cuts_tables_to_named_columns_as_markdown(tmp_path: Path, cli) -> None:
    run = tmp_path / "run"
    store = RunStore(run)
    for record in synthetic_records(seeds=(0,)):
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    shown = cli.invoke(app, ["leaderboard", "show", "--out", str(run), "--columns", "IS,null-check auc",
                             "--markdown"])
    assert shown.exit_code == 0, shown.output
    heads = [line for line in shown.output.splitlines() if line.startswith("| ")
             and ("generator" in line or "detector" in line)]
    assert heads[0] == "| rank | generator | FID ↓ | IS ↑ |"
    assert "| rank | detector | in-dist AUC ↑ | null-check AUC |" in heads
    assert "### Cross-generator AUC · spectrum · digits / smoke" in shown.output
    assert "Protocol: data set digits · preset smoke" in shown.output
    bad = cli.invoke(app, ["leaderboard", "show", "--out", str(run), "--columns", "fid,nope"])
    assert bad.exit_code == 2 and "no column nope" in bad.output and "Traceback" not in bad.output


def test_by_generator_turns_the_cross_matrices_and_sets_them_side_by_side(leaderboard, records, tmp_path: Path,
                                                                          cli) -> None:
    from ganbench.leaderboards import by_generator_boards

    (board,) = by_generator_boards(records_frame(records))
    assert list(board.data.generator) == sorted(GENERATORS)
    assert [c.name for c in board.columns[1:]] == [f"{d}:{t}" for d in sorted(DETECTORS) for t in sorted(GENERATORS)]
    for cross in leaderboard.of_kind("cross"):
        for train in GENERATORS:
            for test in GENERATORS:
                turned = row(board, "generator", test)[f"{cross.subject}:{train}"]
                assert turned == pytest.approx(row(cross, "train_generator", train)[test])
                assert turned == pytest.approx(np.mean([auc(cross.subject, train, test, s) for s in (0, 1)]))
    run = tmp_path / "run"
    store = RunStore(run)
    for record in records:
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    shown = cli.invoke(app, ["leaderboard", "show", "--out", str(run), "--table", "by-generator", "--columns",
                             "spectrum:dcgan,cnn trained on vae", "--markdown"])
    assert shown.exit_code == 0, shown.output
    assert "| fresh fakes of ↓ | cnn trained on vae ↑ | spectrum trained on dcgan ↑ |" in shown.output
    assert "### Detection AUC by generator of fresh fakes · digits / smoke" in shown.output
    ranked = cli.invoke(app, ["leaderboard", "show", "--out", str(run), "--table", "by-generator", "--sort",
                              "spectrum:dcgan", "--markdown"])
    assert ranked.exit_code == 0, ranked.output
    order = [line.split("|")[2].strip() for line in ranked.output.splitlines() if line.startswith("| ")][1:]
    assert order == sorted(GENERATORS, key=lambda g: -auc("spectrum", "dcgan", g, 0))
    bad = cli.invoke(app, ["leaderboard", "show", "--out", str(run), "--table", "by-generator", "--columns",
                           "spectrum:nope"])
    assert bad.exit_code == 2 and "no column spectrum:nope in the by-generator tables" in bad.output


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
    assert lines.index("Detectors") < lines.index("Protocol: data set digits · preset smoke · intervals [low, high]: "
                                                   "95% t-interval of the mean over seeds (cut to [0, 1])") < header
    assert lines.index("Cross-generator AUC · spectrum · digits / smoke") > header
    empty = io.StringIO()
    print_detector(records, Console(file=empty, width=60), "absent")
    assert empty.getvalue() == "no records of detector absent\n"


def test_terminal_prints_names_as_written_never_as_markup() -> None:
    name = "[bold]gan[/bold] [red]v2"
    records = [make("generation", 0, generator=generator, metrics={"fid": fid}, protocol=GEN_PROTOCOL)
               for generator, fid in ((name, 5.0), ("dcgan", 7.0))]
    buffer = io.StringIO()
    print_leaderboard(records, Console(file=buffer, width=200))
    assert name in buffer.getvalue()


def test_records_frame_keeps_documented_columns(records) -> None:
    frame = records_frame(records)
    for name in ("kind", "dataset", "preset", "seed", "generator", "train_generator", "perturbation", "detector",
                 "status", "fid", "auc", "protocol", "info"):
        assert name in frame


# ------------------------------------------------------------------------------ intervals and null checks
def one_seed_records() -> list[dict[str, Any]]:
    return synthetic_records(seeds=(0,))


@pytest.fixture(scope="module")
def one_seed():
    return build_leaderboard(one_seed_records())


def cells_of(board, detector: str) -> dict[str, str]:
    """The shown cell texts of one detector's row, by column label."""
    columns = shown_columns(board)
    (cells,) = [cells for record, cells in zip(board.data.to_dict("records"), text_rows(board, columns))
                if record["detector"] == detector]
    return {c.label: text for c, text in zip(columns, cells)}


def test_one_seed_detection_cells_show_their_bootstrap_interval(one_seed, leaderboard) -> None:
    (board,) = one_seed.of_kind("detectors")
    spectrum = cells_of(board, "spectrum")
    assert spectrum["in-dist AUC"] == "0.9000 [0.8700, 0.9200]"  # mean of 0.95, 0.90, 0.85; bounds -0.03, +0.02
    assert spectrum["in-dist TPR@1%FPR"] == "0.6000 [0.5700, 0.6200]"
    assert spectrum["null-check AUC"] == "0.5000 [0.4400, 0.5600]"
    assert spectrum["fit s"] == "1.500"
    assert protocol_lines(board)[0].endswith("intervals [low, high]: 95% bootstrap interval of each evaluation "
                                             "(a cell averaging several shows their mean bounds)")
    cross = next(b for b in one_seed.of_kind("cross") if b.subject == "cnn")
    assert text_rows(cross)[0][1:] == ["0.9100 [0.8800, 0.9300]", "0.5600 [0.5300, 0.5800]", "0.6100 [0.5800, 0.6300]"]
    frame = pd.read_csv(io.StringIO(results_csv(one_seed)))
    (cell,) = frame[(frame.kind == "detectors") & (frame.row == "spectrum") & (frame.column == "in_auc")].to_dict(
        "records")
    assert (cell["ci_low"], cell["ci_high"], cell["interval"]) == (pytest.approx(0.87), pytest.approx(0.92),
                                                                    "bootstrap")
    several = pd.read_csv(io.StringIO(results_csv(leaderboard)))
    assert set(several[several.column == "in_auc"].interval) == {"seeds"}


def without_intervals(record: dict[str, Any]) -> dict[str, Any]:
    metrics = {k: v for k, v in record["metrics"].items() if "_ci_" not in k and k != "null_p"}
    return record | {"metrics": metrics}


def test_records_without_intervals_render_numbers_alone() -> None:
    leaderboard = build_leaderboard([without_intervals(r) for r in one_seed_records()])
    (board,) = leaderboard.of_kind("detectors")
    spectrum = cells_of(board, "spectrum")
    assert spectrum["in-dist AUC"] == "0.9000" and spectrum["null-check AUC"] == "0.5000"
    assert "null check" not in spectrum
    assert "intervals" not in " ".join(protocol_lines(board))
    assert statistics_line(board) == ("Statistics: one seed (n=1): no std, no interval · rank by in-dist AUC ↑: "
                                      "one seed: ranks not tested")
    markdown = leaderboard_markdown(leaderboard, environment(one_seed_records()))
    assert "[0." not in markdown.split("## Detectors")[1]


def null_records(p_values: dict[str, float]) -> list[dict[str, Any]]:
    records = []
    for detector, p in p_values.items():
        records.append(make("detection", 0, generator="dcgan", train_generator="dcgan", detector=detector,
                            perturbation="none", metrics=detection_metrics(0.9), protocol=DET_PROTOCOL))
        records.append(make("null_check", 0, generator="real", train_generator="real", detector=detector,
                            perturbation="none", protocol=DET_PROTOCOL,
                            metrics={"auc": 0.55, "auc_ci_low": 0.51, "auc_ci_high": 0.6, "null_p": p,
                                     "null_pass": int(p >= 0.05)}))
    return records


def test_null_checks_are_judged_together_with_holm() -> None:
    """A single check at p = 0.03 fails alone; among four checks Holm multiplies it by 4 and it passes."""
    (board,) = build_leaderboard(null_records({"a": 0.03, "b": 0.2, "c": 0.5, "d": 0.9})).of_kind("detectors")
    rows = by_detector(board)
    assert [rows[d]["null_verdict"] for d in "abcd"] == ["pass"] * 4
    assert [rows[d]["null_p_holm"] for d in "abcd"] == pytest.approx([0.12, 0.6, 1.0, 1.0])
    assert "Holm-Bonferroni over the 4 null checks of this table" in board.protocols["null"]["correction"]
    assert any("Holm-Bonferroni over the 4 null checks" in line for line in protocol_lines(board))
    (board,) = build_leaderboard(null_records({"a": 0.004, "b": 0.02, "c": 0.5})).of_kind("detectors")
    rows = by_detector(board)
    assert [rows[d]["null_verdict"] for d in "abc"] == ["fail", "fail", "pass"]  # 0.012 and 0.04 <= 0.05
    assert cells_of(board, "a")["null check"] == "fail"


def by_detector(board) -> dict[str, dict[str, Any]]:
    return {r["detector"]: r for r in board.data.to_dict("records")}


def test_null_verdict_counts_the_seeds_that_fail(leaderboard) -> None:
    (board,) = leaderboard.of_kind("detectors")
    rows = by_detector(board)
    # p-values 0.5, 0.6 (spectrum) and 0.001, 0.3 (cnn): Holm multiplies 0.001 by 4, 0.3 by 3, then 2 and 1
    assert rows["spectrum"]["null_verdict"] == "pass" and rows["cnn"]["null_verdict"] == "fail in 1/2 seeds"
    assert rows["cnn"]["null_p_holm"] == pytest.approx(0.004) and rows["spectrum"]["null_p_holm"] == pytest.approx(1.0)


def test_page_without_probability_detectors_says_so(one_seed) -> None:
    page = render_page(one_seed, environment(one_seed_records()), Assets())
    assert "No detector in these records declares probability outputs" in page


def test_a_detector_run_with_other_weights_or_arguments_gets_its_own_row() -> None:
    identity = {"arguments": {}, "weights": {}}
    pretrained = {"arguments": {"weights": "auto"}, "weights": {"resnet50.pth": "1a2b3c4d5e6f7a8b"}}
    rows = [make("detection", detector="cnn", generator="a", train_generator="a", perturbation="none",
                 metrics=detection_metrics(0.9), protocol={"name": "in-distribution", "detector": identity}),
            make("detection", detector="cnn", generator="a", train_generator="a", perturbation="none",
                 metrics=detection_metrics(0.7), protocol={"name": "in-distribution", "detector": pretrained})]
    assert sorted(records_frame(rows)["detector"]) == ["cnn", "cnn (weights=auto) [resnet50.pth 1a2b3c4d]"]


def sampled_generation_records(seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    """Two generators whose FIDs lie within each other's bootstrap interval over the fakes drawn."""
    records = []
    for seed in seeds:
        for name, fid in (("dcgan", 20.0 + seed), ("gan", 20.5 + 3 * seed)):
            metrics = {"fid": fid, "fid_se": 0.5, "fid_ci_low": fid - 1.0, "fid_ci_high": fid + 1.0,
                       "precision": 0.8, "precision_ci_low": 0.75, "precision_ci_high": 0.85}
            records.append(make("generation", seed, generator=name, metrics=metrics, protocol=GEN_PROTOCOL))
    return records


def test_one_seed_generators_show_their_sampling_interval_and_rank_on_none() -> None:
    (board,) = build_leaderboard(sampled_generation_records((0,))).of_kind("generators")
    columns = shown_columns(board)
    rows = {record["generator"]: dict(zip([c.label for c in columns], cells))
            for record, cells in zip(board.data.to_dict("records"), text_rows(board, columns))}
    assert rows["dcgan"]["FID 95% CI"] == "[19.00, 21.00]" and rows["gan"]["FID 95% CI"] == "[19.50, 21.50]"
    assert [rows[g]["rank"] for g in ("dcgan", "gan")] == ["1", "2"]  # a z-test would tie them; none is run
    line = statistics_line(board)
    assert "bootstrap interval over the fakes one trained generator drew" in line
    assert "leaves out training's own variation" in line and "ranks not tested" in line
    frame = pd.read_csv(io.StringIO(results_csv(build_leaderboard(sampled_generation_records((0,))))))
    (cell,) = frame[(frame.kind == "generators") & (frame.row == "dcgan") & (frame.column == "fid")].to_dict("records")
    assert (cell["ci_low"], cell["ci_high"], cell["interval"]) == (19.0, 21.0, "sampling")


def test_generators_with_seeds_show_the_interval_over_seeds() -> None:
    (board,) = build_leaderboard(sampled_generation_records((0, 1))).of_kind("generators")
    record = board.data.set_index("generator").loc["gan"].to_dict()
    low, high, kind = row_interval(record, "fid")
    assert kind == "seeds" and low < 20.5 and high > 23.5  # the t-interval of 20.5 and 23.5, not a sampling one
    assert "t-interval of the mean" in statistics_line(board)


def test_only_finished_records_feed_the_tables() -> None:
    """A diverged or skipped unit is a problem to list, never a seed of a row, even when it holds numbers."""
    unfinished = [make("train", 2, generator="dcgan", status="diverged", reason="loss is nan",
                       metrics={"params": 1005, "train_seconds": 900.0}, info={"family": "gan", "device": "cpu"}),
                  make("generation", 2, generator="dcgan", status="diverged", metrics={"fid": 500.0},
                       protocol={**GEN_PROTOCOL, "weights": "w2", "classifier_test_acc": 0.9}),
                  make("detection", 2, generator="dcgan", train_generator="dcgan", detector="spectrum",
                       perturbation="none", status="skipped", reason="no fakes", metrics=detection_metrics(0.1),
                       protocol=DET_PROTOCOL)]
    leaderboard = build_leaderboard(synthetic_records() + unfinished)
    (board,) = leaderboard.of_kind("generators")
    dcgan = row(board, "generator", "dcgan")
    assert dcgan["fid"] == pytest.approx(11.0) and dcgan["fid_n"] == 2 and dcgan["seeds"] == 2
    assert dcgan["train_seconds"] == pytest.approx(2.5) and dcgan["train_seconds_n"] == 2
    (detectors,) = leaderboard.of_kind("detectors")
    in_dist = [np.mean([auc("spectrum", g, g, s) for g in GENERATORS]) for s in (0, 1)]
    assert row(detectors, "detector", "spectrum")["in_auc"] == pytest.approx(np.mean(in_dist))
    assert {(p["kind"], p["status"]) for p in leaderboard.problems} >= {
        ("train", "diverged"), ("generation", "diverged"), ("detection", "skipped")}


def test_a_detector_scored_without_a_training_generator_is_in_distribution_and_counts_in_detectability() -> None:
    """Detection records with no training generator (a detector scored as given) give the detector's
    in-distribution AUC, the mean over the generators it was tested on, and join each generator's detector AUCs."""
    records = [make("detection", seed, generator=generator, detector="pretrained", perturbation="none",
                    protocol=DET_PROTOCOL, metrics={"auc": value + 0.02 * seed})
               for seed in (0, 1) for generator, value in (("dcgan", 0.9), ("wgan", 0.6))]
    records += [make("detection", seed, generator="dcgan", train_generator="dcgan", detector="spectrum",
                     perturbation="none", protocol=DET_PROTOCOL, metrics={"auc": 0.7}) for seed in (0, 1)]
    leaderboard = build_leaderboard(records)
    (detectors,) = leaderboard.of_kind("detectors")
    pretrained = row(detectors, "detector", "pretrained")
    assert pretrained["in_auc"] == pytest.approx((0.9 + 0.6) / 2 + 0.01) and pretrained["in_auc_n"] == 2
    assert pretrained["worst_generator"] == "wgan"
    (generators,) = leaderboard.of_kind("generators")
    dcgan = row(generators, "generator", "dcgan")
    assert dcgan["detect_auc_mean"] == pytest.approx(((0.9 + 0.7) / 2 + (0.92 + 0.7) / 2) / 2)
    assert dcgan["detect_auc_worst"] == pytest.approx(0.7)
    assert row(generators, "generator", "wgan")["detect_auc_mean"] == pytest.approx(0.61)


def test_a_seed_recorded_twice_counts_once_and_a_rater_voting_twice_is_one_rater() -> None:
    """Duplicate records of one seed (merged runs) are averaged within the seed: the seeds column and the
    count behind the interval stay the number of seeds; the human protocol counts raters, not votes."""
    records = synthetic_records()
    again = next(r for r in records if r["kind"] == "generation" and r["generator"] == "dcgan" and r["seed"] == 0)
    records.append({**again, "key": again["key"] + "-again", "metrics": {**again["metrics"], "fid": 14.0}})
    records.append(make("detection", 1, generator="dcgan", detector="human:alice", perturbation="none",
                        metrics={"fooled_rate": 0.5}, protocol={"n_real": 20, "n_fake": 20}))
    (board,) = build_leaderboard(records).of_kind("generators")
    dcgan = row(board, "generator", "dcgan")
    assert dcgan["seeds"] == 2 and dcgan["fid_n"] == 2
    assert dcgan["fid"] == pytest.approx(((10.0 + 14.0) / 2 + 12.0) / 2)
    assert board.protocols["human"] == {"raters": 2}
    assert any("2 rater(s)" in line for line in protocol_lines(board))


def test_quality_records_naming_their_seed_share_one_table() -> None:
    """The run seed in a quality protocol (a per-run classifier's seed) varies between the seeds a row averages:
    it never splits a table."""
    records = [dict(r, protocol={**r["protocol"], "seed": r["seed"]}) if r["kind"] == "generation" else r
               for r in synthetic_records()]
    (board,) = build_leaderboard(records).of_kind("generators")
    assert sorted(board.data.generator) == sorted(GENERATORS)
    assert row(board, "generator", "dcgan")["fid_n"] == 2 and "seed" not in board.protocols["quality"]


def test_a_row_measured_under_one_protocol_binds_its_table_for_later_rows() -> None:
    """dcgan has quality numbers only, vae quality and detection at n=1000, wgan detection only at n=200: once vae
    joins dcgan's table, that table's detection protocol is vae's, and wgan's n=200 cannot join it too."""
    quality = {**GEN_PROTOCOL, "weights": "w0"}
    records = [make("generation", 0, generator="dcgan", metrics={"fid": 10.0}, protocol=quality),
               make("detection", 0, generator="wgan", train_generator="wgan", detector="spectrum",
                    perturbation="none", metrics={"auc": 0.8}, protocol=DET_PROTOCOL),
               make("generation", 0, generator="vae", metrics={"fid": 30.0}, protocol=quality),
               make("detection", 0, generator="vae", train_generator="vae", detector="spectrum", perturbation="none",
                    metrics={"auc": 0.9}, protocol={**DET_PROTOCOL, "n_real": 1000, "n_fake": 1000})]
    boards = build_leaderboard(records).of_kind("generators")
    assert sorted(sorted(b.data.generator) for b in boards) == [["dcgan", "vae"], ["wgan"]]
    for board in boards:
        assert board.protocols["detection"]["n_real"] == (200 if list(board.data.generator) == ["wgan"] else 1000)


def test_a_detector_measured_under_two_protocols_gets_a_cross_matrix_for_each() -> None:
    """The same detector's cells at 200 and at 1000 test images are never averaged into one matrix."""
    records = [make("detection", 0, generator=test, train_generator=train, detector="spectrum", perturbation="none",
                    metrics={"auc": value + (0.1 if n == 1000 else 0.0)},
                    protocol={**DET_PROTOCOL, "n_real": n, "n_fake": n})
               for n in (200, 1000)
               for (train, test), value in {("dcgan", "dcgan"): 0.8, ("dcgan", "wgan"): 0.6,
                                            ("wgan", "wgan"): 0.85, ("wgan", "dcgan"): 0.5}.items()]
    matrices = build_leaderboard(records).of_kind("cross")
    assert sorted(m.protocols["clean"]["n_real"] for m in matrices) == [200, 1000]
    for matrix in matrices:
        shift = 0.1 if matrix.protocols["clean"]["n_real"] == 1000 else 0.0
        assert row(matrix, "train_generator", "dcgan")["wgan"] == pytest.approx(0.6 + shift)
        assert row(matrix, "train_generator", "wgan")["dcgan"] == pytest.approx(0.5 + shift)
        assert matrix.data["dcgan_n"].max() == 1
