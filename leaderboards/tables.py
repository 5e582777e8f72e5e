"""Leaderboard tables built with pandas from the JSON records alone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

GENERATION_COLUMNS = ("fid", "kid", "is", "precision", "recall", "density", "coverage", "classes_covered",
                      "class_kl", "conditional_accuracy", "modes_covered", "high_quality", "mode_kl")
DETECTION_COLUMNS = ("auc", "ap", "acc", "real_acc", "fake_acc", "balanced_acc", "eer", "tpr_at_1fpr", "ece")
ROW_FIELDS = ("kind", "dataset", "preset", "seed", "generator", "train_generator", "perturbation", "detector",
              "status", "reason", "seconds", "metrics")


def json_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records reduced to the documented row fields (plus ``protocol`` and ``key``)."""
    rows = []
    for record in records:
        row = {name: record.get(name) for name in ROW_FIELDS}
        if row["kind"] == "detection" and row["perturbation"] is None:
            row["perturbation"] = "none"
        row["protocol"] = record.get("protocol", {})
        row["key"] = record.get("key")
        rows.append(row)
    return rows


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per record; metrics flattened into columns."""
    rows = []
    for row in json_rows(records):
        flat = {k: v for k, v in row.items() if k not in ("metrics", "protocol")}
        flat.update(row["metrics"] or {})
        rows.append(flat)
    return pd.DataFrame(rows)


def generator_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Quality per (generator, data set, preset): mean over seeds, with detectability from detection rows."""
    if frame.empty or "kind" not in frame:
        return pd.DataFrame()
    gen = frame[(frame.kind == "generation") & (frame.status == "ok")]
    if gen.empty:
        return pd.DataFrame()
    keys = ["generator", "dataset", "preset"]
    columns = [c for c in GENERATION_COLUMNS if c in gen and gen[c].notna().any()]
    table = gen.groupby(keys)[columns].mean()
    table["seeds"] = gen.groupby(keys).size()
    det = frame[(frame.kind == "detection") & (frame.status == "ok")]
    if not det.empty and "auc" in det:
        clean = det[det.perturbation.fillna("none") == "none"]
        auc = clean.groupby(keys)["auc"]
        table["detect_auc_mean"] = auc.mean()
        table["detect_auc_worst"] = auc.min()
    table = table.reset_index()
    return table.sort_values("fid") if "fid" in table else table


def detector_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per detector: in-distribution and cross-generator AUC on clean fakes."""
    if frame.empty or "kind" not in frame:
        return pd.DataFrame()
    det = frame[(frame.kind == "detection") & (frame.status == "ok")]
    det = det[det.perturbation.fillna("none") == "none"]
    if det.empty:
        return pd.DataFrame()
    same = det[det.generator == det.train_generator]
    cross = det[det.generator != det.train_generator]
    table = same.groupby("detector")[["auc", "ap", "acc"]].mean().add_prefix("in_dist_")
    table["worst_auc"] = det.groupby("detector")["auc"].min()
    if not cross.empty:
        table["cross_auc"] = cross.groupby("detector")["auc"].mean()
    return table.reset_index().sort_values("in_dist_auc", ascending=False)


def cross_matrix(frame: pd.DataFrame, detector: str) -> pd.DataFrame:
    """Train generator x test generator AUC for one detector (clean fakes)."""
    det = frame[(frame.kind == "detection") & (frame.status == "ok") & (frame.detector == detector)]
    det = det[det.perturbation.fillna("none") == "none"]
    return det.pivot_table(index="train_generator", columns="generator", values="auc", aggfunc="mean")
