"""Generation-quality metrics on feature matrices, class probabilities and 2-D points, in float64
(precision, recall, density and coverage: :mod:`ganbench.prdc`).

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
fills and its paper. Every function accepts numpy arrays or torch tensors. Large matrices are
processed in row chunks so that memory stays at the inputs plus one ``chunk x N`` block.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from ganbench.registry import Registry

ArrayLike = np.ndarray | torch.Tensor

CHUNK = 1024


def _as_float64(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def check_features(real: ArrayLike, fake: ArrayLike) -> None:
    """A ValueError unless ``real`` and ``fake`` are two ``N,D`` feature matrices of one ``D``."""
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
    factor = covariance_factor(torch.from_numpy(sigma1))
    return float(trace_sqrt_of_middle(factor.T @ torch.from_numpy(sigma2) @ factor))


def _one_solver_thread(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """On the CPU, symmetric eigen-solvers run on one thread: a second gains little, and where other
    work keeps the cores busy torch's threaded solver took 0.77 s instead of 0.5 ms for 128 x 128."""
    return threadpool_limits(1, user_api="openmp") if x.device.type == "cpu" else contextlib.nullcontext()


def covariance_factor(sigma: torch.Tensor) -> torch.Tensor:
    """A factor ``F`` with ``sigma = F F^T``: Cholesky's, or ``V sqrt(W)`` of the symmetric
    eigen-decomposition where ``sigma`` is singular."""
    factor, info = torch.linalg.cholesky_ex(sigma)
    if int(info) != 0:
        with _one_solver_thread(sigma):
            w, v = torch.linalg.eigh(sigma)
        factor = v * w.clamp_min(0).sqrt()
    return factor


def trace_sqrt_of_middle(middle: torch.Tensor) -> torch.Tensor:
    """The sum of the square roots of the eigenvalues of a symmetric PSD ``F^T sigma2 F`` (rounding's
    asymmetry and negative eigenvalues removed)."""
    with _one_solver_thread(middle):
        eig = torch.linalg.eigvalsh((middle + middle.T) / 2)
    return eig.clamp_min(0).sqrt().sum()


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (see :func:`trace_sqrt_product`)."""
    mu1, mu2 = _as_float64(mu1), _as_float64(mu2)
    sigma1, sigma2 = _as_float64(sigma1), _as_float64(sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def fid_from_features(real: ArrayLike, fake: ArrayLike) -> float:
    """FID between two ``N,D`` feature matrices."""
    check_features(real, fake)
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
                      seed: int = 0) -> tuple[float, float | None]:
    """KID (mean, std) over ``subsets`` random subsets of ``subset_size`` rows of each set.

    The subset size is capped at the smaller sample count, with a warning. Where a subset is as
    large as both sets, every subset is both whole sets: KID is their one value and the std is
    None (a spread over copies of one value would read as an exact score).
    """
    check_features(real, fake)
    n = min(len(real), len(fake))
    if n < 2:
        raise ValueError("KID needs at least two samples in each set")
    if subset_size > n:
        warnings.warn(f"KID subset size {subset_size} capped at the sample count {n}", stacklevel=2)
        subset_size = n
    if subset_size == len(real) == len(fake):
        return mmd2_unbiased(_as_float64(real), _as_float64(fake)), None
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


IS_SHUFFLE_SEED = 2020  # torch-fidelity's, so both split the same probabilities alike


def inception_score_from_probs(probs: ArrayLike, splits: int = 10,
                               shuffle_seed: int | None = IS_SHUFFLE_SEED) -> tuple[float, float]:
    """IS (mean, std over ``splits`` splits): ``exp E_x KL(p(y|x) || p(y))`` within each split.

    The rows are first permuted by ``np.random.RandomState(shuffle_seed)`` (``None``: kept in
    order), so that inputs grouped by class (a folder per class, a sorted split) are not scored
    one class per split; split ``i`` holds rows ``i N // splits`` to ``(i + 1) N // splits``.
    """
    p = _as_float64(probs)
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(f"expected an N,C probability matrix with N >= splits={splits}, got {tuple(p.shape)}")
    n = len(p)
    if shuffle_seed is not None:
        p = p[np.random.RandomState(shuffle_seed).permutation(n)]
    bounds = [i * n // splits for i in range(splits + 1)]
    scores = np.array([math.exp(_kl_rows(part, part.mean(axis=0)).mean())
                       for part in (p[a:b] for a, b in zip(bounds, bounds[1:]))])
    return float(scores.mean()), float(scores.std())


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
    "fid", ("fid", "fid_se", "fid_ci_low", "fid_ci_high"), "extractor features (interval: bootstrap over the fakes)",
    "Heusel et al., GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", 2017))
METRICS.register(QualityMetric(
    "kid", ("kid", "kid_std"), "extractor features", "Binkowski et al., Demystifying MMD GANs", 2018))
METRICS.register(QualityMetric(
    "is", ("is", "is_std"), "class probabilities (the extractor's, else the reference classifier's)",
    "Salimans et al., Improved Techniques for Training GANs", 2016))
METRICS.register(QualityMetric(
    "precision-recall", ("precision", "recall", "precision_ci_low", "precision_ci_high", "recall_ci_low",
                         "recall_ci_high"), "extractor features (k = 5 nearest neighbours)",
    "Kynkaanniemi et al., Improved Precision and Recall Metric for Assessing Generative Models", 2019))
METRICS.register(QualityMetric(
    "density-coverage", ("density", "coverage", "density_ci_low", "density_ci_high", "coverage_ci_low",
                         "coverage_ci_high"), "extractor features (k = 5 nearest neighbours)",
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
