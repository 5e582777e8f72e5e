"""Training keys see the code: a generator's digest covers its module, the generator-package
modules it uses (transitively) and the training loop, and a plugin's own helper modules."""

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
    assert {"stylegan3.py", "stylegan2.py", "layers.py", "trainer.py"} <= names("stylegan3")
    assert "translation_blocks.py" not in names("dcgan") and "cyclegan.py" not in names("dcgan")
    assert source_digest(GENERATORS.get("dcgan")) != source_digest(GENERATORS.get("wgan"))


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
