"""The Python API: the operations of the command line for Python users.

``compute_metrics`` scores samples against a reference and ``compute_statistics`` writes the
FID statistics of a set, with the inputs of ``ganbench metrics`` and ``ganbench stats``
(``folder:PATH``, ``npz:PATH``, a data set such as ``digits`` or ``dataset:mnist:DIR@train``,
``run:RUNDIR:GENERATOR[@SEED]``, ``stats:PATH.npz``; :mod:`ganbench.folder_metrics`). Both are
importable from the package itself:

>>> from ganbench import compute_metrics
>>> scores = compute_metrics("digits@train", "digits", extractor="classifier", kid=True, n=300)
>>> sorted(scores["metrics"])
['fid', 'kid', 'kid_std']
>>> scores["protocol"]["input1"]["n"], scores["protocol"]["extractor"]
(300, 'classifier')
>>> 0 < scores["metrics"]["fid"] < 5
True
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ganbench.fid_stats import FeatureStatistics, write_statistics
from ganbench.folder_metrics import ScoreOptions, score, statistics
from ganbench.runtime import resolve_device


def _options(extractor: str | None, n: int | None, device: str | None, extractor_weights: str | Path | None,
             antialias: bool, seed: int) -> ScoreOptions:
    return ScoreOptions(extractor=extractor, extractor_weights=None if extractor_weights is None else Path(
        extractor_weights), antialias=antialias, n=n, seed=seed, device=resolve_device(device or "auto"))


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def compute_metrics(input1: str, input2: str | None = None, fid: bool = True, kid: bool = False, isc: bool = False,
                    prdc: bool = False, extractor: str | None = None, n: int | None = None,
                    device: str | None = None, extractor_weights: str | Path | None = None,
                    antialias: bool = False, seed: int = 0) -> dict[str, Any]:
    """Metrics of ``input1`` (the samples scored) against ``input2`` (the reference).

    Returns ``{"metrics": {...}, "protocol": {...}}``: ``fid``; ``kid`` and ``kid_std``; ``is`` and
    ``is_std`` (of ``input1``); ``precision``, ``recall``, ``density`` and ``coverage`` (``prdc``).
    ``extractor`` None uses a statistics input's extractor, else ``inception`` when its weights are
    found offline. ``n`` cuts image inputs to a seeded subset of ``n`` images (and is how many
    fakes a ``run:`` input samples). A user's mistake raises :class:`ganbench.errors.UserError`.
    """
    wanted = [name for name, on in (("fid", fid), ("kid", kid), ("is", isc), ("prdc", prdc)) if on]
    specs = [input1] if input2 is None else [input1, input2]
    options = _options(extractor, n, device, extractor_weights, antialias, seed)
    return score(specs, wanted, options, warn=_warn)


def compute_statistics(input: str, out: str | Path | None = None, extractor: str | None = None,
                       n: int | None = None, device: str | None = None,
                       extractor_weights: str | Path | None = None, antialias: bool = False,
                       seed: int = 0) -> FeatureStatistics:
    """FID statistics (``mu``, ``sigma``, ``protocol``) of one image input; written to ``out`` when
    given, in pytorch-fid's ``.npz`` layout plus the protocol (:mod:`ganbench.fid_stats`)."""
    stats = statistics(input, _options(extractor, n, device, extractor_weights, antialias, seed))
    if out is not None:
        write_statistics(Path(out), stats)
    return stats
