"""Interruptions: not caught as ordinary errors, exit with 128 + the signal, one line saying what is kept."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from ganbench.errors import Interrupted, UserError, raise_interrupted


def test_an_interruption_passes_through_handlers_of_ordinary_errors() -> None:
    assert not issubclass(Interrupted, Exception) and issubclass(UserError, Exception)
    with pytest.raises(Interrupted):
        try:
            raise_interrupted(signal.SIGTERM, None)
        except Exception:
            pass


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_handler_raises_the_signal_it_received(signum: int) -> None:
    with pytest.raises(Interrupted) as caught:
        raise_interrupted(signum, None)
    assert caught.value.signum == signum and caught.value.exit_code == 128 + signum


def test_the_message_names_the_unit_and_where_its_records_are_kept() -> None:
    stopped = Interrupted(signal.SIGTERM)
    stopped.unit, stopped.out = "dcgan/seed0", Path("out")
    assert stopped.message() == (
        "dcgan/seed0 interrupted by SIGTERM; finished units are kept in out/records and an interrupted training "
        "resumes from its last checkpoint: run the same command again to continue")
    assert Interrupted(signal.SIGINT).message().startswith("interrupted by SIGINT; finished units are kept and ")
