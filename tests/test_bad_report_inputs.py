"""`metrics`, `stats`, `leaderboard show/publish` and `human-eval`: a user's mistake is one line on
stderr and exit code 2, found before any feature is extracted or any data is loaded; a metric is
refused below the sample count it needs and computed with a warning below the count it needs to be
reliable, its value unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.errors import UserError
from ganbench.features import ClassifierExtractor, FeatureExtractor
from ganbench.folder_metrics import Scorer, ScoreOptions, score
from ganbench.metrics import fid_from_features, inception_score_from_probs, kid_from_features
from ganbench.prdc import prdc_from_features
from ganbench.quality import QualityConfig, advised_samples, least_samples
from ganbench.records import record_from_dict
from ganbench.store import RunStore
from test_leaderboards import synthetic_records

FEATURES, CLASSES = 8, 4


class PixelExtractor(FeatureExtractor):
    """A stand-in for a pretrained network: the first pixels as features, softmax of four of them as classes."""

    name = "inception"
    description = "first pixels"
    weights_hash = "pixels"
    device = torch.device("cpu")
    has_probs = True

    def protocol(self) -> dict[str, object]:
        return {"extractor": "inception", "weights": self.weights_hash, "resize": "none"}

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        pixels = images.float().flatten(1)[:, :FEATURES]
        return pixels, torch.softmax(pixels[:, :CLASSES] / 64, dim=1)


def grey_images(n: int, seed: int, side: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side), dtype=np.uint8)


def nchw(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.load(path)["x"])


def save_pngs(folder: Path, images: np.ndarray) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Image folders (good, with a corrupt, truncated or 16-bit file), npz arrays of a few sizes, and a run
    folder with records of every table whose dcgan counts as trained on digits with the smoke preset."""
    tmp = tmp_path_factory.mktemp("report_inputs")
    save_pngs(tmp / "good", grey_images(12, 0))
    save_pngs(tmp / "corrupt", grey_images(12, 1))
    (tmp / "corrupt" / "999.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    save_pngs(tmp / "truncated", grey_images(12, 2, side=32))
    whole = (tmp / "truncated" / "005.png").read_bytes()
    (tmp / "truncated" / "005.png").write_bytes(whole[: len(whole) // 2])
    save_pngs(tmp / "deep", grey_images(12, 3))
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(tmp / "deep" / "999.png")
    (tmp / "corrupt.npz").write_bytes(b"PK\x03\x04garbage")
    for name, n in (("one", 1), ("twenty", 20), ("hundred", 100), ("reference", 100)):
        np.savez(tmp / f"{name}.npz", x=grey_images(n, len(name))[:, None])
    np.savez(tmp / "big.npz", x=grey_images(20, 9, side=12)[:, None])
    store = RunStore(tmp / "run")
    for record in synthetic_records({"dcgan": "gan"}, seeds=(0,)):
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    return tmp


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building an extractor, extracting features and loading a run's data end the test: a mistake must be
    found before them."""

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the work started before the mistake was found")

    monkeypatch.setattr(Scorer, "extractor", property(started))
    monkeypatch.setattr(Scorer, "extract", started)
    monkeypatch.setattr("ganbench.human_eval.app.RunContext", started)


CASES: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "metrics of a corrupt second npz": (["metrics", "folder:{tmp}/good", "npz:{tmp}/corrupt.npz"], ("corrupt.npz",)),
    "metrics of a corrupt image in the second folder": (["metrics", "folder:{tmp}/good", "folder:{tmp}/corrupt"],
                                                        ("999.png",)),
    "metrics of a corrupt image in the first folder": (["metrics", "folder:{tmp}/corrupt", "npz:{tmp}/hundred.npz"],
                                                       ("999.png",)),
    "metrics of a truncated image": (["metrics", "npz:{tmp}/hundred.npz", "folder:{tmp}/truncated"], ("005.png",)),
    "metrics of a 16-bit image": (["metrics", "npz:{tmp}/hundred.npz", "folder:{tmp}/deep"], ("999.png", "16-bit")),
    "FID of one image": (["metrics", "npz:{tmp}/one.npz", "npz:{tmp}/hundred.npz", "--fid"], ("FID", "1 image", "2")),
    "KID of one image": (["metrics", "npz:{tmp}/hundred.npz", "npz:{tmp}/one.npz", "--kid"], ("KID", "1 image", "2")),
    "IS of nineteen images": (["metrics", "npz:{tmp}/hundred.npz", "--is", "--n", "19"], ("IS", "19 images", "20")),
    "precision/recall of five images": (["metrics", "npz:{tmp}/twenty.npz", "npz:{tmp}/hundred.npz", "--prdc",
                                         "--n", "5"], ("precision/recall", "5 images", "6")),
    "every metric of five images": (["metrics", "npz:{tmp}/twenty.npz", "npz:{tmp}/hundred.npz", "--n", "5"],
                                    ("precision/recall", "5 images", "6", "--fid")),
    "statistics of a corrupt folder": (["stats", "folder:{tmp}/corrupt", "--out", "{tmp}/out/corrupt.npz"],
                                       ("999.png",)),
    "statistics of one image": (["stats", "npz:{tmp}/one.npz", "--out", "{tmp}/out/one.npz"],
                                ("FID", "1 image", "2")),
    "columns of the cross table": (["leaderboard", "show", "--out", "{tmp}/run", "--table", "cross", "--columns",
                                    "FID"], ("cross", "dcgan", "train_generator")),
    "sort the cross table by a column it lacks": (["leaderboard", "show", "--out", "{tmp}/run", "--table", "cross",
                                                   "--sort", "fid"], ("'fid'", "dcgan")),
    "JSON as Markdown": (["leaderboard", "show", "--out", "{tmp}/run", "--json", "--markdown"],
                         ("--json", "--markdown")),
    "JSON cut to columns": (["leaderboard", "show", "--out", "{tmp}/run", "--json", "--columns", "fid"],
                            ("--json", "--columns")),
    "publish sorted by an unknown column": (["leaderboard", "publish", "--out", "{tmp}/run", "--sort", "bogus",
                                             "--site", "{tmp}/site"], ("'bogus'",)),
    "rate with an unknown preset": (["human-eval", "--out", "{tmp}/run", "--preset", "bogus"],
                                    ("preset 'bogus'", "smoke, standard")),
    "rate on port 70000": (["human-eval", "--out", "{tmp}/run", "--port", "70000"], ("--port",)),
    "rate with a negative seed": (["human-eval", "--out", "{tmp}/run", "--seed", "-1"], ("--seed",)),
    "rate three images": (["human-eval", "--out", "{tmp}/run", "--n", "3"], ("--n",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_mistake_is_one_line_on_stderr_before_any_work(case: str, files: Path, no_work: None) -> None:
    args, named = CASES[case]
    if args[0] in ("metrics", "stats"):
        args = [*args, "--extractor", "inception"]
    before = sorted(files.rglob("*"))
    result = CliRunner().invoke(app, [a.format(tmp=files) for a in args])
    assert result.exit_code == 2, (case, result.output, result.exception)
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, (case, result.stderr)
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert all(part in result.stderr for part in named), (case, result.stderr)
    assert "(columns: none)" not in result.stderr
    assert sorted(files.rglob("*")) == before, "a file or folder was left behind"


def test_there_are_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


@pytest.fixture
def pixels(monkeypatch: pytest.MonkeyPatch) -> PixelExtractor:
    extractor = PixelExtractor()
    monkeypatch.setattr("ganbench.folder_metrics.pretrained_extractor", lambda *args: extractor)
    return extractor


def test_least_and_advised_counts_of_the_papers_settings() -> None:
    config = QualityConfig()
    assert {m: least_samples(m, config).count for m in ("fid", "kid", "is", "prdc")} == \
        {"fid": 2, "kid": 2, "is": 20, "prdc": 6}
    assert advised_samples("fid", config, 2048).count == 2049
    assert advised_samples("kid", config).count == 100
    assert advised_samples("is", config, 1008).count == 10080
    assert advised_samples("prdc", config).count == 100
    small = QualityConfig(kid_subset_size=50, is_splits=2, prdc_k=3)
    assert (least_samples("is", small).count, least_samples("prdc", small).count) == (4, 4)
    assert (advised_samples("kid", small).count, advised_samples("prdc", small).count) == (50, 60)
    with pytest.raises(ValueError):
        least_samples("psnr", config)


@pytest.mark.parametrize(("metric", "least"), [("fid", 2), ("kid", 2), ("is", 20), ("prdc", 6)])
def test_a_metric_is_refused_below_its_least_count_and_given_at_it(metric: str, least: int, files: Path,
                                                                     pixels: PixelExtractor) -> None:
    specs = [f"npz:{files}/hundred.npz", f"npz:{files}/reference.npz"]
    with pytest.raises(UserError, match=f"{least - 1} image.*fewer than the {least} it needs") as info:
        score(specs, [metric], ScoreOptions(extractor="inception", n=least - 1))
    assert str(info.value).startswith(f"{'precision/recall/density/coverage' if metric == 'prdc' else metric.upper()}:")
    assert "\n" not in str(info.value)
    result = score(specs, [metric], ScoreOptions(extractor="inception", n=least))
    assert result["metrics"]


def test_unreliable_counts_are_computed_with_a_warning_each(files: Path, pixels: PixelExtractor) -> None:
    """Twenty images: FID (8-d features) is reliable; IS (4 classes, 10 splits), KID subsets and the k-NN
    balls are not. A hundred images: no warning."""
    specs = [f"npz:{files}/twenty.npz", f"npz:{files}/reference.npz"]
    warnings: list[str] = []
    result = score(specs, None, ScoreOptions(extractor="inception", n=20), warn=warnings.append)
    assert set(result["metrics"]) >= {"fid", "kid", "is", "precision"}
    assert [w.split(":")[0] for w in warnings] == ["KID", "IS", "precision/recall/density/coverage",
                                                   "precision/recall/density/coverage"]
    assert "fewer than the 40 advised" in warnings[1] and all("unreliable" in w for w in warnings)
    few: list[str] = []
    score(specs, ["fid"], ScoreOptions(extractor="inception", n=8), warn=few.append)
    assert len(few) == 2 and all(w.startswith("FID:") and "fewer than the 9 advised" in w for w in few)
    enough: list[str] = []
    score([f"npz:{files}/hundred.npz", specs[1]], None, ScoreOptions(extractor="inception"), warn=enough.append)
    assert enough == []


def test_the_values_are_the_metric_functions_of_the_features(files: Path, pixels: PixelExtractor) -> None:
    scored, reference = (f"npz:{files}/{name}.npz" for name in ("twenty", "reference"))
    result = score([scored, reference], None, ScoreOptions(extractor="inception"))["metrics"]
    x, y = pixels.extract(nchw(files / "twenty.npz")), pixels.extract(nchw(files / "reference.npz"))
    assert result["fid"] == pytest.approx(fid_from_features(x.features, y.features), rel=1e-9)
    assert (result["kid"], result["kid_std"]) == kid_from_features(y.features, x.features, 100, 20, 0)
    assert (result["is"], result["is_std"]) == inception_score_from_probs(x.probs, 10)
    assert {k: result[k] for k in ("precision", "recall", "density", "coverage")} == \
        prdc_from_features(y.features, x.features, 5)


def test_the_classifier_size_is_checked_before_any_feature(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def built() -> tuple[ClassifierExtractor, tuple[int, ...]]:
        return ClassifierExtractor.__new__(ClassifierExtractor), (1, 8, 8)

    monkeypatch.setattr("ganbench.folder_metrics._dataset_classifier", lambda images, device: built)
    monkeypatch.setattr(Scorer, "extract", lambda self, item: pytest.fail("features extracted"))
    with pytest.raises(UserError, match=r"trained on 8x8 images and npz:.*big.npz holds 12x12"):
        score(["digits", f"npz:{files}/big.npz"], ["fid"], ScoreOptions(extractor="classifier"))


def test_scores_and_statistics_leave_stderr_empty_or_one_warning_a_line(files: Path, pixels: PixelExtractor) -> None:
    args = ["metrics", f"npz:{files}/hundred.npz", f"npz:{files}/reference.npz", "--extractor", "inception"]
    clean = CliRunner().invoke(app, [*args, "--fid", "--json"])
    assert clean.exit_code == 0 and clean.stderr == "", clean.output
    assert json.loads(clean.stdout)["metrics"]["fid"] > 0
    small = CliRunner().invoke(app, [*args, "--kid", "--n", "30"])
    assert small.exit_code == 0 and "KID" in small.stdout
    assert small.stderr.splitlines() == [small.stderr.strip()] and small.stderr.startswith("warning: KID: subsets "
                                                                                           "of 30 images")
    out = files / "stats" / "few.npz"
    stats = CliRunner().invoke(app, ["stats", f"npz:{files}/twenty.npz", "--n", "5", "--out", str(out), "--extractor",
                                     "inception"])
    assert stats.exit_code == 0 and out.is_file()
    assert stats.stderr.startswith("warning: FID: npz:") and len(stats.stderr.splitlines()) == 1
    assert "fewer than the 9 advised" in stats.stderr


def test_a_folder_is_read_once_before_extraction_and_its_sizes_kept(files: Path) -> None:
    from ganbench.image_sets import open_images

    images = open_images(f"folder:{files}/good")
    seen: list[tuple[int, int]] = []
    assert images.shapes(lambda done, total: seen.append((done, total))) == {(1, 8, 8)}
    assert seen == [(12, 12)] and images.shapes() == {(1, 8, 8)}
    with pytest.raises(UserError, match="999.png"):
        open_images(f"folder:{files}/corrupt").shapes()
