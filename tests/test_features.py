"""Feature extractors: the FID Inception against pytorch-fid's port, timm backbones, offline errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F
from pytorch_fid import inception as pytorch_fid_inception
from typer.testing import CliRunner

import ganbench.features as features
from ganbench.cli import app
from ganbench.errors import UserError
from ganbench.inception import trunk_hash
from ganbench.features import (INCEPTION_ENV, InceptionExtractor, TimmExtractor, check_extractor_name,
                               resize_for_network)


def reference_fid_network() -> torch.nn.Module:
    """pytorch-fid's FID Inception graph, randomly initialised (its own builder would download weights)."""
    p = pytorch_fid_inception
    net = p._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b, net.Mixed_5c = p.FIDInceptionA(192, 32), p.FIDInceptionA(256, 64)
    net.Mixed_5d = p.FIDInceptionA(288, 64)
    net.Mixed_6b, net.Mixed_6c = p.FIDInceptionC(768, 128), p.FIDInceptionC(768, 160)
    net.Mixed_6d, net.Mixed_6e = p.FIDInceptionC(768, 160), p.FIDInceptionC(768, 192)
    net.Mixed_7b, net.Mixed_7c = p.FIDInceptionE_1(1280), p.FIDInceptionE_2(2048)
    gen = torch.Generator().manual_seed(0)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.8, 1.2, generator=gen)
            module.reset_running_stats()
            module.momentum = None
    # batch-norm statistics of the layers' own activations: with the default ones a random network's
    # activations shrink layer by layer until every image gives the same features
    with torch.no_grad():
        net.train()(torch.rand(4, 3, 299, 299, generator=gen) * 2 - 1)
        # logits of order one, so that the softmax is not saturated, and a classifier bias that moves them:
        # the Inception Score's logits leave the bias out, as the original code does
        net.fc.weight.mul_(0.02)
        net.fc.bias.uniform_(-1.0, 1.0, generator=gen)
    return net.eval()


def test_inception_matches_pytorch_fid_pipeline_with_the_same_weights(tmp_path: Path, monkeypatch):
    reference = reference_fid_network()
    weights = tmp_path / "fid_inception.pth"
    torch.save(reference.state_dict(), weights)
    extractor = InceptionExtractor(weights)  # strict load: same parameter names and shapes
    monkeypatch.setattr(pytorch_fid_inception, "fid_inception_v3", lambda: reference)
    pipeline = pytorch_fid_inception.InceptionV3([3], resize_input=True, normalize_input=True).eval()

    images = torch.randint(0, 256, (2, 1, 24, 24), dtype=torch.uint8)
    ours = extractor.extract(images)
    with torch.inference_mode():
        expected = pipeline(images.expand(-1, 3, -1, -1).float() / 255)[0].flatten(1)
        logits = expected @ reference.fc.weight.T
    assert ours.features.shape == (2, 2048) and ours.probs is not None and ours.probs.shape == (2, 1008)
    assert (expected[0] - expected[1]).abs().mean() > 1e-2 * expected.abs().mean()  # features follow the image
    torch.testing.assert_close(ours.features, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.probs, torch.softmax(logits.double(), 1).float(), rtol=1e-4, atol=1e-7)
    assert 0.005 < ours.probs.max() < 0.5  # not saturated: a change of the logits shows in the probabilities
    protocol = extractor.protocol()
    assert protocol["weights"] == trunk_hash(extractor.model) and protocol["resize"].startswith("bilinear-299")


def test_inception_without_weights_offline_is_one_clear_user_error(monkeypatch):
    def offline() -> Path:
        raise OSError("network unreachable")

    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    monkeypatch.setattr(features, "download_inception_weights", offline)
    monkeypatch.setattr(features, "packaged_weights", lambda: None)
    with pytest.raises(UserError) as info:
        InceptionExtractor()
    message = str(info.value)
    assert "\n" not in message and "--inception-weights PATH" in message and INCEPTION_ENV in message
    monkeypatch.setenv(INCEPTION_ENV, "/nonexistent/pt_inception.pth")
    with pytest.raises(UserError, match="does not exist"):
        InceptionExtractor()


def test_inception_rejects_a_file_that_is_not_its_state_dict(tmp_path: Path):
    bad = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(UserError, match="not the FID Inception state dict"):
        InceptionExtractor(bad)


def test_resize_is_bilinear_to_the_network_size_and_grey_becomes_rgb():
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    x = resize_for_network(images, (20, 20), "bilinear")
    assert x.shape == (3, 3, 20, 20) and 0 <= x.min() and x.max() <= 1
    expected = torch.nn.functional.interpolate(images.float() / 255, size=(20, 20), mode="bilinear",
                                               align_corners=False)
    torch.testing.assert_close(x[:, 1:2], expected)


def test_antialiasing_applies_when_either_side_shrinks_and_enlarging_is_plain_interpolation():
    """An 8x40 image shrinks in width only and is antialiased; an 8x8 one is enlarged by plain bicubic
    interpolation (torch's antialiased bicubic uses another kernel, a = -0.5, even when enlarging)."""
    images = torch.randint(0, 256, (2, 3, 8, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x = images.float() / 255
    shrunk = resize_for_network(images, (20, 20), "bilinear")
    torch.testing.assert_close(shrunk, F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False,
                                                     antialias=True))
    assert (shrunk - F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)).abs().max() > 0.05
    enlarged = resize_for_network(images[..., :8], (20, 20), "bicubic")
    torch.testing.assert_close(enlarged, F.interpolate(x[..., :8], size=(20, 20), mode="bicubic", align_corners=False))


def test_timm_extractor_loads_a_local_weights_file_and_batches_exactly(tmp_path: Path):
    source = timm.create_model("test_resnet", pretrained=False)
    weights = tmp_path / "test_resnet.pth"
    torch.save(source.state_dict(), weights)
    extractor = TimmExtractor("test_resnet", weights)
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    whole, batched = extractor.extract(images), extractor.extract(images, batch_size=2)
    assert whole.features.shape == (5, source.num_features) and whole.probs is None
    torch.testing.assert_close(whole.features, batched.features)
    source.reset_classifier(0)
    x = resize_for_network(images, extractor.input_size, extractor.resize_mode)
    with torch.inference_mode():
        torch.testing.assert_close(whole.features, source.eval()((x - 0.5) / 0.5))
    protocol = extractor.protocol()
    assert protocol["extractor"] == "timm:test_resnet" and protocol["resize"].startswith("bilinear-160x160")
    assert extractor.model.pretrained_cfg["crop_pct"] < 1 and "without the model's centre crop" in protocol["resize"]


def test_timm_features_follow_the_models_own_interpolation_and_normalisation(tmp_path: Path):
    """A bicubic, ImageNet-normalised backbone sees its images resized bicubically and as (x - mean) / std."""
    source = timm.create_model("test_efficientnet", pretrained=False)
    weights = tmp_path / "test_efficientnet.pth"
    torch.save(source.state_dict(), weights)
    extractor = TimmExtractor("test_efficientnet", weights)
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x = F.interpolate(images.float() / 255, size=(160, 160), mode="bicubic", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    source.reset_classifier(0)
    with torch.inference_mode():
        expected = source.eval()((x - mean) / std)
    torch.testing.assert_close(extractor.extract(images).features, expected)
    assert extractor.protocol()["resize"].startswith("bicubic-160x160")


def test_timm_errors_are_user_errors(monkeypatch):
    with pytest.raises(UserError, match="unknown timm model"):
        TimmExtractor("resnet_that_does_not_exist")

    def offline(*args, **kwargs):
        raise OSError("could not reach the hub")

    monkeypatch.setattr(features, "local_weights", lambda name: None)
    monkeypatch.setattr("ganbench.pretrained_weights.reachable", lambda host, port=443, timeout=0.0: True)
    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(UserError, match="--extractor-weights PATH") as info:
        TimmExtractor("test_resnet", pretrained=True)
    assert "\n" not in str(info.value)


def test_extractor_names_are_checked():
    check_extractor_name("classifier")
    check_extractor_name("timm:resnet50")
    for bad, match in (("timm", "timm:<model name>"), ("inceptoin", "did you mean 'inception'")):
        with pytest.raises(UserError, match=match):
            check_extractor_name(bad)
    result = CliRunner().invoke(app, ["run", "--extractor", "incepton", "--out", "unused"])
    assert result.exit_code == 2 and "did you mean 'inception'" in result.output


def test_list_extractors_shows_every_extractor():
    result = CliRunner().invoke(app, ["list", "extractors", "--json"])
    assert result.exit_code == 0
    assert {"classifier", "inception", "timm"} <= {row["name"] for row in json.loads(result.stdout)}


def test_a_pretrained_extractors_key_follows_the_weights_content_not_the_path(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ganbench.features import weights_identity
    from ganbench.store import file_digest

    weights = tmp_path / "w.pth"
    weights.write_bytes(b"first weights")
    first = weights_identity("timm:resnet18", weights)
    weights.write_bytes(b"other weights, same path")
    assert weights_identity("timm:resnet18", weights) == f"sha256:{file_digest(weights)}" != first
    assert weights_identity("timm:resnet18", None) == "hub:resnet18"
    assert weights_identity("classifier", None) is None
    monkeypatch.setenv(INCEPTION_ENV, str(weights))
    assert weights_identity("inception", None) == f"sha256:{file_digest(weights)}"


def test_an_explicit_inception_weights_file_wins_over_the_environment(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from ganbench.features import local_inception_weights, weights_identity
    from ganbench.store import file_digest

    given, from_env = tmp_path / "given.pth", tmp_path / "from_env.pth"
    given.write_bytes(b"the weights asked for")
    from_env.write_bytes(b"the environment's weights")
    monkeypatch.setenv(INCEPTION_ENV, str(from_env))
    assert local_inception_weights(given) == given
    assert weights_identity("inception", given) == f"sha256:{file_digest(given)}"
    assert local_inception_weights(None) == from_env


def test_a_download_that_fails_its_checksum_is_refused_and_not_cached(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    urls: list[str] = []

    def download(url: str, timeout: float) -> io.BytesIO:
        urls.append(url)
        return io.BytesIO(b"an error page, not the weights")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(features.urllib.request, "urlopen", download)
    with pytest.raises(OSError, match="sha256 prefix 6726825d"):
        features.download_inception_weights()
    assert urls == [features.INCEPTION_URL]
    assert not features.cached_inception_weights().exists()


class ResizeRecorder(features.FeatureExtractor):
    """A stand-in for the Inception a run builds: the first pixels as features; it keeps the resize it was asked for."""

    name = "inception"
    description = "first pixels"
    weights_hash = "pixels"
    device = torch.device("cpu")
    has_probs = False

    def __init__(self, resize: str) -> None:
        self.resize = resize

    def protocol(self) -> dict[str, object]:
        return {"extractor": "inception", "weights": self.weights_hash,
                "resize": features.INCEPTION_RESIZES[self.resize]}

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return images.float().flatten(1)[:, :8], None


def test_a_runs_inception_resize_reaches_its_extractor_its_key_and_its_record(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def stand_in(spec: str, weights: Path | None, device: torch.device, resize: str = "pytorch-fid") -> ResizeRecorder:
        built.append(resize)
        return ResizeRecorder(resize)

    monkeypatch.setattr("ganbench.generation.pretrained_extractor", stand_in)
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"stand-in weights")
    common = ["train", "dcgan", "--preset", "smoke", "--extractor", "inception", "--inception-weights", str(weights),
              "--out", str(tmp_path / "run"), "-q"]
    for resize in ("clean", "tensorflow", "clean"):
        result = CliRunner().invoke(app, [*common, "--inception-resize", resize])
        assert result.exit_code == 0, result.output
    assert built == ["clean", "tensorflow"]
    scored = [json.loads(p.read_text()) for p in (tmp_path / "run" / "records").glob("*.json")]
    scored = [r for r in scored if r["kind"] == "generation"]
    assert all({"classes_covered", "class_kl"} <= set(r["metrics"]) for r in scored), "digits' classes are counted"
    scored = {r["protocol"]["resize"]: r["key"] for r in scored}
    assert set(scored) == {features.INCEPTION_RESIZES[r] for r in ("clean", "tensorflow")}
    assert len(set(scored.values())) == 2
