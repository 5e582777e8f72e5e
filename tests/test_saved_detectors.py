"""Fitted detectors saved without pickle and loaded back: the same scores, or one clear error."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from ganbench.detectors import RunSettings, build_detector
from ganbench.detectors.cnn import TimmDetector
from ganbench.detectors.perturbations import noise
from ganbench.detectors.plugins import DetectorSpec, resolve_detector
from ganbench.detectors.probe import ProbeDetector
from ganbench.detectors.saved import load_fitted, read_saved, save_fitted
from ganbench.errors import UserError




def digits16(start: int, n: int) -> torch.Tensor:
    images = np.round(load_digits().images[start : start + n] * 255 / 16).astype(np.uint8)
    return torch.from_numpy(np.kron(images, np.ones((2, 2), dtype=np.uint8)))[:, None]


class TinyTimm(TimmDetector):
    """The timm detectors' save path on timm's smallest test ResNet."""

    name = "tiny-timm"
    model_name = "test_resnet"


@pytest.fixture(scope="module")
def training() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return digits16(0, 24), noise(digits16(24, 24), 25.0, seed=1), noise(digits16(100, 12), 10.0, seed=2)


def fitted(spec: DetectorSpec, real: torch.Tensor, fake: torch.Tensor) -> object:
    torch.manual_seed(0)
    model = build_detector(spec.cls, RunSettings(epochs=1), spec.arguments)
    model.fit(real, fake)
    return model


@pytest.mark.parametrize("name", ["spectrum", "dct", "small-cnn", "npr"])
def test_a_saved_builtin_scores_exactly_like_the_fitted_one(name: str, training: tuple, tmp_path: Path) -> None:
    real, fake, test = training
    spec = resolve_detector(name)
    model = fitted(spec, real, fake)
    save_fitted(model, tmp_path / "d.npz", spec, threshold=0.25, threshold_source="validation")
    loaded = load_fitted(tmp_path / "d.npz")
    assert type(loaded.detector) is spec.cls and loaded.threshold == 0.25
    assert np.array_equal(loaded.detector.score(test), model.score(test))
    fresh = fitted(spec, fake, real)
    assert not np.allclose(fresh.score(test), model.score(test))


def test_arguments_given_with_a_saved_detector_override_the_saved_ones(training: tuple, tmp_path: Path) -> None:
    real, fake, test = training
    saved_spec = dataclasses.replace(resolve_detector("small-cnn"), arguments=(("augment", False),))
    model = fitted(saved_spec, real, fake)
    save_fitted(model, tmp_path / "d.npz", saved_spec)
    assert load_fitted(tmp_path / "d.npz").detector.config.augment is None
    users = dataclasses.replace(saved_spec, arguments=(("augment", True),))
    loaded = load_fitted(tmp_path / "d.npz", users).detector
    assert loaded.config.augment is not None
    assert np.array_equal(loaded.score(test), model.score(test))


def test_a_timm_detector_keeps_its_network_and_input_normalization(training: tuple, tmp_path: Path) -> None:
    real, fake, test = training
    spec = DetectorSpec("tiny-timm", TinyTimm, "import:tests:TinyTimm", (("weights", "scratch"),))
    model = fitted(spec, real, fake)
    model.mean, model.std = torch.full((1, 1, 1, 1), 0.3), torch.full((1, 1, 1, 1), 0.2)
    save_fitted(model, tmp_path / "t.npz", spec)
    loaded = load_fitted(tmp_path / "t.npz", spec).detector
    assert torch.equal(loaded.mean, model.mean) and torch.equal(loaded.std, model.std)
    assert np.array_equal(loaded.score(test), model.score(test))
    with pytest.raises(UserError, match="name that detector"):
        load_fitted(tmp_path / "t.npz")


def test_the_file_is_plain_arrays_with_a_json_header(training: tuple, tmp_path: Path) -> None:
    real, fake, _ = training
    spec = resolve_detector("spectrum")
    save_fitted(fitted(spec, real, fake), tmp_path / "s.npz", spec, threshold=0.5, training={"n_real": 24})
    with np.load(tmp_path / "s.npz", allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes())
        assert all(archive[k].dtype != object for k in archive.files)
    assert header["format"] == "ganbench-detector" and header["version"] == 1
    assert (header["detector"], header["source"], header["class"]) == (
        "spectrum", "builtin", "ganbench.detectors.spectrum.SpectrumDetector")
    assert header["training"] == {"n_real": 24} and header["outputs_probability"] is True
    _, state = read_saved(tmp_path / "s.npz")
    assert state["logistic.coef"].shape == (1, state["scaler.mean"].shape[0])


def test_damaged_or_foreign_files_are_one_line(training: tuple, tmp_path: Path) -> None:
    real, fake, _ = training
    spec = resolve_detector("spectrum")
    good = tmp_path / "good.npz"
    save_fitted(fitted(spec, real, fake), good, spec)
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    header, state = read_saved(good)
    state["logistic.coef"] = np.zeros((1, 3))
    np.savez(tmp_path / "reshaped.npz", header=np.frombuffer(json.dumps(header).encode(), np.uint8),
             **{f"state/{k}": v for k, v in state.items()})
    np.savez(tmp_path / "foreign.npz", header=np.frombuffer(b'{"format": "other"}', np.uint8))
    for name, message in (("cut", "damaged"), ("reshaped", "does not fit"), ("foreign", "not a saved"),
                          ("missing", "no such")):
        with pytest.raises(UserError, match=message):
            load_fitted(tmp_path / f"{name}.npz")
    with pytest.raises(UserError, match="holds detector 'spectrum'"):
        load_fitted(good, resolve_detector("dct"))


def rewritten(source: Path, target: Path, header_changes: dict | None = None, state_changes: dict | None = None,
              dropped: tuple[str, ...] = ()) -> Path:
    """A copy of a saved detector file with header entries and state arrays changed or dropped."""
    header, state = read_saved(source)
    header = {**header, **(header_changes or {})}
    state = {k: np.asarray(v) for k, v in {**state, **(state_changes or {})}.items() if k not in dropped}
    np.savez(target, header=np.frombuffer(json.dumps(header).encode(), np.uint8),
             **{f"state/{k}": v for k, v in state.items()})
    return target


def test_a_timm_file_with_impossible_input_normalization_is_refused(training: tuple, tmp_path: Path) -> None:
    """A grey network's file must hold one positive std and one mean per channel; anything else is one line."""
    real, fake, _ = training
    spec = DetectorSpec("tiny-timm", TinyTimm, "import:tests:TinyTimm", (("weights", "scratch"),))
    good = tmp_path / "t.npz"
    save_fitted(fitted(spec, real, fake), good, spec)
    for name, change in (("zero_std", {"std": np.zeros((1, 1, 1, 1), np.float32)}),
                         ("rgb_mean", {"mean": np.full((1, 3, 1, 1), 0.5, np.float32)})):
        with pytest.raises(UserError, match="does not fit detector tiny-timm.*input normalization"):
            load_fitted(rewritten(good, tmp_path / f"{name}.npz", state_changes=change), spec)


def test_a_file_of_another_version_source_or_layout_is_refused(training: tuple, tmp_path: Path) -> None:
    """Another format version, the same name saved from another source, or a missing array: one line each."""
    real, fake, _ = training
    spec = resolve_detector("spectrum")
    good = tmp_path / "good.npz"
    save_fitted(fitted(spec, real, fake), good, spec)
    with pytest.raises(UserError, match="format version 2"):
        load_fitted(rewritten(good, tmp_path / "v2.npz", header_changes={"version": 2}))
    with pytest.raises(UserError, match=r"holds detector 'spectrum' \(builtin\)"):
        load_fitted(good, dataclasses.replace(spec, source="import:my_detectors:Spectrum"))
    one_class = resolve_detector("one-class")
    save_fitted(fitted(one_class, real, fake), tmp_path / "one_class.npz", one_class)
    for path, missing in ((good, "logistic.coef"), (tmp_path / "one_class.npz", "components")):
        with pytest.raises(UserError, match="does not fit detector"):
            load_fitted(rewritten(path, tmp_path / "short.npz", dropped=(missing,)))


class HalfPrecision:
    """Keeps bfloat16 weights, which numpy has no type for."""

    name = "half"

    def __init__(self) -> None:
        self.weights = torch.zeros(3, dtype=torch.bfloat16)

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        self.weights = torch.tensor([0.5, -1.25, 3.0], dtype=torch.bfloat16)

    def score(self, images: torch.Tensor) -> np.ndarray:
        return images.double().mean((1, 2, 3)).numpy() * float(self.weights.float().sum())

    def state(self) -> dict[str, torch.Tensor]:
        return {"weights": self.weights}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.weights = state["weights"]


def test_bfloat16_state_is_saved_as_float32_and_comes_back(tmp_path: Path) -> None:
    spec = DetectorSpec("half", HalfPrecision, "import:tests:HalfPrecision")
    model = HalfPrecision()
    model.fit(digits16(0, 2), digits16(2, 2))
    save_fitted(model, tmp_path / "h.npz", spec)
    loaded = load_fitted(tmp_path / "h.npz", spec).detector
    assert loaded.weights.dtype == torch.float32 and loaded.weights.tolist() == [0.5, -1.25, 3.0]


def test_a_probe_over_a_run_only_backbone_refuses_to_be_saved(tmp_path: Path) -> None:
    probe = ProbeDetector(backbone=nn.Sequential(nn.Flatten(), nn.Linear(256, 4)))
    probe.fit(digits16(0, 10), digits16(10, 10).flip(-1))
    with pytest.raises(UserError, match="cannot be saved"):
        save_fitted(probe, tmp_path / "p.npz", resolve_detector("probe"))
