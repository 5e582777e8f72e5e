"""Intervals over seeds and tie-aware ranks, from synthetic records whose statistics are computed by hand."""

from __future__ import annotations

import io
import json
import math
import statistics
from typing import Any

import pandas as pd
import pytest
from rich.console import Console
from scipy import stats

from test_leaderboards import DET_PROTOCOL, GEN_PROTOCOL, make, markdown_tables, sections

from ganbench.leaderboards import build_leaderboard
from ganbench.leaderboards.environment import environment
from ganbench.leaderboards.exports import results_csv, results_json
from ganbench.leaderboards.formatting import cell, legend, shown_columns, statistics_line, text_rows
from ganbench.leaderboards.html import Assets, render_page
from ganbench.leaderboards.markdown import leaderboard_markdown
from ganbench.leaderboards.terminal import print_boards
from ganbench.leaderboards.tables import Column
from ganbench.leaderboards.uncertainty import (SEEDS, TIE_MARK, UNTESTED_MARK, bootstrap_z_p, holm_adjusted, rank_tests,
                                               row_interval, seed_counts, tie_ranks, welch_p)

# dcgan and wgan overlap over their seeds; vae is far behind both.
FID = {"dcgan": [10.0, 12.0, 11.0], "wgan": [10.5, 11.5, 12.5], "vae": [30.0, 30.5, 31.0]}
FAMILY = {"dcgan": "gan", "wgan": "gan", "vae": "vae"}
# spectrum and cnn overlap; weak is far behind both.
IN_AUC = {"spectrum": [0.90, 0.92, 0.91], "cnn": [0.91, 0.90, 0.93], "weak": [0.60, 0.61, 0.62]}
T_975_2 = 4.302652729911275  # Student's t, 97.5% quantile, 2 degrees of freedom (printed tables: 4.303)
TIED = "Rank: rows marked k= are tied"
UNTESTED = "one seed: ranks not tested"


def seeded_records(seeds: tuple[int, ...] = (0, 1, 2), fid: dict[str, list[float]] = FID) -> list[dict[str, Any]]:
    records = []
    for seed in seeds:
        for name, values in fid.items():
            records.append(make("train", seed, generator=name, metrics={"params": 1000, "train_seconds": 2.0},
                                info={"family": FAMILY.get(name, "gan"), "device": "cpu"}))
            records.append(make("generation", seed, generator=name, protocol=GEN_PROTOCOL,
                                metrics={"fid": values[seed], "is": 2.0 + len(name) + 0.1 * seed}))
        for detector, values in IN_AUC.items():
            records.append(make("detection", seed, generator="dcgan", train_generator="dcgan", detector=detector,
                                perturbation="none", protocol=DET_PROTOCOL, metrics={"auc": values[seed]}))
    return records


@pytest.fixture(scope="module")
def leaderboard():
    return build_leaderboard(seeded_records())


def board_of(leaderboard, kind: str):
    (board,) = leaderboard.of_kind(kind)
    return board


def by(board, key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in board.data.to_dict("records")}


def test_intervals_equal_the_hand_computed_t_interval(leaderboard) -> None:
    dcgan = by(board_of(leaderboard, "generators"), "generator")["dcgan"]
    half = T_975_2 * 1.0 / math.sqrt(3)  # FIDs 10, 12, 11: mean 11, sample std 1
    assert dcgan["fid"] == pytest.approx(11.0) and dcgan["fid_std"] == pytest.approx(1.0)
    assert dcgan["fid_seed_ci_low"] == pytest.approx(11.0 - half)
    assert dcgan["fid_seed_ci_high"] == pytest.approx(11.0 + half)
    spectrum = by(board_of(leaderboard, "detectors"), "detector")["spectrum"]
    half = T_975_2 * 0.01 / math.sqrt(3)  # AUCs 0.90, 0.92, 0.91: mean 0.91, sample std 0.01
    assert spectrum["in_auc_seed_ci_low"] == pytest.approx(0.91 - half)
    assert spectrum["in_auc_seed_ci_high"] == pytest.approx(0.91 + half)


def test_intervals_over_seeds_stay_inside_the_metric_range() -> None:
    near_one = {"spectrum": [0.99, 0.90, 1.0]}  # mean 0.963, t-interval up to about 1.09
    near_zero = {"dcgan": [1.0, 9.0, 2.0]}  # mean 4, t-interval down to about -6
    records = [r for r in seeded_records(fid=near_zero) if r["kind"] != "detection"]
    for seed, auc in enumerate(near_one["spectrum"]):
        records.append(make("detection", seed, generator="dcgan", train_generator="dcgan", detector="spectrum",
                            perturbation="none", protocol=DET_PROTOCOL, metrics={"auc": auc}))
    board = build_leaderboard(records)
    spectrum = by(board_of(board, "detectors"), "detector")["spectrum"]
    mean, std = statistics.mean(near_one["spectrum"]), statistics.stdev(near_one["spectrum"])
    assert spectrum["in_auc_seed_ci_low"] == pytest.approx(mean - T_975_2 * std / math.sqrt(3))
    assert spectrum["in_auc_seed_ci_high"] == 1.0
    (matrix,) = board.of_kind("cross")
    assert matrix.data["dcgan_seed_ci_high"].iloc[0] == 1.0
    dcgan = by(board_of(board, "generators"), "generator")["dcgan"]
    assert dcgan["fid_seed_ci_low"] == 0.0
    assert dcgan["fid_seed_ci_high"] == pytest.approx(4.0 + T_975_2 * statistics.stdev(near_zero["dcgan"]) / math.sqrt(3))


def test_welch_p_value_equals_scipy() -> None:
    samples = [([10.0, 12.0, 11.0], [10.5, 11.5, 12.5]), ([1.0, 2.0, 4.0, 8.0], [3.0, 3.5]),
               ([0.9, 0.92, 0.91], [0.6, 0.61, 0.62, 0.58, 0.66])]
    for a, b in samples:
        summary = [value for s in (a, b) for value in (float(pd.Series(s).mean()), float(pd.Series(s).std()), len(s))]
        assert welch_p(*summary) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)
    assert math.isnan(welch_p(1.0, math.nan, 1, 2.0, 0.5, 3))
    assert welch_p(1.0, 0.0, 3, 1.0, 0.0, 3) == 1.0 and welch_p(1.0, 0.0, 3, 2.0, 0.0, 3) == 0.0


def test_overlapping_rows_share_a_rank_and_a_separated_one_does_not(leaderboard) -> None:
    generators = board_of(leaderboard, "generators")
    assert generators.rank_by == "fid"
    assert list(generators.data.generator) == ["dcgan", "wgan", "vae"]
    assert list(generators.data.rank_text) == ["1=", "1=", "3"]
    expected = stats.ttest_ind(FID["dcgan"], FID["wgan"], equal_var=False).pvalue
    assert generators.data.rank_p[1] == pytest.approx(expected) and expected >= 0.05
    assert generators.data.rank_p[2] < 0.05
    detectors = board_of(leaderboard, "detectors")
    assert detectors.rank_by == "in_auc"
    assert list(detectors.data.rank_text) == ["1=", "1=", "3"]
    assert list(detectors.data.detector)[2] == "weak"


def test_ties_chain_and_ranks_skip_shared_places() -> None:
    cells = tie_ranks([10.0, 11.0, 12.0, 40.0], [0.7, 0.7, 0.7, 0.7], [3, 3, 3, 3])
    assert [c.text for c in cells] == ["1=", "1=", "1=", "4"]  # 10 vs 12 alone would differ; the chain holds
    assert welch_p(10.0, 0.7, 3, 12.0, 0.7, 3) < 0.05 < welch_p(11.0, 0.7, 3, 12.0, 0.7, 3)
    cells = tie_ranks([10.0, 30.0, 31.0, math.nan], [1.0, 1.0, 1.0, math.nan], [3, 3, 3, math.nan])
    assert [c.text for c in cells] == ["1", "2=", "2=", None]


def test_sort_ranks_by_the_chosen_column(leaderboard) -> None:
    board = board_of(leaderboard.sorted_by("is"), "generators")
    assert board.rank_by == "is" and list(board.data.generator) == ["dcgan", "wgan", "vae"]
    assert list(board.data.rank_text) == ["1", "2", "3"]
    labels = [c.label for c in shown_columns(board)]
    assert labels[:7] == ["rank", "generator", "family", "seeds", "FID", "IS", "IS 95% CI"]
    assert "rank by IS ↑" in statistics_line(board)
    unranked = board_of(leaderboard.sorted_by("params"), "generators")
    assert unranked.rank_by is None and "rank_text" not in unranked.data and legend(unranked) is None
    assert board_of(leaderboard.sorted_by("seeds"), "generators").rank_by is None  # a count, not over seeds


def test_one_seed_says_ranks_are_not_tested() -> None:
    leaderboard = build_leaderboard(seeded_records(seeds=(0,)))
    generators = board_of(leaderboard, "generators")
    assert list(generators.data.rank_text) == ["1", "2", "3"]
    assert generators.data.rank_p.isna().all() and not generators.data.rank_tied.any()
    assert "FID 95% CI" not in [c.label for c in shown_columns(generators)]
    assert statistics_line(generators) == ("Statistics: one seed (n=1): no std, no interval · rank by FID ↓: "
                                           f"{UNTESTED}")
    assert UNTESTED in legend(generators) and "=" not in legend(generators)


def test_rows_with_one_seed_among_several_are_marked_untested() -> None:
    records = [r for r in seeded_records() if r["seed"] == 0 or r.get("generator") != "vae"]
    generators = board_of(build_leaderboard(records), "generators")
    assert list(generators.data.rank_text) == ["1=", "1=", "3?"]
    columns = shown_columns(generators)
    assert [row[columns.index(next(c for c in columns if c.label == "FID 95% CI"))]
            for row in text_rows(generators, columns)][2] == "n=1"
    assert "mean ± std over 1–3 seeds" in statistics_line(generators)
    assert "[95% t-interval of the mean, cut to the metric's range] (n=1: none)" in statistics_line(generators)
    assert "k?: not tested against the row above (one of the two has a single seed)." in legend(generators)


def test_every_renderer_shows_ranks_statistics_and_legend(leaderboard) -> None:
    records = seeded_records()
    markdown = leaderboard_markdown(leaderboard, environment(records))
    lines = sections(markdown)["Generators"]
    table = next(i for i, line in enumerate(lines) if line.startswith("|"))
    statistics = next(i for i, line in enumerate(lines) if line.startswith("Statistics:"))
    after = next(i for i, line in enumerate(lines) if line.startswith(TIED))
    assert statistics < table < after
    assert "Welch's t-test against the row above, α = 0.05" in lines[statistics]
    heads, body = markdown_tables(markdown)[1]
    assert heads[:6] == ["rank", "generator", "family", "seeds ↑", "FID ↓", "FID 95% CI"]
    half = T_975_2 / math.sqrt(3)
    assert [row[0] for row in body] == ["1=", "1=", "3"]
    assert body[0][4:6] == ["11.00 ± 1.00", f"[{11 - half:.2f}, {11 + half:.2f}]"]

    buffer = io.StringIO()
    print_boards(leaderboard, Console(file=buffer, width=100), ("generators", "detectors"))
    output = buffer.getvalue().splitlines()
    head = next(i for i, line in enumerate(output) if "rank" in line and "FID 95% CI" in line)
    assert output.index(next(line for line in output if line.startswith("Statistics: mean ± std over 3 seeds"))) < head
    assert any(line.startswith(TIED) for line in output[head:])
    assert any("1=" in line and "dcgan" in line for line in output)

    page = render_page(leaderboard, environment(records), Assets())
    generators = page.split('<section id="generators">')[1].split("</section>")[0]
    assert '<th class="text" scope="col">rank</th>' in generators
    assert '<td class="rank">1=</td>' in generators and '<td class="rank">3</td>' in generators
    assert generators.index('<p class="statistics">') < generators.index("<table>")
    assert generators.index('<p class="legend">Rank: rows marked k= are tied') > generators.index("</table>")


def test_exports_carry_interval_bounds_and_ranks(leaderboard) -> None:
    frame = pd.read_csv(io.StringIO(results_csv(leaderboard)))
    (fid,) = frame[(frame.kind == "generators") & (frame.row == "dcgan") & (frame.column == "fid")].to_dict("records")
    half = T_975_2 / math.sqrt(3)
    assert fid["ci_low"] == pytest.approx(11 - half) and fid["ci_high"] == pytest.approx(11 + half)
    ranks = frame[(frame.kind == "generators") & (frame.column == "rank")]
    assert list(ranks.text) == ["1=", "1=", "3"] and list(ranks["mean"]) == [1, 1, 3]
    assert ranks.p_value.isna().tolist() == [True, False, False]
    document = json.loads(results_json(leaderboard, environment(seeded_records()), []))
    generators = document["tables"][0]
    assert generators["ranking"]["by"] == "fid" and generators["ranking"]["alpha"] == 0.05
    assert [r["rank_text"] for r in generators["rows"]] == ["1=", "1=", "3"]
    assert generators["rows"][0]["fid_seed_ci_low"] == pytest.approx(11 - half)


def test_holm_adjusted_p_values_by_hand() -> None:
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept monotone at 0.06
    assert holm_adjusted([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjusted([0.4, 0.9]) == pytest.approx([0.8, 0.9]) and holm_adjusted([0.7, 0.6]) == [1.0, 1.0]


def test_bootstrap_z_test_reads_standard_errors_from_the_intervals() -> None:
    z = stats.norm.ppf(0.975)
    se_a, se_b = 0.08 / (2 * z), 0.06 / (2 * z)  # intervals 0.08 and 0.06 wide
    expected = 2 * stats.norm.sf(0.05 / math.hypot(se_a, se_b))
    assert bootstrap_z_p(0.90, 0.86, 0.94, 0.85, 0.83, 0.89) == pytest.approx(expected)
    assert bootstrap_z_p(0.85, 0.83, 0.89, 0.90, 0.86, 0.94) == pytest.approx(expected)
    assert math.isnan(bootstrap_z_p(0.9, math.nan, 0.94, 0.85, 0.83, 0.89))


def test_rows_without_spread_are_one_rank_only_when_their_values_are_equal() -> None:
    """Zero-width bootstrap intervals: equal values cannot be told apart (p 1), different ones can (p 0)."""
    assert bootstrap_z_p(0.9, 0.9, 0.9, 0.9, 0.9, 0.9) == 1.0
    assert bootstrap_z_p(0.9, 0.9, 0.9, 0.8, 0.8, 0.8) == 0.0
    assert welch_p(0.9, 0.0, 3, 0.8, 0.0, 3) == 0.0 and welch_p(0.9, 0.0, 3, 0.9, 0.0, 3) == 1.0


def test_a_row_over_seeds_is_never_z_tested_against_a_one_seed_row() -> None:
    """The first row has three seeds (and bootstrap bounds of its own), the second one seed: no test
    compares a spread over seeds with one over images, so the second row's rank is marked untested."""
    cells = tie_ranks([0.90, 0.89], [0.01, math.nan], [3, 1], boot_lows=[0.88, 0.87], boot_highs=[0.92, 0.91])
    assert math.isnan(cells[1].p) and not cells[1].tied and cells[1].text == f"2{UNTESTED_MARK}"


def test_two_seed_rows_are_compared_by_welchs_test() -> None:
    """Two seeds are enough for a std and so for Welch's test: FIDs 9, 11 against 19, 21 differ (p 0.01)."""
    a, b = [9.0, 11.0], [19.0, 21.0]
    cells = tie_ranks([10.0, 20.0], [statistics.stdev(a), statistics.stdev(b)], [2, 2])
    assert cells[1].p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue) and cells[1].p < 0.05
    assert [c.text for c in cells] == ["1", "2"]
    data = pd.DataFrame({"fid": [10.0, 20.0], "fid_std": [1.5, 1.5], "fid_n": [2, 2]})
    assert rank_tests(data, "fid") == {SEEDS}


def test_a_row_without_a_value_shows_no_interval() -> None:
    """Bounds left in a row whose value is missing are not shown: the cell is a dash, not a bare interval."""
    row = {"auc": math.nan, "auc_boot_ci_low": 0.8, "auc_boot_ci_high": 0.9, "auc_n": 1}
    assert row_interval(row, "auc") is None
    assert cell(row, Column("auc", "AUC", with_interval=True), 4) == "–"
    assert row_interval(dict(row, auc=0.85), "auc") == (0.8, 0.9, "bootstrap")


def test_a_p_value_at_alpha_itself_is_a_tie() -> None:
    """Rows are told apart only when p < alpha, as the legend says (p >= 0.05 shares the rank)."""
    p = welch_p(10.0, 1.0, 3, 12.0, 1.0, 3)
    assert 0 < p < 1
    assert [c.text for c in tie_ranks([10.0, 12.0], [1.0, 1.0], [3, 3], alpha=p)] == [f"1{TIE_MARK}", f"1{TIE_MARK}"]
    assert [c.text for c in tie_ranks([10.0, 12.0], [1.0, 1.0], [3, 3], alpha=p * 1.001)] == ["1", "2"]


def test_seed_counts_come_only_from_rows_that_hold_a_value() -> None:
    data = pd.DataFrame({"fid": [10.0, math.nan, 12.0], "fid_n": [3, 5, 2]})
    assert seed_counts(data, "fid") == [3, 2]


def one_seed_detectors(values: dict[str, tuple[float, float, float]]) -> list[dict[str, Any]]:
    return [make("detection", 0, generator="dcgan", train_generator="dcgan", detector=detector, perturbation="none",
                 protocol=DET_PROTOCOL, metrics={"auc": auc, "auc_ci_low": low, "auc_ci_high": high})
            for detector, (auc, low, high) in values.items()]


def test_one_seed_detector_ranks_use_the_bootstrap_intervals() -> None:
    """a and b overlap (p 0.73), c is far below: a and b share rank 1, c is 3rd; d has no interval."""
    records = one_seed_detectors({"a": (0.90, 0.86, 0.94), "b": (0.89, 0.85, 0.93), "c": (0.70, 0.66, 0.74),
                                  "d": (0.60, math.nan, math.nan)})
    board = board_of(build_leaderboard(records), "detectors")
    assert list(board.data.detector) == ["a", "b", "c", "d"]
    assert list(board.data.rank_text) == ["1=", "1=", "3", "4?"]
    se = 0.08 / (2 * stats.norm.ppf(0.975))
    assert board.data.rank_p[1] == pytest.approx(2 * stats.norm.sf(0.01 / (se * math.sqrt(2))))
    assert "z-test on the bootstrap standard errors against the row above, α = 0.05" in statistics_line(board)
    assert "a z-test on their bootstrap standard errors cannot tell" in legend(board)
    assert "k?: not tested against the row above (each test needs two seeds or more on both sides" in legend(board)
    assert [c.label for c in shown_columns(board)][:3] == ["rank", "detector", "in-dist AUC"]


def test_a_table_mixing_seed_counts_names_both_intervals() -> None:
    """spectrum ran three seeds (t-interval over seeds); late ran one (its bootstrap interval); neither test applies."""
    records = [r for r in seeded_records() if r.get("detector") in ("spectrum", None)]
    records += one_seed_detectors({"late": (0.70, 0.66, 0.74)})
    board = board_of(build_leaderboard(records), "detectors")
    cells = {row[1]: row[2] for row in text_rows(board)}
    half = T_975_2 * 0.01 / math.sqrt(3)
    assert cells["spectrum"] == f"0.9100 ± 0.0100 [{0.91 - half:.4f}, {0.91 + half:.4f}]"
    assert cells["late"] == "0.7000 [0.6600, 0.7400]"
    lead = [line for line in (leaderboard_markdown(build_leaderboard(records), environment(records)).splitlines())
            if line.startswith("Protocol: data set digits")]
    assert any("95% t-interval of the mean over seeds (cut to [0, 1]); where a cell has one seed, the 95% bootstrap interval" in line
               for line in lead)
    assert list(board.data.rank_text) == ["1", "2?"]
    assert "Welch's t-test against the row above, α = 0.05 (rows with two seeds or more); z-test" in \
        statistics_line(board)


def test_each_metric_ranks_its_better_end_first_and_rows_without_it_last() -> None:
    """KID, FID, EER and ECE are better low; a generator with no quality record sorts below every measured one."""
    records = []
    for seed in (0, 1):
        for name, kid in (("dcgan", 0.02), ("wgan", 0.05), ("vae", 0.01)):
            records.append(make("train", seed, generator=name, metrics={"params": 1000, "train_seconds": 2.0},
                                info={"family": FAMILY[name], "device": "cpu"}))
            records.append(make("generation", seed, generator=name, protocol=GEN_PROTOCOL,
                                metrics={"fid": 10.0 * (1 + len(name)) + seed, "kid": kid + 0.001 * seed}))
        records.append(make("train", seed, generator="unmeasured", metrics={"params": 10, "train_seconds": 1.0},
                            info={"family": "gan", "device": "cpu"}))
        for detector, eer, ece in (("spectrum", 0.30, 0.02), ("cnn", 0.10, 0.20), ("weak", 0.20, 0.10)):
            records.append(make("detection", seed, generator="dcgan", train_generator="dcgan", detector=detector,
                                perturbation="none", protocol=DET_PROTOCOL,
                                metrics={"auc": 0.9 - eer, "eer": eer + 0.001 * seed, "ece": ece}))
    leaderboard = build_leaderboard(records)
    for column, order in (("kid", ["vae", "dcgan", "wgan", "unmeasured"]),
                          ("fid", ["vae", "wgan", "dcgan", "unmeasured"])):
        generators = board_of(leaderboard.sorted_by(column), "generators")
        assert list(generators.data.generator) == order, column
        assert pd.isna(generators.data.rank_text.iloc[-1]) and generators.data.rank_text.iloc[0] == "1"
    for column, order in (("in_eer", ["cnn", "weak", "spectrum"]), ("in_ece", ["spectrum", "weak", "cnn"])):
        assert list(board_of(leaderboard.sorted_by(column), "detectors").data.detector) == order, column
