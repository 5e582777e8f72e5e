"""The spectra figure: the mean azimuthally averaged power spectrum of each generator's stored
fresh fakes (the set the detectors are tested on) beside the real test split's, one figure per
data set, preset and image side, and ``spectra.csv`` with its numbers.

Durall, Keuper & Keuper, "Watch your Up-Convolution", CVPR 2020, showed that up-sampling leaves
peaks at high spatial frequencies of this 1-D spectrum; Karras et al., "Alias-Free Generative
Adversarial Networks", NeurIPS 2021 (StyleGAN3), filter the up-sampling to remove that aliasing.
The left panel shows each mean ``log(1 + power)`` (``ganbench.spectra``) against spatial
frequency, the right panel each generator's difference to the reals' curve. Reals are read back
by the data set name and side the records hold, and used only when their content fingerprint
matches the one the run's train record stored.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganbench.data import load_dataset
from ganbench.errors import UserError
from ganbench.leaderboards.figures import DPI, FigureFile, file_name
from ganbench.leaderboards.sources import run_file
from ganbench.spectra import azimuthal_average, ring_frequencies
from ganbench.store import atomic_write_bytes, read_npz

MAX_IMAGES = 500
FAKE_SET = "fresh"
REAL = "real"
CSV_NAME = "spectra.csv"
CSV_COLUMNS = ["dataset", "preset", "side", "generator", "images", "frequency", "log_power"]
Y_LABEL = "mean log(1 + power), pixels 0..255"


@dataclass(frozen=True)
class StoredFakes:
    """One generator's stored fakes (lowest seed) of a data set and preset, with the data fingerprint it trained on."""

    generator: str
    dataset: str
    preset: str
    seed: int
    path: Path
    data_fingerprint: str | None


@dataclass(frozen=True)
class Curve:
    """Mean log power per whole ring (0 .. 0.5 cycles per pixel) of ``images`` images."""

    label: str
    images: int
    log_power: np.ndarray


def _unit(record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record.get(name) for name in ("generator", "dataset", "preset", "seed"))


def stored_fakes(records: list[dict[str, Any]], run_dirs: Sequence[Path]) -> list[StoredFakes]:
    """Each (generator, data set, preset)'s fakes file of its lowest seed whose sample record is ok and whose file
    a run folder holds."""
    trains = [r for r in records if r.get("kind") == "train" and r.get("status") == "ok"]
    fingerprints = {_unit(r): (r.get("info") or {}).get("data") for r in trains}
    found: dict[tuple[str, str, str], StoredFakes] = {}
    for record in records:
        if record.get("kind") != "sample" or record.get("status") != "ok":
            continue
        if (path := run_file(run_dirs, (record.get("info") or {}).get("fakes"), ".npz")) is None:
            continue
        ident = (str(record["generator"]), str(record["dataset"]), str(record["preset"]))
        seed = int(record.get("seed") or 0)
        if ident not in found or seed < found[ident].seed:
            found[ident] = StoredFakes(*ident, seed, path, fingerprints.get(_unit(record)))
    return [found[k] for k in sorted(found)]


def mean_curve(label: str, images: torch.Tensor) -> Curve:
    """The mean azimuthal average of the first ``MAX_IMAGES`` images, cut at the last whole ring."""
    images = images[:MAX_IMAGES]
    rings = len(ring_frequencies(images.shape[-1]))
    return Curve(label, len(images), azimuthal_average(images).mean(axis=0)[:rings])


def fake_images(fakes: StoredFakes) -> torch.Tensor | None:
    """The fresh fakes as uint8 ``N,C,H,W`` with square images, or None (points, or a file unreadable now)."""
    arrays = read_npz(fakes.path)
    images = None if arrays is None else arrays.get(FAKE_SET)
    if images is None or images.ndim != 4 or images.dtype != np.uint8 or images.shape[-1] != images.shape[-2]:
        return None
    return torch.from_numpy(images)


def real_curve(dataset: str, side: int, fingerprints: set[str]) -> tuple[Curve | None, str]:
    """The real test split's curve and a note; None (and why) where the data set cannot be read back as the run
    saw it."""
    try:
        data = load_dataset(dataset, side)
    except (UserError, OSError, ValueError) as exc:
        return None, f"real test split of {dataset} not readable here ({exc})"
    if data.kind != "image" or data.resolution != side:
        return None, f"real test split of {dataset} has no {side}-px images"
    if fingerprints and fingerprints != {data.fingerprint}:
        return None, (f"real images of {dataset} differ from those the run trained on (fingerprint {data.fingerprint}, "
                      f"run {', '.join(sorted(fingerprints))})")
    checked = "fingerprint checked" if fingerprints else "no fingerprint recorded, so not checked"
    return mean_curve(REAL, data.x_test), f"reals: {dataset} test split, {checked}"


def spectra_frame(dataset: str, preset: str, side: int, curves: list[Curve]) -> pd.DataFrame:
    frequencies = ring_frequencies(side)
    return pd.DataFrame([{"dataset": dataset, "preset": preset, "side": side, "generator": c.label, "images": c.images,
                          "frequency": f, "log_power": p} for c in curves for f, p in zip(frequencies, c.log_power)],
                        columns=CSV_COLUMNS)


def draw(dataset: str, preset: str, side: int, curves: list[Curve], real: Curve | None, note: str) -> Figure:
    """Left: every curve; right: each generator's curve minus the reals' (or a note where there are no reals)."""
    frequencies = ring_frequencies(side)
    figure = Figure(figsize=(9.6, 3.8), layout="tight")
    absolute, difference = figure.subplots(1, 2)
    if real is not None:
        absolute.plot(frequencies, real.log_power, "k-", lw=2, label=f"real (n={real.images})")
        difference.axhline(0.0, color="k", lw=1.2, label="real")
    for index, curve in enumerate(curves):
        color = f"C{index % 10}"
        absolute.plot(frequencies, curve.log_power, "o-", ms=3, lw=1.2, color=color,
                      label=f"{curve.label} (n={curve.images})")
        if real is not None:
            difference.plot(frequencies, curve.log_power - real.log_power, "o-", ms=3, lw=1.2, color=color,
                            label=curve.label)
    absolute.set_ylabel(Y_LABEL)
    difference.set_ylabel("fake minus real")
    if real is None:
        difference.text(0.5, 0.5, note, ha="center", va="center", fontsize=8, wrap=True,
                        transform=difference.transAxes)
    for ax in (absolute, difference):
        ax.set_xlabel("spatial frequency (cycles/pixel)")
        ax.set_xlim(0, 0.5)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    figure.suptitle(f"Azimuthally averaged power spectra · {dataset} / {preset} · {side} px", fontsize=10)
    FigureCanvasAgg(figure)
    return figure


def spectra_figures(records: list[dict[str, Any]], run_dirs: Sequence[Path], site: Path) -> list[FigureFile]:
    """One figure per (data set, preset, side) of the generators whose fresh fakes are stored, and ``spectra.csv``
    (data set, preset, side, generator or ``real``, images, frequency, log power) beside them."""
    groups: dict[tuple[str, str, int], list[tuple[StoredFakes, torch.Tensor]]] = {}
    for fakes in stored_fakes(records, run_dirs):
        if (images := fake_images(fakes)) is not None:
            groups.setdefault((fakes.dataset, fakes.preset, images.shape[-1]), []).append((fakes, images))
    files, frames = [], []
    for (dataset, preset, side), members in sorted(groups.items()):
        fingerprints = {f.data_fingerprint for f, _ in members if f.data_fingerprint}
        real, note = real_curve(dataset, side, fingerprints)
        if real is None:
            sys.stderr.write(f"warning: spectra figure of {dataset} / {preset} without reals: {note}\n")
        curves = [mean_curve(f.generator, images) for f, images in members]
        frames.append(spectra_frame(dataset, preset, side, ([real] if real else []) + curves))
        name = file_name("spectra", dataset, preset, side)
        draw(dataset, preset, side, curves, real, note).savefig(site / name, dpi=DPI)
        files.append(FigureFile(name, f"Power spectra · {dataset} / {preset} · {side} px",
                                f"mean azimuthally averaged log power spectrum of each generator's fresh fakes "
                                f"and their difference to the reals' ({note})"))
    if frames:
        buffer = io.StringIO()
        pd.concat(frames, ignore_index=True).to_csv(buffer, index=False, float_format="%.9g")
        atomic_write_bytes(site / CSV_NAME, buffer.getvalue().encode())
    return files
