"""The vote log: one JSON line per vote, appended and fsynced the moment it is cast.

A rater's votes live in ``<out>/human/votes-<rater>-<hash>.jsonl``. Nothing is lost when the page
is closed or the command stops: the log is read back on start, voted items are skipped, and the
records are recomputed from it. A last line cut short by a crash (so never acknowledged to the
page) is cut off the file, so it cannot merge with the next vote. Any other damage, votes for
another image set, or images that changed since they were rated (a retrained checkpoint) stop the
command with a clear message instead of mixing two experiments. Votes are scored against the
ground truth stored with them, as in HYPE (Zhou et al., NeurIPS 2019).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from ganbench.errors import UserError
from ganbench.human_eval.items import LABELS, Item, ItemSet

VOTE_FIELDS = ("set", "rater", "position", "item", "truth", "generator", "vote", "correct", "image_sha",
               "seconds", "time")


def votes_path(root: Path, rater: str) -> Path:
    """``<root>/human/votes-<readable rater>-<hash of the exact name>.jsonl`` (names never collide)."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", rater)[:40]
    digest = hashlib.sha256(rater.encode()).hexdigest()[:8]
    return root / "human" / f"votes-{readable}-{digest}.jsonl"


class VoteLog:
    """Append-only JSON-lines votes of one rater on one :class:`ItemSet`."""

    def __init__(self, path: Path, rater: str, item_set: ItemSet) -> None:
        self.path = path
        self.rater = rater
        self.item_set = item_set
        self.votes: dict[int, dict[str, Any]] = {}
        if path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                data = data[: data.rfind(b"\n") + 1]
                os.truncate(self.path, len(data))
            lines = data.decode("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read the vote log {self.path}: {exc}") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                vote = json.loads(line)
                valid = set(VOTE_FIELDS) <= set(vote) and isinstance(vote["position"], int)
            except (ValueError, TypeError):
                valid = False
            if not valid:
                raise UserError(f"{self.path}, line {number}: not a vote record; fix or move the file away")
            self._check(vote, number)
            self.votes.setdefault(vote["position"], vote)

    def _check(self, vote: dict[str, Any], line: int) -> None:
        where = f"{self.path}, line {line}"
        if vote["rater"] != self.rater:
            raise UserError(f"{where}: a vote of rater {vote['rater']!r} in the log of {self.rater!r}")
        if vote["set"] != self.item_set.key:
            raise UserError(f"{where}: these votes of rater {self.rater!r} were cast on another image set "
                            f"(other generators, --n, data set, preset or seed); rerun with the same options "
                            f"or choose another --rater")
        position = vote["position"]
        if not 0 <= position < len(self.item_set) or vote["vote"] not in LABELS:
            raise UserError(f"{where}: position or vote out of range")
        item = self.item_set.items[position]
        if (vote["item"], vote["image_sha"]) != (item.name, item.sha):
            raise UserError(f"{where}: the image rated there has changed since (was a generator retrained?); "
                            f"choose another --rater or move {self.path.name} away")

    def append(self, item: Item, label: str, seconds: float | None) -> dict[str, Any]:
        """Write one vote to disk (flush + fsync) before it counts."""
        if label not in LABELS:
            raise ValueError(f"vote must be one of {LABELS}, got {label!r}")
        if item.position in self.votes:
            raise ValueError(f"position {item.position} was already voted on")
        vote = {"set": self.item_set.key, "rater": self.rater, "position": item.position, "item": item.name,
                "truth": item.truth, "generator": item.generator, "vote": label, "correct": label == item.truth,
                "image_sha": item.sha, "seconds": None if seconds is None else round(seconds, 3),
                "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(vote, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.votes[item.position] = vote
        return vote

    def ordered(self) -> list[dict[str, Any]]:
        return [self.votes[p] for p in sorted(self.votes)]
