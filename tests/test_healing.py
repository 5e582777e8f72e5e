"""Damage heals itself: a damaged checkpoint of a finished training is trained again, a damaged
classifier cache is rebuilt, and records that fail their checksum are named, never hidden."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.store import CACHE_ENV, RunStore


def loads(path: Path) -> bool:
    """Whether a cache file (the run's own, among those other runs left in the shared folder) loads again."""
    try:
        return bool(torch.load(path, weights_only=True))
    except Exception:
        return False


def test_damaged_checkpoint_and_cache_are_rebuilt_and_edited_records_named(smoke_run, shared_cache: Path,
                                                                          tmp_path: Path, monkeypatch):
    source, result = smoke_run
    assert result.exit_code == 0, result.output
    out = tmp_path / "run"
    shutil.copytree(source, out)
    records = out / "records"
    train = next(p for p in records.glob("*.json") if json.loads(p.read_text())["kind"] == "train")
    checkpoint = out / json.loads(train.read_text())["info"]["checkpoint"]
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    for path in records.glob("*.json"):
        if json.loads(path.read_text())["kind"] == "sample":
            path.unlink()
    cache_copy = tmp_path / "cache"
    shutil.copytree(shared_cache, cache_copy)
    monkeypatch.setenv(CACHE_ENV, str(cache_copy))
    caches = sorted(cache_copy.glob("classifier-*.pt"))
    assert caches
    for cache in caches:
        cache.write_bytes(b"truncated")
    edited = next(p for p in records.glob("*.json") if json.loads(p.read_text())["kind"] == "generation")
    body = json.loads(edited.read_text())
    body["metrics"]["fid"] = 0.001
    edited.write_text(json.dumps(body))

    shown = CliRunner().invoke(app, ["leaderboard", "show", "--out", str(out)])
    assert shown.exit_code == 0 and "left out 1 damaged or edited record(s)" in shown.stderr
    assert edited.name in shown.stderr

    healed = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(out)])
    assert healed.exit_code == 0, healed.output
    assert "trained again and replaced" in " ".join(healed.stderr.split())
    state = RunStore.load_checkpoint(checkpoint)
    assert state["variant"] == "dcgan"
    assert any(loads(cache) for cache in caches)
    assert all(RunStore.read_record_body(p) is not None for p in records.glob("*.json"))
    assert json.loads(edited.read_text())["metrics"]["fid"] != 0.001
