"""Records, unit locks and quality settings: what a record keeps, who holds a lock, what a score states."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
from pathlib import Path

import torch

from ganbench.features import FeatureExtractor
from ganbench.locks import LockHolder, UnitLock, _pid_scope, gone_from_this_host, this_process
from ganbench.quality import QualityConfig, image_metrics
from ganbench.records import (NullCheckRecord, Record, SampleRecord, TrainRecord, new_record, record_from_dict,
                              without_wall_clock)

FIELDS = {"dataset": "digits", "preset": "smoke", "seed": 0}


# -- records


def test_a_read_back_record_keeps_its_creation_stamp_and_a_new_one_is_stamped_now() -> None:
    stamped = "2020-01-02T03:04:05+00:00"
    assert Record(kind="train", key="k", created=stamped, **FIELDS).to_dict()["created"] == stamped
    fresh = dt.datetime.fromisoformat(Record(kind="train", key="k", **FIELDS).to_dict()["created"])
    assert abs((dt.datetime.now(dt.timezone.utc) - fresh).total_seconds()) < 60


def test_new_records_are_typed_by_their_kind() -> None:
    train = new_record("train", "k", info={"checkpoint": "checkpoints/gan-k.pt"}, **FIELDS)
    assert isinstance(train, TrainRecord) and train.checkpoint == "checkpoints/gan-k.pt"
    assert type(new_record("someday", "k", **FIELDS)) is Record
    assert type(record_from_dict(train.to_dict())) is TrainRecord


def test_wall_clock_fields_are_left_out_at_every_depth() -> None:
    body = {"created": "now", "checksum": "abc", "seconds": 3.0, "key": "k",
            "metrics": {"fid": 1.5, "images_per_second": 900.0},
            "info": {"passes": [{"seconds": 2.0, "steps": 4}, {"train_seconds": 1.0, "steps": 8}]}}
    assert without_wall_clock(body) == {"key": "k", "metrics": {"fid": 1.5},
                                        "info": {"passes": [{"steps": 4}, {"steps": 8}]}}


def test_a_null_check_passes_only_when_its_pass_flag_is_set() -> None:
    def check(**metrics: float) -> NullCheckRecord:
        return NullCheckRecord(kind="null_check", key="k", metrics=metrics, **FIELDS)

    assert check(null_pass=1).passed
    assert not check(null_pass=0).passed and not check(auc=0.5).passed


def test_a_sample_records_task_measures_are_the_ones_it_lists() -> None:
    metrics = {"psnr": 21.5, "ssim": 0.7, "images_per_second": 800.0}
    listed = SampleRecord(kind="sample", key="k", metrics=metrics, info={"task_measures": ["psnr", "ssim"]}, **FIELDS)
    assert listed.task_measures == {"psnr": 21.5, "ssim": 0.7}
    assert SampleRecord(kind="sample", key="k", metrics=metrics, **FIELDS).task_measures == {}


# -- unit locks


def write_lock(path: Path, heartbeat: float) -> None:
    """A lock file of a process of another host, put in place atomically."""
    body = {"host": "other-host", "pid": 4242, "unit": "train dcgan", "started": heartbeat, "heartbeat": heartbeat,
            "token": "theirs"}
    tmp = path.with_name(path.name + ".writing")
    tmp.write_text(json.dumps(body))
    os.replace(tmp, path)


def test_a_lock_names_the_pid_scope_of_its_holder(tmp_path: Path) -> None:
    """Without its boot and pid namespace, a lock of another container of this host name is judged by pids here."""
    assert this_process()["pid_scope"] == _pid_scope()
    with UnitLock(tmp_path / "unit.lock"):
        assert json.loads((tmp_path / "unit.lock").read_text())["pid_scope"] == _pid_scope()


def test_a_holder_with_a_pid_below_one_is_gone() -> None:
    """pid 0 names no process (``kill(0, 0)`` signals one's own group), so its lock is taken over at once."""
    for pid in (0, -1):
        holder = LockHolder(host=socket.gethostname(), pid=pid, heartbeat=time.time(), pid_scope=_pid_scope())
        assert gone_from_this_host(holder)


def test_a_lock_whose_heartbeat_stopped_long_ago_is_taken_over_when_first_seen(tmp_path: Path) -> None:
    path = tmp_path / "unit.lock"
    write_lock(path, heartbeat=time.time() - 120)
    lock = UnitLock(path, poll=0.01, timeout=5)
    thread = threading.Thread(target=lock.acquire, daemon=True)
    thread.start()
    thread.join(1)
    assert lock.held and not lock.waited
    lock.release()
    assert not path.exists()


def test_waiting_is_reported_once_per_report_interval_and_the_take_over_once(tmp_path: Path) -> None:
    path = tmp_path / "unit.lock"
    write_lock(path, heartbeat=time.time())
    messages: list[str] = []
    lock = UnitLock(path, poll=0.01, timeout=60, on_wait=messages.append, report_every=30)
    thread = threading.Thread(target=lock.acquire, daemon=True)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive() and len(messages) == 1 and messages[0].startswith("waiting for unit: locked by pid 4242")
    write_lock(path, heartbeat=time.time() - 120)
    thread.join(2)
    assert lock.held and len(messages) == 2 and "took over the lock of pid 4242 on other-host" in messages[1]
    lock.release()


def test_an_owner_taken_over_between_beats_knows_it_lost_the_lock_on_release(tmp_path: Path) -> None:
    path = tmp_path / "unit.lock"
    lock = UnitLock(path, timeout=600, heartbeat=600)
    lock.acquire()
    write_lock(path, heartbeat=time.time())
    assert not lock.lost
    lock.release()
    assert lock.lost and json.loads(path.read_text())["host"] == "other-host"


# -- quality settings and protocol


class Pixels(FeatureExtractor):
    """The first eight pixels as features, no class probabilities."""

    name = "pixels"
    weights_hash = "none"
    device = torch.device("cpu")

    def protocol(self) -> dict[str, object]:
        return {"extractor": "pixels"}

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return images.float().flatten(1)[:, :8], None


def test_quality_settings_default_to_the_papers() -> None:
    """KID: 100 subsets of 1000 (Binkowski et al.); IS: 10 splits (Salimans et al.); PRDC: k = 5 (Naeem et al.)."""
    config = QualityConfig()
    assert (config.kid_subsets, config.kid_subset_size, config.is_splits, config.prdc_k) == (100, 1000, 10, 5)


def test_the_protocol_states_the_counts_of_each_side_and_the_feature_size() -> None:
    generator = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (30, 1, 4, 4), generator=generator, dtype=torch.uint8)
    fakes = torch.randint(0, 256, (24, 1, 4, 4), generator=generator, dtype=torch.uint8)
    config = QualityConfig(kid_subsets=2, intervals=None, prdc_k=3)
    _, protocol = image_metrics(real, fakes, Pixels(), config=config, real_split="train")
    assert (protocol["n_real"], protocol["n_fake"], protocol["feature_dim"]) == (30, 24, 8)
    assert (protocol["kid_subset_size"], protocol["real_split"], protocol["is_probs"]) == (24, "train", "none")
