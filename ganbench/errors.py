"""Errors a user can cause, and interruptions: the CLI prints one line for each.

A :class:`UserError` exits with code 2. An :class:`Interrupted` run (SIGINT or SIGTERM) releases
its locks on the way out, names the unit it stopped, and exits with 128 + the signal number.
"""

from __future__ import annotations

import signal
from pathlib import Path


class UserError(Exception):
    """A mistake in the user's input (bad path, unknown name, corrupt file, wrong shape)."""


class Interrupted(BaseException):
    """A signal that stops the run; context managers (unit locks) still run on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.unit: str | None = None
        self.out: Path | None = None

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        """One line: what was interrupted, what is kept, how to resume."""
        what = f"{self.unit} interrupted" if self.unit else "interrupted"
        kept = f"finished units are kept in {self.out / 'records'}" if self.out else "finished units are kept"
        return (f"{what} by {signal.Signals(self.signum).name}; {kept} and an interrupted training resumes from its "
                f"last checkpoint: run the same command again to continue")


def raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)
