"""The robustness figure: AUC per perturbation level with each level's bootstrap band."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ganbench.leaderboards import records_frame
from ganbench.leaderboards.figures import _robustness_curves, robustness_figures
from ganbench.records import Record
from ganbench.store import unit_key

LEVELS = {"none": (0.90, 0.85, 0.95), "jpeg:90": (0.80, 0.74, 0.86), "jpeg:50": (0.60, 0.52, 0.69)}


def detection(perturbation: str, auc: float, low: float, high: float, detector: str = "spectrum",
              train_generator: str = "dcgan") -> dict:
    fields = {"generator": "dcgan", "train_generator": train_generator, "detector": detector,
              "perturbation": perturbation}
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


def test_each_detectors_clean_line_is_its_own_clean_auc_on_the_perturbed_pairs() -> None:
    """cnn's clean AUC, and spectrum's on a pair it was never perturbed on, stay out of spectrum's dashed line."""
    records = [detection(p, *values) for p, values in LEVELS.items()]
    records += [detection("none", 0.70, 0.65, 0.75, "cnn"), detection("jpeg:90", 0.65, 0.6, 0.7, "cnn"),
                detection("none", 0.55, 0.5, 0.6, "spectrum", train_generator="wgan")]
    frame = records_frame(records)
    curves = _robustness_curves(frame[frame.perturbation != "none"], frame[frame.perturbation == "none"])["jpeg"]
    assert {detector: clean_auc for detector, (_, clean_auc) in curves.items()} == {"spectrum": 0.90, "cnn": 0.70}
