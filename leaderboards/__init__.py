"""Leaderboards: records -> pandas tables -> terminal, Markdown, CSV/JSON and a static HTML site
(``ganbench.leaderboards.publish``, imported on demand: it pulls in matplotlib)."""

from ganbench.leaderboards.tables import (Board, Column, Leaderboard, build_leaderboard, by_generator_boards,
                                         cross_boards, detector_boards, generator_boards, json_rows, records_frame)
from ganbench.leaderboards.terminal import print_leaderboard

__all__ = ["Board", "Column", "Leaderboard", "build_leaderboard", "by_generator_boards", "cross_boards",
           "detector_boards", "generator_boards", "json_rows", "print_leaderboard", "records_frame"]
