"""Shared fixtures: the embedded digits set, small specs and a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.data import Dataset, load_digits
from ganbench.store import CACHE_ENV
from ganbench.generators import DataSpec

# One CPU thread per test process and in the processes it starts, however many workers run the
# suite: results that depend on the thread count are then the same under `pytest` and `pytest -n 2`.
TEST_THREADS = 1
os.environ["OMP_NUM_THREADS"] = str(TEST_THREADS)
torch.set_num_threads(TEST_THREADS)
# Tables print at their natural width, as into a pipe (pytest-xdist's workers set COLUMNS=80).
os.environ.pop("COLUMNS", None)


@pytest.fixture(scope="session", autouse=True)
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """All runs of the test session (in-process and subprocesses) share trained reference classifiers."""
    folder = tmp_path_factory.mktemp("cache")
    saved = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = saved


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """``ganbench run --suite smoke --preset smoke`` once per test session: (out folder, CLI result),
    at the tests' thread count even if the module that asks first changed it (tests compare
    reruns with it)."""
    out = tmp_path_factory.mktemp("smoke")
    threads = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    try:
        result = CliRunner().invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(out), "--quiet"])
    finally:
        torch.set_num_threads(threads)
    return out, result


@pytest.fixture(scope="session")
def digits() -> Dataset:
    return load_digits(32)


@pytest.fixture(scope="session")
def digits16() -> Dataset:
    return load_digits(16)


@pytest.fixture()
def image_spec() -> DataSpec:
    return DataSpec("image", 1, 32, 10)


@pytest.fixture()
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
