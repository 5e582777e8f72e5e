"""Keys see the code: a generator's digest covers its module, its base classes' (a variant with
tricks is its base variant), the generator-package modules they use (transitively), the training
loop and a plugin's own helper modules; a detector's covers the same in the detectors package."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path

import pytest

from ganbench.generators import GENERATORS
from ganbench.presets import get_preset
from ganbench.source_digest import source_digest, source_files
from ganbench.units import Scope, train_unit


def names(generator: str) -> set[str]:
    return {path.name for path in source_files(GENERATORS.get(generator))}


def test_a_variant_depends_on_its_own_modules_and_the_training_loop():
    assert {"cyclegan.py", "translation_blocks.py", "losses.py", "trainer.py", "base.py"} <= names("cyclegan")
    assert {"geometry.py", "streaming.py", "runtime.py"} <= names("dcgan")
    assert {"stylegan3.py", "stylegan2.py", "layers.py", "trainer.py"} <= names("stylegan3")
    assert "translation_blocks.py" not in names("dcgan") and "cyclegan.py" not in names("dcgan")
    assert source_digest(GENERATORS.get("dcgan")) != source_digest(GENERATORS.get("wgan"))


def test_a_variant_with_tricks_depends_on_its_base_variants_code_and_says_its_tricks():
    from ganbench.generators import generator_config

    assert {"gan.py", "noise_gan.py", "layers.py", "tricks.py", "trainer.py"} <= names("gan+packing")
    assert {"lsgan.py", "dcgan.py", "diffaugment.py"} <= names("lsgan+diffaugment")
    assert generator_config("gan+packing").tricks.packing == 4 and generator_config("gan").tricks.packing == 1
    scope = Scope("digits", "f", "points", get_preset("smoke"), 0)
    assert train_unit(scope, "gan+packing").config["hyperparameters"]["tricks"]["packing"] == 4


def test_a_detectors_identity_covers_the_detector_modules_it_uses():
    from ganbench.detectors import DETECTORS
    from ganbench.source_digest import DETECTORS_PACKAGE

    used = {p.name for p in source_files(DETECTORS.get("cnn-resnet50"), DETECTORS_PACKAGE, ())}
    assert {"cnn.py", "training.py", "augment.py"} <= used and "trainer.py" not in used
    assert {"probe.py", "linear_state.py"} <= {p.name for p in source_files(DETECTORS.get("probe"), DETECTORS_PACKAGE,
                                                                             ())}


def test_editing_a_plugin_detectors_helper_changes_its_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ganbench.detectors.identity import code_identity

    (tmp_path / "mydetector.py").write_text("from myfeatures import feature\n\n\nclass Detector:\n    pass\n")
    (tmp_path / "myfeatures.py").write_text("def feature(x):\n    return x.mean()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        detector = importlib.import_module("mydetector").Detector
        before = code_identity(detector)["source_digest"]
        (tmp_path / "myfeatures.py").write_text("def feature(x):\n    return x.std()\n")
        assert code_identity(detector)["source_digest"] != before
    finally:
        for name in ("mydetector", "myfeatures"):
            sys.modules.pop(name, None)


def test_editing_a_plugins_helper_module_changes_its_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = tmp_path / "myplugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("def scale(x):\n    return 2 * x\n")
    (package / "model.py").write_text(textwrap.dedent("""
        from myplugin.helpers import scale


        class Model:
            factor = scale(1)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        model = importlib.import_module("myplugin.model").Model
        assert {p.name for p in source_files(model)} >= {"model.py", "helpers.py", "trainer.py"}
        before = source_digest(model)
        (package / "helpers.py").write_text("def scale(x):\n    return 3 * x\n")
        assert source_digest(model) != before
    finally:
        for name in [n for n in sys.modules if n.partition(".")[0] == "myplugin"]:
            del sys.modules[name]


def test_the_training_key_and_record_carry_the_digest(monkeypatch: pytest.MonkeyPatch):
    scope = Scope("digits", "f", "image", get_preset("smoke"), 0)
    unit = train_unit(scope, "dcgan")
    assert unit.config["source_digest"] == source_digest(GENERATORS.get("dcgan"))
    monkeypatch.setattr("ganbench.units.source_digest", lambda cls: "edited")
    assert train_unit(scope, "dcgan").key != unit.key


def test_the_train_record_says_which_code_trained_it(smoke_run):
    out, result = smoke_run
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(p.read_text()) for p in (out / "records").glob("train-*.json")]
    assert record["info"]["source_digest"] == source_digest(GENERATORS.get(record["generator"]))
    assert all(json.loads(p.read_text())["info"]["threads"] == 1 for p in (out / "records").glob("*.json"))


def test_detection_keys_carry_the_evaluation_codes_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ganbench.detection import EVALUATION_MODULES, detector_config
    from ganbench.detectors.plugins import resolve_detector
    from ganbench.source_digest import modules_digest

    assert {"ganbench.detection", "ganbench.detectors.evaluate", "ganbench.detectors.perturbations"} <= set(
        EVALUATION_MODULES)
    assert detector_config(resolve_detector("spectrum"))["evaluation_code"] == modules_digest(EVALUATION_MODULES)
    (tmp_path / "scoring_rule.py").write_text("THRESHOLD = 0.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        before = modules_digest(("scoring_rule",))
        (tmp_path / "scoring_rule.py").write_text("THRESHOLD = 0.25\n")
        assert modules_digest(("scoring_rule",)) != before
    finally:
        sys.modules.pop("scoring_rule", None)
