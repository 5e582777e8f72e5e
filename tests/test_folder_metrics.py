"""`ganbench metrics` / `ganbench stats` and the Python API: inputs at their own size, statistics files
interchangeable with the images they summarise and with pytorch-fid's, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from pytorch_fid import fid_score
from typer.testing import CliRunner

import ganbench
from ganbench.api import compute_metrics, compute_statistics
from ganbench.cli import app
from ganbench.data import load_dataset
from ganbench.errors import UserError
from ganbench.fid_stats import PROTOCOL_KEY, read_statistics
from ganbench.imageio import save_png_folder

N = 150


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of digits (test split: ``a``; train split: ``b``), an npz of zeros only, a folder of
    two image sizes, and a small timm network's weights file."""
    root = tmp_path_factory.mktemp("score_inputs")
    data = load_dataset("digits")
    save_png_folder(data.x_test[:N], root / "a")
    save_png_folder(data.x_train[:N], root / "b")
    np.savez(root / "zeros.npz", x=data.x_train[data.y_train == 0].numpy())
    (root / "two_sizes").mkdir()
    rng = np.random.default_rng(0)
    for i, side in enumerate((8, 8, 12, 12, 12)):
        Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).save(root / "two_sizes" / f"{i}.png")
    (root / "empty").mkdir()
    weights = root / "test_resnet.pth"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), weights)
    return {"root": root, "a": root / "a", "b": root / "b", "zeros": root / "zeros.npz",
            "two_sizes": root / "two_sizes", "empty": root / "empty", "timm_weights": weights}


def tiny(sets: dict[str, Path]) -> dict[str, object]:
    """A small real network: timm's test_resnet from a local weights file."""
    return {"extractor": "timm:test_resnet", "extractor_weights": sets["timm_weights"]}


def test_fid_of_a_folder_against_itself_is_zero(sets: dict[str, Path]) -> None:
    same = compute_metrics(f"folder:{sets['a']}", f"folder:{sets['a']}", n=20, **tiny(sets))
    other = compute_metrics(f"folder:{sets['a']}", f"folder:{sets['b']}", n=20, **tiny(sets))
    assert abs(same["metrics"]["fid"]) < 1e-6
    assert other["metrics"]["fid"] > 1e-3


def test_fid_against_a_statistics_file_equals_fid_against_its_images(sets: dict[str, Path], tmp_path: Path) -> None:
    compute_statistics(f"folder:{sets['b']}", tmp_path / "b.npz", n=20, **tiny(sets))
    direct = compute_metrics(f"folder:{sets['a']}", f"folder:{sets['b']}", n=20, **tiny(sets))
    via_file = compute_metrics(f"folder:{sets['a']}", f"stats:{tmp_path / 'b.npz'}", n=20, **tiny(sets))
    assert via_file["metrics"]["fid"] == pytest.approx(direct["metrics"]["fid"], rel=1e-12, abs=1e-12)
    compute_statistics("digits@train", tmp_path / "train.npz", extractor="classifier", n=N)
    with_data = compute_metrics(f"folder:{sets['a']}", "digits@train", extractor="classifier", n=N)
    with_file = compute_metrics(f"folder:{sets['a']}", f"stats:{tmp_path / 'train.npz'}", extractor="classifier")
    assert with_file["metrics"]["fid"] == pytest.approx(with_data["metrics"]["fid"], rel=1e-12)
    assert with_file["protocol"]["classifier_data"] == "digits@train"


def test_statistics_files_round_trip_with_pytorch_fid(sets: dict[str, Path], tmp_path: Path) -> None:
    ours = tmp_path / "ours.npz"
    stats = compute_statistics("digits@train", ours, extractor="classifier", n=N)
    with np.load(ours) as archive:
        assert archive["mu"].dtype == archive["sigma"].dtype == np.float64
        protocol = json.loads(str(archive[PROTOCOL_KEY]))
    assert protocol["extractor"] == "classifier" and protocol["n"] == N and protocol["feature_dim"] == 128
    assert {"weights", "resize", "ganbench_version", "input"} <= set(protocol)
    plain = tmp_path / "plain.npz"
    np.savez(plain, mu=stats.mu, sigma=stats.sigma)
    assert read_statistics(plain).protocol is None
    with pytest.warns(UserWarning, match="no protocol"):
        from_plain = compute_metrics("digits", f"stats:{plain}", extractor="classifier", n=N)
    from_images = compute_metrics("digits", "digits@train", extractor="classifier", n=N)
    assert from_plain["metrics"]["fid"] == pytest.approx(from_images["metrics"]["fid"], rel=1e-12)
    assert from_plain["protocol"]["input2"]["protocol"] == "unknown"


def test_pytorch_fid_reads_our_files_and_agrees_on_the_distance(sets: dict[str, Path], tmp_path: Path) -> None:
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    compute_statistics("digits@train", first, extractor="classifier", n=N)
    compute_statistics("digits", second, extractor="classifier", n=N)
    ours = compute_metrics(f"stats:{first}", f"stats:{second}")["metrics"]["fid"]
    mu1, sigma1 = fid_score.compute_statistics_of_path(str(first), None, 1, 128, "cpu")
    mu2, sigma2 = fid_score.compute_statistics_of_path(str(second), None, 1, 128, "cpu")
    assert ours > 0.1
    assert ours == pytest.approx(fid_score.calculate_frechet_distance(mu1, sigma1, mu2, sigma2), rel=1e-6)


def test_input_one_is_scored_against_input_two(sets: dict[str, Path]) -> None:
    """Only zeros against every digit: high precision, low recall and coverage, IS near 1; swapped, the reverse."""
    zeros, everything = f"npz:{sets['zeros']}", "digits@train"
    scored = compute_metrics(zeros, everything, fid=False, isc=True, prdc=True, extractor="classifier")["metrics"]
    swapped = compute_metrics(everything, zeros, fid=False, isc=True, prdc=True, extractor="classifier")["metrics"]
    assert scored["precision"] > 0.9 and scored["recall"] < 0.5 and scored["coverage"] < 0.3
    assert swapped["precision"] < 0.3 and swapped["recall"] > 0.9
    assert scored["is"] < 1.5 < 5 < swapped["is"]


def test_kid_and_prdc_follow_the_quality_settings(sets: dict[str, Path]) -> None:
    """KID draws the configured number of subsets of the configured size (so its spread is measured),
    and PRDC's radii are each real's k-th neighbour: a larger k gives larger radii, more coverage."""
    import dataclasses

    from ganbench.folder_metrics import score, score_options
    from ganbench.quality import QualityConfig

    def scored(**settings: int) -> dict[str, Any]:
        options = score_options(extractor="classifier", intervals=False)
        options = dataclasses.replace(options, quality=dataclasses.replace(options.quality, **settings))
        return score([f"folder:{sets['a']}", "digits@train"], ["kid", "prdc"], options)

    assert QualityConfig().prdc_k == 5 and QualityConfig().kid_subset_size > N
    small, large = scored(kid_subsets=7, kid_subset_size=50, prdc_k=2), scored(prdc_k=9)
    assert small["metrics"]["kid_std"] > 0 and small["protocol"]["kid_subsets"] == 7
    assert large["protocol"]["kid_subset_size"] == N, "subsets no larger than the smaller input"
    assert large["metrics"]["coverage"] > small["metrics"]["coverage"]
    assert large["metrics"]["recall"] > small["metrics"]["recall"]


def test_the_inception_score_takes_the_configured_splits(sets: dict[str, Path]) -> None:
    """One split scores the whole set (no spread); ten splits score ten parts (a spread, a lower mean)."""
    import dataclasses

    from ganbench.folder_metrics import score, score_options

    def scored(splits: int) -> dict[str, Any]:
        options = score_options(extractor="classifier", intervals=False)
        options = dataclasses.replace(options, quality=dataclasses.replace(options.quality, is_splits=splits))
        return score(["digits"], ["is"], options)

    one, ten = scored(1), scored(10)
    assert one["protocol"]["is_splits"] == 1 and one["metrics"]["is_std"] == 0.0 < ten["metrics"]["is_std"]
    assert one["metrics"]["is"] > ten["metrics"]["is"]


def test_the_seed_draws_the_n_images_and_kids_subsets(sets: dict[str, Path]) -> None:
    """``seed`` picks which ``n`` images an input gives and which subsets KID draws; it is recorded."""
    import dataclasses

    from ganbench.folder_metrics import score, score_options

    def scored(seed: int, n: int | None = None) -> dict[str, Any]:
        options = score_options(extractor="classifier", n=n, seed=seed, intervals=False)
        options = dataclasses.replace(options, quality=dataclasses.replace(options.quality, kid_subsets=5,
                                                                           kid_subset_size=50))
        return score([f"folder:{sets['a']}", "digits@train"], ["fid", "kid"], options)

    first, again, other = scored(0), scored(0), scored(1)
    assert first["metrics"] == again["metrics"] and (first["protocol"]["seed"], other["protocol"]["seed"]) == (0, 1)
    assert other["metrics"]["fid"] == first["metrics"]["fid"], "every image of both inputs either way"
    assert other["metrics"]["kid"] != first["metrics"]["kid"]
    drawn, redrawn = scored(0, n=40), scored(1, n=40)
    assert drawn["metrics"]["fid"] != redrawn["metrics"]["fid"]


def test_the_classifier_extractor_trains_on_the_references_data_set(sets: dict[str, Path], tmp_path: Path) -> None:
    """With a data set on both sides, the classifier is the reference's (input 2), as when input 1 is a folder."""
    data = load_dataset("digits")
    np.savez(tmp_path / "small.npz", x_train=data.x_train[:60, 0].numpy(), y_train=data.y_train[:60].numpy(),
             x_test=data.x_test[:40, 0].numpy(), y_test=data.y_test[:40].numpy())
    both = compute_metrics(f"dataset:npz:{tmp_path / 'small.npz'}", "digits@train", extractor="classifier",
                           intervals=False)
    folder = compute_metrics(f"folder:{sets['a']}", "digits@train", extractor="classifier", intervals=False)
    assert both["protocol"]["classifier_data"] == folder["protocol"]["classifier_data"] == "digits@train"
    assert both["protocol"]["weights"] == folder["protocol"]["weights"]


def test_rgb_images_meet_a_grey_classifier_as_their_luminance(sets: dict[str, Path], tmp_path: Path) -> None:
    grey = load_dataset("digits").x_test[:N]
    save_png_folder(grey.repeat(1, 3, 1, 1), tmp_path / "rgb")
    as_rgb = compute_metrics(f"folder:{tmp_path / 'rgb'}", "digits@train", extractor="classifier", prdc=True)
    as_grey = compute_metrics(f"folder:{sets['a']}", "digits@train", extractor="classifier", prdc=True)
    assert as_rgb["metrics"] == pytest.approx(as_grey["metrics"])


def test_an_input_is_every_image_it_names_and_n_is_a_seeded_draw(sets: dict[str, Path], tmp_path: Path) -> None:
    """A folder input holds its sub-folders' images and upper-case suffixes too; ``digits@all`` is
    both splits; ``--n`` draws a subset with the seed, kept in the folder's order."""
    from ganbench.image_sets import open_images

    nested = tmp_path / "nested"
    (nested / "deeper").mkdir(parents=True)
    grey = np.zeros((8, 8), dtype=np.uint8)
    for name in ("a.png", "deeper/b.png", "C.PNG"):
        Image.fromarray(grey).save(nested / name)
    assert len(open_images(f"folder:{nested}")) == 3
    assert len(open_images("digits@all")) == 1797
    images = open_images(f"folder:{sets['a']}")
    first, again, other = images.subset(20, 0), images.subset(20, 0), images.subset(20, 1)
    assert first.files == again.files and first.files != other.files
    assert first.files == sorted(first.files) and first.files != images.files[:20]


def test_images_keep_their_own_size(sets: dict[str, Path]) -> None:
    result = compute_metrics(f"folder:{sets['two_sizes']}", f"folder:{sets['a']}", n=5, **tiny(sets))
    assert result["protocol"]["input1"]["image_sizes"] == ["1x12x12", "1x8x8"]
    assert result["protocol"]["input1"]["n"] == 5
    with pytest.raises(UserError, match="trained on 8x8 images") as info:
        compute_metrics(f"folder:{sets['two_sizes']}", "digits", extractor="classifier")
    assert "\n" not in str(info.value)


def test_a_run_generator_is_sampled_with_a_fixed_seed(smoke_run: tuple[Path, object]) -> None:
    out, _ = smoke_run
    first = compute_metrics(f"run:{out}:dcgan", "digits", extractor="classifier", n=40, kid=True)
    again = compute_metrics(f"run:{out}:dcgan", "digits", extractor="classifier", n=40, kid=True)
    assert first["metrics"] == again["metrics"] and first["protocol"]["input1"]["n"] == 40
    assert first["protocol"]["input1"]["generator"] == "dcgan" and first["protocol"]["input2"]["n"] == 40
    # without --n the run gives as many fakes as the reference holds; the seed draws them
    whole = compute_metrics(f"run:{out}:dcgan", "digits", extractor="classifier", intervals=False)
    reseeded = compute_metrics(f"run:{out}:dcgan", "digits", extractor="classifier", intervals=False, seed=1)
    assert whole["protocol"]["input1"]["n"] == whole["protocol"]["input2"]["n"] == 360
    assert whole["protocol"]["input1"]["sample_seed"] == 0 and reseeded["protocol"]["input1"]["sample_seed"] == 1
    assert whole["metrics"]["fid"] != reseeded["metrics"]["fid"]
    with pytest.raises(UserError, match="no trained wgan"):
        compute_metrics(f"run:{out}:wgan", "digits", extractor="classifier")


def test_a_generator_trained_by_other_code_is_named_not_reused(smoke_run: tuple[Path, object],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = smoke_run
    monkeypatch.setattr("ganbench.units.source_digest", lambda cls: "0123456789abcdef")
    with pytest.raises(UserError, match="dcgan trained in .* was trained by other code "
                                        r"\(its source digest [0-9a-f]{16}, this ganbench's 0123456789abcdef\)") as info:
        compute_metrics(f"run:{out}:dcgan", "digits", extractor="classifier")
    assert "\n" not in str(info.value)


def test_cli_prints_a_table_and_json(sets: dict[str, Path]) -> None:
    args = ["metrics", f"folder:{sets['a']}", "digits@train", "--extractor", "classifier", "--n", str(N), "--quiet"]
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    for row in ("FID", "KID", "IS", "precision", "recall", "density", "coverage", "extractor classifier"):
        assert row in table.output
    (kid_row,) = [line for line in table.output.splitlines() if line.startswith("│ KID ")]
    assert "±" not in kid_row, "one subset holding both inputs whole has no std to show"
    assert f"KID: one subset holding both inputs whole ({N} images each), so no std over subsets" in table.output
    result = CliRunner().invoke(app, [*args, "--json"])
    body = json.loads(result.stdout)
    bounds = {f"{name}_ci_{end}" for name in ("fid", "precision", "recall", "density", "coverage")
              for end in ("low", "high")}
    assert set(body["metrics"]) == {"fid", "fid_se", "kid", "is", "is_std", "precision", "recall",
                                    "density", "coverage", *bounds}
    assert body["protocol"]["input1"]["n"] == N and body["protocol"]["metrics"] == ["fid", "kid", "is", "prdc"]
    assert body["metrics"]["fid"] == pytest.approx(
        compute_metrics(f"folder:{sets['a']}", "digits@train", extractor="classifier", n=N)["metrics"]["fid"])
    stats = CliRunner().invoke(app, ["stats", "digits", "--out", str(sets["root"] / "cli.npz"), "--extractor",
                                     "classifier", "--quiet"])
    assert stats.exit_code == 0 and "128-d classifier features" in stats.output


BAD = {
    "missing folder": ["folder:{root}/nowhere", "digits"],
    "empty folder": ["folder:{root}/empty", "digits"],
    "statistics without mu and sigma": ["folder:{root}/a", "stats:{root}/no_mu.npz", "--extractor", "classifier"],
    "statistics of another extractor": ["folder:{root}/a", "stats:{root}/classifier.npz", "--extractor",
                                        "timm:test_resnet", "--extractor-weights", "{root}/test_resnet.pth"],
    "statistics of another dimension": ["digits", "stats:{root}/wide.npz", "--extractor", "classifier"],
    "statistics of other weights": ["folder:{root}/a", "stats:{root}/test_resnet.npz", "--extractor",
                                    "timm:test_resnet", "--extractor-weights", "{root}/other_resnet.pth"],
    "IS of a statistics file": ["stats:{root}/classifier.npz", "--is"],
    "KID against a statistics file": ["digits", "stats:{root}/classifier.npz", "--kid"],
    "unknown extractor": ["folder:{root}/a", "digits", "--extractor", "inceptoin"],
    "unknown resize into Inception": ["folder:{root}/a", "digits", "--inception-resize", "bicubic"],
    "clean resize into the classifier": ["folder:{root}/a", "digits", "--extractor", "classifier",
                                         "--inception-resize", "clean"],
    "unknown input": ["pictures/", "digits"],
    "classifier without a data set": ["folder:{root}/a", "folder:{root}/b", "--extractor", "classifier"],
    "more images than the folder holds": ["folder:{root}/a", "digits", "--extractor", "classifier", "--n", "1000"],
    "a statistics file alone": ["stats:{root}/classifier.npz"],
    "npz of a data set": ["npz:{root}/dataset.npz", "digits", "--extractor", "classifier"],
    "run folder without a run": ["run:{root}:dcgan", "digits"],
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_input_is_one_line_and_exit_code_2(case: str, sets: dict[str, Path]) -> None:
    root = sets["root"]
    if not (root / "classifier.npz").exists():
        np.savez(root / "no_mu.npz", mean=np.zeros(3))
        np.savez(root / "wide.npz", mu=np.zeros(4), sigma=np.eye(4))
        np.savez(root / "dataset.npz", x_train=np.zeros((4, 8, 8), np.uint8), y_train=np.zeros(4))
        compute_statistics("digits@train", root / "classifier.npz", extractor="classifier", n=N)
        compute_statistics("digits@train", root / "test_resnet.npz", n=N, **tiny(sets))
        with torch.random.fork_rng():
            torch.manual_seed(1)
            torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), root / "other_resnet.pth")
    result = CliRunner().invoke(app, ["metrics", *(a.format(root=root) for a in BAD[case])])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, (case, result.output)
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, result.output)
    assert "Traceback" not in result.output


def test_importing_ganbench_stays_cheap() -> None:
    code = "import sys, ganbench; assert 'torch' not in sys.modules and 'ganbench.api' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert ganbench.compute_metrics is compute_metrics and ganbench.compute_statistics is compute_statistics


@pytest.mark.parametrize(("sigma", "message"), [(-np.eye(3), "negative eigenvalue"),
                                                (np.triu(np.ones((3, 3))), "not symmetric"),
                                                (np.eye(4), "not a D mean and a D x D covariance"),
                                                (np.diag([1.0, np.nan, 1.0]), "NaN or infinite")])
def test_a_statistics_file_whose_sigma_is_no_covariance_is_refused(sigma: np.ndarray, message: str,
                                                                    tmp_path: Path) -> None:
    """A sigma that no set of features has would give any FID, negative ones included."""
    from ganbench.errors import UserError
    from ganbench.fid_stats import read_statistics

    np.savez(tmp_path / "bad.npz", mu=np.zeros(3), sigma=sigma)
    with pytest.raises(UserError, match=message):
        read_statistics(tmp_path / "bad.npz")
    np.savez(tmp_path / "good.npz", mu=np.zeros(3), sigma=np.diag([2.0, 1.0, 0.0]))
    assert read_statistics(tmp_path / "good.npz").sigma.shape == (3, 3)
