"""Leaderboards: records -> pandas tables -> terminal, Markdown, CSV/JSON and HTML."""

from leaderboards.tables import cross_matrix, detector_table, generator_table, json_rows, records_frame
from leaderboards.terminal import print_leaderboard

__all__ = ["cross_matrix", "detector_table", "generator_table", "json_rows", "print_leaderboard", "records_frame"]
