"""Run the ganbench CLI with a kill -9 wired to one moment of the run (fault injection for tests).

Usage: ``python tests/kill_switch.py MOMENT ganbench-args...`` where MOMENT is one of

* ``sampling``: while the fakes of a generator are being written (temporary file complete, not
  yet renamed into place);
* ``metrics``: inside a generation-quality unit, before its record exists;
* ``detector``: inside a detection unit, while the detector is being fitted;
* ``record``: while the first record after startup is being written.

The process sends itself SIGKILL at that moment: no handler, ``finally`` or atexit runs.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import ganbench.detection
import ganbench.generation
import ganbench.store
from ganbench.cli import app


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(moment: str) -> None:
    if moment in {"sampling", "record"}:
        real_replace = os.replace
        suffix = ".npz" if moment == "sampling" else ".json"

        def replace(src: str, dst: str | Path) -> None:
            if str(dst).endswith(suffix) and Path(src).stat().st_size > 0:
                die()
            real_replace(src, dst)

        ganbench.store.os.replace = replace  # type: ignore[attr-defined]
    elif moment == "metrics":
        def metrics(*args: Any, **kwargs: Any) -> Any:
            die()

        ganbench.generation.generation_metrics = metrics  # type: ignore[assignment]
    elif moment == "detector":
        def fit(*args: Any, **kwargs: Any) -> Any:
            die()

        ganbench.detection.DetectionUnits.fit_detector = fit  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown moment {moment!r}")


if __name__ == "__main__":
    arm(sys.argv[1])
    app(sys.argv[2:], prog_name="ganbench")
