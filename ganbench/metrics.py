"""Generation-quality metrics on feature matrices (float64 inside).

FID: Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", NeurIPS 2017.
"""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def _as_float64(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def gaussian_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of an ``N,D`` feature matrix."""
    f = _as_float64(features)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    The trace of ``sqrtm(sigma1 @ sigma2)`` equals the sum of square roots of the eigenvalues of
    the symmetric PSD matrix ``sqrt(sigma1) @ sigma2 @ sqrt(sigma1)``, which two symmetric
    eigen-decompositions give without a general (and slower) matrix square root.
    """
    mu1, mu2 = _as_float64(mu1), _as_float64(mu2)
    sigma1, sigma2 = _as_float64(sigma1), _as_float64(sigma2)
    w1, v1 = np.linalg.eigh(sigma1)
    root1 = (v1 * np.sqrt(np.clip(w1, 0, None))) @ v1.T
    middle = root1 @ sigma2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def fid_from_features(real: ArrayLike, fake: ArrayLike) -> float:
    """FID between two ``N,D`` feature matrices."""
    mu1, s1 = gaussian_statistics(real)
    mu2, s2 = gaussian_statistics(fake)
    return frechet_distance(mu1, s1, mu2, s2)
