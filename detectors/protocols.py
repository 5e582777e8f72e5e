"""Evaluation protocols of the detector benchmark: which detector is trained on what and tested on what.

* ``in-distribution`` and ``cross-generator``: trained on one generator, tested on every
  generator and every external fake set (the cross-generator matrix; its diagonal is
  in-distribution), as in Wang et al., CVPR 2020 and DeepfakeBench (Yan et al., NeurIPS 2023).
* ``train-on-all``: trained on an equal share of every generator's fakes (train generator
  ``all``), tested on each; with two generators or more.
* ``leave-one-out``: trained on all generators but one (``all-but:<name>``), tested on the one
  left out; with three generators or more (with two it equals the cross-generator matrix).
* ``robustness``: test-time perturbations (:func:`ganbench.detectors.perturbations.robustness_grid`) of
  reals and fakes alike, on the in-distribution pairs only, which keeps the unit count linear
  in the number of generators; blur sigmas are set on a 256-px side and scaled to the image, and
  each record states its perturbation and the whole grid in pixels.
* ``null``: real vs real on disjoint real splits (one labelled "fake"); a sound detector's AUC
  stays near 0.5. Each check records the bootstrap interval of its AUC and the p-value of
  AUC = 0.5; one honest detector in twenty fails a single 95% check by chance, so tables judge
  the checks of their detectors together (Holm, "A simple sequentially rejective multiple test
  procedure", Scandinavian Journal of Statistics 1979).
"""

from __future__ import annotations

from dataclasses import dataclass

from ganbench.detectors.perturbations import robustness_grid
from ganbench.presets import PLANS

PROTOCOLS = ("in-distribution", "cross-generator", "train-on-all", "leave-one-out", "robustness", "null")


@dataclass(frozen=True)
class EvalUnit:
    test: str
    perturbation: str
    protocol: str


@dataclass(frozen=True)
class TrainingSet:
    """One fitted detector: its training generators (label as records show it) and its test units."""

    label: str
    generators: tuple[str, ...]
    units: tuple[EvalUnit, ...]


def detection_plan(generators: list[str], external: list[str] = (), robustness: bool = True,
                   plan: str = "matrix") -> list[TrainingSet]:
    """The training sets of a run and their test units.

    ``matrix``: a detector per generator (the full cross-generator matrix, robustness on each
    diagonal), train-on-all and leave-one-out. ``compact``: only the first generator trains a
    detector, tested on every generator and under every perturbation (the protocol of Wang et
    al., who train on ProGAN alone), plus train-on-all; the fits grow by two, not by 2n + 1.
    """
    if plan not in PLANS:
        raise ValueError(f"unknown detection plan {plan!r}")
    tests = [*generators, *external]
    single = generators[:1] if plan == "compact" else generators
    training_sets = []
    for g in single:
        units = [EvalUnit(t, "none", "in-distribution" if t == g else "cross-generator") for t in tests]
        if robustness:
            units += [EvalUnit(g, p, "robustness") for p in robustness_grid()]
        training_sets.append(TrainingSet(g, (g,), tuple(units)))
    if len(generators) >= 2:
        training_sets.append(TrainingSet("all", tuple(generators),
                                         tuple(EvalUnit(t, "none", "train-on-all") for t in tests)))
    if len(generators) >= 3 and plan == "matrix":
        for g in generators:
            others = tuple(o for o in generators if o != g)
            training_sets.append(TrainingSet(f"all-but:{g}", others, (EvalUnit(g, "none", "leave-one-out"),)))
    return training_sets
