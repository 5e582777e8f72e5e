"""The ``ganbench`` command line (Typer + rich).

One function per command with its options; the commands are thin (they validate options and
call the run context, the runner or the leaderboards), so the module stays one map of the CLI.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import typer
import typer.core
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ganbench import __version__
from ganbench.errors import Interrupted, UserError, raise_interrupted

if TYPE_CHECKING:
    from ganbench.forensics import DetectOutcome
    from ganbench.overrides import Overrides
    from ganbench.units import RunSummary

# Typer raises click's exception classes (vendored in newer Typer releases): found through its own BadParameter.
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class OneLineErrors(typer.core.TyperGroup):
    """Usage errors (unknown option, a value of the wrong type) end with one line and exit code 2,
    like every other user error, instead of click's usage block."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _USAGE_ERROR as exc:
            where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            typer.echo(f"error: {' '.join(exc.format_message().split())}{where}", err=True)
            sys.exit(2)
        except _CLICK_EXCEPTION as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(name="ganbench", help="Train the GAN family, measure quality, benchmark deepfake detectors.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=OneLineErrors)
leaderboard_app = typer.Typer(help="Leaderboard tables from the records of a run.", no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")

_debug = {"on": False}
PIPED_WIDTH = 10_000
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    """A :class:`UserError` ends the command with one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as exc:
            if _debug["on"]:
                traceback.print_exc()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def table_console() -> Console:
    """The console that prints tables on standard output: fitted to a terminal (or to ``COLUMNS``
    where it is set); written to a pipe or a file, where rich would assume 80 columns and fold every
    cell to a few characters, each table keeps its natural width."""
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(width=PIPED_WIDTH, highlight=False)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
          version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    _debug["on"] = debug


class Listing(str, Enum):
    generators = "generators"
    detectors = "detectors"
    datasets = "datasets"
    metrics = "metrics"
    extractors = "extractors"
    suites = "suites"
    presets = "presets"


def _listing(what: Listing) -> list[dict[str, Any]]:
    """The rows of one registry, in registration order."""
    import dataclasses

    from ganbench.detectors import DETECTORS
    from ganbench.data import DATASETS
    from ganbench.features import EXTRACTORS
    from ganbench.metrics import METRICS
    from ganbench.presets import PRESETS
    from ganbench.suites import SUITES
    from ganbench.generators import GENERATORS

    if what is Listing.generators:
        return [cls.describe() for _, cls in GENERATORS]
    if what is Listing.detectors:
        return [{"name": name, "paper": getattr(cls, "paper", ""), "year": getattr(cls, "year", None)}
                for name, cls in DETECTORS]
    if what is Listing.datasets:
        return [{"name": info.name, "description": info.description, "kind": info.kind, "offline": info.offline}
                for _, info in DATASETS]
    if what is Listing.metrics:
        return [{**dataclasses.asdict(metric), "fields": ", ".join(metric.fields)} for _, metric in METRICS]
    if what is Listing.extractors:
        return [{"name": name, "description": cls.description} for name, cls in EXTRACTORS]
    if what is Listing.suites:
        return [{"name": name, "description": s.description, "generators": ", ".join(s.generators())}
                for name, s in SUITES]
    return [{**dataclasses.asdict(p), "training_images": p.training_images} for _, p in PRESETS]


@app.command("list")
@user_errors
def list_command(what: Listing = typer.Argument(..., help="What to list."),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List registered generators, detectors, data sets, quality metrics, feature extractors, suites or presets."""
    rows = _listing(what)
    if as_json:
        typer.echo(json.dumps(rows, indent=1, default=str))
        return
    table = Table(title=what.value, header_style="bold")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    table_console().print(table)


def _run_config(suite: str, *, preset: Optional[str] = None, dataset: str = "digits", out: Path = Path("runs"),
                device: str = "auto", seed: int = 0, checkpoint_every: Optional[int] = None,
                extractor: str = "classifier", extractor_weights: Optional[Path] = None,
                inception_resize: str = "pytorch-fid", resolution: Optional[int] = None,
                detection_plan: Optional[str] = None, max_minutes: Optional[float] = None, sets: tuple[str, ...] = (),
                config_file: Optional[Path] = None, compile: bool = False, compile_mode: Optional[str] = None,
                **extra: Any) -> Any:
    """The validated configuration of a command; ``extra`` are further :class:`RunConfig` fields.
    ``--config`` and ``--set`` overrides apply first, the command's own options after them."""
    from ganbench.features import check_extractor
    from ganbench.overrides import build_overrides
    from ganbench.planning import SEED_LIMIT
    from ganbench.presets import (MAX_RESOLUTION, MIN_RESOLUTION, PLANS, default_preset, get_preset,
                                  preset_field_problem)
    from ganbench.context import RunConfig
    from ganbench.generators.trainer import check_compile_mode
    from ganbench.runtime import resolve_device

    check_extractor(extractor, extractor_weights, inception_resize)
    if not 0 <= seed < SEED_LIMIT:
        raise UserError(f"--seed must be in [0, 2^32) (got {seed})")
    resolved = resolve_device(device)
    overrides = build_overrides(sets, config_file)
    _check_override_targets(overrides, suite, sets, config_file)
    chosen = overrides.apply_to_preset(get_preset(preset or default_preset(resolved.type)))
    if checkpoint_every is not None:
        if checkpoint_every <= 0:
            raise UserError("--checkpoint-every must be positive")
        chosen = chosen.with_overrides(checkpoint_every=checkpoint_every)
    if resolution is not None:
        if preset_field_problem("resolution", resolution):
            raise UserError(f"--resolution must be from {MIN_RESOLUTION} to {MAX_RESOLUTION} pixels (got {resolution})")
        chosen = chosen.with_overrides(resolution=resolution)
    if detection_plan is not None:
        if detection_plan not in PLANS:
            raise UserError(f"--detection-plan must be one of {', '.join(PLANS)} (got {detection_plan!r})")
        chosen = chosen.with_overrides(detection_plan=detection_plan)
    if max_minutes is not None and not max_minutes > 0:
        raise UserError(f"--max-minutes must be positive (got {max_minutes})")
    check_compile_mode(compile_mode, "--compile-mode")
    return RunConfig(suite=suite, preset=chosen, dataset=dataset, out=out, device=resolved, seed=seed,
                     extractor=extractor, extractor_weights=extractor_weights, inception_resize=inception_resize,
                     max_minutes=max_minutes,
                     overrides=overrides, compiled=compile_mode or ("default" if compile else None), **extra)


def _check_override_targets(overrides: Overrides, suite: str, sets: tuple[str, ...], config_file: Optional[Path]) -> None:
    """Refuse a ``--set`` for a generator the command does not train; warn of such a ``--config`` table
    (one file may hold the tables of many generators)."""
    from ganbench.overrides import parse_set
    from ganbench.suites import resolve_suite

    generators, _ = resolve_suite(suite)
    typed = {parse_set(option)[0] for option in sets}
    for target in overrides.targets_outside(generators):
        if target in typed:
            raise UserError(f"--set {target}.…: this command does not train {target} "
                            f"(it trains {', '.join(generators)})")
        typer.echo(f"warning: --config {config_file}: the [{target}] table sets nothing here, "
                   f"as this command does not train {target}", err=True)


SuiteOpt = typer.Option("smoke", "--suite", "-s", help="Suite name or comma list of generators/detectors.")
PresetOpt = typer.Option(None, "--preset", "-p", help="smoke, quick (CPU default), standard (CUDA default), full.")
DatasetOpt = typer.Option("digits", "--dataset", "-d", help="digits, toy2d, mnist, npz:PATH, folder:PATH, ...")
OutOpt = typer.Option(Path("runs"), "--out", "-o", help="Run folder for records, checkpoints and fakes.")
DeviceOpt = typer.Option("auto", "--device", help="auto, cpu or cuda.")
SeedOpt = typer.Option(0, "--seed", help="Seed of the run.")
ForceOpt = typer.Option(False, "--force", help="Recompute finished units.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bars or tables.")
SkipBadOpt = typer.Option(False, "--skip-bad", help="Skip unreadable images in folder data sets.")
AllowSmallOpt = typer.Option(False, "--allow-small", help="Run on a data set under 50 training or 20 test images "
                                                           "(never under 10 and 6), with a warning.")
CheckpointOpt = typer.Option(None, "--checkpoint-every", help="Checkpoint training every N steps (preset default).")
ResolutionOpt = typer.Option(None, "--resolution", help="Side of the real images in pixels, reached by centre crop and "
                                                        "downsampling; above the native size images are enlarged, "
                                                        "with a warning (default: native, at most the preset's "
                                                        "maximum).")
PlanOpt = typer.Option(None, "--detection-plan", help="matrix (a detector per generator, leave-one-out) or compact "
                                                      "(the first generator's and train-on-all); preset default.")
SetOpt = typer.Option([], "--set", help="TARGET.FIELD=VALUE: override a preset field (preset.steps=2000) or a "
                                        "generator's hyper-parameter (dcgan.lr=1e-4); repeatable, wins over --config.")
ConfigOpt = typer.Option(None, "--config", help="A TOML file with \\[preset] and \\[<generator>] tables of overrides.")
FakesOpt = typer.Option([], "--fakes", help="NAME=folder:PATH or NAME=npz:PATH: external fakes as one more test "
                                            "generator for every detector (repeatable).")
DetectorsOpt = typer.Option(None, "--detectors", help="Comma list of detectors (names, entry points or "
                                                      "module:Class) instead of the suite's.")
ExtractorOpt = typer.Option("classifier", "--extractor", help="Quality features: classifier, inception, timm:<model>.")
ExtractorWeightsOpt = typer.Option(None, "--extractor-weights", "--inception-weights",
                                   help="Local weights file of the inception or timm extractor.")
InceptionResizeOpt = typer.Option("pytorch-fid", "--inception-resize",
                                  help="How images reach Inception's 299x299: pytorch-fid (torch bilinear, no "
                                       "antialiasing), antialiased (the same, antialiased when shrinking), clean "
                                       "(clean-fid's) or tensorflow (the original FID code's, torch-fidelity's).")
CompileOpt = typer.Option(False, "--compile", help="Compile the networks with torch.compile (part of the "
                                                    "training units' keys: compiled kernels round differently).")
CompileModeOpt = typer.Option(None, "--compile-mode", help="torch.compile mode, implies --compile: default, "
                              "reduce-overhead (CUDA graphs) or max-autotune.")
AmpOpt = typer.Option(False, "--amp", help="Train under bf16 autocast (pays at large batches on a GPU; "
                      "part of the training units' keys).")
ShardOpt = typer.Option(None, "--shard", help="Run shard i of n (e.g. 2/4) of the suite against a shared --out.")
SeedsOpt = typer.Option(None, "--seeds", help="Repeat every unit per seed: a count (3 means 0,1,2) or a comma list; "
                                              "tables show mean ± std and intervals over seeds.")
MaxMinutesOpt = typer.Option(None, "--max-minutes", help="Safety limit on each training's wall clock; a training it "
                                                          "stops is recorded as truncated and left out of rankings.")
JobsOpt = typer.Option(1, "--jobs", "-j", help="Worker processes sharing this machine's CPU threads; work items go "
                                              "to whichever worker is free.")
MemoryBudgetOpt = typer.Option("auto", "--memory-budget", help="Most decoded image bytes a folder data set may hold "
                                                               "in memory (512MB, 4GB; auto: a quarter of the RAM; "
                                                               "0: stream always); a larger one streams from a "
                                                               "memory-mapped cache file.")
DataWorkersOpt = typer.Option(None, "--data-workers", help="Processes decoding a folder and feeding streamed "
                                                           "training (0: none; default one per CPU, at most 8).")


def _data_options(memory_budget: str, data_workers: Optional[int]) -> dict[str, Any]:
    """``--memory-budget`` and ``--data-workers`` as :class:`RunConfig` fields."""
    from ganbench.data_cache import parse_memory_budget

    if data_workers is not None and data_workers < 0:
        raise UserError(f"--data-workers {data_workers}: expected 0 or more")
    return {"memory_budget": parse_memory_budget(memory_budget), "data_workers": data_workers}


def _close_run(summary: RunSummary, console: Console, out: Path) -> None:
    """The run's last line; exit code 1 when a unit failed, diverged or was truncated (after every other unit ran)."""
    console.print(f"{summary.computed} unit(s) computed, {summary.reused} reused; records in {out}/records")
    console.print(f"next: ganbench leaderboard show --out {out}   or   ganbench leaderboard publish --out {out} "
                  f"--site site", markup=False, highlight=False, soft_wrap=True)
    if summary.problems:
        typer.echo(f"{len(summary.problems)} unit(s) failed, diverged or were truncated", err=True)
        raise typer.Exit(1)


def _detector_list(spec: Optional[str]) -> tuple[str, ...]:
    if spec is None:
        return ()
    names = tuple(n.strip() for n in spec.split(",") if n.strip())
    if not names:
        raise UserError("--detectors names no detector")
    return names


@app.command()
@user_errors
def run(suite: str = SuiteOpt, preset: Optional[str] = PresetOpt, dataset: str = DatasetOpt, out: Path = OutOpt,
        device: str = DeviceOpt, seed: int = SeedOpt, force: bool = ForceOpt, quiet: bool = QuietOpt,
        skip_bad: bool = SkipBadOpt, allow_small: bool = AllowSmallOpt,
        checkpoint_every: Optional[int] = CheckpointOpt, fakes: list[str] = FakesOpt,
        detectors: Optional[str] = DetectorsOpt, extractor: str = ExtractorOpt,
        extractor_weights: Optional[Path] = ExtractorWeightsOpt, inception_resize: str = InceptionResizeOpt,
        compile_networks: bool = CompileOpt,
        compile_mode: Optional[str] = CompileModeOpt, amp: bool = AmpOpt, shard: Optional[str] = ShardOpt,
        resolution: Optional[int] = ResolutionOpt,
        detection_plan: Optional[str] = PlanOpt, jobs: int = JobsOpt,
        max_minutes: Optional[float] = MaxMinutesOpt, seeds: Optional[str] = SeedsOpt,
        sets: list[str] = SetOpt, config_file: Optional[Path] = ConfigOpt,
        memory_budget: str = MemoryBudgetOpt, data_workers: Optional[int] = DataWorkersOpt) -> None:
    """Train, sample, measure and detect: every unit of a suite, resumable."""
    import dataclasses

    from ganbench.detection import check_constructors
    from ganbench.detectors.external import check_fakes_options
    from ganbench.parallel import run_in_workers
    from ganbench.planning import parse_seeds, parse_shard
    from ganbench.units import RunSummary
    from ganbench.runner import SuiteRunner
    from ganbench.generators.distributed import launched
    from ganbench.leaderboards import print_leaderboard

    if launched():
        raise UserError("torchrun trains one generator data-parallel with `ganbench train`; "
                        "split a suite across machines with --shard i/n")
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: expected at least 1 worker")
    if seeds is not None and seed != 0:
        raise UserError("--seed and --seeds exclude each other: list the seeds with --seeds")
    seed_list = (seed,) if seeds is None else parse_seeds(seeds)
    check_fakes_options(fakes)
    config = dataclasses.replace(
        _run_config(suite, preset=preset, dataset=dataset, out=out, device=device, seed=seed, force=force, quiet=quiet,
                    skip_bad=skip_bad, allow_small=allow_small, checkpoint_every=checkpoint_every, extractor=extractor,
                    extractor_weights=extractor_weights, inception_resize=inception_resize, resolution=resolution,
                    detection_plan=detection_plan,
                    compile=compile_networks, compile_mode=compile_mode, amp=amp,
                    shard=None if shard is None else parse_shard(shard),
                    max_minutes=max_minutes, sets=tuple(sets), config_file=config_file,
                    **_data_options(memory_budget, data_workers)),
        detectors=_detector_list(detectors), fakes=tuple(fakes))
    check_constructors(config)
    console = Console(stderr=True, quiet=quiet)
    summary = RunSummary()
    for each in seed_list:
        if len(seed_list) > 1:
            console.print(f"[bold]seed {each}[/] ({seed_list.index(each) + 1} of {len(seed_list)})")
        seeded = dataclasses.replace(config, seed=each)
        summary.add(run_in_workers(seeded, console, jobs) if jobs > 1 else SuiteRunner(seeded, console).run())
    if not quiet:
        print_leaderboard(summary.bodies(), table_console())
    _close_run(summary, console, out)


@app.command("train")
@user_errors
def train_command(generator: str = typer.Argument(..., help="Generator name (ganbench list generators)."),
                  preset: Optional[str] = PresetOpt, dataset: str = DatasetOpt, out: Path = OutOpt,
                  device: str = DeviceOpt, seed: int = SeedOpt, force: bool = ForceOpt,
                  quiet: bool = QuietOpt, skip_bad: bool = SkipBadOpt, allow_small: bool = AllowSmallOpt,
                  checkpoint_every: Optional[int] = CheckpointOpt, extractor: str = ExtractorOpt,
                  extractor_weights: Optional[Path] = ExtractorWeightsOpt,
                  inception_resize: str = InceptionResizeOpt,
                  compile_networks: bool = CompileOpt, compile_mode: Optional[str] = CompileModeOpt,
                  amp: bool = AmpOpt, resolution: Optional[int] = ResolutionOpt,
                  max_minutes: Optional[float] = MaxMinutesOpt,
                  sets: list[str] = SetOpt,
                  config_file: Optional[Path] = ConfigOpt, memory_budget: str = MemoryBudgetOpt,
                  data_workers: Optional[int] = DataWorkersOpt) -> None:
    """Train one generator, sample its fakes and measure their quality.

    Under ``torchrun --nproc_per_node=N`` it trains data-parallel: one process per device, and
    only rank 0 writes records and checkpoints.
    """
    import dataclasses

    from ganbench.ranks import follow_training
    from ganbench.runner import SuiteRunner
    from ganbench.generators import GENERATORS
    from ganbench.generators import distributed

    GENERATORS.get(generator)
    config = _run_config(generator, preset=preset, dataset=dataset, out=out, device=device, seed=seed, force=force,
                         quiet=quiet, skip_bad=skip_bad, allow_small=allow_small, checkpoint_every=checkpoint_every,
                         extractor=extractor, extractor_weights=extractor_weights,
                         inception_resize=inception_resize, resolution=resolution, compile=compile_networks,
                         compile_mode=compile_mode, amp=amp, max_minutes=max_minutes, sets=tuple(sets),
                         config_file=config_file,
                         **_data_options(memory_budget, data_workers))
    world, rank_device = distributed.init(config.device.type)
    if rank_device is not None:
        config = dataclasses.replace(config, device=rank_device)
    with distributed.leaving_together():
        if not world.main:
            follow_training(config, generator, world)
            return
        console = Console(stderr=True, quiet=quiet)
        runner = SuiteRunner(config, console)
        try:
            records = runner.generation.run_generator(generator)
        finally:
            world.share(distributed.DONE_SIGNAL)
    for record in records:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in record.metrics.items() if isinstance(v, (int, float)))
        console.print(f"{record.kind}: {record.status} {metrics}")
    if any(r.status in ("failed", "diverged") for r in records):
        raise typer.Exit(1)



def _check_writable_folder(flag: str, path: Path, folder: Path) -> None:
    """Refuse ``path`` when ``folder``, where it is written, could not be made or written, before any
    work starts (nothing is created here: the nearest existing ancestor must be a writable folder)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{flag} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise UserError(f"{flag} {path}: the folder {existing} is not writable")


def _check_output_folder(out: Path) -> None:
    """``--out`` of ``sample`` and ``stats``: a folder of PNGs, or an ``.npz`` file in a folder."""
    _check_writable_folder("--out", out, out if out.suffix != ".npz" else out.parent)

@app.command()
@user_errors
def sample(generator: str = typer.Argument(..., help="A generator trained in --runs."),
           n: int = typer.Option(64, "--n", help="Number of samples."),
           out: Path = typer.Option(..., "--out", "-o", help="A folder (PNG files) or a .npz file."),
           seed: int = typer.Option(0, "--seed", help="Sampling seed."),
           runs: Path = typer.Option(Path("runs"), "--runs", help="Run folder holding the checkpoint."),
           preset: Optional[str] = PresetOpt, dataset: str = DatasetOpt, device: str = DeviceOpt,
           train_seed: int = typer.Option(0, "--train-seed", help="Seed the generator was trained with."),
           truncation: Optional[float] = typer.Option(None, "--truncation", help="Truncation for variants that support it."),
           resolution: Optional[int] = ResolutionOpt, sets: list[str] = SetOpt,
           config_file: Optional[Path] = ConfigOpt,
           amp: bool = typer.Option(False, "--amp", help="The generator was trained with --amp."),
           compile_networks: bool = typer.Option(False, "--compile", help="The generator was trained with --compile."),
           compile_mode: Optional[str] = typer.Option(None, "--compile-mode",
                                                      help="The generator was trained with this --compile-mode."),
           force: bool = typer.Option(False, "--force", help="Overwrite an existing --out."),
           raw_values: bool = typer.Option(False, "--raw-values",
                                           help="Keep the generator's own pixel values where the real images are "
                                                "quantized (by default they are put on the reals' values, as a "
                                                "run's fakes are).")) -> None:
    """Sample from a trained generator into a PNG folder or an .npz (the same --set/--config/--amp/
    --compile as its training find it)."""
    from ganbench.imageio import save_npz, save_png_folder
    from ganbench.context import RunContext
    from ganbench.generators import GENERATORS

    if n <= 0:
        raise UserError("--n must be positive")
    GENERATORS.get(generator).check_truncation(truncation)
    if not force and (out.is_file() or (out.is_dir() and any(out.iterdir()))):
        raise UserError(f"--out {out} exists; pass --force to overwrite it")
    _check_output_folder(out)
    if not runs.is_dir():
        raise UserError(f"--runs {runs}: no such run folder (train first: ganbench train {generator} --out {runs})")
    config = _run_config(generator, preset=preset, dataset=dataset, out=runs, device=device, seed=train_seed, quiet=True,
                         resolution=resolution, allow_small=True, sets=tuple(sets), config_file=config_file, amp=amp,
                         compile=compile_networks, compile_mode=compile_mode)
    context = RunContext(config, Console(stderr=True, quiet=True))
    images, labels = context.samples(generator, n, seed, truncation, raw_values)
    if out.suffix == ".npz":
        save_npz(images, out, labels)
    else:
        save_png_folder(images, out, labels)
    encoding = ""
    if context.scope.levels is not None:
        encoding = " (the generator's own values)" if raw_values else \
            f" (put on the real images' {len(context.scope.levels)} intensity values)"
    typer.echo(f"wrote {n} samples of {generator} to {out}{encoding}")


@app.command("data-report")
@user_errors
def data_report(dataset: str = typer.Argument(..., help="A --dataset spec, e.g. folder:images/ or npz:data.npz."),
                preset: Optional[str] = PresetOpt, resolution: Optional[int] = ResolutionOpt,
                extractor: str = ExtractorOpt, skip_bad: bool = SkipBadOpt,
                allow_small: bool = AllowSmallOpt) -> None:
    """Check an image data set as a run would: images per class, sizes, duplicates, warnings; exit code 2 where a
    run would refuse it."""
    from ganbench.context import run_data
    from ganbench.data_health import inspect_dataset, needs_classes, refusal

    def echo_warning(message: str) -> None:
        typer.echo(f"warning: {message}")

    config = _run_config("all", preset=preset, dataset=dataset, device="cpu", resolution=resolution,
                         extractor=extractor, skip_bad=skip_bad, allow_small=allow_small)
    data, _ = run_data(config, warn=echo_warning, check=False)
    if data.kind != "image":
        raise UserError(f"{dataset} holds points, not images; data-report checks image data sets")
    health = inspect_dataset(data)
    findings = health.findings(needs_classes(extractor), allow_small)
    typer.echo(health.summary())
    for message in findings.warnings:
        echo_warning(message)
    if findings.refusals:
        raise UserError(refusal(health.name, findings))
    typer.echo("a run would start on this data set")


@app.command("human-eval")
@user_errors
def human_eval(out: Path = typer.Option(..., "--out", "-o", help="Run folder with trained generators."),
               generators: Optional[str] = typer.Option(None, "--generators", "-g",
                                                        help="Comma list to rate (default: every trained one)."),
               n: int = typer.Option(40, "--n", help="Images to rate: half real test images, half fresh fakes."),
               port: int = typer.Option(8765, "--port", help="Port on 127.0.0.1 (0 picks a free one)."),
               rater: str = typer.Option("anonymous", "--rater", help="Rater id; the same id resumes."),
               dataset: str = DatasetOpt,
               preset: Optional[str] = typer.Option(None, "--preset", "-p",
                                                    help="Preset of the run (default: the one it was trained with)."),
               seed: int = SeedOpt, resolution: Optional[int] = ResolutionOpt,
               allow_small: bool = AllowSmallOpt) -> None:
    """Rate real and fake images in a local browser page; the rater becomes a detector row."""
    from ganbench.human_eval import resolve_run, run_human_eval

    names = None if generators is None else [g.strip() for g in generators.split(",") if g.strip()]
    config, names = resolve_run(out, dataset, preset, seed, names, resolution, allow_small)
    console = Console(stderr=True)

    def ready(url: str, answered: int, total: int) -> None:
        left = f"{total - answered} of {total}" if answered else str(total)
        console.print(f"rate {left} images as {rater!r} at {url}  (Ctrl-C stops; votes are kept)", markup=False,
                      highlight=False, soft_wrap=True)

    outcome = run_human_eval(config, names, n, rater, port, ready, console)
    if not outcome.records:
        console.print(f"no votes yet; nothing written (votes go to {outcome.votes_file})", markup=False,
                      soft_wrap=True)
        return
    m = outcome.metrics
    fooled = ", ".join(f"{g} {rate:.2f}" for g, rate in outcome.fooled_rate.items())
    state = "finished" if outcome.complete else "stopped; the same --rater resumes"
    console.print(f"{outcome.answered}/{outcome.total} votes ({state}); accuracy {m['acc']:.3f} "
                  f"[{m['acc_ci_low']:.3f}, {m['acc_ci_high']:.3f}]; fooled rate {fooled}; "
                  f"{len(outcome.records)} record(s) in {out}/records", markup=False, highlight=False, soft_wrap=True)


@app.command("eval-detector")
@user_errors
def eval_detector(detector: str = typer.Argument(..., help="package.module:ClassName (current directory on the "
                                                           "import path), an entry-point name or a built-in name."),
                  suite: str = SuiteOpt, preset: Optional[str] = PresetOpt, dataset: str = DatasetOpt,
                  out: Path = OutOpt, device: str = DeviceOpt, seed: int = SeedOpt, force: bool = ForceOpt,
                  quiet: bool = QuietOpt, skip_bad: bool = SkipBadOpt, allow_small: bool = AllowSmallOpt,
                  fakes: list[str] = FakesOpt,
                  detector_args: list[str] = typer.Option([], "--detector-arg", help="key=value: a constructor "
                                                          "argument of the detector (repeatable; part of its key).")
                  ) -> None:
    """Train and evaluate one detector like the built-ins, against fresh fakes of every generator of the suite."""
    import dataclasses

    from ganbench.detector_choice import parse_arguments
    from ganbench.detectors.base import RUN_SETTING_NAMES, check_arguments
    from ganbench.runner import SuiteRunner
    from ganbench.detectors.plugins import resolve_detector
    from ganbench.leaderboards.terminal import print_detector

    spec = resolve_detector(detector)
    arguments = parse_arguments(detector_args)
    check_arguments(spec.cls, arguments, RUN_SETTING_NAMES)
    config = dataclasses.replace(_run_config(suite, preset=preset, dataset=dataset, out=out, device=device, seed=seed,
                                             force=force, quiet=quiet, skip_bad=skip_bad, allow_small=allow_small),
                                 detectors=(detector,), fakes=tuple(fakes), detector_arguments=arguments)
    console = Console(stderr=True, quiet=quiet)
    summary = SuiteRunner(config, console).run()
    if not quiet:
        print_detector(summary.bodies(), table_console(), spec.name)
    _close_run(summary, console, out)


class Resize(str, Enum):
    center_crop = "center-crop"
    resize = "resize"


def _check_detect_output(path: Optional[Path], flag: str) -> None:
    """Refuse a ``detect`` output file that could not be written, before any detector is fitted:
    ``path`` an existing folder, or a folder above it that is a file or not writable."""
    if path is None:
        return
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; name the file to write inside it ({path / 'NAME'})")
    _check_writable_folder(flag, path, path.parent)


@app.command("detect")
@user_errors
def detect(detectors: list[str] = typer.Option(..., "--detector",
                                               help="A built-in name (ganbench list detectors), a published one "
                                                    "(cnndetection, univfd), module:Class or an entry point; "
                                                    "SPEC@PATH loads it fitted from PATH (a file written by "
                                                    "--save-detector, or the published checkpoint). Repeatable."),
           detector_args: list[str] = typer.Option([], "--detector-arg",
                                                   help="key=value constructor argument of every --detector (int, "
                                                        "float, true/false, none or text, e.g. backbone=PATH). "
                                                        "Repeatable."),
           real: Optional[str] = typer.Option(None, "--real", help="folder:PATH or npz:PATH: the reals that every "
                                                                   "--fakes set is tested against."),
           fakes: list[str] = typer.Option([], "--fakes", help="NAME=folder:PATH or NAME=npz:PATH: one generator's "
                                                               "fakes (repeatable)."),
           root: Optional[Path] = typer.Option(None, "--root", help="CNNDetection layout: <root>/<generator>/0_real "
                                                                    "and 1_fake, or <root>/<generator>/<class>/0_real "
                                                                    "and 1_fake; each generator against its own "
                                                                    "reals."),
           train_real: Optional[str] = typer.Option(None, "--train-real", help="folder:PATH or npz:PATH of real "
                                                                               "training images for detectors "
                                                                               "that are not fitted yet."),
           train_fakes: Optional[str] = typer.Option(None, "--train-fakes", help="folder:PATH or npz:PATH of fake "
                                                                                 "training images."),
           size: Optional[int] = typer.Option(None, "--size", help="Score at N x N instead of the native size."),
           resize: Resize = typer.Option(Resize.center_crop, "--resize", help="How --size is reached: centre crop, "
                                                                              "or centre square crop and resize."),
           perturbations: list[str] = typer.Option([], "--perturbation", help="none, jpeg:Q (1 to 100), "
                                                                              "blur:SIGMA (0 to 256 px, or "
                                                                              "blur:SIGMA@256px), resize:SCALE (0 to "
                                                                              "1) or noise:STD (0 to 255), applied "
                                                                              "alike to reals and fakes (repeatable; "
                                                                              "default none)."),
           scores: Optional[Path] = typer.Option(None, "--scores", help="Write per-image scores to PATH.csv (or "
                                                                        ".parquet with pyarrow)."),
           save_detector: Optional[Path] = typer.Option(None, "--save-detector", help="Save the detector fitted "
                                                                                      "here to PATH (load it later "
                                                                                      "as --detector NAME@PATH)."),
           as_json: bool = typer.Option(False, "--json", help="Print the results and protocol as JSON."),
           device: str = DeviceOpt, seed: int = SeedOpt, quiet: bool = QuietOpt) -> None:
    """Score detectors on outside real and fake folders (CNNDetection layout too), without training generators."""
    from ganbench.detectors.plugins import plugin_failure
    from ganbench.forensics import Detect, DetectRequest, DetectStopped
    from ganbench.runtime import resolve_device

    _check_detect_output(save_detector, "--save-detector")
    _check_detect_output(scores, "--scores")
    if save_detector is not None and scores is not None and save_detector.resolve() == scores.resolve():
        raise UserError(f"--save-detector and --scores both name {scores}; give each its own file")
    console = Console(stderr=True, quiet=quiet)
    request = DetectRequest(detectors=detectors, arguments=detector_args, real=real, fakes=fakes, root=root,
                            train_real=train_real, train_fakes=train_fakes, size=size, resize=resize.value,
                            perturbations=perturbations, save_detector=save_detector, scores=scores,
                            device=resolve_device(device), seed=seed)
    job = Detect(request, lambda line: console.print(line, markup=False, highlight=False),
                 lambda line: typer.echo(line, err=True))
    try:
        outcome = job.run()
    except DetectStopped as stopped:
        _show_detect(stopped.outcome, scores, as_json, console)
        raise
    except UserError:
        raise
    except Exception as exc:
        failure = plugin_failure(exc, [choice.spec for choice in job.choices])
        if failure is None:
            raise
        raise failure from exc
    _show_detect(outcome, scores, as_json, console)


def _show_detect(outcome: DetectOutcome, scores: Optional[Path], as_json: bool, console: Console) -> None:
    """``detect``'s results: the per-image scores written, then JSON or the table (none when quiet)."""
    from ganbench.forensics_output import json_document, results_table, write_scores

    if scores is not None:
        console.print(f"wrote {write_scores(scores, outcome.scored)} scores to {scores}", markup=False)
    if as_json:
        typer.echo(json.dumps(json_document(outcome), indent=1, default=str))
    elif not console.quiet:
        table_console().print(results_table(outcome))


ReportSourcesArg = typer.Argument(None, metavar="SOURCES", help="Run folders or results.json files of earlier "
                                                                "`leaderboard publish` runs, merged with every --out "
                                                                "(one row per unit; a unit whose records disagree "
                                                                "keeps the first source's and is named as a "
                                                                "conflict).")
ReportOutOpt = typer.Option([], "--out", "-o", help="Run folder to read (repeatable; default runs when no source is "
                                                    "given).")


def _report_sources(sources: Optional[list[Path]], outs: list[Path]) -> list[Path]:
    """The report's sources: the --out run folders, then the positional ones; ``runs`` when none is given."""
    return [*outs, *(sources or [])] or [Path("runs")]


@leaderboard_app.command("show")
@user_errors
def leaderboard_show(sources: Optional[list[Path]] = ReportSourcesArg, outs: list[Path] = ReportOutOpt,
                     as_json: bool = typer.Option(False, "--json", help="Print the records as a JSON list of rows "
                                                  "(the tables' options --table, --sort, --columns and --markdown "
                                                  "do not apply)."),
                     table: Optional[str] = typer.Option(None, "--table", help="generators, detectors, cross or "
                                                         "by-generator (the cross-generator matrices turned: one "
                                                         "row per generator of fresh fakes, one column per "
                                                         "detector:trained-on)."),
                     sort: Optional[str] = typer.Option(None, "--sort", help="Sort by this column (default: FID)."),
                     columns: Optional[str] = typer.Option(None, "--columns", help="Comma list of columns (names or "
                                                           "headers) the generator, detector and by-generator tables "
                                                           "keep, beside each row's name and its rank metric."),
                     markdown: bool = typer.Option(False, "--markdown", help="Print GitHub Markdown tables, each "
                                                   "with its protocol.")) -> None:
    """Show the leaderboard of run folders and earlier reports' results.json files, merged."""
    from ganbench.leaderboards import json_rows, print_leaderboard
    from ganbench.leaderboards.sources import read_sources
    from ganbench.leaderboards.tables import BOARD_BUILDERS

    if table is not None and table not in BOARD_BUILDERS:
        raise UserError(f"unknown table {table!r} ({', '.join(BOARD_BUILDERS)})")
    shaping = [name for name, given in (("--table", table is not None), ("--sort", sort is not None),
                                        ("--columns", columns is not None), ("--markdown", markdown)) if given]
    if as_json and shaping:
        raise UserError(f"--json prints the records, not the tables, so {' and '.join(shaping)} would change "
                        f"nothing: drop {' and '.join(shaping)} or --json")
    merged = read_sources(_report_sources(sources, outs))
    if as_json:
        typer.echo(json.dumps(json_rows(merged.records), indent=1, default=str))
    else:
        print_leaderboard(merged.records, Console(), table, sort, merged.problems,
                          columns.split(",") if columns is not None else (), markdown)


@leaderboard_app.command("publish")
@user_errors
def leaderboard_publish(sources: Optional[list[Path]] = ReportSourcesArg, outs: list[Path] = ReportOutOpt,
                        site: Path = typer.Option(Path("site"), "--site", help="Folder for the published report."),
                        formats: str = typer.Option("md,html,csv,json", "--format",
                                                    help="Comma list of md, html, csv, json."),
                        sort: Optional[str] = typer.Option(None, "--sort", help="Sort by this column (default: FID).")) -> None:
    """Write leaderboard.md, results.csv, results.json and a static index.html with figures, from run folders and
    earlier reports' results.json files, merged."""
    from ganbench.leaderboards.publish import parse_formats, publish

    written = publish(_report_sources(sources, outs), site, parse_formats(formats), sort)
    typer.echo("wrote " + ", ".join(str(p) for p in written))


InputHelp = ("folder:PATH, npz:PATH, a data set (digits, mnist:PATH, dataset:SPEC@test|train|all), "
             "run:RUNDIR:GENERATOR (run:RUNDIR:GENERATOR@SEED names the training seed) or stats:PATH.npz")
ScoreExtractorOpt = typer.Option(None, "--extractor", help="inception (the default where its weights are found "
                                                           "offline), classifier (trained on a data-set input) or "
                                                           "timm:<model>.")
ScoreNOpt = typer.Option(None, "--n", help="Images per input (a seeded subset); fakes sampled from a run: input "
                                           "(default: as many as the other input holds).")
ScoreSeedOpt = typer.Option(0, "--seed", help="Seed of --n subsets, of run: samples, of KID's subsets and of the "
                                              "bootstrap.")
ScoreQuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bars.")


def _score_options(extractor: Optional[str], extractor_weights: Optional[Path], inception_resize: str,
                   n: Optional[int], seed: int, device: str, intervals: bool = False) -> Any:
    from ganbench.folder_metrics import score_options
    from ganbench.runtime import resolve_device

    return score_options(extractor, extractor_weights, inception_resize, n, seed, resolve_device(device), intervals)


def _feature_progress(progress: Any) -> Callable[[str, int, int], None]:
    """A progress bar per step (reading an input, extracting its features), named by its description."""
    tasks: dict[str, Any] = {}

    def report(description: str, done: int, total: int) -> None:
        if description not in tasks:
            tasks[description] = progress.add_task(description, total=total)
        progress.update(tasks[description], completed=done)

    return report


def _scoring_progress(quiet: bool) -> Any:
    """Transient progress bars on an interactive standard error; none elsewhere (rich would end them with an
    empty line there, above an error's one line)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=quiet or not console.is_interactive)


def _warning_line() -> Callable[[str], None]:
    """Prints a warning as one line on standard error."""
    errors = Console(stderr=True)

    def warn(message: str) -> None:
        errors.print(f"warning: {message}", style="yellow", markup=False, highlight=False, soft_wrap=True)

    return warn


def _print_scores(result: dict[str, Any], console: Console) -> None:
    metrics, protocol = result["metrics"], result["protocol"]
    title = " vs ".join(protocol[k]["spec"] for k in ("input1", "input2") if k in protocol)
    intervals = protocol.get("intervals")
    table = Table(title=title, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if intervals:
        table.add_column(Text("[low, high]"), justify="right")
    for name, value in metrics.items():
        if not name.endswith(("_std", "_se", "_ci_low", "_ci_high")):
            spread = metrics.get(f"{name}_std")
            row = [name.upper() if name in ("fid", "kid", "is") else name,
                   f"{value:.4f}" + ("" if spread is None else f" ± {spread:.4f}")]
            if intervals:
                low, high = metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")
                row.append("–" if low is None else f"[{low:.4f}, {high:.4f}]")
            table.add_row(*row)
    console.print(table)
    one_kid_subset = "kid" in metrics and "kid_std" not in metrics
    for line in (f"[low, high]: {intervals}" if intervals else None,
                 f"FID interval: {protocol['fid_interval']}" if protocol.get("fid_interval") else None,
                 f"KID: one subset holding both inputs whole ({protocol.get('kid_subset_size')} images each), "
                 f"so no std over subsets" if one_kid_subset else None):
        if line:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    weights = protocol.get("weights", "unknown")
    console.print(f"extractor {protocol.get('extractor', 'unknown')} (weights {weights}; resize "
                  f"{protocol.get('resize', 'unknown')})", markup=False, highlight=False, soft_wrap=True)
    for key in ("input1", "input2"):
        if key in protocol:
            item = protocol[key]
            sizes = f", sizes {', '.join(item['image_sizes'])}" if item.get("image_sizes") else ""
            console.print(f"{key}: {item['spec']}, n {item.get('n', 'unknown')}{sizes}", markup=False,
                          highlight=False, soft_wrap=True)


@app.command("metrics")
@user_errors
def metrics_command(input1: str = typer.Argument(..., help=f"The samples scored: {InputHelp}."),
                    input2: Optional[str] = typer.Argument(None, help="The reference, in the same forms (without it, "
                                                                      "only the Inception Score of INPUT1)."),
                    fid: bool = typer.Option(False, "--fid", help="Frechet Inception Distance."),
                    kid: bool = typer.Option(False, "--kid", help="Kernel Inception Distance (mean ± std)."),
                    isc: bool = typer.Option(False, "--is", help="Inception Score of INPUT1 (mean ± std)."),
                    prdc: bool = typer.Option(False, "--prdc", help="Precision, recall, density and coverage."),
                    extractor: Optional[str] = ScoreExtractorOpt,
                    extractor_weights: Optional[Path] = ExtractorWeightsOpt,
                    inception_resize: str = InceptionResizeOpt,
                    n: Optional[int] = ScoreNOpt, seed: int = ScoreSeedOpt, device: str = DeviceOpt,
                    intervals: bool = typer.Option(True, "--intervals/--no-intervals",
                                                   help="Bootstrap intervals of FID and precision/recall/density/"
                                                        "coverage over the scored samples (FID: 50 resamples, "
                                                        "each an eigen-decomposition of the feature covariance)."),
                    as_json: bool = typer.Option(False, "--json", help="Print metrics and protocol as JSON."),
                    quiet: bool = ScoreQuietOpt) -> None:
    """Score samples against a reference: FID, KID, IS, precision/recall/density/coverage (default: all that apply)."""
    from ganbench.folder_metrics import score

    wanted = [name for name, on in (("fid", fid), ("kid", kid), ("is", isc), ("prdc", prdc)) if on] or None
    options = _score_options(extractor, extractor_weights, inception_resize, n, seed, device, intervals)
    with _scoring_progress(quiet) as progress:
        result = score([input1] if input2 is None else [input1, input2], wanted, options,
                       report=_feature_progress(progress), warn=_warning_line())
    if as_json:
        typer.echo(json.dumps(result, indent=1, default=str))
    else:
        _print_scores(result, table_console())


@app.command("stats")
@user_errors
def stats_command(source: str = typer.Argument(..., metavar="INPUT", help="Images: folder:PATH, npz:PATH, a data "
                                                                         "set or run:RUNDIR:GENERATOR."),
                  out: Path = typer.Option(..., "--out", "-o", help="The .npz to write: mu and sigma as pytorch-fid "
                                                                    "writes them, plus the protocol."),
                  extractor: Optional[str] = ScoreExtractorOpt,
                  extractor_weights: Optional[Path] = ExtractorWeightsOpt,
                  inception_resize: str = InceptionResizeOpt,
                  n: Optional[int] = ScoreNOpt, seed: int = ScoreSeedOpt, device: str = DeviceOpt,
                  force: bool = typer.Option(False, "--force", help="Overwrite an existing --out."),
                  quiet: bool = ScoreQuietOpt) -> None:
    """Write the FID statistics of a set of images (readable by pytorch-fid and by `metrics stats:PATH`)."""
    from ganbench.fid_stats import write_statistics
    from ganbench.folder_metrics import statistics

    if out.suffix != ".npz":
        raise UserError(f"--out {out}: statistics files end in .npz (pytorch-fid reads no other)")
    if out.exists() and not force:
        raise UserError(f"--out {out} exists; pass --force to overwrite it")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; name the .npz file to write")
    _check_output_folder(out)
    options = _score_options(extractor, extractor_weights, inception_resize, n, seed, device)
    with _scoring_progress(quiet) as progress:
        stats = statistics(source, options, report=_feature_progress(progress), warn=_warning_line())
    write_statistics(out, stats)
    protocol = stats.protocol or {}
    typer.echo(f"wrote the statistics of {protocol.get('n')} images of {source} ({stats.dim}-d "
               f"{protocol.get('extractor')} features, weights {protocol.get('weights')}) to {out}")


def _ignore_signals() -> None:
    """Once the command has ended (or is reporting its interruption), SIGINT and SIGTERM change
    nothing: no second report, no death by signal while the interpreter exits."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def main() -> None:
    """The console script: SIGINT and SIGTERM stop the run with one line and exit code 130 / 143."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, raise_interrupted)
    try:
        app()
    except Interrupted as exc:
        _ignore_signals()
        typer.echo(exc.message(), err=True)
        sys.exit(exc.exit_code)
    finally:
        _ignore_signals()


if __name__ == "__main__":
    sys.exit(main())
