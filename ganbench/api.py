"""The Python API: the operations of the command line for Python users.

``compute_metrics`` scores samples against a reference and ``compute_statistics`` writes the
FID statistics of a set, with the inputs of ``ganbench metrics`` and ``ganbench stats``
(``folder:PATH``, ``npz:PATH``, a data set such as ``digits`` or ``dataset:mnist:DIR@train``,
``run:RUNDIR:GENERATOR[@SEED]``, ``stats:PATH.npz``; :mod:`ganbench.folder_metrics`). Both are
importable from the package itself:

>>> from ganbench import compute_metrics
>>> scores = compute_metrics("digits@train", "digits", extractor="classifier", kid=True, n=300)
>>> sorted(scores["metrics"])
['fid', 'fid_ci_high', 'fid_ci_low', 'fid_se', 'kid']
>>> scores["protocol"]["input1"]["n"], scores["protocol"]["extractor"]
(300, 'classifier')
>>> fid = scores["metrics"]; 0 < fid["fid"] < 5 and fid["fid_ci_low"] < fid["fid"] < fid["fid_ci_high"]
True

``train_generator`` trains one generator through the units of ``ganbench train`` (the same keys,
records and checkpoints in the run folder ``out``, so a second call, or the command line with the
same options, reuses them) and returns its train record's essentials; ``sample_generator`` (or
the result's ``sample``) draws uint8 ``N,C,H,W`` images from it, as ``ganbench sample`` does:

>>> from ganbench import train_generator, sample_generator
>>> trained = train_generator("dcgan", dataset="digits", preset="smoke", out="runs")
>>> trained.status, trained.steps, sample_generator("runs", "dcgan", n=300, seed=1).shape
('ok', 20, (300, 1, 8, 8))

``evaluate_detector`` is ``ganbench detect``: a detector (a built-in or published name,
``module:Class``, or ``NAME@PATH`` for a saved one) fitted on ``train_real`` / ``train_fakes``
where it needs fitting, then scored on ``real`` against each set of ``fakes`` (a dict names
them). Images are ``folder:PATH``, ``npz:PATH``, a data set (``digits@train``, ``mnist:DIR``) or a
uint8 ``N,C,H,W`` array; it returns each generator's metrics with their bootstrap intervals, and
the protocol:

>>> from ganbench import evaluate_detector
>>> result = evaluate_detector("spectrum", real="digits@test", fakes={"dcgan": trained.sample(300, seed=1)},
...                            train_real="digits@train", train_fakes=trained.sample(600, seed=2))
>>> dcgan = result["metrics"]["dcgan"]; dcgan["auc_ci_low"] <= dcgan["auc"] <= dcgan["auc_ci_high"]
True
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from rich.console import Console

from ganbench.context import RunConfig, RunContext
from ganbench.errors import UserError
from ganbench.fid_stats import FeatureStatistics, write_statistics
from ganbench.folder_metrics import ScoreOptions, score, score_options, statistics
from ganbench.forensics import Detect, DetectRequest
from ganbench.generators import GENERATORS
from ganbench.generators.trainer import check_compile_mode
from ganbench.image_sets import open_images
from ganbench.overrides import build_overrides
from ganbench.planning import SEED_LIMIT
from ganbench.presets import get_preset
from ganbench.records import Record
from ganbench.runner import SuiteRunner
from ganbench.runtime import resolve_device

Images = Union[str, np.ndarray, torch.Tensor]
Overrides = Union[Mapping[str, Any], Sequence[str], None]


def _options(extractor: str | None, n: int | None, device: str | None, extractor_weights: str | Path | None,
             inception_resize: str, seed: int, intervals: bool = False) -> ScoreOptions:
    weights = None if extractor_weights is None else Path(extractor_weights)
    return score_options(extractor, weights, inception_resize, n, seed, resolve_device(device or "auto"), intervals)


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def compute_metrics(input1: str, input2: str | None = None, fid: bool = True, kid: bool = False, isc: bool = False,
                    prdc: bool = False, extractor: str | None = None, n: int | None = None,
                    device: str | None = None, extractor_weights: str | Path | None = None,
                    inception_resize: str = "pytorch-fid", seed: int = 0,
                    intervals: bool = True) -> dict[str, Any]:
    """Metrics of ``input1`` (the samples scored) against ``input2`` (the reference).

    Returns ``{"metrics": {...}, "protocol": {...}}``: ``fid``; ``kid`` and ``kid_std`` (none where
    one subset holds both inputs whole); ``is`` and ``is_std`` (of ``input1``); ``precision``,
    ``recall``, ``density`` and ``coverage`` (``prdc``).
    ``intervals`` adds bootstrap bounds ``_ci_low``/``_ci_high`` to FID (and ``fid_se``) and to the
    four of ``prdc``, conditional on the reference (:mod:`ganbench.score_intervals`).
    ``extractor`` None uses a statistics input's extractor, else ``inception`` when its weights are
    found offline. ``n`` cuts image inputs to a seeded subset of ``n`` images (and is how many
    fakes a ``run:`` input samples). ``inception_resize`` is how images reach Inception:
    ``pytorch-fid``, ``antialiased``, ``clean`` (clean-fid's) or ``tensorflow`` (the original FID
    code's, torch-fidelity's; :mod:`ganbench.inception_resizes`). A user's mistake raises
    :class:`ganbench.errors.UserError`.
    """
    wanted = [name for name, on in (("fid", fid), ("kid", kid), ("is", isc), ("prdc", prdc)) if on]
    specs = [input1] if input2 is None else [input1, input2]
    options = _options(extractor, n, device, extractor_weights, inception_resize, seed, intervals)
    return score(specs, wanted, options, warn=_warn)


def compute_statistics(input: str, out: str | Path | None = None, extractor: str | None = None,
                       n: int | None = None, device: str | None = None,
                       extractor_weights: str | Path | None = None, inception_resize: str = "pytorch-fid",
                       seed: int = 0) -> FeatureStatistics:
    """FID statistics (``mu``, ``sigma``, ``protocol``) of one image input; written to ``out`` when
    given, in pytorch-fid's ``.npz`` layout plus the protocol (:mod:`ganbench.fid_stats`)."""
    stats = statistics(input, _options(extractor, n, device, extractor_weights, inception_resize, seed))
    if out is not None:
        write_statistics(Path(out), stats)
    return stats


def _override_options(overrides: Overrides) -> tuple[str, ...]:
    """``{"dcgan.lr": 1e-4}`` or ``["dcgan.lr=1e-4"]`` as the ``--set`` options they stand for."""
    if overrides is None:
        return ()
    if isinstance(overrides, str):
        return (overrides,)
    if isinstance(overrides, Mapping):
        return tuple(f"{target}={value}" for target, value in overrides.items())
    return tuple(overrides)


def _run_config(name: str, dataset: str, preset: str, out: str | Path, seed: int, overrides: Overrides,
                device: str | None, force: bool = False, quiet: bool = True, amp: bool = False,
                compile_mode: str | None = None) -> RunConfig:
    """The configuration ``ganbench train NAME`` builds from the same options (so the unit keys agree)."""
    GENERATORS.get(name)
    if not 0 <= seed < SEED_LIMIT:
        raise UserError(f"seed must be in [0, 2^32) (got {seed})")
    check_compile_mode(compile_mode, "compile_mode")
    chosen = build_overrides(_override_options(overrides))
    outside = chosen.targets_outside([name])
    if outside:
        raise UserError(f"overrides for {', '.join(outside)}, which is not {name}: they would change nothing")
    return RunConfig(suite=name, preset=chosen.apply_to_preset(get_preset(preset)), dataset=dataset, out=Path(out),
                     device=resolve_device(device or "auto"), seed=seed, force=force, quiet=quiet, overrides=chosen,
                     amp=amp, compiled=compile_mode)


@dataclass(frozen=True)
class TrainedGenerator:
    """A generator trained in a run folder: its train record's essentials and the quality of its fakes.

    ``checkpoint`` is the path of its checkpoint (None where training failed); ``losses`` the last losses
    read; ``metrics`` the quality metrics of its evaluation fakes (empty with ``measure=False``);
    ``records`` the bodies of its train (and sample and generation) records.
    """

    name: str
    status: str
    steps: int
    checkpoint: Path | None
    losses: dict[str, float]
    metrics: dict[str, Any]
    reason: str | None
    records: list[dict[str, Any]]
    config: RunConfig = field(repr=False)

    def sample(self, n: int, seed: int = 0, truncation: float | None = None, raw_values: bool = False) -> np.ndarray:
        """``n`` uint8 ``N,C,H,W`` images (float points for 2-D sets) drawn with ``seed``, on the reals'
        intensity values where those are quantized unless ``raw_values`` (as ``sample_generator``)."""
        return _sample(self.config, self.name, n, seed, truncation, raw_values)


def train_generator(name: str, dataset: str = "digits", preset: str = "smoke", out: str | Path = "runs",
                    seed: int = 0, overrides: Overrides = None, device: str | None = None, measure: bool = True,
                    force: bool = False, quiet: bool = True, amp: bool = False,
                    compile_mode: str | None = None) -> TrainedGenerator:
    """Train ``name`` on ``dataset`` under ``preset`` into the run folder ``out``, as ``ganbench train`` does:
    train, sample and (``measure``) score its fakes, each unit read back when a finished record exists
    (``force`` recomputes), a training resumed from its checkpoint. ``overrides`` are ``--set`` overrides, as
    ``{"dcgan.lr": 1e-4, "preset.steps": 20}`` or ``["dcgan.lr=1e-4"]``; ``amp`` trains under bf16 autocast
    (``--amp``) and ``compile_mode`` compiles the networks in that ``torch.compile`` mode
    (``--compile-mode``). A user's mistake raises :class:`ganbench.errors.UserError`.
    """
    config = _run_config(name, dataset, preset, out, seed, overrides, device, force, quiet, amp, compile_mode)
    units = SuiteRunner(config, Console(stderr=True, quiet=quiet)).generation
    records: list[Record] = units.run_generator(name) if measure else [units.train_generator(name)]
    trained = records[0]
    quality = records[2].metrics if measure and records[2].ok else {}
    checkpoint = trained.info.get("checkpoint")
    return TrainedGenerator(name=name, status=trained.status, steps=int(trained.metrics.get("steps") or 0),
                            checkpoint=None if checkpoint is None else config.out / checkpoint,
                            losses=dict(trained.info.get("losses") or {}), metrics=dict(quality),
                            reason=trained.reason, records=[r.to_dict() for r in records], config=config)


def _sample(config: RunConfig, name: str, n: int, seed: int, truncation: float | None,
            raw_values: bool) -> np.ndarray:
    if n <= 0:
        raise UserError(f"n must be positive (got {n})")
    GENERATORS.get(name).check_truncation(truncation)
    context = RunContext(config, Console(stderr=True, quiet=True))
    return context.samples(name, n, seed, truncation, raw_values)[0].numpy()


def sample_generator(out: str | Path, name: str, n: int = 64, seed: int = 0, dataset: str = "digits",
                     preset: str = "smoke", train_seed: int = 0, overrides: Overrides = None,
                     device: str | None = None, truncation: float | None = None, amp: bool = False,
                     compile_mode: str | None = None, raw_values: bool = False) -> np.ndarray:
    """``n`` uint8 ``N,C,H,W`` images of ``name`` trained in ``out`` (with the data set, preset, seed,
    overrides, ``amp`` and ``compile_mode`` of its training), drawn with ``seed``, as ``ganbench sample`` does:
    where the real images are quantized (the digits' 17 grey levels) the samples are put on the same
    values, as a run's fakes are, unless ``raw_values``."""
    config = _run_config(name, dataset, preset, out, train_seed, overrides, device, amp=amp, compile_mode=compile_mode)
    return _sample(config, name, n, seed, truncation, raw_values)


def _staged(images: Images, folder: Path, name: str) -> tuple[str, str]:
    """(the ``folder:``/``npz:`` spec ``ganbench detect`` reads, what the protocol calls it): data sets and
    arrays are written to an ``.npz`` in ``folder``."""
    if isinstance(images, str):
        if images.partition(":")[0] in ("folder", "npz"):
            return images, images
        array, label = open_images(images).images.numpy(), images
    else:
        array = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if array.dtype != np.uint8 or array.ndim != 4:
            raise UserError(f"{name}: expected uint8 N,C,H,W images (got {array.dtype} of shape {array.shape})")
        label = f"array of {len(array)} images"
    path = folder / f"{name}.npz"
    np.savez(path, x=array)
    return f"npz:{path}", label


def _relabelled(value: Any, labels: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _relabelled(v, labels) for k, v in value.items()}
    if isinstance(value, list):
        return [_relabelled(v, labels) for v in value]
    return labels.get(value, value) if isinstance(value, str) else value


def _argument_options(arguments: Mapping[str, Any] | None) -> list[str]:
    def text(value: Any) -> str:
        return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    return [f"{key}={text(value)}" for key, value in (arguments or {}).items()]


def evaluate_detector(detector: str, real: Images, fakes: Images | Mapping[str, Images],
                      train_real: Images | None = None, train_fakes: Images | None = None, size: int | None = None,
                      resize: str = "center-crop", perturbations: Sequence[str] = (),
                      detector_args: Mapping[str, Any] | None = None, device: str | None = None,
                      seed: int = 0) -> dict[str, Any]:
    """``ganbench detect`` for one detector: fitted on ``train_real``/``train_fakes`` where it needs fitting
    (a validation slice of them sets the threshold), scored on ``real`` against every set of ``fakes`` (one set,
    named ``fakes``, or a dict name -> images) at the native size or ``size`` (``resize``).

    Returns ``{"detector", "metrics", "perturbed", "protocol"}``: ``metrics[generator]`` the clean test (AUC, AP,
    accuracies, EER, TPR@1%FPR, each with ``_ci_low``/``_ci_high`` bootstrap bounds, the threshold and the image
    counts); ``perturbed[generator][spec]`` the same under each of ``perturbations`` (``jpeg:Q``, ``blur:SIGMA``,
    ``resize:SCALE``, ``noise:SIGMA``). A user's mistake raises :class:`ganbench.errors.UserError`.
    """
    named = dict(fakes) if isinstance(fakes, Mapping) else {"fakes": fakes}
    if not named:
        raise UserError("fakes names no set of fake images")
    if (train_real is None) != (train_fakes is None):
        raise UserError("train_real and train_fakes go together")
    with tempfile.TemporaryDirectory(prefix="ganbench-detect-") as folder:
        staged: dict[str, str] = {}

        def stage(images: Images, name: str) -> str:
            spec, label = _staged(images, Path(folder), name)
            staged[spec] = label
            return spec

        request = DetectRequest(
            detectors=[detector], arguments=_argument_options(detector_args), real=stage(real, "real"),
            fakes=[f"{name}={stage(images, f'fakes-{index}')}" for index, (name, images) in enumerate(named.items())],
            train_real=None if train_real is None else stage(train_real, "train_real"),
            train_fakes=None if train_fakes is None else stage(train_fakes, "train_fakes"), size=size, resize=resize,
            perturbations=list(dict.fromkeys(["none", *perturbations])), device=resolve_device(device or "auto"),
            seed=seed)
        outcome = Detect(request).run()
    metrics: dict[str, dict[str, Any]] = {}
    perturbed: dict[str, dict[str, dict[str, Any]]] = {}
    for row in outcome.rows:
        values = {k: v for k, v in row.items() if k not in ("detector", "generator", "perturbation")}
        if row["perturbation"] == "none":
            metrics[row["generator"]] = values
        else:
            perturbed.setdefault(row["generator"], {})[row["perturbation"]] = values
    label = outcome.rows[0]["detector"] if outcome.rows else detector
    return {"detector": label, "metrics": metrics, "perturbed": perturbed,
            "protocol": _relabelled(outcome.protocol, staged)}
