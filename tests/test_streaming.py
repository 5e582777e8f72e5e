"""A folder beyond the memory budget streams from a memory-mapped cache, with the batches, keys and
results of the in-memory path; downloads are checked against their published checksums."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits as sk_digits

from ganbench import data_cache
from ganbench.data import CHECKSUMS, DOWNLOADS, StreamOptions, download, folder_headers, load_dataset, load_folder
from ganbench.errors import UserError
from ganbench.folders import read_folder
from ganbench.generators import DataSpec, create_generator
from ganbench.generators.trainer import DeviceBatches, StreamedBatches, TrainConfig, train
from ganbench.geometry import Geometry
from ganbench.runtime import seed_everything
from ganbench.store import CACHE_ENV
from ganbench.streaming import StreamedImages

SIDE = 8
CANVAS = Geometry.for_images(SIDE)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 digits as PNGs, one sub-folder per class."""
    root = tmp_path_factory.mktemp("streaming") / "digits"
    bunch = sk_digits()
    for i in range(120):
        label = root / str(bunch.target[i])
        label.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(bunch.images[i] * 255 / 16).astype(np.uint8)).save(label / f"{i:03d}.png")
    return root


def options(cache: Path, workers: int = 0) -> StreamOptions:
    return StreamOptions(budget=1024, workers=workers, cache_dir=cache)


def counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    built: list[Path] = []
    build = data_cache.build_cache

    def counted(*args: object, **kwargs: object) -> None:
        built.append(args[3])  # type: ignore[arg-type]
        build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(data_cache, "build_cache", counted)
    return built


def test_streamed_arrays_equal_the_in_memory_ones_and_the_cache_is_reused(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = counting_builds(monkeypatch)
    memory = load_folder(folder, SIDE)
    streamed = load_dataset(f"folder:{folder}", SIDE, stream=options(tmp_path, workers=2))
    assert streamed.data_path == "streamed" and memory.data_path == "memory" and len(built) == 1
    assert isinstance(streamed.x_train.numpy().base, np.memmap) or streamed.x_train.numpy().base is not None
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(streamed, name), getattr(memory, name)), name
    for split in ("train", "test"):
        assert np.array_equal(streamed.notes["source_sizes"][split], memory.notes["source_sizes"][split])
    assert streamed.fingerprint == memory.fingerprint and streamed.num_classes == memory.num_classes == 10
    again = load_dataset(f"folder:{folder}", SIDE, stream=options(tmp_path))
    assert len(built) == 1 and again.cache == streamed.cache
    within = load_dataset(f"folder:{folder}", SIDE, stream=dataclasses.replace(options(tmp_path), budget=1 << 20))
    assert within.data_path == "memory" and within.fingerprint == memory.fingerprint
    larger = load_dataset(f"folder:{folder}", 2 * SIDE, stream=options(tmp_path))
    assert len(built) == 2 and larger.cache != streamed.cache, "another side is another cache"
    assert larger.x_train.shape[-2:] == (2 * SIDE, 2 * SIDE)


def test_an_edited_decoder_builds_a_new_cache(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache's name holds the digest of the code that decodes, resizes and splits the files: a
    cache the old decoder made is not streamed by a run of the edited one."""
    assert {"ganbench.folders", "ganbench.data", "ganbench.data_cache"} <= set(data_cache.DECODING_MODULES)
    built = counting_builds(monkeypatch)
    before = load_dataset(f"folder:{folder}", SIDE, stream=options(tmp_path))
    monkeypatch.setattr(data_cache, "modules_digest", lambda names: "edited")
    after = load_dataset(f"folder:{folder}", SIDE, stream=options(tmp_path))
    assert len(built) == 2 and after.cache != before.cache
    assert after.fingerprint == before.fingerprint, "the same arrays keep the units' keys"


def test_an_image_rewritten_with_its_size_and_time_kept_is_read_again(tmp_path: Path) -> None:
    root = tmp_path / "digits"
    bunch = sk_digits()
    for i in range(60):
        (root / str(i % 2)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(bunch.images[i] * 255 / 16).astype(np.uint8)).save(root / str(i % 2) / f"{i:03d}.png")
    before = load_dataset(f"folder:{root}", SIDE, stream=options(tmp_path / "cache"))
    target = root / "0" / "000.png"
    stat, original = target.stat(), target.read_bytes()
    pixels = np.array(Image.open(target))
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(target)
    assert len(target.read_bytes()) == len(original), "the test needs an image of the same size"
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = load_dataset(f"folder:{root}", SIDE, stream=options(tmp_path / "cache"))
    assert after.fingerprint != before.fingerprint and after.cache != before.cache


def test_runs_that_need_one_cache_at_once_build_it_once(folder: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    built = counting_builds(monkeypatch)
    slow = data_cache.build_cache

    def slow_build(*args: object, **kwargs: object) -> None:
        time.sleep(0.5)  # both loaders are past their first look at the cache before it exists
        slow(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(data_cache, "build_cache", slow_build)
    with ThreadPoolExecutor(2) as pool:
        sets = list(pool.map(lambda _: load_dataset(f"folder:{folder}", SIDE, stream=options(tmp_path)), range(2)))
    assert len(built) == 1 and sets[0].cache == sets[1].cache
    assert torch.equal(sets[0].x_train, sets[1].x_train)
    assert not list((tmp_path / "data").glob("*.lock"))


@pytest.mark.parametrize("damage", ["truncate", "flip", "flip-last", "meta", "format", "shape", "labels"])
def test_a_damaged_cache_is_rebuilt(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    damage: str) -> None:
    first = load_dataset(f"folder:{folder}", SIDE, stream=options(tmp_path))
    assert first.cache is not None
    expected = first.x_train.clone()
    images = first.cache.path
    del first
    if damage == "truncate":
        images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    elif damage in ("flip", "flip-last"):
        raw = bytearray(images.read_bytes())
        assert len(raw) > data_cache.PROBE_BYTES, "the last byte lies beyond the first probed block"
        raw[len(raw) // 3 if damage == "flip" else -1] ^= 0xFF
        images.write_bytes(bytes(raw))
    elif damage in ("format", "shape"):
        meta = json.loads((images.parent / "meta.json").read_text())
        if damage == "format":
            meta["format"] = data_cache.CACHE_FORMAT + 1
        else:  # one test image fewer in the meta and the small arrays than in the image file
            meta["shape"][0] -= 1
            for name in ("y_test", "sizes_test"):
                np.save(images.parent / f"{name}.npy", np.load(images.parent / f"{name}.npy")[:-1], allow_pickle=False)
        (images.parent / "meta.json").write_text(json.dumps(meta))
    elif damage == "labels":
        np.save(images.parent / "y_train.npy", np.load(images.parent / "y_train.npy")[:-1], allow_pickle=False)
    else:
        (images.parent / "meta.json").write_text("{")
    built = counting_builds(monkeypatch)
    again = load_dataset(f"folder:{folder}", SIDE, stream=options(tmp_path))
    assert len(built) == 1 and torch.equal(again.x_train, expected)
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.endswith(".part")]


def copy_with_a_broken_file(folder: Path, broken: Path) -> Path:
    """``folder``'s PNGs copied to ``broken``, with an unreadable ``3/zzz.png`` added."""
    for png in folder.rglob("*.png"):
        target = broken / png.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png.read_bytes())
    (broken / "3" / "zzz.png").write_bytes(b"not a png")
    return broken


def test_skipped_files_are_left_out_as_in_memory(folder: Path, tmp_path: Path) -> None:
    broken = copy_with_a_broken_file(folder, tmp_path / "broken")
    warned: dict[str, list[str]] = {"memory": [], "built": [], "reused": []}
    memory = load_dataset(f"folder:{broken}", SIDE, skip_bad=True, warn=warned["memory"].append)
    streamed = load_dataset(f"folder:{broken}", SIDE, skip_bad=True, stream=options(tmp_path / "cache"),
                            warn=warned["built"].append)
    load_dataset(f"folder:{broken}", SIDE, skip_bad=True, stream=options(tmp_path / "cache"),
                 warn=warned["reused"].append)
    assert streamed.notes["skipped_files"] == memory.notes["skipped_files"] == 1
    assert any("zzz.png" in line for line in warned["memory"])
    assert warned["reused"] == warned["built"] == warned["memory"], "a reused cache repeats its loader's warnings"
    assert torch.equal(streamed.x_train, memory.x_train) and torch.equal(streamed.y_test, memory.y_test)


def test_a_cache_built_skipping_bad_files_does_not_serve_a_run_that_refuses_them(folder: Path, tmp_path: Path) -> None:
    """``skip_bad`` names the cache: without it, the broken file is refused as in memory, not streamed around."""
    broken = copy_with_a_broken_file(folder, tmp_path / "broken")
    load_dataset(f"folder:{broken}", SIDE, skip_bad=True, stream=options(tmp_path / "cache"))
    with pytest.raises(UserError, match="zzz.png"):
        load_dataset(f"folder:{broken}", SIDE, stream=options(tmp_path / "cache"))


def test_a_folder_streams_only_beyond_its_budget_counting_every_channel(folder: Path, tmp_path: Path) -> None:
    """120 grey 8x8 images are 7,680 bytes: a budget of exactly that holds them in memory, one byte
    less streams them; ten 8x8 colour images are 1,920 bytes, three a pixel."""
    at = load_dataset(f"folder:{folder}", SIDE, stream=dataclasses.replace(options(tmp_path), budget=7680))
    over = load_dataset(f"folder:{folder}", SIDE, stream=dataclasses.replace(options(tmp_path), budget=7679))
    assert (at.data_path, over.data_path) == ("memory", "streamed")
    colour = tmp_path / "colour" / "one"
    colour.mkdir(parents=True)
    for i in range(10):
        Image.new("RGB", (SIDE, SIDE), color=(20 * i, 0, 255 - 20 * i)).save(colour / f"{i}.png")
    assert folder_headers(colour.parent).decoded_bytes(SIDE) == 1920
    for budget, path in ((1920, "memory"), (1000, "streamed")):
        stream = dataclasses.replace(options(tmp_path), budget=budget)
        data = load_dataset(f"folder:{colour.parent}", SIDE, stream=stream)
        assert data.data_path == path and data.channels == 3, budget

def test_parallel_decoding_gives_the_serial_result(folder: Path) -> None:
    serial = read_folder(folder, np.copy)
    parallel = read_folder(folder, np.copy, workers=2)
    assert all(np.array_equal(a, b) for a, b in zip(serial.images, parallel.images))
    assert np.array_equal(serial.labels, parallel.labels) and len(parallel.images) == 120


def streamed_set(folder: Path, cache: Path) -> StreamedImages:
    data = load_dataset(f"folder:{folder}", SIDE, stream=options(cache))
    assert data.cache is not None
    return StreamedImages(data.cache, CANVAS)


def test_batches_follow_the_seed_not_the_workers_or_the_path(folder: Path, tmp_path: Path) -> None:
    """Over several epochs, with a batch that leaves a remainder and one that divides the split."""
    memory = load_folder(folder, SIDE)
    images = streamed_set(folder, tmp_path)
    cpu = torch.device("cpu")
    n = len(memory.x_train)
    divisor = max(d for d in range(2, 41) if n % d == 0)
    for batch_size, workers in ((40, 0), (40, 2), (divisor, 0)):
        in_memory = DeviceBatches(CANVAS.to_model(memory.x_train), memory.y_train, batch_size, seed=7)
        expected = [in_memory.next("image", step) for step in range(3 * n // batch_size)]
        streamed = StreamedBatches(images, memory.y_train, batch_size, 7, workers, cpu, channels_last=False)
        for step, batch in enumerate(expected):
            got = streamed.next("image", step)
            assert torch.equal(got.real, batch.real) and torch.equal(got.labels, batch.labels), (batch_size, step)
    other_seed = StreamedBatches(images, memory.y_train, batch_size, 8, 0, cpu, channels_last=False)
    assert not torch.equal(other_seed.next("image", 0).real, expected[0].real)


def test_a_streamed_batch_order_resumes_from_its_state(folder: Path, tmp_path: Path) -> None:
    images = streamed_set(folder, tmp_path)
    y = torch.zeros(len(images), dtype=torch.long)
    cpu = torch.device("cpu")
    first = StreamedBatches(images, y, 40, 3, 0, cpu, channels_last=False)
    for step in range(2):
        first.next("image", step)
    resumed = StreamedBatches(images, y, 40, 3, 0, cpu, channels_last=False)
    resumed.load_state_dict(first.state_dict())
    assert torch.equal(resumed.next("image", 2).real, first.next("image", 2).real)


def test_streamed_training_gives_the_in_memory_weights(folder: Path, tmp_path: Path) -> None:
    memory = load_folder(folder, SIDE)
    images = streamed_set(folder, tmp_path)
    spec = DataSpec("image", 1, CANVAS.model_size, memory.num_classes, SIDE)
    config = TrainConfig(steps=3, batch_size=16, seed=1, channels_last=False, data_workers=0)
    weights = []
    for x in (CANVAS.to_model(memory.x_train), images):
        seed_everything(5)
        model = create_generator("dcgan", spec, preset_width=8)
        train(model, x, memory.y_train, config)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_image_to_image_variants_refuse_a_streamed_set(folder: Path, tmp_path: Path) -> None:
    from ganbench.generation import training_inputs

    data = load_dataset(f"folder:{folder}", SIDE, stream=options(tmp_path))
    model = create_generator("pix2pix", DataSpec("image", 1, CANVAS.model_size, data.num_classes, SIDE), preset_width=8)
    with pytest.raises(UserError, match="memory-budget"):
        training_inputs(model, data, lambda: torch.nn.Identity())


def test_a_run_beyond_its_budget_streams_and_says_so(folder: Path, cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli.invoke(__import__("ganbench.cli").cli.app, [
        "train", "dcgan", "--preset", "smoke", "--dataset", f"folder:{folder}", "--out", str(out), "--quiet",
        "--memory-budget", "1KB", "--data-workers", "0", "--set", "preset.steps=2", "--set", "preset.n_eval=64",
        "--set", "preset.classifier_epochs=1"])
    assert result.exit_code == 0, result.output
    record = json.loads(next((out / "records").glob("train-dcgan-*.json")).read_text())
    assert record["protocol"]["data_path"] == "streamed" and record["protocol"]["memory_budget"] == 1024
    cache = Path(os.environ[CACHE_ENV]) / "data" / record["protocol"]["data_cache"]
    assert (cache / "images.u8").exists()
    assert record["info"]["data"] == load_folder(folder, SIDE).fingerprint


@pytest.mark.parametrize("text,size", [("4GB", 4 << 30), ("512MB", 512 << 20), ("10KB", 10240), ("0", 0),
                                       ("1.5GiB", 3 << 29), ("2048", 2048)])
def test_memory_budget_sizes(text: str, size: int) -> None:
    assert data_cache.parse_memory_budget(text) == size


def test_a_bad_memory_budget_is_one_line(cli) -> None:
    from ganbench.cli import app

    assert data_cache.parse_memory_budget("auto") == data_cache.machine_memory() // 4
    result = cli.invoke(app, ["train", "dcgan", "--memory-budget", "lots"])
    assert result.exit_code == 2 and "--memory-budget" in result.output and "Traceback" not in result.output


def test_a_download_with_the_wrong_checksum_is_deleted_and_refused(tmp_path: Path) -> None:
    source = tmp_path / "served.gz"
    source.write_bytes(b"not the published bytes")
    target = tmp_path / "data" / "file.gz"
    with pytest.raises(UserError, match="MD5") as raised:
        download(source.as_uri(), target, CHECKSUMS["mnist"]["t10k-labels-idx1-ubyte.gz"])
    assert "\n" not in str(raised.value)
    assert not target.exists() and not list(target.parent.iterdir())
    download(source.as_uri(), target, hashlib.md5(source.read_bytes()).hexdigest())
    assert target.read_bytes() == source.read_bytes()



def test_an_interrupted_download_leaves_nothing_under_the_target_name(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A transfer stopped half-way (the process killed) leaves at most a ``.part`` file, which no
    loader reads; the target's name only ever holds a complete, checked file."""

    class Stopped(BaseException):
        pass

    class HalfServed:
        def __init__(self) -> None:
            self.chunks = [b"first half"]

        def __enter__(self) -> HalfServed:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self, size: int) -> bytes:
            if self.chunks:
                return self.chunks.pop()
            raise Stopped

    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: HalfServed())
    target = tmp_path / "data" / "file.gz"
    with pytest.raises(Stopped):
        download("https://example.invalid/file.gz", target)
    assert not target.exists()


def test_the_cifar10_archive_is_checked_against_its_published_checksum(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    served = tmp_path / "served.tar.gz"
    served.write_bytes(b"tampered")
    monkeypatch.setitem(DOWNLOADS, "cifar10", served.as_uri())
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "root"))
    with pytest.raises(UserError, match=f"not the published {CHECKSUMS['cifar10']['cifar-10-python.tar.gz']}"):
        load_dataset("cifar10")
    assert not list((tmp_path / "root" / "cifar10").iterdir())

def test_a_standard_set_with_a_bad_download_ends_with_one_line(tmp_path: Path, cli,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ganbench.cli import app

    served = tmp_path / "served"
    served.mkdir()
    for name in CHECKSUMS["mnist"]:
        (served / name).write_bytes(b"tampered")
    monkeypatch.setitem(DOWNLOADS, "mnist", served.as_uri() + "/")
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "root"))
    result = cli.invoke(app, ["train", "dcgan", "--dataset", "mnist", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "published" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not list((tmp_path / "root" / "mnist").iterdir())
