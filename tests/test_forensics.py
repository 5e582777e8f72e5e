"""``ganbench detect``: detectors fitted, saved and scored test-only on outside folders."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.detectors.evaluate import detection_metrics
from ganbench.detectors.perturbations import blur, noise
from ganbench.errors import UserError
from ganbench.detector_choice import parse_arguments, parse_detector, parse_value
from ganbench.forensics import VALIDATION_FRACTION
from ganbench.outside_data import Framing


def digits16(start: int, n: int) -> torch.Tensor:
    """n digits as uint8 ``N,1,16,16`` (each 8x8 pixel doubled)."""
    images = np.round(load_digits().images[start : start + n] * 255 / 16).astype(np.uint8)
    return torch.from_numpy(np.kron(images, np.ones((2, 2), dtype=np.uint8)))[:, None]


def save_pngs(folder: Path, images: torch.Tensor) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image[0].numpy()).save(folder / f"{i:03d}.png")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Training folders (digits vs noisy digits) and a CNNDetection root with two generators, one
    unbalanced, one with class sub-folders."""
    root = tmp_path_factory.mktemp("forensics")
    save_pngs(root / "train" / "real", digits16(0, 40))
    save_pngs(root / "train" / "fake", noise(digits16(40, 40), 25.0, seed=1))
    save_pngs(root / "test" / "noisy" / "0_real", digits16(100, 12))
    save_pngs(root / "test" / "noisy" / "1_fake", noise(digits16(120, 8), 25.0, seed=2))
    for index, name in enumerate(("airplane", "cat")):
        save_pngs(root / "test" / "blurry" / name / "0_real", digits16(200 + 10 * index, 5))
        save_pngs(root / "test" / "blurry" / name / "1_fake", blur(digits16(300 + 10 * index, 5), 1.0))
    return root


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["detect", *args])


def train_args(root: Path) -> list[str]:
    return ["--train-real", f"folder:{root / 'train' / 'real'}", "--train-fakes", f"folder:{root / 'train' / 'fake'}"]


@pytest.fixture(scope="module")
def fitted(folders: Path) -> tuple[Path, dict, Path]:
    """spectrum fitted on the training folders, saved, and scored on the CNNDetection root."""
    saved, scores = folders / "spectrum.npz", folders / "fit_scores.csv"
    result = invoke("--detector", "spectrum", *train_args(folders), "--root", str(folders / "test"),
                    "--save-detector", str(saved), "--scores", str(scores), "--json", "--quiet")
    assert result.exit_code == 0, result.output
    return saved, json.loads(result.stdout), scores


def read_scores(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_test_only_scoring_of_a_saved_detector_matches_its_fit(folders: Path, fitted: tuple[Path, dict, Path],
                                                               tmp_path: Path) -> None:
    saved, fit_document, _ = fitted
    scores = tmp_path / "scores.csv"
    result = invoke("--detector", f"spectrum@{saved}", "--root", str(folders / "test"), "--scores", str(scores),
                    "--json", "--quiet")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [{**row, "detector": "spectrum"} for row in document["results"]] == fit_document["results"]
    assert {row["detector"] for row in document["results"]} == {"spectrum@spectrum.npz"}
    protocol = document["protocol"]["detectors"]["spectrum@spectrum.npz"]
    assert protocol["threshold"] == fit_document["protocol"]["detectors"]["spectrum"]["threshold"]
    assert "validation" in protocol["threshold_source"]
    rows = read_scores(scores)
    assert len(rows) == 12 + 8 + 10 + 10
    assert all(row["label"] == ("0" if "/0_real/" in row["path"] else "1") for row in rows)
    assert {row["generator"] for row in rows} == {"noisy", "blurry"}
    noisy = [r for r in rows if r["generator"] == "noisy"]
    assert sum(r["label"] == "0" for r in noisy) == 12 and sum(r["label"] == "1" for r in noisy) == 8


def test_reported_numbers_are_detection_metrics_of_the_written_scores(fitted: tuple[Path, dict, Path]) -> None:
    _, document, scores = fitted
    rows = read_scores(scores)
    for result in document["results"]:
        mine = [r for r in rows if r["generator"] == result["generator"]]
        labels = np.array([int(r["label"]) for r in mine])
        values = np.array([float(r["score"]) for r in mine])
        expected = detection_metrics(labels, values, result["threshold"])
        for key, value in expected.items():
            assert result[key] == pytest.approx(value, abs=1e-12), key
        assert (result["n_real"], result["n_fake"]) == (int((labels == 0).sum()), int((labels == 1).sum()))
    noisy = next(r for r in document["results"] if r["generator"] == "noisy")
    assert noisy["auc"] > 0.95 and noisy["n_real"] == 12 and noisy["n_fake"] == 8


def test_swapping_real_and_fake_folders_gives_one_minus_the_auc(folders: Path,
                                                                fitted: tuple[Path, dict, Path]) -> None:
    saved = fitted[0]
    real, fake = folders / "test" / "noisy" / "0_real", folders / "test" / "noisy" / "1_fake"

    def auc(real_folder: Path, fake_folder: Path) -> float:
        result = invoke("--detector", f"spectrum@{saved}", "--real", f"folder:{real_folder}", "--fakes",
                        f"g=folder:{fake_folder}", "--json", "--quiet")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["results"][0]["auc"]

    straight, swapped = auc(real, fake), auc(fake, real)
    assert straight > 0.95
    assert swapped == pytest.approx(1 - straight, abs=1e-12)


def test_the_table_shows_each_detector_and_generator_with_both_counts(folders: Path,
                                                                       fitted: tuple[Path, dict, Path]) -> None:
    saved, document, _ = fitted
    result = invoke("--detector", f"spectrum@{saved}", "--root", str(folders / "test"))
    assert result.exit_code == 0, result.output
    assert "scoring noisy: 12 real and 8 fake images" in result.stderr
    noisy = next(r for r in document["results"] if r["generator"] == "noisy")
    line = next(line for line in result.stdout.splitlines() if "noisy" in line)
    assert "spectrum" in line and f"{noisy['auc']:.4f}" in line and f"{noisy['balanced_acc']:.4f}" in line
    assert " 12 " in line and " 8 " in line


def test_two_files_of_one_detector_are_two_rows_named_by_their_files(folders: Path, fitted: tuple[Path, dict, Path],
                                                                     tmp_path: Path) -> None:
    saved, document, _ = fitted
    copy = tmp_path / "spectrum-copy.npz"
    shutil.copyfile(saved, copy)
    assert parse_detector("spectrum", ()).label == "spectrum"
    assert parse_detector(f"spectrum@{copy}", ()).label == "spectrum@spectrum-copy.npz"
    scores = tmp_path / "scores.csv"
    result = invoke("--detector", f"spectrum@{saved}", "--detector", f"spectrum@{copy}", "--root", str(folders / "test"),
                    "--scores", str(scores), "--json", "--quiet")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    labels = {"spectrum@spectrum.npz", "spectrum@spectrum-copy.npz"}
    assert {r["detector"] for r in rows} == labels and len(rows) == 2 * len(document["results"])
    assert {row["detector"] for row in read_scores(scores)} == labels


def test_rows_follow_the_order_the_detectors_are_named_in(folders: Path, fitted: tuple[Path, dict, Path]) -> None:
    """A detector fitted here and a loaded one give rows in the order of --detector, not of preparation."""
    result = invoke("--detector", "spectrum", "--detector", f"spectrum@{fitted[0]}", *train_args(folders),
                    "--root", str(folders / "test"), "--json", "--quiet")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [r["detector"] for r in rows] == ["spectrum", "spectrum@spectrum.npz"] * 2


def test_a_missing_detector_file_is_named_before_any_image_is_read(tmp_path: Path) -> None:
    reals = tmp_path / "reals"
    reals.mkdir()
    (reals / "broken.png").write_bytes(b"not a png")
    missing = tmp_path / "nowhere.npz"
    result = invoke("--detector", f"spectrum@{missing}", "--real", f"folder:{reals}",
                    "--fakes", f"x=folder:{reals}")
    assert result.exit_code == 2 and result.stderr.strip() == f"error: --detector spectrum@{missing}: no such file: {missing}"


def test_a_perturbation_is_applied_alike_and_reported(folders: Path, fitted: tuple[Path, dict, Path],
                                                      tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    result = invoke("--detector", f"spectrum@{fitted[0]}", "--root", str(folders / "test"), "--perturbation", "none",
                    "--perturbation", "blur:1", "--scores", str(scores), "--json", "--quiet")
    assert result.exit_code == 0, result.output
    rows = read_scores(scores)
    clean = {r["path"]: float(r["score"]) for r in rows if r["perturbation"] == "none"}
    blurred = {r["path"]: float(r["score"]) for r in rows if r["perturbation"] == "blur:1"}
    assert clean.keys() == blurred.keys() and len(clean) == 40
    assert all(clean[p] != blurred[p] for p in clean)
    assert [r["perturbation"] for r in json.loads(result.stdout)["results"]] == ["none", "blur:1"] * 2


def test_the_help_names_the_weights_syntax() -> None:
    result = invoke("--help")
    assert result.exit_code == 0 and "SPEC@PATH" in result.output


def test_detector_arguments_are_parsed_and_reach_the_constructor() -> None:
    assert [parse_value(v) for v in ("3", "0.5", "true", "False", "none", "a/b.pth")] == [3, 0.5, True, False, None,
                                                                                      "a/b.pth"]
    choice = parse_detector("small-cnn", parse_arguments(["epochs=1", "augment=true"]))
    from ganbench.detectors import RunSettings, build_detector

    model = build_detector(choice.spec.cls, RunSettings(epochs=4), choice.spec.arguments)
    assert model.config.epochs == 1 and model.config.augment is not None
    with pytest.raises(UserError, match="does not accept the argument"):
        parse_detector("spectrum", parse_arguments(["bogus=1"]))
    with pytest.raises(UserError, match="key=value"):
        parse_arguments(["nonsense"])
    with pytest.raises(UserError, match="--detector-arg epochs is given twice"):
        parse_arguments(["epochs=1", "augment=false", "epochs=9"])
    assert parse_arguments(["epochs=1", "augment=false"]) == (("epochs", 1), ("augment", False))


def test_framing_crops_the_centre_or_resizes_and_never_pads() -> None:
    image = torch.arange(36, dtype=torch.uint8).view(1, 6, 6)
    assert torch.equal(Framing(2, "center-crop").apply(image, "x"), image[:, 2:4, 2:4])
    assert Framing(None).apply(image, "x") is image
    assert Framing(3, "resize").apply(image, "x").shape == (1, 3, 3)
    with pytest.raises(UserError, match="smaller than --size"):
        Framing(8, "center-crop").apply(image, "x")


def test_a_runs_validation_slice_ignores_the_order_of_the_training_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reals stored class by class (image i of class i // 10): the held-out slice mixes classes, so the
    detector is fitted on every class, as ``detect`` fits on its shuffled slice."""
    from types import SimpleNamespace

    from ganbench.detection import DetectionUnits

    seen: dict[str, object] = {}

    class Recorder:
        def fit(self, real: torch.Tensor, fake: torch.Tensor, validation: object = None) -> None:
            seen["fit"], seen["validation"] = real, validation

        def score(self, images: torch.Tensor) -> np.ndarray:
            return images.float().flatten(1).mean(1).numpy()

    units = DetectionUnits.__new__(DetectionUnits)
    units.context = SimpleNamespace(config=SimpleNamespace(seed=0))
    monkeypatch.setattr(units, "build_detector", lambda spec, label: Recorder())
    real = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1)
    fitted = units.fit_detector(SimpleNamespace(name="recorder", cls=Recorder), "dcgan", real, real.flip(0))
    held_out_classes = set((seen["validation"][0].flatten() // 10).tolist())
    fit_classes = set((seen["fit"].flatten() // 10).tolist())
    assert len(held_out_classes) >= 6 and fit_classes == set(range(10))
    assert fitted["n_train_real"] == 100 - int(100 * VALIDATION_FRACTION) == len(seen["fit"])


def test_detect_fits_on_its_training_images_but_the_validation_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    """``detect`` holds a seeded slice of each class out of the fit and takes the threshold from
    that slice alone: the fit and the slice are disjoint and make up the training images."""
    from types import SimpleNamespace

    from ganbench import forensics
    from ganbench.detectors.base import RunSettings

    seen: dict[str, torch.Tensor] = {}

    class Recorder:
        def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
            seen["real"], seen["fake"] = real, fake

        def score(self, images: torch.Tensor) -> np.ndarray:
            seen.setdefault("scored", images)
            return images.float().flatten(1).mean(1).numpy()

    monkeypatch.setattr(forensics, "build_detector", lambda cls, settings, arguments: Recorder())
    choice = SimpleNamespace(spec=SimpleNamespace(cls=Recorder, name="recorder", arguments={}))
    real = torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1)
    fake = torch.arange(100, 150, dtype=torch.uint8).view(50, 1, 1, 1)
    prepared = forensics.fit_detector(choice, RunSettings(seed=0), real, fake)
    held_out = int(50 * VALIDATION_FRACTION)
    for name, images in (("real", real), ("fake", fake)):
        fit = set(seen[name].flatten().tolist())
        assert len(fit) == len(seen[name]) == 50 - held_out, name
        assert fit < set(images.flatten().tolist()), name
    validation = set(seen["scored"].flatten().tolist())
    assert len(validation) == held_out and not validation & set(seen["real"].flatten().tolist())
    assert "validation slice" in prepared.threshold_source


def bad_inputs(root: Path, saved: Path) -> dict[str, list[str]]:
    test = str(root / "test")
    return {
        "missing 1_fake": ["--detector", f"spectrum@{saved}", "--root", str(root / "bad" / "no_fake")],
        "empty 0_real": ["--detector", f"spectrum@{saved}", "--root", str(root / "bad" / "empty_real")],
        "root without generators": ["--detector", f"spectrum@{saved}", "--root", str(root / "bad" / "bare")],
        "truncated saved detector": ["--detector", f"spectrum@{root / 'bad' / 'truncated.npz'}", "--root", test],
        "not a saved detector": ["--detector", f"spectrum@{root / 'bad' / 'plain.npz'}", "--root", test],
        "saved detector of another kind": ["--detector", f"dct@{saved}", "--root", test],
        "missing weights file": ["--detector", f"spectrum@{root / 'nowhere.npz'}", "--root", test],
        "unknown detector": ["--detector", "nosuch", "--root", test],
        "malformed detector arg": ["--detector", f"spectrum@{saved}", "--detector-arg", "seed", "--root", test],
        "refused detector arg": ["--detector", f"spectrum@{saved}", "--detector-arg", "bogus=1", "--root", test],
        "scores into a missing folder": ["--detector", f"spectrum@{saved}", "--root", test, "--scores",
                                         str(root / "nowhere" / "s.csv")],
        "scores of an unknown format": ["--detector", f"spectrum@{saved}", "--root", test, "--scores",
                                        str(root / "s.txt")],
        "not fitted, no training data": ["--detector", "spectrum", "--root", test],
        "published without checkpoint": ["--detector", "cnndetection", "--root", test],
        "fakes without reals": ["--detector", f"spectrum@{saved}", "--fakes", f"x=folder:{test}/noisy/1_fake"],
        "nothing to score": ["--detector", f"spectrum@{saved}"],
        "bad perturbation": ["--detector", f"spectrum@{saved}", "--root", test, "--perturbation", "jpeg:x"],
        "fixed-size detector without --size": ["--detector", f"univfd@{saved}", "--root", test],
        "saving with a bad scores path": ["--detector", "spectrum", *train_args(root), "--root", test,
                                          "--save-detector", str(root / "never.npz"), "--scores",
                                          str(root / "nowhere" / "s.csv")],
        "training sets of two sizes": ["--detector", "spectrum", "--train-real", f"folder:{root / 'train' / 'real'}",
                                       "--train-fakes", f"folder:{root / 'bad' / 'big_fake'}", "--root", test],
        "a generator named twice": ["--detector", f"spectrum@{saved}", "--root", test, "--real",
                                    f"folder:{test}/noisy/0_real", "--fakes", f"noisy=folder:{test}/noisy/1_fake"],
        "a perturbation named twice": ["--detector", f"spectrum@{saved}", "--root", test, "--perturbation", "blur:1",
                                       "--perturbation", "blur:1"],
    }


@pytest.fixture(scope="module")
def broken(folders: Path, fitted: tuple[Path, dict, Path]) -> Path:
    bad = folders / "bad"
    save_pngs(bad / "no_fake" / "g" / "0_real", digits16(0, 2))
    (bad / "empty_real" / "g" / "0_real").mkdir(parents=True)
    save_pngs(bad / "empty_real" / "g" / "1_fake", digits16(0, 2))
    (bad / "bare").mkdir()
    (bad / "truncated.npz").write_bytes(fitted[0].read_bytes()[:300])
    np.savez(bad / "plain.npz", x=np.zeros(3))
    save_pngs(bad / "big_fake", noise(torch.zeros(12, 1, 20, 20, dtype=torch.uint8), 25.0, seed=3))
    return bad


@pytest.mark.parametrize("case", list(bad_inputs(Path("."), Path("."))))
def test_a_bad_input_is_one_line_and_exit_code_2(case: str, folders: Path, fitted: tuple[Path, dict, Path],
                                                 broken: Path) -> None:
    result = invoke(*bad_inputs(folders, fitted[0])[case])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, (case, result.output)
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, result.output)
    assert "Traceback" not in result.output
    assert not (folders / "never.npz").exists()


def test_a_detector_fitted_at_one_size_cannot_silently_score_another(folders: Path, fitted: tuple[Path, dict, Path],
                                                                      tmp_path: Path) -> None:
    save_pngs(tmp_path / "g" / "0_real", torch.zeros(2, 1, 20, 20, dtype=torch.uint8))
    save_pngs(tmp_path / "g" / "1_fake", torch.zeros(2, 1, 20, 20, dtype=torch.uint8))
    result = invoke("--detector", f"spectrum@{fitted[0]}", "--root", str(tmp_path), "--quiet")
    assert result.exit_code == 2 and "cannot score" in result.output and "Traceback" not in result.output



def test_a_set_that_cannot_be_scored_keeps_the_sets_scored_before_it(folders: Path, fitted: tuple[Path, dict, Path],
                                                                     tmp_path: Path) -> None:
    """``a`` (16x16, the fitted size) is scored and kept in the scores file, the table and the JSON;
    ``b`` (20x20) stops the command with one line naming both, exit code 2."""
    for name, side in (("a", 16), ("b", 20)):
        for label in ("0_real", "1_fake"):
            save_pngs(tmp_path / "root" / name / label, torch.full((3, 1, side, side), 9 * side, dtype=torch.uint8))
    scores = tmp_path / "kept.csv"
    args = ["--detector", f"spectrum@{fitted[0]}", "--root", str(tmp_path / "root"), "--scores", str(scores)]
    shown = invoke(*args)
    assert shown.exit_code == 2 and "Traceback" not in shown.output
    (line,) = [x for x in shown.stderr.splitlines() if x.startswith("error:")]
    assert "cannot score 1-channel 20x20" in line and line.endswith("(while scoring b; scored before it: a)")
    table_rows = [line.split("│")[2].strip() for line in shown.stdout.splitlines() if line.startswith("│ spectrum")]
    assert table_rows == ["a"]
    assert {row["generator"] for row in read_scores(scores)} == {"a"} and len(read_scores(scores)) == 6
    as_json = invoke(*args, "--json", "--quiet")
    assert as_json.exit_code == 2
    assert [row["generator"] for row in json.loads(as_json.stdout)["results"]] == ["a"]
    first = invoke("--detector", f"spectrum@{fitted[0]}", "--fakes", f"b=folder:{tmp_path / 'root' / 'b' / '1_fake'}",
                   "--real", f"folder:{tmp_path / 'root' / 'a' / '0_real'}", "--json", "--quiet")
    assert first.exit_code == 2 and first.stdout == "" and "scored before it" not in first.stderr


PLUGIN = '''
class Brightness:
    """Already fitted: scores mean brightness minus 100, a logit-like score."""

    needs_fit = False

    def fit(self, real, fake):
        raise AssertionError("a detector that needs no fit is never fitted")

    def score(self, images):
        return images.float().mean(dim=(1, 2, 3)).numpy() - 100.0
'''


def test_a_ready_plugin_from_an_import_path_scores_npz_sets_without_training(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ready_detectors.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    real, fake = digits16(0, 6), digits16(6, 4) // 2
    np.savez(tmp_path / "real.npz", x=real.numpy())
    np.savez(tmp_path / "fake.npz", images=fake.numpy())
    scores = tmp_path / "scores.csv"
    result = invoke("--detector", "ready_detectors:Brightness", "--real", f"npz:{tmp_path / 'real.npz'}",
                    "--fakes", f"dim=npz:{tmp_path / 'fake.npz'}", "--scores", str(scores), "--json", "--quiet")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["results"][0]
    brightness = torch.cat([real, fake]).float().mean(dim=(1, 2, 3)).numpy() - 100.0
    labels = np.r_[np.zeros(6), np.ones(4)]
    assert row["threshold"] == 0.0 and row["auc"] == pytest.approx(detection_metrics(labels, brightness, 0.0)["auc"])
    paths = [r["path"] for r in read_scores(scores)]
    assert paths[0] == f"{tmp_path / 'real.npz'}#0" and paths[-1] == f"{tmp_path / 'fake.npz'}#3"


def test_reals_and_fakes_draw_their_own_random_perturbations(tmp_path: Path, monkeypatch) -> None:
    """The same images as reals and as fakes get other noise draws, and a rerun the same ones."""
    (tmp_path / "ready_detectors.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "same.npz", x=digits16(0, 4).numpy())
    source = f"npz:{tmp_path / 'same.npz'}"

    def scores(name: str) -> list[float]:
        path = tmp_path / name
        result = invoke("--detector", "ready_detectors:Brightness", "--real", source, "--fakes", f"same={source}",
                        "--perturbation", "noise:20", "--scores", str(path), "--quiet")
        assert result.exit_code == 0, result.output
        return [float(r["score"]) for r in read_scores(path)]

    first = scores("first.csv")
    assert len(first) == 8 and all(first[i] != first[i + 4] for i in range(4))
    assert scores("again.csv") == first


def test_parquet_scores_need_pyarrow(folders: Path, fitted: tuple[Path, dict, Path], tmp_path: Path) -> None:
    result = invoke("--detector", f"spectrum@{fitted[0]}", "--root", str(folders / "test"), "--scores",
                    str(tmp_path / "s.parquet"), "--quiet")
    if importlib.util.find_spec("pyarrow") is None:
        assert result.exit_code == 2 and "pyarrow" in result.output and len(result.output.strip().splitlines()) == 1
        return
    import pandas as pd

    assert result.exit_code == 0 and len(pd.read_parquet(tmp_path / "s.parquet")) == 40


def test_the_printed_table_shows_each_bootstrapped_metric_with_its_interval(folders: Path,
                                                                            fitted: tuple[Path, dict, Path]) -> None:
    saved, document, _ = fitted
    assert document["protocol"]["bootstrap"].startswith("stratified")
    row = document["results"][0]
    assert row["auc_ci_low"] <= row["auc"] <= row["auc_ci_high"]
    result = invoke("--detector", f"spectrum@{saved}", "--root", str(folders / "test"))
    assert result.exit_code == 0, result.output
    printed = " ".join(result.stdout.split())
    assert f"[{row['auc_ci_low']:.4f}, {row['auc_ci_high']:.4f}]" in printed
    assert "[low, high]: stratified" in printed


def test_reals_and_fakes_of_other_sizes_are_warned_of_and_recorded() -> None:
    from ganbench.forensics import Detect
    from ganbench.outside_data import Images

    warnings: list[str] = []
    job = Detect.__new__(Detect)
    job.warn, job.sizes = warnings.append, {}
    real = Images([torch.zeros(1, 16, 16, dtype=torch.uint8)] * 3, ["r0", "r1", "r2"])
    fake = Images([torch.zeros(1, 32, 32, dtype=torch.uint8)] * 2, ["f0", "f1"])
    job.check_sizes("big", real, fake)
    assert warnings == ["warning: big: real images are 16x16 and fakes 32x32 px; a detector may tell them apart by "
                        "size alone (pass --size N to give both one size)"]
    assert job.sizes == {"big": {"real": ["16x16"], "fake": ["32x32"]}}
    job.check_sizes("same", real, real)
    assert len(warnings) == 1 and job.sizes["same"] == {"real": ["16x16"], "fake": ["16x16"]}


def test_test_images_that_are_training_images_are_counted_and_warned_of(folders: Path) -> None:
    leaked = invoke("--detector", "spectrum", "--train-real", f"folder:{folders / 'test' / 'noisy' / '0_real'}",
                    "--train-fakes", f"folder:{folders / 'train' / 'fake'}", "--root", str(folders / "test"),
                    "--json", "--quiet")
    assert leaked.exit_code == 0, leaked.output
    generators = json.loads(leaked.stdout)["protocol"]["generators"]
    assert generators["noisy"]["shared_with_training"] == 12 and generators["blurry"]["shared_with_training"] == 0
    assert "warning: noisy: 12 of its test images have the pixels of a training image" in leaked.stderr
    assert "blurry:" not in leaked.stderr
    clean = invoke("--detector", "spectrum", *train_args(folders), "--root", str(folders / "test"), "--json", "--quiet")
    assert clean.exit_code == 0 and "warning" not in clean.stderr
    assert json.loads(clean.stdout)["protocol"]["generators"]["noisy"]["shared_with_training"] == 0


def test_every_image_is_scored_in_its_own_place_across_sizes_and_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Images of two sizes, interleaved, scored in chunks of three: each score lands at its image's index."""
    from types import SimpleNamespace

    from ganbench import forensics
    from ganbench.outside_data import Images

    monkeypatch.setattr(forensics, "SCORE_CHUNK", 3)
    images = [torch.full((1, 8 if i % 3 else 12, 8), i, dtype=torch.uint8) for i in range(14)]

    class FirstPixel:
        def score(self, batch: torch.Tensor) -> np.ndarray:
            return batch[:, 0, 0, 0].double().numpy() + batch.shape[-2] / 100

    prepared = forensics.Prepared(SimpleNamespace(label="first-pixel"), FirstPixel(), 0.0, "given")
    scores = forensics.score_images(prepared, Images(images, [str(i) for i in range(14)]), "none", seed=0)
    assert scores.tolist() == pytest.approx([i + (0.08 if i % 3 else 0.12) for i in range(14)])


@pytest.mark.parametrize(("declared", "threshold"), [(True, 0.5), (False, 0.0), (None, 0.0)])
def test_an_unvalidated_threshold_is_half_for_probabilities_and_zero_for_logits(declared: bool | None,
                                                                                threshold: float) -> None:
    from types import SimpleNamespace

    from ganbench.forensics import default_threshold

    model = SimpleNamespace() if declared is None else SimpleNamespace(outputs_probability=declared)
    value, source = default_threshold(model)
    assert value == threshold and "no validation data" in source
    assert ("logits" in source) == (declared is None)


def test_training_images_are_matched_by_their_shape_and_pixels() -> None:
    """Equal images give one digest; images with the same bytes in another shape are other images."""
    from ganbench.forensics import pixel_digests

    square, wide = torch.zeros(1, 4, 4, dtype=torch.uint8), torch.zeros(1, 2, 8, dtype=torch.uint8)
    assert len(pixel_digests([square, square.clone()])) == 1
    assert len(pixel_digests([square, wide])) == 2
    assert pixel_digests([square]) != pixel_digests([square + 1])


def test_a_detector_without_a_seed_parameter_is_built_under_the_runs_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin that draws its weights from torch's global generator gets the same weights, and so the
    same scores, from the same ``--seed``, whatever was drawn before."""
    from types import SimpleNamespace

    from ganbench import forensics
    from ganbench.detectors.base import RunSettings

    class RandomWeights:
        def __init__(self) -> None:
            self.weight = torch.randn(())

        def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
            pass

        def score(self, images: torch.Tensor) -> np.ndarray:
            return (images.float().flatten(1).mean(1) * self.weight).numpy()

    choice = SimpleNamespace(spec=SimpleNamespace(cls=RandomWeights, name="random-weights", arguments={}))
    real = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1)
    weights = []
    for drawn_before in (1, 2):
        torch.manual_seed(drawn_before)
        weights.append(forensics.fit_detector(choice, RunSettings(seed=3), real, real + 50).model.weight.item())
    assert weights[0] == weights[1]
