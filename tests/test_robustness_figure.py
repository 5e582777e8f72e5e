"""The robustness figure: AUC per perturbation level with each level's bootstrap band."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ganbench.leaderboards import records_frame
from ganbench.leaderboards.figures import _robustness_curves, robustness_figures
from ganbench.records import Record
from ganbench.store import unit_key

LEVELS = {"none": (0.90, 0.85, 0.95), "jpeg:90": (0.80, 0.74, 0.86), "jpeg:50": (0.60, 0.52, 0.69)}


def detection(perturbation: str, auc: float, low: float, high: float) -> dict:
    fields = {"generator": "dcgan", "train_generator": "dcgan", "detector": "spectrum", "perturbation": perturbation}
    return Record(kind="detection", key=unit_key(fields), dataset="digits", preset="quick", seed=0,
                  metrics={"auc": auc, "auc_ci_low": low, "auc_ci_high": high}, **fields).to_dict()


def test_each_level_carries_its_records_bootstrap_bounds(tmp_path: Path) -> None:
    frame = records_frame([detection(p, *values) for p, values in LEVELS.items()])
    perturbed, clean = frame[frame.perturbation != "none"], frame[frame.perturbation == "none"]
    curve, clean_auc = _robustness_curves(perturbed, clean)["jpeg"]["spectrum"]
    assert clean_auc == 0.90
    for perturbation, (auc, low, high) in LEVELS.items():
        if perturbation != "none":
            level = float(perturbation.split(":")[1])
            assert tuple(curve.loc[level, ["auc", "auc_ci_low", "auc_ci_high"]]) == (auc, low, high)
    files = robustness_figures(frame, tmp_path)
    assert len(files) == 1 and "bootstrap" in files[0].description
    with Image.open(tmp_path / files[0].name) as image:
        assert image.format == "PNG"
