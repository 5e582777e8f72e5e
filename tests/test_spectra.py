"""Azimuthally averaged spectra, the spectra figure of a published site and the arms-race table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ganbench.data import load_digits
from ganbench.leaderboards.arms_race import arms_race_boards, cell_name, parse_pair, with_arms_race
from ganbench.leaderboards.formatting import label, text_rows
from ganbench.leaderboards.publish import publish
from ganbench.leaderboards.spectra import (CSV_NAME, MAX_IMAGES, Curve, StoredFakes, draw, fake_images, mean_curve,
                                           spectra_figures)
from ganbench.leaderboards.tables import build_leaderboard, records_frame
from ganbench.records import new_record
from ganbench.spectra import azimuthal_average, ring_frequencies
from ganbench.store import RunStore, write_npz

SIDE = 32
ALIASED, COPYCAT = "stylegan2", "stylegan3"


def profile(images: torch.Tensor) -> np.ndarray:
    """Mean profile over the whole rings (0 .. 0.5 cycles per pixel)."""
    return azimuthal_average(images).mean(0)[: len(ring_frequencies(images.shape[-1]))]


def as_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp(0, 255).to(torch.uint8)


@pytest.mark.parametrize("fy,fx", [(0, 4), (6, 0), (3, 4)])
def test_a_cosine_peaks_at_its_frequency(fy: int, fx: int) -> None:
    yy, xx = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), indexing="ij")
    wave = 127.5 + 100 * torch.cos(2 * math.pi * (fy * yy + fx * xx) / SIDE)
    curve = profile(wave.view(1, 1, SIDE, SIDE))
    peak = 1 + int(np.argmax(curve[1:]))
    assert ring_frequencies(SIDE)[peak] == pytest.approx(math.hypot(fy, fx) / SIDE, abs=0.5 / SIDE)


def test_zero_insertion_leaves_a_peak_near_nyquist_that_bilinear_upsampling_does_not() -> None:
    coarse = torch.rand(16, 1, SIDE // 8, SIDE // 8, generator=torch.Generator().manual_seed(0)) * 255
    smooth_half = F.interpolate(coarse, size=SIDE // 2, mode="bilinear", align_corners=False)
    zero_inserted = torch.zeros(16, 1, SIDE, SIDE)
    zero_inserted[..., ::2, ::2] = smooth_half
    bilinear = F.interpolate(smooth_half, scale_factor=2, mode="bilinear", align_corners=False)
    high = slice(SIDE // 4, SIDE // 2 + 1)
    aliased, smooth = profile(as_uint8(zero_inserted))[high], profile(as_uint8(bilinear))[high]
    assert np.argmax(aliased) >= len(aliased) - 3 and aliased.max() - aliased.min() > 1.5
    assert np.argmax(smooth) == 0 and smooth[-1] < smooth.min() + 0.5


# ------------------------------------------------------------------------------------------- the site
def detection(train: str, test: str, auc: float, detector: str = "spectrum", seed: int = 0, **fields: Any
              ) -> dict[str, Any]:
    body = {"kind": "detection", "key": f"{detector}-{train}-{test}-{seed}", "dataset": "digits", "preset": "quick",
            "seed": seed, "status": "ok", "generator": test, "train_generator": train, "detector": detector,
            "perturbation": "none", "protocol": {"fakes": "fresh"},
            "metrics": {"auc": auc, "auc_ci_low": auc - 0.05, "auc_ci_high": min(auc + 0.05, 1.0)}}
    return body | fields


def zero_inserted(images: torch.Tensor) -> torch.Tensor:
    """Every other pixel of each image dropped, then put back as zeros: the aliasing of an unfiltered x2 up-sampling."""
    out = torch.zeros_like(images)
    out[..., ::2, ::2] = images[..., ::2, ::2]
    return out


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with two generators' fakes of digits at 8 px, under the names of the default pair: the
    ``stylegan3`` stand-in stores the real test images as its fresh fakes, the ``stylegan2`` stand-in their
    zero-inserted version (both store blank evaluation fakes); and the four arms-race detection records of the pair."""
    root = tmp_path_factory.mktemp("run")
    store = RunStore(root)
    reals = load_digits(8)
    for name, fakes in ((COPYCAT, reals.x_test), (ALIASED, zero_inserted(reals.x_test))):
        path = store.fakes_path(name, f"{name}-sample")
        write_npz(path, eval=np.zeros_like(fakes.numpy()), fresh=fakes.numpy())
        common = {"dataset": "digits", "preset": "quick", "seed": 0, "generator": name}
        store.write_record(new_record("train", f"{name}-train", info={"data": reals.fingerprint}, **common), name)
        store.write_record(new_record("sample", f"{name}-sample", info={"fakes": str(path.relative_to(root))},
                                      **common), name)
    for train, test, auc in ((COPYCAT, COPYCAT, 0.5), (COPYCAT, ALIASED, 0.7), (ALIASED, ALIASED, 0.99),
                             (ALIASED, COPYCAT, 0.6)):
        body = detection(train, test, auc)
        store.write_record(new_record("detection", body["key"], **{k: v for k, v in body.items()
                                                                   if k not in ("kind", "key")}), "spectrum")
    return root


def test_publish_writes_the_spectra_figure_and_csv(run_folder: Path, tmp_path: Path) -> None:
    publish(run_folder, tmp_path, formats=["html", "md"])
    table = pd.read_csv(tmp_path / CSV_NAME)
    assert set(table.generator) == {"real", COPYCAT, ALIASED}
    assert table.frequency.min() == 0 and table.frequency.max() == 0.5
    curves = {name: part.sort_values("frequency").log_power.to_numpy() for name, part in table.groupby("generator")}
    assert np.allclose(curves[COPYCAT], curves["real"])
    assert np.allclose(curves["real"], profile(load_digits(8).x_test[:500]))
    difference = curves[ALIASED] - curves["real"]
    assert difference[-1] > 0 > difference[1] and difference[-1] - difference[1] > 2.0
    page = (tmp_path / "index.html").read_text()
    figure = next(tmp_path.glob("spectra-*.png"))
    assert f'src="{figure.name}"' in page and 'href="spectra.csv"' in page
    assert page.index('id="detectors"') < page.index("<h3>Power spectra</h3>") < page.index('id="arms_race"')
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert ("| spectrum | 0.9900 [0.9400, 1.0000] | 0.6000 [0.5500, 0.6500] | 0.5000 [0.4500, 0.5500] "
            "| 0.7000 [0.6500, 0.7500] |") in markdown.split("## Arms race\n")[1]


def test_reals_that_differ_from_the_run_are_not_drawn(run_folder: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    records = [r.to_dict() for r in RunStore(run_folder).records() if r.kind in ("train", "sample")]
    for record in records:
        if record["kind"] == "train":
            record["info"]["data"] = "0000000000000000"
    assert len(spectra_figures(records, [run_folder], tmp_path)) == 1
    assert set(pd.read_csv(tmp_path / CSV_NAME).generator) == {COPYCAT, ALIASED}
    assert "differ from those the run trained on" in capsys.readouterr().err


def test_the_figure_draws_the_lowest_seeds_fakes(run_folder: Path, tmp_path: Path) -> None:
    """A second seed's fakes (the aliased images, 100 of them) in another run folder, listed first: the figure
    still draws seed 0's, whichever order the records come in."""
    records = [r.to_dict() for r in RunStore(run_folder).records() if r.kind in ("train", "sample")]
    later = RunStore(tmp_path / "seed1")
    path = later.fakes_path(COPYCAT, f"{COPYCAT}-sample-1")
    aliased = zero_inserted(load_digits(8).x_test[:100]).numpy()
    write_npz(path, eval=np.zeros_like(aliased), fresh=aliased)
    seed1 = [dict(r, seed=1, info=dict(r["info"], fakes=str(path.relative_to(later.root))))
             for r in records if r["generator"] == COPYCAT]
    for listed in (seed1 + records, records + seed1):
        spectra_figures(listed, [run_folder, later.root], tmp_path)
        table = pd.read_csv(tmp_path / CSV_NAME)
        copycat, real = (table[table.generator == name].sort_values("frequency") for name in (COPYCAT, "real"))
        assert set(copycat.images) == {len(load_digits(8).x_test[:500])}
        assert np.allclose(copycat.log_power, real.log_power)



def test_a_curve_averages_the_first_max_images_only() -> None:
    """A fakes file holding more than ``MAX_IMAGES`` images is drawn from its first ``MAX_IMAGES``."""
    images = as_uint8(torch.rand(MAX_IMAGES + 40, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(1)) * 255)
    images[MAX_IMAGES:] = 0
    curve = mean_curve("dcgan", images)
    assert curve.images == MAX_IMAGES
    assert np.allclose(curve.log_power, profile(images[:MAX_IMAGES]))


def test_only_square_uint8_fakes_are_drawn(tmp_path: Path) -> None:
    """Stored fakes that are not square uint8 ``N,C,H,W`` images have no ring spectrum here and are skipped."""
    def stored(name: str, fresh: np.ndarray) -> StoredFakes:
        path = tmp_path / f"{name}.npz"
        write_npz(path, eval=np.zeros_like(fresh), fresh=fresh)
        return StoredFakes("dcgan", "digits", "smoke", 0, path, None)

    square = np.zeros((2, 1, SIDE, SIDE), dtype=np.uint8)
    assert torch.equal(fake_images(stored("square", square)), torch.from_numpy(square))
    assert fake_images(stored("wide", np.zeros((2, 1, SIDE, SIDE + 8), dtype=np.uint8))) is None
    assert fake_images(stored("float", square.astype(np.float32))) is None


def test_fakes_of_a_failed_sample_unit_are_not_drawn(run_folder: Path, tmp_path: Path) -> None:
    records = [r.to_dict() for r in RunStore(run_folder).records() if r.kind in ("train", "sample")]
    for record in records:
        if record["kind"] == "sample" and record["generator"] == ALIASED:
            record["status"] = "failed"
    spectra_figures(records, [run_folder], tmp_path)
    assert set(pd.read_csv(tmp_path / CSV_NAME).generator) == {"real", COPYCAT}


def test_the_right_panel_draws_each_curve_minus_the_reals() -> None:
    frequencies = ring_frequencies(8)
    real = Curve("real", 10, np.linspace(5.0, 1.0, len(frequencies)))
    fake = Curve("dcgan", 10, np.linspace(4.0, 3.0, len(frequencies)))
    figure = draw("digits", "quick", 8, [fake], real, "reals: digits test split")
    (line,) = [line for line in figure.axes[1].get_lines() if line.get_label() == "dcgan"]
    assert np.allclose(line.get_ydata(), fake.log_power - real.log_power)
    assert line.get_ydata()[-1] > 0 > line.get_ydata()[0]

# ------------------------------------------------------------------------------------------- the table
PAIR_RECORDS = [
    detection("stylegan2", "stylegan2", 0.91), detection("stylegan2", "stylegan3", 0.62),
    detection("stylegan3", "stylegan3", 0.88), detection("stylegan3", "stylegan2", 0.55),
    detection("stylegan2", "stylegan2", 0.80, "one-class"), detection("stylegan2", "stylegan3", 0.70, "one-class"),
    detection("stylegan3", "stylegan3", 0.70, "one-class"), detection("stylegan3", "stylegan2", 0.80, "one-class"),
    detection("dcgan", "stylegan3", 0.11), detection("stylegan2", "dcgan", 0.12), detection("all", "stylegan3", 0.13),
    detection("stylegan2", "stylegan3", 0.14, perturbation="jpeg:50"),
    detection("stylegan3", "stylegan2", 0.15, status="failed"),
]


def cells(board: Any, detector: str) -> list[float]:
    row = board.data.set_index("detector").loc[detector]
    return [row[c.name] for c in board.columns if c.name.startswith("auc_")]


def test_the_arms_race_table_puts_each_auc_in_its_column() -> None:
    (board,) = arms_race_boards(records_frame(PAIR_RECORDS))
    assert [c.name for c in board.columns if c.name.startswith("auc_")] == [
        cell_name("stylegan2", "stylegan2"), cell_name("stylegan2", "stylegan3"),
        cell_name("stylegan3", "stylegan3"), cell_name("stylegan3", "stylegan2")]
    assert cells(board, "spectrum") == pytest.approx([0.91, 0.62, 0.88, 0.55])
    assert cells(board, "one-class") == pytest.approx([0.80, 0.70, 0.70, 0.80])
    spectrum = text_rows(board)[list(board.data.detector).index("spectrum")]
    assert spectrum[1:] == ["0.9100 [0.8600, 0.9600]", "0.6200 [0.5700, 0.6700]", "0.8800 [0.8300, 0.9300]",
                            "0.5500 [0.5000, 0.6000]"]


def test_the_reversed_pair_swaps_the_columns() -> None:
    (board,) = arms_race_boards(records_frame(PAIR_RECORDS), ("stylegan3", "stylegan2"))
    assert cells(board, "spectrum") == pytest.approx([0.88, 0.55, 0.91, 0.62])
    assert [c.label for c in board.columns if c.name.startswith("auc_")] == [
        "trained stylegan3, tested stylegan3", "stylegan3 → stylegan2", "trained stylegan2, tested stylegan2",
        "stylegan2 → stylegan3"]


def test_seeds_are_averaged_with_their_t_interval() -> None:
    records = PAIR_RECORDS + [detection("stylegan2", "stylegan3", 0.66, seed=1)]
    (board,) = arms_race_boards(records_frame(records))
    row = board.data.set_index("detector").loc["spectrum"]
    name = cell_name("stylegan2", "stylegan3")
    assert row[name] == pytest.approx(0.64) and row[name + "_n"] == 2
    assert row[name + "_seed_ci_low"] < 0.62 and row[name + "_seed_ci_high"] > 0.66


def test_seed_intervals_of_an_auc_are_cut_to_zero_and_one() -> None:
    """Two seeds at 0.91 and 0.99: the t-interval 0.95 +/- t(0.975, 1) * 0.04 reaches past 1 and is cut there."""
    from scipy.stats import t

    records = PAIR_RECORDS + [detection("stylegan2", "stylegan2", 0.99, seed=1)]
    (board,) = arms_race_boards(records_frame(records))
    row = board.data.set_index("detector").loc["spectrum"]
    name = cell_name("stylegan2", "stylegan2")
    half = t.ppf(0.975, 1) * np.std([0.91, 0.99], ddof=1) / math.sqrt(2)
    assert row[name] == pytest.approx(0.95) and half > 0.05
    assert row[name + "_seed_ci_low"] == pytest.approx(0.95 - half)
    assert row[name + "_seed_ci_high"] == 1.0


def test_a_detector_tested_across_one_way_keeps_its_row_and_higher_auc_is_better() -> None:
    """A detector with only the A -> B cross cell still gets a row, with dashes where it was not tested."""
    records = PAIR_RECORDS + [detection("stylegan2", "stylegan3", 0.75, "half")]
    (board,) = arms_race_boards(records_frame(records))
    assert sorted(board.data.detector) == ["half", "one-class", "spectrum"]
    half = text_rows(board)[list(board.data.detector).index("half")]
    assert half[1:] == ["–", "0.7500 [0.7000, 0.8000]", "–", "–"]
    aucs = [c for c in board.columns if c.name.startswith("auc_")]
    assert all(c.better == "higher" and label(c).endswith(" ↑") for c in aucs)


def test_no_table_without_both_cross_directions() -> None:
    compact = [r for r in PAIR_RECORDS if r["train_generator"] != "stylegan3"]
    assert arms_race_boards(records_frame(compact)) == []
    leaderboard = build_leaderboard(compact)
    assert with_arms_race(leaderboard, compact).boards == leaderboard.boards


def test_a_pair_is_two_different_names() -> None:
    assert parse_pair(" stylegan2 , stylegan3") == ("stylegan2", "stylegan3")
    for text in ("stylegan2", "stylegan2,stylegan2", "a,b,c", "a,"):
        with pytest.raises(ValueError):
            parse_pair(text)
