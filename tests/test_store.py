"""Run store: stable keys, atomic writes, verified records, safe checkpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from ganbench.errors import UserError
from ganbench.store import CACHE_ENV, Record, RunStore, atomic_write_bytes, read_npz, unit_key, write_npz


def test_unit_key_is_stable_and_order_free():
    assert unit_key({"a": 1, "b": [1, 2]}) == unit_key({"b": [1, 2], "a": 1})
    assert unit_key({"a": 1}) != unit_key({"a": 2})


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path, monkeypatch):
    target = tmp_path / "x.json"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(UserError, match="cannot write .*x.json: disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_records_round_trip_and_damaged_ones_are_ignored(tmp_path: Path):
    store = RunStore(tmp_path)
    record = Record(kind="generation", key="abc", dataset="digits", preset="smoke", seed=0, generator="dcgan",
                    metrics={"fid": 12.5, "nan": float("nan")})
    path = store.write_record(record, "dcgan")
    body = store.find_record("generation", "dcgan", "abc")
    assert body["metrics"] == {"fid": 12.5, "nan": None} and body["status"] == "ok"

    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    assert store.find_record("generation", "dcgan", "abc") is None
    tampered = json.loads(text)
    tampered["metrics"]["fid"] = 1.0
    path.write_text(json.dumps(tampered))
    assert store.find_record("generation", "dcgan", "abc") is None and list(store.records()) == []


def test_out_that_is_a_file_is_a_user_error(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        RunStore(tmp_path / "file")


def test_checkpoints_cannot_run_code(tmp_path: Path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"model": Payload()}))
    with pytest.raises(UserError, match="unsafe"):
        RunStore.load_checkpoint(evil)
    assert not (tmp_path / "pwned").exists()
    store = RunStore(tmp_path / "run")
    store.save_checkpoint(tmp_path / "ok.pt", {"w": torch.ones(2), "step": 3})
    assert RunStore.load_checkpoint(tmp_path / "ok.pt")["step"] == 3


def test_npz_round_trip_and_truncation(tmp_path: Path):
    path = tmp_path / "f.npz"
    write_npz(path, x=torch.arange(6).numpy())
    assert read_npz(path)["x"].tolist() == list(range(6))
    path.write_bytes(path.read_bytes()[:20])
    assert read_npz(path) is None


def test_runs_share_the_reference_classifier_through_the_cache_variable(smoke_run, shared_cache: Path):
    out, _ = smoke_run
    assert list(shared_cache.glob("classifier-*.pt")), "the smoke run trains its classifier into $GANBENCH_CACHE"
    assert not list((out / "cache").iterdir())
    assert RunStore(out).cache_dir == shared_cache


def test_without_the_cache_variable_a_run_keeps_its_own_cache(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV)
    assert RunStore(tmp_path).cache_dir == tmp_path / "cache"
