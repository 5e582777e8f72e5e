"""The mode-collapse benchmark's tables: mean (std) and the 95% t-interval of the mean over seeds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]


def toy2d_modes():
    spec = importlib.util.spec_from_file_location("ganbench_toy2d_modes", ROOT / "benchmarks" / "toy2d_modes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cells_give_mean_std_and_a_t_interval_cut_to_the_mode_count() -> None:
    modes = [8, 8, 8, 7, 8, 8, 8, 8, 8, 8]
    rows = [{"variant": "gan", "layout": "ring", "seed": s, "modes": m, "high_quality": 40.0 + s}
            for s, m in enumerate(modes)]
    table = toy2d_modes().summarise(rows, steps=100, seeds=10)
    (line,) = [row for row in table.splitlines() if row.startswith("| gan |")]
    ring_modes, ring_hq, grid_modes, _ = [c.strip() for c in line.strip("|").split("|")[1:]]
    mean, std = 7.9, 0.31622776601683794
    half = stats.t.ppf(0.975, 9) * std / 10**0.5
    assert ring_modes == f"7.9 (0.3) [{mean - half:.1f}, 8.0]"
    assert ring_hq == "44.5 (3.0) [42.3, 46.7]"
    assert grid_modes == "-"
    assert "95% t-interval of the mean" in table.splitlines()[0]


def test_cuda_graphs_are_refused_without_batched_seeds_on_cuda(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture) -> None:
    module = toy2d_modes()
    monkeypatch.setattr("sys.argv", ["toy2d_modes.py", "--cuda-graphs", "--device", "cpu", "--batched-seeds"])
    with pytest.raises(SystemExit) as stopped:
        module.main()
    assert stopped.value.code == 2
    assert "--cuda-graphs replays the steps of --batched-seeds on a CUDA device" in capsys.readouterr().err


def test_each_checkpoints_rows_are_kept_as_soon_as_scored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    module = toy2d_modes()
    scored = tmp_path / "rows.jsonl"
    finished = module.run_batched("gan", ["ring"], [0, 1], [2, 4], 8, 50, "cpu", 1, scored=scored)
    module.run("lsgan", "grid", 3, [2], 8, 50, "cpu", 1, scored=scored)
    kept = module.saved_rows([scored])
    assert [(r["variant"], r["layout"], r["seed"], r["steps"]) for r in kept] == [
        ("gan", "ring", 0, 2), ("gan", "ring", 1, 2), ("gan", "ring", 0, 4), ("gan", "ring", 1, 4),
        ("lsgan", "grid", 3, 2)]
    assert [r["modes"] for r in kept[:4]] == [r["modes"] for r in finished]

    scoring = module.mode_coverage_2d
    calls = []

    def stop_at_the_second_checkpoint(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return scoring(*args, **kwargs)

    monkeypatch.setattr(module, "mode_coverage_2d", stop_at_the_second_checkpoint)
    stopped = tmp_path / "stopped.jsonl"
    with pytest.raises(KeyboardInterrupt):
        module.run_batched("gan", ["ring"], [0, 1], [2, 4], 8, 50, "cpu", 1, scored=stopped)
    assert [(r["seed"], r["steps"]) for r in module.saved_rows([stopped])] == [(0, 2), (1, 2)]

    monkeypatch.setattr("sys.argv", ["toy2d_modes.py", "--tables-from", str(stopped)])
    module.main()
    assert "| gan |" in capsys.readouterr().out


def test_both_layouts_train_as_one_batch_with_the_rows_of_one_batch_each() -> None:
    """In float64, where the batch's size changes no row: each member is scored on its own layout."""
    module = toy2d_modes()
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        both = module.run_batched("lsgan", ["ring", "grid"], [0, 1], [3, 6], 32, 400, "cpu", 1)
        alone = [row for layout in ("grid", "ring") for row in module.run_batched("lsgan", [layout], [0, 1], [3, 6], 32,
                                                                                    400, "cpu", 1)]
    finally:
        torch.set_default_dtype(saved)

    def key(row: dict) -> tuple:
        return row["layout"], row["seed"], row["steps"]

    assert [key(r) for r in both] == [(layout, seed, steps) for steps in (3, 6) for layout in ("ring", "grid")
                                      for seed in (0, 1)]
    assert [(key(r), r["modes"], r["high_quality"], r["status"]) for r in sorted(both, key=key)] == [
        (key(r), r["modes"], r["high_quality"], r["status"]) for r in sorted(alone, key=key)]
    assert {r["modes"] for r in both if r["layout"] == "grid"} != {0}
