"""Training curves: losses every few steps and a cheap quality check at a few steps, one JSONL file
per training unit (``RunStore.curves_path``), so a run that diverges, oscillates or collapses shows it.

Each line is one JSON object, written and flushed as soon as it is known:

* ``{"step": 10, "window": 10, "losses": {"loss_d": 1.31, "loss_g": 0.72}}``: the mean of each loss
  over the ``window`` steps that end at ``step``; a line every ``every`` steps and at the last step;
* ``{"step": 80, "n_fake": 32, "quality": {"fid": 93.1, "classes_covered": 9, "class_kl": 0.21}}``:
  the cheap check, at every multiple of ``budget // checks`` and at the last step of the budget.

The cheap check (:class:`QualityProbe`) measures ``n_fake`` fakes drawn with one fixed seed: for
images, FID against a fixed seeded subset of ``n_real`` test images in the reference classifier's
features, and class coverage; for 2-D points, modes covered and % high-quality samples.
Image-to-image variants translate the first ``n_fake`` test inputs instead. The diffusion family
logs losses only: each of its fakes costs a whole denoising chain, which no cheap check affords.
With so few fakes the FID is biased upwards (FID falls as samples grow): it tracks one training
over its steps and is no substitute for the generation unit's FID.

The trainer hands each step's losses over as a mapping read lazily from the device
(``ganbench.generators.step_losses``): the logger keeps them and looks at their values only when it
writes a line or runs a check, so on CUDA it adds no wait for the device to the steps in between.
A step with a non-finite loss ends the losses and checks of the curve: the training diverged there
(the trainer stops within its read interval and records that step).

The check never changes the training: it samples from the variant's sampling network (the EMA
copy where there is one) with a dedicated seeded generator under :func:`preserved_rng`, and the
networks return to train mode. On resume (:meth:`CurveLogger.resume`) lines past the
checkpoint's step are dropped, so a killed and resumed training logs each step once. Where the
``tensorboard`` package is importable the same scalars also go to a TensorBoard folder.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from ganbench.data import Dataset
from ganbench.features import ClassifierExtractor
from ganbench.generators import GenerativeModel
from ganbench.generators.translation_blocks import TranslationModel
from ganbench.metrics import class_coverage, frechet_distance, gaussian_statistics, mode_coverage_2d
from ganbench.records import plain_number
from ganbench.runtime import derive_seed, preserved_rng, torch_generator
from ganbench.store import atomic_write_bytes
from ganbench.tasks import fake_inputs

UNCHECKED_FAMILIES = ("diffusion",)


@dataclass(frozen=True)
class CurveConfig:
    """How often and how much: a loss line every ``every`` steps, ``checks`` evenly spaced cheap
    checks over the budget (plus the last step), each of ``n_fake`` fakes against ``n_real`` reals.

    32 fakes keep the five checks within 2% of a training at the quick preset on one CPU thread
    (``benchmarks/curves_overhead.py``; the reference classifier's features dominate the cost)."""

    every: int = 10
    checks: int = 5
    n_fake: int = 32
    n_real: int = 256

    def __post_init__(self) -> None:
        if self.every < 1 or self.checks < 0 or min(self.n_fake, self.n_real) < 2:
            raise ValueError(f"invalid {self}: every >= 1, checks >= 0 and at least two fakes and reals")


_REAL_STATISTICS: dict[tuple[str, str, int, int], tuple[np.ndarray, np.ndarray]] = {}


class QualityProbe:
    """The cheap quality check of one data set, with fixed reals, inputs and seed."""

    def __init__(self, data: Dataset, extractor: ClassifierExtractor | None, seed: int, n_fake: int = 32,
                 n_real: int = 256) -> None:
        if data.kind == "image" and extractor is None:
            raise ValueError("the cheap check of images needs the reference classifier")
        self.data, self.extractor, self.n_fake, self.n_real = data, extractor, n_fake, n_real
        self.seed = derive_seed(seed, "curves")

    def real_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the fixed real subset's features, computed once per process."""
        assert self.extractor is not None
        key = (self.extractor.weights_hash, self.data.fingerprint, self.n_real, self.seed)
        if key not in _REAL_STATISTICS:
            x = self.data.x_test
            order = torch.randperm(len(x), generator=torch_generator(self.seed))[: self.n_real]
            _REAL_STATISTICS[key] = gaussian_statistics(self.extractor.extract(x[order.sort().values]).features)
        return _REAL_STATISTICS[key]

    def fakes(self, model: GenerativeModel) -> torch.Tensor:
        """``n_fake`` fakes of ``model``: sampled with the fixed seed, or translated from fixed test inputs."""
        n = self.n_fake
        if isinstance(model, TranslationModel):
            data = self.data
            inputs = fake_inputs(model.task_view, model.spec.geometry.to_model(data.x_test[:n]), data.y_test[:n],
                                 data.num_classes, n, self.seed)
            return model.translate(inputs.source, inputs.target_labels, seed=self.seed)
        labels, codes = model.evaluation_conditions(n)
        return model.sample(n, labels=labels if codes is None else codes, seed=self.seed)

    def __call__(self, model: GenerativeModel) -> dict[str, float]:
        """The check's numbers; the global RNG state is left as it was, and ``sample``/``translate``
        put the networks back in the mode they found them in."""
        with preserved_rng():
            fakes = self.fakes(model)
        if self.data.kind == "points":
            assert self.data.modes is not None and self.data.mode_std is not None
            return mode_coverage_2d(fakes, self.data.modes, self.data.mode_std)
        assert self.extractor is not None
        extracted = self.extractor.extract(fakes)
        quality = {"fid": frechet_distance(*self.real_statistics(), *gaussian_statistics(extracted.features))}
        if self.data.num_classes > 1 and extracted.probs is not None:
            quality.update(class_coverage(extracted.probs))
        return quality


def _tensorboard(folder: Path, purge_step: int | None) -> Any:
    """A TensorBoard ``SummaryWriter`` into ``folder``, or None where the package is missing or broken."""
    if importlib.util.find_spec("tensorboard") is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder), purge_step=purge_step)


class CurveLogger:
    """Writes one training's curve file: :meth:`on_step` every step, :meth:`check` where :meth:`due`."""

    def __init__(self, path: Path, budget: int, probe: QualityProbe | None = None,
                 config: CurveConfig = CurveConfig(), tensorboard: Path | None = None) -> None:
        self.path, self.budget, self.probe, self.config = Path(path), budget, probe, config
        self.tensorboard = tensorboard
        self.check_every = max(1, budget // config.checks) if config.checks > 0 else 0
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._window = 0
        self._step = 0
        self._unread: list[tuple[int, Mapping[str, float]]] = []
        self._diverged = False

    def resume(self, step: int) -> None:
        """Continue after ``step``: keep the complete lines of steps up to it, drop the rest (and any
        losses not written yet)."""
        self._close_files()
        self._sums, self._counts, self._window = {}, {}, 0
        self._unread, self._diverged = [], False
        kept = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    if int(json.loads(line)["step"]) <= step:
                        kept.append(line + "\n")
                except (ValueError, KeyError, TypeError):
                    continue
        atomic_write_bytes(self.path, "".join(kept).encode())
        self._file = self.path.open("a", encoding="utf-8")
        if self.tensorboard is not None:
            self._writer = _tensorboard(self.tensorboard, step + 1)

    def _start(self) -> None:
        """A training that did not resume starts afresh."""
        if self._file is None:
            self.resume(0)

    def _write(self, body: dict[str, Any], group: str, values: dict[str, float]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(body, separators=(",", ":")) + "\n")
        self._file.flush()
        if self._writer is not None:
            for name, value in values.items():
                self._writer.add_scalar(f"{group}/{name}", value, body["step"])

    def on_step(self, step: int, losses: Mapping[str, float]) -> None:
        """Keep one step's losses; write their means every ``every`` steps and at the last step."""
        self._start()
        self._unread.append((step, losses))
        if step % self.config.every == 0 or step == self.budget:
            self._flush_losses()

    def _add_unread(self) -> None:
        """Add the kept steps' values to the window, in step order, up to the first non-finite step."""
        for step, losses in self._unread:
            values = dict(losses)
            if self._diverged or not all(math.isfinite(v) for v in values.values()):
                self._diverged = True
                break
            for name, value in values.items():
                self._sums[name] = self._sums.get(name, 0.0) + value
                self._counts[name] = self._counts.get(name, 0) + 1
            self._window += 1
            self._step = step
        self._unread = []

    def _flush_losses(self) -> None:
        self._add_unread()
        if not self._window:
            return
        means = {name: self._sums[name] / self._counts[name] for name in self._sums}
        self._write({"step": self._step, "window": self._window, "losses": means}, "loss", means)
        self._sums, self._counts, self._window = {}, {}, 0

    def due(self, step: int) -> bool:
        """Whether the cheap check runs after ``step``."""
        return self.probe is not None and self.check_every > 0 and (step % self.check_every == 0
                                                                     or step == self.budget)

    def check(self, step: int, model: GenerativeModel) -> None:
        """Run the cheap check on ``model`` and write its line (none once a loss was not finite)."""
        assert self.probe is not None
        self._start()
        self._add_unread()
        if self._diverged:
            return
        quality = {name: plain_number(value) for name, value in self.probe(model).items()}
        self._write({"step": step, "n_fake": self.probe.n_fake, "quality": quality}, "quality",
                    {k: v for k, v in quality.items() if v is not None})

    def close(self) -> None:
        """Write the losses of a window cut short (a stopped training), then close the file."""
        self._flush_losses()
        self._close_files()

    def _close_files(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> CurveLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def curve_probe(model: GenerativeModel, data: Dataset, extractor: Callable[[], ClassifierExtractor] | None,
                seed: int, config: CurveConfig = CurveConfig()) -> QualityProbe | None:
    """The cheap check for ``model`` on ``data``, or None where the training logs losses only: a
    variant of an unchecked family, no checks asked for, or images without a reference classifier
    (``extractor`` builds it, and is only called where a check needs it)."""
    if model.family in UNCHECKED_FAMILIES or config.checks <= 0:
        return None
    if data.kind == "points":
        return QualityProbe(data, None, seed, config.n_fake, config.n_real)
    if extractor is None:
        return None
    return QualityProbe(data, extractor(), seed, config.n_fake, config.n_real)
