"""The run store: units, their keys, atomic records and checkpoints under ``--out``.

Layout::

    <out>/records/<kind>-<label>-<key>.json   one JSON record per finished unit
    <out>/checkpoints/<label>-<key>.pt         generator checkpoints (weights_only loadable)
    <out>/fakes/<label>-<key>.npz              quantized fakes (uint8), reused by later units
    <out>/samples/<label>-<key>.png            a sample grid per generator
    <out>/cache/                               feature extractors and other reusable state
    <out>/locks/                               one lock file per unit being computed (pid, host)

Every file is written to a temporary name in the same folder and moved into place with
``os.replace``, so a reader sees the old file or the new one, never half of one. A record
carries a checksum of its own body; a record that fails to parse or verify is treated as
absent and its unit runs again.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import socket
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench import __version__
from ganbench.errors import UserError

RECORD_FIELDS = ("kind", "dataset", "preset", "seed", "generator", "train_generator", "perturbation",
                 "detector", "status", "reason", "seconds", "metrics")
STATUSES = ("ok", "failed", "diverged", "skipped")


def unit_key(config: dict[str, Any]) -> str:
    """Stable 12-hex key of a unit's full configuration (sorted JSON, sha256)."""
    blob = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:80]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and ``os.replace``.

    A failed write (full disk, no permission) leaves the previous file untouched and raises a
    :class:`UserError` naming the file.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class UnitLock:
    """An exclusive lock file holding ``<pid> <host>``; a lock whose process is dead is taken over.

    Acquiring waits while a live process holds the lock, so two runs on one ``--out`` compute
    each unit once: the second finds the first's record when the lock is released.
    """

    STALE_EMPTY_SECONDS = 10.0

    def __init__(self, path: Path, poll: float = 0.2) -> None:
        self.path, self.poll = path, poll
        self.waited = False

    def _owner(self) -> tuple[int, str] | None:
        try:
            pid, host = self.path.read_text().split()
            return int(pid), host
        except (OSError, ValueError):
            return None

    def _stale(self) -> bool:
        owner = self._owner()
        if owner is None:
            try:
                return time.time() - self.path.stat().st_mtime > self.STALE_EMPTY_SECONDS
            except FileNotFoundError:
                return False
        pid, host = owner
        return host == socket.gethostname() and not _process_alive(pid)

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._stale():
                    try:
                        os.rename(self.path, self.path.with_name(f"{self.path.name}.stale-{os.getpid()}"))
                        self.path.with_name(f"{self.path.name}.stale-{os.getpid()}").unlink()
                    except FileNotFoundError:
                        pass
                    continue
                self.waited = True
                time.sleep(self.poll)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()} {socket.gethostname()}")
            return

    def release(self) -> None:
        owner = self._owner()
        if owner is not None and owner[0] == os.getpid():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> UnitLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Save arrays as an ``.npz`` atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays of an ``.npz`` (never unpickling), or None if it is missing or truncated."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Record:
    """One finished unit. ``metrics`` holds numbers under the fixed keys listed in README."""

    kind: str
    key: str
    dataset: str
    preset: str
    seed: int
    status: str = "ok"
    generator: str | None = None
    train_generator: str | None = None
    detector: str | None = None
    perturbation: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        body = {name: getattr(self, name) for name in self.__dataclass_fields__}
        body["metrics"] = {k: _plain_number(v) for k, v in self.metrics.items()}
        body["ganbench_version"] = __version__
        body["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Record:
        return cls(**{name: body[name] for name in cls.__dataclass_fields__ if name in body})


def _plain_number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if np.isfinite(value) else None


CACHE_ENV = "GANBENCH_CACHE"


class RunStore:
    """Everything a run keeps under ``--out``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"--out {self.root} exists and is not a folder")
        try:
            for sub in ("records", "checkpoints", "fakes", "samples", "cache", "locks"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create --out {self.root}: {exc.strerror or exc}") from exc
        if not os.access(self.root / "records", os.W_OK):
            raise UserError(f"--out {self.root} is not writable")

    # -- paths
    def record_path(self, kind: str, label: str, key: str) -> Path:
        return self.root / "records" / f"{kind}-{_safe(label)}-{key}.json"

    def checkpoint_path(self, label: str, key: str) -> Path:
        return self.root / "checkpoints" / f"{_safe(label)}-{key}.pt"

    def fakes_path(self, label: str, key: str) -> Path:
        return self.root / "fakes" / f"{_safe(label)}-{key}.npz"

    def samples_path(self, label: str, key: str) -> Path:
        return self.root / "samples" / f"{_safe(label)}-{key}.png"

    @property
    def cache_dir(self) -> Path:
        """``$GANBENCH_CACHE`` when set (shared by many runs), else the run's own ``cache/``.

        Cached state (reference classifiers) is keyed by recipe, data fingerprint, seed and
        epochs and written atomically, so runs may share one folder.
        """
        shared = os.environ.get(CACHE_ENV)
        return Path(shared) if shared else self.root / "cache"

    def lock(self, kind: str, label: str, key: str) -> UnitLock:
        return UnitLock(self.root / "locks" / f"{kind}-{_safe(label)}-{key}.lock")

    # -- records
    def write_record(self, record: Record, label: str) -> Path:
        body = record.to_dict()
        body["checksum"] = _checksum(body)
        path = self.record_path(record.kind, label, record.key)
        atomic_write_bytes(path, json.dumps(body, indent=1, sort_keys=True).encode())
        return path

    @staticmethod
    def read_record_file(path: Path) -> dict[str, Any] | None:
        """A verified record body, or None for a truncated, corrupt or tampered file."""
        try:
            body = json.loads(path.read_text())
            checksum = body.pop("checksum")
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            return None
        return body if checksum == _checksum(body) else None

    def find_record(self, kind: str, label: str, key: str) -> dict[str, Any] | None:
        path = self.record_path(kind, label, key)
        return self.read_record_file(path) if path.exists() else None

    def records(self) -> Iterator[dict[str, Any]]:
        for path in sorted((self.root / "records").glob("*.json")):
            body = self.read_record_file(path)
            if body is not None:
                yield body

    # -- tensors
    def save_checkpoint(self, path: Path, state: dict[str, Any]) -> None:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(path, buffer.getvalue())

    @staticmethod
    def load_checkpoint(path: Path) -> dict[str, Any]:
        """Load with ``weights_only=True``: a checkpoint can never run code."""
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise UserError(f"{path}: unreadable or unsafe checkpoint ({exc.__class__.__name__})") from exc

