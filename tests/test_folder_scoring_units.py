"""Units of folder scoring and of the extractors behind it: the reference classifier's recipe and
cache key, a pretrained extractor's identity, features taken in eval mode from the pooled layer,
the checks on inputs and ``--n``, which metrics a pair allows, KID's subsets, the advised-count
warnings, and the published detectors' CLIP backbone, preprocessing and head files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch

from ganbench.data import Dataset
from ganbench.detectors.published import CLIP_MEAN, CLIP_STD, UnivFD, univfd_head
from ganbench.errors import UserError
from ganbench.features import ClassifierExtractor, ContentClassifier, TimmExtractor, weights_identity
from ganbench.fid_stats import FeatureStatistics
from ganbench.folder_metrics import (CLASSIFIER_EPOCHS, CLASSIFIER_SEED, Input, _cautions, _geometry_cautions,
                                     applicable, check_options, check_wanted, score, score_options)
from ganbench.image_sets import TensorImages
from ganbench.presets import get_preset
from ganbench.quality import SampleNeed
from ganbench.store import file_digest


def tiny_dataset(n_train: int = 33) -> Dataset:
    """Two classes of random 8x8 grey images: ``n_train`` to train on (not a multiple of 32 or 64)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n_train + 8, 1, 8, 8), generator=gen, dtype=torch.uint8)
    y = torch.arange(n_train + 8) % 2
    return Dataset("tiny", x[:n_train], y[:n_train], x[n_train:], y[n_train:], num_classes=2)


class RecordingOneCycle(torch.optim.lr_scheduler.OneCycleLR):
    """OneCycleLR that keeps each schedule's peak learning rate and step count."""

    made: list[tuple[float, int]] = []

    def __init__(self, optimizer: torch.optim.Optimizer, max_lr: float, total_steps: int, **kwargs: Any) -> None:
        RecordingOneCycle.made.append((max_lr, total_steps))
        super().__init__(optimizer, max_lr=max_lr, total_steps=total_steps, **kwargs)


def test_classifier_recipes_schedule_every_batch_with_their_own_rate_and_batch_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adam 4e-3 over batches of 32 for the extractor, 2e-3 over 64 for the content network; the
    one-cycle schedule spans every step, the last partial batch of each epoch included."""
    monkeypatch.setattr(RecordingOneCycle, "made", [])
    monkeypatch.setattr(torch.optim.lr_scheduler, "OneCycleLR", RecordingOneCycle)
    data = tiny_dataset(33)
    ClassifierExtractor(data, tmp_path, seed=0, epochs=2)
    ContentClassifier(data, tmp_path, seed=0, epochs=3)
    assert RecordingOneCycle.made == [(4e-3, 2 * 2), (2e-3, 3 * 1)]


def test_classifier_shifts_images_up_to_two_pixels_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []
    roll = torch.roll

    def recording_roll(x: torch.Tensor, shifts: list[int], dims: tuple[int, int]) -> torch.Tensor:
        drawn.extend(shifts)
        return roll(x, shifts=shifts, dims=dims)

    monkeypatch.setattr(torch, "roll", recording_roll)
    ClassifierExtractor(tiny_dataset(33), tmp_path, seed=0, epochs=10)
    assert sorted(set(drawn)) == [-2, -1, 0, 1, 2]


def test_the_classifier_cache_is_keyed_by_seed_and_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Classifiers of another seed or epoch count in one cache folder are trained, not read back."""

    def fit_by_epochs(self: ClassifierExtractor, dataset: Dataset, seed: int, epochs: int) -> None:
        with torch.no_grad():
            for p in self.model.parameters():
                p.add_(epochs)

    monkeypatch.setattr(ClassifierExtractor, "_fit", fit_by_epochs)
    data = tiny_dataset()
    hashes = {(seed, epochs): ClassifierExtractor(data, tmp_path, seed=seed, epochs=epochs).weights_hash
              for seed, epochs in ((0, 1), (1, 1), (0, 2))}
    assert len(set(hashes.values())) == 3
    assert ClassifierExtractor(data, tmp_path, seed=1, epochs=1).weights_hash == hashes[1, 1]


def test_a_data_set_inputs_classifier_is_the_quick_presets() -> None:
    assert (CLASSIFIER_SEED, CLASSIFIER_EPOCHS) == (0, get_preset("quick").classifier_epochs)


def test_inception_weights_are_keyed_by_their_content(tmp_path: Path) -> None:
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"one")
    first = weights_identity("inception", weights)
    weights.write_bytes(b"two")
    assert first != weights_identity("inception", weights) == f"sha256:{file_digest(weights)}"


def test_a_timm_backbone_without_pretrained_weights_says_so() -> None:
    extractor = TimmExtractor("test_resnet", pretrained=False)
    assert extractor.protocol()["weights"] == "random"


def images(n: int, seed: int) -> TensorImages:
    gen = torch.Generator().manual_seed(seed)
    return TensorImages(f"set{seed}", torch.randint(0, 256, (n, 3, 16, 16), generator=gen, dtype=torch.uint8))


def statistics_input() -> Input:
    return Input("stats:ref.npz", stats=FeatureStatistics.of_features(torch.randn(8, 4), {"extractor": "x"}))


def test_statistics_allow_fid_only_and_refuse_kid_and_prdc() -> None:
    pair = [Input("set0", images(4, 0)), statistics_input()]
    assert applicable(pair, has_probs=True) == ["fid", "is"]
    assert applicable([Input("set0", images(4, 0)), Input("set1", images(4, 1))], has_probs=False) == \
        ["fid", "kid", "prdc"]
    for metric in ("kid", "prdc"):
        with pytest.raises(UserError, match="holds only their mean and covariance"):
            check_wanted([metric], pair)


def test_n_must_be_positive() -> None:
    check_options(score_options(n=1))
    with pytest.raises(UserError, match="--n must be positive"):
        check_options(score_options(n=0))


def test_extractors_take_uint8_batches_only() -> None:
    """Float images (already in [0, 1]) would be divided by 255 again; a single image has no batch axis."""
    extractor = TimmExtractor("test_resnet", pretrained=False)
    assert extractor.extract(torch.zeros(2, 3, 16, 16, dtype=torch.uint8)).features.shape[0] == 2
    for bad in (torch.rand(2, 3, 16, 16), torch.zeros(3, 16, 16, dtype=torch.uint8)):
        with pytest.raises(ValueError, match="expected uint8 N,C,H,W"):
            extractor.extract(bad)


def test_features_are_pooled_and_do_not_depend_on_the_batch(tmp_path: Path) -> None:
    """Extractors score in eval mode (batch norm with its running statistics), and a timm backbone gives
    its pooled pre-logits features, not class logits."""
    gen = torch.Generator().manual_seed(1)
    classifier = ClassifierExtractor(tiny_dataset(), tmp_path, seed=0, epochs=1)
    backbone = TimmExtractor("test_resnet", pretrained=False)
    for extractor, channels, side in ((classifier, 1, 8), (backbone, 3, 16)):
        x = torch.randint(0, 256, (5, channels, side, side), generator=gen, dtype=torch.uint8)
        whole = extractor.extract(x).features
        assert torch.allclose(extractor.extract(x[:1]).features, whole[:1], atol=1e-5)
    assert whole.shape == (5, backbone.model.num_features)


def test_a_metric_at_its_advised_count_is_not_warned_of() -> None:
    need = SampleNeed(50, "reason")
    assert _cautions("fid", 50, need, "x") == [] and _cautions("fid", None, need, "x") == []
    assert len(_cautions("fid", 49, need, "x")) == 1


def test_kid_resamples_the_larger_input_when_the_subsets_are_the_smaller_whole(tmp_path: Path) -> None:
    """Subsets as large as the smaller input still differ on the larger side, so every configured
    subset is drawn; only when both inputs are the subset size is one subset taken. The protocol
    records the subsets and PRDC's k."""
    from ganbench.imageio import save_png_folder

    save_png_folder(images(10, 0).images, tmp_path / "small")
    save_png_folder(images(15, 1).images, tmp_path / "large")
    weights = tmp_path / "test_resnet.pth"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), weights)

    def kid(first: str, second: str) -> dict[str, Any]:
        options = score_options(extractor="timm:test_resnet", extractor_weights=weights, intervals=False)
        options = dataclasses.replace(options, quality=dataclasses.replace(options.quality, kid_subsets=3,
                                                                           kid_subset_size=10, prdc_k=2))
        return score([f"folder:{tmp_path / first}", f"folder:{tmp_path / second}"], ["kid", "prdc"], options)

    unequal, equal = kid("small", "large"), kid("small", "small")
    assert [unequal["protocol"][k] for k in ("kid_subsets", "kid_subset_size", "prdc_k")] == [3, 10, 2]
    assert unequal["metrics"]["kid_std"] > 0
    assert equal["protocol"]["kid_subsets"] == 1 and "kid_std" not in equal["metrics"]


def test_inputs_of_two_different_sizes_are_cautioned_and_one_size_is_not(tmp_path: Path) -> None:
    """16x16 colour against 12x12 colour, and against grey: the extractor's resize hides the
    difference, so a caution names both sizes; equal sizes (and mixed-size folders) get none."""
    from ganbench.imageio import save_png_folder

    save_png_folder(images(12, 0).images, tmp_path / "a")
    save_png_folder(images(12, 1).images[:, :, :12, :12], tmp_path / "smaller")
    save_png_folder(images(12, 2).images[:, :1], tmp_path / "grey")
    save_png_folder(images(12, 3).images, tmp_path / "b")
    weights = tmp_path / "test_resnet.pth"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), weights)
    options = score_options(extractor="timm:test_resnet", extractor_weights=weights, intervals=False)

    def cautions(second: str) -> list[str]:
        said: list[str] = []
        score([f"folder:{tmp_path / 'a'}", f"folder:{tmp_path / second}"], ["fid"], options, warn=said.append)
        return [line for line in said if "every score also measures" in line]

    assert cautions("smaller") == [f"folder:{tmp_path / 'a'} holds 3x16x16 images and folder:{tmp_path / 'smaller'} "
                                   "3x12x12: every score also measures that difference; bring one set to the "
                                   "other's size and channels to compare their content alone"]
    (grey,) = cautions("grey")
    assert "3x16x16 images" in grey and "1x16x16:" in grey
    assert cautions("b") == []
    assert _geometry_cautions([Input("mixed", images(2, 0), info={"image_sizes": ["3x8x8", "3x16x16"]}),
                               Input("one", images(2, 1), info={"image_sizes": ["3x8x8"]})]) == []


def test_univfd_normalises_with_openai_clips_mean_and_std() -> None:
    assert CLIP_MEAN == (0.48145466, 0.4578275, 0.40821073)
    assert CLIP_STD == (0.26862954, 0.26130258, 0.27577711)


def test_univfds_backbone_is_clip_vit_l14_with_quick_gelu() -> None:
    from timm.layers import QuickGELU

    architecture = UnivFD().architecture
    assert architecture == "vit_large_patch14_clip_quickgelu_224"
    with torch.device("meta"):
        vit = timm.create_model(architecture, pretrained=False)
    assert isinstance(vit.blocks[0].mlp.act, QuickGELU) and len(vit.blocks) == 24


def test_univfds_released_head_file_without_the_fc_prefix_loads(tmp_path: Path) -> None:
    weight, bias = torch.randn(1, 768), torch.tensor([0.25])
    torch.save({"weight": weight, "bias": bias}, tmp_path / "fc_weights.pth")
    torch.save({"fc.weight": weight, "fc.bias": bias}, tmp_path / "prefixed.pth")
    for name in ("fc_weights.pth", "prefixed.pth"):
        head = univfd_head(tmp_path / name)
        assert torch.equal(head.weight, weight) and torch.equal(head.bias, bias)
    with torch.no_grad():
        assert np.isclose(float(univfd_head(tmp_path / "fc_weights.pth")(torch.zeros(1, 768))), 0.25)
