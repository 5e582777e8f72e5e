"""GPU check in one command: training, sampling and feature throughput, PRDC at 50k, determinism.

    python benchmarks/gpu.py [--quick] [--cpu] [--variants dcgan,wgan-gp] [--suite-wall-time] [--out gpu-check.json]
    python benchmarks/gpu.py --sections seed_batches --suite-wall-time --suite-jobs 4

On a CUDA machine it prints markdown tables under a line naming the card
(``torch.cuda.get_device_name``) and the torch, CUDA and cuDNN versions, and writes them as JSON:

1. training: every image variant (``--quick``: one of each kind) through the shared trainer at 32
   and 64 px on synthetic RGB images, plain (float32, contiguous), in ganbench's own path (the
   trainer's defaults: on CUDA float32 with TF32 and channels_last), with ``--amp`` (that path
   under bf16 autocast), and for a few variants at 64 px the default path under ``torch.compile``
   (``--modes`` picks others, among them ``graphs``: the own path compiled in ``reduce-overhead``
   mode, each network's kernels replayed as CUDA graphs; compiled modes are contiguous on CUDA, as
   the trainer's default, unless named ``-channels-last``; ``--batch`` another batch size);
   images/s (``batch x pack x (n_critic + 1)`` per step, as ``benchmarks/train_step.py``), the
   speed-up over plain, steps/s and peak memory (``torch.cuda.max_memory_allocated``);
2. host syncs per 100 steps, counted by ``torch.cuda.set_sync_debug_mode``: the trainer reads
   losses every 10 steps (10 per 100), so more means the variant's own step waits for the GPU;
3. sampling: images/s of ``GenerativeModel.sample`` (uint8 on the host, as the sample unit gets them);
4. features: images/s of the reference classifier (128-d) and of the FID Inception (2048-d, resized
   to 299 on the host as ``InceptionExtractor`` does), with random weights, which cost the same;
5. PRDC (k = 5; Kynkaanniemi et al. 2019, Naeem et al. 2020) at 50k x 2048 on the GPU;
6. determinism: each variant trained twice from one seed under
   ``torch.use_deterministic_algorithms`` (``CUBLAS_WORKSPACE_CONFIG=:4096:8``, cuDNN without
   autotuning): whether every step's losses and the final weights are identical, and the
   operations that have no deterministic kernel (PyTorch warns instead of failing);
7. toy-2D seed batches: ten seeds of each point variant trained as one batched model
   (``ganbench.generators.seed_batch``) against the same seeds one after another, seed-steps/s;
   on CUDA also the batch with its step replayed as a CUDA graph, and how far ten replayed steps'
   weights lie from the same steps run eagerly;
8. with ``--suite-wall-time``: the wall time of ``ganbench run --suite all --preset quick`` on the
   device (a subprocess in a scratch folder with ``--suite-jobs`` workers, stopped after
   ``--suite-timeout`` seconds).

Without CUDA it says so in one line and exits 2; ``--cpu`` runs the same on the CPU at tiny sizes
(8 and 16 px, width 4), which is what the tests run. It exits 1 when a measurement failed.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.data import Dataset, load_npz, load_toy2d
from ganbench.pixels import to_float
from ganbench.features import ContentClassifier, ReferenceClassifier, resize_for_network
from ganbench.generation import training_inputs
from ganbench.inception import INPUT_SIZE, FIDInceptionV3
from ganbench.prdc import prdc_from_features
from ganbench.presets import get_preset
from ganbench.runtime import configure_backends, seed_everything
from ganbench.store import CACHE_ENV
from ganbench.generators import GENERATORS, DataSpec, GenerativeModel, create_generator
from ganbench.generators.seed_batch import SeedBatch, train_seed_batch
from ganbench.generators.trainer import TrainConfig, train
from ganbench.generators.translation_blocks import TranslationModel

PROJECT = Path(__file__).resolve().parents[1]
QUICK_VARIANTS = ("dcgan", "wgan-gp", "sngan", "biggan", "stylegan2", "pix2pix", "vae", "ddpm")
CPU_QUICK_VARIANTS = ("dcgan", "wgan-gp")
COMPILE_VARIANTS = ("dcgan", "stylegan2", "ddpm")
SEED_BATCH_VARIANTS = ("gan", "wgan-gp", "lsgan", "sngan", "gan+packing")


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does."""

    resolutions: tuple[int, ...]
    width: int
    batch: int
    warmup: int
    steps: int
    sync_steps: int
    samples: int
    feature_images: int
    inception_images: int
    prdc_n: int
    prdc_dim: int
    determinism_steps: int
    seed_batch: tuple[int, int, int]  # toy-2D seeds, generator steps per timed run, rounds


def sizes_for(device: torch.device, quick: bool) -> Sizes:
    if device.type == "cpu":
        return Sizes((8, 16), width=4, batch=8, warmup=1, steps=2, sync_steps=0, samples=32, feature_images=64,
                     inception_images=1, prdc_n=1000, prdc_dim=64, determinism_steps=3, seed_batch=(2, 2, 1))
    standard = get_preset("standard")
    if quick:
        return Sizes((32, 64), standard.width, standard.batch_size, warmup=3, steps=10, sync_steps=30, samples=2000,
                     feature_images=2000, inception_images=1000, prdc_n=50000, prdc_dim=2048, determinism_steps=10,
                     seed_batch=(10, 20, 1))
    return Sizes((32, 64), standard.width, standard.batch_size, warmup=5, steps=30, sync_steps=100, samples=10000,
                 feature_images=10000, inception_images=5000, prdc_n=50000, prdc_dim=2048, determinism_steps=20,
                 seed_batch=(10, 20, 3))


@dataclass(frozen=True)
class Mode:
    """How the trainer runs: ``channels_last=None`` leaves it to the trainer's device-dependent default."""

    name: str
    amp: bool = False
    channels_last: bool | None = None
    compiled: str | None = None  # torch.compile mode; None: eager


MODES = {mode.name: mode for mode in (
    Mode("plain", amp=False, channels_last=False),
    Mode("ganbench"),
    Mode("amp", amp=True),
    Mode("compiled", compiled="default"),
    Mode("bf16", amp=True, channels_last=False),
    Mode("compiled-amp", amp=True, compiled="default"),
    Mode("compiled-plain", amp=False, channels_last=False, compiled="default"),
    Mode("graphs", compiled="reduce-overhead"),
    Mode("graphs-amp", amp=True, compiled="reduce-overhead"),
    Mode("compiled-channels-last", channels_last=True, compiled="default"),
    Mode("graphs-channels-last", channels_last=True, compiled="reduce-overhead"),
)}
SECTIONS = ("training", "host_syncs", "sampling", "features", "prdc", "determinism", "seed_batches")


def training_modes(device: torch.device) -> list[Mode]:
    """Plain float32 eager, the trainer's own path, that path under bf16 autocast and, on CUDA,
    the own path compiled."""
    return [MODES["plain"], MODES["ganbench"], MODES["amp"], *([MODES["compiled"]] if device.type == "cuda" else [])]


def with_speedups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its throughput over the plain mode's for the same variant and size."""
    plain = {(r["variant"], r["resolution"]): r.get("images_per_second") for r in rows if r["mode"] == "plain"}
    out = []
    for row in rows:
        base, value = plain.get((row["variant"], row["resolution"])), row.get("images_per_second")
        out.append({**row, "speedup": value / base if base and value else None})
    return out


def seed_batch_speed() -> Any:
    """``benchmarks/seed_batch_speed.py`` as a module, wherever this script is loaded from."""
    spec = importlib.util.spec_from_file_location("seed_batch_speed", Path(__file__).with_name("seed_batch_speed.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synthetic_data(folder: Path, resolution: int, n: int) -> Dataset:
    """Random RGB images in 10 classes through the npz loader (content does not change the cost)."""
    rng = np.random.default_rng(0)
    path = folder / f"synthetic-{resolution}.npz"
    test = max(n // 4, 10)
    np.savez(path, x_train=rng.integers(0, 256, (n, resolution, resolution, 3), dtype=np.uint8),
             y_train=np.arange(n) % 10, x_test=rng.integers(0, 256, (test, resolution, resolution, 3), dtype=np.uint8),
             y_test=np.arange(test) % 10)
    return load_npz(path, resolution, name=f"synthetic-rgb-{resolution}")


def spec_of(data: Dataset) -> DataSpec:
    return DataSpec(data.kind, data.channels, data.resolution, data.num_classes)


def failed(row: dict[str, Any], exc: BaseException) -> None:
    """Mark ``row`` failed by ``exc``: its status names the error, its first line and the innermost
    frame it was raised in (for an error without a message, the only clue in the table); the whole
    traceback goes to the JSON."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    message = str(exc).splitlines()[0] if str(exc) else ""
    row["status"] = f"failed: {exc.__class__.__name__}: {message}{where}"
    row["traceback"] = "".join(traceback.format_exception(exc))


class Bench:
    """The measurements of one device at one set of sizes."""

    def __init__(self, device: torch.device, sizes: Sizes, cache: Path) -> None:
        self.device, self.sizes, self.cache = device, sizes, cache
        self.content: dict[str, torch.nn.Module] = {}

    def build(self, name: str, data: Dataset) -> tuple[GenerativeModel, torch.Tensor, torch.Tensor, dict[str, Any]]:
        seed_everything(0)
        model = create_generator(name, spec_of(data), preset_width=self.sizes.width).to(self.device)
        x, y, task = training_inputs(model, data, lambda: self.content_network(data))
        return model, x, y, task

    def content_network(self, data: Dataset) -> torch.nn.Module:
        if data.name not in self.content:
            self.content[data.name] = ContentClassifier(data, self.cache, epochs=1, device=self.device).model
        return self.content[data.name]

    def config(self, steps: int, mode: Mode | None = None) -> TrainConfig:
        mode = mode or Mode("ganbench")
        return TrainConfig(steps=steps, batch_size=self.sizes.batch, checkpoint_every=10**9, amp=mode.amp,
                           channels_last=mode.channels_last, compiled=mode.compiled)

    def training(self, name: str, data: Dataset, mode: Mode) -> tuple[dict[str, Any], GenerativeModel | None]:
        """Throughput of one variant at one size in one mode; the trained model for the sampling check."""
        s = self.sizes
        row: dict[str, Any] = {"variant": name, "resolution": data.resolution, "mode": mode.name}
        try:
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
            model, x, y, task = self.build(name, data)
            marks: dict[int, float] = {}

            def on_step(step: int, losses: Mapping[str, float]) -> None:
                if step in (s.warmup, s.warmup + s.steps):
                    synchronize(self.device)
                    marks[step] = time.perf_counter()

            outcome = train(model, x, y, self.config(s.warmup + s.steps, mode), on_step=on_step, **task)
            seconds = marks[s.warmup + s.steps] - marks[s.warmup]
            images = s.steps * s.batch * model.pack_size * (model.n_critic + 1)
            row.update(status=outcome.status, images_per_second=images / seconds, steps_per_second=s.steps / seconds,
                       peak_memory_mib=torch.cuda.max_memory_allocated(self.device) / 2**20
                       if self.device.type == "cuda" else None)
            return row, model
        except Exception as exc:  # one variant's failure is a row of the table, not the end of the check
            failed(row, exc)
            return row, None

    def host_syncs(self, name: str, data: Dataset) -> dict[str, Any]:
        """Synchronising CUDA calls per 100 training steps after the warm-up steps."""
        s = self.sizes
        row: dict[str, Any] = {"variant": name, "resolution": data.resolution}
        try:
            model, x, y, task = self.build(name, data)
            sources: collections.Counter[str] = collections.Counter()
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.showwarning = lambda message, *rest: count_sync(message, sources)

                def on_step(step: int, losses: Mapping[str, float]) -> None:
                    if step == s.warmup:
                        torch.cuda.set_sync_debug_mode("warn")

                try:
                    train(model, x, y, self.config(s.warmup + s.sync_steps), on_step=on_step, **task)
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            syncs = sum(sources.values())
            row.update(status="ok", syncs_per_100_steps=100 * syncs / s.sync_steps,
                       sources={where: 100 * n / s.sync_steps for where, n in sources.most_common(3)})
        except Exception as exc:
            failed(row, exc)
        return row

    def sampling(self, name: str, model: GenerativeModel) -> dict[str, Any]:
        n = self.sizes.samples // (20 if model.family == "diffusion" else 1)
        row: dict[str, Any] = {"variant": name, "resolution": model.spec.resolution, "n": n}
        try:
            labels, codes = model.evaluation_conditions(n)
            synchronize(self.device)
            started = time.perf_counter()
            model.sample(n, labels=labels if codes is None else codes, seed=0)
            row.update(status="ok", images_per_second=n / (time.perf_counter() - started))
        except Exception as exc:
            failed(row, exc)
        return row

    def features(self, data: Dataset, inception: bool) -> list[dict[str, Any]]:
        """Images/s of the reference classifier's network on ``data``'s images (and of the Inception
        network, whose input is resized to 299 whatever the data), in batches of 100 as ``extract``."""
        s, device = self.sizes, self.device
        classifier = ReferenceClassifier(data.channels, data.num_classes).to(device).eval()
        networks: list[tuple[str, int, Callable[[torch.Tensor], torch.Tensor], int]] = [
            ("classifier", ReferenceClassifier.feature_dim,
             lambda chunk: classifier.features(to_float(chunk).to(device)), s.feature_images)]
        if inception:
            network = FIDInceptionV3().to(device).eval()
            networks.append(("inception", 2048, lambda chunk: network(
                resize_for_network(chunk, (INPUT_SIZE, INPUT_SIZE), "bilinear", False).to(device))[0],
                s.inception_images))
        rows = []
        for name, dim, forward, n in networks:
            images = data.x_train[torch.arange(n) % len(data.x_train)]
            with torch.inference_mode():
                forward(images[: min(n, 100)])
                synchronize(device)
                started = time.perf_counter()
                for chunk in images.split(100):
                    forward(chunk).float().cpu()
            rows.append({"network": name, "feature_dim": dim, "resolution": data.resolution, "n": n,
                         "images_per_second": n / (time.perf_counter() - started)})
        return rows

    def prdc(self) -> dict[str, Any]:
        s = self.sizes
        generator = torch.Generator(self.device).manual_seed(0)
        real = torch.randn(s.prdc_n, s.prdc_dim, device=self.device, generator=generator)
        fake = 1.05 * torch.randn(s.prdc_n, s.prdc_dim, device=self.device, generator=generator) + 0.02
        synchronize(self.device)
        started = time.perf_counter()
        values = prdc_from_features(real, fake, k=5)
        return {"n": s.prdc_n, "dim": s.prdc_dim, "seconds": time.perf_counter() - started, **values}

    def seed_batch(self, variant: str) -> dict[str, Any]:
        """Ten toy-2D seeds as one batched model against the same seeds one after another
        (``benchmarks/seed_batch_speed.py``); on CUDA also the batch replayed as a CUDA graph, for
        ten times the steps, and whether ten replayed steps give the weights of the same ten
        steps run eagerly with the same kernels (``replay="static"``)."""
        seeds, steps, rounds = self.sizes.seed_batch
        graph_steps = 10 * steps if self.device.type == "cuda" else None
        row: dict[str, Any] = {"variant": variant, "seeds": seeds, "steps": steps, "graph_steps": graph_steps}
        try:
            speed = seed_batch_speed()
            times = speed.measure(variant, seeds, steps, rounds, 100, self.device, graph_steps)
            row.update(status="ok", **speed.rates(times, seeds, steps, graph_steps))
            if graph_steps:
                row["graph_max_difference"] = self.graph_against_eager(variant, seeds)
        except Exception as exc:
            failed(row, exc)
        return row

    def graph_against_eager(self, variant: str, seeds: int, steps: int = 10) -> float:
        """The largest difference of any weight or buffer between ``steps`` steps replayed as a
        CUDA graph and the same steps run eagerly with the same kernels (0.0: bit for bit)."""
        data = load_toy2d("ring")
        spec = DataSpec("points", 0, 0, data.num_classes)
        states = []
        for replay in ("static", "cuda-graph"):
            batched = SeedBatch.create(variant, spec, range(seeds), self.device)
            train_seed_batch(batched, data.x_train, data.y_train, steps, 100, replay=replay)
            states.append(batched.model.state_dict())
        eager, graphed = states
        return max(float((eager[name].double() - value.double()).abs().max()) for name, value in graphed.items())

    def determinism(self, name: str, data: Dataset) -> dict[str, Any]:
        row: dict[str, Any] = {"variant": name, "resolution": data.resolution, "steps": self.sizes.determinism_steps}
        try:
            with deterministic_algorithms() as caught:
                runs = [self.losses_and_weights(name, data) for _ in range(2)]
            (losses_a, weights_a), (losses_b, weights_b) = runs
            differing = [key for key, value in weights_a.items() if not torch.equal(value, weights_b[key])]
            nondeterministic = sorted({str(w.message).split(" does not have a deterministic")[0]
                                       for w in caught if "deterministic" in str(w.message)})
            row.update(status="ok", same_losses=losses_a == losses_b, same_weights=not differing,
                       tensors_differing=len(differing), nondeterministic_ops=nondeterministic)
        except Exception as exc:
            failed(row, exc)
        return row

    def losses_and_weights(self, name: str, data: Dataset) -> tuple[list[dict[str, float]], dict[str, torch.Tensor]]:
        model, x, y, task = self.build(name, data)
        losses: list[dict[str, float]] = []
        train(model, x, y, self.config(self.sizes.determinism_steps),
              on_step=lambda step, values: losses.append(dict(values)), **task)
        return losses, {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}


def count_sync(message: Warning | str, sources: collections.Counter[str]) -> None:
    """Count one synchronising CUDA call under the project line that made it (``file:line``)."""
    if "synchroniz" not in str(message):
        return
    inside = [frame for frame in traceback.extract_stack()
              if Path(frame.filename).resolve().is_relative_to(PROJECT) and not {"benchmarks", "site-packages"} & set(Path(frame.filename).parts)]
    where = inside[-1] if inside else None
    sources[f"{Path(where.filename).name}:{where.lineno}" if where else "outside the project"] += 1


@contextmanager
def deterministic_algorithms() -> Iterator[list[warnings.WarningMessage]]:
    """Deterministic kernels (a warning where there is none), cuDNN without autotuning; restored after."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2], saved[3]


def rate(value: float) -> str:
    """A throughput with three significant digits, whole numbers from 100 up."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str, Any]]) -> str:
    """A markdown table of ``rows``: each column is (header, key, format spec or function); a
    missing value shows as -. No rows, no table."""
    if not rows:
        return ""
    lines = [f"### {title}", "", "| " + " | ".join(header for header, _, _ in columns) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for _, key, spec in columns:
            value = row.get(key)
            cells.append("-" if value is None else spec(value) if callable(spec) else format(value, spec) if spec
                         else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def sync_sources(sources: Mapping[str, float]) -> str:
    return ", ".join(f"{where} ({n:.0f})" for where, n in sources.items()) or "-"


def header(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}


def suite_wall_time(device: torch.device, timeout: float, jobs: int = 1) -> dict[str, Any]:
    """Wall time of the quick suite on ``device`` with ``jobs`` workers, in a scratch folder with its
    own cache."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "ganbench", "run", "--suite", "all", "--preset", "quick",
                   "--device", device.type, "--jobs", str(jobs), "--out", str(Path(folder) / "run"), "-q"]
        env = {**os.environ, "PYTHONPATH": str(PROJECT), CACHE_ENV: str(Path(folder) / "cache")}
        started = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": f"stopped after {timeout:.0f} s", "seconds": None, "jobs": jobs}
        seconds = time.perf_counter() - started
        last = (done.stderr.strip().splitlines() or [""])[-1]
        return {"status": "ok" if done.returncode == 0 else f"exit {done.returncode}: {last}", "seconds": seconds,
                "summary": last, "jobs": jobs}


def run(device: torch.device, quick: bool, variants: list[str], out: Path, suite_timeout: float | None = None,
        modes: list[Mode] | None = None, sections: tuple[str, ...] = SECTIONS, batch: int | None = None,
        resolutions: tuple[int, ...] | None = None, suite_jobs: int = 1,
        seed_batch_variants: tuple[str, ...] = SEED_BATCH_VARIANTS) -> int:
    """The check; ``modes``, ``sections``, ``batch``, ``resolutions`` and ``seed_batch_variants``
    narrow or change it (given
    modes run for every variant and size, the default compiled mode only for ``COMPILE_VARIANTS``
    at the largest size); the quick suite, with ``suite_timeout``, runs with ``suite_jobs`` workers."""
    sizes = sizes_for(device, quick)
    sizes = replace(sizes, batch=batch or sizes.batch, resolutions=resolutions or sizes.resolutions)
    configure_backends(device)
    info = header(device)
    print(f"# ganbench GPU check: {info['device']}, torch {info['torch']}, CUDA {info['cuda']}, "
          f"cuDNN {info['cudnn']}{' (quick)' if quick else ''}\n", flush=True)
    chosen, modes = modes is not None, modes or training_modes(device)
    result: dict[str, Any] = {**info, "quick": quick, "sizes": asdict(sizes), "training": [], "host_syncs": [],
                              "sampling": [], "features": [], "prdc": None, "determinism": [], "seed_batches": []}
    def save() -> None:
        out.write_text(json.dumps(result, indent=1, default=str))

    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(device, sizes, Path(folder))
        datasets = [synthetic_data(Path(folder), resolution, max(4 * sizes.batch, 128))
                    for resolution in sizes.resolutions]
        for data in datasets:
            for name in variants:
                for mode in modes if "training" in sections else []:
                    if mode.compiled and not chosen and not (data is datasets[-1] and name in COMPILE_VARIANTS):
                        continue
                    row, model = bench.training(name, data, mode)
                    result["training"].append(row)
                    print(f"train {name} {data.resolution}px {mode.name}: {row['status']}", file=sys.stderr, flush=True)
                    save()
                    if (model is not None and mode.name == "ganbench" and "sampling" in sections
                            and not isinstance(model, TranslationModel)):
                        result["sampling"].append(bench.sampling(name, model))
                    del model
                if device.type == "cuda" and "host_syncs" in sections:
                    result["host_syncs"].append(bench.host_syncs(name, data))
                    torch.cuda.empty_cache()
        if "features" in sections:
            result["features"] = [row for data in datasets for row in bench.features(data, data is datasets[-1])]
            save()
        if "prdc" in sections:
            result["prdc"] = bench.prdc()
            save()
        for name in variants if "determinism" in sections else []:
            result["determinism"].append(bench.determinism(name, datasets[0]))
            save()
        for name in seed_batch_variants if "seed_batches" in sections else []:
            result["seed_batches"].append(bench.seed_batch(name))
            save()
    if suite_timeout is not None:
        result["suite"] = suite_wall_time(device, suite_timeout, suite_jobs)
        save()
    print(report(result))
    print(f"wrote {out}")
    failed = [row for key in ("training", "host_syncs", "sampling", "determinism", "seed_batches") for row in result[key]
              if row["status"] != "ok"]
    return 1 if failed else 0


def report(result: dict[str, Any]) -> str:
    prdc = result["prdc"]
    parts = [
        table("Training throughput (plain: float32, contiguous; ganbench: the trainer's defaults, on CUDA "
              "channels_last with TF32; amp: the same under bf16 autocast; bf16: autocast, contiguous; "
              "compiled: under torch.compile, contiguous on CUDA unless named -channels-last; graphs: compiled in "
              "reduce-overhead mode, CUDA graphs)",
              with_speedups(result["training"]),
              [("variant", "variant", ""), ("px", "resolution", "d"), ("mode", "mode", ""),
               ("img/s", "images_per_second", rate), ("x plain", "speedup", ".2f"), ("steps/s", "steps_per_second", rate),
               ("peak MiB", "peak_memory_mib", ",.0f"), ("status", "status", "")]),
        table("Host syncs per 100 training steps (the trainer's own: 10)", result["host_syncs"],
              [("variant", "variant", ""), ("px", "resolution", "d"), ("syncs", "syncs_per_100_steps", ".0f"),
               ("top sources (per 100 steps)", "sources", sync_sources), ("status", "status", "")])
        if result["host_syncs"] else "",
        table("Sampling throughput (uint8 on the host)", result["sampling"],
              [("variant", "variant", ""), ("px", "resolution", "d"), ("n", "n", ",d"),
               ("img/s", "images_per_second", rate), ("status", "status", "")]),
        table("Feature throughput (batches of 100)", result["features"],
              [("network", "network", ""), ("dim", "feature_dim", "d"), ("px", "resolution", "d"), ("n", "n", ",d"),
               ("img/s", "images_per_second", rate)]),
        f"### PRDC (k = 5)\n\n{prdc['n']:,} x {prdc['dim']} per set: {prdc['seconds']:.2f} s "
        f"(precision {prdc['precision']:.4f}, recall {prdc['recall']:.4f}, density {prdc['density']:.4f}, "
        f"coverage {prdc['coverage']:.4f})\n" if prdc else "",
        table("Determinism (same seed twice, deterministic algorithms)", result["determinism"],
              [("variant", "variant", ""), ("steps", "steps", "d"), ("same losses", "same_losses", ""),
               ("same weights", "same_weights", ""), ("ops without a deterministic kernel", "nondeterministic_ops", ""),
               ("status", "status", "")]),
        table("Toy-2D seeds trained as one batched model (batch 100, seed-steps/s; graphed: the batch's step "
              "replayed as a CUDA graph; max difference: of any weight after ten steps replayed against the same "
              "steps run eagerly)", result.get("seed_batches", []),
              [("variant", "variant", ""), ("seeds", "seeds", "d"), ("one after another", "sequential_per_second", rate),
               ("batched", "batched_per_second", rate), ("x one after another", "speedup", ".2f"),
               ("graphed", "graphed_per_second", rate), ("x one after another", "graphed_speedup", ".2f"),
               ("max difference", "graph_max_difference", ".1e"), ("status", "status", "")]),
    ]
    suite = result.get("suite")
    if suite:
        took = f"{suite['seconds']:.0f} s" if suite["seconds"] is not None else "not finished"
        parts.append(f"### Quick suite\n\n`ganbench run --suite all --preset quick --jobs {suite['jobs']}`: {took} "
                     f"({suite['status']})\n")
    return "\n".join(part for part in parts if part)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one variant of each kind, fewer steps and samples")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU at tiny sizes (no GPU needed)")
    parser.add_argument("--variants", default=None, help="comma list of generators (default: see --quick)")
    parser.add_argument("--suite-wall-time", action="store_true",
                        help="also time `ganbench run --suite all --preset quick` on the device")
    parser.add_argument("--suite-timeout", type=float, default=600.0, help="seconds before that run is stopped")
    parser.add_argument("--suite-jobs", type=int, default=1, help="worker processes of that run (ganbench run --jobs)")
    parser.add_argument("--modes", default=None,
                        help=f"comma list of training modes, each for every variant and size ({', '.join(MODES)})")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma list of the measurements to run")
    parser.add_argument("--seed-batch-variants", default=",".join(SEED_BATCH_VARIANTS),
                        help="comma list of the toy-2D variants the seed_batches section times")
    parser.add_argument("--batch", type=int, default=None, help="training batch size (default: the standard preset's)")
    parser.add_argument("--resolutions", default=None, help="comma list of image sizes (default: 32,64)")
    parser.add_argument("--out", type=Path, default=Path("gpu-check.json"), help="JSON file to write")
    args = parser.parse_args()
    modes = args.modes.split(",") if args.modes else []
    sections = tuple(args.sections.split(","))
    seed_batch_variants = tuple(args.seed_batch_variants.split(","))
    for kind, given, known in (("mode", modes, MODES), ("section", sections, SECTIONS),
                               ("seed-batch variant", seed_batch_variants, SEED_BATCH_VARIANTS)):
        if set(given) - set(known):
            print(f"unknown {kind}(s) {', '.join(sorted(set(given) - set(known)))}; known: {', '.join(known)}",
                  file=sys.stderr)
            sys.exit(2)
    try:
        resolutions = tuple(int(r) for r in args.resolutions.split(",")) if args.resolutions else None
    except ValueError:
        print(f"--resolutions takes a comma list of integers, not {args.resolutions!r}", file=sys.stderr)
        sys.exit(2)
    if min(resolutions or (8,)) < 8 or (args.batch is not None and args.batch < 1) or args.suite_jobs < 1:
        print("--resolutions must be at least 8 pixels, --batch and --suite-jobs at least 1", file=sys.stderr)
        sys.exit(2)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if not args.cpu and not torch.cuda.is_available():
        print(f"no CUDA device here (torch {torch.__version__}); run on a GPU machine, or pass --cpu for the "
              "same check at tiny sizes", file=sys.stderr)
        sys.exit(2)
    device = torch.device("cpu" if args.cpu else "cuda")
    images = [name for name, cls in GENERATORS if cls.supports_images]
    if args.variants:
        variants = args.variants.split(",")
        unknown = sorted(set(variants) - set(images))
        if unknown:
            print(f"unknown image generator(s) {', '.join(unknown)}; known: {', '.join(images)}", file=sys.stderr)
            sys.exit(2)
    elif args.quick:
        variants = [name for name in images if name in (CPU_QUICK_VARIANTS if args.cpu else QUICK_VARIANTS)]
    else:
        variants = images
    sys.exit(run(device, args.quick, variants, args.out, args.suite_timeout if args.suite_wall_time else None,
                 modes=[MODES[name] for name in modes] or None, sections=sections, batch=args.batch,
                 resolutions=resolutions, suite_jobs=args.suite_jobs, seed_batch_variants=seed_batch_variants))


if __name__ == "__main__":
    main()
