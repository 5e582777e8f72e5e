"""Generation quality of a finished run against the noise-to-image family's targets.

For every noise-to-image generator with a generation record in ``--out``, rebuilds the
generator exactly as the run initialised it (same seed, same width), samples it *untrained* with
the run's evaluation seed and labels, and scores those samples with the run's cached reference
classifier under the same protocol as the record. Prints FID before and after training, the
ratio, the record's KID, precision/recall and density/coverage, classes covered and, where they
apply, conditional accuracy (cgan, biggan) and matched code accuracy (infogan), and sampling
speed, with the targets: FID ratio <= 0.5, >= 8 of 10 classes, >= 80% conditional accuracy,
code accuracy >= 2x chance.

    PYTHONPATH=. python benchmarks/quality_targets.py --out runs/quick --preset quick [--json FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganbench.presets import get_preset
from ganbench.quality import QualityConfig, generation_metrics
from ganbench.context import RunConfig, RunContext
from ganbench.runtime import derive_seed, preserved_rng
from ganbench.generators import GENERATORS


def untrained_metrics(context: RunContext, name: str) -> dict[str, float]:
    """Quality of the run's generator ``name`` at initialisation, measured like its record."""
    model = context.build(name)
    n = context.config.preset.n_eval
    labels, codes = model.evaluation_conditions(n)
    with preserved_rng():
        fakes = model.sample(n, labels=labels if codes is None else codes,
                             seed=derive_seed(context.config.seed, name, "eval"))
    classifier = context.extractor()
    metrics, _ = generation_metrics(context.data, fakes, classifier, classifier=classifier, labels=labels,
                                    codes=codes, config=QualityConfig(seed=context.config.seed))
    return metrics


def verdicts(before: dict[str, float], after: dict[str, float], classes: int) -> list[str]:
    missed = []
    if after["fid"] > 0.5 * before["fid"]:
        missed.append("FID ratio")
    if after["classes_covered"] < 0.8 * classes:
        missed.append("classes")
    if "conditional_accuracy" in after and after["conditional_accuracy"] < 0.8:
        missed.append("cond. accuracy")
    if "code_accuracy" in after and after["code_accuracy"] < 2 / classes:
        missed.append("code accuracy")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder of a finished run")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=int, default=None, help="the run's --resolution, if it set one")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    preset = get_preset(args.preset)
    if args.resolution is not None:
        preset = preset.with_overrides(resolution=args.resolution)
    context = RunContext(RunConfig(suite="smoke", preset=preset, dataset=args.dataset,
                                     out=args.out, seed=args.seed, quiet=True))
    finished = [r for r in context.store.records() if r.ok and r.preset == args.preset]
    records = {r.generator: r for r in finished
               if r.kind == "generation" and GENERATORS.get(r.generator).task == "noise"}
    trained, sampled = ({r.generator: r.metrics for r in finished if r.kind == kind}
                        for kind in ("train", "sample"))
    rows = []
    print("| generator | steps | FID untrained | FID trained | ratio | KID | precision / recall | density / coverage "
          "| classes | cond. acc. | code acc. | samples/s | missed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in [n for n in GENERATORS.names() if n in records]:
        before, after = untrained_metrics(context, name), records[name].metrics
        missed = verdicts(before, after, context.data.num_classes)
        steps = trained.get(name, {}).get("steps")
        speed = sampled.get(name, {}).get("images_per_second")
        rows.append({"generator": name, "steps": steps, "fid_untrained": before["fid"], "fid": after["fid"],
                     "classes_covered": after["classes_covered"],
                     "conditional_accuracy": after.get("conditional_accuracy"),
                     "code_accuracy": after.get("code_accuracy"), "samples_per_second": speed, "missed": missed})
        cond = f"{after['conditional_accuracy']:.1%}" if "conditional_accuracy" in after else "-"
        code = f"{after['code_accuracy']:.1%}" if "code_accuracy" in after else "-"
        print(f"| {name} | {steps} | {before['fid']:.1f} | {after['fid']:.1f} | {after['fid'] / before['fid']:.3f} "
              f"| {after['kid']:.3f} | {after['precision']:.2f} / {after['recall']:.2f} "
              f"| {after['density']:.2f} / {after['coverage']:.2f} | {after['classes_covered']} | {cond} | {code} "
              f"| {'-' if speed is None else f'{speed:,.0f}'} | {', '.join(missed) or 'none'} |", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
