"""Time of precision/recall/density/coverage (k = 5) at 10k and 50k samples per set, run as a script.

Precision and recall: Kynkaanniemi et al., NeurIPS 2019; density and coverage: Naeem et al.,
ICML 2020. :func:`ganbench.prdc.prdc_from_features` screens the pairwise distances in float32
square blocks (each within-set pair once) and takes in float64 every decision the screen leaves open;
:func:`previous_prdc` below is the implementation it replaced (float64, ``1024 x N`` row chunks,
a full ``np.partition`` of every row), kept here as the baseline. At the sizes of
``--previous-at`` both run on the same features, one after the other in the same process, so their
ratio means something on a shared machine, and the table says whether their four numbers agree.

``--products numpy,torch`` times the blocks with each library multiplying them on the CPU (the
default, ``auto``, is :func:`ganbench.prdc.cpu_products_library`'s choice for this processor).

Features are synthetic Gaussians with a decaying spectrum (2048-d by default, the size of
Inception's pool features; the offline default extractor has 128), which does not change the cost.
Usage::

    python benchmarks/prdc.py [--sizes 10000,50000] [--dims 2048] [--previous-at 10000] [--products auto]
                              [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from typing import Any
from unittest import mock

import numpy as np
import torch

from ganbench import prdc
from ganbench.prdc import prdc_from_features

CHUNK = 1024


def previous_prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """The float64 row-chunk implementation that :func:`prdc_from_features` replaced."""
    r, f = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)

    def distances(x: np.ndarray, y: np.ndarray, x_sq: np.ndarray, y_sq: np.ndarray) -> np.ndarray:
        d2 = x_sq[:, None] - 2 * (x @ y.T) + y_sq[None, :]
        return np.sqrt(np.maximum(d2, 0, out=d2), out=d2)

    def radii(x: np.ndarray) -> np.ndarray:
        x_sq = np.einsum("ij,ij->i", x, x)
        out = np.empty(len(x))
        for start in range(0, len(x), CHUNK):
            block = distances(x[start : start + CHUNK], x, x_sq[start : start + CHUNK], x_sq)
            out[start : start + CHUNK] = np.partition(block, k, axis=1)[:, k]
        return out

    real_radii, fake_radii = radii(r), radii(f)
    r_sq, f_sq = np.einsum("ij,ij->i", r, r), np.einsum("ij,ij->i", f, f)
    inside_real = density_hits = 0
    covered = np.zeros(len(r), dtype=bool)
    recalled = np.zeros(len(r), dtype=bool)
    for start in range(0, len(f), CHUNK):
        block = distances(r, f[start : start + CHUNK], r_sq, f_sq[start : start + CHUNK])
        within_real = block < real_radii[:, None]
        inside_real += int(within_real.any(axis=0).sum())
        density_hits += int(within_real.sum())
        covered |= block.min(axis=1) < real_radii
        recalled |= (block < fake_radii[None, start : start + CHUNK]).any(axis=1)
    return {"precision": inside_real / len(f), "recall": float(recalled.mean()),
            "density": density_hits / (k * len(f)), "coverage": float(covered.mean())}


def synthetic_features(n: int, dim: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """``n x dim`` float32 Gaussian features whose variances decay as 1 / (1 + i)."""
    rng = np.random.default_rng(seed)
    spectrum = (scale / np.sqrt(1.0 + np.arange(dim))).astype(np.float32)
    return rng.standard_normal((n, dim), dtype=np.float32) * spectrum + np.float32(shift)


def timed(name: str, fn: Any, real: np.ndarray, fake: np.ndarray) -> dict[str, Any]:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    values = fn(real, fake)
    return {"implementation": name, "seconds": time.perf_counter() - started, "load_before": load, **values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000", help="comma list of samples per set")
    parser.add_argument("--dims", default="2048", help="comma list of feature dimensions")
    parser.add_argument("--previous-at", default="10000",
                        help="comma list of sizes where the previous implementation runs too ('' for none)")
    parser.add_argument("--products", default="auto",
                        help="comma list of CPU libraries for the products: auto, numpy, torch")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", default=None, help="write the results as JSON to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    previous_at = {int(s) for s in args.previous_at.split(",") if s}
    libraries = [prdc.cpu_products_library() if name == "auto" else name for name in args.products.split(",")]
    if not set(libraries) <= {"numpy", "torch"}:
        parser.error(f"--products takes auto, numpy or torch, got {args.products!r}")
    rows = []
    vendor = prdc.cpu_vendor() or "unknown vendor"
    print(f"CPU products by default through {prdc.cpu_products_library()} ({vendor})")
    print("| n per set | dim | products | blocks (s) | previous (s) | speed-up | precision | recall | density | coverage | "
          "same numbers |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for dim in (int(s) for s in args.dims.split(",")):
        for n in (int(s) for s in args.sizes.split(",")):
            real, fake = synthetic_features(n, dim, 0), synthetic_features(n, dim, 1, shift=0.02, scale=1.05)
            old = timed("previous", previous_prdc, real, fake) if n in previous_at else None
            for library in libraries:
                with mock.patch.object(prdc, "cpu_products_library", lambda library=library: library):
                    new = timed("blocks", prdc_from_features, real, fake)
                rows.append({"n": n, "dim": dim, "products": library, "blocks": new, "previous": old})
                names = ("precision", "recall", "density", "coverage")
                previous = f"{old['seconds']:.1f}" if old else "-"
                ratio = f"{old['seconds'] / new['seconds']:.1f}x" if old else "-"
                same = ("yes" if all(new[m] == old[m] for m in names) else "no") if old else "-"
                print(f"| {n:,} | {dim} | {library} | {new['seconds']:.1f} | {previous} | {ratio} | "
                      + " | ".join(f"{new[m]:.4f}" for m in names) + f" | {same} |", flush=True)
                if old and same == "no":
                    print("  previous: " + ", ".join(f"{m} {old[m]:.6f}" for m in names), flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    machine = {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "numpy": np.__version__, "platform": platform.platform(), "peak_rss_mib": round(peak_mib)}
    print(f"\n{machine['cpus']} CPUs, {machine['torch_threads']} torch threads, torch {torch.__version__}; "
          f"peak RSS {peak_mib:,.0f} MiB; load average at each start in the JSON")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"benchmark": "prdc", "machine": machine, "rows": rows}, f, indent=1)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
