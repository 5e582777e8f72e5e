"""The robustness figure: AUC per perturbation level with each level's bootstrap band."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure
from PIL import Image

from ganbench.leaderboards import figures, records_frame
from ganbench.leaderboards.figures import _robustness_curves, robustness_figures
from ganbench.records import Record
from ganbench.store import unit_key

LEVELS = {"none": (0.90, 0.85, 0.95), "jpeg:90": (0.80, 0.74, 0.86), "jpeg:50": (0.60, 0.52, 0.69)}


def detection(perturbation: str, auc: float, low: float, high: float, detector: str = "spectrum",
              train_generator: str = "dcgan", seed: int = 0, dataset: str = "digits",
              protocol: dict | None = None) -> dict:
    fields = {"generator": "dcgan", "train_generator": train_generator, "detector": detector,
              "perturbation": perturbation}
    return Record(kind="detection", key=unit_key({**fields, "seed": seed, "dataset": dataset, "protocol": protocol}),
                  dataset=dataset, preset="quick", seed=seed,
                  metrics={"auc": auc, "auc_ci_low": low, "auc_ci_high": high}, protocol=protocol or {},
                  **fields).to_dict()


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Figure]:
    """Each figure the report would save, by file name, kept instead of written."""
    saved: dict[str, Figure] = {}
    monkeypatch.setattr(figures, "_save", lambda figure, path: saved.__setitem__(path.name, figure))
    return saved


def only_figure(records: list[dict], drawn: dict[str, Figure], tmp_path: Path) -> Figure:
    """The one robustness figure drawn from ``records``."""
    (file,) = robustness_figures(records_frame(records), tmp_path)
    return drawn[file.name]


def auc_lines(ax) -> dict[str, tuple[list[float], list[float]]]:
    """Each detector's AUC line of a robustness plot: label -> (levels, AUCs)."""
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def dashed_levels(ax) -> list[float]:
    """The heights of a robustness plot's dashed clean-AUC lines."""
    return [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]


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


def test_jpeg_quality_axis_runs_from_high_to_low_and_blur_sigma_from_low_to_high(drawn, tmp_path: Path) -> None:
    """Harsher perturbations lie to the right on both axes: lower JPEG quality, larger blur sigma."""
    records = [detection(p, *values) for p, values in LEVELS.items()]
    records += [detection("blur:1", 0.85, 0.8, 0.9), detection("blur:2", 0.7, 0.65, 0.75)]
    jpeg_ax, blur_ax = only_figure(records, drawn, tmp_path).axes
    assert "JPEG quality" in jpeg_ax.get_xlabel() and jpeg_ax.xaxis_inverted()
    assert "blur sigma" in blur_ax.get_xlabel() and not blur_ax.xaxis_inverted()


def test_each_level_is_the_mean_auc_of_its_records_banded_by_their_mean_bounds(drawn, tmp_path: Path) -> None:
    """Three seeds at JPEG 50 (AUC 0.5, 0.6, 0.9: mean 2/3, median 0.6); the band runs from the mean lower bound
    to the mean upper bound at each level."""
    records = [detection("jpeg:90", 0.80, 0.74, 0.86)]
    records += [detection("jpeg:50", auc, auc - 0.1, auc + 0.05, seed=seed)
                for seed, auc in enumerate((0.5, 0.6, 0.9))]
    (ax,) = only_figure(records, drawn, tmp_path).axes
    levels, aucs = auc_lines(ax)["spectrum"]
    assert levels == [50.0, 90.0] and aucs == pytest.approx([2 / 3, 0.80])
    (band,) = ax.collections
    edges: dict[float, set[float]] = {}
    for x, y in band.get_paths()[0].vertices:
        edges.setdefault(round(float(x), 9), set()).add(round(float(y), 9))
    assert edges == {50.0: {round(2 / 3 - 0.1, 9), round(2 / 3 + 0.05, 9)}, 90.0: {0.74, 0.86}}


def test_clean_line_is_the_clean_auc_of_the_perturbed_seeds_and_data_set_only(drawn, tmp_path: Path) -> None:
    """Seed 1 was never perturbed and mnist is another data set: neither moves the digits figure's dashed line."""
    records = [detection(p, *values) for p, values in LEVELS.items()]
    records += [detection("none", 0.50, 0.45, 0.55, seed=1), detection("none", 0.60, 0.55, 0.65, dataset="mnist")]
    (ax,) = only_figure(records, drawn, tmp_path).axes
    assert dashed_levels(ax) == [0.90]


def test_clean_line_is_the_clean_auc_under_the_perturbed_rows_own_protocol(drawn, tmp_path: Path) -> None:
    """Clean records of the same pair under two sample counts: each figure's dashed line is the clean
    AUC of its own count; the grid a perturbed record adds to its protocol does not split it from them."""
    records = []
    for n_real, clean_auc in ((100, 0.90), (200, 0.70)):
        protocol = {"n_real": n_real, "perturbation": "none"}
        records.append(detection("none", clean_auc, clean_auc - 0.05, clean_auc + 0.05, protocol=protocol))
        perturbed = {**protocol, "perturbation": {"family": "jpeg"}, "robustness_grid": {"specs": ["jpeg:90"]}}
        records.append(detection("jpeg:90", clean_auc - 0.1, clean_auc - 0.15, clean_auc - 0.05, protocol=perturbed))
    files = robustness_figures(records_frame(records), tmp_path)
    assert len(files) == 2
    lines = sorted((dashed_levels(drawn[file.name].axes[0]), auc_lines(drawn[file.name].axes[0])["spectrum"][1])
                   for file in files)
    assert lines == [([0.70], [pytest.approx(0.60)]), ([0.90], [pytest.approx(0.80)])]


def test_human_judges_are_no_line_of_the_robustness_figure(drawn, tmp_path: Path) -> None:
    records = [detection(p, *values) for p, values in LEVELS.items()]
    records += [detection("jpeg:90", 0.7, 0.6, 0.8, detector="human:panel"),
                detection("none", 0.8, 0.7, 0.9, detector="human:panel")]
    (ax,) = only_figure(records, drawn, tmp_path).axes
    assert list(auc_lines(ax)) == ["spectrum"] and dashed_levels(ax) == [0.90]
