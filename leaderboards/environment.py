"""The environment a report states: versions, devices, data set hashes and dates, read from the records.

Reporting the software versions, hardware and exact data behind every number follows the
reproducibility checklist of Pineau et al., "Improving Reproducibility in Machine Learning
Research", JMLR 2021.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from importlib import metadata
from typing import Any

from ganbench import __version__


def _distinct(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if v not in (None, "")})


def _installed(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _thread_counts(records: list[dict[str, Any]]) -> list[str]:
    """The torch thread counts the records were computed with, in numeric order (a record's numbers
    are reproducible only at its own thread count)."""
    counts = {(r.get("info") or {}).get("threads") for r in records}
    return [str(n) for n in sorted(n for n in counts if isinstance(n, int))]


def environment(records: list[dict[str, Any]], now: _dt.datetime | None = None) -> dict[str, Any]:
    """What produced the records (from the records; where they are silent, the publishing environment, so marked)."""
    train_infos = [r.get("info") or {} for r in records if r.get("kind") == "train"]
    created = _distinct(r.get("created") for r in records)
    datasets: dict[str, list[Any]] = {}
    for record in records:
        if record.get("kind") == "train":
            datasets.setdefault(str(record.get("dataset")), []).append((record.get("info") or {}).get("data"))
    torch_versions = _distinct(i.get("torch") for i in train_infos)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return {
        "ganbench": _distinct(r.get("ganbench_version") for r in records) or [__version__],
        "torch": torch_versions or [f"{_installed('torch')} (publishing machine; not in the records)"],
        "device": _distinct(i.get("device") for i in train_infos) or ["not recorded"],
        "processor": _distinct((r.get("info") or {}).get("processor") for r in records) or ["not recorded"],
        "threads": _thread_counts(records) or ["not recorded"],
        "datasets": {name: _distinct(hashes) or ["not recorded"] for name, hashes in sorted(datasets.items())},
        "records": len(records),
        "runs": f"{created[0]} .. {created[-1]}" if created else "unknown",
        "published": now.isoformat(timespec="seconds"),
        "published_with": f"ganbench {__version__}",
    }


def environment_rows(env: dict[str, Any]) -> list[tuple[str, Any]]:
    """The environment as (label, value) rows, in the order every report shows them."""
    listed = ("ganbench", "torch", "device", "processor", "threads")
    rows: list[tuple[str, Any]] = [(label, ", ".join(env[label])) for label in listed]
    rows += [(f"data set {name}", ", ".join(hashes)) for name, hashes in env["datasets"].items()]
    return rows + [("records", env["records"]), ("runs", env["runs"]),
                   ("published", f"{env['published']} ({env['published_with']})")]
