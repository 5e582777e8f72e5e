"""The run store: units, their keys, atomic records and checkpoints under ``--out``.

Layout::

    <out>/records/<kind>-<label>-<key>.json   one JSON record per finished unit
    <out>/checkpoints/<label>-<key>.pt         generator checkpoints (weights_only loadable)
    <out>/curves/<label>-<key>.jsonl           training curves: mean losses every few steps, cheap quality checks
    <out>/tensorboard/<label>-<key>/           the same curves for TensorBoard (where it is installed)
    <out>/fakes/<label>-<key>.npz              quantized fakes (uint8), reused by later units
    <out>/samples/<label>-<key>.png            a sample grid per generator
    <out>/cache/                               feature extractors and other reusable state
    <out>/locks/                               one lock file per unit being computed (JSON, heartbeat)

Every file is written to a temporary name in the same folder and moved into place with
``os.replace``, so a reader sees the old file or the new one, never half of one. Curve files are
the exception: they grow by whole lines, each flushed as written, and a resumed training rewrites
its file atomically first (``ganbench.curves``).

Damage (a truncated, corrupt or edited file) is detected on reading, never trusted: a record
carries a checksum of its own body; a checkpoint or a cached network is a zip archive whose
members' CRC-32s are checked before ``torch.load`` (which checks none) loads it with
``weights_only``; an ``.npz`` of fakes is read through ``zipfile``, which checks them. A
:class:`Damage` names the file and the reason; :func:`quarantine` moves the file aside to
``<name>.damaged`` (one copy kept, an older one replaced), and the caller says on one line what
is recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.errors import UserError
from ganbench.locks import UnitLock
from ganbench.records import Record, record_from_dict


def unit_key(config: dict[str, Any]) -> str:
    """Stable 12-hex key of a unit's full configuration (sorted JSON, sha256)."""
    blob = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


_FILE_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}
#: a file changed less than this long before it was read may change again within its timestamps'
#: resolution (2 s on FAT, 1 s on ext3 and HFS+) without changing them; its digest is not kept
RACY_WINDOW_NS = 3_000_000_000


def file_digest(path: Path) -> str:
    """A file's SHA-256 (first 16 hex digits), read once per (path, size, modification and change
    times, inode), except while the file is younger than :data:`RACY_WINDOW_NS`: a rewrite of the
    same size within one timestamp tick keeps all five, so a recent file is read again each time."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    if memo in _FILE_DIGESTS:
        return _FILE_DIGESTS[memo]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    value = digest.hexdigest()[:16]
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > RACY_WINDOW_NS:
        _FILE_DIGESTS[memo] = value
    return value


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:80]


@functools.cache
def file_mode() -> int:
    """The mode a new file gets from the process umask (0644 under the usual 022), read once."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and ``os.replace``.

    The file is readable as the umask allows (a temporary file alone would be 0600), so a run
    folder or a published site can be shared as it is. A failed write (full disk, no
    permission) leaves the previous file untouched and raises a :class:`UserError` naming the file.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, file_mode())
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


DAMAGED_SUFFIX = ".damaged"


@dataclass(frozen=True)
class Damage:
    """A file that failed its checksum or its safe load: what it holds, where, why, and the
    ``os.stat`` of the copy that was read (so that a copy rewritten since is never moved aside)."""

    what: str
    path: Path
    reason: str
    seen: os.stat_result | None = None


class DamagedFile(Exception):
    """Raised by the readers below for a file that is there but damaged."""

    def __init__(self, damage: Damage) -> None:
        super().__init__(f"{damage.path}: {damage.reason}")
        self.damage = damage


def quarantine(damage: Damage, then: str) -> str | None:
    """Move a damaged file aside to ``<name>.damaged`` (replacing an older copy) and return the one
    warning line that says what, which file and ``then``, what happens now. None when the file is
    gone or was rewritten since it was read (another process dealt with it first)."""
    aside = damage.path.with_name(damage.path.name + DAMAGED_SUFFIX)
    try:
        if damage.seen is not None and _identity(damage.seen) != _identity(os.stat(damage.path)):
            return None
        os.replace(damage.path, aside)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"cannot move damaged {damage.what} {damage.path} aside: {exc.strerror or exc}") from exc
    return f"warning: damaged {damage.what} {damage.path}: {damage.reason}; moved aside to {aside.name}; {then}"


def _identity(stat: os.stat_result) -> tuple[int, ...]:
    """What tells one copy of a file from another written at the same path (inodes are reused)."""
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _zip_damage(file: Any) -> str | None:
    """Why a file that ends like a zip archive (as ``torch.save`` writes) is damaged, or None when
    every member's header and CRC-32 check out (other files are left to ``torch.load``)."""
    try:
        if not zipfile.is_zipfile(file):
            return None
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        return f"damaged zip archive: {exc}"
    return None if bad is None else f"CRC-32 mismatch in {bad}"


def load_torch(path: Path, what: str, map_location: Any = "cpu") -> Any:
    """``torch.load(..., weights_only=True)`` of a file whose zip CRC-32s check out; raises
    :class:`DamagedFile` when either fails, ``FileNotFoundError`` when it is missing."""
    with open(path, "rb") as f:
        seen = os.fstat(f.fileno())
        reason = _zip_damage(f)
        if reason is None:
            f.seek(0)
            try:
                return torch.load(f, map_location=map_location, weights_only=True)
            except Exception as exc:
                reason = f"unreadable or unsafe: {exc.__class__.__name__}"
    raise DamagedFile(Damage(what, path, reason, seen))


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Save arrays as an ``.npz`` atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (never unpickling; zipfile checks each member's CRC-32); raises
    :class:`DamagedFile` for a damaged file, ``FileNotFoundError`` for a missing one."""
    with open(path, "rb") as f:
        seen = os.fstat(f.fileno())
        try:
            with np.load(f, allow_pickle=False) as archive:
                return {k: archive[k] for k in archive.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            reason = f"unreadable: {exc.__class__.__name__}: {exc}"
    raise DamagedFile(Damage(what, path, reason, seen))


def read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays of an ``.npz`` (never unpickling), or None if it is missing or damaged."""
    try:
        return load_npz(path, "npz")
    except (FileNotFoundError, DamagedFile):
        return None


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


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

    def curves_path(self, label: str, key: str) -> Path:
        """The training curve (JSONL) of a training unit; not part of its result."""
        return self.root / "curves" / f"{_safe(label)}-{key}.jsonl"

    def tensorboard_dir(self, label: str, key: str) -> Path:
        return self.root / "tensorboard" / f"{_safe(label)}-{key}"

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

    def lock(self, kind: str, label: str, key: str, *, on_wait: Callable[[str], None] | None = None) -> UnitLock:
        """The lock of one unit; ``on_wait`` receives a line now and then while another process holds it."""
        return UnitLock(self.root / "locks" / f"{kind}-{_safe(label)}-{key}.lock", label=f"{kind} {label}",
                        on_wait=on_wait)

    # -- records
    def write_record(self, record: Record, label: str) -> Path:
        body = record.to_dict()
        body["checksum"] = _checksum(body)
        path = self.record_path(record.kind, label, record.key)
        atomic_write_bytes(path, json.dumps(body, indent=1, sort_keys=True).encode())
        return path

    @staticmethod
    def verified_body(path: Path) -> dict[str, Any]:
        """A record file's JSON body after its checksum is checked (and removed); raises
        :class:`DamagedFile` for a file that is not JSON, lacks its checksum or fails it (edited or
        corrupt), ``FileNotFoundError`` for a missing one."""
        with open(path, "rb") as f:
            seen = os.fstat(f.fileno())
            raw = f.read()
        try:
            body = json.loads(raw)
            checksum = body.pop("checksum")
        except (ValueError, KeyError, AttributeError, TypeError):
            raise DamagedFile(Damage("record", path, "not a JSON record with a checksum", seen)) from None
        if checksum != _checksum(body):
            raise DamagedFile(Damage("record", path, "checksum mismatch: edited or corrupt", seen))
        return body

    @classmethod
    def load_record(cls, path: Path) -> Record:
        """A verified record, typed by its kind; raises like :meth:`verified_body`, and
        :class:`DamagedFile` for fields of no known record layout."""
        body = cls.verified_body(path)
        try:
            return record_from_dict(body)
        except TypeError:
            raise DamagedFile(Damage("record", path, "fields of no known record layout")) from None

    @classmethod
    def read_record_body(cls, path: Path) -> dict[str, Any] | None:
        """A verified record's JSON body, or None for a missing, truncated, corrupt or tampered file."""
        try:
            return cls.verified_body(path)
        except (OSError, DamagedFile):
            return None

    @classmethod
    def read_record_file(cls, path: Path) -> Record | None:
        """A verified record, typed by its kind, or None for a missing, truncated, corrupt or tampered file."""
        try:
            return cls.load_record(path)
        except (OSError, DamagedFile):
            return None

    def find_record(self, kind: str, label: str, key: str) -> Record | None:
        """The unit's verified record, or None when it has none or a damaged one."""
        return self.read_record_file(self.record_path(kind, label, key))

    def records(self) -> Iterator[Record]:
        for path in sorted((self.root / "records").glob("*.json")):
            record = self.read_record_file(path)
            if record is not None:
                yield record

    # -- tensors
    def save_checkpoint(self, path: Path, state: dict[str, Any]) -> None:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(path, buffer.getvalue())

    @staticmethod
    def load_checkpoint(path: Path) -> dict[str, Any]:
        """Load with ``weights_only=True`` (a checkpoint can never run code) after checking its
        CRC-32s (:func:`load_torch`); a missing or damaged file is a :class:`UserError`."""
        try:
            return load_torch(path, "checkpoint")
        except FileNotFoundError:
            raise UserError(f"{path}: no such checkpoint") from None
        except DamagedFile as exc:
            raise UserError(f"{path}: damaged checkpoint: {exc.damage.reason}") from exc

