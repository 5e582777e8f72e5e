"""Mistakes in the detection commands end with one line on stderr and exit code 2, before any
detector is fitted, losing nothing.

The plugin detectors below leave a marker file when they are fitted, so each case also shows that
it was refused before fitting; the run-folder cases keep an existing record byte-identical.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.detectors.base import (RUN_SETTING_NAMES, SETTING_NAMES, RunSettings, build_detector, check_arguments,
                                     missing_arguments)
from ganbench.detectors.perturbations import MAX_BLUR_SIGMA, check_perturbation, perturb, robustness_grid
from ganbench.detectors.plugins import DetectorSpec, check_detector_class, checked_scores, plugin_failure
from ganbench.errors import UserError
from ganbench.records import Record
from ganbench.store import RunStore

PLUGINS = "bad_detector_input_plugins"
MARKER = "fitted.marker"
PLUGIN_SOURCE = f'''
from pathlib import Path

import numpy as np


class Marks:
    """Fitting leaves {MARKER} in the current folder; scores are mean intensities."""

    outputs_probability = True

    def fit(self, real, fake):
        Path("{MARKER}").write_text("fitted")

    def score(self, images):
        return images.double().mean(dim=(1, 2, 3)).numpy() / 255

    def state(self):
        return {{"w": np.zeros(1)}}

    def load_state(self, state):
        pass


class NeedsArg(Marks):
    def __init__(self, required, seed=0):
        self.required = required


class NeedsTwo(Marks):
    def __init__(self, first, second, *, seed):
        pass


class NeedsExtractor(Marks):
    def __init__(self, extractor):
        pass


class Raises(Marks):
    def fit(self, real, fake):
        raise RuntimeError("boom in fit")


class RaisesDeeper(Marks):
    def fit(self, real, fake):
        self.check(real)

    def check(self, real):
        raise ValueError("boom in check")
'''
BLANK = torch.zeros(1, 1, 8, 8, dtype=torch.uint8)
RAISE_LINE = PLUGIN_SOURCE.splitlines().index('        raise RuntimeError("boom in fit")') + 1
DEEPER_LINE = PLUGIN_SOURCE.splitlines().index('        raise ValueError("boom in check")') + 1

TRAIN = ["--train-real", "folder:{tmp}/real", "--train-fakes", "folder:{tmp}/fake"]
TEST = ["--real", "folder:{tmp}/real", "--fakes", "g=folder:{tmp}/fake"]
MARKS = ["detect", "--detector", f"{PLUGINS}:Marks", *TEST, *TRAIN]

CASES: dict[str, list[str]] = {
    "detect a plugin missing a constructor argument": ["detect", "--detector", f"{PLUGINS}:NeedsArg", *TEST, *TRAIN],
    "detect a plugin missing two constructor arguments": ["detect", "--detector", f"{PLUGINS}:NeedsTwo", *TEST,
                                                          *TRAIN],
    "detect a plugin that needs a run's extractor": ["detect", "--detector", f"{PLUGINS}:NeedsExtractor", *TEST,
                                                     *TRAIN],
    "evaluate a plugin missing a constructor argument": ["eval-detector", f"{PLUGINS}:NeedsArg"],
    "run a plugin missing a constructor argument": ["run", "--detectors", f"{PLUGINS}:NeedsArg"],
    "save the detector onto a folder": [*MARKS, "--save-detector", "{tmp}/taken"],
    "save the detector inside a file": [*MARKS, "--save-detector", "{tmp}/plain_file/detector.npz"],
    "save the detector into a read-only folder": [*MARKS, "--save-detector", "{tmp}/read_only/detector.npz"],
    "scores onto a folder": [*MARKS, "--scores", "{tmp}/taken.csv"],
    "scores inside a file": [*MARKS, "--scores", "{tmp}/plain_file/scores.csv"],
    "scores and the detector in one file": [*MARKS, "--scores", "{tmp}/both.csv", "--save-detector",
                                            "{tmp}/both.csv"],
    "reals from a corrupt npz": ["detect", "--detector", f"{PLUGINS}:Marks", "--real", "npz:{tmp}/corrupt.npz",
                                 "--fakes", "g=folder:{tmp}/fake", *TRAIN],
    "fakes from a corrupt npz": ["detect", "--detector", f"{PLUGINS}:Marks", "--real", "folder:{tmp}/real",
                                 "--fakes", "g=npz:{tmp}/corrupt.npz", *TRAIN],
    "fakes from an npz of float images": ["detect", "--detector", f"{PLUGINS}:Marks", "--real", "folder:{tmp}/real",
                                          "--fakes", "g=npz:{tmp}/floats.npz", *TRAIN],
    "fakes from an npz that is a folder": ["detect", "--detector", f"{PLUGINS}:Marks", "--real", "folder:{tmp}/real",
                                           "--fakes", "g=npz:{tmp}/taken", *TRAIN],
    "reals with a corrupt image": ["detect", "--detector", f"{PLUGINS}:Marks", "--real", "folder:{tmp}/broken",
                                   "--fakes", "g=folder:{tmp}/fake", *TRAIN],
    "a layout with a corrupt image": ["detect", "--detector", f"{PLUGINS}:Marks", "--root", "{tmp}/layout", *TRAIN],
    "a layout root that is a file": ["detect", "--detector", f"{PLUGINS}:Marks", "--root", "{tmp}/image.png", *TRAIN],
    "reals from a folder that is a file": ["detect", "--detector", f"{PLUGINS}:Marks", "--real",
                                           "folder:{tmp}/image.png", "--fakes", "g=folder:{tmp}/fake", *TRAIN],
    "negative noise": [*MARKS, "--perturbation", "noise:-1"],
    "noise beyond the intensity scale": [*MARKS, "--perturbation", "noise:300"],
    "JPEG quality of zero": [*MARKS, "--perturbation", "jpeg:0"],
    "fractional JPEG quality": [*MARKS, "--perturbation", "jpeg:70.5"],
    "negative blur": [*MARKS, "--perturbation", "blur:-1@256px"],
    "infinite blur": [*MARKS, "--perturbation", "blur:inf"],
    "resize by zero": [*MARKS, "--perturbation", "resize:0"],
    "resize up": [*MARKS, "--perturbation", "resize:2"],
}

MESSAGES = {
    "detect a plugin missing a constructor argument": "required",
    "detect a plugin missing two constructor arguments": "first, second",
    "detect a plugin that needs a run's extractor": "extractor",
    "evaluate a plugin missing a constructor argument": "required",
    "run a plugin missing a constructor argument": "required",
    "save the detector onto a folder": "is a folder",
    "save the detector inside a file": "is a file, not a folder",
    "scores onto a folder": "is a folder",
    "scores inside a file": "is a file, not a folder",
    "reals from a corrupt npz": "corrupt.npz",
    "reals with a corrupt image": "bad.png",
    "a layout with a corrupt image": "bad.png",
    "a layout root that is a file": "is a file, not a folder",
    "reals from a folder that is a file": "is a file, not a folder",
    "negative noise": "0 (no noise) to 255",
    "JPEG quality of zero": "1 to 100",
    "fractional JPEG quality": "whole number",
    "negative blur": "0 (no blur) to 256",
    "resize by zero": "(0, 1]",
}


def _images(folder: Path, n: int, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bad_detector_inputs")
    rng = np.random.default_rng(0)
    for name in ("real", "fake", "broken", "layout/g/0_real", "layout/g/1_fake"):
        _images(tmp / name, 10, rng)
    for folder in ("broken", "layout/g/1_fake"):
        (tmp / folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    (tmp / "image.png").write_bytes((tmp / "real" / "0.png").read_bytes())
    (tmp / "corrupt.npz").write_bytes(b"PK\x03\x04garbage")
    np.savez(tmp / "floats.npz", x=rng.random((10, 8, 8)))
    (tmp / "plain_file").write_bytes(b"")
    for folder in ("taken", "taken.csv", "read_only"):
        (tmp / folder).mkdir()
    (tmp / "read_only").chmod(0o555)
    (tmp / f"{PLUGINS}.py").write_text(PLUGIN_SOURCE)
    return tmp


@pytest.fixture()
def plugins(inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plugin module importable, and a fresh current folder for the fitting marker."""
    monkeypatch.syspath_prepend(str(inputs))
    monkeypatch.chdir(tmp_path)
    return inputs


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "records").glob("*"))}


def invoke(args: list[str], tmp: Path) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, [a.format(tmp=tmp) for a in args])
    assert not isinstance(result.exception, (AssertionError, TypeError, NameError)), result.output
    return result.exit_code, result.output.strip().splitlines(), result.output


@pytest.mark.parametrize("case", list(CASES))
def test_a_detection_mistake_is_one_line_before_any_fitting(case: str, plugins: Path, tmp_path: Path) -> None:
    if case == "save the detector into a read-only folder" and os.access(plugins / "read_only", os.W_OK):
        pytest.skip("this user can write into a read-only folder (root)")
    out = tmp_path / "run"
    RunStore(out).write_record(Record(kind="train", key="abc", dataset="digits", preset="smoke", seed=0,
                                      generator="dcgan"), "dcgan")
    before = snapshot(out)
    args = list(CASES[case])
    if args[0] in ("run", "eval-detector"):
        args += ["--out", str(out), "--preset", "smoke"]
    code, lines, output = invoke(args, plugins)
    assert code == 2, (case, output)
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, output)
    assert "Traceback" not in output
    assert MESSAGES.get(case, "") in lines[0], (case, lines[0])
    assert not (tmp_path / MARKER).exists(), f"{case}: the detector was fitted before the refusal"
    assert snapshot(out) == before
    assert not (plugins / "both.csv").exists() and not any((plugins / "taken").iterdir())


def test_run_refuses_a_plugins_missing_constructor_argument_before_reading_the_data(
        plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The constructor check of `run --detectors` comes before the data set is loaded (a large folder
    can take minutes to read), not after."""
    import ganbench.context

    def no_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data were loaded before the refusal")

    monkeypatch.setattr(ganbench.context, "run_data", no_data)
    code, lines, output = invoke(["run", "--detectors", f"{PLUGINS}:NeedsArg", "--out", str(tmp_path / "run"),
                                  "--preset", "smoke"], plugins)
    assert code == 2 and len(lines) == 1 and "required" in lines[0], output


def test_the_cases_reach_their_checks_with_good_options(plugins: Path, tmp_path: Path) -> None:
    """The same options without the mistake fit and score: each case fails for its own reason."""
    saved = tmp_path / "needs.npz"
    code, lines, output = invoke(["detect", "--detector", f"{PLUGINS}:NeedsArg", "--detector-arg", "required=3",
                                  *TEST, *TRAIN, "--save-detector", str(saved), "--scores", str(tmp_path / "s.csv"),
                                  "--perturbation", "noise:0", "--perturbation", "jpeg:100", "--quiet"], plugins)
    assert code == 0, output
    assert (tmp_path / MARKER).exists() and saved.is_file() and (tmp_path / "s.csv").is_file()
    (tmp_path / MARKER).unlink()
    code, _, output = invoke(["detect", "--detector", f"{PLUGINS}:NeedsArg@{saved}", *TEST, "--quiet"], plugins)
    assert code == 0, output  # a saved detector's file holds its constructor arguments
    assert not (tmp_path / MARKER).exists()


def test_a_plugin_whose_fit_raises_is_one_line_naming_it_and_where(plugins: Path) -> None:
    code, lines, output = invoke(["detect", "--detector", f"{PLUGINS}:Raises", *TEST, *TRAIN, "--quiet"], plugins)
    assert code == 2 and len(lines) == 1 and "Traceback" not in output, output
    where = f"{plugins / PLUGINS}.py:{RAISE_LINE}"
    for part in ("error: detector Raises", "RuntimeError: boom in fit", where, "fit()"):
        assert part in lines[0], (part, lines[0])
    code, lines, output = invoke(["detect", "--detector", f"{PLUGINS}:Raises", *TEST, *TRAIN], plugins)
    assert code == 2 and lines[-1].startswith("error: ") and "Traceback" not in output
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:]


def test_debug_shows_the_plugins_traceback(plugins: Path) -> None:
    code, lines, output = invoke(["--debug", "detect", "--detector", f"{PLUGINS}:Raises", *TEST, *TRAIN, "--quiet"],
                                 plugins)
    assert code == 2 and "Traceback" in output and 'raise RuntimeError("boom in fit")' in output
    assert lines[-1].startswith("error: detector Raises")


def test_an_exception_outside_plugin_code_is_not_blamed_on_a_plugin(plugins: Path) -> None:
    module = __import__(PLUGINS)
    spec = DetectorSpec("Raises", module.Raises, f"import:{PLUGINS}:Raises")
    try:
        raise RuntimeError("a bug of ours")
    except RuntimeError as exc:
        assert plugin_failure(exc, [spec]) is None
    try:
        module.Raises().fit(None, None)
    except RuntimeError as exc:
        failure = plugin_failure(exc, [spec])
        assert failure is not None and f"{PLUGINS}.py:{RAISE_LINE}" in str(failure)
        assert plugin_failure(exc, [DetectorSpec("Raises", module.Raises, "builtin")]) is None


def test_a_plugin_failure_names_the_innermost_plugin_line_also_for_entry_points(plugins: Path) -> None:
    """The line that raised, not the call into it; a detector loaded from an entry point is the user's too."""
    module = __import__(PLUGINS)
    try:
        module.RaisesDeeper().fit(None, None)
    except ValueError as exc:
        for source in (f"import:{PLUGINS}:RaisesDeeper", f"entry-point:{PLUGINS}:RaisesDeeper"):
            failure = plugin_failure(exc, [DetectorSpec("RaisesDeeper", module.RaisesDeeper, source)])
            assert failure is not None and f"{PLUGINS}.py:{DEEPER_LINE} in check()" in str(failure)


def test_scores_must_be_one_finite_float_per_image() -> None:
    """``score()`` output becomes float64 of shape (n,); a column, a wrong count, text or NaN is refused."""
    scores = checked_scores("d", torch.tensor([0.25, 1.0, -2.0], dtype=torch.float32), 3)
    assert scores.dtype == np.float64 and scores.tolist() == [0.25, 1.0, -2.0]
    assert checked_scores("d", [1, 2], 2).tolist() == [1.0, 2.0]
    for bad, message in ((np.zeros((3, 1)), r"shape \(3, 1\) for 3 images"), (np.zeros(4), r"shape \(4,\)"),
                         (["a", "b", "c"], "not an array of floats"), (np.array([0.0, np.inf, 1.0]), "1 NaN")):
        with pytest.raises(UserError, match=message):
            checked_scores("d", bad, 3)


def test_a_detector_class_needs_both_fit_and_score() -> None:
    class ScoreOnly:
        def score(self, images): ...

    class FitOnly:
        def fit(self, real, fake): ...

    with pytest.raises(UserError, match=r"lacks fit\(\)"):
        check_detector_class(ScoreOnly, "m:ScoreOnly")
    with pytest.raises(UserError, match=r"lacks score\(\)"):
        check_detector_class(FitOnly, "m:FitOnly")
    with pytest.raises(UserError, match="not a class"):
        check_detector_class(FitOnly(), "m:instance")


def test_an_argument_the_constructor_does_not_take_is_refused() -> None:
    """Without an ``__init__`` of its own a class takes no argument; with ``**kwargs`` it takes any."""
    class NoInit:
        def fit(self, real, fake): ...
        def score(self, images): ...

    class Named(NoInit):
        def __init__(self, depth: int = 1) -> None:
            self.depth = depth

    class Open(NoInit):
        def __init__(self, **options: object) -> None:
            self.options = options

    for cls in (NoInit, Named):
        with pytest.raises(UserError, match="does not accept the argument.* width"):
            check_arguments(cls, (("width", 2),))
    assert check_arguments(Named, (("depth", 3),)) == {"depth": 3}
    assert check_arguments(Open, (("width", 2),)) == {"width": 2}


def test_a_value_the_constructor_refuses_is_one_line_naming_the_argument() -> None:
    """A constructor that raises ValueError or TypeError on a --detector-arg value is a UserError naming it."""
    class Picky:
        def __init__(self, depth: int = 1) -> None:
            if depth < 1:
                raise ValueError("depth must be positive")
            if not isinstance(depth, int):
                raise TypeError("depth must be an int")

    for value in (0, 1.5):
        with pytest.raises(UserError, match="bad value among depth"):
            build_detector(Picky, RunSettings(), (("depth", value),))


def test_missing_constructor_arguments_are_named() -> None:
    class Mixed:
        def __init__(self, a: int, /, b: int, *args: int, c: int, d: int = 1, seed: int = 0, **kw: int) -> None:
            pass

    class Plain:
        def fit(self) -> None:
            pass

    assert missing_arguments(Mixed, ["a", "b", "c"]) == ["a"]
    assert missing_arguments(Mixed, []) == ["a", "b", "c"]
    assert missing_arguments(Plain, []) == []
    with pytest.raises(UserError, match="needs a value for constructor parameter.* extractor"):
        check_arguments(type("WantsExtractor", (), {"__init__": lambda self, extractor: None}), (), SETTING_NAMES)
    check_arguments(type("WantsExtractor", (), {"__init__": lambda self, extractor: None}), (), RUN_SETTING_NAMES)
    check_arguments(type("WantsSeed", (), {"__init__": lambda self, seed, x: None}), (("x", 1),), SETTING_NAMES)
    check_arguments(type("Lenient", (), {"__init__": lambda self, x: None}), ())  # no settings: no missing check


@pytest.mark.parametrize("spec", ["none", "jpeg:1", "jpeg:100", "jpeg:70.0", "blur:0", "blur:0@256px",
                                  f"blur:{MAX_BLUR_SIGMA:g}", "blur:2.5", "resize:1", "resize:0.01", "noise:0",
                                  "noise:255", "noise:7.5", *robustness_grid()])
def test_perturbation_strengths_in_range_are_accepted(spec: str) -> None:
    check_perturbation(spec)


@pytest.mark.parametrize(("spec", "message"), [
    ("jpeg:0", "1 to 100"), ("jpeg:101", "1 to 100"), ("jpeg:70.5", "whole number"), ("jpeg:nan", "1 to 100"),
    ("jpeg:inf", "1 to 100"), ("jpeg:-5", "1 to 100"),
    ("blur:-1", "0 .no blur. to 256"), ("blur:-0.5@256px", "0 .no blur. to 256"), ("blur:nan", "to 256"),
    ("blur:inf", "to 256"), ("blur:1000", "to 256"),
    ("resize:0", r"\(0, 1\]"), ("resize:-0.5", r"\(0, 1\]"), ("resize:1.5", r"\(0, 1\]"), ("resize:nan", r"\(0, 1\]"),
    ("noise:-1", "0 .no noise. to 255"), ("noise:nan", "to 255"), ("noise:inf", "to 255"), ("noise:256", "to 255"),
    ("sharpen:2", "unknown perturbation"), ("noise:lots", "bad perturbation"),
])
def test_perturbation_strengths_out_of_range_are_refused(spec: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        check_perturbation(spec)
    with pytest.raises(UserError, match=message):
        perturb(BLANK, spec)


def test_a_valid_strength_is_applied_as_given() -> None:
    for spec in ("jpeg:70.0", "blur:3", "resize:0.5", "noise:255"):
        assert perturb(BLANK, spec).shape == BLANK.shape
    assert check_perturbation("jpeg:70.0") == ("jpeg", 70.0)
    assert math.isclose(check_perturbation("noise:7.5")[1], 7.5)
