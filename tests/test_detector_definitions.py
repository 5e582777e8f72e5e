"""What makes each detector, and the detection flow around it, the one its paper describes.

* NPR: Tan et al., "Rethinking the Up-Sampling Operations in CNN-based Generative Network for
  Generalizable Deepfake Detection", CVPR 2024 (residual ``x - up(down(x))``, nearest, factor 2).
* Blur+JPEG augmentation and the CNN training loop: Wang et al., "CNN-generated images are
  surprisingly easy to spot... for now", CVPR 2020 (blur, then JPEG with quality 30..100).
* One-class baseline: Hoffmann, "Kernel PCA for novelty detection", Pattern Recognition 2007
  (linear form: principal components keeping 95% of the variance); like a novelty detector, a
  baseline that never sees a fake is thresholded on reals alone, at a 5% false-positive rate.
* The detection flow: a detector is fitted on real-train vs one generator's ``detector_train``
  fakes (or an equal share of several), tested on real-test vs each generator's ``fresh`` fakes
  with fakes as the positive class, and checked for chance on real vs real, disjoint halves.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA

from ganbench import detection, forensics
from ganbench.detection import DetectionUnits
from ganbench.detector_choice import parse_detector
from ganbench.detectors.augment import BlurJpeg, BlurJpegConfig
from ganbench.detectors.base import RunSettings
from ganbench.detectors.cnn import EfficientNetDetector
from ganbench.detectors.evaluate import reals_only_threshold, validation_split
from ganbench.detectors.external import ExternalFakes
from ganbench.detectors.npr import BasicBlock, NPRDetector, ShallowResNet, npr_residual
from ganbench.detectors.one_class import OneClassDetector
from ganbench.detectors.perturbations import blur, jpeg
from ganbench.detectors.protocols import EvalUnit, TrainingSet
from ganbench.detectors.small_cnn import SmallCNNDetector
from ganbench.detectors.training import TrainerConfig, train_binary
from ganbench.errors import UserError
from ganbench.runtime import derive_seed
from ganbench.tasks import DETECTION_REALS, split_for_fakes
from ganbench.units import FAKE_SETS

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# ---------------------------------------------------------------- NPR


def test_npr_residual_subtracts_the_top_left_pixel_of_each_two_by_two_block() -> None:
    """Nearest down-sampling by 2 keeps each block's top-left pixel, so NPR is x minus that pixel."""
    x = torch.tensor([[1.0, 2.0, 10.0, 30.0],
                      [4.0, 8.0, 50.0, 70.0],
                      [0.0, 5.0, 9.0, 9.0],
                      [6.0, 7.0, 9.0, 1.0]]).view(1, 1, 4, 4)
    expected = torch.tensor([[0.0, 1.0, 0.0, 20.0],
                             [3.0, 7.0, 40.0, 60.0],
                             [0.0, 5.0, 0.0, 0.0],
                             [6.0, 7.0, 0.0, -8.0]]).view(1, 1, 4, 4)
    assert torch.equal(npr_residual(x), expected)


def test_npr_residual_of_random_images_is_zero_on_even_pixels_and_a_difference_elsewhere() -> None:
    """On any image the residual keeps the sign of ``x - x[top-left of its block]`` everywhere."""
    x = torch.rand(3, 2, 6, 8, generator=torch.Generator().manual_seed(0))
    anchor = x[..., ::2, ::2].repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    assert torch.allclose(npr_residual(x), x - anchor)


def test_npr_detector_feeds_its_network_the_scaled_residual_not_the_image() -> None:
    """The network's input is ``4 * (x - up(down(x)))`` of the [0, 1] image: zero on a nearest x2 up-sampling."""
    rng = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (3, 1, 6, 8), dtype=torch.uint8, generator=rng)
    unit = images.float() / 255
    anchor = unit[..., ::2, ::2].repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    assert torch.allclose(NPRDetector().prepare(images), 4 * (unit - anchor), atol=1e-6)
    upsampled = images[..., ::2, ::2].repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    assert float(NPRDetector().prepare(upsampled).abs().max()) == 0.0


@torch.no_grad()
def test_npr_network_is_two_residual_stages_averaged_to_one_logit() -> None:
    """A full-side stem and first stage of 32 channels, a second of 64 at half the side, then the
    spatial mean of its output through one linear logit; every block adds its input (or its
    projection) back before the last ReLU."""
    torch.manual_seed(0)
    network = ShallowResNet(1).eval()
    x = torch.randn(2, 1, 16, 16)
    stem = network.stem(x)
    first = network.stages[:2](stem)
    last = network.stages(stem)
    assert tuple(stem.shape[1:]) == tuple(first.shape[1:]) == (32, 16, 16)
    assert tuple(last.shape[1:]) == (64, 8, 8) and len(network.stages) == 4
    torch.testing.assert_close(network(x), network.head[-1](last.mean((2, 3))))
    same, widened = BasicBlock(4, 4, 1).eval(), BasicBlock(4, 8, 2).eval()
    for block in (same, widened):
        torch.nn.init.zeros_(block.conv2.weight)
    y = torch.randn(2, 4, 6, 6)
    assert torch.equal(same(y), F.relu(y))
    torch.testing.assert_close(widened(y), F.relu(widened.shortcut(y)))
    assert float(widened(y).abs().max()) > 0


# ---------------------------------------------------------------- Blur+JPEG augmentation


def test_augmentation_blurs_first_and_then_compresses_the_blurred_image() -> None:
    """With both steps drawn, an image is JPEG-compressed after, not before, its Gaussian blur
    (256-px images, where a drawn sigma is applied as it is)."""
    rng = np.random.default_rng(5)
    images = torch.from_numpy(rng.integers(0, 256, (6, 3, 256, 256), dtype=np.uint8))
    both = BlurJpeg(BlurJpegConfig(blur_prob=1.0, jpeg_prob=1.0))
    out = both(images, np.random.default_rng(3))
    for i, d in enumerate(both.last_draws):
        assert d.sigma is not None and d.sigma > 0.3 and d.quality is not None
        assert torch.equal(out[i], jpeg(blur(images[i : i + 1], d.sigma), d.quality)[0])


def test_augmentation_draws_every_jpeg_quality_from_30_to_100_inclusive() -> None:
    """JPEG quality is uniform over the integers 30..100 with both ends included."""
    draws = BlurJpeg(BlurJpegConfig(blur_prob=0.0, jpeg_prob=1.0)).draw(4000, np.random.default_rng(0))
    qualities = [d.quality for d in draws]
    assert set(qualities) == set(range(30, 101))
    counts = np.bincount(qualities)[30:]
    assert counts.min() > 25 and counts.max() < 95


def test_augmentation_draws_blur_and_jpeg_independently_with_uniform_sigmas() -> None:
    """At the paper's 0.5 and 0.5, a quarter of the images are both blurred and compressed and a
    quarter neither; sigmas spread evenly over 0..3; the caller's images are left as they were."""
    draws = BlurJpeg().draw(4000, np.random.default_rng(1))
    blurred = np.array([d.sigma is not None for d in draws])
    compressed = np.array([d.quality is not None for d in draws])
    assert abs(np.mean(blurred & compressed) - 0.25) < 0.03
    assert abs(np.mean(~blurred & ~compressed) - 0.25) < 0.03
    sigmas = np.array([d.sigma for d in draws if d.sigma is not None])
    assert sigmas.min() >= 0.0 and sigmas.max() <= 3.0
    counts = np.histogram(sigmas, bins=6, range=(0.0, 3.0))[0]
    assert counts.min() > 0.8 * len(sigmas) / 6 and counts.max() < 1.2 * len(sigmas) / 6
    images = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (4, 1, 16, 16), dtype=np.uint8))
    untouched = images.clone()
    out = BlurJpeg(BlurJpegConfig(blur_prob=1.0, jpeg_prob=1.0))(images, np.random.default_rng(3))
    assert torch.equal(images, untouched) and not torch.equal(out, images)


# ---------------------------------------------------------------- CNN training loop


def test_the_kept_weights_are_those_of_the_epoch_with_the_lowest_validation_loss() -> None:
    """With a validation pair, the network ends with the weights whose validation BCE is smallest."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1))
    gen = torch.Generator().manual_seed(1)
    dark = torch.randint(0, 90, (48, 1, 4, 4), dtype=torch.uint8, generator=gen)
    bright = torch.randint(160, 256, (48, 1, 4, 4), dtype=torch.uint8, generator=gen)

    def prepare(x: torch.Tensor) -> torch.Tensor:
        return x.float() / 127.5 - 1

    # the validation pair has the roles reversed, so learning the training task raises its loss
    validation = (bright[:16], dark[:16])
    history = train_binary(network, prepare, dark[16:], bright[16:], TrainerConfig(epochs=5, batch_size=8, lr=0.05),
                           seed=0, device=torch.device("cpu"), validation=validation)
    assert history.best_epoch == int(np.argmin(history.val_losses))
    assert history.val_losses[-1] > min(history.val_losses) + 1e-3
    with torch.no_grad():
        logits = network(prepare(torch.cat(validation))).view(-1)
    target = torch.cat([torch.zeros(16), torch.ones(16)])
    final_loss = float(F.binary_cross_entropy_with_logits(logits, target))
    assert final_loss == pytest.approx(min(history.val_losses), rel=1e-5)


class RecordingLinear(torch.nn.Module):
    """A linear logit on flattened images that records each training batch it is given."""

    def __init__(self, pixels: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(pixels, 1)
        self.batches: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.batches.append(x.detach().clone())
        return self.linear(x.flatten(1))


def constant_images(values: range) -> torch.Tensor:
    """One 2x2 image per value, every pixel that value, so a batch names the images it holds."""
    return torch.tensor(list(values), dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).contiguous()


def test_the_trainer_visits_the_images_in_the_seeds_permutation_each_epoch() -> None:
    """Each epoch draws a fresh permutation of real + fake from ``default_rng(seed)`` and cuts it
    into batches of ``batch_size``; a last batch of one image is left out."""
    torch.manual_seed(0)
    real, fake = constant_images(range(0, 5)), constant_images(range(5, 10))
    network = RecordingLinear(4)
    train_binary(network, lambda x: x.float(), real, fake, TrainerConfig(epochs=2, batch_size=4), seed=3,
                 device=torch.device("cpu"))
    rng = np.random.default_rng(3)
    expected = []
    for _ in range(2):
        order = rng.permutation(10)
        expected += [order[0:4], order[4:8], order[8:10]]
    seen = [batch[:, 0, 0, 0].long().numpy() for batch in network.batches]
    assert len(seen) == len(expected) and all(np.array_equal(a, b) for a, b in zip(seen, expected))
    network = RecordingLinear(4)
    train_binary(network, lambda x: x.float(), real, fake[:4], TrainerConfig(epochs=1, batch_size=4), seed=3,
                 device=torch.device("cpu"))
    assert [len(batch) for batch in network.batches] == [4, 4]


def test_the_epoch_loss_is_the_bce_averaged_over_images_at_the_configured_rate() -> None:
    """At learning rate 0 the weights never move, so each epoch's loss is the BCE of the initial
    network over all ten images (reals 0, fakes 1), batches weighted by their size."""
    torch.manual_seed(0)
    real, fake = constant_images(range(0, 50, 10)), constant_images(range(50, 100, 10))
    network = RecordingLinear(4)

    def prepare(x: torch.Tensor) -> torch.Tensor:
        return x.float() / 50 - 1

    before = [p.detach().clone() for p in network.parameters()]
    with torch.no_grad():
        logits = network.linear(prepare(torch.cat([real, fake])).flatten(1)).view(-1)
    expected = float(F.binary_cross_entropy_with_logits(logits, torch.cat([torch.zeros(5), torch.ones(5)])))
    history = train_binary(network, prepare, real, fake, TrainerConfig(epochs=2, batch_size=4, lr=0.0), seed=0,
                           device=torch.device("cpu"))
    assert history.losses == pytest.approx([expected, expected], rel=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(before, network.parameters()))


def test_a_detectors_initial_weights_follow_its_seed() -> None:
    """``fit`` seeds torch before building the network: one seed gives one network, another seed another."""
    real, fake = constant_images(range(0, 80, 10)), constant_images(range(100, 180, 10))

    def initial(seed: int) -> list[torch.Tensor]:
        detector = SmallCNNDetector(seed=seed, epochs=0)
        torch.manual_seed(123)
        detector.fit(real, fake)
        return [p.detach().clone() for p in detector.network.parameters()]

    assert all(torch.equal(a, b) for a, b in zip(initial(4), initial(4)))
    assert not all(torch.equal(a, b) for a, b in zip(initial(4), initial(5)))


def test_a_detector_scores_each_image_on_its_own() -> None:
    """Scoring runs in eval mode: an image's score does not depend on the batch it is scored in."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8, generator=gen)
    fake = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8, generator=gen)
    detector = SmallCNNDetector(seed=0, epochs=1)
    detector.fit(real, fake)
    together = detector.score(torch.cat([real[:3], fake[:3]]))
    alone = np.concatenate([detector.score(x[None]) for x in torch.cat([real[:3], fake[:3]])])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- timm detectors' inputs


def test_a_pretrained_timm_detector_normalizes_inputs_with_its_imagenet_statistics(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Pretrained weights get (x - ImageNet mean) / std per channel (grey: the channel averages); scratch gets [-1, 1]."""
    timm = pytest.importorskip("timm")
    torch.save(timm.create_model("efficientnet_b0", pretrained=False).state_dict(), tmp_path / "efficientnet_b0.pth")
    monkeypatch.setenv("GANBENCH_WEIGHTS", str(tmp_path))
    values = torch.tensor([0, 51, 128, 255], dtype=torch.uint8)
    rgb = values.view(1, 1, 2, 2).repeat(2, 3, 1, 1)
    detector = EfficientNetDetector(seed=0)
    detector.build(3, 32, 32)
    expected = torch.stack([(values.float() / 255 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])
    assert torch.allclose(detector.prepare(rgb)[0].view(3, 4), expected, atol=1e-6)
    grey = EfficientNetDetector(seed=0)
    grey.build(1, 32, 32)
    mean, std = sum(IMAGENET_MEAN) / 3, sum(IMAGENET_STD) / 3
    assert torch.allclose(grey.prepare(values.view(1, 1, 2, 2)).view(4), (values.float() / 255 - mean) / std,
                          atol=1e-6)
    scratch = EfficientNetDetector(seed=0, weights="scratch")
    scratch.build(1, 32, 32)
    assert torch.allclose(scratch.prepare(values.view(1, 1, 2, 2)).view(4), values.float() / 127.5 - 1, atol=1e-6)


# ---------------------------------------------------------------- one-class baseline


def test_one_class_keeps_as_many_components_as_pca_needs_for_95_percent_of_the_variance() -> None:
    """The kept subspace is scikit-learn's PCA(0.95) subspace: same count, same explained share, same span."""
    rng = np.random.default_rng(0)
    spread = 60.0 * 0.6 ** np.arange(16)
    pixels = (128 + rng.normal(size=(400, 16)) * spread).clip(0, 255).round().astype(np.uint8)
    detector = OneClassDetector()
    detector.fit(torch.from_numpy(pixels.reshape(400, 1, 4, 4)), torch.zeros(0, 1, 4, 4, dtype=torch.uint8))
    pca = PCA(n_components=0.95, svd_solver="full").fit(pixels / 255.0)
    assert len(detector.components) == pca.n_components_ > 2
    assert detector.explained == pytest.approx(float(pca.explained_variance_ratio_.sum()), abs=1e-9)
    ours = detector.components.T @ detector.components
    theirs = pca.components_.T @ pca.components_
    assert np.allclose(ours, theirs, atol=1e-8)


def test_one_class_scores_the_mean_squared_distance_to_the_pca_subspace() -> None:
    """An image's score is the mean squared difference between it and its PCA(0.95) reconstruction."""
    rng = np.random.default_rng(1)
    spread = 60.0 * 0.6 ** np.arange(16)
    pixels = (128 + rng.normal(size=(300, 16)) * spread).clip(0, 255).round().astype(np.uint8)
    tests = rng.integers(0, 256, (20, 16)).astype(np.uint8)
    detector = OneClassDetector()
    detector.fit(torch.from_numpy(pixels.reshape(300, 1, 4, 4)), torch.zeros(0, 1, 4, 4, dtype=torch.uint8))
    pca = PCA(n_components=0.95, svd_solver="full").fit(pixels / 255.0)
    x = tests / 255.0
    expected = ((x - pca.inverse_transform(pca.transform(x))) ** 2).mean(1)
    assert np.allclose(detector.score(torch.from_numpy(tests.reshape(20, 1, 4, 4))), expected, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- the detection flow

REAL_TRAIN, REAL_TEST = 10, 20
FAKE_CODES = {"a": (130, 135), "b": (140, 145), "c": (150, 155)}  # (detector_train, fresh)


def coded(code: int, n: int) -> torch.Tensor:
    """``n`` 2x2 images whose first pixel says the set (``code``) and the next two the index."""
    index = torch.arange(n)
    images = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
    images[:, 0, 0, 0], images[:, 0, 0, 1], images[:, 0, 1, 0] = code, index % 256, index // 256
    return images


def origin(images: torch.Tensor) -> list[tuple[int, int]]:
    """(set code, index) of each coded image."""
    flat = images.reshape(len(images), 4).long()
    return [(int(c), int(lo + 256 * hi)) for c, lo, hi in zip(flat[:, 0], flat[:, 1], flat[:, 2])]


class Recorder:
    """Keeps what it is fitted on and scores; its score is the set code, so fakes outscore reals."""

    def __init__(self) -> None:
        self.fitted: tuple[torch.Tensor, torch.Tensor] | None = None
        self.scored: list[torch.Tensor] = []

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        self.fitted = (real.clone(), fake.clone())

    def score(self, images: torch.Tensor) -> np.ndarray:
        self.scored.append(images.clone())
        return images[:, 0, 0, 0].double().numpy() / 255


def flow(monkeypatch: pytest.MonkeyPatch, n_train: int = 30, n_test: int = 20) -> tuple[DetectionUnits, dict, list]:
    """Detection units over coded reals and three generators' coded fakes, the engine running every unit."""
    monkeypatch.setattr(detection, "detection_unit", lambda *args, **kwargs: None)
    monkeypatch.setattr(detection, "null_check_unit", lambda *args, **kwargs: None)
    monkeypatch.setattr(detection, "detector_config", lambda spec: {"detector": spec.name})
    sets = {name: {"detector_train": coded(train, 40), "fresh": coded(fresh, 40)}
            for name, (train, fresh) in FAKE_CODES.items()}
    context = SimpleNamespace(
        config=SimpleNamespace(seed=0, preset=SimpleNamespace(n_detector_train=n_train, n_detector_test=n_test)),
        data=SimpleNamespace(x_train=coded(REAL_TRAIN, 60), x_test=coded(REAL_TEST, 80)),
        fakes=lambda record: sets[record.name], console=SimpleNamespace(print=lambda *a, **k: None), scope=None)
    done: list[tuple[dict[str, Any], SimpleNamespace]] = []

    def run(unit: object, compute: Any, blocked_by: object = None, **labels: Any) -> SimpleNamespace:
        record = SimpleNamespace(metrics=None, protocol=None, info=None)
        compute(record)
        done.append((labels, record))
        return record

    units = DetectionUnits.__new__(DetectionUnits)
    units.context, units.engine, units.external = context, SimpleNamespace(run=run), {}
    models: list[Recorder] = []

    def build(spec: object, label: str) -> Recorder:
        models.append(Recorder())
        return models[-1]

    monkeypatch.setattr(units, "build_detector", build)
    samples = {name: SimpleNamespace(name=name, key=f"key-{name}", ok=True) for name in FAKE_CODES}
    return units, samples, [done, models]


SPEC = SimpleNamespace(name="recorder", source="test", cls=Recorder)


def test_cross_generator_units_fit_on_train_fakes_and_test_on_each_generators_fresh_fakes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fit: real-train vs the training generator's detector_train fakes; test: held-out reals vs fresh fakes."""
    units, samples, (done, models) = flow(monkeypatch)
    training = TrainingSet("a", ("a",), (EvalUnit("a", "none", "in-distribution"),
                                         EvalUnit("b", "none", "cross-generator")))
    units.detector_evaluations(SPEC, training, samples, samples)
    (model,) = models
    real, fake = model.fitted
    assert {c for c, _ in origin(real)} == {REAL_TRAIN} and {c for c, _ in origin(fake)} == {FAKE_CODES["a"][0]}
    after_fit = [origin(batch) for batch in model.scored[2:]]
    reals = [o for batch in after_fit for o in batch if o[0] < 128]
    fakes = {c for batch in after_fit for c, _ in batch if c >= 128}
    assert fakes == {FAKE_CODES["a"][1], FAKE_CODES["b"][1]}
    held_out = set(split_for_fakes(80, FAKE_SETS, 0)[DETECTION_REALS].tolist())
    assert len(reals) == 20 and all(c == REAL_TEST and i in held_out for c, i in reals)
    assert [labels["generator"] for labels, _ in done] == ["a", "b"]


def test_fakes_are_the_positive_class_of_every_detection_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """A detector that scores every fake above every real gets AUC 1 and AP 1, not 0."""
    units, samples, (done, _) = flow(monkeypatch)
    training = TrainingSet("b", ("b",), (EvalUnit("b", "none", "in-distribution"),
                                         EvalUnit("c", "none", "cross-generator")))
    units.detector_evaluations(SPEC, training, samples, samples)
    for _, record in done:
        assert record.metrics["auc"] == pytest.approx(1.0) and record.metrics["ap"] == pytest.approx(1.0)
        assert record.protocol["n_real"] == record.protocol["n_fake"] == 20


def test_train_on_all_takes_an_equal_share_of_each_generators_training_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training on several generators mixes n // G detector_train fakes of each, n in all."""
    units, samples, _ = flow(monkeypatch, n_train=30)
    mixed = units.training_fakes(("a", "b", "c"), samples)
    found = origin(mixed)
    assert len(found) == 30
    for name in ("a", "b", "c"):
        assert sorted(i for c, i in found if c == FAKE_CODES[name][0]) == list(range(10))


def test_null_check_fits_and_tests_on_disjoint_halves_of_the_real_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real vs real: the two 'classes' are disjoint images, from the train split to fit and the test split to test."""
    units, _, (done, models) = flow(monkeypatch, n_train=25, n_test=30)
    units.null_check(SPEC)
    (model,) = models
    fit_a, fit_b = (origin(x) for x in model.fitted)
    assert {c for c, _ in fit_a + fit_b} == {REAL_TRAIN} and not set(fit_a) & set(fit_b)
    _, _, test_a, test_b = (origin(x) for x in model.scored)
    assert {c for c, _ in test_a + test_b} == {REAL_TEST}
    assert len(set(test_a)) == len(set(test_b)) == 30 and not set(test_a) & set(test_b)
    (_, record), = done
    assert record.protocol["n_real"] == record.protocol["n_fake"] == 30


class RealsOnlyRecorder(Recorder):
    """A :class:`Recorder` marked as a baseline that never sees a fake."""

    baseline = True


def test_reals_only_threshold_calls_at_most_five_percent_of_the_reals_fake() -> None:
    """The lowest threshold with at most floor(0.05 n) reals at or above it; ties stay on one side."""
    assert reals_only_threshold(np.arange(20.0)) == 19.0
    assert reals_only_threshold(np.arange(40.0)) == 38.0
    assert reals_only_threshold(np.r_[np.arange(18.0), 30.0, 30.0]) > 30.0
    assert reals_only_threshold(np.arange(10.0)) > 9.0


def test_a_baselines_threshold_ignores_the_validation_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A baseline keeps the same threshold whatever fakes it is given; a learned detector's moves with them."""
    units, _, _ = flow(monkeypatch)
    real = torch.cat([coded(REAL_TRAIN, 30), coded(REAL_TEST, 30)])
    baseline = SimpleNamespace(name="reals-only", source="test", cls=RealsOnlyRecorder)
    for spec, same in ((baseline, True), (SPEC, False)):
        monkeypatch.setattr(units, "build_detector", lambda spec, label, cls=spec.cls: cls())
        thresholds = [units.fit_detector(spec, "a", real, coded(code, 40))["threshold"] for code in (130, 200)]
        assert (thresholds[0] == thresholds[1]) is same
    fitted = units.fit_detector(baseline, "a", real, coded(130, 40))
    val_real = real[validation_split(len(real), derive_seed(derive_seed(0, "validation", "reals-only", "a"),
                                                            "real"))[1]]
    assert np.mean(fitted["model"].score(val_real) >= fitted["threshold"]) <= 0.05


def test_a_baselines_detection_records_say_their_threshold_saw_no_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records state the reals-only threshold of a baseline in the run's one threshold rule and carry the mark."""
    units, samples, (done, _) = flow(monkeypatch)
    monkeypatch.setattr(units, "build_detector", lambda spec, label: RealsOnlyRecorder())
    training = TrainingSet("a", ("a",), (EvalUnit("a", "none", "in-distribution"),))
    units.detector_evaluations(SimpleNamespace(name="reals-only", source="test", cls=RealsOnlyRecorder), training,
                               samples, samples)
    (_, record), = done
    assert "a baseline that sees no fake: its validation reals" in record.protocol["threshold"]
    assert record.info["baseline"] is True


def test_ganbench_detect_thresholds_the_one_class_baseline_on_its_validation_reals() -> None:
    """`ganbench detect` fits the one-class baseline as a run does: its threshold does not move with the fakes."""
    rng = np.random.default_rng(0)
    real = torch.from_numpy(rng.integers(0, 128, (60, 1, 4, 4), dtype=np.uint8))
    choice = parse_detector("one-class", ())
    prepared = [forensics.fit_detector(choice, RunSettings(seed=3), real,
                                       torch.from_numpy(rng.integers(low, low + 64, (60, 1, 4, 4), dtype=np.uint8)))
                for low in (64, 192)]
    assert prepared[0].threshold == prepared[1].threshold
    assert "no fakes seen" in prepared[0].threshold_source


def test_a_perturbed_unit_scores_reals_and_fakes_both_perturbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a perturbation the held-out reals and the fresh fakes are both scored perturbed, each with its seed."""
    units, samples, (done, models) = flow(monkeypatch)
    training = TrainingSet("a", ("a",), (EvalUnit("b", "noise:40", "robustness"),))
    units.detector_evaluations(SPEC, training, samples, samples)
    (model,) = models
    real_test = units.real_subset(units.detection_reals(), 20, "detector_test")
    real, fake = model.scored[2:]
    assert torch.equal(real, detection.perturb(real_test, "noise:40", derive_seed(0, "real")))
    assert torch.equal(fake, detection.perturb(coded(FAKE_CODES["b"][1], 40)[:20], "noise:40", derive_seed(0, "b")))
    assert not torch.equal(real, real_test) and not torch.equal(fake, coded(FAKE_CODES["b"][1], 20))


def test_a_detector_is_fitted_without_its_validation_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The images that set the threshold are held out of the fit, for reals and fakes alike."""
    units, _, (_, models) = flow(monkeypatch)
    real, fake = coded(REAL_TRAIN, 40), coded(130, 40)
    state = units.fit_detector(SPEC, "a", real, fake)
    (model,) = models
    val_real, val_fake = model.scored[:2]
    assert not set(origin(model.fitted[0])) & set(origin(val_real))
    assert not set(origin(model.fitted[1])) & set(origin(val_fake))
    assert state["n_train_real"] + len(val_real) == 40 and len(model.fitted[0]) == state["n_train_real"]


def test_detection_keys_name_every_training_generator_and_the_perturbation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit's key carries the keys of all the generators it was fitted on, the test set's key and the perturbation."""
    units, samples, _ = flow(monkeypatch)
    keyed: list[tuple] = []
    monkeypatch.setattr(detection, "detection_unit", lambda *args: keyed.append(args[2:]))
    training = TrainingSet("all", ("a", "b", "c"), (EvalUnit("b", "jpeg:70", "robustness"),))
    units.detector_evaluations(SPEC, training, samples, samples)
    assert keyed == [("all", ["key-a", "key-b", "key-c"], "b", "key-b", "jpeg:70")]


def test_a_failed_test_generator_blocks_its_detection_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit whose test fakes failed is blocked by that sample record; one whose fakes are fine is not."""
    units, samples, _ = flow(monkeypatch)
    samples["b"].ok = False
    blocked: list[object] = []
    units.engine = SimpleNamespace(run=lambda unit, compute, blocked_by=None, **labels: blocked.append(blocked_by))
    training = TrainingSet("a", ("a",), (EvalUnit("a", "none", "in-distribution"), EvalUnit("b", "none", "cross")))
    units.detector_evaluations(SPEC, training, samples, samples)
    assert blocked == [None, samples["b"]]


class Configured:
    """A detector constructor that keeps the run settings it is handed."""

    def __init__(self, seed: int, epochs: int) -> None:
        self.seed, self.epochs = seed, epochs


def test_a_detector_is_built_with_the_presets_epochs_and_a_seed_of_the_run_and_its_training_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run seed and each training set fit their own detector (its seed derived from both), for the
    preset's number of epochs."""
    units, _, _ = flow(monkeypatch)
    units.context.config.preset.detector_epochs = 3
    units.context.config.device = torch.device("cpu")
    spec = SimpleNamespace(name="configured", cls=Configured, arguments=())

    def built(seed: int, train_label: str) -> Configured:
        units.context.config.seed = seed
        return DetectionUnits.build_detector(units, spec, train_label)

    first = built(0, "a")
    assert first.epochs == 3 and first.seed == derive_seed(0, "configured", "a") == built(0, "a").seed
    assert len({first.seed, built(1, "a").seed, built(0, "b").seed}) == 3


def test_the_real_subsets_follow_the_run_seed_and_hold_at_most_the_images_there_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A real subset is n distinct images in split order, drawn again alike for one seed, otherwise for another."""
    units, _, _ = flow(monkeypatch)
    images = coded(REAL_TRAIN, 60)

    def drawn(seed: int, n: int = 20, purpose: str = "detector_train") -> list[int]:
        units.context.config.seed = seed
        return [i for _, i in origin(units.real_subset(images, n, purpose))]

    first = drawn(0)
    assert len(set(first)) == 20 and first == sorted(first) and first == drawn(0)
    assert drawn(1) != first and drawn(0, purpose="detector_test") != first
    assert drawn(0, n=100) == list(range(60))


def test_outside_fakes_are_tested_on_as_many_images_as_the_held_out_reals(monkeypatch: pytest.MonkeyPatch) -> None:
    """A larger ``--fakes`` set is cut to the number of held-out reals, so both classes weigh alike."""
    units, samples, (done, models) = flow(monkeypatch)
    units.external = {"outside": ExternalFakes("outside", "npz:outside.npz", coded(200, 50))}
    tests = {**samples, "outside": SimpleNamespace(key="key-outside", ok=True)}
    units.detector_evaluations(SPEC, TrainingSet("a", ("a",), (EvalUnit("outside", "none", "cross-generator"),)),
                               samples, tests)
    (_, record), = done
    assert record.protocol["fakes"] == "external"
    assert record.protocol["n_real"] == record.protocol["n_fake"] == 20
    (model,) = models
    assert origin(model.scored[-1]) == [(200, i) for i in range(20)]


def test_an_outside_fakes_set_may_take_neither_a_generators_name_nor_another_sets(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``--fakes dcgan=...`` would stand for the generator dcgan in every table; a name given twice for two sets."""
    np.savez(tmp_path / "outside.npz", x=coded(200, 4).numpy())
    units, _, _ = flow(monkeypatch)
    units.context.data.resolution, units.context.data.channels = 2, 1
    for names in (("dcgan",), ("mine", "mine")):
        units.external = {}
        units.context.config.fakes = tuple(f"{name}=npz:{tmp_path / 'outside.npz'}" for name in names)
        with pytest.raises(UserError, match="already a generator or another --fakes set"):
            units.load_external_fakes()
    units.external = {}
    units.context.config.fakes = (f"mine=npz:{tmp_path / 'outside.npz'}",)
    units.load_external_fakes()
    assert list(units.external) == ["mine"] and origin(units.external["mine"].images) == origin(coded(200, 4))


def test_a_failed_training_generator_blocks_every_unit_of_its_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the training generator's fakes no unit can be fitted: all are blocked by its sample record."""
    units, samples, _ = flow(monkeypatch)
    samples["a"].ok = False
    blocked: list[object] = []
    units.engine = SimpleNamespace(run=lambda unit, compute, blocked_by=None, **labels: blocked.append(blocked_by))
    training = TrainingSet("all", ("b", "a"), (EvalUnit("b", "none", "train-on-all"), EvalUnit("c", "none", "cross")))
    units.detector_evaluations(SPEC, training, samples, samples)
    assert blocked == [samples["a"], samples["a"]]
