"""Each detector's defining property, the shared CNN trainer and the construction convention."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from torch import nn

from ganbench.detectors import DETECTORS, RunSettings, build_detector
from ganbench.detectors.augment import AugmentDraw, BlurJpeg, BlurJpegConfig
from ganbench.detectors.cnn import EfficientNetDetector, ResNet50Detector, TimmDetector, XceptionDetector
from ganbench.detectors.dct import DCTConfig, DCTDetector, dct2, log_dct_features
from ganbench.detectors.npr import NPRConfig, NPRDetector, npr_residual
from ganbench.detectors.perturbations import blur, jpeg
from ganbench.detectors.probe import ProbeConfig, ProbeDetector, timm_backbone
from ganbench.detectors.small_cnn import SmallCNNDetector
from ganbench.detectors.spectrum import SpectrumDetector, azimuthal_average
from ganbench.detectors.training import CNNDetector
from ganbench.errors import UserError


def checkered(real: torch.Tensor, amplitude: int = 24) -> torch.Tensor:
    """Fakes with an up-sampling-like period-2 pattern added (what the detectors should catch)."""
    h, w = real.shape[-2:]
    pattern = ((torch.arange(h).view(-1, 1) + torch.arange(w).view(1, -1)) % 2 * 2 - 1) * amplitude
    return (real.short() + pattern).clamp(0, 255).to(torch.uint8)


def auc(detector, real: torch.Tensor, fake: torch.Tensor) -> float:
    scores = np.concatenate([detector.score(real), detector.score(fake)])
    return roc_auc_score(np.r_[np.zeros(len(real)), np.ones(len(fake))], scores)


def test_registry_lists_every_detector_with_paper_and_year() -> None:
    assert DETECTORS.names() == ["spectrum", "dct", "cnn-resnet50", "xception", "efficientnet", "npr", "probe",
                                 "small-cnn", "one-class"]
    for _, cls in DETECTORS:
        assert cls.paper and 2000 < cls.year < 2030


def test_run_settings_reach_only_the_arguments_a_class_names() -> None:
    class NoArgs:
        def fit(self, real, fake): ...
        def score(self, images): ...

    settings = RunSettings(seed=7, epochs=3, device=torch.device("cpu"))
    assert isinstance(build_detector(NoArgs, settings), NoArgs)
    cnn = build_detector(SmallCNNDetector, settings)
    assert (cnn.seed, cnn.config.epochs) == (7, 3)
    with pytest.raises(UserError, match="reference classifier"):
        build_detector(ProbeDetector, settings)


def test_a_run_offers_its_extractor_and_every_setting_to_the_classes_that_take_them() -> None:
    """A constructor naming ``extractor`` gets the run's; one taking ``**kwargs`` gets every setting."""
    class NamesExtractor:
        def __init__(self, extractor=None, seed: int = 0) -> None:
            self.extractor, self.seed = extractor, seed

    class TakesAll:
        def __init__(self, **settings) -> None:
            self.settings = settings

    extractor = object()
    settings = RunSettings(seed=7, epochs=3, device=torch.device("cpu"), extractor=extractor)
    named = build_detector(NamesExtractor, settings)
    assert named.extractor is extractor and named.seed == 7
    assert build_detector(TakesAll, settings).settings == {"seed": 7, "epochs": 3, "device": torch.device("cpu"),
                                                           "extractor": extractor}
    assert build_detector(NamesExtractor, RunSettings(seed=7)).extractor is None


def test_spectrum_features_ignore_a_circular_shift(digits) -> None:
    x = digits.x_test[:8]
    shifted = torch.roll(x, shifts=(5, -3), dims=(2, 3))
    assert np.allclose(azimuthal_average(x), azimuthal_average(shifted), atol=1e-9)
    assert not np.allclose(azimuthal_average(x), azimuthal_average(checkered(x)))


def test_frequency_features_and_scores_do_not_depend_on_chunking(digits) -> None:
    x = digits.x_train[:1100].repeat(3, 1, 1, 1)  # crosses the 1024-image chunk boundary three times
    whole = azimuthal_average(x)
    assert whole.shape[0] == 3300
    assert np.allclose(whole[1020:1030], np.concatenate([azimuthal_average(x[i : i + 1]) for i in range(1020, 1030)]))
    assert azimuthal_average(x[:0]).shape == (0, whole.shape[1])
    detector = DCTDetector()
    detector.fit(digits.x_train[:100], checkered(digits.x_train[100:200]))
    scores = detector.score(x)
    assert scores.shape == (3300,) and np.allclose(scores[1024:1030], detector.score(x[1024:1030]))


def test_dct_features_are_log_magnitude_orthonormal_dct(digits) -> None:
    fft = pytest.importorskip("scipy.fft")
    x = digits.x_test[:4]
    gray = x[:, 0].double().numpy()
    reference = np.log(np.abs(fft.dctn(gray, axes=(1, 2), norm="ortho")) + 1e-3).reshape(4, -1)
    assert np.allclose(log_dct_features(x), reference, atol=1e-8)
    flat = torch.full((1, 1, 8, 8), 100, dtype=torch.float64)
    coefficients = dct2(flat)[0, 0]
    assert coefficients[0, 0] == pytest.approx(800.0) and float(coefficients.abs().sum()) == pytest.approx(800.0)


def test_dct_features_of_a_colour_image_are_those_of_its_bt601_luma() -> None:
    """A flat (200, 100, 50) 8x8 image has luma 124.2 everywhere: its only DCT coefficient is the
    DC one, 8 * 124.2 = 993.6, and every other feature is log(eps)."""
    image = torch.tensor([200, 100, 50], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    features = log_dct_features(image)[0]
    assert features[0] == pytest.approx(np.log(993.6 + 1e-3), rel=1e-9)
    assert np.allclose(features[1:], np.log(1e-3), atol=1e-6)


def standardized_logistic(train_real: np.ndarray, train_fake: np.ndarray, test: np.ndarray, c: float) -> np.ndarray:
    """P(fake) of an L2-regularized logistic regression at ``c`` on features standardized with the training set's."""
    features = np.concatenate([train_real, train_fake])
    labels = np.r_[np.zeros(len(train_real)), np.ones(len(train_fake))]
    scaler = StandardScaler().fit(features)
    model = LogisticRegression(C=c, max_iter=5000, random_state=0).fit(scaler.transform(features), labels)
    return model.predict_proba(scaler.transform(test))[:, 1]


def test_frequency_detectors_are_standardized_logistic_regressions_on_their_features(digits) -> None:
    """The spectrum detector is a logistic regression at C = 1 and the DCT detector one at C = 0.01,
    each on its features standardized with the training set's mean and deviation; the DCT
    detector fits and scores at its own log floor, and a loaded one at the saved floor."""
    real, fake = digits.x_train[:40], checkered(digits.x_train[40:80], amplitude=4)
    test = torch.cat([digits.x_test[:10], checkered(digits.x_test[10:20], amplitude=4)])
    spectrum = SpectrumDetector()
    spectrum.fit(real, fake)
    expected = standardized_logistic(azimuthal_average(real), azimuthal_average(fake), azimuthal_average(test), 1.0)
    np.testing.assert_allclose(spectrum.score(test), expected, rtol=1e-6, atol=1e-9)
    for eps in (1e-3, 0.5):
        dct = DCTDetector() if eps == 1e-3 else DCTDetector(config=DCTConfig(eps=eps))
        dct.fit(real, fake)
        features = (log_dct_features(real, eps), log_dct_features(fake, eps), log_dct_features(test, eps))
        expected = standardized_logistic(*features, 0.01)
        np.testing.assert_allclose(dct.score(test), expected, rtol=1e-6, atol=1e-9)
        loaded = DCTDetector()
        loaded.load_state(dct.state())
        np.testing.assert_allclose(loaded.score(test), expected, rtol=1e-6, atol=1e-9)


def test_frequency_detectors_catch_a_periodic_artifact(digits) -> None:
    real, fake = digits.x_train[:200], checkered(digits.x_train[200:400])
    test_real, test_fake = digits.x_test[:100], checkered(digits.x_test[100:200])
    for detector in (SpectrumDetector(), DCTDetector()):
        detector.fit(real, fake)
        assert auc(detector, test_real, test_fake) > 0.95


def test_npr_residual_vanishes_on_nearest_upsampled_images(digits) -> None:
    small = digits.x_test[:4, :, ::2, ::2].float()
    upsampled = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    assert float(npr_residual(upsampled).abs().max()) == 0.0
    assert float(npr_residual(digits.x_test[:4].float()).abs().max()) > 10
    odd = torch.rand(2, 1, 15, 17)
    assert npr_residual(odd).shape == (2, 1, 14, 16)


def test_augmentation_blurs_as_much_relative_to_the_image_side_at_any_size(digits) -> None:
    """The paper's largest blur (sigma 3 on its 256-px images) keeps a 32-px digit, as it keeps a photograph;
    applied in pixels it would erase much of the digit. A 256-px image gets the drawn sigma itself."""
    digit = digits.x_test[:1]
    strongest = [AugmentDraw(3.0, None)]
    kept = BlurJpeg.apply(digit, strongest).float()
    erased = blur(digit, 3.0).float()
    detail = (digit.float() - digit.float().mean()).abs().mean()
    assert (kept - digit.float()).abs().mean() < 0.1 * detail < (erased - digit.float()).abs().mean()
    large = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 1, 256, 256), dtype=np.uint8))
    assert torch.equal(BlurJpeg.apply(large, strongest), blur(large, 3.0))


def test_augmentation_applies_jpeg_at_the_drawn_quality(digits) -> None:
    assert BlurJpegConfig() == BlurJpegConfig(0.5, (0.0, 3.0), 0.5, (30, 100))
    images = digits.x_test[:12]
    only_jpeg = BlurJpeg(BlurJpegConfig(blur_prob=0.0, jpeg_prob=1.0))
    out = only_jpeg(images, np.random.default_rng(0))
    qualities = [d.quality for d in only_jpeg.last_draws]
    assert all(30 <= q <= 100 for q in qualities) and len(set(qualities)) > 6
    for i, q in enumerate(qualities):
        assert torch.equal(out[i], jpeg(images[i : i + 1], q)[0])
    only_blur = BlurJpeg(BlurJpegConfig(blur_prob=1.0, jpeg_prob=0.0))
    out = only_blur(images, np.random.default_rng(1))
    for i, d in enumerate(only_blur.last_draws):
        assert d.quality is None and 0 <= d.sigma <= 3
        assert torch.equal(out[i], blur(images[i : i + 1], d.sigma * images.shape[-1] / 256)[0])
    draws = BlurJpeg().draw(2000, np.random.default_rng(2))
    assert 0.45 < np.mean([d.quality is not None for d in draws]) < 0.55
    assert 0.45 < np.mean([d.sigma is not None for d in draws]) < 0.55


def test_probe_backbone_stays_frozen(digits) -> None:
    backbone = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2))
    before = [p.detach().clone() for p in backbone.parameters()]
    probe = ProbeDetector(backbone=backbone)
    real, fake = digits.x_train[:150], checkered(digits.x_train[150:300], 40)
    probe.fit(real, fake)
    assert all(torch.equal(a, b) for a, b in zip(before, backbone.parameters()))
    assert all(not p.requires_grad for p in backbone.parameters()) and not backbone.training
    assert auc(probe, digits.x_test[:80], checkered(digits.x_test[80:160], 40)) > 0.8
    with pytest.raises(UserError):
        ProbeDetector(backbone="vgg")


def test_probe_is_a_standardized_logistic_regression_on_the_backbones_features(digits) -> None:
    """Scores are those of scikit-learn's StandardScaler + LogisticRegression (the configured C) fitted on
    the frozen backbone's flattened features of the images mapped to [-1, 1]."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2))
    real, fake, test = digits.x_train[:60], checkered(digits.x_train[60:120], 40), digits.x_test[:30]

    def features(images: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return backbone(images.float() / 127.5 - 1).flatten(1).double().numpy()

    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000))
    reference.fit(np.concatenate([features(real), features(fake)]), np.r_[np.zeros(60), np.ones(60)])
    probe = ProbeDetector(backbone=backbone, config=ProbeConfig(C=0.05))
    probe.fit(real, fake)
    assert np.allclose(probe.score(test), reference.predict_proba(features(test))[:, 1], atol=1e-6)


def test_probe_timm_backbone_sees_three_channels_at_its_input_size_normalized_by_its_statistics(
        monkeypatch, tmp_path) -> None:
    """A ``timm:`` backbone gets grey images as three equal channels, bicubically resized to its input size,
    in [0, 1] less its mean over its std."""
    timm = pytest.importorskip("timm")
    torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), tmp_path / "test_resnet.pth")
    monkeypatch.setenv("GANBENCH_WEIGHTS", str(tmp_path))
    model, prepare = timm_backbone("timm:test_resnet")
    cfg = model.pretrained_cfg
    images = torch.randint(0, 256, (2, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    side = cfg["input_size"][-2:]
    unit = F.interpolate(images.float().div(255).repeat(1, 3, 1, 1), size=side, mode="bicubic",
                         align_corners=False).clamp(0, 1)
    mean, std = torch.tensor(cfg["mean"]).view(1, 3, 1, 1), torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    assert tuple(side) == (160, 160) and not torch.equal(mean, torch.zeros_like(mean))
    torch.testing.assert_close(prepare(images), (unit - mean) / std)


def test_cnn_detectors_share_one_trainer_and_small_cnn_learns(digits16) -> None:
    for cls in (ResNet50Detector, XceptionDetector, EfficientNetDetector, NPRDetector, SmallCNNDetector):
        assert issubclass(cls, CNNDetector) and cls.fit is CNNDetector.fit
    detector = SmallCNNDetector(seed=0, epochs=3)
    real, fake = digits16.x_train[:192], checkered(digits16.x_train[192:384])
    detector.fit(real, fake, validation=(digits16.x_train[400:432], checkered(digits16.x_train[432:464])))
    assert detector.history.losses[-1] < detector.history.losses[0]
    assert len(detector.history.val_losses) == 3 and detector.describe()["best_epoch"] >= 1
    assert auc(detector, digits16.x_test[:64], checkered(digits16.x_test[64:128])) > 0.9
    scores = detector.score(digits16.x_test[:5])
    assert scores.shape == (5,) and np.all((scores >= 0) & (scores <= 1))


def test_small_cnn_stages_are_conv_bn_relu_halved_between_and_averaged_to_a_logit() -> None:
    """16, 32 and 64 channels at the full, half and quarter side (2x2 max pooling between stages),
    each a bias-free 3x3 convolution normalised over the batch before its ReLU; the logit reads the
    spatial means of the last stage. Built for the images' own channel count."""
    torch.manual_seed(0)
    network = SmallCNNDetector().build(1, 16, 16).train()
    convolutions = [m for m in network.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.kernel_size == (3, 3) and c.bias is None for c in convolutions)
    seen: dict[str, list[torch.Tensor]] = {"conv": [], "relu_in": [], "relu_out": []}
    for conv in convolutions:
        conv.register_forward_hook(lambda m, args, out: seen["conv"].append(out))
    for relu in (m for m in network.modules() if isinstance(m, nn.ReLU)):
        relu.register_forward_pre_hook(lambda m, args: seen["relu_in"].append(args[0].clone()))
        relu.register_forward_hook(lambda m, args, out: seen["relu_out"].append(out))
    x = torch.randn(8, 1, 16, 16) * 3 + 1
    logits = network(x)
    assert [tuple(c.shape[1:]) for c in seen["conv"]] == [(16, 16, 16), (32, 8, 8), (64, 4, 4)]
    for pre_activation in seen["relu_in"]:
        torch.testing.assert_close(pre_activation.mean((0, 2, 3)), torch.zeros(pre_activation.shape[1]),
                                   atol=1e-4, rtol=0)
        torch.testing.assert_close(pre_activation.var((0, 2, 3), unbiased=False),
                                   torch.ones(pre_activation.shape[1]), atol=1e-2, rtol=0)
    features = seen["relu_out"][-1].mean((2, 3))
    assert logits.shape == (8, 1)
    torch.testing.assert_close(logits, network.head(features))


def test_npr_detector_trains_on_residuals(digits16) -> None:
    detector = NPRDetector(seed=0, epochs=4)
    detector.architecture = NPRConfig(widths=(8, 16), blocks_per_stage=1)
    detector.config = replace(detector.config, lr=1e-3)
    real, fake = digits16.x_train[:128], checkered(digits16.x_train[128:256])
    detector.fit(real, fake)
    assert auc(detector, digits16.x_test[:48], checkered(digits16.x_test[48:96])) > 0.9


@pytest.mark.parametrize("cls", [ResNet50Detector, XceptionDetector, EfficientNetDetector])
def test_timm_detectors_forward_small_images(cls, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("ganbench.detectors.cnn.local_weights", lambda name: None)
    detector = cls(seed=0, epochs=1)
    network = detector.build(1, 32, 32).eval()
    assert detector.weights_used == "scratch" and detector.config.augment == BlurJpegConfig()
    with torch.no_grad():
        logits = network(detector.prepare(torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8)))
    assert logits.shape == (2, 1) and torch.isfinite(logits).all()


def test_timm_detectors_are_the_papers_networks_trained_as_wang_et_al() -> None:
    """ResNet-50 (3, 4, 6, 3 bottleneck blocks), Chollet's Xception and EfficientNet-B0 (1, 2, 2, 3, 3, 4, 1
    blocks to 1280 channels), each with one logit, trained with Adam lr 1e-4 (0.9, 0.999), batch 64 and
    Blur+JPEG (0.5)."""
    pytest.importorskip("timm")
    resnet = ResNet50Detector(weights="scratch").build(1, 32, 32)
    assert [len(getattr(resnet, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    assert type(resnet.layer1[0]).__name__ == "Bottleneck" and resnet.fc.out_features == 1
    xception = XceptionDetector(weights="scratch").build(1, 32, 32)
    assert type(xception).__name__ == "Xception" and xception.fc.out_features == 1
    efficientnet = EfficientNetDetector(weights="scratch").build(1, 32, 32)
    assert [len(stage) for stage in efficientnet.blocks] == [1, 2, 2, 3, 3, 4, 1]
    assert efficientnet.conv_head.out_channels == 1280 and efficientnet.classifier.out_features == 1
    for cls in (ResNet50Detector, XceptionDetector, EfficientNetDetector):
        config = cls().config
        assert (config.lr, config.betas, config.batch_size, config.weight_decay) == (1e-4, (0.9, 0.999), 64, 0.0)
        assert config.augment == BlurJpegConfig(0.5, (0.0, 3.0), 0.5, (30, 100))


def test_timm_weights_come_from_a_local_file(monkeypatch, tmp_path) -> None:
    timm = pytest.importorskip("timm")
    source = timm.create_model("efficientnet_b0", pretrained=False)
    torch.save(source.state_dict(), tmp_path / "efficientnet_b0.pth")
    monkeypatch.setenv("GANBENCH_WEIGHTS", str(tmp_path))
    detector = EfficientNetDetector(seed=0)
    network = detector.build(1, 32, 32)
    assert detector.weights_used == "imagenet (efficientnet_b0.pth)"
    assert torch.allclose(network.conv_stem.weight, source.conv_stem.weight.sum(1, keepdim=True))
    assert detector.describe()["weights"] == detector.weights_used
    with pytest.raises(UserError, match="no such weights file"):
        TimmDetector(weights=str(tmp_path / "missing.pth")).build(1, 32, 32)
