"""What the detection and null-check records of a real run say: intervals, calibration, the robustness grid.

Reads the records of the session's smoke run (shared with ``test_cli``), so it adds no run of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ganbench.detectors import DETECTORS
from ganbench.detectors.evaluate import BOOTSTRAPPED, bootstrap_protocol
from ganbench.detectors.perturbations import robustness_grid


@pytest.fixture(scope="module")
def records(smoke_run) -> list[dict[str, Any]]:
    out, result = smoke_run
    assert result.exit_code == 0, result.output
    return [json.loads(path.read_text()) for path in sorted((Path(out) / "records").glob("*.json"))]


def probabilities(record: dict[str, Any]) -> bool:
    return bool(getattr(DETECTORS.get(record["detector"]), "outputs_probability", False))


def test_every_detection_record_carries_its_bootstrap_intervals(records) -> None:
    detection = [r for r in records if r["kind"] in ("detection", "null_check") and r["status"] == "ok"]
    assert detection
    for record in detection:
        metrics = record["metrics"]
        for name in BOOTSTRAPPED:
            assert metrics[f"{name}_ci_low"] <= metrics[f"{name}_ci_high"], (record["key"], name)
        assert metrics["auc_ci_low"] - 1e-9 <= metrics["auc"] <= metrics["auc_ci_high"] + 1e-9
        assert record["protocol"]["bootstrap"] == bootstrap_protocol()
    null = [r for r in detection if r["kind"] == "null_check"]
    assert null and all(0 <= r["metrics"]["null_p"] <= 1 for r in null)


def test_only_probability_detectors_report_calibration(records) -> None:
    detection = [r for r in records if r["kind"] == "detection" and r["status"] == "ok"]
    assert any(probabilities(r) for r in detection)
    for record in detection:
        declared = probabilities(record)
        assert ("ece" in record["metrics"]) == declared, record["detector"]
        assert ("reliability" in record["info"]) == declared, record["detector"]
        if declared:
            assert sum(count for _, _, count in record["info"]["reliability"]) == (
                record["protocol"]["n_real"] + record["protocol"]["n_fake"])


def test_robustness_records_state_their_perturbation_and_the_grid(records) -> None:
    robust = [r for r in records if r["kind"] == "detection" and r["perturbation"] != "none"]
    assert {r["perturbation"] for r in robust} == set(robustness_grid())
    for record in robust:
        protocol = record["protocol"]
        side = min(protocol["robustness_grid"]["image_px"])
        assert protocol["perturbation"]["spec"] == record["perturbation"]
        assert protocol["robustness_grid"]["specs"] == robustness_grid()
        if protocol["perturbation"]["kind"] == "blur":
            level = float(record["perturbation"].partition(":")[2].partition("@")[0])
            assert protocol["perturbation"]["sigma_px"] == pytest.approx(level * side / 256)
