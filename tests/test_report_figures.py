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
BINS_A1 = [[0.2, 0.1, 100], [0.8, 0.9, 100]]
BINS_B = [[0.1, 0.2, 50], [0.5, 0.5, 50], [0.9, 0.7, 300]]
BINS_CROSS = [[0.3, 0.6, 200], [0.7, 0.4, 200]]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Figure]:
    """Each figure the report would save, by file name, kept instead of written."""
    saved: dict[str, Figure] = {}
    monkeypatch.setattr(figures, "_save", lambda figure, path: saved.__setitem__(path.name, figure))
    return saved


def detection(generator: str, train: str | None, seed: int, auc: float, detector: str = "spectrum",
              protocol: dict[str, Any] = DET_PROTOCOL, **info: Any) -> dict[str, Any]:
    """A clean detection record of ``detector`` (trained on ``train``, tested on ``generator``)."""
    return make("detection", seed, generator=generator, train_generator=train, detector=detector,
                perturbation="none", protocol=protocol, metrics={"auc": auc, "ece": 0.1}, info=info)


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


def test_roc_figure_of_a_detector_without_training_draws_every_generators_curve(drawn, tmp_path: Path) -> None:
    """A detector with no training set (``train_generator`` empty) is in distribution on every generator."""
    records = [detection("a", None, 0, 0.90, roc=ROC_A0), detection("b", None, 0, 0.85, roc=ROC_B)]
    (figure,) = roc_figures(records_frame(records), tmp_path)
    assert curves(drawn[figure.name]) == {"a (AUC 0.900, seed 0)": xy(ROC_A0), "b (AUC 0.850, seed 0)": xy(ROC_B)}


def test_roc_figures_of_one_detector_under_two_protocols_are_drawn_apart(drawn, tmp_path: Path) -> None:
    """Records of another test-set size are another figure, not a lower seed of the same curve."""
    other = {**DET_PROTOCOL, "n_real": 100, "n_fake": 100}
    records = [detection("a", "a", 1, 0.80, roc=ROC_A1), detection("a", "a", 0, 0.90, protocol=other, roc=ROC_A0)]
    files = roc_figures(records_frame(records), tmp_path)
    assert len(files) == 2 and len({f.name for f in files}) == 2
    assert sorted((curves(drawn[f.name]) for f in files), key=list) == [{"a (AUC 0.800, seed 1)": xy(ROC_A1)},
                                                                         {"a (AUC 0.900, seed 0)": xy(ROC_A0)}]


def test_generator_roc_orders_in_distribution_all_then_others_at_their_lowest_seed(drawn, tmp_path: Path) -> None:
    """Fakes of ``b``: each detector and training set once, at its lowest seed; a detector without training is
    in distribution, and training on all comes before training on ``a`` though its name sorts after."""
    records = [detection("b", "a", 0, 0.60, roc=ROC_CROSS), detection("b", "all", 0, 0.70, roc=ROC_B),
               detection("b", "b", 1, 0.80, roc=ROC_A1), detection("b", "b", 0, 0.90, roc=ROC_A0),
               detection("b", None, 0, 0.75, detector="dire", roc=ROC_B),
               detection("a", "a", 0, 0.95, roc=ROC_B)]
    files = figures.generator_roc_figures(records_frame(records), tmp_path)
    figure = next(f for f in files if "fakes of b " in f.title)
    (ax,) = drawn[figure.name].axes
    drawn_lines = [(line.get_label(), list(line.get_xdata())) for line in ax.get_lines()
                   if not line.get_label().startswith("_")]
    assert drawn_lines == [("dire (in-dist, AUC 0.750)", xy(ROC_B)[0]),
                           ("spectrum (in-dist, AUC 0.900)", xy(ROC_A0)[0]),
                           ("spectrum (trained on all, AUC 0.700)", xy(ROC_B)[0]),
                           ("spectrum (trained on a, AUC 0.600)", xy(ROC_CROSS)[0])]


def test_reliability_diagram_puts_the_mean_predicted_probability_on_x(drawn, tmp_path: Path) -> None:
    (figure,) = calibration_figures(records_frame([detection("a", "a", 0, 0.9, reliability=BINS)]), tmp_path)
    lines = curves(drawn[figure.name])
    assert lines["a (ECE 0.100, seed 0)"] == xy(BINS)
    assert lines["perfect calibration"] == ([0, 1], [0, 1])


def test_reliability_diagrams_are_in_distribution_of_the_lowest_seed_with_markers_sized_by_bin_count(
        drawn, tmp_path: Path) -> None:
    """The cross-generator record (trained on a, tested on b) has the lowest seed of b, yet is no diagram of b;
    a marker's area grows with its bin's share of the images."""
    records = [detection("b", "a", 0, 0.60, reliability=BINS_CROSS),
               detection("a", "a", 1, 0.80, reliability=BINS_A1), detection("a", "a", 0, 0.90, reliability=BINS),
               detection("b", "b", 1, 0.85, reliability=BINS_B)]
    (figure,) = calibration_figures(records_frame(records), tmp_path)
    lines = curves(drawn[figure.name])
    assert lines == {"perfect calibration": ([0, 1], [0, 1]), "a (ECE 0.100, seed 0)": xy(BINS),
                     "b (ECE 0.100, seed 1)": xy(BINS_B)}
    (ax,) = drawn[figure.name].axes
    markers_a, markers_b = ax.collections
    assert list(markers_a.get_offsets()[:, 0]) == xy(BINS)[0]
    assert markers_a.get_sizes() == pytest.approx([12 + 150 * 120 / 400, 12 + 150 * 40 / 400, 12 + 150 * 240 / 400])
    assert markers_b.get_sizes() == pytest.approx([12 + 150 * 50 / 400, 12 + 150 * 50 / 400, 12 + 150 * 300 / 400])


def test_scatter_marks_gans_and_non_gan_references_with_their_own_points(drawn, tmp_path: Path) -> None:
    (board,) = build_leaderboard(synthetic_records()).of_kind("generators")
    figure = scatter_figure(board, tmp_path)
    (ax,) = drawn[figure.name].axes
    points = {container.get_label(): sorted(container.lines[0].get_xdata()) for container in ax.containers}
    fid = board.data.set_index("generator").fid
    assert points == {"GAN": sorted([fid["dcgan"], fid["wgan"]]), "non-GAN reference": [fid["vae"]]}


def test_scatter_error_bars_are_the_seed_spread_of_fid_across_and_of_auc_up(drawn, tmp_path: Path) -> None:
    (board,) = build_leaderboard(synthetic_records()).of_kind("generators")
    figure = scatter_figure(board, tmp_path)
    (ax,) = drawn[figure.name].axes
    across, up = [], []
    for container in ax.containers:
        for bars in container.lines[2]:
            for (x0, y0), (x1, y1) in bars.get_segments():
                middle = ((x0 + x1) / 2, (y0 + y1) / 2)
                (across if y0 == y1 else up).append((*middle, abs(x1 - x0) / 2, abs(y1 - y0) / 2))
    data = board.data
    np.testing.assert_allclose(sorted((x, y, half) for x, y, half, _ in across),
                               sorted(zip(data.fid, data.detect_auc_mean, data.fid_std)))
    np.testing.assert_allclose(sorted((x, y, half) for x, y, _, half in up),
                               sorted(zip(data.fid, data.detect_auc_mean, data.detect_auc_mean_std)))


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


def test_training_curves_come_only_from_train_records_naming_a_file_inside_the_run_folder(tmp_path: Path) -> None:
    """A lower seed's file outside the run folder, and a curve file named by a sample record, are not read."""
    run = tmp_path / "run"
    inside = write_curve(run, "s1.jsonl", [10, 20], 1.0)
    write_curve(tmp_path, "outside.jsonl", [10, 20], 2.0)
    sampled = write_curve(run, "s0.jsonl", [10], 3.0)
    records = [training(1, inside), training(0, "../curves/outside.jsonl"),
               make("sample", 0, "digits", "quick", generator="dcgan", info={"curves": sampled})]
    assert (tmp_path / "curves" / "outside.jsonl").is_file()
    assert figures.curve_files(records, run) == {("dcgan", "digits", "quick"): (1, (run / inside).resolve())}
