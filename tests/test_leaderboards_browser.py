"""The published page in a real browser: a headless Chromium screenshot (skipped without a browser)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganbench.records import record_from_dict
from ganbench.store import RunStore
from ganbench.leaderboards.publish import publish
from test_leaderboards import safe, synthetic_records

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium or Chrome on PATH (Debian: apt-get install chromium)")
    run = tmp_path / "run"
    store = RunStore(run)
    names = {"dcgan": "gan", "vae": "vae"}
    for record in synthetic_records(names, seeds=(0,)):
        store.write_record(record_from_dict(record), f"{record['kind']}-{record['key']}")
    for name in names:
        for seed in (0,):
            grid = np.indices((64, 64)).sum(0) % 16 * 16
            Image.fromarray(grid.astype(np.uint8)).save(run / "samples" / f"{safe(name)}-s{seed}.png")
    site = tmp_path / "site"
    publish(run, site, ["html"])
    shot = tmp_path / "shot.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2400",
               f"--screenshot={shot}", (site / "index.html").as_uri()]
    try:
        subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("the browser did not finish within 60 s")
    if not shot.exists():
        pytest.skip(f"{browser} ran but wrote no screenshot (a sandbox or display restriction)")
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2400, 1280)
    rows_with_ink = (pixels < 200).any(axis=1)
    assert rows_with_ink[:1200].mean() > 0.3, "the top of the page should hold text, tables and figures"
    assert pixels.std() > 20, "a blank or single-colour page"
