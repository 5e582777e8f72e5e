"""The ``ganbench`` command line (Typer + rich).

One function per command with its options; the commands are thin (they validate options and
call the run context, the runner or the leaderboards), so the module stays one map of the CLI.
"""

from __future__ import annotations

import functools
import json
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

from ganbench import __version__
from ganbench.errors import Interrupted, UserError, raise_interrupted

if TYPE_CHECKING:
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
MAX_RESOLUTION = 1024
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
    Console().print(table)


def _run_config(suite: str, *, preset: Optional[str] = None, dataset: str = "digits", out: Path = Path("runs"),
                device: str = "auto", seed: int = 0, checkpoint_every: Optional[int] = None,
                extractor: str = "classifier", extractor_weights: Optional[Path] = None,
                resolution: Optional[int] = None, detection_plan: Optional[str] = None,
                max_minutes: Optional[float] = None, **extra: Any) -> Any:
    """The validated configuration of a command; ``extra`` are further :class:`RunConfig` fields."""
    from ganbench.features import check_extractor_name
    from ganbench.planning import SEED_LIMIT
    from ganbench.presets import default_preset, get_preset
    from ganbench.context import RunConfig
    from ganbench.runtime import resolve_device

    check_extractor_name(extractor)
    if not 0 <= seed < SEED_LIMIT:
        raise UserError(f"--seed must be in [0, 2^32) (got {seed})")
    resolved = resolve_device(device)
    chosen = get_preset(preset or default_preset(resolved.type))
    if checkpoint_every is not None:
        if checkpoint_every <= 0:
            raise UserError("--checkpoint-every must be positive")
        chosen = chosen.with_overrides(checkpoint_every=checkpoint_every)
    if resolution is not None:
        if resolution < 8 or resolution > MAX_RESOLUTION or resolution & (resolution - 1):
            raise UserError(f"--resolution must be a power of two from 8 to {MAX_RESOLUTION} (got {resolution})")
        chosen = chosen.with_overrides(resolution=resolution)
    if detection_plan is not None:
        from ganbench.detectors.protocols import PLANS

        if detection_plan not in PLANS:
            raise UserError(f"--detection-plan must be one of {', '.join(PLANS)} (got {detection_plan!r})")
        chosen = chosen.with_overrides(detection_plan=detection_plan)
    if max_minutes is not None and not max_minutes > 0:
        raise UserError(f"--max-minutes must be positive (got {max_minutes})")
    return RunConfig(suite=suite, preset=chosen, dataset=dataset, out=out, device=resolved, seed=seed,
                     extractor=extractor, extractor_weights=extractor_weights, max_minutes=max_minutes, **extra)


SuiteOpt = typer.Option("smoke", "--suite", "-s", help="Suite name or comma list of generators/detectors.")
PresetOpt = typer.Option(None, "--preset", "-p", help="smoke, quick (CPU default), standard (CUDA default), full.")
DatasetOpt = typer.Option("digits", "--dataset", "-d", help="digits, toy2d, mnist, npz:PATH, folder:PATH, ...")
OutOpt = typer.Option(Path("runs"), "--out", "-o", help="Run folder for records, checkpoints and fakes.")
DeviceOpt = typer.Option("auto", "--device", help="auto, cpu or cuda.")
SeedOpt = typer.Option(0, "--seed", help="Seed of the run.")
ForceOpt = typer.Option(False, "--force", help="Recompute finished units.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bars or tables.")
SkipBadOpt = typer.Option(False, "--skip-bad", help="Skip unreadable images in folder data sets.")
CheckpointOpt = typer.Option(None, "--checkpoint-every", help="Checkpoint training every N steps (preset default).")
ResolutionOpt = typer.Option(None, "--resolution", help="Image side in pixels, a power of two (preset default).")
PlanOpt = typer.Option(None, "--detection-plan", help="matrix (a detector per generator, leave-one-out) or compact "
                                                      "(the first generator's and train-on-all); preset default.")
FakesOpt = typer.Option([], "--fakes", help="NAME=folder:PATH or NAME=npz:PATH: external fakes as one more test "
                                            "generator for every detector (repeatable).")
DetectorsOpt = typer.Option(None, "--detectors", help="Comma list of detectors (names, entry points or "
                                                      "module:Class) instead of the suite's.")
ExtractorOpt = typer.Option("classifier", "--extractor", help="Quality features: classifier, inception, timm:<model>.")
ExtractorWeightsOpt = typer.Option(None, "--extractor-weights", "--inception-weights",
                                   help="Local weights file of the inception or timm extractor.")
CompileOpt = typer.Option(False, "--compile", help="Compile the networks with torch.compile.")
ShardOpt = typer.Option(None, "--shard", help="Run shard i of n (e.g. 2/4) of the suite against a shared --out.")
SeedsOpt = typer.Option(None, "--seeds", help="Repeat every unit per seed: a count (3 means 0,1,2) or a comma list; "
                                              "tables show mean ± std and intervals over seeds.")
MaxMinutesOpt = typer.Option(None, "--max-minutes", help="Safety limit on each training's wall clock; a training it "
                                                          "stops is recorded as truncated and left out of rankings.")
JobsOpt = typer.Option(1, "--jobs", "-j", help="Worker processes sharing this machine's CPU threads; work items go "
                                              "to whichever worker is free.")


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
        skip_bad: bool = SkipBadOpt, checkpoint_every: Optional[int] = CheckpointOpt, fakes: list[str] = FakesOpt,
        detectors: Optional[str] = DetectorsOpt, extractor: str = ExtractorOpt,
        extractor_weights: Optional[Path] = ExtractorWeightsOpt, compile_networks: bool = CompileOpt,
        shard: Optional[str] = ShardOpt, resolution: Optional[int] = ResolutionOpt,
        detection_plan: Optional[str] = PlanOpt, jobs: int = JobsOpt,
        max_minutes: Optional[float] = MaxMinutesOpt, seeds: Optional[str] = SeedsOpt) -> None:
    """Train, sample, measure and detect: every unit of a suite, resumable."""
    import dataclasses

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
    config = dataclasses.replace(
        _run_config(suite, preset=preset, dataset=dataset, out=out, device=device, seed=seed, force=force, quiet=quiet,
                    skip_bad=skip_bad, checkpoint_every=checkpoint_every, extractor=extractor,
                    extractor_weights=extractor_weights, resolution=resolution, detection_plan=detection_plan,
                    compile=compile_networks, shard=None if shard is None else parse_shard(shard),
                    max_minutes=max_minutes),
        detectors=_detector_list(detectors), fakes=tuple(fakes))
    console = Console(stderr=True, quiet=quiet)
    summary = RunSummary()
    for each in seed_list:
        if len(seed_list) > 1:
            console.print(f"[bold]seed {each}[/] ({seed_list.index(each) + 1} of {len(seed_list)})")
        seeded = dataclasses.replace(config, seed=each)
        summary.add(run_in_workers(seeded, console, jobs) if jobs > 1 else SuiteRunner(seeded, console).run())
    if not quiet:
        print_leaderboard(summary.bodies(), Console())
    _close_run(summary, console, out)


@app.command("train")
@user_errors
def train_command(generator: str = typer.Argument(..., help="Generator name (ganbench list generators)."),
                  preset: Optional[str] = PresetOpt, dataset: str = DatasetOpt, out: Path = OutOpt,
                  device: str = DeviceOpt, seed: int = SeedOpt, force: bool = ForceOpt,
                  quiet: bool = QuietOpt, skip_bad: bool = SkipBadOpt,
                  checkpoint_every: Optional[int] = CheckpointOpt, extractor: str = ExtractorOpt,
                  extractor_weights: Optional[Path] = ExtractorWeightsOpt,
                  compile_networks: bool = CompileOpt, resolution: Optional[int] = ResolutionOpt,
                  max_minutes: Optional[float] = MaxMinutesOpt) -> None:
    """Train one generator, sample its fakes and measure their quality.

    Under ``torchrun --nproc_per_node=N`` it trains data-parallel: one process per device, and
    only rank 0 writes records and checkpoints.
    """
    import dataclasses

    from ganbench.ranks import DONE_SIGNAL, follow_training
    from ganbench.runner import SuiteRunner
    from ganbench.generators import GENERATORS
    from ganbench.generators import distributed

    GENERATORS.get(generator)
    config = _run_config(generator, preset=preset, dataset=dataset, out=out, device=device, seed=seed, force=force,
                         quiet=quiet, skip_bad=skip_bad, checkpoint_every=checkpoint_every, extractor=extractor,
                         extractor_weights=extractor_weights, resolution=resolution, compile=compile_networks,
                         max_minutes=max_minutes)
    world, rank_device = distributed.init(config.device.type)
    if rank_device is not None:
        config = dataclasses.replace(config, device=rank_device)
    try:
        if not world.main:
            follow_training(config, generator, world)
            return
        console = Console(stderr=True, quiet=quiet)
        runner = SuiteRunner(config, console)
        try:
            records = runner.generation.run_generator(generator)
        finally:
            world.share(DONE_SIGNAL)
    finally:
        distributed.shutdown()
    for record in records:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in record.metrics.items() if isinstance(v, (int, float)))
        console.print(f"{record.kind}: {record.status} {metrics}")
    if any(r.status in ("failed", "diverged") for r in records):
        raise typer.Exit(1)


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
           resolution: Optional[int] = ResolutionOpt,
           force: bool = typer.Option(False, "--force", help="Overwrite an existing --out.")) -> None:
    """Sample from a trained generator into a PNG folder or an .npz."""
    from ganbench.imageio import save_npz, save_png_folder
    from ganbench.context import RunContext

    if n <= 0:
        raise UserError("--n must be positive")
    if not force and (out.is_file() or (out.is_dir() and any(out.iterdir()))):
        raise UserError(f"--out {out} exists; pass --force to overwrite it")
    config = _run_config(generator, preset=preset, dataset=dataset, out=runs, device=device, seed=train_seed, quiet=True,
                         resolution=resolution)
    model = RunContext(config, Console(stderr=True, quiet=True)).trained_model(generator)
    labels = model.default_labels(n) if model.conditional else None
    images = model.sample(n, labels=labels, seed=seed, truncation=truncation)
    if out.suffix == ".npz":
        save_npz(images, out, labels)
    else:
        save_png_folder(images, out, labels)
    typer.echo(f"wrote {n} samples of {generator} to {out}")


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
               seed: int = SeedOpt, resolution: Optional[int] = ResolutionOpt) -> None:
    """Rate real and fake images in a local browser page; the rater becomes a detector row."""
    from ganbench.human_eval import resolve_run, run_human_eval

    names = None if generators is None else [g.strip() for g in generators.split(",") if g.strip()]
    config, names = resolve_run(out, dataset, preset, seed, names, resolution)
    console = Console(stderr=True)

    def ready(url: str, answered: int, total: int) -> None:
        left = f"{total - answered} of {total}" if answered else str(total)
        console.print(f"rate {left} images as {rater!r} at {url}  (Ctrl-C stops; votes are kept)", markup=False,
                      highlight=False, soft_wrap=True)

    outcome = run_human_eval(config, names, n, rater, port, ready)
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
                  quiet: bool = QuietOpt, skip_bad: bool = SkipBadOpt, fakes: list[str] = FakesOpt) -> None:
    """Train and evaluate one detector like the built-ins, against fresh fakes of every generator of the suite."""
    import dataclasses

    from ganbench.runner import SuiteRunner
    from ganbench.detectors.plugins import resolve_detector
    from ganbench.leaderboards.terminal import print_detector

    spec = resolve_detector(detector)
    config = dataclasses.replace(_run_config(suite, preset=preset, dataset=dataset, out=out, device=device, seed=seed,
                                             force=force, quiet=quiet, skip_bad=skip_bad),
                                 detectors=(detector,), fakes=tuple(fakes))
    console = Console(stderr=True, quiet=quiet)
    summary = SuiteRunner(config, console).run()
    if not quiet:
        print_detector(summary.bodies(), Console(), spec.name)
    _close_run(summary, console, out)


@leaderboard_app.command("show")
@user_errors
def leaderboard_show(out: Path = OutOpt,
                     as_json: bool = typer.Option(False, "--json", help="Print the records as a JSON list of rows."),
                     table: Optional[str] = typer.Option(None, "--table", help="generators, detectors or cross."),
                     sort: Optional[str] = typer.Option(None, "--sort", help="Sort by this column (default: FID).")) -> None:
    """Show the leaderboard of a run folder."""
    from ganbench.leaderboards import json_rows, print_leaderboard
    from ganbench.leaderboards.publish import read_records

    if table not in (None, "generators", "detectors", "cross"):
        raise UserError(f"unknown table {table!r} (generators, detectors or cross)")
    records = read_records(out)
    if as_json:
        typer.echo(json.dumps(json_rows(records), indent=1, default=str))
    else:
        print_leaderboard(records, Console(), table, sort)


@leaderboard_app.command("publish")
@user_errors
def leaderboard_publish(out: Path = OutOpt,
                        site: Path = typer.Option(Path("site"), "--site", help="Folder for the published report."),
                        formats: str = typer.Option("md,html,csv,json", "--format",
                                                    help="Comma list of md, html, csv, json."),
                        sort: Optional[str] = typer.Option(None, "--sort", help="Sort by this column (default: FID).")) -> None:
    """Write leaderboard.md, results.csv, results.json and a static index.html with figures."""
    from ganbench.leaderboards.publish import parse_formats, publish

    written = publish(out, site, parse_formats(formats), sort)
    typer.echo("wrote " + ", ".join(str(p) for p in written))


def main() -> None:
    """The console script: SIGINT and SIGTERM stop the run with one line and exit code 130 / 143."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, raise_interrupted)
    try:
        app()
    except Interrupted as exc:
        typer.echo(exc.message(), err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
