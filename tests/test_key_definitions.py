"""Unit keys cover every input that changes a result, and records say what was used.

A rerun reuses a record whose key matches, so two runs that differ in anything that changes a
unit's result must get different keys for that unit; a detector's identity must follow its code,
its arguments and the bytes of its weights; the data and the outside fakes are keyed by content.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from rich.console import Console

from ganbench import store, units
from ganbench.data import Dataset
from ganbench.detection import DetectionUnits
from ganbench.detectors.external import ExternalFakes
from ganbench.detectors.identity import detector_identity, weights_identity
from ganbench.detectors.plugins import DetectorSpec
from ganbench.features import INCEPTION_RESIZES
from ganbench.presets import get_preset
from ganbench.quality import QualityConfig
from ganbench.records import Record
from ganbench.store import RunStore, file_digest
from ganbench.units import (Scope, UnitEngine, detection_unit, fake_counts, generation_unit, null_check_unit,
                            sample_unit, train_unit)

DETECTOR = {"detector": "spectrum", "arguments": {}, "weights": {}}


def scope(**changes: Any) -> Scope:
    """A small image scope on the smoke preset, with ``changes`` applied."""
    return dataclasses.replace(Scope("digits", "f", "image", get_preset("smoke"), 0, threads=1), **changes)


def every_key(s: Scope) -> list[str]:
    """One key of each kind of unit in scope ``s``."""
    return [train_unit(s, "dcgan").key, sample_unit(s, "dcgan", "t").key,
            generation_unit(s, "dcgan", "s", "classifier", None).key,
            detection_unit(s, DETECTOR, "dcgan", ["s"], "dcgan", "s", "none").key,
            null_check_unit(s, DETECTOR).key]


def differ_everywhere(a: Scope, b: Scope) -> bool:
    """Whether every kind of unit gets a different key in ``a`` than in ``b``."""
    return all(x != y for x, y in zip(every_key(a), every_key(b), strict=True))


def test_a_changed_preset_budget_gives_every_unit_a_new_key() -> None:
    """A preset with a field overridden keeps its name but must not share keys with the plain one."""
    plain = scope()
    assert differ_everywhere(plain, scope(preset=plain.preset.with_overrides(steps=plain.preset.steps + 1)))
    assert differ_everywhere(plain, scope(preset=plain.preset.with_overrides(n_eval=plain.preset.n_eval + 1)))


def test_the_checkpoint_interval_and_detection_plan_leave_keys_alone() -> None:
    """How often training checkpoints and which detectors are planned change no result, so no key."""
    plain = scope()
    other = scope(preset=plain.preset.with_overrides(checkpoint_every=plain.preset.checkpoint_every + 1,
                                                     detection_plan="compact"))
    assert every_key(plain) == every_key(other)


def test_another_seed_gives_every_unit_a_new_key() -> None:
    """Runs with different seeds never reuse each other's units."""
    assert differ_everywhere(scope(seed=0), scope(seed=1))


def test_other_data_content_gives_every_unit_a_new_key() -> None:
    """A data set whose content changed (same name) is trained and scored again."""
    assert differ_everywhere(scope(data_fingerprint="before"), scope(data_fingerprint="after"))


def test_the_sample_key_follows_the_trained_generator() -> None:
    """A retrained generator (a new training key) is sampled again rather than reusing the old fakes."""
    s = scope()
    assert sample_unit(s, "dcgan", "first-training").key != sample_unit(s, "dcgan", "second-training").key


def test_fake_counts_are_the_presets_counts_per_set() -> None:
    """Each fake set holds the preset's count for that set."""
    preset = get_preset("smoke").with_overrides(n_eval=7, n_detector_train=11, n_detector_test=13)
    assert fake_counts(preset) == {"eval": 7, "detector_train": 11, "fresh": 13}
    assert set(fake_counts(preset)) == set(units.FAKE_SETS)


def test_the_generation_key_follows_the_fakes_the_extractor_and_its_weights() -> None:
    """Scores of other fakes, another extractor, other extractor weights or another Inception resize are
    computed again; pytorch-fid's resize, the default, keeps the keys made before the resize was an option."""
    s = scope()
    key = generation_unit(s, "dcgan", "fakes-a", "classifier", None).key
    assert generation_unit(s, "dcgan", "fakes-b", "classifier", None).key != key
    assert generation_unit(s, "dcgan", "fakes-a", "inception", None).key != key
    with_weights = generation_unit(s, "dcgan", "fakes-a", "inception", "sha256:aaaa").key
    assert with_weights != generation_unit(s, "dcgan", "fakes-a", "inception", "sha256:bbbb").key
    assert with_weights != generation_unit(s, "dcgan", "fakes-a", "inception", None).key
    resized = {resize: generation_unit(s, "dcgan", "fakes-a", "inception", "sha256:aaaa", resize).key
               for resize in INCEPTION_RESIZES}
    assert resized["pytorch-fid"] == with_weights and len(set(resized.values())) == len(INCEPTION_RESIZES)


@pytest.mark.parametrize("setting", ["kid_subsets", "kid_subset_size", "is_splits", "is_shuffle_seed", "prdc_k"])
def test_every_metric_setting_enters_the_generation_key(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing KID's subsets, IS's splits or shuffle, or PRDC's k rescores instead of reusing."""
    s = scope()
    key = generation_unit(s, "dcgan", "fakes", "classifier", None).key
    changed = getattr(QualityConfig(), setting) + 1
    monkeypatch.setattr(units, "QualityConfig", functools.partial(QualityConfig, **{setting: changed}))
    assert generation_unit(s, "dcgan", "fakes", "classifier", None).key != key


def test_the_bootstrap_settings_enter_the_generation_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing the resamples of the intervals (or turning them off) rescores instead of reusing."""
    from ganbench.score_intervals import BootstrapSettings

    s = scope()
    key = generation_unit(s, "dcgan", "fakes", "classifier", None).key
    for intervals in (BootstrapSettings(se_resamples=20), BootstrapSettings(percentile_resamples=200), None):
        monkeypatch.setattr(units, "QualityConfig", functools.partial(QualityConfig, intervals=intervals))
        assert generation_unit(s, "dcgan", "fakes", "classifier", None).key != key


def test_the_detection_key_follows_the_test_fakes_the_perturbation_and_every_training_set() -> None:
    """A detection unit is recomputed when its test fakes, perturbation or any training fakes change."""
    s = scope()

    def key(train: list[str], test_key: str = "fresh-1", perturbation: str = "none") -> str:
        return detection_unit(s, DETECTOR, "all", train, "dcgan", test_key, perturbation).key

    assert key(["a"], test_key="fresh-2") != key(["a"])
    assert key(["a"], perturbation="jpeg-50") != key(["a"])
    assert key(["a", "b"]) != key(["a", "b2"])
    assert key(["a", "b"]) != key(["a"])


def test_detection_and_null_check_keys_follow_the_whole_detector_identity() -> None:
    """A detector with other arguments, weights or code is fitted again, not read back by its name."""
    s = scope()
    others = [{**DETECTOR, "arguments": {"c": "2.0"}}, {**DETECTOR, "weights": {"w.pt": "1234"}},
              {**DETECTOR, "code": {"source_digest": "edited"}}]
    plain = detection_unit(s, DETECTOR, "dcgan", ["s"], "dcgan", "t", "none").key
    assert all(detection_unit(s, d, "dcgan", ["s"], "dcgan", "t", "none").key != plain for d in others)
    assert all(null_check_unit(s, d).key != null_check_unit(s, DETECTOR).key for d in others)


class Tunable:
    """A detector whose constructor takes a plain number."""

    def __init__(self, c: float = 1.0) -> None:
        self.c = c


def test_a_detectors_identity_says_its_arguments() -> None:
    """Two fits of one detector with other constructor arguments have other identities."""
    one = detector_identity(DetectorSpec("tunable", Tunable, "builtin", (("c", 1.0),)))
    two = detector_identity(DetectorSpec("tunable", Tunable, "builtin", (("c", 2.0),)))
    assert one["arguments"] == {"c": "1.0"} and two["arguments"] == {"c": "2.0"}
    assert one != two


def file_detector(default: Path) -> type:
    """A detector class whose constructor loads ``default`` unless told another file."""

    class FromFile:
        def __init__(self, checkpoint: str = str(default)) -> None:
            self.checkpoint = checkpoint

    return FromFile


def test_rewritten_weights_under_the_same_path_change_the_identity(tmp_path: Path) -> None:
    """A checkpoint swapped under the same path gives the detector a new identity."""
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"first weights")
    spec = DetectorSpec("from-file", file_detector(weights), "builtin")
    before = detector_identity(spec)
    assert before["weights"] == {"weights.bin": file_digest(weights)}
    weights.write_bytes(b"second, longer weights")
    assert detector_identity(spec)["weights"] != before["weights"]


def test_a_weights_file_named_by_a_default_or_by_the_user_is_the_one_identified(tmp_path: Path) -> None:
    """The default checkpoint counts when the user names none; a user's checkpoint replaces it."""
    default, chosen = tmp_path / "default.bin", tmp_path / "chosen.bin"
    default.write_bytes(b"default weights")
    chosen.write_bytes(b"chosen weights")
    cls = file_detector(default)
    assert weights_identity(DetectorSpec("from-file", cls, "builtin")) == {"default.bin": file_digest(default)}
    assert weights_identity(DetectorSpec("from-file", cls, "builtin", (("checkpoint", str(chosen)),))) == {
        "chosen.bin": file_digest(chosen)}


def test_weights_files_a_detector_declares_are_identified(tmp_path: Path) -> None:
    """Files a detector says it loads (not named by any argument) enter its identity by content."""
    (tmp_path / "backbone.pt").write_bytes(b"backbone weights")

    class Declaring:
        def __init__(self, root: int = 0) -> None:
            self.root = root

        @classmethod
        def weights_files(cls, arguments: dict[str, Any]) -> list[Path]:
            return [tmp_path / "backbone.pt"]

    assert weights_identity(DetectorSpec("declaring", Declaring, "builtin")) == {
        "backbone.pt": file_digest(tmp_path / "backbone.pt")}


def test_editing_a_detectors_module_changes_its_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A detector whose code was edited is keyed apart from the one before the edit."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    module = tmp_path / "edited_detector.py"
    module.write_text("class Detector:\n    scale = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        cls = importlib.import_module("edited_detector").Detector
        before = detector_identity(DetectorSpec("edited", cls, "import:edited_detector:Detector"))
        module.write_text("class Detector:\n    scale = 1000\n")
        sys.modules.pop("edited_detector")
        cls = importlib.import_module("edited_detector").Detector
        assert detector_identity(DetectorSpec("edited", cls, "import:edited_detector:Detector")) != before
    finally:
        sys.modules.pop("edited_detector", None)


def test_a_file_replaced_by_one_of_the_same_size_gets_a_new_digest(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """File digests follow the bytes: a file swapped for another of the same size is read again (even
    where digests of files just written are kept)."""
    monkeypatch.setattr(store, "RACY_WINDOW_NS", -10**18)
    path, replacement = tmp_path / "weights.bin", tmp_path / "new-weights.bin"
    path.write_bytes(b"aaaa")
    before = file_digest(path)
    replacement.write_bytes(b"bbbb")
    os.replace(replacement, path)
    assert file_digest(path) != before


def test_a_file_rewritten_within_its_timestamps_resolution_is_read_again(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A file rewritten in place with the same size within one tick of a coarse clock keeps its size,
    times and inode: its digest is kept only once the file is older than the tick can hide."""
    path = tmp_path / "weights.bin"
    path.write_bytes(b"aaaa")
    first_write = path.stat()
    monkeypatch.setattr(Path, "stat", lambda self, **kwargs: first_write)
    young = file_digest(path)
    path.write_bytes(b"bbbb")
    assert file_digest(path) != young
    later = max(first_write.st_mtime_ns, first_write.st_ctime_ns) + store.RACY_WINDOW_NS + 1
    monkeypatch.setattr(store.time, "time_ns", lambda: later)
    settled = file_digest(path)
    path.write_bytes(b"cccc")
    assert file_digest(path) == settled  # kept: an old file's unchanged stat is trusted


def digits_like(labels: torch.Tensor) -> Dataset:
    """A tiny data set of fixed images with ``labels`` on its train split."""
    images = torch.arange(6 * 16, dtype=torch.uint8).reshape(6, 1, 4, 4)
    return Dataset("tiny", images[:4], labels, images[4:], torch.tensor([0, 1]), num_classes=2)


def test_the_data_fingerprint_follows_the_labels() -> None:
    """Relabelled images are another data set: conditional generators and detectors see the labels."""
    assert digits_like(torch.tensor([0, 1, 0, 1])).fingerprint != digits_like(torch.tensor([1, 1, 0, 1])).fingerprint


def outside_fakes(images: torch.Tensor) -> ExternalFakes:
    """An outside fake set named ``outside`` holding ``images``."""
    return ExternalFakes("outside", "npz:outside.npz", images)


def test_outside_fakes_are_keyed_by_their_content() -> None:
    """Other images under the same ``--fakes`` name are tested again, not read back by the name."""
    first = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    second = first.clone()
    second[0, 0, 0, 0] = 255
    assert outside_fakes(first).fingerprint != outside_fakes(second).fingerprint

    s = scope()
    context = SimpleNamespace(config=SimpleNamespace(detectors=()), scope=s)
    keys = []
    for images in (first, second):
        detection = DetectionUnits(context, engine=None)  # type: ignore[arg-type]
        detection.external = {"outside": outside_fakes(images)}
        test_key = detection.test_sets({})["outside"].key
        keys.append(detection_unit(s, DETECTOR, "dcgan", ["s"], "outside", test_key, "none").key)
    assert keys[0] != keys[1]


def test_a_changed_key_recomputes_and_the_same_key_reuses(tmp_path: Path) -> None:
    """The store hands back a record only for the key asked; another key under the same label computes."""
    store = RunStore(tmp_path)
    s = scope()
    engine = UnitEngine(store, s, Console(quiet=True))
    calls: list[str] = []

    def compute(record: Record) -> None:
        calls.append(record.key)
        record.metrics = {"value": len(calls)}

    first = units.Unit("generation", "dcgan", {}, "a" * 12)
    engine.run(first, compute, generator="dcgan")
    engine.run(first, compute, generator="dcgan")
    assert calls == [first.key] and engine.summary.reused == 1
    second = units.Unit("generation", "dcgan", {}, "b" * 12)
    record = engine.run(second, compute, generator="dcgan")
    assert calls == [first.key, second.key] and record.key == second.key and record.metrics == {"value": 2}


def test_a_record_says_the_thread_count_of_its_run(tmp_path: Path) -> None:
    """The record names the thread count the run was keyed and computed with."""
    threads = torch.get_num_threads() + 2
    engine = UnitEngine(RunStore(tmp_path), scope(threads=threads), Console(quiet=True))
    record = engine.run(units.Unit("train", "dcgan", {}, "c" * 12), lambda record: None, generator="dcgan")
    assert record.info["threads"] == threads
