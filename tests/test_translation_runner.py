"""The suite runner with image-to-image variants: task-view training, fakes from test-split
inputs, task measures in the records, and detectors fed with the translated fakes."""

from __future__ import annotations

import torch

from ganbench.presets import get_preset
from ganbench.context import RunConfig
from ganbench.runner import SuiteRunner
from ganbench.suites import resolve_suite

TINY = get_preset("smoke").with_overrides(name="tiny", resolution=16, steps=2, batch_size=8, width=4,
                                          n_eval=400, n_detector_train=60, n_detector_test=40,
                                          detector_epochs=1, classifier_epochs=1, detection_plan="matrix")


def test_translation_suite_selects_the_four_variants_and_all_includes_them():
    translation, _ = resolve_suite("translation")
    assert sorted(translation) == ["cyclegan", "pix2pix", "srgan", "stargan"]
    assert set(translation) <= set(resolve_suite("all")[0])


def test_runner_translates_test_inputs_and_records_task_measures(tmp_path):
    runner = SuiteRunner(RunConfig(suite="pix2pix,cyclegan,spectrum", preset=TINY, out=tmp_path, quiet=True))
    summary = runner.run()
    assert not summary.problems, summary.problems
    records = {(r.kind, r.generator): r for r in summary.records}
    for name, keys in (("pix2pix", {"psnr", "ssim", "l1"}), ("cyclegan", {"domain_acc", "cycle_l1"})):
        generation = records[("generation", name)]
        assert keys <= set(generation.metrics) and "fid" in generation.metrics
        assert generation.protocol["translated_split"] == "test"
        fakes = runner.context.fakes(records[("sample", name)])
        assert {k: len(v) for k, v in fakes.items()} == {"eval": 400, "detector_train": 60, "fresh": 40}
        assert all(v.dtype == torch.uint8 and v.shape[1:] == (1, 16, 16) for v in fakes.values())
    assert 0 <= records[("generation", "cyclegan")].metrics["domain_acc"] <= 1
    assert [records[("generation", n)].protocol["task"] for n in ("pix2pix", "cyclegan")] == ["edges", "two-domain"]
    detections = [r for r in summary.records if r.kind == "detection"]
    pairs = {(r.train_generator, r.generator) for r in detections if r.perturbation == "none"}
    assert pairs == {(a, b) for a in ("pix2pix", "cyclegan", "all") for b in ("pix2pix", "cyclegan")}
