"""Print the arms-race table of a run folder as Markdown: every detector trained on the fakes of one
generator of a pair and tested on both (``ganbench.leaderboards.arms_race``), AUC with its 95%
interval. The run needs both generators and ``--detection-plan matrix``, e.g.::

    ganbench run --suite stylegan2,stylegan3,spectrum,dct,npr,one-class --detection-plan matrix --out RUN
    python benchmarks/arms_race.py --out RUN [--pair stylegan2,stylegan3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganbench.errors import UserError
from ganbench.leaderboards.arms_race import DEFAULT_PAIR, arms_race_boards, parse_pair
from ganbench.leaderboards.markdown import board_markdown
from ganbench.leaderboards.sources import read_sources
from ganbench.leaderboards.tables import records_frame


def arms_race_markdown(out: Path, pair: tuple[str, str]) -> str:
    """The arms-race tables of the run folder ``out``; a UserError where it holds none."""
    boards = arms_race_boards(records_frame(read_sources([out]).records), pair)
    if not boards:
        raise UserError(f"no detector in {out} was trained on {pair[0]} and tested on {pair[1]} or the reverse "
                        "(run both generators with `--detection-plan matrix`)")
    return "\n".join(board_markdown(board) for board in boards)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--pair", default=",".join(DEFAULT_PAIR), help="two generators, A,B")
    args = parser.parse_args(argv)
    try:
        pair = parse_pair(args.pair)
        sys.stdout.write(arms_race_markdown(args.out, pair))
    except (UserError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
