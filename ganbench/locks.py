"""Unit locks: one heartbeated lock file per unit being computed, safe across processes and hosts.

Two runs on one ``--out`` (or shards of one suite on shared storage) compute each unit once: the
first takes the unit's lock, the others wait and then read its record back. A lock left behind
by a dead process of this host is taken over at once, and one whose heartbeat has stopped for
longer than the timeout is taken over from any host; :class:`UnitLock` says how, atomically.
POSIX only (``fcntl.flock``). One module of some 350 lines: the lock format, the take-over
protocol and the heartbeat thread are one mechanism and are read together.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganbench.errors import UserError

LOCK_TIMEOUT_ENV = "GANBENCH_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 120.0
_MAX_LOCK_BYTES = 1 << 16
_GUARDS: dict[str, threading.Lock] = {}
_GUARDS_LOCK = threading.Lock()


def _process_alive(pid: int) -> bool:
    """Whether a running process has this pid here (a zombie, or a pid below 1, does not)."""
    if pid < 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@functools.cache
def _pid_scope() -> str:
    """The kernel boot and pid namespace in which this process's pids mean something ('' where unknown)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def _lock_timeout() -> float:
    value = os.environ.get(LOCK_TIMEOUT_ENV)
    if value is None:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise UserError(f"{LOCK_TIMEOUT_ENV} must be a positive number of seconds, not {value!r}")
    return seconds


def _guard(path: Path) -> threading.Lock:
    """Orders this process's take-overs, heartbeats and releases of one lock file (on NFS, flock is per process)."""
    with _GUARDS_LOCK:
        return _GUARDS.setdefault(os.path.abspath(path), threading.Lock())


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


@dataclass(frozen=True)
class LockHolder:
    """What a lock file says about its holder; times are seconds since the epoch.

    A file in the older ``<pid> <host>`` format, or one being written, has the file's
    modification time as its heartbeat; an unreadable one has no host and pid.
    """

    host: str | None
    pid: int | None
    heartbeat: float
    unit: str | None = None
    started: float | None = None
    token: str | None = None
    pid_scope: str | None = None

    @classmethod
    def parse(cls, raw: bytes, mtime: float) -> LockHolder:
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text)
            return cls(host=str(body["host"]), pid=int(body["pid"]), heartbeat=float(body["heartbeat"]),
                       unit=body.get("unit"), started=body.get("started"), token=body.get("token"),
                       pid_scope=body.get("pid_scope"))
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        words = text.split()
        if len(words) == 2 and words[0].isdigit():
            return cls(host=words[1], pid=int(words[0]), heartbeat=mtime)
        return cls(host=None, pid=None, heartbeat=mtime)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}" if self.pid is not None else "an unreadable lock file"


def this_process() -> dict[str, object]:
    """Host, pid, pid scope and time of this process, as a lock file names its holder."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "heartbeat": round(time.time(), 3),
            "pid_scope": _pid_scope()}


def gone_from_this_host(holder: LockHolder) -> bool:
    """Whether ``holder`` was a process of this host (same name, boot and pid namespace) that has ended."""
    return (holder.pid is not None and holder.host == socket.gethostname()
            and holder.pid_scope in (None, _pid_scope()) and not _process_alive(holder.pid))


class UnitLock:
    """An exclusive, heartbeated lock file for one unit, shared by processes on any host.

    The file holds JSON: host, pid, unit label, start time, a heartbeat (refreshed every
    ``heartbeat`` seconds by a daemon thread while held) and a random token. A lock is *stale*
    when its heartbeat is older than ``timeout`` seconds (``$GANBENCH_LOCK_TIMEOUT``, default
    120), whichever host holds it; the age is the larger of the holder's clock reading and how
    long this process has watched the file unchanged, so a holder whose clock runs behind is
    still taken over once it stops beating. A lock of this host (same host name, boot and pid
    namespace) whose process is dead is stale at once. Files in the older ``<pid> <host>``
    format are read with their modification time as heartbeat.

    Atomicity. The holder is whoever's inode sits at ``path``; the owner keeps a descriptor on
    it. A free lock is created with ``O_CREAT | O_EXCL``, which only one process can win.
    Everything else that changes ``path`` runs under ``flock`` on the inode currently there, and
    first checks that ``path`` still names that inode: a take-over (re-read and re-check
    staleness, then write a temporary file and ``os.replace`` it over ``path``, then read the
    token back), a heartbeat (rewrite the owner's own inode) and a release (remove ``path`` only
    if it is still the owner's inode). Two processes racing to take over one stale lock thus
    run one after the other, and the second finds either a fresh lock or a new inode; an owner
    that was taken over while suspended never removes or rewrites its successor's lock, and
    reports ``lost``. No extra files are left behind.

    ``waited`` is true when a live holder was waited for (its result may now exist). While
    waiting, ``on_wait`` receives one line naming the unit, the holder, its heartbeat age and
    since when we wait: when waiting starts, then every ``report_every`` seconds, and once more
    on a take-over.
    """

    def __init__(self, path: Path, poll: float = 0.2, *, label: str | None = None, timeout: float | None = None,
                 heartbeat: float | None = None, on_wait: Callable[[str], None] | None = None,
                 report_every: float = 30.0) -> None:
        self.path, self.poll = Path(path), poll
        self.label = label or self.path.stem
        self.timeout = _lock_timeout() if timeout is None else timeout
        self.heartbeat = min(10.0, self.timeout / 4) if heartbeat is None else heartbeat
        self.on_wait, self.report_every = on_wait, report_every
        self.waited = False
        self.lost = False
        self._fd: int | None = None
        self._token = ""
        self._started = 0.0
        self._seen: tuple[tuple[bytes, int], float] | None = None
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    # -- reading and judging the current holder
    def _inspect(self, fd: int) -> tuple[LockHolder, float]:
        """The holder of the inode open at ``fd`` and its heartbeat age in seconds."""
        stat = os.fstat(fd)
        raw = os.pread(fd, _MAX_LOCK_BYTES, 0)
        holder = LockHolder.parse(raw, stat.st_mtime)
        now = time.monotonic()
        key = (raw, stat.st_mtime_ns)
        if self._seen is None or self._seen[0] != key:
            self._seen = (key, now)
        return holder, max(time.time() - holder.heartbeat, now - self._seen[1])

    def _stale(self, holder: LockHolder, age: float) -> bool:
        return age > self.timeout or gone_from_this_host(holder)

    def _names(self, fd: int) -> bool:
        """Whether ``path`` still names the inode open at ``fd``."""
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            return False

    # -- writing our own lock
    def _write(self, fd: int) -> None:
        body = {**this_process(), "unit": self.label, "started": self._started, "token": self._token}
        data = json.dumps(body).encode().ljust(os.fstat(fd).st_size)
        os.pwrite(fd, data, 0)
        os.fsync(fd)

    def _create(self) -> bool:
        """Create the lock file if there is none."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        self._own(fd)
        return True

    def _replace(self) -> bool:
        """Put a new lock file of ours in place of the current one, then read the token back."""
        tmp = self.path.with_name(f".{self.path.name}.{self._token}.tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            self._started = time.time()
            self._write(fd)
            os.replace(tmp, self.path)
            ours = self._names(fd) and LockHolder.parse(self.path.read_bytes(), 0.0).token == self._token
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        if not ours:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _own(self, fd: int) -> None:
        try:
            self._started = time.time()
            self._write(fd)
        except BaseException:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise
        self._fd = fd

    def _take_over(self) -> LockHolder | None:
        """Replace a stale lock atomically; the holder taken over from, or None if it was not stale."""
        with _guard(self.path):
            try:
                fd = os.open(self.path, os.O_RDWR)
            except FileNotFoundError:
                return None
            try:
                if not _try_flock(fd) or not self._names(fd):
                    return None
                holder, age = self._inspect(fd)
                if not self._stale(holder, age) or not self._replace():
                    return None
            finally:
                os.close(fd)
        if self.on_wait is not None:
            self.on_wait(f"{self.label}: took over the lock of {holder.describe()}, heartbeat {age:.1f}s ago")
        return holder

    # -- heartbeat
    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            fd = self._fd
            if fd is None:
                return
            with _guard(self.path):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        if not self._names(fd):
                            self.lost = True
                            return
                        self._write(fd)
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                except OSError:
                    continue

    # -- public interface
    def acquire(self) -> None:
        """Wait until the lock is ours (taking over a stale one), then start the heartbeat."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this lock")
        self._token, self.lost, self._seen = secrets.token_hex(8), False, None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wait()
        except OSError as exc:
            raise UserError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        self._stop.clear()
        self._beater = threading.Thread(target=self._beat, name=f"lock heartbeat {self.label}", daemon=True)
        self._beater.start()

    def _wait(self) -> None:
        """Create the lock file, or take over a stale one, or report and poll until one of them works."""
        since: float | None = None
        next_report = 0.0
        while not self._create():
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                holder, age = self._inspect(fd)
            finally:
                os.close(fd)
            if self._stale(holder, age):
                if self._take_over() is not None:
                    break
            else:
                self.waited = True
                if since is None:
                    since, next_report = time.time(), time.monotonic()
                if self.on_wait is not None and time.monotonic() >= next_report:
                    self.on_wait(f"waiting for {self.label}: locked by {holder.describe()}, heartbeat {age:.1f}s "
                                 f"ago (stale after {self.timeout:g}s), waiting since "
                                 f"{time.strftime('%H:%M:%S', time.localtime(since))}")
                    next_report += self.report_every
            time.sleep(self.poll)

    def release(self) -> None:
        """Stop the heartbeat and remove the lock file if it is still ours.

        A filesystem error here is not raised (it would hide the unit's own outcome): the lock
        file left behind no longer beats and is taken over once stale.
        """
        fd, self._fd = self._fd, None
        if fd is None:
            return
        self._stop.set()
        if self._beater is not None:
            self._beater.join()
            self._beater = None
        with _guard(self.path):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if self._names(fd):
                    self.path.unlink()
                else:
                    self.lost = True
            except OSError:
                pass
            finally:
                os.close(fd)

    def __enter__(self) -> UnitLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
