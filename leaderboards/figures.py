"""matplotlib figures of a report, saved as PNG: ROC curves (per detector and per generator), reliability
diagrams, cross-generator heatmaps, robustness curves, the quality-vs-detectability scatter and each
generator's training curves.

ROC curves follow Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters 2006;
reliability diagrams (fraction of fakes against the mean predicted probability per bin, the
diagonal for perfect calibration) follow DeGroot and Fienberg, "The comparison and evaluation of
forecasters", The Statistician 1983, and Guo et al., "On Calibration of Modern Neural Networks",
ICML 2017; robustness curves (AUC against JPEG quality and blur sigma) follow Wang et al.,
"CNN-generated images are surprisingly easy to spot... for now", CVPR 2020. Figures use
matplotlib's object-oriented API with the Agg canvas, so no display and no global pyplot state are
needed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ganbench.leaderboards.protocols import signature
from ganbench.leaderboards.tables import (DET_KEYS, NULL_GENERATOR, Board, _clean, _ok, _sig, is_human,
                                          perturbation_family, perturbation_level, perturbation_reference)

DPI = 110
MAX_ROC_CURVES = 12
LEVEL_AXES = {"jpeg": ("JPEG quality", True), "blur": ("blur sigma", False), "resize": ("resize factor", True),
              "noise": ("noise sigma", False)}
CURVE_QUALITY = (("fid", "cheap FID ↓", "classes_covered", "classes covered ↑"),
                 ("modes_covered", "modes covered ↑", "high_quality", "% high quality ↑"))


@dataclass(frozen=True)
class FigureFile:
    """A PNG written beside the report: file name, title and a one-line description (alt text)."""

    name: str
    title: str
    description: str


def file_name(prefix: str, *parts: object, key: object = "") -> str:
    """A file name safe on every OS from readable ``parts``, unique per (parts, key) by a short digest."""
    readable = "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", str(p)) for p in parts)[:60]
    digest = hashlib.sha1(repr((parts, key)).encode()).hexdigest()[:8]
    return f"{prefix}-{readable}-{digest}.png" if readable else f"{prefix}-{digest}.png"


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI)


def _spread(data: pd.DataFrame, name: str) -> np.ndarray | None:
    """Error bar half-widths (the std over seeds), or None where no row has one."""
    column = data.get(f"{name}_std")
    return None if column is None or column.isna().all() else column.fillna(0.0).to_numpy()


def scatter_figure(board: Board, site: Path) -> FigureFile | None:
    """FID (x) against mean detector AUC (y), one point per generator row, error bars over seeds."""
    if not (board.column("fid") and board.column("detect_auc_mean")):
        return None
    data = board.data.dropna(subset=["fid", "detect_auc_mean"])
    if data.empty:
        return None
    figure = Figure(figsize=(6.4, 4.4), layout="tight")
    ax = figure.subplots()
    for is_gan, marker, label in ((True, "o", "GAN"), (False, "s", "non-GAN reference")):
        family = data["family"] if "family" in data else pd.Series("gan", index=data.index)
        part = data[(family.fillna("gan").str.lower() == "gan") == is_gan]
        if part.empty:
            continue
        ax.errorbar(part.fid, part.detect_auc_mean, xerr=_spread(part, "fid"), yerr=_spread(part, "detect_auc_mean"),
                    fmt=marker, capsize=3, label=label)
        for row in part.itertuples(index=False):
            ax.annotate(str(row.generator), (row.fid, row.detect_auc_mean), textcoords="offset points", xytext=(5, 4),
                        fontsize=8)
    ax.set_xlabel("FID (lower = better quality)")
    ax.set_ylabel("mean detector AUC (lower = harder to detect)")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    name = file_name("scatter", key=(board.title, sorted(map(str, board.data.generator)),
                                     sorted(map(str, board.protocols.items()))))
    _save(figure, site / name)
    title = "Quality vs detectability" + ("" if board.title == "Generators" else f" ({board.title.lower()})")
    return FigureFile(name, title, "FID on x, mean detector AUC on y, one point per generator")


def heatmap_figure(board: Board, site: Path) -> FigureFile:
    """The cross-generator AUC matrix of one detector as an annotated heatmap."""
    tests = [c.name for c in board.columns[1:]]
    trains = [str(t) for t in board.data.train_generator]
    values = board.data[tests].to_numpy(dtype=float) if tests else np.zeros((len(trains), 0))
    figure = Figure(figsize=(1.2 + 0.9 * max(len(tests), 2), 1.0 + 0.6 * max(len(trains), 2)), layout="tight")
    ax = figure.subplots()
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=min(0.5, np.nanmin(values, initial=0.5)),
                      vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(tests)), tests, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(trains)), trains, fontsize=8)
    ax.set_xlabel("test generator (fresh fakes)")
    ax.set_ylabel("train generator")
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=8,
                    color="black" if value > 0.8 else "white")
    figure.colorbar(image, ax=ax, label="AUC")
    name = file_name("cross", board.subject, key=(board.title, sorted(map(str, board.protocols.items()))))
    _save(figure, site / name)
    return FigureFile(name, board.title, f"cross-generator AUC heatmap of {board.subject}")


def _clean_with(frame: pd.DataFrame, info_key: str) -> pd.DataFrame:
    """Clean detection rows whose ``info`` holds ``info_key``, with the ``sig_clean`` column."""
    ok = _ok(frame)
    if ok.empty or "info" not in ok:
        return ok.iloc[0:0].assign(sig_clean=pd.Series(dtype=object))
    det = _clean(ok)
    return det[det["info"].map(lambda i: isinstance(i, dict) and bool(i.get(info_key)))] if not det.empty else det


def _in_distribution(det: pd.DataFrame) -> pd.DataFrame:
    return det[(det.train_generator == det.generator) | det.train_generator.isna()] if not det.empty else det


def _roc_axes(ax: Any, title: str) -> None:
    """Chance diagonal, unit square, axis names, title, legend and grid of a ROC plot."""
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate (real called fake)")
    ax.set_ylabel("true positive rate (fake caught)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)


def _auc(row: Any) -> float:
    return getattr(row, "auc", float("nan"))


def _roc_figure(rows: pd.DataFrame, label: Callable[[Any], str], title: str, path: Path) -> None:
    """One ROC figure: a curve per row (the points in its ``info["roc"]``), labelled by ``label(row)``."""
    figure = Figure(figsize=(4.8, 4.4), layout="tight")
    ax = figure.subplots()
    for row in rows.itertuples(index=False):
        points = np.asarray(row.info["roc"], dtype=float)
        ax.plot(points[:, 0], points[:, 1], lw=1.5, label=label(row))
    _roc_axes(ax, title)
    _save(figure, path)


def roc_figures(frame: pd.DataFrame, site: Path) -> list[FigureFile]:
    """Per detector (data set, preset, protocol): in-distribution ROC curves of each test generator, lowest seed."""
    det = _in_distribution(_clean_with(frame, "roc"))
    files = []
    for (detector, dataset, preset, sig), rows in det.groupby(DET_KEYS + ["sig_clean"], sort=True):
        rows = rows.sort_values(["generator", "seed"]).drop_duplicates("generator").head(MAX_ROC_CURVES)
        name = file_name("roc", detector, dataset, preset, key=sig)
        _roc_figure(rows, lambda row: f"{row.generator} (AUC {_auc(row):.3f}, seed {row.seed})",
                    f"{detector} · {dataset} / {preset}", site / name)
        files.append(FigureFile(name, f"ROC · {detector} · {dataset} / {preset}",
                                f"in-distribution ROC curves of {detector}, one per generator"))
    return files


def _train_order(rows: pd.DataFrame) -> pd.DataFrame:
    """In-distribution first, then training on all generators, then the other training sets by name."""
    rank = np.where(rows.train_generator == rows.generator, 0, np.where(rows.train_generator == "all", 1, 2))
    return rows.assign(order=rank).sort_values(["order", "detector", "train_generator", "seed"]).drop(columns="order")


def generator_roc_figures(frame: pd.DataFrame, site: Path) -> list[FigureFile]:
    """Per test generator (data set, preset, protocol): the clean ROC curve of each detector and training set,
    in-distribution first, lowest seed."""
    det = _clean_with(frame, "roc")
    files = []
    for (generator, dataset, preset, sig), rows in det.groupby(["generator", "dataset", "preset", "sig_clean"],
                                                                sort=True):
        rows = _train_order(rows.assign(train_generator=rows.train_generator.fillna(rows.generator)))
        rows = rows.drop_duplicates(["detector", "train_generator"]).head(MAX_ROC_CURVES)

        def label(row: Any) -> str:
            trained = "in-dist" if row.train_generator == row.generator else f"trained on {row.train_generator}"
            return f"{row.detector} ({trained}, AUC {_auc(row):.3f})"

        name = file_name("generator_roc", generator, dataset, preset, key=sig)
        _roc_figure(rows, label, f"fakes of {generator} · {dataset} / {preset}", site / name)
        files.append(FigureFile(name, f"ROC · fakes of {generator} · {dataset} / {preset}",
                                f"ROC curves of every detector on the fresh fakes of {generator}"))
    return files


def calibration_figures(frame: pd.DataFrame, site: Path) -> list[FigureFile]:
    """Per detector whose scores are probabilities (data set, preset, protocol): the in-distribution reliability
    diagram of each test generator, lowest seed; marker area follows the images in a bin."""
    det = _in_distribution(_clean_with(frame, "reliability"))
    files = []
    for (detector, dataset, preset, sig), rows in det.groupby(DET_KEYS + ["sig_clean"], sort=True):
        rows = rows.sort_values(["generator", "seed"]).drop_duplicates("generator").head(MAX_ROC_CURVES)
        figure = Figure(figsize=(4.8, 4.4), layout="tight")
        ax = figure.subplots()
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="perfect calibration")
        for index, row in enumerate(rows.itertuples(index=False)):
            bins = np.asarray(row.info["reliability"], dtype=float)
            ece = getattr(row, "ece", float("nan"))
            color = f"C{index % 10}"
            ax.plot(bins[:, 0], bins[:, 1], "-", color=color, lw=1.2,
                    label=f"{row.generator} (ECE {ece:.3f}, seed {row.seed})")
            ax.scatter(bins[:, 0], bins[:, 1], s=12 + 150 * bins[:, 2] / bins[:, 2].sum(), color=color, alpha=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("mean predicted probability of fake (per bin)")
        ax.set_ylabel("fraction of fakes (per bin)")
        ax.set_title(f"{detector} · {dataset} / {preset}", fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
        name = file_name("calibration", detector, dataset, preset, key=sig)
        _save(figure, site / name)
        files.append(FigureFile(name, f"Calibration · {detector} · {dataset} / {preset}",
                                f"in-distribution reliability diagrams of {detector}, one per generator"))
    return files


RobustnessCurve = tuple[pd.DataFrame, float]


def _robustness_curves(rows: pd.DataFrame, clean: pd.DataFrame) -> dict[str, dict[str, RobustnessCurve]]:
    """family -> detector -> (per level: mean AUC and the mean of its records' bootstrap bounds
    ``auc_ci_low``/``auc_ci_high``, averaged as the tables average them; mean clean AUC of the
    same detector/train/test pairs)."""
    rows = rows.assign(family=rows.perturbation.map(perturbation_family),
                       level=rows.perturbation.map(perturbation_level)).dropna(subset=["level", "auc"])
    bounds = [name for name in ("auc_ci_low", "auc_ci_high") if name in rows]
    pairs = ["detector", "train_generator", "generator", "seed"]
    curves: dict[str, dict[str, RobustnessCurve]] = {}
    for (family, detector), part in rows.groupby(["family", "detector"], sort=True):
        matched = clean.merge(part[pairs].drop_duplicates(), on=pairs)
        curve = part.groupby("level")[["auc", *bounds]].mean().sort_index()
        curves.setdefault(family, {})[detector] = (curve, float(matched.auc.mean()) if not matched.empty else np.nan)
    return curves


def _clean_signature(frame: pd.DataFrame) -> pd.Series:
    """Each row's protocol signature without the robustness grid a perturbed row adds: that of the
    clean rows measured under the same protocol."""
    return frame["protocol"].map(lambda p: signature({k: v for k, v in (p or {}).items()
                                                      if k != "robustness_grid"}) or "")


def robustness_figures(frame: pd.DataFrame, site: Path) -> list[FigureFile]:
    """Per data set and preset: AUC against the level of each perturbation family, one line per detector."""
    ok = _ok(frame)
    if ok.empty or "auc" not in ok:
        return []
    det = ok[(ok.kind == "detection") & ok.detector.notna() & (ok.generator != NULL_GENERATOR)
             & ~ok.detector.map(is_human)]
    perturbed = det[det.perturbation.notna() & (det.perturbation != "none")]
    perturbed = perturbed.assign(sig=_sig(perturbed), clean_sig=_clean_signature(perturbed))
    clean = det[det.perturbation == "none"]
    clean = clean.assign(clean_sig=_clean_signature(clean))
    files = []
    for (dataset, preset, sig), rows in perturbed.groupby(["dataset", "preset", "sig"], sort=True):
        same = (clean.dataset == dataset) & (clean.preset == preset) & (clean.clean_sig == rows.clean_sig.iloc[0])
        curves = _robustness_curves(rows, clean[same])
        families = sorted(curves, key=lambda f: (list(LEVEL_AXES).index(f) if f in LEVEL_AXES else 99, f))
        if not families:
            continue
        figure = Figure(figsize=(4.2 * len(families), 3.8), layout="tight")
        axes = np.atleast_1d(figure.subplots(1, len(families)))
        references = {perturbation_family(p): perturbation_reference(p) for p in rows.perturbation}
        for ax, family in zip(axes, families):
            label, reverse = LEVEL_AXES.get(family, (f"{family} level", False))
            if references.get(family):
                label += f" on a {references[family].removesuffix('px')}-px side"
            for index, (detector, (curve, clean_auc)) in enumerate(curves[family].items()):
                color = f"C{index % 10}"
                ax.plot(curve.index, curve["auc"], "o-", color=color, label=str(detector))
                if {"auc_ci_low", "auc_ci_high"} <= set(curve) and curve[["auc_ci_low", "auc_ci_high"]].notna().all(axis=None):
                    ax.fill_between(curve.index, curve["auc_ci_low"], curve["auc_ci_high"], color=color, alpha=0.15,
                                    lw=0)
                if np.isfinite(clean_auc):
                    ax.axhline(clean_auc, color=color, ls="--", lw=0.9)
            if reverse:
                ax.invert_xaxis()
            ax.set_xlabel(label + (" (harsher →)" if reverse else ""))
            ax.set_ylabel("AUC (dashed: clean)")
            ax.set_ylim(min(0.4, ax.get_ylim()[0]), 1.02)
            ax.axhline(0.5, color="grey", lw=0.8, ls=":")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        figure.suptitle(f"Robustness · {dataset} / {preset}", fontsize=10)
        name = file_name("robustness", dataset, preset, key=sig)
        _save(figure, site / name)
        files.append(FigureFile(name, f"Robustness · {dataset} / {preset}",
                                "AUC against perturbation strength per detector; bands: 95% bootstrap intervals over images "
                                "(the mean of the averaged records' bounds); dashed lines: the clean AUC"))
    return files


def read_curve(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The loss lines and the quality lines of a training curve file (JSONL), each sorted by step;
    lines that do not parse (a line cut short by a kill) are left out."""
    losses, quality = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            body = json.loads(line)
            step = int(body["step"])
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(body.get("losses"), dict):
            losses.append({"step": step, **body["losses"]})
        if isinstance(body.get("quality"), dict):
            quality.append({"step": step, **body["quality"]})
    return sorted(losses, key=lambda b: b["step"]), sorted(quality, key=lambda b: b["step"])


def _series(lines: list[dict[str, Any]], name: str) -> tuple[list[int], list[float]]:
    points = [(b["step"], float(b[name])) for b in lines if isinstance(b.get(name), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def curve_files(records: list[dict[str, Any]], run_dir: Path) -> dict[tuple[str, str, str], tuple[int, Path]]:
    """(generator, data set, preset) -> (seed, curve file) of its lowest seed whose file is in the run folder."""
    root = run_dir.resolve()
    found: dict[tuple[str, str, str], tuple[int, Path]] = {}
    for record in records:
        relative = (record.get("info") or {}).get("curves")
        if record.get("kind") != "train" or not record.get("generator") or not isinstance(relative, str):
            continue
        path = (root / relative).resolve()
        if not (path.is_relative_to(root) and path.suffix == ".jsonl" and path.is_file()):
            continue
        ident = (str(record["generator"]), str(record["dataset"]), str(record["preset"]))
        seed = int(record.get("seed") or 0)
        if ident not in found or seed < found[ident][0]:
            found[ident] = (seed, path)
    return found


def curve_figure(ident: tuple[str, str, str], seed: int, path: Path, site: Path) -> FigureFile | None:
    """Losses (left) and the cheap quality check (right) of one training over its steps."""
    losses, quality = read_curve(path)
    if not losses and not quality:
        return None
    generator, dataset, preset = ident
    figure = Figure(figsize=(8.4, 3.4), layout="tight")
    loss_ax, quality_ax = figure.subplots(1, 2)
    names = [n for n in dict.fromkeys(k for b in losses for k in b) if n != "step"]
    for name in names:
        loss_ax.plot(*_series(losses, name), lw=1.2, label=name)
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("loss (mean over each window)")
    loss_ax.grid(alpha=0.3)
    if names:
        loss_ax.legend(fontsize=7)
    shown = next((q for q in CURVE_QUALITY if any(q[0] in b for b in quality)), None)
    if shown is None:
        quality_ax.text(0.5, 0.5, "losses only (no quality checks)", ha="center", va="center", fontsize=9,
                        transform=quality_ax.transAxes)
        quality_ax.set_axis_off()
    else:
        main, main_label, other, other_label = shown
        quality_ax.plot(*_series(quality, main), "o-", color="C0", label=main_label)
        quality_ax.set_xlabel("step")
        quality_ax.set_ylabel(main_label, color="C0")
        quality_ax.grid(alpha=0.3)
        axes = [(quality_ax, main)]
        steps, values = _series(quality, other)
        if values:
            twin = quality_ax.twinx()
            twin.plot(steps, values, "s--", color="C1", label=other_label)
            twin.set_ylabel(other_label, color="C1")
            twin.set_ylim(0, max(values) * 1.1 + 1)
            axes.append((twin, other))
        for ax, metric in axes:
            if metric.endswith("_covered"):
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(f"{generator} · {dataset} / {preset} · seed {seed}", fontsize=10)
    name = file_name("curves", generator, dataset, preset, key=(seed, path.name))
    _save(figure, site / name)
    return FigureFile(name, f"Training curves · {generator} · {dataset} / {preset}",
                      f"losses and cheap quality checks of {generator} over its training steps")


def curve_figures(records: list[dict[str, Any]], run_dir: Path, site: Path) -> list[FigureFile]:
    """One figure per generator (data set, preset; lowest seed) from the curve files its train records name."""
    files = []
    for ident, (seed, path) in sorted(curve_files(records, run_dir).items()):
        if (figure := curve_figure(ident, seed, path, site)) is not None:
            files.append(figure)
    return files
