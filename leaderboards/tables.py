"""Leaderboard tables built with pandas from the JSON records alone.

Three tables, each split wherever the protocols of its rows differ (see ``ganbench.leaderboards.protocols``):

* generators: quality (FID, Heusel et al., NeurIPS 2017; KID, Binkowski et al., ICLR 2018; IS,
  Salimans et al., NeurIPS 2016; precision/recall, Kynkaanniemi et al., NeurIPS 2019;
  density/coverage, Naeem et al., ICML 2020; mode coverage), cost, and *detectability*: the mean
  and worst-case AUC of the detectors on the generator's fresh fakes; image-to-image variants in
  tables of their own, one per task, with their task measures (PSNR, SSIM, L1; domain accuracy and
  cycle L1);
* detectors: in-distribution AUC, AP, balanced accuracy, TPR at 1% FPR, EER and (for probability
  outputs) ECE, cross-generator, leave-one-out and train-on-all AUC, robustness per perturbation
  family and the real-vs-real null check, following the cross-generator protocol of Wang et al.,
  "CNN-generated images are surprisingly easy to spot... for now", CVPR 2020, and DeepfakeBench
  (Yan et al., NeurIPS 2023 Datasets and Benchmarks); the null checks of a table are judged
  together, with Holm's correction;
* the cross-generator matrix of each detector: AUC, train generator x test generator.

Rows of different data sets or presets never share a table (a budget is part of the protocol), and
a table of ``smoke``-preset rows carries :data:`SMOKE_NOTICE`: the smoke preset checks that the
pipeline runs in seconds; its numbers measure nothing.

Every statistic is computed per seed first, then reported as mean, sample std and count over
seeds, with the 95% t-interval of the mean; a detection record's bootstrap bounds
(``<metric>_ci_low``, ``<metric>_ci_high``) are averaged like its value, into
``<column>_boot_ci_low`` / ``_high``, and shown where a row has one seed; a generation record's
(over the fakes drawn) likewise into ``<column>_sample_ci_low`` / ``_high``, never used to rank.
Each table is ranked by its sort metric (FID for generators, in-distribution AUC for detectors),
neighbours that the test of ``ganbench.leaderboards.uncertainty`` cannot tell apart sharing a rank.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from ganbench.errors import UserError
from ganbench.leaderboards.protocols import common, partition, signature
from ganbench.leaderboards.uncertainty import (ALPHA, BOOT_HIGH, BOOT_LOW, NON_NEGATIVE, PROPORTION, RANK_COLUMNS,
                                               SAMPLE_HIGH, SAMPLE_LOW, holm_adjusted, ranked, with_intervals)

ROW_FIELDS = ("kind", "dataset", "preset", "seed", "generator", "train_generator", "perturbation", "detector",
              "status", "reason", "seconds", "metrics")
GEN_KEYS = ["generator", "dataset", "preset"]
DET_KEYS = ["detector", "dataset", "preset"]
NULL_GENERATOR = "real"
HUMAN_PREFIX = "human:"

# name -> (label, which direction is better)
GENERATION_METRICS: dict[str, tuple[str, str | None]] = {
    "fid": ("FID", "lower"), "kid": ("KID", "lower"), "is": ("IS", "higher"),
    "precision": ("precision", "higher"), "recall": ("recall", "higher"),
    "density": ("density", "higher"), "coverage": ("coverage", "higher"),
    "classes_covered": ("classes covered", "higher"), "class_kl": ("class KL", "lower"),
    "conditional_accuracy": ("cond. accuracy", "higher"), "code_accuracy": ("code accuracy", "higher"),
    "modes_covered": ("modes covered", "higher"),
    "high_quality": ("high-quality %", "higher"), "mode_kl": ("mode KL", "lower"),
    "psnr": ("PSNR dB", "higher"), "ssim": ("SSIM", "higher"), "l1": ("L1", "lower"),
    "psnr_bicubic": ("bicubic PSNR dB", None), "ssim_bicubic": ("bicubic SSIM", None),
    "domain_acc": ("domain accuracy", "higher"), "cycle_l1": ("cycle L1", "lower"),
}

COUNTS = ("classes_covered", "modes_covered")
GENERATION_LIMITS = {
    **dict.fromkeys(("fid", "class_kl", "mode_kl", "density", "classes_covered", "modes_covered", "psnr",
                     "psnr_bicubic"), NON_NEGATIVE),
    **dict.fromkeys(("precision", "recall", "coverage", "conditional_accuracy", "code_accuracy", "l1", "domain_acc",
                     "cycle_l1"), PROPORTION),
    **dict.fromkeys(("ssim", "ssim_bicubic"), (-1.0, 1.0)),
    "is": (1.0, math.inf), "high_quality": (0.0, 100.0)}
RECORD_BOUNDS = {"_ci_low": BOOT_LOW, "_ci_high": BOOT_HIGH}
SAMPLING_BOUNDS = {"_ci_low": SAMPLE_LOW, "_ci_high": SAMPLE_HIGH}
SMOKE_PRESET = "smoke"
SMOKE_NOTICE = "smoke preset: pipeline check, not a result"
IN_DISTRIBUTION = ("auc", "ap", "balanced_acc", "tpr_at_1fpr", "eer", "ece")
NULL_P_VALUES = "null_p_values"


@dataclass(frozen=True)
class Column:
    """One displayed column; numeric columns hold ``name``, ``name_std``, ``name_n``, ``name_seed_ci_low``
    and ``name_seed_ci_high`` in the data (detection numbers also ``name_boot_ci_low`` and ``name_boot_ci_high``).
    ``interval_of`` names the numeric column whose interval a column shows; ``with_interval`` columns show their
    own interval in each cell; ``limits`` is the metric's range, which its intervals over seeds do not leave."""

    name: str
    label: str
    group: str | None = None
    better: str | None = None
    numeric: bool = True
    integer: bool = False
    interval_of: str | None = None
    with_interval: bool = False
    limits: tuple[float, float] | None = None


@dataclass
class Board:
    """One table: rows that share every protocol named in ``protocols`` (group -> protocol).

    ``rank_by`` names the numeric column the rows are ranked by (the data then holds ``RANK_COLUMNS``).
    """

    kind: str
    title: str
    columns: list[Column]
    data: pd.DataFrame
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    subject: str | None = None
    rank_by: str | None = None
    presets: tuple[str, ...] = ()

    @property
    def notice(self) -> str | None:
        """The warning a rendering shows above the table (smoke-preset rows), if any."""
        return SMOKE_NOTICE if SMOKE_PRESET in self.presets else None

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def sorted_by(self, name: str) -> Board:
        """Best first by ``name`` (ascending unless higher is better); missing values last.

        A numeric column aggregated over seeds with a better direction also ranks the rows, ties marked by
        Welch's test.
        """
        column = self.column(name)
        if column is None:
            return self
        ascending = column.better != "higher"
        tie = self.columns[0].name
        data = self.data.drop(columns=list(RANK_COLUMNS), errors="ignore")
        data = data.sort_values([name, tie], ascending=[ascending, True], na_position="last", kind="stable")
        data = data.reset_index(drop=True)
        if column.numeric and column.better and data.get(f"{name}_n", pd.Series(dtype=float)).notna().any():
            return replace(self, data=ranked(data, name), rank_by=name)
        return replace(self, data=data, rank_by=None)

    def with_columns(self, wanted: set[str]) -> Board:
        """The board cut to its row name, data set and preset (shown where rows differ in them), its ranking
        metric and the columns named in ``wanted`` (see :func:`column_keys`)."""
        columns = [c for i, c in enumerate(self.columns)
                   if i == 0 or c.name in ("dataset", "preset", self.rank_by) or wanted & column_keys(c)]
        return replace(self, columns=columns)


def column_keys(column: Column) -> set[str]:
    """The names a user may give a column by: its name or its header label, in lower case."""
    return {column.name.lower(), column.label.lower()}


TABLE_KINDS_WITH_COLUMNS = ("generators", "detectors", "by-generator")


@dataclass
class Leaderboard:
    boards: list[Board]
    problems: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[Board]:
        return [b for b in self.boards if b.kind == kind]

    def with_columns(self, names: Iterable[str]) -> Leaderboard:
        """Each generator and detector table cut to its row name, its ranking metric and the columns
        ``names`` (column names or header labels, any case), and left out where it holds none of them; a
        UserError if a name is no such table's column."""
        wanted = {n.strip().lower() for n in names if n.strip()}
        tables = [b for b in self.boards if b.kind in TABLE_KINDS_WITH_COLUMNS]
        if not tables:
            cut = f"{', '.join(TABLE_KINDS_WITH_COLUMNS[:-1])} and {TABLE_KINDS_WITH_COLUMNS[-1]} tables"
            if not self.boards:
                raise UserError(f"--columns cuts the {cut} and these records fill none of them")
            kinds = " and ".join(sorted({b.kind for b in self.boards}))
            columns = ", ".join(dict.fromkeys(c.name for b in self.boards for c in b.columns))
            raise UserError(f"--columns cuts the {cut}, and the {kinds} tables shown keep every column "
                            f"(columns: {columns}): drop --columns or pick one of those with --table")
        known = set().union(*(column_keys(c) for b in tables for c in b.columns))
        if not wanted or wanted - known:
            names_known = sorted({c.name for b in tables for c in b.columns})
            raise UserError(f"no column {', '.join(sorted(wanted - known)) or '(none named)'} in the "
                            f"{' or '.join(sorted({b.kind for b in tables}))} tables "
                            f"(columns: {', '.join(names_known)})")
        boards = [b.with_columns(wanted) if b.kind in TABLE_KINDS_WITH_COLUMNS else b for b in self.boards]
        return replace(self, boards=[b for b in boards if any(c.numeric for c in b.columns)])

    def sorted_by(self, name: str) -> Leaderboard:
        """Every table holding column ``name`` sorted by it; a UserError if no table holds it."""
        if not any(b.column(name) for b in self.boards):
            names = (sorted({c.name for b in self.boards if b.kind != "cross" for c in b.columns})
                     or list(dict.fromkeys(c.name for b in self.boards for c in b.columns)))
            raise UserError(f"no column {name!r} to sort by (columns: {', '.join(names) or 'none'})")
        return replace(self, boards=[b.sorted_by(name) for b in self.boards])


# ---------------------------------------------------------------------------------------- records
def detector_label(name: str, identity: Any) -> str:
    """A detector's row label: its name, with the constructor arguments and weights files (name and
    digest) it ran with, so that e.g. a pretrained and a from-scratch run never share a row."""
    if not isinstance(identity, dict):
        return name
    arguments = ", ".join(f"{k}={v}" for k, v in sorted((identity.get("arguments") or {}).items()))
    weights = ", ".join(f"{file} {digest[:8]}" for file, digest in sorted((identity.get("weights") or {}).items()))
    return name + (f" ({arguments})" if arguments else "") + (f" [{weights}]" if weights else "")


def json_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records reduced to the documented row fields (plus ``protocol`` and ``key``)."""
    rows = []
    for record in records:
        row = {name: record.get(name) for name in ROW_FIELDS}
        if row["kind"] == "detection" and row["perturbation"] is None:
            row["perturbation"] = "none"
        row["protocol"] = record.get("protocol", {})
        row["key"] = record.get("key")
        rows.append(row)
    return rows


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per record: the row fields, metrics flattened into columns, ``protocol`` and ``info`` as dicts."""
    rows = []
    for record in records:
        row = {name: record.get(name) for name in ROW_FIELDS if name != "metrics"}
        if row["kind"] == "detection" and row["perturbation"] is None:
            row["perturbation"] = "none"
        row.update({k: v for k, v in (record.get("metrics") or {}).items() if k not in row})
        if row.get("detector"):
            row["detector"] = detector_label(row["detector"], (record.get("protocol") or {}).get("detector"))
        row["protocol"] = record.get("protocol") or {}
        row["info"] = record.get("info") or {}
        rows.append(row)
    frame = pd.DataFrame(rows)
    for name in ROW_FIELDS:
        if name != "metrics" and name not in frame:
            frame[name] = None
    return frame


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.status == "ok"] if not frame.empty else frame


def _present(frame: pd.DataFrame, names: Iterable[str]) -> list[str]:
    return [n for n in names if n in frame and pd.to_numeric(frame[n], errors="coerce").notna().any()]


def _info(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame["info"].map(lambda info: info.get(name) if isinstance(info, dict) else None)


def _sig(frame: pd.DataFrame) -> pd.Series:
    return frame["protocol"].map(lambda p: signature(p) or "")


# Detection cells of one design (a detector trained on one generator, on all of them, on all but one)
# have training sets that differ in size by design (train-on-all and leave-one-out split their fakes
# evenly between generators, rounding down): those sizes do not split a table, and its protocol line
# gives their range.
TRAINING_CELL_KEYS = ("n_train_real", "n_train_fake")


def _cells_sig(frame: pd.DataFrame) -> pd.Series:
    """Each row's signature without the training-set sizes of :data:`TRAINING_CELL_KEYS`."""
    return frame["protocol"].map(lambda p: signature({k: v for k, v in (p or {}).items()
                                                      if k not in TRAINING_CELL_KEYS}) or "")


def _size_span(value: Any) -> tuple[int, int] | None:
    """A training-set size (``800``) or span (``"798–800"``) as ``(low, high)``; None for anything else."""
    if isinstance(value, int):
        return value, value
    low, dash, high = str(value).partition("–")
    return (int(low), int(high)) if dash and low.isdigit() and high.isdigit() else None


def _cells_common(protocols: Iterable[Any]) -> dict[str, Any]:
    """:func:`common` of the cells' protocols, with training-set sizes that differ given as ``low–high``."""
    protocols = [p for p in protocols if isinstance(p, dict)]
    shared = common(protocols)
    for key in TRAINING_CELL_KEYS:
        spans = [span for p in protocols if (span := _size_span(p.get(key))) is not None]
        if key not in shared and spans:
            low, high = min(s[0] for s in spans), max(s[1] for s in spans)
            shared[key] = f"{low}–{high}" if low != high else low
    return shared


def is_human(detector: Any) -> bool:
    return isinstance(detector, str) and detector.startswith(HUMAN_PREFIX)


# ---------------------------------------------------------------------------------------- aggregation
def over_seeds(per_seed: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Mean, sample std (NaN for one seed) and count over seeds of each column, per ``by`` group."""
    numeric = per_seed[by + columns].copy()
    numeric[columns] = numeric[columns].apply(pd.to_numeric, errors="coerce")
    grouped = numeric.groupby(by, sort=False)[columns]
    out = grouped.mean().join(grouped.std(ddof=1).add_suffix("_std")).join(grouped.count().add_suffix("_n"))
    return out.reset_index()


def _per_seed(frame: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Mean of duplicates within one seed."""
    numeric = frame[by + ["seed"] + columns].copy()
    numeric[columns] = numeric[columns].apply(pd.to_numeric, errors="coerce")
    return numeric.groupby(by + ["seed"], sort=False)[columns].mean().reset_index()


def _protocols(frame: pd.DataFrame, by: list[str], group: str) -> pd.DataFrame:
    """Per ``by`` group, the protocol its rows share (:func:`_cells_common`)."""
    return frame.groupby(by, sort=False)["protocol"].agg(_cells_common).rename(f"protocol_{group}").reset_index()


def _merge_all(parts: list[pd.DataFrame], on: list[str]) -> pd.DataFrame:
    return reduce(lambda a, b: a.merge(b, on=on, how="outer", sort=False), parts)


def _with_bounds(frame: pd.DataFrame, names: list[str]) -> list[str]:
    """``names`` and the bootstrap bounds (``<name>_ci_low``, ``_ci_high``) that the records of ``frame`` carry."""
    return names + _present(frame, [name + suffix for name in names for suffix in RECORD_BOUNDS])


def _bootstrap_bounds(table: pd.DataFrame, targets: dict[str, str] = RECORD_BOUNDS) -> pd.DataFrame:
    """Record bounds, averaged like their values, renamed ``<name>_boot_ci_low`` / ``_high`` (``targets``'
    names; std and count dropped)."""
    renamed, dropped = {}, []
    for column in table.columns:
        for suffix, target in targets.items():
            if column.endswith(suffix):
                renamed[column] = column[: -len(suffix)] + target
                dropped += [f"{column}_std", f"{column}_n"]
    return table.drop(columns=[c for c in dropped if c in table]).rename(columns=renamed)


def _boards(kind: str, title: str, merged: pd.DataFrame, groups: list[str], columns: list[Column],
            text: list[str]) -> list[Board]:
    """Split ``merged`` wherever the data set, the preset or a protocol group's signature differs; keep the
    columns each part fills."""
    sig_columns = [f"sig_{g}" for g in groups if f"sig_{g}" in merged]
    signatures = [[f"{dataset}/{preset}", *(v if isinstance(v, str) and v else None for v in sigs)]
                  for dataset, preset, *sigs in merged[["dataset", "preset", *sig_columns]].itertuples(index=False)]
    boards = []
    for members in partition(signatures):
        data = merged.iloc[members].reset_index(drop=True)
        kept = [c for c in columns if c.name in data and (data[c.name].notna().any())]
        if not any(c.numeric and c.group for c in kept):
            continue
        protocols = {g: _cells_common(data[f"protocol_{g}"]) for g in groups if f"protocol_{g}" in data}
        keep = [c.name for c in kept] + [f"{c.name}_{s}" for c in kept if c.numeric for s in ("std", "n")]
        keep += [c.name + s for c in kept if c.numeric for s in (BOOT_LOW, BOOT_HIGH, SAMPLE_LOW, SAMPLE_HIGH)
                 if c.name + s in data]
        keep += [t for t in text if t in data and t not in keep]
        data = with_intervals(data[keep], [c.name for c in kept if c.numeric],
                              limits={c.name: c.limits for c in kept if c.limits})
        presets = tuple(sorted({str(p) for p in data["preset"].dropna()})) if "preset" in data else ()
        boards.append(Board(kind, title, kept, data, {g: p for g, p in protocols.items() if p}, presets=presets))
    return boards


# ---------------------------------------------------------------------------------------- generators
def _quality(ok: pd.DataFrame) -> pd.DataFrame | None:
    gen = ok[ok.kind == "generation"]
    columns = _present(gen, GENERATION_METRICS)
    if gen.empty or not columns:
        return None
    gen = gen.assign(sig_quality=_sig(gen))
    by = GEN_KEYS + ["sig_quality"]
    columns = _with_bounds(gen, columns)
    table = _bootstrap_bounds(over_seeds(_per_seed(gen, by, columns), by, columns), SAMPLING_BOUNDS)
    seeds = gen.groupby(by, sort=False)["seed"].nunique().rename("seeds").reset_index()
    return table.merge(seeds, on=by).merge(_protocols(gen, by, "quality"), on=by)


def _detectability(ok: pd.DataFrame) -> pd.DataFrame | None:
    """How well the learned detectors tell a generator's fakes: baselines (``info.baseline``, the
    one-class detector that never sees a fake) have their own rows in the detector tables."""
    det = ok[(ok.kind == "detection") & (ok.perturbation == "none") & (ok.generator != NULL_GENERATOR)
             & ~ok.detector.map(is_human)]
    det = det[~_info(det, "baseline").map(lambda flag: flag is True)]
    if det.empty or "auc" not in det or det.auc.isna().all():
        return None
    det = det.assign(sig_detection=_cells_sig(det), train_generator=det.train_generator.fillna("-"))
    by = GEN_KEYS + ["sig_detection"]
    pairs = _per_seed(det, by + ["detector", "train_generator"], ["auc"])
    per_seed = pairs.groupby(by + ["seed"], sort=False)["auc"].agg(detect_auc_mean="mean", detect_auc_worst="min")
    table = over_seeds(per_seed.reset_index(), by, ["detect_auc_mean", "detect_auc_worst"])
    return table.merge(_protocols(det, by, "detection"), on=by)


def _human(ok: pd.DataFrame) -> pd.DataFrame | None:
    """Share of a generator's fakes voted real, pooled over raters (each rater is a ``human:<name>`` detector)."""
    votes = ok[(ok.kind == "detection") & ok.detector.map(is_human)]
    if votes.empty or not _present(votes, ["fooled_rate"]):
        return None
    raters = votes.groupby(GEN_KEYS, sort=False)["detector"].nunique().rename("raters").reset_index()
    table = over_seeds(_per_seed(votes, GEN_KEYS, ["fooled_rate"]), GEN_KEYS, ["fooled_rate"])
    table = table.merge(raters, on=GEN_KEYS)
    table["protocol_human"] = table.raters.map(lambda n: {"raters": int(n)})
    return table.drop(columns="raters")


UNRECORDED_CHIP = "a chip not recorded"


def _chip(processor: Any) -> str | None:
    """A record's chip, or None where the record predates chips being recorded."""
    return processor if isinstance(processor, str) and processor else None


def _timing_protocol(device: Any, *processors: Any) -> dict[str, str]:
    """The cost protocol of one seed: its device and the chips that timed its training and sampling
    (timings of different chips are never averaged into one cell). A seed whose records all predate
    chips names none; one that mixes such a record with a named chip names the unrecorded one too."""
    chips = [_chip(p) for p in processors]
    named = sorted({c for c in chips if c is not None})
    if named and None in chips:
        named.append(UNRECORDED_CHIP)
    return {**({"device": device} if isinstance(device, str) else {}),
            **({"processor": ", ".join(named)} if named else {})}


def _cost(ok: pd.DataFrame) -> pd.DataFrame | None:
    train = ok[ok.kind == "train"]
    sample = ok[ok.kind == "sample"]
    if train.empty and sample.empty:
        return None
    train = train.assign(family=_info(train, "family"), device=_info(train, "device"), task=_info(train, "task"),
                         train_processor=_info(train, "processor"))
    sample = sample.assign(samples=_info(sample, "samples"), sample_processor=_info(sample, "processor"))
    per_seed = _merge_all([
        _per_seed(train, GEN_KEYS, _present(train, ["params", "train_seconds"])),
        _per_seed(sample, GEN_KEYS, _present(sample, ["images_per_second"])),
        train[GEN_KEYS + ["seed", "family", "device", "task", "train_processor"]].drop_duplicates(GEN_KEYS + ["seed"]),
        sample[GEN_KEYS + ["seed", "samples", "sample_processor"]].drop_duplicates(GEN_KEYS + ["seed"]),
    ], GEN_KEYS + ["seed"])
    per_seed["protocol"] = [_timing_protocol(*cells) for cells in
                            per_seed[["device", "train_processor", "sample_processor"]].itertuples(index=False)]
    per_seed["sig_train"] = per_seed.protocol.map(lambda p: signature(p) or "")
    by = GEN_KEYS + ["sig_train"]
    columns = _present(per_seed, ["params", "train_seconds", "images_per_second"])
    table = over_seeds(per_seed, by, columns)
    first = per_seed.sort_values("seed").groupby(by, sort=False)[["family", "task", "samples"]].first().reset_index()
    return table.merge(first, on=by).merge(_protocols(per_seed, by, "train"), on=by)


GENERATOR_COLUMNS = [
    Column("generator", "generator", numeric=False), Column("family", "family", numeric=False),
    Column("dataset", "data set", numeric=False), Column("preset", "preset", numeric=False),
    Column("seeds", "seeds", better="higher", integer=True),
    *[Column(name, label, "quality", better, integer=name in COUNTS, limits=GENERATION_LIMITS.get(name))
      for name, (label, better) in GENERATION_METRICS.items()],
    Column("fooled_rate", "humans fooled", "human", "higher"),
    Column("detect_auc_mean", "detector AUC mean", "detection", "lower"),
    Column("detect_auc_worst", "detector AUC worst", "detection", "lower"),
    Column("params", "parameters", integer=True),
    Column("train_seconds", "train s", "train", "lower"),
    Column("images_per_second", "sampling img/s", "train", "higher"),
]


NOISE_TASK = "noise"
IMAGE_TO_IMAGE = "image-to-image"
IMAGE_TO_IMAGE_TITLE = "Image-to-image generators"


def _task_kind(task: Any) -> str | None:
    """A train record's task as a table split: generation from noise, or translation of images."""
    if not isinstance(task, str) or not task:
        return None
    return NOISE_TASK if task == NOISE_TASK else IMAGE_TO_IMAGE


def generator_boards(frame: pd.DataFrame) -> list[Board]:
    """One row per (generator, data set, preset): quality, human fooled rate, detectability, cost.

    Image-to-image variants translate real test-split images, so their rows never share a table with
    generators from noise (their quality protocol also names the task, which splits them by task).
    """
    ok = _ok(frame)
    if ok.empty:
        return []
    parts = [p for p in (_quality(ok), _detectability(ok), _human(ok), _cost(ok)) if p is not None]
    if not parts:
        return []
    merged = _merge_all(parts, GEN_KEYS)
    if "seeds" not in merged:
        merged["seeds"] = merged.get("train_seconds_n", pd.Series(np.nan, index=merged.index))
    for name in ("seeds_std", "seeds_n"):
        merged[name] = np.nan
    merged["sig_task"] = merged["task"].map(_task_kind) if "task" in merged else None
    boards = _boards("generators", "Generators", merged, ["task", "quality", "detection", "human", "train"],
                     GENERATOR_COLUMNS, ["samples", "sig_task"])
    boards = [replace(b, title=IMAGE_TO_IMAGE_TITLE) if IMAGE_TO_IMAGE in set(b.data.get("sig_task", ())) else b
              for b in boards]
    return [b.sorted_by("fid") if b.column("fid") else b.sorted_by("generator") for b in boards]


# ---------------------------------------------------------------------------------------- detectors
def _clean(ok: pd.DataFrame) -> pd.DataFrame:
    det = ok[(ok.kind == "detection") & ok.detector.notna()]
    det = det[(det.perturbation == "none") & (det.generator != NULL_GENERATOR)]
    return det.assign(sig_clean=_cells_sig(det))


def _worst(in_dist: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The test generator with the lowest in-distribution AUC (mean over seeds), with its std, count and bounds."""
    columns = _with_bounds(in_dist, ["auc"])
    per_gen = _bootstrap_bounds(over_seeds(in_dist, by + ["generator"], columns)).dropna(subset=["auc"])
    worst = per_gen.loc[per_gen.groupby(by, sort=False)["auc"].idxmin()]
    renamed = {c: f"worst_{c}" for c in worst if c.startswith("auc")}
    return worst.rename(columns={"generator": "worst_generator", **renamed})


def _timed_by_one_chip(det: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Detection rows with their timings (``fit_seconds``, ``detect_ips``), left blank where one
    table row's records come from several chips, and the chip in the protocol where they share one.
    A record that predates chips being recorded counts as a chip of its own."""
    chip = _info(det, "processor").map(_chip)
    rows = chip.fillna(UNRECORDED_CHIP).groupby([det[c] for c in by], sort=False, dropna=False)
    mixed = rows.transform("nunique") > 1
    protocols = [{**(p or {}), "processor": c} if c is not None and not several else p
                 for p, c, several in zip(det.protocol, chip, mixed)]
    return det.assign(fit_seconds=_info(det, "fit_seconds").where(~mixed),
                      detect_ips=_info(det, "images_per_second").where(~mixed), protocol=protocols)


def _detector_clean(ok: pd.DataFrame) -> pd.DataFrame | None:
    det = _clean(ok)
    if det.empty or not _present(det, ["auc"]):
        return None
    by = DET_KEYS + ["sig_clean"]
    train = det.train_generator
    in_dist = det[(train == det.generator) | train.isna()]
    cross = det[train.notna() & (train != det.generator) & (train != "all") & ~train.fillna("").str.startswith("all-but:")]
    loo = det[train == "all-but:" + det.generator.fillna("")]
    everything = det[train == "all"]
    parts = []
    metrics = _present(in_dist, IN_DISTRIBUTION)
    if metrics:
        columns = _with_bounds(in_dist, metrics)
        per_gen = _per_seed(in_dist, by + ["generator"], columns)
        parts.append(per_gen.groupby(by + ["seed"], sort=False)[columns].mean().add_prefix("in_").reset_index())
    for name, rows in (("cross_auc", cross), ("loo_auc", loo), ("all_auc", everything)):
        if not rows.empty and _present(rows, ["auc"]):
            columns = _with_bounds(rows, ["auc"])
            parts.append(_per_seed(rows, by, columns).rename(columns={c: name + c[len("auc"):] for c in columns}))
    det = _timed_by_one_chip(det, by)
    fits = _per_seed(det.assign(train_generator=det.train_generator.fillna("-")), by + ["train_generator"],
                     _present(det, ["fit_seconds"]))
    if "fit_seconds" in fits:
        parts.append(fits.groupby(by + ["seed"], sort=False)[["fit_seconds"]].mean().reset_index())
    if _present(det, ["detect_ips"]):
        parts.append(_per_seed(det, by, ["detect_ips"]))
    if not parts:
        return None
    per_seed = _merge_all(parts, by + ["seed"])
    columns = [c for c in per_seed.columns if c not in by + ["seed"]]
    table = _bootstrap_bounds(over_seeds(per_seed, by, columns))
    if metrics:
        table = table.merge(_worst(_per_seed(in_dist, by + ["generator"], _with_bounds(in_dist, ["auc"])), by), on=by,
                            how="left")
    return table.merge(_protocols(det, by, "clean"), on=by)


def perturbation_family(perturbation: str) -> str:
    return perturbation.split(":", 1)[0]


def perturbation_level(perturbation: str) -> float | None:
    """The number of a spec (``jpeg:70`` -> 70; ``blur:2@256px`` -> 2, a sigma on a 256-px side)."""
    level = perturbation.partition(":")[2].partition("@")[0]
    try:
        return float(level)
    except ValueError:
        return None


def perturbation_reference(perturbation: str) -> str | None:
    """The image side a spec's level is set on (``blur:2@256px`` -> ``256px``), if any."""
    return perturbation.partition("@")[2] or None


def _robustness(ok: pd.DataFrame) -> pd.DataFrame | None:
    det = ok[(ok.kind == "detection") & ok.detector.notna() & (ok.generator != NULL_GENERATOR)]
    det = det[det.perturbation.notna() & (det.perturbation != "none")]
    if det.empty or not _present(det, ["auc"]):
        return None
    det = det.assign(sig_robust=_sig(det), family="auc_" + det.perturbation.map(perturbation_family))
    by = DET_KEYS + ["sig_robust"]
    values = _with_bounds(det, ["auc"])
    per_seed = _per_seed(det, by + ["family"], values)
    wide = per_seed.pivot_table(index=by + ["seed"], columns="family", values=values, aggfunc="mean")
    wide.columns = [family + value[len("auc"):] for value, family in wide.columns]
    wide = wide.reset_index()
    columns = [c for c in wide.columns if c.startswith("auc_")]
    return _bootstrap_bounds(over_seeds(wide, by, columns)).merge(_protocols(det, by, "robust"), on=by)


def _null_check(ok: pd.DataFrame) -> pd.DataFrame | None:
    """Per detector: the null checks' AUC with its interval, and the p-value of each check (of each seed)."""
    null = ok[ok.kind.isin(["detection", "null_check"]) & ok.detector.notna() & (ok.generator == NULL_GENERATOR)]
    if null.empty or not _present(null, ["auc"]):
        return None
    null = null.assign(sig_null=_sig(null))
    by = DET_KEYS + ["sig_null"]
    columns = _with_bounds(null, ["auc"])
    table = _bootstrap_bounds(over_seeds(_per_seed(null, by, columns), by, columns))
    table = table.rename(columns={c: f"null_{c}" for c in table if c.startswith("auc")})
    if "null_p" in null:
        checks = null.groupby(by, sort=False)["null_p"].agg(
            lambda p: tuple(float(v) for v in pd.to_numeric(p, errors="coerce").dropna()))
        table = table.merge(checks.rename(NULL_P_VALUES).reset_index(), on=by)
    return table.merge(_protocols(null, by, "null"), on=by)


def _null_verdicts(board: Board) -> Board:
    """The board's null-check verdicts: Holm's correction over every check of its rows (one per detector and seed)."""
    if NULL_P_VALUES not in board.data:
        return board
    data = board.data.drop(columns=NULL_P_VALUES)
    checks = [(row, p) for row, values in enumerate(board.data[NULL_P_VALUES]) if isinstance(values, tuple)
              for p in values]
    if not checks:
        return replace(board, data=data)
    adjusted = holm_adjusted([p for _, p in checks])
    counted, failed, smallest = Counter(), Counter(), {}
    for (row, _), p in zip(checks, adjusted):
        counted[row] += 1
        failed[row] += p <= ALPHA
        smallest[row] = min(p, smallest.get(row, 1.0))
    verdicts = [None] * len(data)
    for row, count in counted.items():
        seeds = f" in {failed[row]}/{count} seeds" if count > 1 else ""
        verdicts[row] = f"fail{seeds}" if failed[row] else "pass"
    data = data.assign(null_verdict=verdicts, null_p_holm=[smallest.get(row, np.nan) for row in range(len(data))])
    at = next(i for i, c in enumerate(board.columns) if c.name == "null_auc") + 1
    columns = board.columns[:at] + [Column("null_verdict", "null check", "null", numeric=False),
                                    Column("null_p_holm", "null Holm p", "null")] + board.columns[at:]
    correction = (f"Holm-Bonferroni over the {len(checks)} null checks of this table (family-wise α = {ALPHA:g}; "
                  f"one check alone fails a sound detector 1 time in {round(1 / ALPHA)})")
    protocols = board.protocols | {"null": board.protocols.get("null", {}) | {"correction": correction}}
    return replace(board, columns=columns, data=data, protocols=protocols)


ROBUSTNESS_LABELS = {"jpeg": "AUC JPEG", "blur": "AUC blur", "resize": "AUC resize", "noise": "AUC noise"}


def _detector_columns(merged: pd.DataFrame) -> list[Column]:
    families = sorted((c[4:] for c in merged.columns if c.startswith("auc_")
                       and not c.endswith(("_std", "_n", BOOT_LOW, BOOT_HIGH))),
                      key=lambda f: (list(ROBUSTNESS_LABELS).index(f) if f in ROBUSTNESS_LABELS else 99, f))
    return [
        Column("detector", "detector", numeric=False), Column("dataset", "data set", numeric=False),
        Column("preset", "preset", numeric=False),
        Column("in_auc", "in-dist AUC", "clean", "higher", with_interval=True, limits=PROPORTION),
        Column("in_ap", "in-dist AP", "clean", "higher", with_interval=True, limits=PROPORTION),
        Column("in_balanced_acc", "in-dist bal. acc", "clean", "higher", with_interval=True, limits=PROPORTION),
        Column("in_tpr_at_1fpr", "in-dist TPR@1%FPR", "clean", "higher", with_interval=True, limits=PROPORTION),
        Column("in_eer", "in-dist EER", "clean", "lower"), Column("in_ece", "in-dist ECE", "clean", "lower"),
        Column("worst_generator", "worst generator", numeric=False),
        Column("worst_auc", "worst AUC", "clean", "higher", with_interval=True, limits=PROPORTION),
        Column("cross_auc", "cross-gen AUC", "clean", "higher", with_interval=True, limits=PROPORTION),
        Column("loo_auc", "leave-one-out AUC", "clean", "higher", with_interval=True, limits=PROPORTION),
        Column("all_auc", "train-on-all AUC", "clean", "higher", with_interval=True, limits=PROPORTION),
        *[Column(f"auc_{f}", ROBUSTNESS_LABELS.get(f, f"AUC {f}"), "robust", "higher", with_interval=True, limits=PROPORTION)
          for f in families],
        Column("null_auc", "null-check AUC", "null", with_interval=True, limits=PROPORTION),
        Column("fit_seconds", "fit s", "clean", "lower"), Column("detect_ips", "scoring img/s", "clean", "higher"),
    ]


def detector_boards(frame: pd.DataFrame) -> list[Board]:
    """One row per (detector, data set, preset)."""
    ok = _ok(frame)
    if ok.empty or not (ok.kind == "detection").any():
        return []
    parts = [p for p in (_detector_clean(ok), _robustness(ok), _null_check(ok)) if p is not None]
    if not parts:
        return []
    merged = _merge_all(parts, DET_KEYS)
    boards = _boards("detectors", "Detectors", merged, ["clean", "robust", "null"], _detector_columns(merged),
                     [NULL_P_VALUES])
    return [b.sorted_by("in_auc") if b.column("in_auc") else b for b in map(_null_verdicts, boards)]


# ---------------------------------------------------------------------------------------- cross matrix
CELL_SUFFIXES = ("", "_std", "_n", BOOT_LOW, BOOT_HIGH)


def _train_order(names: Iterable[str], tests: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (tests.index(n) if n in tests else len(tests), n))


def _cross_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The finished clean-fake detection rows with a training generator and an AUC: the cells of the
    cross-generator matrices."""
    ok = _ok(frame)
    if ok.empty or not (ok.kind == "detection").any():
        return ok.iloc[0:0]
    det = _clean(ok)
    return det[det.train_generator.notna() & det.auc.notna()] if "auc" in det else det.iloc[0:0]


def _cross_cells(rows: pd.DataFrame) -> pd.DataFrame:
    """AUC per (training generator, test generator): mean, std and count over seeds, with bootstrap bounds."""
    values = _with_bounds(rows, ["auc"])
    per_seed = _per_seed(rows, ["train_generator", "generator"], values)
    return _bootstrap_bounds(over_seeds(per_seed, ["train_generator", "generator"], values))


def cross_boards(frame: pd.DataFrame) -> list[Board]:
    """Per detector (and data set, preset, protocol): train generator x test generator AUC, mean over seeds."""
    det = _cross_rows(frame)
    if det.empty:
        return []
    boards = []
    for (detector, dataset, preset, sig), rows in det.groupby(DET_KEYS + ["sig_clean"], sort=True):
        cells = _cross_cells(rows)
        tests = sorted(rows.generator.unique())
        data = pd.DataFrame({"train_generator": _train_order(rows.train_generator.unique(), tests)})
        columns = [Column("train_generator", "trained on ↓ · tested on →", numeric=False)]
        for test in tests:
            cell = cells[cells.generator == test].set_index("train_generator")
            for suffix in CELL_SUFFIXES:
                if "auc" + suffix in cell:
                    data[f"{test}{suffix}"] = data.train_generator.map(cell["auc" + suffix])
            columns.append(Column(test, test, "clean", "higher", with_interval=True, limits=PROPORTION))
        data = with_intervals(data, tests, limits=dict.fromkeys(tests, PROPORTION))
        boards.append(Board("cross", f"Cross-generator AUC · {detector} · {dataset} / {preset}", columns, data,
                            {"clean": _cells_common(rows.protocol)}, subject=detector, presets=(str(preset),)))
    return boards


def by_generator_boards(frame: pd.DataFrame) -> list[Board]:
    """Per data set and preset, the cross-generator matrices turned and set side by side: one row per generator
    of fresh fakes, one column per detector and the fakes it was trained on (``detector:train``), AUC mean over
    seeds; each column keeps its own protocol (a detector fitted on other counts is another column group)."""
    det = _cross_rows(frame)
    if det.empty:
        return []
    boards = []
    for (dataset, preset), part in det.groupby(["dataset", "preset"], sort=True):
        tests = sorted(part.generator.unique())
        generators = pd.Series(tests)
        cell_values: dict[str, pd.Series] = {"generator": generators}
        columns = [Column("generator", "fresh fakes of ↓", numeric=False)]
        protocols: dict[str, dict[str, Any]] = {}
        for (detector, _), rows in part.groupby(["detector", "sig_clean"], sort=True):
            cells = _cross_cells(rows)
            for train in _train_order(rows.train_generator.unique(), tests):
                name = f"{detector}:{train}"
                if name in protocols:
                    name += f"#{sum(n.split('#')[0] == name for n in protocols) + 1}"
                cell = cells[cells.train_generator == train].set_index("generator")
                cell_values |= {name + suffix: generators.map(cell["auc" + suffix]) for suffix in CELL_SUFFIXES
                                if "auc" + suffix in cell}
                columns.append(Column(name, f"{detector} trained on {train}", name, "higher", with_interval=True,
                                      limits=PROPORTION))
                protocols[name] = common(rows[rows.train_generator == train].protocol)
        names = [c.name for c in columns[1:]]
        data = with_intervals(pd.DataFrame(cell_values), names, limits=dict.fromkeys(names, PROPORTION))
        boards.append(Board("by-generator", f"Detection AUC by generator of fresh fakes · {dataset} / {preset}",
                            columns, data, protocols, presets=(str(preset),)))
    return boards


# ---------------------------------------------------------------------------------------- all together
def problems(frame: pd.DataFrame) -> list[dict[str, Any]]:
    if frame.empty:
        return []
    bad = frame[frame.status.isin(["failed", "diverged", "skipped"])]
    fields = ["kind", "generator", "detector", "train_generator", "dataset", "preset", "seed", "status", "reason"]
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in bad[fields].to_dict("records")]


BOARD_BUILDERS: dict[str, Callable[[pd.DataFrame], list[Board]]] = {
    "generators": generator_boards, "detectors": detector_boards, "cross": cross_boards,
    "by-generator": by_generator_boards,
}
DEFAULT_TABLES = ("generators", "detectors", "cross")  # by-generator repeats the cross matrices, turned: on demand


def build_leaderboard(records: Iterable[dict[str, Any]], sort: str | None = None,
                      conflicts: Iterable[dict[str, Any]] = (), kinds: Sequence[str] = DEFAULT_TABLES) -> Leaderboard:
    """The tables of ``kinds`` (names of :data:`BOARD_BUILDERS`) of a set of records, optionally sorted by
    one column; ``conflicts`` (records of one unit that disagree, from merged sources) join the problems."""
    frame = records_frame(records)
    if frame.empty:
        return Leaderboard([], list(conflicts))
    board = Leaderboard([b for kind in kinds for b in BOARD_BUILDERS[kind](frame)], problems(frame) + list(conflicts))
    return board.sorted_by(sort) if sort else board
