"""Image folders on real data: lossless round trips through every file mode, load speed, health.

MNIST test images (``../shared/data/mnist.npz``) are written as image folders, one sub-folder
per digit, in several storage modes; each folder is loaded with ``folder:`` and compared pixel
by pixel with the 8-bit originals:

* ``L`` PNG, ``I;16`` PNG holding ``v * 257`` (so that the documented ``round(v * 255 / 65535)``
  gives ``v`` back), ``I;16B`` TIFF, ``LA`` PNG fully opaque, ``1``-bit PNG of the thresholded
  digits (compared with the threshold), and ``RGB``/``RGBA``/``P`` copies of the grey digits
  (every channel compared);
* the figures: distinct values, the share of 255-valued pixels, images with no identical
  original, images/s.

Then the health report of MNIST itself, of a one-class folder, of 1x1 images and of a set with
one 4000x4000 image among small ones (what a run would refuse or warn about).

    PYTHONPATH=. python benchmarks/folder_inputs.py [--n 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ganbench.data import load_dataset
from ganbench.data_health import inspect_dataset
from ganbench.errors import UserError

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, save: Callable[[np.ndarray, Path], None],
                 suffix: str) -> None:
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        save(image, folder / f"{i:05d}{suffix}")


def sixteen_bit(image: np.ndarray, path: Path, mode: str = "I;16") -> None:
    dtype = ">u2" if mode == "I;16B" else "<u2"
    Image.frombytes(mode, image.shape[::-1], (image.astype(np.uint16) * 257).astype(dtype).tobytes()).save(path)


def palette(image: np.ndarray, path: Path) -> None:
    grey = Image.fromarray(image).convert("P")
    grey.putpalette([v for value in range(256) for v in (value, value, value)])
    grey.save(path)


MODES: dict[str, tuple[str, Callable[[np.ndarray, Path], None]]] = {
    "L png": (".png", lambda a, p: Image.fromarray(a).save(p)),
    "I;16 png": (".png", sixteen_bit),
    "I;16B tiff": (".tif", lambda a, p: sixteen_bit(a, p, "I;16B")),
    "LA png (opaque)": (".png", lambda a, p: Image.fromarray(np.stack([a, np.full_like(a, 255)], -1), "LA").save(p)),
    "1 png (a > 127)": (".png", lambda a, p: Image.fromarray(a > 127).save(p)),
    "RGB png": (".png", lambda a, p: Image.fromarray(np.repeat(a[..., None], 3, -1)).save(p)),
    "RGBA png (opaque)": (".png", lambda a, p: Image.fromarray(np.dstack([a, a, a, np.full_like(a, 255)])).save(p)),
    "P png (grey palette)": (".png", palette),
}


def expected_pixels(name: str, images: np.ndarray) -> np.ndarray:
    return np.where(images > 127, 255, 0).astype(np.uint8) if name.startswith("1 ") else images


def unmatched(loaded: np.ndarray, loaded_labels: np.ndarray, expected: np.ndarray, labels: np.ndarray) -> int:
    """Expected (image, label) pairs with no identical loaded one: the split reorders images, so
    the two sides are compared as multisets."""
    want = Counter((image.tobytes(), int(label)) for image, label in zip(expected, labels))
    got = Counter((image[0].tobytes(), int(label)) for image, label in zip(loaded, loaded_labels))
    return sum((want - got).values())


def round_trips(images: np.ndarray, labels: np.ndarray, workdir: Path) -> None:
    print(f"{'stored as':22} {'images/s':>9} {'distinct':>8} {'255 share':>9} {'source 255':>10} {'unmatched':>9}")
    for name, (suffix, save) in MODES.items():
        root = workdir / name.split()[0].replace(";", "")
        write_folder(root, images, labels, save, suffix)
        started = time.perf_counter()
        data = load_dataset(f"folder:{root}", 28)
        seconds = time.perf_counter() - started
        loaded = np.concatenate([data.x_train.numpy(), data.x_test.numpy()])
        loaded_labels = np.concatenate([data.y_train.numpy(), data.y_test.numpy()])
        expected = expected_pixels(name, images)
        same_channels = bool((loaded == loaded[:, :1]).all())
        print(f"{name:22} {len(loaded) / seconds:9.0f} {len(np.unique(loaded)):8d} {(loaded == 255).mean():9.3%} "
              f"{(expected == 255).mean():10.3%} {unmatched(loaded, loaded_labels, expected, labels):9d}"
              + ("" if same_channels else "  channels differ"))


def report(label: str, spec: str) -> None:
    try:
        data = load_dataset(spec)
    except UserError as exc:
        print(f"-- {label}: refused while loading: {exc}")
        return
    health = inspect_dataset(data)
    findings = health.findings(needs_classes=True, allow_small=False)
    print(f"-- {label}\n{health.summary()}")
    for refusal in findings.refusals:
        print(f"   refused: {refusal}")
    for warning in findings.warnings:
        print(f"   warning: {warning}")


def degenerate_sets(workdir: Path, rng: np.random.Generator) -> None:
    one_class = workdir / "one_class" / "all"
    one_class.mkdir(parents=True)
    for i in range(120):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(one_class / f"{i}.png")
    for name, side in (("dots", 1), ("huge", 28)):
        for i in range(120):
            folder = workdir / name / "ab"[i % 2]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).save(folder / f"{i}.png")
    Image.fromarray(rng.integers(0, 256, (4000, 4000), dtype=np.uint8)).save(workdir / "huge" / "a" / "big.png")
    report("120 images, one class", f"folder:{workdir / 'one_class'}")
    report("120 images of 1x1 px", f"folder:{workdir / 'dots'}")
    report("120 images of 28 px and one of 4000 px", f"folder:{workdir / 'huge'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="MNIST test images written per folder")
    args = parser.parse_args()
    with np.load(SHARED_MNIST) as archive:
        images, labels = archive["x_test"][: args.n], archive["y_test"][: args.n]
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        round_trips(images, labels, workdir)
        report("MNIST (npz)", f"npz:{SHARED_MNIST}")
        degenerate_sets(workdir, np.random.default_rng(0))


if __name__ == "__main__":
    main()
