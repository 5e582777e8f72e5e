"""Unit checks of the saved linear head, plugin loading, the score file and source digests."""

from __future__ import annotations

import csv
import hashlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ganbench.detectors.linear_state import load_pipeline_state, pipeline_state
from ganbench.detectors.plugins import _one_line, check_detector_class, checked_scores, import_detector
from ganbench.errors import UserError
from ganbench.forensics import DetectOutcome, ScoredImages
from ganbench.forensics_output import _cell, check_scores_path, results_table, write_scores
from ganbench.source_digest import files_digest


def fresh() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression())


def good_state(width: int = 3) -> dict[str, np.ndarray]:
    return {"scaler.mean": np.zeros(width), "scaler.scale": np.ones(width), "logistic.coef": np.ones((1, width)),
            "logistic.intercept": np.zeros(1), "logistic.classes": np.array([0.0, 1.0])}


def test_a_linear_head_refuses_wrong_classes_zero_scales_and_missing_arrays() -> None:
    load_pipeline_state(fresh(), good_state())
    cases = [({"logistic.classes": np.array([1.0, 0.0])}, "classes must be"),
             ({"scaler.scale": np.array([1.0, 0.0, 1.0])}, "scales positive"),
             ({"scaler.mean": np.zeros(0), "scaler.scale": np.ones(0), "logistic.coef": np.ones((1, 0))},
              "wrong shapes")]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            load_pipeline_state(fresh(), {**good_state(), **change})
    state = good_state()
    del state["logistic.intercept"]
    with pytest.raises(ValueError, match="missing arrays logistic.intercept"):
        load_pipeline_state(fresh(), state)


def test_an_unfitted_linear_head_is_not_saved() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        pipeline_state(fresh())


def test_a_plugin_error_is_its_first_line() -> None:
    assert _one_line(ValueError("  first line\nsecond line\n")) == "ValueError: first line"
    assert _one_line(KeyboardInterrupt()) == "KeyboardInterrupt"


def test_a_detector_class_is_imported_from_the_current_directory_also_when_nested(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nested_detector_plugin.py").write_text(
        "class Outer:\n    class Inner:\n        def fit(self): ...\n        def score(self): ...\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "nested_detector_plugin", raising=False)
    cls = import_detector("nested_detector_plugin:Outer.Inner")
    assert cls.__qualname__ == "Outer.Inner"


class Detector:
    def fit(self) -> None: ...

    def score(self) -> None: ...


def test_a_detector_instance_is_not_a_class() -> None:
    assert check_detector_class(Detector, "mod:Detector") is Detector
    with pytest.raises(UserError, match="is not a class"):
        check_detector_class(Detector(), "mod:Detector")


def test_scores_as_a_tensor_that_requires_grad_are_read() -> None:
    scores = torch.tensor([0.25, -1.0], requires_grad=True)
    assert checked_scores("d", scores * 2, 2).tolist() == [0.5, -2.0]


def test_a_table_cell_is_the_value_then_its_interval_low_to_high() -> None:
    assert _cell({"auc": 0.95, "auc_ci_low": 0.91, "auc_ci_high": 0.98}, "auc") == "0.9500 [0.9100, 0.9800]"
    assert _cell({"auc": 0.5}, "auc") == "0.5000"


def test_the_score_file_has_its_header_and_one_row_per_image(tmp_path: Path) -> None:
    scored = ScoredImages("spectrum", "dcgan", "none", ["a.png", "b.png"], np.array([0, 1]), np.array([0.1, 0.7]))
    path = tmp_path / "scores.csv"
    assert write_scores(path, [scored]) == 2
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows == [
        {"path": "a.png", "label": "0", "score": "0.1", "generator": "dcgan", "detector": "spectrum",
         "perturbation": "none"},
        {"path": "b.png", "label": "1", "score": "0.7", "generator": "dcgan", "detector": "spectrum",
         "perturbation": "none"}]


def test_a_score_path_needs_a_known_suffix_and_an_existing_folder(tmp_path: Path) -> None:
    check_scores_path(tmp_path / "scores.csv")
    with pytest.raises(UserError, match="must end in .csv or .parquet"):
        check_scores_path(tmp_path / "scores.txt")
    with pytest.raises(UserError, match="no such folder"):
        check_scores_path(tmp_path / "missing" / "scores.csv")


def test_a_files_digest_is_16_hex_digits_over_names_and_contents(tmp_path: Path) -> None:
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text("x = 1\n")
    second.write_text("x = 1\n")
    module = types.ModuleType("digested")
    content = hashlib.sha256(b"x = 1\n").hexdigest()[:16]
    expected = hashlib.sha256(f"first.py:{content}\n".encode()).hexdigest()[:16]
    assert files_digest(((first, module),)) == expected
    assert files_digest(((second, types.ModuleType("digested")),)) != expected


def test_an_import_path_needs_a_module_and_a_class() -> None:
    for path in ("json:", ":Detector", "json"):
        with pytest.raises(UserError, match="must look like package.module:ClassName"):
            import_detector(path)


def detect_row(perturbation: str) -> dict[str, object]:
    return {"detector": "spectrum", "generator": "dcgan", "perturbation": perturbation, "auc": 0.9, "ap": 0.8,
            "balanced_acc": 0.7, "real_acc": 0.6, "fake_acc": 0.8, "tpr_at_1fpr": 0.1, "n_real": 4, "n_fake": 5,
            "threshold": 0.5}


def test_the_detection_table_shows_perturbations_when_any_row_has_one() -> None:
    protocol = {"framing": "test only"}
    mixed = results_table(DetectOutcome([detect_row("none"), detect_row("jpeg:50")], [], protocol))
    assert [c.header for c in mixed.columns][:3] == ["detector", "generator", "perturbation"]
    clean = results_table(DetectOutcome([detect_row("none")], [], protocol))
    assert "perturbation" not in [c.header for c in clean.columns]
