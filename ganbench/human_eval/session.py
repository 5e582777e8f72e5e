"""One rater's session: the next unrated image under an opaque id, and the votes cast on it.

The page is blind, as in HYPE (Zhou et al., "HYPE: A Benchmark for Human eYe Perceptual Evaluation
of Generative Models", NeurIPS 2019): it only ever receives a random token and the PNG of the
current image, never where the image came from, so no response tells real from fake or names a
generator. Votes are taken in order, one per image, under a lock (the server is threaded).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from typing import Any

from ganbench.human_eval.items import FAKE, LABELS, REAL, ItemSet
from ganbench.human_eval.votes import VoteLog


class VoteRejected(Exception):
    """A vote the session cannot take; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RatingSession:
    """Serves ``item_set`` in order to one rater, skipping what ``log`` already holds."""

    def __init__(self, item_set: ItemSet, log: VoteLog) -> None:
        self.item_set = item_set
        self.log = log
        self._lock = threading.Lock()
        self._tokens: dict[str, int] = {}
        self._shown: dict[int, tuple[str, float]] = {}
        self._closed = False

    @property
    def total(self) -> int:
        return len(self.item_set)

    @property
    def answered(self) -> int:
        return len(self.log.votes)

    @property
    def complete(self) -> bool:
        return self.answered == self.total

    def _next_position(self) -> int | None:
        return next((p for p in range(self.total) if p not in self.log.votes), None)

    def _token(self, position: int) -> str:
        if position not in self._shown:
            token = secrets.token_urlsafe(12)
            self._tokens[token] = position
            self._shown[position] = (token, time.monotonic())
        return self._shown[position][0]

    def _summary(self) -> dict[str, int]:
        votes = self.log.votes.values()
        real = [v for v in votes if v["truth"] == REAL]
        fake = [v for v in votes if v["truth"] == FAKE]
        return {"real_correct": sum(v["correct"] for v in real), "real_votes": len(real),
                "fake_correct": sum(v["correct"] for v in fake), "fake_votes": len(fake)}

    def _state(self) -> dict[str, Any]:
        position = self._next_position()
        state: dict[str, Any] = {"answered": self.answered, "total": self.total, "done": position is None}
        if position is None:
            state["summary"] = self._summary()
        else:
            png = self.item_set.items[position].png
            state.update(id=self._token(position), image="data:image/png;base64," + base64.b64encode(png).decode())
        return state

    def state(self) -> dict[str, Any]:
        """What the page may know: progress, and the current image with its token (or a summary when done)."""
        with self._lock:
            return self._state()

    def vote(self, token: str, label: str) -> dict[str, Any]:
        """Record ``label`` for the image shown under ``token`` (on disk first) and return the next state."""
        with self._lock:
            if self._closed:
                raise VoteRejected(503, "the rating session has ended; votes so far are saved")
            if label not in LABELS:
                raise VoteRejected(400, "a vote is 'real' or 'fake'")
            position = self._tokens.get(token)
            if position is None or position in self.log.votes:
                raise VoteRejected(409, "this image was already rated or is unknown; here is the next one")
            _, shown = self._shown[position]
            self.log.append(self.item_set.items[position], label, time.monotonic() - shown)
            return self._state()

    def close(self) -> list[dict[str, Any]]:
        """Take no more votes; the votes cast, in item order."""
        with self._lock:
            self._closed = True
            return self.log.ordered()
