"""What the figures of a published report plot: which records feed which series, on which axis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from test_leaderboards import DET_PROTOCOL, make, synthetic_records

from ganbench.leaderboards import build_leaderboard, records_frame
from ganbench.leaderboards import figures
from ganbench.leaderboards.figures import (calibration_figures, curve_figures, heatmap_figure, read_curve,
                                           roc_figures, scatter_figure)
from ganbench.leaderboards.publish import run_curve_figures

ROC_A0 = [[0.0, 0.0], [0.1, 0.7], [0.4, 0.95], [1.0, 1.0]]
ROC_A1 = [[0.0, 0.0], [0.2, 0.5], [1.0, 1.0]]
ROC_B = [[0.0, 0.0], [0.05, 0.3], [0.5, 0.8], [1.0, 1.0]]
ROC_CROSS = [[0.0, 0.0], [0.6, 0.65], [1.0, 1.0]]
BINS = [[0.15, 0.05, 120], [0.55, 0.35, 40], [0.85, 0.95, 240]]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Figure]:
    """Each figure the report would save, by file name, kept instead of written."""
    saved: dict[str, Figure] = {}
    monkeypatch.setattr(figures, "_save", lambda figure, path: saved.__setitem__(path.name, figure))
    return saved


def detection(generator: str, train: str, seed: int, auc: float, **info: Any) -> dict[str, Any]:
    """A clean detection record of ``spectrum`` (trained on ``train``, tested on ``generator``)."""
    return make("detection", seed, generator=generator, train_generator=train, detector="spectrum",
                perturbation="none", protocol=DET_PROTOCOL, metrics={"auc": auc, "ece": 0.1}, info=info)


def curves(figure: Figure) -> dict[str, tuple[list[float], list[float]]]:
    """The labelled lines of a one-axes figure: label -> (x, y)."""
    (ax,) = figure.axes
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def xy(points: list[list[float]]) -> tuple[list[float], list[float]]:
    """The x and the y values of a list of points."""
    return [p[0] for p in points], [p[1] for p in points]


def test_roc_figure_draws_each_generators_in_distribution_curve_of_its_lowest_seed(drawn, tmp_path: Path) -> None:
    """The cross-generator record (trained on a, tested on b) has the lowest seed of b, yet is no curve of b."""
    records = [detection("b", "a", 0, 0.60, roc=ROC_CROSS), detection("a", "a", 1, 0.80, roc=ROC_A1),
               detection("a", "a", 0, 0.90, roc=ROC_A0), detection("b", "b", 1, 0.85, roc=ROC_B)]
    (figure,) = roc_figures(records_frame(records), tmp_path)
    assert curves(drawn[figure.name]) == {"a (AUC 0.900, seed 0)": xy(ROC_A0), "b (AUC 0.850, seed 1)": xy(ROC_B)}


def test_reliability_diagram_puts_the_mean_predicted_probability_on_x(drawn, tmp_path: Path) -> None:
    (figure,) = calibration_figures(records_frame([detection("a", "a", 0, 0.9, reliability=BINS)]), tmp_path)
    lines = curves(drawn[figure.name])
    assert lines["a (ECE 0.100, seed 0)"] == xy(BINS)
    assert lines["perfect calibration"] == ([0, 1], [0, 1])


def test_scatter_marks_gans_and_non_gan_references_with_their_own_points(drawn, tmp_path: Path) -> None:
    (board,) = build_leaderboard(synthetic_records()).of_kind("generators")
    figure = scatter_figure(board, tmp_path)
    (ax,) = drawn[figure.name].axes
    points = {container.get_label(): sorted(container.lines[0].get_xdata()) for container in ax.containers}
    fid = board.data.set_index("generator").fid
    assert points == {"GAN": sorted([fid["dcgan"], fid["wgan"]]), "non-GAN reference": [fid["vae"]]}


def test_heatmap_cell_of_each_train_and_test_generator_is_its_matrix_value(drawn, tmp_path: Path) -> None:
    board = next(b for b in build_leaderboard(synthetic_records()).of_kind("cross") if b.subject == "cnn")
    figure = heatmap_figure(board, tmp_path)
    (ax, _) = drawn[figure.name].axes  # the matrix and its colour bar
    image = np.asarray(ax.images[0].get_array())
    tests = [t.get_text() for t in ax.get_xticklabels()]
    trains = [t.get_text() for t in ax.get_yticklabels()]
    for row in board.data.to_dict("records"):
        for test in tests:
            assert image[trains.index(row["train_generator"]), tests.index(test)] == pytest.approx(row[test])
    assert image[trains.index("dcgan"), tests.index("wgan")] != pytest.approx(
        image[trains.index("wgan"), tests.index("dcgan")])  # the matrix is not symmetric


def write_curve(run: Path, name: str, steps: list[int], scale: float) -> str:
    """A curve file of loss lines at ``steps`` (``d`` = ``scale`` * step), then a line cut short; its path
    in ``run``."""
    path = run / "curves" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"step": step, "losses": {"d": scale * step}}) for step in steps]
    path.write_text("\n".join(lines) + '\n{"step": 99, "losses": {"d"')
    return str(path.relative_to(run))


def training(seed: int, curve: str) -> dict[str, Any]:
    """A train record of dcgan whose curve file is ``curve``."""
    return make("train", seed, "digits", "quick", generator="dcgan", info={"curves": curve})


def losses_and_seed(figure: Figure) -> tuple[list[float], str]:
    """The loss line of a training-curve figure and its title (which names the seed)."""
    loss_ax = figure.axes[0]
    (line,) = loss_ax.get_lines()
    return list(line.get_ydata()), figure.get_suptitle()


def test_curve_file_lines_are_sorted_by_step_and_a_line_cut_short_is_left_out(tmp_path: Path) -> None:
    write_curve(tmp_path, "c.jsonl", [30, 10, 20], 1.0)
    losses, quality = read_curve(tmp_path / "curves" / "c.jsonl")
    assert [line["step"] for line in losses] == [10, 20, 30] and quality == []


def test_training_curves_are_the_lowest_seeds_of_a_run_folder(drawn, tmp_path: Path) -> None:
    records = [training(1, write_curve(tmp_path, "s1.jsonl", [10, 20], 2.0)),
               training(0, write_curve(tmp_path, "s0.jsonl", [10, 20], 1.0))]
    (figure,) = curve_figures(records, tmp_path, tmp_path)
    assert losses_and_seed(drawn[figure.name]) == ([10.0, 20.0], "dcgan · digits / quick · seed 0")


def test_training_curves_of_several_run_folders_are_the_lowest_seeds(drawn, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    records = [training(1, write_curve(first, "s1.jsonl", [10, 20], 2.0)),
               training(0, write_curve(second, "s0.jsonl", [10, 20], 1.0))]
    (figure,) = run_curve_figures(records, [first, second], tmp_path)
    assert losses_and_seed(drawn[figure.name]) == ([10.0, 20.0], "dcgan · digits / quick · seed 0")
