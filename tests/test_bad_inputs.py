"""Every user mistake ends with one line on stderr and exit code 2, before any work, losing nothing.

Each case runs a command against a run folder that already holds a record; afterwards the
records are byte-identical and no unit was computed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.errors import UserError
from ganbench.records import Record
from ganbench.store import RunStore

CASES: dict[str, list[str]] = {
    "unknown suite": ["run", "--suite", "nosuch"],
    "unknown detector": ["run", "--detectors", "nosuch"],
    "empty detector list": ["run", "--detectors", ","],
    "unknown data set": ["run", "--dataset", "nosuch"],
    "npz without a path": ["run", "--dataset", "npz:"],
    "npz that does not exist": ["run", "--dataset", "npz:{tmp}/missing.npz"],
    "npz that is not an npz": ["run", "--dataset", "npz:{tmp}/garbage.npz"],
    "npz without arrays": ["run", "--dataset", "npz:{tmp}/empty.npz"],
    "folder without a path": ["run", "--dataset", "folder:"],
    "folder that does not exist": ["run", "--dataset", "folder:{tmp}/nowhere"],
    "empty folder": ["run", "--dataset", "folder:{tmp}/empty_folder"],
    "unknown preset": ["run", "--preset", "nosuch"],
    "resolution too small": ["run", "--resolution", "4"],
    "resolution too large": ["run", "--resolution", "65536"],
    "resolution not a number": ["run", "--resolution", "big"],
    "negative seed": ["run", "--seed", "-1"],
    "seed of 2^64": ["run", "--seed", "18446744073709551616"],
    "seed not a number": ["run", "--seed", "abc"],
    "no seeds": ["run", "--seeds", "0"],
    "seeds not numbers": ["run", "--seeds", "a,b"],
    "a seed twice": ["run", "--seeds", "1,1"],
    "seeds out of range": ["run", "--seeds", "0,4294967296"],
    "seed and seeds": ["run", "--seed", "3", "--seeds", "2"],
    "no workers": ["run", "--jobs", "0"],
    "shard 0 of 2": ["run", "--shard", "0/2"],
    "shard 3 of 2": ["run", "--shard", "3/2"],
    "shard not i/n": ["run", "--shard", "x"],
    "checkpoint every 0 steps": ["run", "--checkpoint-every", "0"],
    "unknown detection plan": ["run", "--detection-plan", "nosuch"],
    "unknown extractor": ["run", "--extractor", "nosuch"],
    "no minutes": ["run", "--max-minutes", "0"],
    "negative minutes": ["run", "--max-minutes", "-1"],
    "fakes without a name": ["run", "--fakes", "folder:{tmp}"],
    "fakes that do not exist": ["run", "--fakes", "x=folder:{tmp}/nowhere"],
    "fakes in a folder that is a file": ["run", "--fakes", "x=folder:{tmp}/garbage.npz"],
    "fakes in an npz that is a folder": ["run", "--fakes", "x=npz:{tmp}/folder.npz"],
    "two fake sets of one name": ["run", "--fakes", "x=folder:{tmp}/one_class", "--fakes", "x=folder:{tmp}/dots"],
    "out is a file": ["run", "--out", "{tmp}/garbage.npz"],
    "unknown device": ["run", "--device", "tpu"],
    "unknown option": ["run", "--nosuch"],
    "train an unknown generator": ["train", "nosuch"],
    "train with an unknown trick": ["train", "gan+nosuch"],
    "train an image generator on points": ["train", "dcgan", "--dataset", "toy2d"],
    "sample no images": ["sample", "gan", "--n", "0", "--out", "{tmp}/s.npz"],
    "sample an untrained generator": ["sample", "gan", "--n", "4", "--out", "{tmp}/s.npz"],
    "sample over an existing file": ["sample", "gan", "--n", "4", "--out", "{tmp}/garbage.npz"],
    "sample into a folder that cannot be made": ["sample", "gan", "--n", "4", "--out", "{tmp}/garbage.npz/s.npz"],
    "sample PNGs into a folder that cannot be made": ["sample", "gan", "--n", "4", "--out", "{tmp}/garbage.npz/pngs"],
    "statistics into a folder that cannot be made": ["stats", "digits", "--out", "{tmp}/garbage.npz/st.npz"],
    "statistics onto a folder": ["stats", "digits", "--out", "{tmp}/folder.npz", "--force"],
    "show an unknown table": ["leaderboard", "show", "--table", "nosuch"],
    "show a folder with no run": ["leaderboard", "show", "--out", "{tmp}/nowhere"],
    "publish an unknown format": ["leaderboard", "publish", "--format", "pdf", "--site", "{tmp}/site"],
    "evaluate a detector that cannot be imported": ["eval-detector", "nosuch_module:Detector"],
    "evaluate an unknown built-in": ["eval-detector", "nosuch"],
    "rate an odd number of images": ["human-eval", "--n", "3"],
    "rate a folder with no run": ["human-eval", "--out", "{tmp}/nowhere"],
    "rate as nobody": ["human-eval", "--rater", "  "],
    "list an unknown registry": ["list", "nosuch"],
    "npz with no images": ["run", "--dataset", "npz:{tmp}/no_images.npz"],
    "npz with fractional labels": ["run", "--dataset", "npz:{tmp}/half_labels.npz"],
    "npz of three images": ["run", "--dataset", "npz:{tmp}/three.npz"],
    "npz of one colour image without the batch axis": ["run", "--dataset", "npz:{tmp}/one_hwc.npz"],
    "npz under the minimum size": ["run", "--dataset", "npz:{tmp}/seventy.npz"],
    "train on three images": ["train", "dcgan", "--dataset", "npz:{tmp}/three.npz"],
    "folder of one image": ["run", "--dataset", "folder:{tmp}/one_image"],
    "folder of one class": ["run", "--dataset", "folder:{tmp}/one_class"],
    "folder of 1x1 images": ["run", "--dataset", "folder:{tmp}/dots"],
    "folder linking to itself": ["run", "--dataset", "folder:{tmp}/self_link"],
    "folder with a float image": ["run", "--dataset", "folder:{tmp}/float_image"],
    "folder mixing grey and colour": ["run", "--dataset", "folder:{tmp}/grey_and_colour"],
    "config file that does not exist": ["run", "--config", "{tmp}/missing.toml"],
    "config file that is not TOML": ["run", "--config", "{tmp}/garbage.npz"],
    "config with an unknown field": ["run", "--config", "{tmp}/unknown_field.toml"],
    "set an unknown preset field": ["run", "--set", "preset.nosuch=1"],
    "set an unknown hyper-parameter": ["run", "--set", "dcgan.nosuch=1"],
    "set an unknown generator": ["run", "--set", "nosuch.lr=1e-4"],
    "set without a value": ["run", "--set", "dcgan.lr"],
    "set a number to text": ["run", "--set", "preset.steps=many"],
    "train with a negative seed": ["train", "dcgan", "--seed", "-1"],
    "sample over an existing folder": ["sample", "gan", "--n", "4", "--out", "{tmp}/one_class"],
    "sample from a run folder that does not exist": ["sample", "gan", "--n", "4", "--out", "{tmp}/s.npz",
                                                     "--runs", "{tmp}/no_run"],
    "train with a learning rate of zero": ["train", "dcgan", "--set", "dcgan.lr=0"],
    "train with an unknown loss": ["train", "dcgan", "--set", "dcgan.loss=bogus"],
    "set a generator the command does not train": ["train", "dcgan", "--set", "wgan.lr=1e-4"],
    "suite with an unknown detector": ["run", "--suite", "dcgan,spectrum,nosuch"],
    "sample with a truncation the variant has none of": ["sample", "dcgan", "--n", "4", "--out", "{tmp}/s.npz",
                                                          "--truncation", "0.5"],
    "unknown timm model": ["run", "--extractor", "timm:nosuch_model"],
    "train with an unknown timm model": ["train", "dcgan", "--extractor", "timm:nosuch_model"],
    "inception weights that do not exist": ["run", "--extractor", "inception", "--extractor-weights", "{tmp}/no.pt"],
    "weights for the per-data-set extractor": ["run", "--extractor-weights", "{tmp}/garbage.npz"],
    "an unknown inception resize": ["run", "--extractor", "inception", "--inception-resize", "bicubic"],
    "an inception resize for the classifier": ["train", "dcgan", "--inception-resize", "clean"],
    "metrics on an unknown split": ["metrics", "digits@trian", "digits"],
    "data report with an unknown timm model": ["data-report", "digits", "--extractor", "timm:nosuch_model"],
    "sample with a truncation of zero": ["sample", "biggan", "--n", "4", "--out", "{tmp}/s.npz", "--truncation", "0"],
    "negative data workers": ["run", "--data-workers", "-1"],
    "human-eval with a port out of range": ["human-eval", "--port", "65536"],
    "human-eval with a seed of 2^32": ["human-eval", "--seed", "4294967296"],
    "statistics into a file that is no npz": ["stats", "digits", "--out", "{tmp}/st.txt"],
}

# What the one line must say where another refusal further on could otherwise answer in its place.
SAYS = {"negative data workers": "--data-workers -1", "sample no images": "--n must be positive",
        "sample over an existing file": "exists", "sample into a folder that cannot be made": "is a file, not a folder",
        "human-eval with a port out of range": "--port", "human-eval with a seed of 2^32": "--seed must be in",
        "statistics into a file that is no npz": "end in .npz", "show an unknown table": "unknown table 'nosuch'"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bad_inputs")
    (tmp / "garbage.npz").write_bytes(b"not a zip archive")
    np.savez(tmp / "empty.npz", other=np.zeros(3))
    (tmp / "empty_folder").mkdir()
    (tmp / "folder.npz").mkdir()
    (tmp / "unknown_field.toml").write_text("[preset]\nnosuch = 3\n")
    rng = np.random.default_rng(0)
    np.savez(tmp / "no_images.npz", x_train=np.zeros((0, 8, 8), np.uint8), y_train=np.zeros(0, np.int64))
    np.savez(tmp / "half_labels.npz", x_train=rng.integers(0, 256, (100, 8, 8), dtype=np.uint8),
             y_train=np.arange(100) / 2)
    np.savez(tmp / "one_hwc.npz", x_train=rng.integers(0, 256, (28, 28, 3), dtype=np.uint8), y_train=np.arange(28) % 2)
    for name, n in (("three", 3), ("seventy", 70)):
        np.savez(tmp / f"{name}.npz", x_train=rng.integers(0, 256, (n, 8, 8), dtype=np.uint8), y_train=np.arange(n) % 2)
    folders = {"one_image": ("",), "one_class": ("a",), "dots": ("a", "b"), "self_link": ("a", "b"),
               "float_image": ("a", "b"), "grey_and_colour": ("a", "b")}
    for name, classes in folders.items():
        for label in classes:
            (tmp / name / label).mkdir(parents=True, exist_ok=True)
            for i in range(1 if name == "one_image" else 15):
                side = 1 if name == "dots" else 8
                pixels = rng.integers(0, 256, (side, side), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp / name / label / f"{i}.png")
    (tmp / "self_link" / "zz").symlink_to(tmp / "self_link", target_is_directory=True)
    Image.fromarray(np.ones((8, 8), np.float32)).save(tmp / "float_image" / "b" / "depth.tif")
    Image.new("RGB", (8, 8)).save(tmp / "grey_and_colour" / "b" / "colour.png")
    return tmp


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "records").glob("*"))}


@pytest.mark.parametrize("case", list(CASES))
def test_a_user_mistake_is_one_line_and_exit_code_2(case: str, inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    RunStore(out).write_record(Record(kind="train", key="abc", dataset="digits", preset="smoke", seed=0,
                                      generator="dcgan"), "dcgan")
    before = snapshot(out)
    args = [a.format(tmp=inputs) for a in CASES[case]]
    if args[0] == "sample" and "--runs" not in args:
        args += ["--runs", str(out)]
    elif args[0] not in ("sample", "list", "data-report", "metrics", "detect") and "--out" not in args:
        args += ["--out", str(out)]
    if args[0] in ("run", "train", "sample", "human-eval") and "--preset" not in args:
        args += ["--preset", "smoke"]
    result = CliRunner().invoke(app, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, (case, result.output)
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, result.output)
    assert "Traceback" not in result.output and not isinstance(result.exception, (AssertionError, TypeError))
    assert snapshot(out) == before
    assert SAYS.get(case, "") in lines[0], (case, lines[0])


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for CUDA where there is none")
def test_cuda_without_a_gpu_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--preset", "smoke", "--device", "cuda", "--out", str(tmp_path)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_a_png_folder_that_cannot_be_made_is_a_user_error(tmp_path: Path) -> None:
    from ganbench.imageio import save_png_folder

    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(UserError, match="cannot create"):
        save_png_folder(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), tmp_path / "file" / "pngs")


def test_truncation_is_checked_against_each_variants_range() -> None:
    from ganbench.generators import GENERATORS

    for name, value in (("stylegan2", 0.7), ("stylegan3", 1.0), ("biggan", 1e9), ("vae", 0.5), ("dcgan", None)):
        GENERATORS.get(name).check_truncation(value)
    for name, value in (("stylegan2", 1.5), ("stylegan2", 0.0), ("biggan", -1.0), ("vae", 0.0), ("dcgan", 0.5),
                        ("ddpm", 1.0)):
        with pytest.raises(UserError, match="truncation"):
            GENERATORS.get(name).check_truncation(value)
