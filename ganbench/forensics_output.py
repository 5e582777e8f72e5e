"""What ``ganbench detect`` prints and writes: a rich table per detector x generator, a JSON
document, and a per-image score file (CSV, or Parquet when pyarrow is installed) with the
columns path, label (0 real, 1 fake), score, generator, detector, perturbation.
"""

from __future__ import annotations

import csv
import importlib.util
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from ganbench.errors import UserError
from ganbench.store import atomic_write_bytes

if TYPE_CHECKING:
    from ganbench.forensics import DetectOutcome, ScoredImages

SCORE_COLUMNS = ("path", "label", "score", "generator", "detector", "perturbation")
TABLE_COLUMNS = (("AUC", "auc"), ("AP", "ap"), ("bal. acc", "balanced_acc"), ("acc real", "real_acc"),
                 ("acc fake", "fake_acc"), ("TPR@1%FPR", "tpr_at_1fpr"))


def check_scores_path(path: Path | None) -> None:
    """``--scores`` must end in .csv or .parquet (with pyarrow installed) inside an existing folder."""
    if path is None:
        return
    if path.suffix not in (".csv", ".parquet"):
        raise UserError(f"--scores {path}: the file name must end in .csv or .parquet")
    if path.suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise UserError(f"--scores {path}: writing Parquet needs pyarrow (pip install pyarrow); use a .csv name")
    if not path.parent.is_dir():
        raise UserError(f"--scores {path}: no such folder: {path.parent}")


def score_records(scored: Iterable[ScoredImages]) -> list[tuple[str, int, float, str, str, str]]:
    return [(path, int(label), float(score), s.generator, s.detector, s.perturbation)
            for s in scored for path, label, score in zip(s.paths, s.labels, s.scores)]


def write_scores(path: Path, scored: Iterable[ScoredImages]) -> int:
    """Write one row per scored image; returns the row count."""
    records = score_records(scored)
    if path.suffix == ".parquet":
        import pandas as pd

        buffer = io.BytesIO()
        pd.DataFrame(records, columns=list(SCORE_COLUMNS)).to_parquet(buffer, index=False)
        atomic_write_bytes(path, buffer.getvalue())
        return len(records)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(SCORE_COLUMNS)
    writer.writerows((p, label, repr(score), g, d, q) for p, label, score, g, d, q in records)
    atomic_write_bytes(path, text.getvalue().encode("utf-8"))
    return len(records)


def _cell(row: dict[str, Any], key: str) -> str:
    """A value with its bootstrap interval where the row has one: ``0.9500 [0.9100, 0.9800]``."""
    low, high = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    interval = f" [{low:.4f}, {high:.4f}]" if low is not None and high is not None else ""
    return f"{row[key]:.4f}{interval}"


def results_table(outcome: DetectOutcome) -> Table:
    """Detector x generator (x perturbation) rows with both class counts and the threshold used; the
    bootstrapped metrics show their intervals, whose method the caption states."""
    show_perturbation = any(row["perturbation"] != "none" for row in outcome.rows)
    bootstrap = outcome.protocol.get("bootstrap")
    table = Table(title=Text(f"detection on outside images ({outcome.protocol['framing']})"), header_style="bold",
                  caption=Text(f"[low, high]: {bootstrap}") if bootstrap else None)
    for column in ["detector", "generator", *(["perturbation"] if show_perturbation else []),
                   *(title for title, _ in TABLE_COLUMNS), "n_real", "n_fake", "threshold"]:
        table.add_column(column, justify="left" if column in ("detector", "generator", "perturbation") else "right")
    for row in outcome.rows:
        cells = [row["detector"], row["generator"], *([row["perturbation"]] if show_perturbation else []),
                 *(_cell(row, key) for _, key in TABLE_COLUMNS), str(row["n_real"]), str(row["n_fake"]),
                 f"{row['threshold']:.4g}"]
        table.add_row(*(Text(cell) for cell in cells))
    return table


def json_document(outcome: DetectOutcome) -> dict[str, Any]:
    return {"protocol": outcome.protocol, "results": outcome.rows}
