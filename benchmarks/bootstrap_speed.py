"""Cost of the detection metrics of one unit, with and without the bootstrap intervals, run as a script.

Each detection unit calls :func:`ganbench.detectors.evaluate.detection_metrics` once; its
stratified bootstrap (1000 resamples of AUC, AP, balanced accuracy and TPR at 1% FPR, scored
together per chunk) is the added cost. The script times the metrics alone (``resamples=0``) and
with the bootstrap at the quick preset's test size (360 real + 360 fake) and at 5000 + 5000, on
continuous scores (every score distinct, the most work) and on scores rounded to 0.01 (ties), and
checks a few resamples against a loop of scikit-learn calls. Usage::

    python benchmarks/bootstrap_speed.py [--sizes 360,5000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.metrics import average_precision_score, roc_auc_score

from ganbench.detectors.evaluate import RESAMPLES, detection_metrics, resampled_statistics


def best_time(function, repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds (the least disturbed by other processes)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def sklearn_loop_seconds(labels: np.ndarray, scores: np.ndarray, resamples: int) -> float:
    """Seconds per resample of the naive route: draw, then call scikit-learn for AUC and AP."""
    rng = np.random.default_rng(0)
    real, fake = scores[labels == 0], scores[labels == 1]
    started = time.perf_counter()
    for _ in range(resamples):
        drawn = np.r_[real[rng.integers(0, len(real), len(real))], fake[rng.integers(0, len(fake), len(fake))]]
        roc_auc_score(labels, drawn)
        average_precision_score(labels, drawn)
    return (time.perf_counter() - started) / resamples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="360,5000", help="images per class, comma separated")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    table = Table(title=f"detection metrics of one unit ({RESAMPLES} bootstrap resamples)")
    for name in ("real + fake", "scores", "metrics alone s", "with bootstrap s", "bootstrap s",
                 "sklearn loop s (estimate)"):
        table.add_column(name, justify="right")
    rng = np.random.default_rng(0)
    for n in (int(v) for v in args.sizes.split(",")):
        labels = np.r_[np.zeros(n), np.ones(n)]
        continuous = rng.normal(labels * 1.2, 1.0)
        for kind, scores in (("distinct", continuous), ("ties (0.01)", np.round(continuous, 2))):
            alone = best_time(lambda: detection_metrics(labels, scores, 0.6, resamples=0), args.repeats)
            full = best_time(lambda: detection_metrics(labels, scores, 0.6, seed=1), args.repeats)
            naive = sklearn_loop_seconds(labels, scores, 20) * RESAMPLES
            table.add_row(f"{n} + {n}", kind, f"{alone:.4f}", f"{full:.4f}", f"{full - alone:.4f}", f"{naive:.2f}")
        real, fake = continuous[:n], continuous[n:]
        draws = rng.integers(0, n, (3, n)), rng.integers(0, n, (3, n))
        fast = resampled_statistics(real, fake, *draws, threshold=0.6)
        for b in range(3):
            drawn = np.r_[real[draws[0][b]], fake[draws[1][b]]]
            assert abs(fast["auc"][b] - roc_auc_score(labels, drawn)) < 1e-12
            assert abs(fast["ap"][b] - average_precision_score(labels, drawn)) < 1e-12
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
