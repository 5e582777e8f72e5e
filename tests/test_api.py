"""The Python API: its documented examples run as written, and each function matches its command."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import ganbench
import ganbench.api
from ganbench.api import evaluate_detector, sample_generator, train_generator
from ganbench.cli import app
from ganbench.errors import UserError
from ganbench.image_sets import open_images


def record_files(run: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((run / "records").glob("*.json"))}


def test_the_examples_run_and_match_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's examples, verbatim; then ``ganbench train`` with the same options finds every unit the API
    wrote (same keys, nothing recomputed) and ``ganbench sample`` draws the very images ``sample_generator`` does."""
    monkeypatch.chdir(tmp_path)
    outcome = doctest.testmod(ganbench.api, optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0 and outcome.attempted >= 10
    written = record_files(tmp_path / "runs")
    assert sorted(name.split("-")[0] for name in written) == ["generation", "sample", "train"]
    cli = CliRunner()
    again = cli.invoke(app, ["train", "dcgan", "--preset", "smoke", "--out", "runs", "--device", "cpu", "--quiet"])
    assert again.exit_code == 0, again.output
    assert record_files(tmp_path / "runs") == written
    drawn = cli.invoke(app, ["sample", "dcgan", "--n", "16", "--seed", "3", "--runs", "runs", "--preset", "smoke",
                             "--device", "cpu", "--out", "drawn.npz"])
    assert drawn.exit_code == 0, drawn.output
    with np.load(tmp_path / "drawn.npz") as archive:
        np.testing.assert_array_equal(archive["x"], sample_generator("runs", "dcgan", n=16, seed=3, device="cpu"))
    trained = train_generator("dcgan", out="runs", device="cpu")
    assert trained.checkpoint == Path("runs") / json.loads(
        next((tmp_path / "runs" / "records").glob("train-*.json")).read_text())["info"]["checkpoint"]
    assert trained.checkpoint.is_file() and set(trained.losses) >= {"loss_d", "loss_g"}
    assert trained.metrics["fid"] > 0 and [r["kind"] for r in trained.records] == ["train", "sample", "generation"]
    np.testing.assert_array_equal(trained.sample(8, seed=5), sample_generator("runs", "dcgan", n=8, seed=5))
    assert not np.array_equal(trained.sample(8, seed=5), trained.sample(8, seed=6))


def test_train_generator_keys_its_options_as_the_train_command_does(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed, overrides (a generator's and the preset's) and bf16 autocast reach the training as the
    command's options do: ``ganbench train`` with the same options reuses the API's training."""
    monkeypatch.chdir(tmp_path)
    trained = train_generator("gan", seed=4, overrides={"gan.lr": 1e-4, "preset.steps": 6}, amp=True, measure=False,
                              device="cpu")
    (record,) = trained.records
    assert record["seed"] == 4 and trained.steps == 6 and record["protocol"]["precision"] == "bf16-autocast"
    assert record["protocol"]["hyperparameters"]["lr"] == 1e-4
    before = record_files(tmp_path / "runs")
    again = CliRunner().invoke(app, ["train", "gan", "--preset", "smoke", "--seed", "4", "--set", "gan.lr=0.0001",
                                     "--set", "preset.steps=6", "--amp", "--device", "cpu", "--out", "runs", "--quiet"])
    assert again.exit_code == 0, again.output
    after = record_files(tmp_path / "runs")
    assert {name: after[name] for name in before} == before and len(after) == len(before) + 2


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Digits reals (train and test) and fakes that are the same digits with a checkerboard added."""
    folder = tmp_path_factory.mktemp("detect")
    paths = {}
    for split in ("train", "test"):
        real = open_images(f"digits@{split}").images[:200]
        checker = ((torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 40).to(torch.uint8)
        fake = (real.int() + checker).clamp(0, 255).to(torch.uint8)
        for kind, array in (("real", real), ("fake", fake)):
            paths[f"{kind}_{split}"] = folder / f"{kind}_{split}.npz"
            np.savez(paths[f"{kind}_{split}"], x=array.numpy())
    return paths


def test_evaluate_detector_is_the_detect_command(images: dict[str, Path]) -> None:
    specs = {name: f"npz:{path}" for name, path in images.items()}
    result = evaluate_detector("spectrum", real=specs["real_test"], fakes={"checker": specs["fake_test"]},
                               train_real=specs["real_train"], train_fakes=specs["fake_train"],
                               perturbations=["jpeg:50"], device="cpu", seed=4)
    shown = CliRunner().invoke(app, ["detect", "--detector", "spectrum", "--real", specs["real_test"], "--fakes",
                                     f"checker={specs['fake_test']}", "--train-real", specs["real_train"],
                                     "--train-fakes", specs["fake_train"], "--perturbation", "none",
                                     "--perturbation", "jpeg:50", "--device", "cpu", "--seed", "4", "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    rows = {row["perturbation"]: row for row in document["results"]}
    clean = result["metrics"]["checker"]
    assert clean["auc"] == pytest.approx(rows["none"]["auc"]) and clean["auc"] > 0.9
    assert clean["auc_ci_low"] <= clean["auc"] <= clean["auc_ci_high"]
    assert clean["n_real"] == clean["n_fake"] == 200
    assert result["perturbed"]["checker"]["jpeg:50"]["auc"] == pytest.approx(rows["jpeg:50"]["auc"])
    assert result["protocol"]["generators"] == document["protocol"]["generators"]
    assert result["detector"] == "spectrum"


def test_data_sets_and_arrays_are_read_as_their_files(images: dict[str, Path],
                                                      tmp_path: Path) -> None:
    """A data-set spec and arrays give the numbers of the same images in .npz files; the protocol names them."""
    reals = open_images("digits@test").images
    np.savez(tmp_path / "digits_test.npz", x=reals.numpy())
    with np.load(images["fake_test"]) as archive:
        fakes = archive["x"]
    with np.load(images["real_train"]) as archive:
        train_real = torch.from_numpy(archive["x"])
    train_fakes = "npz:" + str(images["fake_train"])
    by_files = evaluate_detector("spectrum", real=f"npz:{tmp_path / 'digits_test.npz'}",
                                 fakes={"checker": "npz:" + str(images["fake_test"])},
                                 train_real="npz:" + str(images["real_train"]), train_fakes=train_fakes)
    in_memory = evaluate_detector("spectrum", real="digits@test", fakes=fakes, train_real=train_real,
                                  train_fakes=train_fakes)
    assert set(in_memory["metrics"]) == {"fakes"}
    assert in_memory["metrics"]["fakes"] == pytest.approx(by_files["metrics"]["checker"])
    assert in_memory["metrics"]["fakes"]["n_real"] == len(reals)
    assert in_memory["protocol"]["generators"]["fakes"] == {"real": "digits@test", "fake": "array of 200 images",
                                                            "sizes": {"real": ["8x8"], "fake": ["8x8"]},
                                                            "shared_with_training": 0}


@pytest.mark.parametrize("call,message", [
    (lambda: evaluate_detector("nope", real="digits@test", fakes="digits@train"), "nope"),
    (lambda: evaluate_detector("spectrum", real="digits@test", fakes=np.zeros((4, 1, 8, 8))), "uint8"),
    (lambda: evaluate_detector("spectrum", real="digits@test", fakes=np.zeros((4, 8, 8), np.uint8)),
     r"expected uint8 N,C,H,W images \(got uint8 of shape \(4, 8, 8\)\)"),
    (lambda: evaluate_detector("spectrum", real="digits@test", fakes={}), "no set"),
    (lambda: evaluate_detector("spectrum", real="digits@test", fakes="digits@train", detector_args={"bogus": 1}),
     r"spectrum does not accept the argument\(s\) bogus"),
    (lambda: evaluate_detector("spectrum", real="digits@test", fakes="digits@train", train_real="digits@train"),
     "go together"),
    (lambda: train_generator("nogan"), "nogan"),
    (lambda: train_generator("dcgan", overrides={"dcgan.nope": 1}), "nope"),
    (lambda: train_generator("dcgan", overrides={"wgan.lr": 1e-4}), "wgan, which is not dcgan"),
    (lambda: train_generator("dcgan", overrides="wgan.lr=1e-4"), "wgan, which is not dcgan"),
    (lambda: train_generator("dcgan", overrides={"dcgan.lr": 0}), "dcgan.lr must be positive"),
    (lambda: train_generator("dcgan", dataset="toy2d", preset="smoke", measure=False), "does not train on"),
    (lambda: train_generator("dcgan", seed=2**32), r"seed must be in \[0, 2\^32\)"),
    (lambda: sample_generator("missing-run", "dcgan", n=0), "positive"),
    (lambda: sample_generator("missing-run", "dcgan", n=4, truncation=0.5), "dcgan has no truncation"),
])
def test_mistakes_raise_one_user_error(call, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=message):
        call()


def test_the_api_is_importable_from_the_package() -> None:
    for name in ("train_generator", "sample_generator", "evaluate_detector"):
        assert getattr(ganbench, name) is getattr(ganbench.api, name)
