"""How much of a detector's score on native digits comes from pixel values alone.

Real digits hold 17 grey levels (0..16 scaled to 0..255); a generator's outputs, quantized to
uint8, hold all 256. A detector with no parameters that scores the share of a fake's pixels off
the reals' levels needs no knowledge of the generator. This script trains DCGAN at the quick
preset, draws raw fakes (``model.sample``, before the sample unit puts them on the reals'
levels) and the same fakes put on the levels (``ganbench.pixels.snap_to_levels``), and fits the
off-level detector and three built-in detectors on each. Printed: every detector's AUC on raw
and on levelled fakes against 180 real test images.

    PYTHONPATH=. python benchmarks/level_shortcut.py [--out runs/level_shortcut]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from sklearn.metrics import roc_auc_score

from ganbench.context import RunConfig, RunContext
from ganbench.pixels import intensity_levels, snap_to_levels
from ganbench.detectors import DETECTORS
from ganbench.generation import GenerationUnits
from ganbench.presets import get_preset
from ganbench.runner import SuiteRunner


class OffLevels:
    """The share of an image's pixels off the values its real training images use."""

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        self.used = torch.zeros(256, dtype=torch.bool)
        self.used[torch.unique(real).long()] = True

    def score(self, images: torch.Tensor) -> np.ndarray:
        return (~self.used[images.long()]).reshape(len(images), -1).double().mean(1).numpy()


def detector(name: str) -> object:
    if name == "off-levels":
        return OffLevels()
    return DETECTORS.get(name)(seed=0, epochs=4) if name == "small-cnn" else DETECTORS.get(name)()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/level_shortcut"))
    args = parser.parse_args()
    config = RunConfig(suite="dcgan", preset=get_preset("quick"), out=args.out, quiet=True)
    runner = SuiteRunner(config, Console(stderr=True, quiet=True))
    generation: GenerationUnits = runner.generation
    generation.train_generator("dcgan")
    context: RunContext = runner.context
    model = context.trained_model("dcgan")
    levels = intensity_levels(context.data.x_train)
    assert levels is not None, "the digits' reals should be quantized"
    raw_train, raw_test = model.sample(1000, seed=1), model.sample(180, seed=2)
    order = torch.randperm(len(context.data.x_train), generator=torch.Generator().manual_seed(0))
    real_train, real_test = context.data.x_train[order[:1000]], context.data.x_test[:180]
    labels = np.r_[np.zeros(len(real_test)), np.ones(len(raw_test))]
    print(f"reals on {len(levels)} levels; raw fakes on {len(torch.unique(raw_train))}")
    print("| detector | AUC, raw fakes | AUC, fakes on the reals' levels |")
    print("|---|---|---|")
    for name in ("off-levels", "one-class", "spectrum", "small-cnn"):
        cells = []
        for fakes_train, fakes_test in ((raw_train, raw_test),
                                        (snap_to_levels(raw_train, levels), snap_to_levels(raw_test, levels))):
            torch.manual_seed(0)
            fitted = detector(name)
            fitted.fit(real_train, fakes_train)
            scores = np.r_[fitted.score(real_test), fitted.score(fakes_test)]
            cells.append(f"{roc_auc_score(labels, scores):.3f}")
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
