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
from ganbench.runtime import processor
from ganbench.source_digest import DETECTORS_PACKAGE, SourceChanged, modules_digest, source_digest, source_files
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

    used = {p.name for p in source_files(DETECTORS.get("cnn-resnet50"), DETECTORS_PACKAGE, ())}
    assert {"cnn.py", "training.py", "augment.py"} <= used and "trainer.py" not in used
    assert {"probe.py", "linear_state.py"} <= {p.name for p in source_files(DETECTORS.get("probe"), DETECTORS_PACKAGE,
                                                                             ())}


def reimported(*names: str) -> None:
    """Forget ``names`` so the next import loads them from disk, as a new process would (no bytecode
    cache: a same-size rewrite within one second would otherwise load the old bytecode)."""
    for name in names:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


def test_editing_a_plugin_detectors_helper_changes_its_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ganbench.detectors.identity import code_identity

    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    (tmp_path / "mydetector.py").write_text("from myfeatures import feature\n\n\nclass Detector:\n    pass\n")
    (tmp_path / "myfeatures.py").write_text("def feature(x):\n    return x.mean()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        before = code_identity(importlib.import_module("mydetector").Detector)["source_digest"]
        (tmp_path / "myfeatures.py").write_text("def feature(x):\n    return x.std()\n")
        reimported("mydetector", "myfeatures")
        assert code_identity(importlib.import_module("mydetector").Detector)["source_digest"] != before
    finally:
        reimported("mydetector", "myfeatures")


def test_editing_a_plugins_helper_module_changes_its_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
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
    plugin = ("myplugin", "myplugin.helpers", "myplugin.model")
    try:
        model = importlib.import_module("myplugin.model").Model
        assert {p.name for p in source_files(model)} >= {"model.py", "helpers.py", "trainer.py"}
        before = source_digest(model)
        (package / "helpers.py").write_text("def scale(x):\n    return 3 * x\n")
        reimported(*plugin)
        edited = importlib.import_module("myplugin.model").Model
        assert edited.factor == 3 and source_digest(edited) != before
    finally:
        reimported(*plugin)


def test_a_source_edited_after_its_module_was_loaded_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The loaded code, not the file on disk, is what a key describes: an edit while the module
    stays loaded refuses the next digest, naming the file, until the module is imported again."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    (tmp_path / "mydetector.py").write_text("from myfeatures import feature\n\n\nclass Detector:\n    pass\n")
    (tmp_path / "myfeatures.py").write_text("def feature(x):\n    return x.mean()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        detector = importlib.import_module("mydetector").Detector
        before = source_digest(detector, DETECTORS_PACKAGE, also=())
        assert source_digest(detector, DETECTORS_PACKAGE, also=()) == before
        (tmp_path / "myfeatures.py").write_text("def feature(x):\n    return x.std()\n")
        with pytest.raises(SourceChanged, match="myfeatures.py changed after this process loaded it"):
            source_digest(detector, DETECTORS_PACKAGE, also=())
        reimported("mydetector", "myfeatures")
        assert source_digest(importlib.import_module("mydetector").Detector, DETECTORS_PACKAGE, also=()) != before
    finally:
        reimported("mydetector", "myfeatures")


def test_a_reloaded_module_is_pinned_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    (tmp_path / "scoring_rule.py").write_text("THRESHOLD = 0.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = importlib.import_module("scoring_rule")
        before = modules_digest(("scoring_rule",))
        (tmp_path / "scoring_rule.py").write_text("THRESHOLD = 0.25\n")
        with pytest.raises(SourceChanged):
            modules_digest(("scoring_rule",))
        assert importlib.reload(module).THRESHOLD == 0.25 and modules_digest(("scoring_rule",)) != before
    finally:
        reimported("scoring_rule")


def test_the_training_key_and_record_carry_the_digest(monkeypatch: pytest.MonkeyPatch):
    scope = Scope("digits", "f", "image", get_preset("smoke"), 0)
    unit = train_unit(scope, "dcgan")
    assert unit.config["source_digest"] == source_digest(GENERATORS.get("dcgan"))
    monkeypatch.setattr("ganbench.units.source_digest", lambda cls: "edited")
    assert train_unit(scope, "dcgan").key != unit.key


def test_every_record_says_which_code_thread_count_and_chip_computed_it(smoke_run):
    out, result = smoke_run
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(p.read_text()) for p in (out / "records").glob("train-*.json")]
    assert record["info"]["source_digest"] == source_digest(GENERATORS.get(record["generator"]))
    records = [json.loads(p.read_text()) for p in (out / "records").glob("*.json")]
    assert all(r["info"]["threads"] == 1 and r["info"]["processor"] == processor("cpu") for r in records)
    from ganbench.detection import EVALUATION_MODULES

    detection = [r for r in records if r["kind"] in ("detection", "null_check")]
    assert detection and all(r["info"]["evaluation_code"] == modules_digest(EVALUATION_MODULES) for r in detection)


def test_detection_keys_carry_the_evaluation_codes_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ganbench.detection import EVALUATION_MODULES, detector_config
    from ganbench.detectors.plugins import resolve_detector

    assert {"ganbench.detection", "ganbench.detectors.evaluate", "ganbench.detectors.perturbations"} <= set(
        EVALUATION_MODULES)
    assert detector_config(resolve_detector("spectrum"))["evaluation_code"] == modules_digest(EVALUATION_MODULES)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    (tmp_path / "scoring_rule.py").write_text("THRESHOLD = 0.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        before = modules_digest(("scoring_rule",))
        (tmp_path / "scoring_rule.py").write_text("THRESHOLD = 0.25\n")
        reimported("scoring_rule")
        assert modules_digest(("scoring_rule",)) != before
    finally:
        reimported("scoring_rule")


def test_a_run_refuses_to_key_a_plugin_edited_while_it_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli):
    """A run pins its units' sources when it plans: a detector's helper edited while the generators
    train stops the run at the detector's first key, with one line naming the file and exit 2; the
    generators' records are kept."""
    from ganbench.cli import app
    from ganbench.generation import GenerationUnits

    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    (tmp_path / "mydetector.py").write_text("from ganbench.detectors.spectrum import SpectrumDetector\n"
                                            "import myfeatures\n\n\n"
                                            "class Detector(SpectrumDetector):\n    pass\n")
    (tmp_path / "myfeatures.py").write_text("SCALE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    train = GenerationUnits.run_generator

    def train_then_edit(self, name):
        done = train(self, name)
        (tmp_path / "myfeatures.py").write_text("SCALE = 2\n")
        return done

    monkeypatch.setattr(GenerationUnits, "run_generator", train_then_edit)
    out = tmp_path / "run"
    try:
        result = cli.invoke(app, ["run", "--suite", "gan", "--detectors", "mydetector:Detector", "--preset", "smoke",
                                  "--out", str(out), "--quiet"])
    finally:
        reimported("mydetector", "myfeatures")
    assert result.exit_code == 2, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert "myfeatures.py changed after this process loaded it" in line and "Traceback" not in result.output
    kinds = {json.loads(p.read_text())["kind"] for p in (out / "records").glob("*.json")}
    assert "train" in kinds and not any(k.startswith("detect") for k in kinds)


def test_generation_keys_and_records_carry_the_measurement_codes_digest(monkeypatch: pytest.MonkeyPatch, smoke_run):
    from ganbench.quality import MEASUREMENT_MODULES
    from ganbench.units import generation_unit

    assert {"ganbench.quality", "ganbench.metrics", "ganbench.prdc", "ganbench.score_intervals",
            "ganbench.features"} <= set(MEASUREMENT_MODULES)
    scope = Scope("digits", "f", "image", get_preset("smoke"), 0)
    unit = generation_unit(scope, "dcgan", "fakes", "classifier", None)
    assert unit.config["measurement_code"] == modules_digest(MEASUREMENT_MODULES)
    out, _ = smoke_run
    (record,) = [json.loads(p.read_text()) for p in (out / "records").glob("generation-*.json")]
    assert record["info"]["measurement_code"] == unit.config["measurement_code"]
    monkeypatch.setattr("ganbench.units.modules_digest", lambda names: "edited")
    assert generation_unit(scope, "dcgan", "fakes", "classifier", None).key != unit.key


def test_train_keys_and_records_carry_the_harness_codes_digest(monkeypatch: pytest.MonkeyPatch, smoke_run):
    """The code that builds a generator and its training configuration, its training inputs and
    its fake sets is in the train key, which every later key of the generator holds."""
    from ganbench.units import HARNESS_MODULES, sample_unit

    assert {"ganbench.generation", "ganbench.context"} <= set(HARNESS_MODULES)
    scope = Scope("digits", "f", "image", get_preset("smoke"), 0)
    unit = train_unit(scope, "gan")
    assert unit.config["harness_code"] == modules_digest(HARNESS_MODULES)
    out, _ = smoke_run
    (record,) = [json.loads(p.read_text()) for p in (out / "records").glob("train-*.json")]
    assert record["info"]["harness_code"] == unit.config["harness_code"]
    sampled = sample_unit(scope, "gan", unit.key)
    monkeypatch.setattr("ganbench.units.modules_digest", lambda names: "edited")
    edited = train_unit(scope, "gan")
    assert edited.key != unit.key and sample_unit(scope, "gan", edited.key).key != sampled.key


def test_core_modules_that_shape_results_are_in_the_digests_of_their_users():
    """A variant's or detector's use of the pixel encoding, spectra, content network or domains is
    followed into those core modules; the core's other modules are not."""
    files = {name: {path.name for path in source_files(GENERATORS.get(name))}
             for name in ("dcgan", "srgan", "stargan")}
    assert {"trainer.py", "pixels.py", "geometry.py", "streaming.py", "runtime.py"} <= files["dcgan"]
    assert "features.py" not in files["dcgan"]
    assert {"features.py", "tasks.py"} <= files["srgan"] and "tasks.py" in files["stargan"]
    assert not {"data.py", "errors.py", "registry.py"} & set().union(*files.values())
    from ganbench.detectors import DETECTORS
    assert "spectra.py" in {path.name for path in source_files(DETECTORS.get("spectrum"), DETECTORS_PACKAGE, ())}


def test_image_to_image_keys_carry_the_task_codes_digests(monkeypatch: pytest.MonkeyPatch):
    """A translator's training depends on its task views and its sample unit, which measures its
    translations, on the task measures; a generator from noise depends on neither."""
    from ganbench.quality import TASK_MEASURE_MODULES
    from ganbench.units import TASK_MODULES, sample_unit

    scope = Scope("digits", "f", "image", get_preset("smoke"), 0)
    assert {"ganbench.tasks", "ganbench.task_measures", "ganbench.translation_metrics"} <= set(TASK_MEASURE_MODULES)
    assert train_unit(scope, "pix2pix").config["task_code"] == modules_digest(TASK_MODULES)
    assert sample_unit(scope, "pix2pix", "t").config["task_measure_code"] == modules_digest(TASK_MEASURE_MODULES)
    assert "task_code" not in train_unit(scope, "dcgan").config
    assert "task_measure_code" not in sample_unit(scope, "dcgan", "t").config
    keys = train_unit(scope, "srgan").key, sample_unit(scope, "srgan", "t").key
    noise_keys = train_unit(scope, "dcgan").key, sample_unit(scope, "dcgan", "t").key
    task_modules = (TASK_MODULES, TASK_MEASURE_MODULES)
    monkeypatch.setattr("ganbench.units.modules_digest",
                        lambda names: "edited" if names in task_modules else modules_digest(names))
    assert train_unit(scope, "srgan").key != keys[0] and sample_unit(scope, "srgan", "t").key != keys[1]
    assert (train_unit(scope, "dcgan").key, sample_unit(scope, "dcgan", "t").key) == noise_keys


def test_the_reference_classifiers_cache_is_keyed_by_its_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ganbench.data import load_digits
    from ganbench.features import ClassifierExtractor

    digits = load_digits()
    first = ClassifierExtractor(digits, tmp_path, epochs=1)
    assert first.cache_path.name.endswith(f"-c{modules_digest(('ganbench.features',))}.pt")
    monkeypatch.setattr("ganbench.features.modules_digest", lambda names: "edited")
    second = ClassifierExtractor(digits, tmp_path, epochs=1)
    assert second.cache_path != first.cache_path and second.cache_path.is_file() and first.cache_path.is_file()


def test_a_run_pins_its_generators_detectors_and_measuring_code_when_it_plans(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch):
    from ganbench import source_digest as digests
    from ganbench.cli import _run_config
    from ganbench.detection import EVALUATION_MODULES
    from ganbench.detectors import DETECTORS
    from ganbench.quality import MEASUREMENT_MODULES, TASK_MEASURE_MODULES
    from ganbench.runner import SuiteRunner
    from ganbench.units import HARNESS_MODULES

    monkeypatch.setattr(digests, "_AS_LOADED", {})
    SuiteRunner(_run_config("dcgan,spectrum", preset="smoke", out=tmp_path, device="cpu", quiet=True)).plan()
    pinned = set(digests._AS_LOADED)
    for name in HARNESS_MODULES + EVALUATION_MODULES + MEASUREMENT_MODULES + TASK_MEASURE_MODULES:
        assert Path(importlib.import_module(name).__file__).resolve() in pinned, name
    assert set(source_files(GENERATORS.get("dcgan"))) <= pinned
    assert set(source_files(DETECTORS.get("spectrum"), DETECTORS_PACKAGE, ())) <= pinned
