"""``ganbench leaderboard publish``: every rendering of the records of one or more sources (run folders
and ``results.json`` files of earlier reports, merged by :mod:`ganbench.leaderboards.sources`) into one
site folder.

The site holds ``leaderboard.md``, ``results.csv``, ``results.json`` and ``index.html`` with its
PNGs (figures, a copy of each generator's sample grid and its training curves, drawn from the
curve file its train record names) beside it, so the folder can be opened from disk, zipped, or
served as is. Every number comes from the stored records and the curve files they name. Sample grids
and training curves are files of a run folder: they are drawn for the units whose files a run-folder
source holds, never for records known only from a ``results.json``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganbench.errors import UserError
from ganbench.store import atomic_write_bytes
from ganbench.leaderboards.arms_race import with_arms_race
from ganbench.leaderboards.environment import environment
from ganbench.leaderboards.exports import results_csv, results_json
from ganbench.leaderboards.figures import (FigureFile, calibration_figures, curve_figure, curve_files, file_name,
                                           generator_roc_figures, heatmap_figure, robustness_figures, roc_figures,
                                           scatter_figure)
from ganbench.leaderboards.html import Assets, SampleGrid, render_page
from ganbench.leaderboards.markdown import leaderboard_markdown
from ganbench.leaderboards.sources import read_sources, run_file
from ganbench.leaderboards.spectra import spectra_figures
from ganbench.leaderboards.tables import Leaderboard, build_leaderboard, records_frame

FORMATS = ("md", "html", "csv", "json")
OUTPUTS = {"md": "leaderboard.md", "csv": "results.csv", "json": "results.json", "html": "index.html"}


def parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UserError(f"unknown --format {', '.join(unknown) or repr(text)} (choose from {', '.join(FORMATS)})")
    return list(dict.fromkeys(formats))


def copy_samples(leaderboard: Leaderboard, run_dirs: Sequence[Path], site: Path) -> list[SampleGrid]:
    """Copy each generator row's sample grid (a PNG inside a run folder) next to the page."""
    grids, seen = [], set()
    for board in leaderboard.of_kind("generators"):
        for row in board.data.to_dict("records"):
            ident = (row["generator"], row["dataset"], row["preset"])
            if ident in seen:
                continue
            seen.add(ident)
            source = run_file(run_dirs, row.get("samples"), ".png")
            name = None
            if source is not None:
                name = file_name("samples", *ident)
                shutil.copyfile(source, site / name)
            grids.append(SampleGrid(*map(str, ident), name))
    return grids


def run_curve_figures(records: list[dict[str, Any]], run_dirs: Sequence[Path], site: Path) -> list[FigureFile]:
    """One figure per generator (data set, preset; lowest seed) from the curve files the run folders hold."""
    found: dict[tuple[str, str, str], tuple[int, Path]] = {}
    for run_dir in run_dirs:
        for ident, (seed, path) in curve_files(records, run_dir).items():
            if ident not in found or seed < found[ident][0]:
                found[ident] = (seed, path)
    figures = (curve_figure(ident, seed, path, site) for ident, (seed, path) in sorted(found.items()))
    return [figure for figure in figures if figure is not None]


def build_assets(leaderboard: Leaderboard, records: list[dict[str, Any]], run_dirs: Sequence[Path],
                 site: Path) -> Assets:
    frame = records_frame(records)
    assets = Assets(roc=roc_figures(frame, site), generator_roc=generator_roc_figures(frame, site),
                    calibration=calibration_figures(frame, site), robustness=robustness_figures(frame, site),
                    samples=copy_samples(leaderboard, run_dirs, site),
                    curves=run_curve_figures(records, run_dirs, site), spectra=spectra_figures(records, run_dirs, site))
    for index, board in enumerate(leaderboard.boards):
        if board.kind == "generators" and (figure := scatter_figure(board, site)) is not None:
            assets.scatter[index] = figure
        elif board.kind == "cross":
            assets.heatmaps[index] = heatmap_figure(board, site)
    return assets


def publish(sources: Path | Sequence[Path], site: Path, formats: Sequence[str] = FORMATS,
            sort: str | None = None) -> list[Path]:
    """Write the chosen renderings of the records of ``sources`` (run folders, ``results.json`` files) into
    ``site``, made only once the records and ``sort`` are known good; returns the files written."""
    merged = read_sources([sources] if isinstance(sources, Path) else list(sources))
    records = merged.records
    if not records:
        raise UserError(f"no records in {', '.join(map(str, merged.sources))}: nothing to publish")
    if site.exists() and not site.is_dir():
        raise UserError(f"--site {site} exists and is not a folder")
    leaderboard = with_arms_race(build_leaderboard(records, sort, merged.problems), records)
    env = environment(records)
    try:
        site.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --site {site}: {exc.strerror or exc}") from exc
    texts = {
        "md": lambda: leaderboard_markdown(leaderboard, env),
        "csv": lambda: results_csv(leaderboard),
        "json": lambda: results_json(leaderboard, env, records, [str(p) for p in merged.sources]),
        "html": lambda: render_page(leaderboard, env, build_assets(leaderboard, records, merged.run_folders, site)),
    }
    written = []
    for fmt in formats:
        path = site / OUTPUTS[fmt]
        atomic_write_bytes(path, texts[fmt]().encode())
        written.append(path)
    return written
