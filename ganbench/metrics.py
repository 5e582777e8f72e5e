"""Generation-quality metrics on feature matrices, class probabilities and 2-D points (float64 inside,
except PRDC's distances: float32 blocks, see :func:`prdc_from_features`).

* FID: Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium", NeurIPS 2017.
* KID: Binkowski et al., "Demystifying MMD GANs", ICLR 2018 (unbiased MMD^2, cubic polynomial
  kernel, averaged over random subsets).
* IS: Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016.
* Precision and recall: Kynkaanniemi et al., "Improved Precision and Recall Metric for Assessing
  Generative Models", NeurIPS 2019.
* Density and coverage: Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML 2020.
* Mode coverage on 2-D mixtures: Srivastava et al., "VEEGAN", NeurIPS 2017; Lin et al.,
  "PacGAN: The power of two samples in generative adversarial networks", NeurIPS 2018.

Each metric is listed in :data:`METRICS` (``ganbench list metrics``) with the record fields it
fills and its paper. Every function accepts numpy arrays or torch tensors. Large matrices are processed in row chunks so
that memory stays at the inputs plus one ``chunk x N`` block; PRDC's pairwise distances in square
blocks, so that its memory does not grow with the sample counts.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from ganbench.registry import Registry

ArrayLike = np.ndarray | torch.Tensor

CHUNK = 1024
PRDC_BLOCK = 4096  # side of PRDC's square blocks of distances (64 MiB of float32)


def _as_float64(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_features(real: ArrayLike, fake: ArrayLike) -> None:
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected two N,D feature matrices of equal D, got {tuple(real.shape)}, {tuple(fake.shape)}")


# ----------------------------------------------------------------------------- FID


def gaussian_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of an ``N,D`` feature matrix, accumulated in float64 row chunks."""
    n = len(features)
    if n < 2:
        raise ValueError("at least two samples are needed for a covariance")
    mean = np.zeros(features.shape[1])
    for start in range(0, n, CHUNK):
        mean += _as_float64(features[start : start + CHUNK]).sum(axis=0)
    mean /= n
    cov = np.zeros((features.shape[1], features.shape[1]))
    for start in range(0, n, CHUNK):
        centred = _as_float64(features[start : start + CHUNK]) - mean
        cov += centred.T @ centred
    return mean, cov / (n - 1)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr sqrtm(sigma1 @ sigma2)`` for symmetric PSD matrices, without a general matrix square root.

    For any factor ``F`` with ``sigma1 = F F^T``, ``F^T sigma2 F`` is symmetric PSD and has the
    eigenvalues of ``sigma2 sigma1``, so the trace is the sum of the square roots of its
    eigenvalues (``eigvalsh``). ``F`` is the Cholesky factor, or ``V sqrt(W)`` from the symmetric
    eigen-decomposition when ``sigma1`` is singular (fewer samples than dimensions, dead units).
    """
    s1, s2 = torch.from_numpy(sigma1), torch.from_numpy(sigma2)
    factor, info = torch.linalg.cholesky_ex(s1)
    if int(info) != 0:
        w, v = torch.linalg.eigh(s1)
        factor = v * w.clamp_min(0).sqrt()
    middle = factor.T @ s2 @ factor
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2)
    return float(eig.clamp_min(0).sqrt().sum())


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (see :func:`trace_sqrt_product`)."""
    mu1, mu2 = _as_float64(mu1), _as_float64(mu2)
    sigma1, sigma2 = _as_float64(sigma1), _as_float64(sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def fid_from_features(real: ArrayLike, fake: ArrayLike) -> float:
    """FID between two ``N,D`` feature matrices."""
    _check_features(real, fake)
    mu1, s1 = gaussian_statistics(real)
    mu2, s2 = gaussian_statistics(fake)
    return frechet_distance(mu1, s1, mu2, s2)


# ----------------------------------------------------------------------------- KID


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(x.y / d + 1)^3`` for every pair of rows, in place on the Gram matrix."""
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    return k * k * k


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between two equal-size samples under the cubic polynomial kernel."""
    m = len(x)
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kid_from_features(real: ArrayLike, fake: ArrayLike, subsets: int = 100, subset_size: int = 1000,
                      seed: int = 0) -> tuple[float, float]:
    """KID (mean, std) over ``subsets`` random subsets of ``subset_size`` rows of each set.

    The subset size is capped at the smaller sample count, with a warning.
    """
    _check_features(real, fake)
    n = min(len(real), len(fake))
    if n < 2:
        raise ValueError("KID needs at least two samples in each set")
    if subset_size > n:
        warnings.warn(f"KID subset size {subset_size} capped at the sample count {n}", stacklevel=2)
        subset_size = n
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = _as_float64(real[np.sort(rng.choice(len(real), subset_size, replace=False))])
        y = _as_float64(fake[np.sort(rng.choice(len(fake), subset_size, replace=False))])
        values[i] = mmd2_unbiased(x, y)
    return float(values.mean()), float(values.std())


# ----------------------------------------------------------------------------- IS


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise KL(p || q) with 0 log 0 = 0; ``q`` broadcasts against ``p``."""
    ratio = np.divide(p, np.broadcast_to(q, p.shape), out=np.ones_like(p), where=p > 0)
    return (p * np.log(ratio)).sum(axis=-1)


def inception_score_from_probs(probs: ArrayLike, splits: int = 10) -> tuple[float, float]:
    """IS (mean, std over ``splits`` consecutive splits): ``exp E_x KL(p(y|x) || p(y))``."""
    p = _as_float64(probs)
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(f"expected an N,C probability matrix with N >= splits={splits}, got {tuple(p.shape)}")
    scores = np.array([math.exp(_kl_rows(part, part.mean(axis=0)).mean()) for part in np.array_split(p, splits)])
    return float(scores.mean()), float(scores.std())


# ----------------------------------------------------------------------------- PRDC


def _as_tensor(x: ArrayLike) -> torch.Tensor:
    return x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))


def _coarse(x: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """``x`` rounded to ``bits`` significant bits: subtracting it is exact for features on a coarse
    grid (integers, say), so their ties survive the centring."""
    mantissa, exponent = torch.frexp(x)
    return torch.ldexp(torch.round(mantissa * 2**bits), exponent - bits)


def _centred_float32(x: torch.Tensor, mean: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x - mean`` (subtracted in float64, then rounded to float32) and its rows' squared norms."""
    out = torch.empty(x.shape, dtype=torch.float32, device=mean.device)
    norms = torch.empty(len(x), dtype=torch.float32, device=mean.device)
    for start in range(0, len(x), block):
        part = out[start : start + block]
        part.copy_(x[start : start + block].to(mean.device, torch.float64) - mean)
        norms[start : start + block] = part.double().pow_(2).sum(1)
    return out, norms


class DistanceBlocks:
    """Pairwise squared distances ``block x block`` at a time: one block of distances and one of
    comparisons, reused block after block (a fresh block of this size costs the page faults of a
    new allocation each time).

    On the CPU the products go through numpy's BLAS (OpenBLAS in numpy's wheels), with as many
    threads as torch uses (``threadpoolctl``): on the AMD processor of ``benchmarks/prdc.py``'s
    figures it ran them faster than torch's MKL (PRDC about 12% faster overall). Elsewhere they go
    through torch.
    """

    def __init__(self, block: int, device: torch.device) -> None:
        self.block = block
        self.distances = torch.empty(block * block, device=device)
        self.flags = torch.empty(block * block, dtype=torch.bool, device=device)

    def squared_distances(self, x: torch.Tensor, y: torch.Tensor, x_sq: torch.Tensor,
                          y_sq: torch.Tensor) -> torch.Tensor:
        """Squared Euclidean distances between the rows of ``x`` and ``y``: ``|x|^2 - 2 x.y + |y|^2``."""
        d2 = self.distances[: len(x) * len(y)].view(len(x), len(y))
        if d2.device.type == "cpu":
            np.matmul(x.numpy(), y.numpy().T, out=d2.numpy())
            torch.add(x_sq[:, None], d2, alpha=-2, out=d2)
            return d2.add_(y_sq[None, :]).clamp_(min=0)
        torch.add(x_sq[:, None], y_sq[None, :], out=d2)
        return d2.addmm_(x, y.T, alpha=-2).clamp_(min=0)

    def below(self, d2: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
        """``d2 < radii`` (broadcast) in the reused comparison block."""
        return torch.lt(d2, radii, out=self.flags[: d2.numel()].view(d2.shape))


def _merge_smallest(nearest: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
    """Each row's ``nearest.shape[1]`` smallest values among ``nearest`` and that row of ``d2``."""
    count = nearest.shape[1]
    candidates = torch.cat([nearest, d2.topk(min(count, d2.shape[1]), dim=1, largest=False).values], 1)
    return candidates.topk(count, dim=1, largest=False).values


def _merge_columns(nearest: torch.Tensor, d2: torch.Tensor, blocks: DistanceBlocks) -> torch.Tensor:
    """:func:`_merge_smallest` for the columns of ``d2`` (``nearest`` has one row per column).

    Only values below a column's current largest kept value can enter it; once a column has seen
    a block of rows those are a few per block, so they are gathered instead of transposing the
    block and selecting over every row.
    """
    count = nearest.shape[1]
    if not torch.isfinite(nearest[:, -1]).all():
        return _merge_smallest(nearest, d2.T.contiguous())
    rows, columns = blocks.below(d2, nearest[:, -1][None, :]).nonzero(as_tuple=True)
    if len(columns) == 0:
        return nearest
    values = d2[rows, columns]
    order = torch.argsort(columns, stable=True)
    columns, values = columns[order], values[order]
    starts = torch.searchsorted(columns, columns, side="left")
    slot = torch.arange(len(columns), device=columns.device) - starts
    width = int(slot.max()) + 1
    padded = torch.full((len(nearest), width), math.inf, dtype=nearest.dtype, device=nearest.device)
    padded[columns, slot] = values
    touched = torch.unique_consecutive(columns)
    merged = nearest.clone()
    merged[touched] = torch.cat([nearest[touched], padded[touched]], 1).topk(count, dim=1, largest=False).values
    return merged


def knn_squared_radii(x: torch.Tensor, x_sq: torch.Tensor, k: int, blocks: DistanceBlocks) -> torch.Tensor:
    """Squared distance of every row of ``x`` to its k-th nearest other row.

    That is the (k+1)-th smallest squared distance of the row, its own (0 up to rounding) included,
    as in the authors' code. Each pair is computed once: the block of rows ``i`` and columns
    ``j >= i`` gives the nearest distances of both its rows and its columns.
    """
    n = len(x)
    if n <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} samples, got {n}")
    nearest = torch.full((n, k + 1), math.inf, dtype=x.dtype, device=x.device)
    block = blocks.block
    for i in range(0, n, block):
        rows = slice(i, i + block)
        for j in range(i, n, block):
            cols = slice(j, j + block)
            d2 = blocks.squared_distances(x[rows], x[cols], x_sq[rows], x_sq[cols])
            nearest[rows] = _merge_smallest(nearest[rows], d2)
            if j != i:
                nearest[cols] = _merge_columns(nearest[cols], d2, blocks)
    return nearest[:, k]


def prdc_from_features(real: ArrayLike, fake: ArrayLike, k: int = 5) -> dict[str, float]:
    """Precision, recall (k-NN manifolds), density and coverage of ``fake`` against ``real``.

    A point lies inside a manifold when its distance to some sample is strictly smaller than that
    sample's k-th nearest-neighbour radius, as in the authors' reference code. Distances are
    compared squared, computed in ``PRDC_BLOCK`` square blocks (memory: the inputs plus a few
    blocks, whatever the sample counts) on the device of the inputs (numpy: the CPU), in float32
    on features centred on the real mean: about 1e-6 of a distance off float64 and twice as fast
    (TF32 is switched off for them on CUDA). Where the arithmetic is exact (features on a coarse
    grid, integers say) a distance equal to a radius ties exactly, outside the ball as the strict
    definition says; elsewhere rounding decides such a tie (a fake that copies a real's k-th
    neighbour), as float64 rounding did.
    """
    _check_features(real, fake)
    real_t, fake_t = _as_tensor(real), _as_tensor(fake)
    if not (torch.isfinite(real_t).all() and torch.isfinite(fake_t).all()):
        raise ValueError("features contain NaN or infinity")
    block = PRDC_BLOCK
    with _float32_matmul(), threadpool_limits(torch.get_num_threads(), user_api="blas"):
        mean = sum(part.to(real_t.device, torch.float64).sum(0) for part in real_t.split(block)) / len(real_t)
        r, r_sq = _centred_float32(real_t, _coarse(mean), block)
        f, f_sq = _centred_float32(fake_t, _coarse(mean), block)
        blocks = DistanceBlocks(block, r.device)
        real_r2, fake_r2 = knn_squared_radii(r, r_sq, k, blocks), knn_squared_radii(f, f_sq, k, blocks)
        fake_inside, density_hits, covered, recalled = _manifold_hits(r, r_sq, real_r2, f, f_sq, fake_r2, blocks)
    return {"precision": fake_inside.double().mean().item(), "recall": recalled.double().mean().item(),
            "density": int(density_hits) / (k * len(f)), "coverage": covered.double().mean().item()}


def _manifold_hits(r: torch.Tensor, r_sq: torch.Tensor, real_r2: torch.Tensor, f: torch.Tensor, f_sq: torch.Tensor,
                   fake_r2: torch.Tensor, blocks: DistanceBlocks) -> tuple[torch.Tensor, ...]:
    """Over every real-fake pair, block by block: whether each fake lies in some real ball, how many
    (fake, real ball) pairs there are, whether each real ball holds some fake (coverage), and whether
    each real lies in some fake ball (recall)."""
    block = blocks.block
    fake_inside = torch.zeros(len(f), dtype=torch.bool, device=f.device)
    covered = torch.zeros(len(r), dtype=torch.bool, device=r.device)
    recalled = torch.zeros(len(r), dtype=torch.bool, device=r.device)
    density_hits = torch.zeros((), dtype=torch.int64, device=r.device)
    for i in range(0, len(r), block):
        rows = slice(i, i + block)
        for j in range(0, len(f), block):
            cols = slice(j, j + block)
            d2 = blocks.squared_distances(r[rows], f[cols], r_sq[rows], f_sq[cols])
            within_real = blocks.below(d2, real_r2[rows, None])
            fake_inside[cols] |= within_real.any(0)
            density_hits += torch.count_nonzero(within_real)
            covered[rows] |= within_real.any(1)
            recalled[rows] |= blocks.below(d2, fake_r2[None, cols]).any(1)
    return fake_inside, density_hits, covered, recalled


@contextlib.contextmanager
def _float32_matmul() -> Iterator[None]:
    """Full float32 matrix products on CUDA (no TF32) inside the block."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


# ----------------------------------------------------------------------------- mode and class coverage


def _squared_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _kl_to_uniform(counts: np.ndarray) -> float:
    p = counts / counts.sum()
    return float(_kl_rows(p[None], np.full_like(p, 1 / len(p)))[0])


def mode_coverage_2d(points: ArrayLike, modes: ArrayLike, std: float) -> dict[str, float]:
    """Modes covered, % high-quality samples and reverse KL of the mode histogram to uniform.

    A sample is high quality when it lies within 3 standard deviations of its nearest mode; a mode
    is covered when it is the nearest mode of at least one high-quality sample; ``mode_kl`` is
    KL(generated || uniform) of the histogram of high-quality samples over modes; with no
    high-quality sample it is log(number of modes), the value of a total collapse.
    """
    x, centres = _as_float64(points), _as_float64(modes)
    d2 = _squared_norms(x)[:, None] - 2 * x @ centres.T + _squared_norms(centres)[None, :]
    nearest = d2.argmin(axis=1)
    good = np.sqrt(np.maximum(d2[np.arange(len(x)), nearest], 0)) <= 3 * std
    counts = np.bincount(nearest[good], minlength=len(centres)).astype(np.float64)
    return {"modes_covered": int((counts > 0).sum()), "high_quality": 100.0 * float(good.mean()),
            "mode_kl": _kl_to_uniform(counts) if counts.sum() else math.log(len(centres))}


def class_coverage(probs: ArrayLike) -> dict[str, float]:
    """Classes predicted for at least one sample, and KL(predicted class histogram || uniform)."""
    p = _as_float64(probs)
    counts = np.bincount(p.argmax(axis=1), minlength=p.shape[1]).astype(np.float64)
    return {"classes_covered": int((counts > 0).sum()), "class_kl": _kl_to_uniform(counts)}


def conditional_accuracy(probs: ArrayLike, labels: ArrayLike) -> float:
    """Share of samples whose predicted class is the class they were generated for."""
    predicted = _as_float64(probs).argmax(axis=1)
    return float((predicted == np.asarray(labels).reshape(-1)).mean())


def matched_code_accuracy(probs: ArrayLike, codes: ArrayLike) -> float:
    """Accuracy of an unsupervised categorical code as a class predictor, after the best matching.

    Each code value is assigned to one class (Hungarian algorithm on the code-by-class count
    table) so that the most samples agree with the classifier; InfoGAN's (Chen et al., 2016)
    measure of how well its categorical code captures the digit class.
    """
    p = _as_float64(probs)
    predicted = p.argmax(axis=1)
    code = np.asarray(codes).reshape(-1).astype(np.int64)
    table = np.zeros((int(code.max()) + 1, p.shape[1]))
    np.add.at(table, (code, predicted), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(code))


@dataclass(frozen=True)
class QualityMetric:
    """A quality measure: the record fields it fills, what it is computed from, and its paper."""

    name: str
    fields: tuple[str, ...]
    computed_on: str
    paper: str
    year: int


METRICS: Registry[QualityMetric] = Registry("metric")
METRICS.register(QualityMetric(
    "fid", ("fid",), "extractor features",
    "Heusel et al., GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", 2017))
METRICS.register(QualityMetric(
    "kid", ("kid", "kid_std"), "extractor features", "Binkowski et al., Demystifying MMD GANs", 2018))
METRICS.register(QualityMetric(
    "is", ("is", "is_std"), "class probabilities (the extractor's, else the reference classifier's)",
    "Salimans et al., Improved Techniques for Training GANs", 2016))
METRICS.register(QualityMetric(
    "precision-recall", ("precision", "recall"), "extractor features (k = 5 nearest neighbours)",
    "Kynkaanniemi et al., Improved Precision and Recall Metric for Assessing Generative Models", 2019))
METRICS.register(QualityMetric(
    "density-coverage", ("density", "coverage"), "extractor features (k = 5 nearest neighbours)",
    "Naeem et al., Reliable Fidelity and Diversity Metrics for Generative Models", 2020))
METRICS.register(QualityMetric(
    "mode-coverage", ("modes_covered", "high_quality", "mode_kl"), "2-D points against the toy2d mixture modes",
    "Srivastava et al., VEEGAN: Reducing Mode Collapse in GANs using Implicit Variational Learning", 2017))
METRICS.register(QualityMetric(
    "class-coverage", ("classes_covered", "class_kl"), "reference classifier's predicted classes",
    "Metz et al., Unrolled Generative Adversarial Networks", 2017))
METRICS.register(QualityMetric(
    "conditional-accuracy", ("conditional_accuracy",), "reference classifier vs the classes asked for",
    "Odena et al., Conditional Image Synthesis with Auxiliary Classifier GANs", 2017))
METRICS.register(QualityMetric(
    "code-accuracy", ("code_accuracy",), "reference classifier vs InfoGAN's categorical code, best matching",
    "Chen et al., InfoGAN: Interpretable Representation Learning by Information Maximizing GANs", 2016))
METRICS.register(QualityMetric(
    "psnr", ("psnr", "psnr_bicubic"), "paired outputs vs ground truth (super-resolution: bicubic baseline too)",
    "as in the super-resolution tables of Ledig et al., Photo-Realistic Single Image Super-Resolution Using a GAN",
    2017))
METRICS.register(QualityMetric(
    "ssim", ("ssim", "ssim_bicubic"), "paired outputs vs ground truth (super-resolution: bicubic baseline too)",
    "Wang et al., Image Quality Assessment: From Error Visibility to Structural Similarity", 2004))
METRICS.register(QualityMetric(
    "l1", ("l1",), "paired outputs vs ground truth",
    "pix2pix's reconstruction term (Isola et al., Image-to-Image Translation with Conditional Adversarial Networks)",
    2017))
METRICS.register(QualityMetric(
    "domain-accuracy", ("domain_acc",), "reference classifier's domain of each translation vs its target",
    "Choi et al., StarGAN: Unified GANs for Multi-Domain Image-to-Image Translation", 2018))
METRICS.register(QualityMetric(
    "cycle-l1", ("cycle_l1",), "images vs their round trip through the target domain",
    "Zhu et al., Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", 2017))
