"""Speed of the quality metrics on Inception-sized features (2048-d), run as a script.

* FID from 10k x 2048 features: the Cholesky + symmetric eigenvalue route of
  :func:`ganbench.metrics.frechet_distance` against ``scipy.linalg.sqrtm(sigma1 @ sigma2)`` (the
  pytorch-fid route) on the same covariance matrices; reports both times, the speed-up and the
  relative difference of the two values; then FID's bootstrap standard error as ``ganbench metrics``
  computes it (:mod:`ganbench.score_intervals`: 50 resamples of one set, the other's statistics fixed).
* KID (100 subsets of 1000; Binkowski et al., ICLR 2018) and precision/recall/density/coverage
  (Kynkaanniemi et al., NeurIPS 2019; Naeem et al., ICML 2020) at 10k and 50k samples per set.

Features are synthetic (correlated Gaussians with a decaying spectrum), which does not change the
cost. Usage::

    python benchmarks/metrics.py [--sizes 10000,50000] [--dim 2048] [--skip prdc] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from scipy.linalg import sqrtm

from ganbench.metrics import frechet_distance, gaussian_statistics, kid_from_features
from ganbench.prdc import prdc_from_features
from ganbench.score_intervals import BootstrapSettings, fid_standard_error


def synthetic_features(n: int, dim: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """``n x dim`` float32 features with a covariance of decaying spectrum (like pooled CNN features)."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(np.random.default_rng(1234).normal(size=(dim, dim)))
    scales = 1.0 / np.sqrt(1.0 + np.arange(dim))
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 4096):
        z = rng.normal(size=(min(4096, n - start), dim)) * scales
        out[start : start + len(z)] = z @ basis.T + shift
    return out


def fid_sqrtm(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """FID with the general matrix square root of ``s1 @ s2`` (the pytorch-fid formula)."""
    covmean = sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def bench_fid(n: int, dim: int) -> dict[str, Any]:
    real, fake = synthetic_features(n, dim, 0), synthetic_features(n, dim, 1, shift=0.05)
    (mu1, s1), stats_seconds = timed(lambda: gaussian_statistics(real))
    mu2, s2 = gaussian_statistics(fake)
    ours, ours_seconds = timed(lambda: frechet_distance(mu1, s1, mu2, s2))
    reference, sqrtm_seconds = timed(lambda: fid_sqrtm(mu1, s1, mu2, s2))
    resamples = BootstrapSettings().se_resamples
    se, bootstrap_seconds = timed(lambda: fid_standard_error(fake, mu1, s1, resamples, seed=0))
    return {"n": n, "dim": dim, "statistics_seconds": stats_seconds, "ours_seconds": ours_seconds,
            "sqrtm_seconds": sqrtm_seconds, "speedup": sqrtm_seconds / ours_seconds, "fid_ours": ours,
            "fid_sqrtm": reference, "relative_difference": abs(ours - reference) / abs(reference),
            "bootstrap_resamples": resamples, "bootstrap_seconds": bootstrap_seconds, "fid_se": se}


def bench_kid_prdc(n: int, dim: int, skip: set[str]) -> dict[str, Any]:
    real, fake = synthetic_features(n, dim, 2), synthetic_features(n, dim, 3)
    row: dict[str, Any] = {"n": n, "dim": dim}
    if "kid" not in skip:
        (kid, kid_std), row["kid_seconds"] = timed(lambda: kid_from_features(real, fake))
        row.update(kid=kid, kid_std=kid_std)
    if "prdc" not in skip:
        prdc, row["prdc_seconds"] = timed(lambda: prdc_from_features(real, fake, k=5))
        row.update(prdc)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000", help="comma list of samples per set for KID and PRDC")
    parser.add_argument("--fid-n", type=int, default=10000, help="samples per set for the FID comparison")
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension")
    parser.add_argument("--skip", default="", help="comma list of fid, kid, prdc to leave out")
    parser.add_argument("--out", default=None, help="write the results as JSON to this file")
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    console = Console()
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                           "numpy": np.__version__, "platform": platform.platform()}}
    if "fid" not in skip:
        fid = results["fid"] = bench_fid(args.fid_n, args.dim)
        table = Table(title=f"FID, {fid['n']} x {fid['dim']} features per set")
        for column in ("statistics s", "ours s", "sqrtm s", "speed-up", "relative difference",
                       f"s.e. s ({fid['bootstrap_resamples']} resamples)", "FID ± s.e."):
            table.add_column(column, justify="right")
        table.add_row(f"{fid['statistics_seconds']:.2f}", f"{fid['ours_seconds']:.2f}", f"{fid['sqrtm_seconds']:.2f}",
                      f"{fid['speedup']:.1f}x", f"{fid['relative_difference']:.1e}", f"{fid['bootstrap_seconds']:.1f}",
                      f"{fid['fid_ours']:.4f} ± {fid['fid_se']:.4f}")
        console.print(table)
    if not {"kid", "prdc"} <= skip:
        rows = results["kid_prdc"] = []
        table = Table(title=f"KID (100 x 1000) and PRDC (k=5), {args.dim}-d features")
        for column in ("n per set", "KID s", "PRDC s"):
            table.add_column(column, justify="right")
        for n in (int(s) for s in args.sizes.split(",")):
            row = bench_kid_prdc(n, args.dim, skip)
            rows.append(row)
            table.add_row(str(n), f"{row.get('kid_seconds', float('nan')):.1f}",
                          f"{row.get('prdc_seconds', float('nan')):.1f}")
            console.print(f"n={n}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, float)))
        console.print(table)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
        console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
