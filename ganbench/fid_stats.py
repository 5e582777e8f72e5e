"""Feature statistics files: the mean and covariance FID compares, in pytorch-fid's ``.npz`` layout.

pytorch-fid (Seitzer, https://github.com/mseitzer/pytorch-fid, ``fid_score.py``) saves a set's
statistics with ``np.savez(path, mu=mu, sigma=sigma)``: the float64 mean (``D``) and unbiased
covariance (``D x D``) of its features, and reads back only those two keys. ganbench writes the
same two arrays and adds the protocol they were computed under as one JSON string under
``ganbench_protocol`` (extractor, weights content hash, resize rule, feature dimension, number of
images, ganbench version, and under ``input`` the images' spec and sizes), which pytorch-fid
ignores. A file with only ``mu`` and
``sigma`` (pytorch-fid's own, or another tool's) reads with an unknown protocol: only its feature
dimension can be checked against the features it is compared with.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganbench import __version__
from ganbench.errors import UserError
from ganbench.metrics import ArrayLike, gaussian_statistics
from ganbench.store import write_npz

PROTOCOL_KEY = "ganbench_protocol"
#: protocol entries that change the features, so statistics must agree on them to be compared
FEATURE_PROTOCOL = ("extractor", "weights", "resize", "feature_dim")


@dataclass
class FeatureStatistics:
    """``mu`` and ``sigma`` (float64) of a set's features; ``protocol`` is None when unknown."""

    mu: np.ndarray
    sigma: np.ndarray
    protocol: dict[str, Any] | None

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    @classmethod
    def of_features(cls, features: ArrayLike, protocol: dict[str, Any]) -> FeatureStatistics:
        """Statistics of an ``N,D`` feature matrix; the protocol gains ``feature_dim``, ``n`` and the version."""
        mu, sigma = gaussian_statistics(features)
        return cls(mu, sigma, {**protocol, "feature_dim": int(features.shape[1]), "n": int(features.shape[0]),
                               "ganbench_version": __version__})


def write_statistics(path: Path, stats: FeatureStatistics) -> None:
    """``mu``, ``sigma`` and the protocol as JSON, written atomically."""
    arrays = {"mu": np.asarray(stats.mu, dtype=np.float64), "sigma": np.asarray(stats.sigma, dtype=np.float64)}
    if stats.protocol is not None:
        arrays[PROTOCOL_KEY] = np.array(json.dumps(stats.protocol, sort_keys=True, default=str))
    write_npz(path, **arrays)


def read_statistics(path: Path) -> FeatureStatistics:
    """A statistics file written by ganbench or pytorch-fid; anything else is a :class:`UserError`."""
    if not path.is_file():
        raise UserError(f"no such statistics file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc.__class__.__name__})") from None
    if "mu" not in arrays or "sigma" not in arrays:
        found = ", ".join(sorted(arrays)) or "nothing"
        raise UserError(f"{path}: not a statistics file: it has no mu and sigma arrays (found {found})")
    mu, sigma = arrays["mu"], arrays["sigma"]
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)) or not mu.dtype.kind == sigma.dtype.kind == "f":
        raise UserError(f"{path}: mu {mu.dtype} {mu.shape} and sigma {sigma.dtype} {sigma.shape} are not a "
                        f"D mean and a D x D covariance")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise UserError(f"{path}: mu or sigma holds NaN or infinite values")
    scale = float(np.abs(sigma).max(initial=0.0))
    if np.abs(sigma - sigma.T).max(initial=0.0) > 1e-6 * scale:
        raise UserError(f"{path}: sigma is not symmetric, so it is not a covariance matrix")
    if len(sigma) and np.linalg.eigvalsh(sigma.astype(np.float64))[0] < -1e-6 * scale * len(sigma):
        raise UserError(f"{path}: sigma has a negative eigenvalue, so it is not a covariance matrix")
    protocol = None
    if PROTOCOL_KEY in arrays:
        try:
            protocol = json.loads(str(arrays[PROTOCOL_KEY]))
        except json.JSONDecodeError:
            raise UserError(f"{path}: {PROTOCOL_KEY} is not JSON") from None
    return FeatureStatistics(mu.astype(np.float64), sigma.astype(np.float64), protocol)


def check_comparable(stats: FeatureStatistics, source: str, protocol: dict[str, Any]) -> str | None:
    """Raise :class:`UserError` when ``stats`` were computed under features other than ``protocol``'s.

    ``protocol`` may carry ``extractor``, ``weights``, ``resize`` and ``feature_dim``; only the
    entries both sides state are compared. Statistics of unknown protocol are checked on their
    dimension only, and a note saying so is returned for the user.
    """
    if protocol.get("feature_dim", stats.dim) != stats.dim:
        raise UserError(f"{source} holds {stats.dim}-d statistics but the features compared with them are "
                        f"{protocol['feature_dim']}-d ({protocol.get('extractor', 'unknown extractor')})")
    if stats.protocol is None:
        return (f"{source} has no protocol (a pytorch-fid file?): assuming its {stats.dim}-d statistics come from "
                f"the same extractor, weights and resize as {protocol.get('extractor', 'the other side')}")
    for key in FEATURE_PROTOCOL:
        theirs, ours = stats.protocol.get(key), protocol.get(key)
        if theirs is not None and ours is not None and theirs != ours:
            raise UserError(f"{source} was computed with {key} {theirs!r}, the other side with {ours!r}: "
                            f"recompute it with `ganbench stats` under the same extractor")
    return None
