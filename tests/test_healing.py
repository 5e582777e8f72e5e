"""Damage heals itself: a damaged checkpoint, reference-classifier cache, fakes file or record is
named on one warning line, moved aside to ``<name>.damaged`` and computed again, to the very
result it held before (records equal apart from wall-clock fields)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.features import ClassifierExtractor, weights_digest
from ganbench.presets import get_preset
from ganbench.records import without_wall_clock
from ganbench.store import CACHE_ENV, Damage, DamagedFile, RunStore, load_npz, load_torch, quarantine



def bodies(out: Path) -> dict[str, Any]:
    return {p.name: without_wall_clock(json.loads(p.read_text())) for p in sorted((out / "records").glob("*.json"))}


def record_of(records: Path, kind: str, which: int = 0) -> Path:
    return sorted(records.glob(f"{kind}-*.json"))[which]


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_every_kind_of_damage_is_named_moved_aside_and_recomputed_to_the_same_result(
        smoke_run, shared_cache: Path, tmp_path: Path, monkeypatch):
    source, result = smoke_run
    assert result.exit_code == 0, result.output
    out = tmp_path / "run"
    shutil.copytree(source, out)
    records = out / "records"
    train_info = json.loads(record_of(records, "train").read_text())["info"]
    checkpoint = out / train_info["checkpoint"]
    fakes = out / json.loads(record_of(records, "sample").read_text())["info"]["fakes"]
    cache_copy = tmp_path / "cache"
    shutil.copytree(shared_cache, cache_copy)
    monkeypatch.setenv(CACHE_ENV, str(cache_copy))
    epochs = get_preset("smoke").classifier_epochs
    (cache,) = cache_copy.glob(f"classifier-{ClassifierExtractor.recipe}-{train_info['data']}-s0-e{epochs}-t*.pt")
    originals = {"weights": RunStore.load_checkpoint(checkpoint)["model"], "fakes": load_npz(fakes, "fakes")}
    classifier_hash = json.loads(record_of(records, "generation").read_text())["protocol"]["weights"]

    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    flip_byte(fakes)
    flip_byte(cache)
    broken = record_of(records, "detection", 0)
    broken.write_text(broken.read_text()[:40])
    edited = record_of(records, "detection", 1)
    body = json.loads(edited.read_text())
    body["metrics"]["auc"] = 0.001
    edited.write_text(json.dumps(body))
    damaged = {path: path.read_bytes() for path in (checkpoint, fakes, cache, broken, edited)}

    shown = CliRunner().invoke(app, ["leaderboard", "show", "--out", str(out)])
    assert shown.exit_code == 0 and "left out 2 damaged or edited record(s)" in shown.stderr
    assert edited.name in shown.stderr and broken.name in shown.stderr

    healed = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(out), "-q"])
    assert healed.exit_code == 0, healed.output
    warnings = [line for line in healed.stderr.splitlines() if line.startswith("warning: damaged")]
    for path, bytes_written in damaged.items():
        (line,) = [w for w in warnings if f" {path}: " in w]
        aside = path.with_name(path.name + ".damaged")
        assert f"moved aside to {aside.name}" in line and "again" in line
        assert aside.read_bytes() == bytes_written
    assert len(warnings) == len(damaged)
    listed = CliRunner().invoke(app, ["leaderboard", "show", "--out", str(out)])
    assert listed.exit_code == 0 and "left out" not in listed.stderr
    assert "2 damaged record(s)" in listed.stderr and "moved aside by an earlier run" in listed.stderr
    assert f"{broken.name}.damaged" in listed.stderr and f"{edited.name}.damaged" in listed.stderr

    assert bodies(out) == bodies(source)
    weights = RunStore.load_checkpoint(checkpoint)["model"]
    assert all(torch.equal(weights[k], v) for k, v in originals["weights"].items())
    assert all(np.array_equal(load_npz(fakes, "fakes")[k], v) for k, v in originals["fakes"].items())
    assert weights_digest(load_torch(cache, "cache")) == classifier_hash


def test_a_lost_train_record_trains_again_to_the_same_record(smoke_run, tmp_path: Path):
    """A finished checkpoint without its record is trained again from step 0 (resuming it would
    write a record without the training's losses)."""
    source, _ = smoke_run
    out = tmp_path / "run"
    shutil.copytree(source, out)
    train = record_of(out / "records", "train")
    train.write_bytes(b"\x00" * 10)
    healed = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(out), "-q"])
    assert healed.exit_code == 0, healed.output
    assert f"warning: damaged record {train}: not a JSON record" in healed.stderr
    assert train.with_name(train.name + ".damaged").read_bytes() == b"\x00" * 10
    assert bodies(out) == bodies(source)


def test_quarantine_keeps_one_copy_and_leaves_a_rewritten_file_alone(tmp_path: Path):
    path = tmp_path / "fakes.npz"
    aside = tmp_path / "fakes.npz.damaged"
    for content in (b"first", b"second"):
        path.write_bytes(content)
        line = quarantine(Damage("fakes", path, "truncated"), "sampling again")
        assert line == (f"warning: damaged fakes {path}: truncated; moved aside to fakes.npz.damaged; "
                        "sampling again")
        assert not path.exists() and aside.read_bytes() == content
    path.write_bytes(b"old")
    seen = path.stat()
    path.unlink()
    path.write_bytes(b"rewritten by another process")
    assert quarantine(Damage("fakes", path, "truncated", seen), "sampling again") is None
    assert path.exists() and aside.read_bytes() == b"second"
    seen = path.stat()
    path.unlink()
    path.write_bytes(b"REWRITTEN BY ANOTHER PROCESS")
    os.utime(path, ns=(seen.st_atime_ns, seen.st_mtime_ns + 10**9))  # a later copy of the same size
    assert path.stat().st_size == seen.st_size
    assert quarantine(Damage("fakes", path, "truncated", seen), "sampling again") is None
    assert path.exists() and aside.read_bytes() == b"second"
    path.unlink()
    assert quarantine(Damage("fakes", path, "truncated"), "sampling again") is None


def test_a_flipped_byte_in_a_checkpoint_is_caught_where_torch_load_would_not_notice(tmp_path: Path):
    path = tmp_path / "c.pt"
    RunStore(tmp_path / "run").save_checkpoint(path, {"w": torch.arange(4096, dtype=torch.float32)})
    data = bytearray(path.read_bytes())
    start = data.index(torch.arange(4096, dtype=torch.float32).numpy().tobytes()[:64])
    data[start + 1000] ^= 0x01
    path.write_bytes(bytes(data))
    assert not torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(4096, dtype=torch.float32))
    with pytest.raises(DamagedFile, match="CRC-32 mismatch"):
        load_torch(path, "checkpoint")


def test_a_finished_trainings_checkpoint_is_reused_only_if_it_says_it_finished(tmp_path: Path) -> None:
    """A record of a finished training is reused only while its checkpoint loads and says finished:
    an unfinished one (a training cut short after its record) trains again, a damaged one is named."""
    from ganbench.generation import GenerationUnits

    store = RunStore(tmp_path)
    finished, unfinished, damaged = (tmp_path / f"{name}.pt" for name in ("finished", "unfinished", "damaged"))
    store.save_checkpoint(finished, {"step": 10, "finished": True})
    store.save_checkpoint(unfinished, {"step": 5, "finished": False})
    store.save_checkpoint(damaged, {"step": 10, "finished": True, "weights": torch.arange(4096.0)})
    flip_byte(damaged)
    assert GenerationUnits.intact_checkpoint(finished) is True
    assert GenerationUnits.intact_checkpoint(unfinished) is False
    assert GenerationUnits.intact_checkpoint(tmp_path / "missing.pt") is False
    assert isinstance(GenerationUnits.intact_checkpoint(damaged), Damage)
