"""``ganbench leaderboard publish``: every rendering of a run folder's records into one site folder.

The site holds ``leaderboard.md``, ``results.csv``, ``results.json`` and ``index.html`` with its
PNGs (figures, a copy of each generator's sample grid and its training curves, drawn from the
curve file its train record names) beside it, so the folder can be opened from disk, zipped, or
served as is. Every number comes from the stored records and the curve files they name.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganbench.errors import UserError
from ganbench.store import RunStore, atomic_write_bytes
from ganbench.leaderboards.environment import environment
from ganbench.leaderboards.exports import results_csv, results_json
from ganbench.leaderboards.figures import (calibration_figures, curve_figures, file_name, generator_roc_figures,
                                           heatmap_figure, robustness_figures, roc_figures, scatter_figure)
from ganbench.leaderboards.html import Assets, SampleGrid, render_page
from ganbench.leaderboards.markdown import leaderboard_markdown
from ganbench.leaderboards.tables import Leaderboard, build_leaderboard, records_frame

FORMATS = ("md", "html", "csv", "json")
OUTPUTS = {"md": "leaderboard.md", "csv": "results.csv", "json": "results.json", "html": "index.html"}


def parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UserError(f"unknown --format {', '.join(unknown) or repr(text)} (choose from {', '.join(FORMATS)})")
    return list(dict.fromkeys(formats))


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every verified record of a run folder; corrupt or hand-edited ones are left out, as the
    runner does (it recomputes them), and named in one warning on stderr."""
    folder = run_dir / "records"
    if not folder.is_dir():
        raise UserError(f"no records in {run_dir} (run `ganbench run --out {run_dir}` first)")
    bodies, damaged = [], []
    for path in sorted(folder.glob("*.json")):
        body = RunStore.read_record_body(path)
        if body is None:
            damaged.append(path.name)
        else:
            bodies.append(body)
    if damaged:
        shown = ", ".join(damaged[:3]) + (f" and {len(damaged) - 3} more" if len(damaged) > 3 else "")
        sys.stderr.write(f"warning: left out {len(damaged)} damaged or edited record(s) in {folder}: {shown} "
                         f"(`ganbench run` with the same options recomputes them)\n")
    return bodies


def copy_samples(leaderboard: Leaderboard, run_dir: Path, site: Path) -> list[SampleGrid]:
    """Copy each generator row's sample grid (a PNG inside the run folder) next to the page."""
    root = run_dir.resolve()
    grids, seen = [], set()
    for board in leaderboard.of_kind("generators"):
        for row in board.data.to_dict("records"):
            ident = (row["generator"], row["dataset"], row["preset"])
            if ident in seen:
                continue
            seen.add(ident)
            relative = row.get("samples")
            source = (root / relative).resolve() if isinstance(relative, str) else None
            name = None
            if source and source.is_relative_to(root) and source.suffix.lower() == ".png" and source.is_file():
                name = file_name("samples", *ident)
                shutil.copyfile(source, site / name)
            grids.append(SampleGrid(*map(str, ident), name))
    return grids


def build_assets(leaderboard: Leaderboard, records: list[dict[str, Any]], run_dir: Path, site: Path) -> Assets:
    frame = records_frame(records)
    assets = Assets(roc=roc_figures(frame, site), generator_roc=generator_roc_figures(frame, site),
                    calibration=calibration_figures(frame, site), robustness=robustness_figures(frame, site),
                    samples=copy_samples(leaderboard, run_dir, site), curves=curve_figures(records, run_dir, site))
    for index, board in enumerate(leaderboard.boards):
        if board.kind == "generators" and (figure := scatter_figure(board, site)) is not None:
            assets.scatter[index] = figure
        elif board.kind == "cross":
            assets.heatmaps[index] = heatmap_figure(board, site)
    return assets


def publish(run_dir: Path, site: Path, formats: Sequence[str] = FORMATS, sort: str | None = None) -> list[Path]:
    """Write the chosen renderings of ``run_dir``'s records into ``site``; returns the files written."""
    records = read_records(run_dir)
    if site.exists() and not site.is_dir():
        raise UserError(f"--site {site} exists and is not a folder")
    try:
        site.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --site {site}: {exc.strerror or exc}") from exc
    leaderboard = build_leaderboard(records, sort)
    env = environment(records)
    texts = {
        "md": lambda: leaderboard_markdown(leaderboard, env),
        "csv": lambda: results_csv(leaderboard),
        "json": lambda: results_json(leaderboard, env, records),
        "html": lambda: render_page(leaderboard, env, build_assets(leaderboard, records, run_dir, site)),
    }
    written = []
    for fmt in formats:
        path = site / OUTPUTS[fmt]
        atomic_write_bytes(path, texts[fmt]().encode())
        written.append(path)
    return written
