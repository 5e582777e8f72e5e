"""The forensics workflow on real digits: detectors fitted on one artefact, saved, and scored
test-only on an outside folder in CNNDetection layout; then the published networks at full size.

Reals are MNIST digits written as PNG files (``../shared/data/mnist.npz``); the "generators"
are other MNIST digits passed through generator-like artefacts: ``upsample`` (a 14x14 copy
up-sampled x2 by nearest neighbour, the up-sampling trace NPR looks for), ``blur`` (Gaussian,
sigma 1) and ``noise`` (Gaussian, sigma 8), each with its own reals; ``blur`` keeps one class
folder per digit. ``spectrum`` and ``dct`` are fitted on ``upsample`` training folders through
``ganbench detect``'s own code, saved, reloaded test-only, and must give identical scores.

``--published`` also builds the released layouts with random weights (CNNDetection's
ResNet-50 and UnivFD's linear head over CLIP ViT-L/14, 304M parameters), loads them through
``cnndetection@PATH`` / ``univfd@PATH``, and times scoring at 256x256 native size and at the
224x224 centre crop. Printed: every row's AUC, AP, balanced accuracy and counts; fit, load and
scoring seconds.

    PYTHONPATH=. python benchmarks/forensics.py --threads 1 [--n 400] [--published]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganbench.detectors.perturbations import blur, noise
from ganbench.forensics import Detect, DetectRequest

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def save_pngs(folder: Path, images: torch.Tensor) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).squeeze(-1).numpy()).save(folder / f"{i:05d}.png")


def upsampled(images: torch.Tensor) -> torch.Tensor:
    small = F.interpolate(images.float(), scale_factor=0.5, mode="bilinear", antialias=True)
    return F.interpolate(small, scale_factor=2, mode="nearest").round().clamp(0, 255).to(torch.uint8)


def build_folders(root: Path, n: int) -> None:
    with np.load(MNIST) as archive:
        train, test = torch.from_numpy(archive["x_train"])[:, None], torch.from_numpy(archive["x_test"])[:, None]
        test_labels = archive["y_test"]
    save_pngs(root / "train" / "real", train[:n])
    save_pngs(root / "train" / "fake", upsampled(train[n : 2 * n]))
    save_pngs(root / "test" / "upsample" / "0_real", test[:n])
    save_pngs(root / "test" / "upsample" / "1_fake", upsampled(train[2 * n : 3 * n]))
    save_pngs(root / "test" / "noise" / "0_real", test[n : 2 * n])
    save_pngs(root / "test" / "noise" / "1_fake", noise(train[3 * n : 4 * n], 8.0, seed=1))
    for digit in range(10):
        reals = test[2 * n : 3 * n][test_labels[2 * n : 3 * n] == digit]
        save_pngs(root / "test" / "blur" / str(digit) / "0_real", reals)
        save_pngs(root / "test" / "blur" / str(digit) / "1_fake", blur(train[4 * n : 4 * n + len(reals)], 1.0))


def print_rows(rows: list[dict]) -> None:
    print(f"{'detector':24} {'generator':10} {'AUC':>7} {'AP':>7} {'bal.acc':>8} {'n_real':>7} {'n_fake':>7}")
    for r in rows:
        print(f"{r['detector']:24} {r['generator']:10} {r['auc']:7.4f} {r['ap']:7.4f} {r['balanced_acc']:8.4f} "
              f"{r['n_real']:7d} {r['n_fake']:7d}")


def fitted_then_saved(root: Path) -> None:
    for name in ("spectrum", "dct"):
        saved = root / f"{name}.npz"
        started = time.perf_counter()
        fit = Detect(DetectRequest([name], root=root / "test", train_real=f"folder:{root / 'train' / 'real'}",
                                   train_fakes=f"folder:{root / 'train' / 'fake'}", save_detector=saved)).run()
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        reloaded = Detect(DetectRequest([f"{name}@{saved}"], root=root / "test")).run()
        test_seconds = time.perf_counter() - started
        same = all(np.array_equal(a.scores, b.scores) for a, b in zip(fit.scored, reloaded.scored))
        n_images = sum(len(s.scores) for s in reloaded.scored)
        print(f"\n{name}: fit + score {fit_seconds:.1f} s; test-only from {saved.name} ({saved.stat().st_size} bytes) "
              f"{test_seconds:.1f} s for {n_images} images; scores identical after reload: {same}")
        print_rows(fit.rows)


def published(root: Path) -> None:
    import timm

    torch.manual_seed(0)
    folders = root / "native"
    save_pngs(folders / "gan" / "0_real", torch.randint(0, 256, (8, 3, 256, 256), dtype=torch.uint8))
    save_pngs(folders / "gan" / "1_fake", torch.randint(0, 256, (8, 3, 256, 256), dtype=torch.uint8))
    torch.save({"model": timm.create_model("resnet50", num_classes=1).state_dict()}, root / "blur_jpg_prob0.5.pth")
    vit = timm.create_model("vit_large_patch14_clip_quickgelu_224", num_classes=768)
    torch.save(vit.state_dict(), root / "vit_l14.pth")
    del vit
    torch.save({"weight": torch.randn(1, 768) * 0.03, "bias": torch.zeros(1)}, root / "fc_weights.pth")
    for options, arguments, size in (([f"cnndetection@{root / 'blur_jpg_prob0.5.pth'}"], [], None),
                                     ([f"univfd@{root / 'fc_weights.pth'}"], [f"backbone={root / 'vit_l14.pth'}"], 224)):
        started = time.perf_counter()
        outcome = Detect(DetectRequest(options, arguments=arguments, root=folders, size=size)).run()
        seconds = time.perf_counter() - started
        print(f"\n{options[0].split('@')[0]}: load + score 16 images ({outcome.protocol['framing']}) {seconds:.1f} s")
        print_rows(outcome.rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400, help="Images per folder.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--published", action="store_true", help="Also load and time the published layouts.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        build_folders(root, args.n)
        fitted_then_saved(root)
        if args.published:
            published(root)


if __name__ == "__main__":
    main()
