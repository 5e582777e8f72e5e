"""Bootstrap intervals of the scores of one set of samples against a reference (``ganbench metrics``).

Efron & Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall 1993: 25 to 200
resamples estimate a standard error (section 6.4); percentile intervals need about 1,000
(section 19.3). Every interval here is conditional on the reference: it says how much a score
moves with the draw of the samples it averages over, the rest held as computed on the full sets.

* FID: the standard error of FID over resamples (with replacement) of the scored set's features,
  the reference's mean and covariance fixed (as they are when the reference is a statistics
  file, and as they are shared when two generators are compared on one reference). FID's bias
  grows as the count of distinct samples falls, and a resample repeats about a third of its
  rows, so the resamples' percentiles sit above FID while their spread still estimates its
  standard error: the interval is FID +/- z * s.e. (normal), cut at 0.
* Precision and density average over the scored samples, recall and coverage over the
  reference's: each has the percentile interval of its average over resamples of its own
  samples, with every k-NN ball (the radii of both full sets) as computed on the full sets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import torch

from ganbench.metrics import ArrayLike, covariance_factor, trace_sqrt_of_middle
from ganbench.prdc import ManifoldHits
from ganbench.runtime import derive_seed

#: index draws held at once by the percentile bootstrap (128 MiB of int64)
DRAWS_AT_ONCE = 1 << 24
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BootstrapSettings:
    """How many resamples give a standard error (FID's) and a percentile interval (PRDC's), at which level."""

    se_resamples: int = 50
    percentile_resamples: int = 1000
    level: float = 0.95

    @property
    def z(self) -> float:
        """The normal quantile of a two-sided interval at :attr:`level`."""
        return NormalDist().inv_cdf(0.5 + self.level / 2)

    def protocol(self, scored: str = "input 1's", reference: str = "input 2's") -> str:
        """The method as a result's protocol states it, naming (possessive) the scored set and the reference."""
        return (f"{self.level:.0%}, conditional on the reference: FID +/- {self.z:.2f} bootstrap s.e. over "
                f"{self.se_resamples} resamples of {scored} features ({reference} statistics fixed); precision, "
                f"density: percentile over {self.percentile_resamples} resamples of {scored} images, recall, "
                f"coverage: of {reference}, the k-NN balls of the full sets fixed")


class FidResampler:
    """FID of a weighted copy of ``features`` (weights = how often each row is drawn) against fixed reference
    statistics, in float64 on the features' device.

    With ``sigma_ref = F F^T``, the trace term of every resample is that of ``F^T S F`` for the resample's
    covariance ``S``, which is the weighted covariance of ``features @ F``: one product per resample, then
    one symmetric eigen-decomposition (:func:`ganbench.metrics.trace_sqrt_product`). Memory: two float64
    copies of the features.
    """

    def __init__(self, features: ArrayLike, mu_ref: ArrayLike, sigma_ref: ArrayLike) -> None:
        self.x = torch.as_tensor(features).detach().to(torch.float64)
        device = self.x.device
        self.mu_ref = torch.as_tensor(np.asarray(mu_ref, dtype=np.float64)).to(device)
        sigma = torch.as_tensor(np.asarray(sigma_ref, dtype=np.float64)).to(device)
        self.trace_ref = torch.trace(sigma)
        self.factor = covariance_factor(sigma)
        self.projected = self.x @ self.factor

    def __len__(self) -> int:
        return len(self.x)

    def fid(self, weights: torch.Tensor) -> float:
        """FID of the rows repeated ``weights[i]`` times (non-negative integers summing to at least 2)."""
        weights = weights.to(self.x)
        rows = weights.nonzero().flatten()
        w, n = weights[rows], float(weights.sum())
        mean = (w @ self.x[rows]) / n
        centred = self.x[rows] - mean
        trace = (w @ centred.pow(2).sum(1)) / (n - 1)
        projected = self.projected[rows] - mean @ self.factor
        middle = (projected * w[:, None]).T @ projected / (n - 1)
        diff = mean - self.mu_ref
        return float(diff @ diff + trace + self.trace_ref - 2 * trace_sqrt_of_middle(middle))


def fid_standard_error(features: ArrayLike, mu_ref: ArrayLike, sigma_ref: ArrayLike, resamples: int, seed: int,
                       progress: Progress | None = None) -> float:
    """The bootstrap standard error of FID over ``resamples`` resamples of ``features``, the reference fixed."""
    if resamples < 2:
        raise ValueError(f"a standard error needs at least 2 resamples, got {resamples}")
    resampler = FidResampler(features, mu_ref, sigma_ref)
    n = len(resampler)
    rng = np.random.default_rng(derive_seed(seed, "fid bootstrap"))
    values = []
    for done in range(resamples):
        counts = torch.from_numpy(rng.multinomial(n, np.full(n, 1.0 / n)))
        values.append(resampler.fid(counts))
        if progress is not None:
            progress(done + 1, resamples)
    return float(np.std(values, ddof=1))


def normal_interval(value: float, standard_error: float, z: float, floor: float = 0.0) -> tuple[float, float]:
    """``value +/- z * standard_error``, its low end no lower than ``floor``."""
    return max(floor, value - z * standard_error), value + z * standard_error


def fid_interval(fid: float, features: ArrayLike, mu_ref: ArrayLike, sigma_ref: ArrayLike,
                 settings: BootstrapSettings, seed: int, progress: Progress | None = None) -> dict[str, float]:
    """``fid_se`` (bootstrap standard error over resamples of ``features``, the reference fixed) and the normal
    interval ``fid_ci_low``, ``fid_ci_high`` (cut at 0; a ranking that reads the standard error from the
    interval's width then under-reads it only where FID is within z standard errors of 0)."""
    se = fid_standard_error(features, mu_ref, sigma_ref, settings.se_resamples, seed, progress)
    low, high = normal_interval(fid, se, settings.z)
    return {"fid_se": se, "fid_ci_low": low, "fid_ci_high": high}


def percentile_interval(values: ArrayLike, resamples: int, level: float, seed: int) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values`` (one per sample)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    at_once = max(1, DRAWS_AT_ONCE // n)
    for start in range(0, resamples, at_once):
        draws = rng.integers(0, n, size=(min(at_once, resamples - start), n))
        means[start : start + len(draws)] = values[draws].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def prdc_intervals(hits: ManifoldHits, settings: BootstrapSettings, seed: int) -> dict[str, float]:
    """``{metric}_ci_low`` and ``{metric}_ci_high`` of precision, density (over the fakes) and recall,
    coverage (over the reals)."""
    bounds = {}
    for name, values in {**hits.per_fake, **hits.per_real}.items():
        low, high = percentile_interval(values, settings.percentile_resamples, settings.level,
                                        derive_seed(seed, "prdc bootstrap", name))
        bounds[f"{name}_ci_low"], bounds[f"{name}_ci_high"] = low, high
    return bounds
