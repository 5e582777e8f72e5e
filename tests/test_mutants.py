"""The mutation harness's list of mutants is well formed on the current tree (no run of the mutants)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ganbench_mutants", ROOT / "benchmarks" / "mutants.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_mutant_applies_exactly_once_to_the_current_tree(harness: ModuleType) -> None:
    assert harness.snippet_problems(harness.MUTANTS) == []


def test_mutants_are_named_uniquely_change_something_and_name_their_tests(harness: ModuleType) -> None:
    mutants = harness.MUTANTS
    assert len(mutants) >= 30
    assert len({m.name for m in mutants}) == len(mutants)
    for mutant in mutants:
        assert mutant.original != mutant.replacement and mutant.description and mutant.tests, mutant.name


def test_every_named_test_exists(harness: ModuleType) -> None:
    for mutant in harness.MUTANTS:
        for node in mutant.tests:
            file, _, function = node.partition("::")
            source = (ROOT / file).read_text()
            assert f"def {function}(" in source, f"{mutant.name}: {node} not found"


def test_snippets_are_found_by_exact_count(harness: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "generators").mkdir()
    (tmp_path / "generators" / "losses.py").write_text("return -fake.mean()\nreturn -fake.mean()\n")
    critic_sign = next(m for m in harness.MUTANTS if m.name == "critic-generator-sign")
    assert harness.snippet_problems([critic_sign], tmp_path) == [
        "critic-generator-sign: generators/losses.py: snippet found 2 times"]
    other = next(m for m in harness.MUTANTS if m.file != "generators/losses.py")
    assert harness.snippet_problems([other], tmp_path) == [f"{other.name}: {other.file}: missing file"]
