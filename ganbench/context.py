"""The run context: what any command needs from a run, without building a suite runner.

A :class:`RunContext` holds the run's configuration, its store, its data set (loaded once), the
data spec generators are built for, the shared reference classifier (trained or read from the
cache on first use) and the fakes read so far; it reads trained generators back by their
training unit's key. ``ganbench run`` builds its units on it; ``sample``, human evaluation and
the benchmarks use it directly.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ganbench.data import Dataset, StreamOptions, load_dataset
from ganbench.data_cache import default_workers, parse_memory_budget
from ganbench.data_health import check_dataset, needs_classes
from ganbench.errors import UserError
from ganbench.geometry import Geometry, SizeRequest
from ganbench.overrides import Overrides
from ganbench.features import ClassifierExtractor, ContentClassifier
from ganbench.generators import GENERATORS, DataSpec, GenerativeModel, create_generator
from ganbench.generators.trainer import TrainConfig
from ganbench.pixels import intensity_levels, snap_to_levels
from ganbench.presets import Preset
from ganbench.runtime import configure_backends, derive_seed, preserved_rng, seed_everything
from ganbench.records import SampleRecord, TrainRecord
from ganbench.store import CACHE_ENV, DamagedFile, RunStore, load_npz, quarantine
from ganbench.units import Scope, train_unit, warn_damage


@dataclass(frozen=True)
class RunConfig:
    suite: str
    preset: Preset
    dataset: str = "digits"
    out: Path = Path("runs")
    device: torch.device = torch.device("cpu")
    seed: int = 0
    force: bool = False
    quiet: bool = False
    skip_bad: bool = False
    allow_small: bool = False
    detectors: tuple[str, ...] = ()
    fakes: tuple[str, ...] = ()
    extractor: str = "classifier"
    extractor_weights: Path | None = None
    inception_resize: str = "pytorch-fid"
    compiled: str | None = None
    amp: bool = False
    shard: tuple[int, int] | None = None
    max_minutes: float | None = None
    overrides: Overrides = Overrides()
    detector_arguments: tuple[tuple[str, object], ...] = ()
    memory_budget: int | None = None
    data_workers: int | None = None

    @property
    def stream(self) -> StreamOptions:
        """How the run holds a folder data set (``ganbench.data_cache``: ``memory_budget`` None is
        ``auto``, ``data_workers`` None is one per CPU, at most 8)."""
        budget = parse_memory_budget("auto") if self.memory_budget is None else self.memory_budget
        workers = default_workers() if self.data_workers is None else self.data_workers
        cache = os.environ.get(CACHE_ENV)
        return StreamOptions(budget, workers, Path(cache) if cache else self.out / "cache", self.quiet)


def run_data(config: RunConfig, warn: Any = None, check: bool = True) -> tuple[Dataset, DataSpec]:
    """The run's data set at its native side (or the side the preset declares), and the spec
    generators are built for: their canvas and the measured image size (``ganbench.geometry``).
    With ``check``, an unusable image set is refused first (``ganbench.data_health``)."""
    warn = warn or (lambda message: None)
    request = SizeRequest(config.preset.resolution, config.preset.max_resolution)
    data = load_dataset(config.dataset, request, skip_bad=config.skip_bad, warn=warn, stream=config.stream)
    if data.kind != "image":
        return data, DataSpec(data.kind, data.channels, data.resolution, data.num_classes)
    if check:
        check_dataset(data, needs_classes(config.extractor), allow_small=config.allow_small, warn=warn)
    if data.notes.get("enlarged"):
        warn(f"real images enlarged from their native {data.notes['native_size']} px to {data.resolution} px "
             "(--resolution above the native size); the records say so")
    geometry = Geometry.for_images(data.resolution)
    return data, DataSpec(data.kind, data.channels, geometry.model_size, data.num_classes, data.resolution)


def build_generator(config: RunConfig, spec: DataSpec, name: str) -> GenerativeModel:
    """A freshly initialised generator; the initialisation depends only on the run seed and the name."""
    seed_everything(derive_seed(config.seed, "init", name))
    return create_generator(name, spec, preset_width=config.preset.width,
                            **config.overrides.for_generator(name)).to(config.device)


def content_network(config: RunConfig, data: Dataset, spec: DataSpec, cache_dir: Path) -> ContentClassifier:
    """The content-loss classifier of a run (see :meth:`RunContext.content_network`), trained once
    into ``cache_dir`` or read from it."""
    to_model = spec.geometry.to_model
    canvas = dataclasses.replace(data, x_train=to_model(data.x_train), x_test=to_model(data.x_test))
    with preserved_rng():
        return ContentClassifier(canvas, cache_dir, seed=config.seed, epochs=config.preset.classifier_epochs,
                                 device=config.device)


def training_config(config: RunConfig) -> TrainConfig:
    p = config.preset
    max_seconds = None if config.max_minutes is None else 60.0 * config.max_minutes
    return TrainConfig(steps=p.steps, batch_size=p.batch_size, seed=config.seed, max_seconds=max_seconds,
                       checkpoint_every=p.checkpoint_every, compiled=config.compiled, amp=config.amp,
                       data_workers=config.stream.workers)


class RunContext:
    """A run's configuration, store, data, reference classifier, fakes and trained generators."""

    def __init__(self, config: RunConfig, console: Console | None = None) -> None:
        self.config = config
        self.console = console or Console(stderr=True, quiet=config.quiet)
        self.store = RunStore(config.out)
        self.data, self.spec = run_data(config, warn=lambda message: self.console.print(f"[yellow]{message}"))
        self.scope = Scope(config.dataset, self.data.fingerprint, self.data.kind, config.preset, config.seed,
                           config.overrides, amp=config.amp, compiled=config.compiled, device=config.device.type,
                           levels=intensity_levels(self.data.x_train) if self.data.kind == "image" else None)
        self._extractor: ClassifierExtractor | None = None
        self._content_network: ContentClassifier | None = None
        self._fakes: dict[str, dict[str, torch.Tensor]] = {}
        configure_backends(config.device)

    @contextmanager
    def progress(self) -> Iterator[Progress]:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[losses]}"), console=self.console, transient=True,
                      disable=self.config.quiet) as progress:
            yield progress

    def supports(self, name: str) -> bool:
        """Whether generator ``name`` trains on this run's kind of data."""
        cls = GENERATORS.get(name)
        return cls.supports_points if self.data.kind == "points" else cls.supports_images

    def require_support(self, name: str) -> None:
        """Refuse generator ``name`` where it does not train on this run's kind of data, naming those that do;
        warn where a class-conditional one meets a data set of one class (it then learns no conditioning)."""
        if not self.supports(name):
            able = [other for other in GENERATORS.names() if self.supports(other)]
            raise UserError(f"{name} does not train on data set {self.config.dataset!r} ({self.data.kind}); "
                            f"these do: {', '.join(able)}")
        if GENERATORS.get(name).conditional and self.data.num_classes < 2:
            self.console.print(f"[yellow]{name} is class-conditional, but data set {self.config.dataset!r} has one "
                               "class: it learns no conditioning and trains as an unconditional GAN")

    def build(self, name: str) -> GenerativeModel:
        return build_generator(self.config, self.spec, name)

    def extractor(self) -> ClassifierExtractor:
        """The reference classifier of the run's data set (trained once, then read from the cache)."""
        if self._extractor is None:
            with preserved_rng():
                self._extractor = ClassifierExtractor(self.data, self.store.cache_dir, seed=self.config.seed,
                                                      epochs=self.config.preset.classifier_epochs,
                                                      device=self.config.device)
            self.warn_damage(self._extractor.damaged_cache)
        return self._extractor

    def warn_damage(self, line: str | None) -> None:
        """Print the warning line of a damaged file that was moved aside (``ganbench.store.quarantine``)."""
        warn_damage(self.console, line)

    def content_network(self) -> ContentClassifier:
        """The frozen network of content losses (SRGAN's): a classifier of the run's data set on the
        model canvas, where the loss sees images, trained with its own recipe and seed, never the
        network of an extractor that scores the run."""
        if self._content_network is None:
            self._content_network = content_network(self.config, self.data, self.spec, self.store.cache_dir)
            self.warn_damage(self._content_network.damaged_cache)
        return self._content_network

    def fakes(self, sample_record: SampleRecord) -> dict[str, torch.Tensor]:
        """The fake sets a sample unit wrote, read once. A damaged file is moved aside and the unit
        reading it fails: the next run samples the fakes again (sample units check their fakes)."""
        path = sample_record.fakes_file
        if path not in self._fakes:
            try:
                arrays = load_npz(self.store.root / path, "fakes")
            except FileNotFoundError:
                raise RuntimeError(f"fakes file {path} is missing; the next run samples it again") from None
            except DamagedFile as exc:
                self.warn_damage(quarantine(exc.damage, "the next run samples them again"))
                raise RuntimeError(f"fakes file {path} is damaged; the next run samples it again") from None
            self._fakes[path] = {k: torch.from_numpy(v) for k, v in arrays.items()}
        return self._fakes[path]

    def on_real_levels(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``images`` with every value moved to the nearest intensity value of the real images
        where those are quantized (:func:`ganbench.pixels.intensity_levels`), as every fake set is;
        unchanged otherwise."""
        return images if self.scope.levels is None else snap_to_levels(images, self.scope.levels)

    def samples(self, name: str, n: int, seed: int, truncation: float | None = None,
                raw_values: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` samples of the trained ``name`` drawn with ``seed``, and their labels (its default labels
        where it is conditional, else None). Where the real images are quantized the samples are put on
        the reals' intensity values, as a run's fake sets are, unless ``raw_values``."""
        model = self.trained_model(name)
        labels = model.default_labels(n) if model.conditional else None
        images = model.sample(n, labels=labels, seed=seed, truncation=truncation)
        return (images if raw_values else self.on_real_levels(images)), labels

    def load_trained(self, name: str, train_record: TrainRecord) -> GenerativeModel:
        """The generator of a finished training record, with its checkpoint's weights."""
        model = self.build(name)
        state = self.store.load_checkpoint(self.store.root / train_record.checkpoint)
        if state.get("variant") != name:
            raise UserError(f"checkpoint of {state.get('variant')!r} where {name!r} was expected")
        model.load_state_dict(state["model"])
        return model

    def trained_model(self, name: str) -> GenerativeModel:
        """The finished checkpoint of ``name`` for this run's data set, preset and seed."""
        unit = train_unit(self.scope, name)
        record = self.store.find_record(unit.kind, unit.label, unit.key)
        if not isinstance(record, TrainRecord) or not record.ok:
            where = (f"in {self.store.root} for data set {self.config.dataset!r}, preset {self.config.preset.name!r}, "
                     f"seed {self.config.seed}")
            others = [r for r in self.store.records() if isinstance(r, TrainRecord) and r.ok and r.generator == name
                      and (r.dataset, r.preset, r.seed) == (self.config.dataset, self.config.preset.name,
                                                            self.config.seed)]
            if others:
                here = unit.config["source_digest"]
                digests = sorted({str(r.info.get("source_digest")) for r in others} - {here})
                if digests:
                    raise UserError(f"the {name} trained {where} was trained by other code (its source digest "
                                    f"{', '.join(digests)}, this ganbench's {here}): results belong to the code that "
                                    f"made them; retrain with `ganbench train {name}` or use the ganbench that "
                                    f"trained it")
                sizes = sorted({str(r.protocol.get("geometry", {}).get("image_size")) for r in others})
                size = "" if sizes == [str(self.data.resolution)] else \
                    f"images of {', '.join(sizes)} px where these options give {self.data.resolution} px; "
                raise UserError(f"the {name} trained {where} was trained with other options ({size}the preset's "
                                f"fields, such as --resolution, the hyper-parameters, --set and --config overrides, "
                                f"--amp, --compile and the data enter its key): pass the options it was trained "
                                f"with or retrain with `ganbench train {name}`")
            raise UserError(f"no trained {name} {where} (run `ganbench train {name}` first)")
        return self.load_trained(name, record)
