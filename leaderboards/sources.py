"""The sources of one report: run folders and ``results.json`` files of earlier reports, merged.

A run folder gives its verified records (``records/*.json``); a ``results.json`` written by
``ganbench leaderboard publish`` gives the records it was built from (its ``records`` list: every
field of each record, so that the tables can be built again). Older ``results.json`` files carry
only the row fields of each record; read back, they fill every table but the columns drawn from
a record's ``info`` (family, fit time, scoring speed), and a warning says so.

Records are merged by unit, the unit kind and its key (the hash of everything that changes the
unit's result, :func:`ganbench.store.unit_key`): a unit met in several sources is kept once. Two
records of one unit whose results differ (their status, or a metric other than a wall-clock
measure, which no seed fixes) are a *conflict*. The record of the first source given is kept;
each conflict is named on one warning line on stderr (unit, key, both sources) and listed with
the report's problems, so a table never silently mixes or picks between two answers.

Records of different units can also answer one question: the same cell of a table (kind,
generator, detector with its arguments and weights, training set, perturbation) for the same data
set, preset and seed, under the same protocol, computed by other code, with other options (a
``--set`` override, another ``--fakes`` folder) or another thread count, all of which change the
key. Tables average over seeds, never within one, so only the newest of such records is kept;
the older ones are *superseded*: counted on one warning line and listed with the report's
problems, each with the key that replaced it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import UserError
from ganbench.leaderboards.protocols import signature
from ganbench.store import RunStore

RESULTS_FORMAT = 2  # results.json whose records hold every field of a record (info, created, version too)
PROBLEM_FIELDS = ("kind", "generator", "detector", "train_generator", "dataset", "preset", "seed")


def _warn(line: str) -> None:
    sys.stderr.write(f"warning: {line}\n")


def read_records(run_dir: Path, warn: Callable[[str], None] = _warn) -> list[dict[str, Any]]:
    """Every verified record of a run folder; corrupt or hand-edited ones are left out, as the
    runner does (it recomputes them), and named in one warning."""
    folder = run_dir / "records"
    if not folder.is_dir():
        raise UserError(f"no records in {run_dir} (run `ganbench run --out {run_dir}` first)")
    bodies, damaged = [], []
    for path in sorted(folder.glob("*.json")):
        body = RunStore.read_record_body(path)
        if body is None:
            damaged.append(path.name)
        else:
            bodies.append(body)
    if damaged:
        shown = ", ".join(damaged[:3]) + (f" and {len(damaged) - 3} more" if len(damaged) > 3 else "")
        warn(f"left out {len(damaged)} damaged or edited record(s) in {folder}: {shown} "
             f"(`ganbench run` with the same options recomputes them)")
    aside = sorted(path.name for path in folder.glob("*.json.damaged"))
    if aside:
        shown = ", ".join(aside[:3]) + (f" and {len(aside) - 3} more" if len(aside) > 3 else "")
        warn(f"{len(aside)} damaged record(s) in {folder} were moved aside by an earlier run: {shown} "
             "(kept for inspection)")
    return bodies


def _checked_row(row: Any, path: Path, index: int) -> dict[str, Any]:
    fields_ok = (isinstance(row, dict) and isinstance(row.get("kind"), str) and isinstance(row.get("key"), str)
                 and isinstance(row.get("metrics") or {}, dict) and isinstance(row.get("protocol") or {}, dict)
                 and isinstance(row.get("info") or {}, dict))
    if not fields_ok:
        raise UserError(f"{path}: record {index} is not a ganbench record (kind, key, metrics, protocol)")
    return {**row, "metrics": row.get("metrics") or {}, "protocol": row.get("protocol") or {},
            "info": row.get("info") or {}}


def read_results(path: Path, warn: Callable[[str], None] = _warn) -> list[dict[str, Any]]:
    """The records of a ``results.json`` written by ``leaderboard publish``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("records"), list):
        raise UserError(f"{path}: not a results.json of `ganbench leaderboard publish` (no records list)")
    records = [_checked_row(row, path, index) for index, row in enumerate(document["records"])]
    if document.get("format", 1) < RESULTS_FORMAT and records:
        warn(f"{path} was published by an older ganbench: its records lack their info, so family, fit time "
             "and scoring speed columns stay empty for them")
    return records


@dataclass(frozen=True)
class Source:
    """One source of a report and the records read from it."""

    path: Path
    records: list[dict[str, Any]]
    run_folder: bool


def read_source(path: Path, warn: Callable[[str], None] = _warn) -> Source:
    """A ``results.json`` (a file) or a run folder (anything else)."""
    if path.is_file():
        return Source(path, read_results(path, warn), False)
    return Source(path, read_records(path, warn), True)


def outcome(record: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """What must agree between two records of one unit: status and every metric but wall-clock ones."""
    metrics = record.get("metrics") or {}
    return record.get("status"), {k: v for k, v in metrics.items() if "second" not in k}


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The names (status, metrics) in which two records of one unit disagree."""
    (status_a, metrics_a), (status_b, metrics_b) = outcome(a), outcome(b)
    names = ["status"] if status_a != status_b else []
    return names + sorted(k for k in metrics_a.keys() | metrics_b.keys() if metrics_a.get(k) != metrics_b.get(k))


def unit_name(record: dict[str, Any]) -> str:
    """A record's unit in words: its kind, subjects, data set, preset and seed."""
    subject = " ".join(str(record[k]) for k in ("generator", "train_generator", "detector", "perturbation")
                       if record.get(k))
    return f"{record['kind']} {subject} ({record.get('dataset')}/{record.get('preset')}, seed {record.get('seed')})"


def question(record: dict[str, Any]) -> tuple[Any, ...]:
    """What a record answers: its table cell (the detector with its arguments and weights), data set,
    preset, seed and protocol signature; records of one question differ only in how they were computed."""
    protocol = record.get("protocol") or {}
    perturbation = record.get("perturbation") or ("none" if record.get("kind") == "detection" else None)
    detector = json.dumps(protocol.get("detector"), sort_keys=True, default=str)
    return (record.get("kind"), record.get("generator"), record.get("train_generator"), record.get("detector"),
            detector, perturbation, record.get("dataset"), record.get("preset"), record.get("seed"),
            signature(protocol))


def newness(record: dict[str, Any]) -> tuple[str, str]:
    """Order of computation: the creation time (records without one first), then the key."""
    return str(record.get("created") or ""), str(record.get("key"))


@dataclass(frozen=True)
class Superseded:
    """An older record left out for a newer one of the same question (``newer``), with another key."""

    record: dict[str, Any]
    newer: dict[str, Any]

    def reason(self) -> str:
        return (f"key {self.record['key']} ({self.record.get('created') or 'no date'}) superseded by key "
                f"{self.newer['key']} ({self.newer.get('created') or 'no date'}): other code, options or threads")

    def problem(self) -> dict[str, Any]:
        """The left-out record as a row of the report's problems."""
        return {**{k: self.record.get(k) for k in PROBLEM_FIELDS}, "status": "superseded", "reason": self.reason()}


def newest_answers(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Superseded]]:
    """``records`` less those superseded by a newer record of the same :func:`question`, in their order."""
    questions = [question(record) for record in records]
    newest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for asked, record in zip(questions, records):
        if asked not in newest or newness(record) > newness(newest[asked]):
            newest[asked] = record
    kept, left_out = [], []
    for asked, record in zip(questions, records):
        if newest[asked] is record:
            kept.append(record)
        else:
            left_out.append(Superseded(record, newest[asked]))
    return kept, left_out


@dataclass(frozen=True)
class Conflict:
    """Two records of one unit with different results: the one kept (of ``kept_from``) and where the other is."""

    record: dict[str, Any]
    kept_from: Path
    other_from: Path
    differ: list[str]

    def reason(self) -> str:
        shown = ", ".join(self.differ[:4]) + (", ..." if len(self.differ) > 4 else "")
        return f"key {self.record['key']}: {self.kept_from} (kept) and {self.other_from} differ in {shown}"

    def line(self) -> str:
        return f"conflicting records of unit {unit_name(self.record)}: {self.reason()}"

    def problem(self) -> dict[str, Any]:
        """The conflict as a row of the report's problems."""
        return {**{k: self.record.get(k) for k in PROBLEM_FIELDS}, "status": "conflict", "reason": self.reason()}


@dataclass
class Merged:
    """The records of every source, each unit once and each question's newest, with the conflicts
    found, the records superseded and the run folders among the sources."""

    records: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    superseded: list[Superseded] = field(default_factory=list)
    run_folders: list[Path] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[dict[str, Any]]:
        return [c.problem() for c in self.conflicts] + [s.problem() for s in self.superseded]

    def superseded_line(self) -> str | None:
        """One warning line for the superseded records (the first three named), or None when there are none."""
        if not self.superseded:
            return None
        shown = "; ".join(f"{unit_name(s.record)} key {s.record['key']} by {s.newer['key']}"
                          for s in self.superseded[:3])
        more = f"; and {len(self.superseded) - 3} more" if len(self.superseded) > 3 else ""
        return (f"left out {len(self.superseded)} older record(s) superseded by newer records of the same table "
                f"cells, data sets, presets and seeds (other code, options or thread counts; tables never average "
                f"within a seed): {shown}{more}")


def merge(sources: Sequence[Source]) -> Merged:
    """Records of ``sources`` in order, deduplicated by (kind, key), then by question (:func:`newest_answers`);
    a conflict keeps the first source's record."""
    merged = Merged(run_folders=[s.path for s in sources if s.run_folder], sources=[s.path for s in sources])
    seen: dict[tuple[str, str], tuple[dict[str, Any], Path]] = {}
    for source in sources:
        for record in source.records:
            unit = (record["kind"], record["key"])
            if unit not in seen:
                seen[unit] = (record, source.path)
                merged.records.append(record)
                continue
            kept, kept_from = seen[unit]
            if differ := differences(kept, record):
                merged.conflicts.append(Conflict(kept, kept_from, source.path, differ))
    merged.records, merged.superseded = newest_answers(merged.records)
    return merged


def read_sources(paths: Sequence[Path], warn: Callable[[str], None] = _warn) -> Merged:
    """Every source read and merged; each conflict named on one warning line."""
    if not paths:
        raise UserError("no source given: name run folders (--out) or results.json files")
    resolved = [p.resolve() for p in paths]
    repeated = sorted({str(p) for p, r in zip(paths, resolved) if resolved.count(r) > 1})
    if repeated:
        raise UserError(f"source {repeated[0]} is given more than once")
    merged = merge([read_source(path, warn) for path in paths])
    for conflict in merged.conflicts:
        warn(conflict.line())
    if line := merged.superseded_line():
        warn(line)
    return merged


def run_file(run_dirs: Sequence[Path], relative: object, suffix: str) -> Path | None:
    """The file ``relative`` names inside the first run folder that holds it (never a path leading out of it)."""
    if not isinstance(relative, str):
        return None
    for run_dir in run_dirs:
        root = run_dir.resolve()
        path = (root / relative).resolve()
        if path.is_relative_to(root) and path.suffix.lower() == suffix and path.is_file():
            return path
    return None
