"""A detector written outside the project, evaluated like the built-ins; protocols; bad plugins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganbench.detectors.evaluate import validation_split, validation_threshold
from ganbench.detectors.plugins import DetectorSpec, resolve_detector
from ganbench.detectors.protocols import detection_plan
from ganbench.cli import app
from ganbench.errors import UserError
from ganbench.presets import get_preset
from ganbench.runtime import derive_seed
from ganbench.context import RunConfig
from ganbench.runner import SuiteRunner

PLUGIN = '''
import numpy as np
from pathlib import Path


class Brightness:
    """Scores by mean brightness, signed on the training data; logs every fit."""

    name = "brightness"

    def fit(self, real, fake):
        with open(Path.cwd() / "fits.log", "a") as log:
            log.write("fit\\n")
        self.sign = 1.0 if fake.float().mean() >= real.float().mean() else -1.0

    def score(self, images):
        return self.sign * images.float().mean(dim=(1, 2, 3)).numpy()


class WrongShape(Brightness):
    def score(self, images):
        return np.zeros((len(images), 2))


class Nan(Brightness):
    def score(self, images):
        return np.full(len(images), np.nan)


class NoScore:
    def fit(self, real, fake):
        pass


class FromCheckpoint(Brightness):
    """Brightness plus an offset read from a checkpoint file named by a constructor default."""

    name = "from-checkpoint"

    def __init__(self, checkpoint="offset.txt"):
        self.offset = float(Path(checkpoint).read_text())

    def score(self, images):
        return super().score(images) + self.offset
'''


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    (root / "ext_detectors.py").write_text(PLUGIN)
    (root / "broken_detectors.py").write_text("raise RuntimeError('plugin import exploded')\n")
    rng = np.random.default_rng(0)
    np.savez(root / "outside.npz", x=rng.integers(0, 256, (48, 20, 20, 3), dtype=np.uint8))
    return root


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]


@pytest.fixture(scope="module")
def evaluated(workspace: Path) -> tuple[Path, list[str]]:
    out = workspace / "run"
    args = ["eval-detector", "ext_detectors:Brightness", "--suite", "dcgan", "--preset", "smoke", "--out", str(out),
            "--fakes", f"outside=npz:{workspace / 'outside.npz'}", "-q"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(workspace)
        first = CliRunner().invoke(app, args)
        fits_after_first = (workspace / "fits.log").read_text().count("fit")
        second = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert (workspace / "fits.log").read_text().count("fit") == fits_after_first
    return out, [first.output, second.output]


def test_plugin_outside_the_project_gets_records_like_a_builtin(evaluated) -> None:
    out, _ = evaluated
    rows = [r for r in records(out) if r.get("detector") == "brightness"]
    detection = [r for r in rows if r["kind"] == "detection"]
    by_protocol = {}
    for r in detection:
        by_protocol.setdefault(r["protocol"]["name"], []).append(r)
    assert {r["generator"] for r in by_protocol["in-distribution"]} == {"dcgan"}
    assert {r["generator"] for r in by_protocol["cross-generator"]} == {"outside"}
    assert all(r["protocol"]["external_preparation"] == {"source_sizes": ["20x20"], "resized_to": 8,
                                                          "channels": "rgb->grey"}
               for r in by_protocol["cross-generator"])
    assert all("external_preparation" not in r["protocol"] for r in by_protocol["in-distribution"])
    assert len(by_protocol["robustness"]) == 17
    assert all(r["status"] == "ok" and r["protocol"]["source"] == "import:ext_detectors:Brightness" for r in rows)
    assert {"auc", "ap", "acc", "real_acc", "fake_acc", "balanced_acc", "eer", "tpr_at_1fpr"} <= set(
        detection[0]["metrics"])
    assert len({r["info"]["threshold"] for r in detection}) == 1
    null = [r for r in rows if r["kind"] == "null_check"]
    assert len(null) == 1 and null[0]["generator"] == "real"
    assert null[0]["metrics"]["auc_ci_low"] <= null[0]["metrics"]["auc"] <= null[0]["metrics"]["auc_ci_high"]


def test_a_swapped_checkpoint_recomputes_the_detector_units(evaluated, workspace, monkeypatch) -> None:
    out, _ = evaluated
    monkeypatch.chdir(workspace)
    args = ["eval-detector", "ext_detectors:FromCheckpoint", "--suite", "dcgan", "--preset", "smoke",
            "--out", str(out), "-q"]

    def weights_and_fits() -> tuple[set[str], int]:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        rows = [r for r in records(out) if r.get("detector") == "from-checkpoint" and r["kind"] == "detection"]
        return {json.dumps(r["protocol"]["detector"]["weights"]) for r in rows}, (workspace / "fits.log").read_text().count("fit")

    (workspace / "offset.txt").write_text("0.0")
    first, fits = weights_and_fits()
    assert weights_and_fits() == (first, fits)
    (workspace / "offset.txt").write_text("1.0")
    second, refits = weights_and_fits()
    assert len(first) == 1 and len(second) == 2 and refits > fits
    (workspace / "other.txt").write_text("2.0")
    args += ["--detector-arg", "checkpoint=other.txt"]
    third, fits_with_argument = weights_and_fits()
    assert len(third) == 3 and fits_with_argument > refits
    rows = [r for r in records(out) if r.get("detector") == "from-checkpoint" and r["kind"] == "detection"]
    assert {"checkpoint": "other.txt"} in [r["protocol"]["detector"]["arguments"] for r in rows]


@pytest.mark.parametrize("spec, message", [
    ("missing_module_xyz:Det", "cannot import detector module"),
    ("broken_detectors:Det", "plugin import exploded"),
    ("ext_detectors:Absent", "has no attribute"),
    ("ext_detectors:NoScore", "lacks score()"),
    ("no-colon-no-entry-point", "unknown detector"),
])
def test_unloadable_plugins_end_with_one_line(workspace, monkeypatch, spec, message) -> None:
    monkeypatch.chdir(workspace)
    result = CliRunner().invoke(app, ["eval-detector", spec, "--preset", "smoke", "--out", str(workspace / "bad")])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("spec, message", [("ext_detectors:WrongShape", ", 2) for"),
                                           ("ext_detectors:Nan", "NaN")])
def test_bad_scores_end_with_one_line_and_keep_finished_units(evaluated, workspace, monkeypatch, spec, message) -> None:
    out, _ = evaluated
    before = {p.name: p.read_bytes() for p in (out / "records").glob("*.json")}
    monkeypatch.chdir(workspace)
    result = CliRunner().invoke(app, ["eval-detector", spec, "--suite", "dcgan", "--preset", "smoke", "--out", str(out),
                                      "-q"])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in (out / "records").glob("*.json")} == before


class Recorder:
    """Scores by brightness; remembers the images it was fitted and scored on."""

    def __init__(self) -> None:
        self.fitted: list[torch.Tensor] = []
        self.scored: list[torch.Tensor] = []

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        self.fitted += [real, fake]

    def score(self, images: torch.Tensor) -> np.ndarray:
        self.scored.append(images)
        return images.double().mean(dim=(1, 2, 3)).numpy()


def test_threshold_comes_from_validation_data_only(digits, tmp_path) -> None:
    runner = SuiteRunner(RunConfig(suite="dcgan", preset=get_preset("smoke"), out=tmp_path, quiet=True))
    real = digits.x_train[:100]
    fake = torch.flip(digits.x_train[100:200], dims=(3,)) // 2
    state = runner.detection.fit_detector(DetectorSpec("recorder", Recorder, "import:test"), "dcgan", real, fake)
    model = state["model"]
    val_real, val_fake = model.scored
    seed = derive_seed(0, "validation", "recorder", "dcgan")
    (fit_r, val_r), (fit_f, val_f) = (validation_split(100, derive_seed(seed, side)) for side in ("real", "fake"))
    assert sorted([*fit_r.tolist(), *val_r.tolist()]) == list(range(100)) and len(val_r) == 20
    assert torch.equal(val_real, real[val_r]) and torch.equal(val_fake, fake[val_f])
    assert torch.equal(model.fitted[0], real[fit_r]) and torch.equal(model.fitted[1], fake[fit_f])
    scores = np.r_[model.score(val_real), model.score(val_fake)]
    assert state["threshold"] == validation_threshold(np.r_[np.zeros(20), np.ones(20)], scores)


def test_null_check_is_near_chance_for_real_vs_real(tmp_path) -> None:
    runner = SuiteRunner(RunConfig(suite="dcgan", preset=get_preset("smoke"), out=tmp_path, quiet=True))
    record = runner.detection.null_check(resolve_detector("spectrum"))
    m = record.metrics
    assert record.kind == "null_check" and record.generator == record.train_generator == "real"
    assert 0.35 < m["auc"] < 0.65 and m["auc_ci_low"] < 0.5 < m["auc_ci_high"] and m["null_pass"] == 1
    assert record.protocol["n_real"] == record.protocol["n_fake"] > 100


def test_protocol_plan_covers_matrix_train_on_all_and_leave_one_out() -> None:
    plan = detection_plan(["a", "b", "c"], ["ext"])
    labels = [t.label for t in plan]
    assert labels == ["a", "b", "c", "all", "all-but:a", "all-but:b", "all-but:c"]
    a = plan[0]
    assert [(u.test, u.protocol) for u in a.units if u.perturbation == "none"] == [
        ("a", "in-distribution"), ("b", "cross-generator"), ("c", "cross-generator"), ("ext", "cross-generator")]
    assert {u.test for u in a.units if u.protocol == "robustness"} == {"a"}
    assert plan[4].generators == ("b", "c") and [u.test for u in plan[4].units] == ["a"]
    assert [t.label for t in detection_plan(["a"])] == ["a"]


def test_compact_plan_trains_on_the_first_generator_and_on_all() -> None:
    plan = detection_plan(["a", "b", "c"], ["ext"], plan="compact")
    assert [t.label for t in plan] == ["a", "all"]
    assert [(u.test, u.protocol) for u in plan[0].units if u.perturbation == "none"] == [
        ("a", "in-distribution"), ("b", "cross-generator"), ("c", "cross-generator"), ("ext", "cross-generator")]
    assert {u.test for u in plan[0].units if u.protocol == "robustness"} == {"a"}
    assert plan[1].generators == ("a", "b", "c") and [u.test for u in plan[1].units] == ["a", "b", "c", "ext"]


def test_entry_point_detectors_load_by_name(workspace, monkeypatch) -> None:
    dist = workspace / "site" / "extdet-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extdet\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ganbench.detectors]\nbright = ext_detectors:Brightness\n")
    monkeypatch.syspath_prepend(str(workspace / "site"))
    monkeypatch.syspath_prepend(str(workspace))
    spec = resolve_detector("bright")
    assert spec.name == "bright" and spec.cls.__name__ == "Brightness" and spec.source.startswith("entry-point:")


def test_bad_fakes_option_is_a_user_error(tmp_path) -> None:
    runner = CliRunner()
    for option in ("nonsense", "x=zip:/a", "all=npz:/a", f"x=folder:{tmp_path / 'none'}"):
        result = runner.invoke(app, ["run", "--preset", "smoke", "--out", str(tmp_path / "o"), "--fakes", option])
        assert result.exit_code == 2 and result.stderr.startswith("error:")
    with pytest.raises(UserError):
        resolve_detector("module:")


def test_outside_fakes_say_how_they_were_brought_to_the_runs_images(workspace: Path) -> None:
    from ganbench.detectors.external import load_external
    from ganbench.leaderboards.protocols import describe

    resized = load_external(f"outside=npz:{workspace / 'outside.npz'}", 8, 1)
    assert resized.images.shape[1:] == (1, 8, 8)
    assert "resized from 20x20 to 8 px and converted rgb->grey" in resized.warning()
    assert "external fakes resized from 20x20 to 8 px and converted rgb->grey, the reals not" in describe(
        {"n_fake": 48, "fakes": "external", "external_preparation": resized.preparation})
    native = load_external(f"outside=npz:{workspace / 'outside.npz'}", 20, 3)
    assert native.warning() is None and native.preparation == {"source_sizes": ["20x20"]}


def test_outside_fakes_are_every_image_given_in_the_runs_channels(tmp_path: Path) -> None:
    """An outside set is all its images (a folder's both splits, an npz's train and test arrays),
    RGB meets a grey run as BT.601 luminance, and a reserved or repeated name is refused."""
    from PIL import Image

    from ganbench.detectors.external import check_fakes_options, load_external, match_channels

    primaries = torch.zeros(3, 3, 1, 1, dtype=torch.uint8)
    for i in range(3):
        primaries[i, i] = 255
    assert match_channels(primaries, 1).flatten().tolist() == [76, 150, 29]
    folder = tmp_path / "outside"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    assert len(load_external(f"mine=folder:{folder}", 8, 1).images) == 10
    np.savez(tmp_path / "outside.npz", x_train=rng.integers(0, 256, (6, 8, 8), dtype=np.uint8),
             x_test=rng.integers(0, 256, (4, 8, 8), dtype=np.uint8))
    assert len(load_external(f"mine=npz:{tmp_path / 'outside.npz'}", 8, 1).images) == 10
    with pytest.raises(UserError, match="not a usable name"):
        check_fakes_options([f"all=folder:{folder}"])
    with pytest.raises(UserError, match="given twice"):
        check_fakes_options([f"mine=folder:{folder}", f"mine=npz:{tmp_path / 'outside.npz'}"])
