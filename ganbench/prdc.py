"""Precision, recall, density and coverage from k-nearest-neighbour balls, exact at any sample count.

* Precision and recall: Kynkaanniemi et al., "Improved Precision and Recall Metric for Assessing
  Generative Models", NeurIPS 2019.
* Density and coverage: Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML 2020.

A sample's ball has its k-NN radius: the (k+1)-th smallest distance of its row, its own (zero)
included, as in the authors' code; a point lies in the ball when its distance is strictly smaller.

Every pair of samples is screened in float32 square blocks (matrix products; memory flat in N),
which also bound every radius. Every decision the screen cannot settle (a pair whose screened
distance lies within the error bounds of a screened radius) is taken on float64 distances summed
from coordinate differences, against that ball's exact radius. So the four numbers are those of
float64 arithmetic on the features given, whatever the BLAS, the device or the block size. The
bound is Higham's for a dot product in floating point (Higham, "Accuracy and Stability of
Numerical Algorithms", SIAM 2002, section 3.1), doubled.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ganbench.metrics import ArrayLike, check_features

PRDC_BLOCK = 4096  # side of the square blocks of distances (64 MiB of float32)
SPARE_NEIGHBOURS = 4  # screened neighbours kept beyond the k + 1 that give a radius
EXACT_CHUNK = 1 << 22  # float64 coordinate differences held at once by the exact distances (32 MiB)
UNIT_ROUNDOFF = 2.0**-24  # float32


def screen_tolerance(dim: int) -> float:
    """``beta``: a block distance of two centred rows ``x``, ``y`` is within ``beta (|x|^2 + |y|^2)`` of
    their exact distance.

    The float32 dot product of ``dim`` terms is off by at most ``dim u |x| |y|`` whatever its order of
    summation (u = 2^-24); rounding the centred rows, their norms and the two sums adds a few
    ``u (|x|^2 + |y|^2)``; and ``2 |x| |y| <= |x|^2 + |y|^2``. ``beta`` is twice that bound.
    """
    return 2.0 * (dim + 16) * UNIT_ROUNDOFF


@functools.cache
def cpu_vendor() -> str:
    """The CPU's vendor string (``GenuineIntel``, ``AuthenticAMD``; empty where the system does not say)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("vendor_id")), "")
    except OSError:
        return ""


def cpu_products_library() -> str:
    """Which library multiplies the float32 blocks on the CPU: ``torch`` (MKL) on Intel processors,
    ``numpy`` (OpenBLAS in numpy's wheels) elsewhere.

    Each was the faster of the two on its vendor's processor in ``benchmarks/prdc.py`` (50k x 2048 on
    two cores): on an Intel Xeon (Sapphire Rapids) MKL took 100 s against 132 s for OpenBLAS; on an
    AMD processor OpenBLAS was about 12% faster. The results do not depend on the choice.
    """
    return "torch" if cpu_vendor() == "GenuineIntel" and torch.backends.mkl.is_available() else "numpy"


@dataclass
class PrdcFeatures:
    """One feature set as PRDC reads it: the rows given (for exact distances), the rows centred on the
    reals' mean and rounded to float32 (for the blocks), and the centred rows' squared norms (float64
    for the error bounds, float32 for the blocks)."""

    original: torch.Tensor
    centred: torch.Tensor
    norms: torch.Tensor
    norms32: torch.Tensor

    @classmethod
    def centred_on(cls, x: torch.Tensor, mean: torch.Tensor, block: int) -> PrdcFeatures:
        centred = torch.empty(x.shape, dtype=torch.float32, device=mean.device)
        for start in range(0, len(x), block):
            centred[start : start + block] = x[start : start + block].to(mean.device, torch.float64) - mean
        norms = torch.cat([part.double().pow_(2).sum(1) for part in centred.split(block)])
        return cls(x.to(mean.device), centred, norms, norms.float())

    def __len__(self) -> int:
        return len(self.centred)


def exact_squared_distances(a: torch.Tensor, b: torch.Tensor, rows: torch.Tensor,
                            columns: torch.Tensor) -> torch.Tensor:
    """``|a[rows[t]] - b[columns[t]]|^2`` for every ``t``, summed from coordinate differences in float64."""
    out = torch.empty(len(rows), dtype=torch.float64, device=a.device)
    step = max(1, EXACT_CHUNK // max(1, a.shape[1]))
    for start in range(0, len(rows), step):
        part = slice(start, start + step)
        difference = a[rows[part]].to(torch.float64) - b[columns[part]].to(torch.float64)
        out[part] = difference.pow_(2).sum(1)
    return out


class DistanceBlocks:
    """Screened squared distances ``block x block`` at a time, with two blocks of comparisons, all
    reused block after block (a fresh block of this size costs the page faults of a new allocation).

    On the CPU the products go through the library of :func:`cpu_products_library` (numpy's with as
    many threads as torch uses, ``threadpoolctl``); elsewhere through torch.
    """

    def __init__(self, block: int, device: torch.device) -> None:
        self.block = block
        self.distances = torch.empty(block * block, device=device)
        self.flags = torch.empty((2, block * block), dtype=torch.bool, device=device)
        self.numpy_products = device.type == "cpu" and cpu_products_library() == "numpy"

    def squared_distances(self, x: PrdcFeatures, rows: slice, y: PrdcFeatures, columns: slice) -> torch.Tensor:
        """``|x|^2 - 2 x.y + |y|^2`` in float32 for ``x.centred[rows]`` against ``y.centred[columns]``."""
        a, b = x.centred[rows], y.centred[columns]
        d2 = self.distances[: len(a) * len(b)].view(len(a), len(b))
        if self.numpy_products:
            np.matmul(a.numpy(), b.numpy().T, out=d2.numpy())
            torch.add(x.norms32[rows, None], d2, alpha=-2, out=d2)
            return d2.add_(y.norms32[None, columns])
        torch.add(x.norms32[rows, None], y.norms32[None, columns], out=d2)
        return d2.addmm_(a, b.T, alpha=-2)

    def below(self, d2: torch.Tensor, thresholds: torch.Tensor, slot: int = 0) -> torch.Tensor:
        """``d2 < thresholds`` (broadcast) in comparison block ``slot``."""
        return torch.lt(d2, thresholds, out=self.flags[slot, : d2.numel()].view(d2.shape))


def _outward(low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 bounds as float32, each rounded away from the interval's inside (so the interval only widens)."""
    low32, high32 = low.float(), high.float()
    return (torch.nextafter(low32, torch.full_like(low32, -math.inf)),
            torch.nextafter(high32, torch.full_like(high32, math.inf)))


# ----------------------------------------------------------------------------- k-NN radii


def _merge_smallest(values: torch.Tensor, indices: torch.Tensor, d2: torch.Tensor,
                    offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's ``values.shape[1]`` smallest screened distances (and their column indices) among those
    kept and that row of ``d2``, whose columns start at ``offset``."""
    count = values.shape[1]
    top = d2.topk(min(count, d2.shape[1]), dim=1, largest=False)
    candidates = torch.cat([values, top.values], 1)
    best = candidates.topk(count, dim=1, largest=False)
    return best.values, torch.cat([indices, top.indices + offset], 1).gather(1, best.indices)


def _merge_columns(values: torch.Tensor, indices: torch.Tensor, d2: torch.Tensor, offset: int,
                   blocks: DistanceBlocks) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_merge_smallest` for the columns of ``d2`` (``values`` has one row per column; the rows of
    ``d2`` start at ``offset``).

    Only distances below a column's largest kept one can enter it; once a column has seen a block of
    rows those are a few per block, so they are gathered instead of transposing the block and
    selecting over every row.
    """
    count = values.shape[1]
    if not torch.isfinite(values[:, -1]).all():
        return _merge_smallest(values, indices, d2.T.contiguous(), offset)
    rows, columns = blocks.below(d2, values[:, -1][None, :]).nonzero(as_tuple=True)
    if len(columns) == 0:
        return values, indices
    order = torch.argsort(columns, stable=True)
    rows, columns = rows[order], columns[order]
    slot = torch.arange(len(columns), device=columns.device) - torch.searchsorted(columns, columns, side="left")
    width = int(slot.max()) + 1
    padded = torch.full((len(values), width), math.inf, dtype=values.dtype, device=values.device)
    padded_rows = torch.full((len(values), width), -1, dtype=indices.dtype, device=indices.device)
    padded[columns, slot] = d2[rows, columns]
    padded_rows[columns, slot] = rows + offset
    touched = torch.unique_consecutive(columns)
    best = torch.cat([values[touched], padded[touched]], 1).topk(count, dim=1, largest=False)
    merged_values, merged_indices = values.clone(), indices.clone()
    merged_values[touched] = best.values
    merged_indices[touched] = torch.cat([indices[touched], padded_rows[touched]], 1).gather(1, best.indices)
    return merged_values, merged_indices


def _screened_neighbours(x: PrdcFeatures, count: int, blocks: DistanceBlocks) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's ``count`` smallest screened distances and their row indices. Each pair is screened once:
    the block of rows ``i`` and columns ``j >= i`` serves both its rows and its columns."""
    n = len(x)
    values = torch.full((n, count), math.inf, dtype=torch.float32, device=x.centred.device)
    indices = torch.full((n, count), -1, dtype=torch.int64, device=x.centred.device)
    block = blocks.block
    for i in range(0, n, block):
        rows = slice(i, i + block)
        for j in range(i, n, block):
            cols = slice(j, j + block)
            d2 = blocks.squared_distances(x, rows, x, cols)
            values[rows], indices[rows] = _merge_smallest(values[rows], indices[rows], d2, j)
            if j != i:
                values[cols], indices[cols] = _merge_columns(values[cols], indices[cols], d2, i, blocks)
    return values, indices


class Radii:
    """Each row's k-NN radius (squared): the (k+1)-th smallest distance of its row, itself included.

    The screen bounds every radius: the (k+1)-th smallest screened distance of the row is within the
    row's ``tolerance`` of it. The exact radius (float64) of a row is computed when asked for, from
    the exact distances of the k + 1 + :data:`SPARE_NEIGHBOURS` nearest rows that the screen kept,
    unless a row left out could still be as near (its screened distance within the bound of the
    radius); that row's radius is then taken over all rows.
    """

    def __init__(self, x: PrdcFeatures, k: int, blocks: DistanceBlocks) -> None:
        n = len(x)
        if n <= k:
            raise ValueError(f"k={k} nearest neighbours need more than {k} samples, got {n}")
        self.x, self.k = x, k
        self.values, self.indices = _screened_neighbours(x, min(k + 1 + SPARE_NEIGHBOURS, n), blocks)
        self.screened = self.values[:, k].double()
        self.beta = screen_tolerance(x.centred.shape[1])
        self.tolerance = self.beta * (x.norms + x.norms.max())
        self.exact = torch.full((n,), math.nan, dtype=torch.float64, device=self.values.device)

    def thresholds(self, balls: slice, others: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 ``(low, high)`` for ``balls``: a screened distance to a row of the other set (whose
        squared norms are ``others``) below ``low`` is surely inside the ball, at or above ``high``
        surely outside; in between only exact distances tell."""
        margin = self.tolerance[balls] + self.beta * (self.x.norms[balls] + others.max())
        return _outward(self.screened[balls] - margin, self.screened[balls] + margin)

    def exact_at(self, rows: torch.Tensor) -> torch.Tensor:
        """The exact radii of ``rows`` (each computed once)."""
        missing = torch.unique(rows[torch.isnan(self.exact[rows])])
        if len(missing):
            self.exact[missing] = self._exact(missing)
        return self.exact[rows]

    def _exact(self, rows: torch.Tensor) -> torch.Tensor:
        n, count = len(self.x), self.values.shape[1]
        kept = exact_squared_distances(self.x.original, self.x.original, rows.repeat_interleave(count),
                                       self.indices[rows].flatten())
        radii = kept.view(len(rows), count).kthvalue(self.k + 1, dim=1).values
        if count == n:
            return radii
        nearest_left_out = (self.values[rows, -1].double() - self.tolerance[rows]).clamp_(min=0)
        columns = torch.arange(n, device=rows.device)
        for at in (radii > nearest_left_out).nonzero().flatten().tolist():
            row = torch.full_like(columns, int(rows[at]))
            every = exact_squared_distances(self.x.original, self.x.original, row, columns)
            radii[at] = every.kthvalue(self.k + 1).values
        return radii


# ----------------------------------------------------------------------------- balls


@dataclass
class ManifoldHits:
    """Over every real-fake pair: the number of real balls each fake lies in (precision counts the
    fakes in some ball, density all the pairs), whether each real ball holds some fake (coverage), and
    whether each real lies in some fake ball (recall). Precision and density average over the fakes,
    recall and coverage over the reals: :attr:`per_fake` and :attr:`per_real` give each sample's share."""

    fake_hits: torch.Tensor
    covered: torch.Tensor
    recalled: torch.Tensor
    k: int

    @property
    def per_fake(self) -> dict[str, np.ndarray]:
        """Each fake's precision (inside some real ball) and density (real balls it lies in, over k)."""
        hits = self.fake_hits.cpu().numpy()
        return {"precision": (hits > 0).astype(np.float64), "density": hits / self.k}

    @property
    def per_real(self) -> dict[str, np.ndarray]:
        """Each real's recall (inside some fake ball) and coverage (its ball holds some fake)."""
        return {"recall": self.recalled.cpu().numpy().astype(np.float64),
                "coverage": self.covered.cpu().numpy().astype(np.float64)}

    def scores(self) -> dict[str, float]:
        """Precision, recall, density and coverage: each the mean of its samples' shares."""
        hits = self.fake_hits
        return {"precision": (hits > 0).double().mean().item(), "recall": self.recalled.double().mean().item(),
                "density": int(hits.sum()) / (self.k * len(hits)), "coverage": self.covered.double().mean().item()}


def _band_pairs(inside: torch.Tensor, maybe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs that the screen neither puts inside nor outside: ``maybe`` and not ``inside``."""
    return torch.logical_xor(maybe, inside, out=maybe).nonzero(as_tuple=True)


def manifold_hits(real: PrdcFeatures, real_radii: Radii, fake: PrdcFeatures, fake_radii: Radii,
                  blocks: DistanceBlocks) -> ManifoldHits:
    """:class:`ManifoldHits`, block by block: a pair is inside a ball when its screened distance is below
    the screened radius by more than both their bounds, outside when above it by as much, and otherwise
    by its exact distance and the exact radius."""
    device = real.centred.device
    fake_hits = torch.zeros(len(fake), dtype=torch.int64, device=device)
    covered = torch.zeros(len(real), dtype=torch.bool, device=device)
    recalled = torch.zeros(len(real), dtype=torch.bool, device=device)
    block = blocks.block
    for i in range(0, len(real), block):
        rows = slice(i, i + block)
        for j in range(0, len(fake), block):
            cols = slice(j, j + block)
            d2 = blocks.squared_distances(real, rows, fake, cols)
            low, high = real_radii.thresholds(rows, fake.norms[cols])
            inside, maybe = blocks.below(d2, low[:, None]), blocks.below(d2, high[:, None], slot=1)
            hits = int(torch.count_nonzero(inside))
            fake_hits[cols] += inside.sum(0)
            covered[rows] |= inside.any(1)
            if int(torch.count_nonzero(maybe)) > hits:
                band_rows, band_cols = _band_pairs(inside, maybe)
                band_rows, band_cols = band_rows + i, band_cols + j
                exact = exact_squared_distances(real.original, fake.original, band_rows, band_cols)
                within = exact < real_radii.exact_at(band_rows)
                fake_hits.index_add_(0, band_cols[within], torch.ones_like(band_cols[within]))
                covered[band_rows[within]] = True

            low, high = fake_radii.thresholds(cols, real.norms[rows])
            inside, maybe = blocks.below(d2, low[None, :]), blocks.below(d2, high[None, :], slot=1)
            recalled[rows] |= inside.any(1)
            open_rows = (maybe.any(1) & ~recalled[rows]).nonzero().flatten()
            if len(open_rows):
                band_rows, band_cols = _band_pairs(inside[open_rows], maybe[open_rows])
                band_rows, band_cols = open_rows[band_rows] + i, band_cols + j
                exact = exact_squared_distances(real.original, fake.original, band_rows, band_cols)
                recalled[band_rows[exact < fake_radii.exact_at(band_cols)]] = True
    return ManifoldHits(fake_hits, covered, recalled, real_radii.k)


# ----------------------------------------------------------------------------- the metric


def _as_tensor(x: ArrayLike) -> torch.Tensor:
    return x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))


@contextlib.contextmanager
def _full_float32_products() -> Iterator[None]:
    """Full float32 matrix products inside the block: no TF32 on CUDA, no bf16 in oneDNN on the CPU."""
    precision, tf32 = torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.backends.cuda.matmul.allow_tf32 = tf32


def prdc_hits(real: ArrayLike, fake: ArrayLike, k: int = 5) -> ManifoldHits:
    """Every sample's share of precision, recall (k-NN manifolds), density and coverage of ``fake`` against
    ``real``, on the device of the inputs (numpy: the CPU), exactly as float64 arithmetic decides them
    (module docstring).

    Memory: the inputs, their float32 centred copies and a few ``PRDC_BLOCK`` square blocks, whatever
    the sample counts.
    """
    check_features(real, fake)
    real_t, fake_t = _as_tensor(real), _as_tensor(fake)
    if not (torch.isfinite(real_t).all() and torch.isfinite(fake_t).all()):
        raise ValueError("features contain NaN or infinity")
    block = PRDC_BLOCK
    with _full_float32_products(), threadpool_limits(torch.get_num_threads(), user_api="blas"):
        mean = sum(part.to(torch.float64).sum(0) for part in real_t.split(block)) / len(real_t)
        r, f = PrdcFeatures.centred_on(real_t, mean, block), PrdcFeatures.centred_on(fake_t, mean, block)
        blocks = DistanceBlocks(block, mean.device)
        return manifold_hits(r, Radii(r, k, blocks), f, Radii(f, k, blocks), blocks)


def prdc_from_features(real: ArrayLike, fake: ArrayLike, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (:func:`prdc_hits`)."""
    return prdc_hits(real, fake, k).scores()
