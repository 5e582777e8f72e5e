"""Published detectors from local files of the released layouts (random weights, real key names)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.detectors.published import (CLIP_MEAN, CLIP_STD, UNIVFD_ARCHITECTURE, CNNDetection, UnivFD,
                                          clip_embedding_width, tensors_of)
from ganbench.errors import UserError


SMALL_CLIP = "vit_xsmall_patch16_clip_224"  # TinyCLIP: the key names of CLIP ViT-L/14, 8M parameters
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def normalized(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    x = images.float() / 255
    x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def random_images(n: int, channels: int, h: int, w: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, h, w), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.fixture(scope="module")
def cnndetection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """``blur_jpg_prob0.5.pth``'s layout: {"model": ResNet-50 state dict with a 1-output fc, ...}."""
    import timm

    torch.manual_seed(3)
    state = timm.create_model("resnet50", num_classes=1, pretrained=False).state_dict()
    path = tmp_path_factory.mktemp("cnndetection") / "blur_jpg_prob0.5.pth"
    torch.save({"model": state, "total_steps": 7}, path)
    return path, state


def test_timm_resnet50_has_torchvisions_key_names_and_shapes() -> None:
    import timm

    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):
        theirs = torchvision.models.resnet50(num_classes=1).state_dict()
        ours = timm.create_model("resnet50", num_classes=1, pretrained=False).state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in theirs)


def test_cnndetection_scores_are_the_checkpoints_logits_on_imagenet_normalized_inputs(cnndetection: tuple) -> None:
    path, state = cnndetection
    detector = CNNDetection()
    detector.load_checkpoint(path)
    loaded = detector.network.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    for images in (random_images(3, 1, 32, 32, 0), random_images(2, 3, 40, 56, 1)):
        with torch.inference_mode():
            expected = detector.network(normalized(images, *IMAGENET)).view(-1).double().numpy()
        assert np.allclose(detector.score(images), expected, atol=1e-5)
    assert detector.outputs_probability is False


def test_a_bare_or_data_parallel_state_dict_is_accepted() -> None:
    weight = torch.ones(1, 2048)
    for checkpoint in ({"fc.weight": weight}, {"module.fc.weight": weight}, {"model": {"fc.weight": weight}}):
        assert torch.equal(tensors_of(checkpoint, Path("x"), "checkpoint")["fc.weight"], weight)


def save_pngs(folder: Path, images: torch.Tensor) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).squeeze(-1).numpy()).save(folder / f"{i}.png")


def test_cnndetection_through_the_cli_thresholds_logits_at_zero(cnndetection: tuple, tmp_path: Path) -> None:
    save_pngs(tmp_path / "gan" / "0_real", random_images(2, 3, 24, 24, 2))
    save_pngs(tmp_path / "gan" / "1_fake", random_images(2, 3, 24, 24, 3))
    result = CliRunner().invoke(app, ["detect", "--detector", f"cnndetection@{cnndetection[0]}", "--root",
                                      str(tmp_path), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    protocol = document["protocol"]["detectors"]["cnndetection@blur_jpg_prob0.5.pth"]
    assert protocol["threshold"] == 0.0 and protocol["threshold_source"] == "0 (logit scores, no validation data)"
    assert [(r["n_real"], r["n_fake"]) for r in document["results"]] == [(2, 2)]


@pytest.fixture(scope="module")
def univfd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, torch.Tensor]]:
    """A small CLIP ViT of ViT-L/14's key names (timm layout) and a UnivFD head ``fc.weight``/``fc.bias``."""
    import timm

    torch.manual_seed(4)
    width = clip_embedding_width(SMALL_CLIP)
    state = timm.create_model(SMALL_CLIP, pretrained=False, num_classes=width).state_dict()
    state["head.bias"] = torch.zeros(width)  # CLIP's projection has no bias
    folder = tmp_path_factory.mktemp("univfd")
    torch.save(state, folder / "backbone.pth")
    torch.save({"fc.weight": torch.randn(1, width) / width**0.5, "fc.bias": torch.tensor([0.1])}, folder / "fc.pth")
    return folder / "fc.pth", folder / "backbone.pth", state


def test_the_univfd_head_matches_clip_vit_l14s_embedding_width() -> None:
    assert clip_embedding_width(UNIVFD_ARCHITECTURE) == 768
    assert clip_embedding_width("vit_large_patch14_clip_224") == 768


def test_univfd_scores_are_the_head_over_clip_features(univfd: tuple) -> None:
    head, backbone, state = univfd
    detector = UnivFD(backbone=str(backbone), architecture=SMALL_CLIP)
    detector.load_checkpoint(head)
    vit, linear = detector.network
    assert all(torch.equal(vit.state_dict()[k], v) for k, v in state.items())
    assert torch.equal(linear.weight, torch.load(head)["fc.weight"])
    assert torch.equal(linear.bias, torch.load(head)["fc.bias"])
    images = torch.cat([random_images(2, 3, 224, 224, 5), random_images(1, 1, 224, 224, 6).repeat(1, 3, 1, 1)])
    with torch.inference_mode():
        expected = linear(vit(normalized(images, CLIP_MEAN, CLIP_STD))).view(-1).double().numpy()
    assert np.allclose(detector.score(images), expected, atol=1e-5)
    grey = random_images(1, 1, 224, 224, 6)
    assert np.allclose(detector.score(grey), detector.score(grey.repeat(1, 3, 1, 1)))
    with pytest.raises(UserError, match="224x224"):
        detector.score(random_images(1, 3, 32, 32, 7))


def openclip_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A timm CLIP ViT state dict under OpenCLIP's ``visual.`` names."""
    renames = [("patch_embed.proj", "conv1"), ("blocks.", "transformer.resblocks."), ("norm_pre", "ln_pre"),
               ("norm1", "ln_1"), ("norm2", "ln_2"), ("attn.qkv.", "attn.in_proj_"), ("attn.proj", "attn.out_proj"),
               ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")]
    out = {"visual.class_embedding": state["cls_token"].view(-1), "visual.proj": state["head.weight"].t(),
           "visual.positional_embedding": state["pos_embed"][0]}
    for key, value in state.items():
        if key in ("cls_token", "pos_embed", "head.weight", "head.bias"):
            continue
        for old, new in renames:
            key = key.replace(old, new)
        out["visual." + ("ln_post" + key[4:] if key.startswith("norm.") else key)] = value
    return out


def test_an_openclip_backbone_file_gives_the_same_scores(univfd: tuple, tmp_path: Path) -> None:
    head, backbone, state = univfd
    torch.save(openclip_layout(state), tmp_path / "open_clip_pytorch_model.bin")
    images = random_images(2, 3, 224, 224, 8)
    scores = []
    for path in (backbone, tmp_path / "open_clip_pytorch_model.bin"):
        detector = UnivFD(backbone=str(path), architecture=SMALL_CLIP)
        detector.load_checkpoint(head)
        scores.append(detector.score(images))
    assert np.allclose(scores[0], scores[1], atol=1e-5)


def test_univfd_without_its_input_size_is_refused_before_any_file_is_read(univfd: tuple, tmp_path: Path) -> None:
    save_pngs(tmp_path / "gan" / "0_real", random_images(1, 3, 8, 8, 0))
    save_pngs(tmp_path / "gan" / "1_fake", random_images(1, 3, 8, 8, 1))
    result = CliRunner().invoke(app, ["detect", "--detector", f"univfd@{univfd[0]}", "--detector-arg",
                                      f"backbone={tmp_path / 'missing.pth'}", "--detector-arg",
                                      f"architecture={SMALL_CLIP}", "--root", str(tmp_path), "--quiet"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: univfd takes 224x224 images: add --size 224 (--resize center-crop, "
                                     "the paper's test, or resize)")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, cnndetection: tuple) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    torch.save({"model": {"conv1.weight": torch.zeros(64, 3, 7, 7)}}, folder / "no_fc.pth")
    torch.save({"model": {"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}}, folder / "fc1000.pth")
    torch.save({"model": {"fc.weight": torch.zeros(1, 2048), "fc.bias": torch.zeros(1)}}, folder / "only_fc.pth")
    (folder / "cut.pth").write_bytes(cnndetection[0].read_bytes()[:5000])
    torch.save({"fc.weight": torch.zeros(1, 768), "fc.bias": torch.zeros(1)}, folder / "fc768.pth")
    torch.save({"fc.weight": torch.zeros(2, 512), "fc.bias": torch.zeros(2)}, folder / "fc_two.pth")
    save_pngs(folder / "root" / "g" / "0_real", random_images(1, 3, 8, 8, 0))
    save_pngs(folder / "root" / "g" / "1_fake", random_images(1, 3, 8, 8, 1))
    return folder


def bad_cases(bad: Path, head: Path, backbone: Path) -> dict[str, list[str]]:
    small = ["--detector-arg", f"architecture={SMALL_CLIP}", "--size", "224"]
    return {
        "checkpoint without fc.weight": ["--detector", f"cnndetection@{bad / 'no_fc.pth'}"],
        "fc with 1000 outputs": ["--detector", f"cnndetection@{bad / 'fc1000.pth'}"],
        "checkpoint missing ResNet keys": ["--detector", f"cnndetection@{bad / 'only_fc.pth'}"],
        "truncated checkpoint": ["--detector", f"cnndetection@{bad / 'cut.pth'}"],
        "univfd backbone file missing": ["--detector", f"univfd@{head}", "--detector-arg",
                                         f"backbone={bad / 'ViT-L-14.pt'}", *small],
        "univfd without a backbone": ["--detector", f"univfd@{head}", *small],
        "univfd head of another width": ["--detector", f"univfd@{bad / 'fc768.pth'}", "--detector-arg",
                                         f"backbone={backbone}", *small],
        "univfd head with two outputs": ["--detector", f"univfd@{bad / 'fc_two.pth'}", "--detector-arg",
                                         f"backbone={backbone}", *small],
        "univfd backbone that is a head": ["--detector", f"univfd@{head}", "--detector-arg", f"backbone={head}",
                                           *small],
        "argument cnndetection does not take": ["--detector", f"cnndetection@{bad / 'no_fc.pth'}",
                                                "--detector-arg", "backbone=x"],
    }


@pytest.mark.parametrize("case", list(bad_cases(Path("."), Path("."), Path("."))))
def test_a_bad_checkpoint_is_one_line_and_exit_code_2(case: str, bad_files: Path, univfd: tuple) -> None:
    args = bad_cases(bad_files, univfd[0], univfd[1])[case]
    result = CliRunner().invoke(app, ["detect", *args, "--root", str(bad_files / "root"), "--quiet"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, (case, result.output)
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, result.output)
    assert "Traceback" not in result.output
