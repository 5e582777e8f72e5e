"""Evaluation protocols: which records may share a table, and the text that states a table's protocol.

A number is only comparable to another measured under the same protocol: the same feature
extractor (and weights), the same real split and sample counts (Heusel et al., "GANs Trained by a
Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017, on FID's bias in
the sample count; Kynkaanniemi et al., "Improved Precision and Recall Metric for Assessing
Generative Models", NeurIPS 2019). Records carry their protocol; a *signature* is the part of it
that must agree for two rows to sit in one table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

# Keys that vary with the run seed or are measurements, not protocol: rows averaged over seeds
# legitimately differ in them.
VOLATILE_KEYS = frozenset({"seed", "classifier_test_acc"})
# Keys that say which cell of the evaluation design a detection row fills (its protocol name,
# training generators, the detector's identity and where its class came from, built in or a
# plugin, and the perturbation of a robustness row): tables lay these out as rows and columns, so
# they do not split tables (a plugin's rows meet the one-class baseline's in one table).
DESIGN_KEYS = frozenset({"name", "train_generators", "detector", "source", "perturbation"})
# Extractors trained on the run's own real train split with the run seed: their weights are a
# function of (data set, preset, seed), which already key the rows, so they do not split tables.
PER_RUN_EXTRACTORS = frozenset({"classifier"})


def signature(protocol: dict[str, Any] | None) -> str | None:
    """Canonical JSON of the protocol keys that must agree between rows of one table; None if empty."""
    if not protocol:
        return None
    kept = {k: v for k, v in protocol.items() if k not in VOLATILE_KEYS | DESIGN_KEYS}
    if kept.get("extractor") in PER_RUN_EXTRACTORS:
        kept.pop("weights", None)
    return json.dumps(kept, sort_keys=True, default=str)


def common(protocols: Iterable[Any]) -> dict[str, Any]:
    """The items shared by every protocol given (entries that are not dicts, such as missing values, ignored)."""
    shared: dict[str, Any] | None = None
    for protocol in protocols:
        if not isinstance(protocol, dict) or not protocol:
            continue
        if shared is None:
            shared = dict(protocol)
        else:
            shared = {k: v for k, v in shared.items() if k in protocol and protocol[k] == v}
    return shared or {}


def coverage_of_one_distribution(n_real: int, n_fake: int, k: int) -> float:
    """Expected coverage when the fakes come from the reals' own distribution (Naeem et al., "Reliable
    Fidelity and Diversity Metrics for Generative Models", ICML 2020): 1 - prod_{i=1..k} (N-i)/(M+N-i)
    for N reals and M fakes. It is 1 - 2^-k at N = M and falls when the reals outnumber the fakes."""
    kept = 1.0
    for i in range(1, k + 1):
        kept *= max(n_real - i, 0) / (n_fake + n_real - i)
    return 1.0 - kept


def describe(protocol: dict[str, Any]) -> str:
    """Short text naming a protocol: features, real split and counts, fakes, training counts, threshold, source."""
    parts = []
    if "task" in protocol:
        parts.append(f"{protocol['task']} translations of {protocol.get('translated_split', '?')}-split images")
    extractor = protocol.get("extractor")
    if extractor == "none":
        parts.append(f"2-D points, {protocol['modes']} modes" if "modes" in protocol else "raw samples")
    elif extractor:
        weights = protocol.get("weights")
        parts.append(f"{extractor} features {str(weights)[:8]}" if weights else f"{extractor} features")
    if protocol.get("resize") not in (None, "none"):
        parts.append(f"resize {protocol['resize']}")
    if "n_real" in protocol:
        parts.append(f"real {protocol.get('real_split', '?')} n={protocol['n_real']}")
    if "n_fake" in protocol:
        fakes = protocol.get("fakes")
        parts.append(f"fake n={protocol['n_fake']}" + (f" ({fakes})" if fakes else ""))
    preparation = protocol.get("external_preparation")
    if isinstance(preparation, dict) and (preparation.get("resized_to") or preparation.get("channels")):
        steps = ([f"resized from {', '.join(preparation.get('source_sizes') or ['?'])} to {preparation['resized_to']} px"]
                 if preparation.get("resized_to") else []) + (
            [f"converted {preparation['channels']}"] if preparation.get("channels") else [])
        parts.append(f"external fakes {' and '.join(steps)}, the reals not")
    if all(isinstance(protocol.get(key), int) for key in ("n_real", "n_fake", "prdc_k")):
        ceiling = coverage_of_one_distribution(protocol["n_real"], protocol["n_fake"], protocol["prdc_k"])
        parts.append(f"coverage of fakes from the reals' own distribution {ceiling:.2f}")
    if "n_train_real" in protocol or "n_train_fake" in protocol:
        real, fake = protocol.get("n_train_real", "?"), protocol.get("n_train_fake", "?")
        parts.append(f"trained on real n={real} + fake n={fake}")
    if "threshold" in protocol:
        parts.append(f"threshold from {protocol['threshold']}")
    if "bootstrap" in protocol:
        parts.append(f"bootstrap {protocol['bootstrap']}")
    if protocol.get("intervals") not in (None, "none"):
        parts.append(f"bootstrap {protocol['intervals']}")
    if isinstance(protocol.get("robustness_grid"), dict):
        parts.append(grid_text(protocol["robustness_grid"]))
    if "correction" in protocol:
        parts.append(str(protocol["correction"]))
    if protocol.get("source") not in (None, "builtin"):
        parts.append(f"detector {protocol['source']}")
    if "device" in protocol:
        parts.append(str(protocol["device"]))
    if "processor" in protocol:
        parts.append(f"timed on {protocol['processor']}")
    if "raters" in protocol:
        parts.append(f"{protocol['raters']} rater(s)")
    return " · ".join(parts)


def _numbers(values: Iterable[Any]) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in values)


def grid_text(grid: dict[str, Any]) -> str:
    """The robustness grid of a record: its specs by family and the blur sigmas in pixels on the run's images."""
    families: dict[str, list[str]] = {}
    for spec in grid.get("specs", []):
        kind, _, value = str(spec).partition(":")
        families.setdefault(kind, []).append(value)
    parts = [f"{kind} {', '.join(values)}" for kind, values in families.items()]
    if grid.get("blur_sigma_px") is not None:
        size = "x".join(str(v) for v in grid.get("image_px", []))
        parts.append(f"blur sigma in px on {size} images: {_numbers(grid['blur_sigma_px'])}")
    return "robustness grid " + "; ".join(parts)


def compatible(a: Sequence[str | None], b: Sequence[str | None]) -> bool:
    return all(x is None or y is None or x == y for x, y in zip(a, b))


def partition(signatures: Sequence[Sequence[str | None]]) -> list[list[int]]:
    """Group row indices so that no group mixes two different signatures at any position.

    ``None`` (a row without that kind of measurement) is compatible with anything. Rows keep
    their order inside a group; groups are ordered by their first row.
    """
    groups: list[tuple[list[str | None], list[int]]] = []
    for index, sig in enumerate(signatures):
        for merged, members in groups:
            if compatible(merged, sig):
                members.append(index)
                merged[:] = [x if x is not None else y for x, y in zip(merged, sig)]
                break
        else:
            groups.append((list(sig), [index]))
    return [members for _, members in groups]
