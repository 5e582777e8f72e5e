"""EQ-T (Karras et al., "Alias-Free Generative Adversarial Networks", NeurIPS 2021) of StyleGAN3-T
and StyleGAN2 after the same training, and the seconds per training step of each.

Both train through the shared trainer on digits with a preset's width and batch size for
``--steps`` steps (seed 0, the same run), then EQ-T of their EMA generators is measured on 64
samples (``ganbench.generators.equivariance``): a quarter-image translation for both (a whole
cell of StyleGAN2's 4x4 input; an integer shift on every grid of both networks) and 1 to 3 px
translations for StyleGAN3 (sub-pixel on its layers that run below the image's sampling rate,
which at 32 px are the first ones). Each figure is given on the raw images (the paper's formula)
and on images scaled to a standard deviation of 0.5.

    PYTHONPATH=. python benchmarks/equivariance.py [--preset quick] [--steps 100] [--resolution 32]
"""

from __future__ import annotations

import argparse
import time

import torch

from ganbench.data import load_digits
from ganbench.presets import get_preset
from ganbench.runtime import seed_everything
from ganbench.generators import DataSpec, GenerativeModel, create_generator
from ganbench.generators.equivariance import stylegan2_eq_t, stylegan3_eq_t
from ganbench.generators.trainer import TrainConfig, train

SAMPLES = 64
SUBPIXEL_SHIFTS = [(1, -3), (3, 1), (-2, 1)]


def trained(name: str, spec: DataSpec, width: int, batch_size: int, steps: int) -> tuple[GenerativeModel, float]:
    """``name`` trained on digits for ``steps`` steps, and its seconds per step."""
    seed_everything(0)
    data = load_digits(spec.resolution)
    model = create_generator(name, spec, preset_width=width)
    started = time.perf_counter()
    outcome = train(model, data.x_train, data.y_train,
                    TrainConfig(steps=steps, batch_size=batch_size, seed=0, checkpoint_every=10**9))
    if outcome.status != "ok":
        raise SystemExit(f"{name}: training ended {outcome.status}")
    return model, (time.perf_counter() - started) / max(steps, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick", help="preset giving width and batch size")
    parser.add_argument("--steps", type=int, default=100, help="training steps of each generator (0: untrained)")
    parser.add_argument("--resolution", type=int, default=32, help="image side (16 or 32)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = get_preset(args.preset)
    spec = DataSpec("image", 1, args.resolution, 10)
    quarter = args.resolution // 4
    stylegan3, seconds3 = trained("stylegan3", spec, preset.width, preset.batch_size, args.steps)
    stylegan2, seconds2 = trained("stylegan2", spec, preset.width, preset.batch_size, args.steps)
    print(f"digits {args.resolution} px, preset {preset.name} (width {preset.width}, batch {preset.batch_size}), "
          f"{args.steps} steps, {torch.get_num_threads()} threads, EMA generators, {SAMPLES} samples")
    if args.steps:
        print(f"seconds per step: stylegan2 {seconds2:.3f}, stylegan3 {seconds3:.3f} ({seconds3 / seconds2:.1f}x)")
    for label, spread in (("raw images", None), ("images scaled to std 0.5", 0.5)):
        sg2 = stylegan2_eq_t(stylegan2, (1, -1), SAMPLES, spread=spread)
        sg3 = stylegan3_eq_t(stylegan3, [(quarter, -quarter), *SUBPIXEL_SHIFTS], SAMPLES, spread=spread)
        shifted = ", ".join(f"{dx:+d},{dy:+d} px {value:.1f}" for (dx, dy), value in zip(SUBPIXEL_SHIFTS, sg3[1:]))
        print(f"EQ-T ({label}), dB: stylegan2 {sg2:.1f} and stylegan3 {sg3[0]:.1f} at +{quarter},-{quarter} px; "
              f"stylegan3 {shifted}")


if __name__ == "__main__":
    main()
