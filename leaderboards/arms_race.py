"""The arms-race table of a pair of generators (A, B), by default StyleGAN2 (Karras et al., "Analyzing
and Improving the Image Quality of StyleGAN", CVPR 2020) and StyleGAN3 (Karras et al., "Alias-Free
Generative Adversarial Networks", NeurIPS 2021): per detector, the clean AUC trained on A and tested
on A, trained on A and tested on B, trained on B and tested on B, and trained on B and tested on A.

These are four cells of the cross-generator matrix (Wang et al., "CNN-generated images are
surprisingly easy to spot... for now", CVPR 2020), which the ``matrix`` detection plan fills:
a detector fitted per generator and tested on the fresh fakes of every generator. Cells aggregate
like the matrix (mean over seeds; the t-interval over seeds, or the bootstrap interval of a
single seed's records).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ganbench.leaderboards.protocols import common
from ganbench.leaderboards.tables import (DET_KEYS, Board, Column, Leaderboard, _bootstrap_bounds, _clean, _ok,
                                          _per_seed, _with_bounds, over_seeds, records_frame)
from ganbench.leaderboards.uncertainty import BOOT_HIGH, BOOT_LOW, PROPORTION, with_intervals

DEFAULT_PAIR = ("stylegan2", "stylegan3")
KIND = "arms_race"
SUFFIXES = ("", "_std", "_n", BOOT_LOW, BOOT_HIGH)


def cell_name(train: str, test: str) -> str:
    return f"auc_{train}_to_{test}"


def pair_columns(pair: tuple[str, str]) -> list[tuple[str, str, str]]:
    """(train generator, test generator, header) of the four cells, in table order."""
    a, b = pair
    return [(a, a, f"trained {a}, tested {a}"), (a, b, f"{a} → {b}"), (b, b, f"trained {b}, tested {b}"),
            (b, a, f"{b} → {a}")]


def parse_pair(text: str) -> tuple[str, str]:
    """``"stylegan2,stylegan3"`` -> ("stylegan2", "stylegan3"); a ValueError for anything but two different names."""
    names = [name.strip() for name in text.split(",")]
    if len(names) != 2 or not all(names) or names[0] == names[1]:
        raise ValueError(f"a pair is two different generator names separated by a comma, not {text!r}")
    return names[0], names[1]


def _pair_cells(frame: pd.DataFrame, pair: tuple[str, str]) -> pd.DataFrame:
    """Clean detection AUCs among the pair's generators, per (detector, data set, preset, protocol, train, test)."""
    ok = _ok(frame)
    if ok.empty or "auc" not in ok or not (ok.kind == "detection").any():
        return pd.DataFrame()
    det = _clean(ok)
    det = det[det.train_generator.isin(pair) & det.generator.isin(pair) & det.auc.notna()]
    if det.empty:
        return pd.DataFrame()
    by = DET_KEYS + ["sig_clean", "train_generator", "generator"]
    values = _with_bounds(det, ["auc"])
    cells = _bootstrap_bounds(over_seeds(_per_seed(det, by, values), by, values))
    protocols = det.groupby(["dataset", "preset"], sort=False)["protocol"].agg(lambda p: common(p)).rename("protocol")
    return cells.merge(protocols.reset_index(), on=["dataset", "preset"])


def arms_race_boards(frame: pd.DataFrame, pair: tuple[str, str] = DEFAULT_PAIR) -> list[Board]:
    """Per data set and preset where some detector was trained on each generator of ``pair`` and tested on the
    other: one row per detector (and protocol) that has at least one of those two cross cells."""
    cells = _pair_cells(frame, pair)
    if cells.empty:
        return []
    layout = pair_columns(pair)
    cross = [cell_name(pair[0], pair[1]), cell_name(pair[1], pair[0])]
    boards = []
    for (dataset, preset), part in cells.groupby(["dataset", "preset"], sort=True):
        rows = []
        for (detector, _), group in part.groupby(["detector", "sig_clean"], sort=True):
            row: dict[str, Any] = {"detector": detector, "dataset": dataset, "preset": preset}
            for train, test, _ in layout:
                match = group[(group.train_generator == train) & (group.generator == test)]
                for suffix in SUFFIXES:
                    column = "auc" + suffix
                    found = column in match and len(match) > 0
                    row[cell_name(train, test) + suffix] = match[column].iloc[0] if found else np.nan
            rows.append(row)
        data = pd.DataFrame(rows)
        data = data[data[cross].notna().any(axis=1)].reset_index(drop=True)
        if data.empty or not data[cross].notna().all(axis=1).any():
            continue
        columns = [Column("detector", "detector", numeric=False), Column("dataset", "data set", numeric=False),
                   Column("preset", "preset", numeric=False)]
        columns += [Column(cell_name(train, test), header, "clean", "higher", with_interval=True, limits=PROPORTION)
                    for train, test, header in layout]
        cells = [cell_name(train, test) for train, test, _ in layout]
        data = with_intervals(data, cells, limits=dict.fromkeys(cells, PROPORTION))
        boards.append(Board(KIND, f"Arms race · {pair[0]} vs {pair[1]}", columns, data,
                            {"clean": part.protocol.iloc[0]}, presets=(str(preset),)))
    return boards


def with_arms_race(leaderboard: Leaderboard, records: list[dict[str, Any]],
                   pair: tuple[str, str] = DEFAULT_PAIR) -> Leaderboard:
    """``leaderboard`` with the arms-race tables of ``pair`` appended (none where the records lack them)."""
    return replace(leaderboard, boards=leaderboard.boards + arms_race_boards(records_frame(records), pair))
