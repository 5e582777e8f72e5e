"""The layers that define the image-to-image GANs, the outside-image layout and the image spectra,
each checked against what its paper states.

* Pix2Pix: Isola, Zhu, Zhou & Efros, "Image-to-Image Translation with Conditional Adversarial
  Networks", CVPR 2017 (Appendix 6.1: no BatchNorm on the encoder's first C64 layer, leaky ReLUs
  of slope 0.2 in the encoder and plain ReLUs in the decoder, dropout on the three innermost
  decoder layers; Appendix 6.1.2: the 70x70 PatchGAN);
* CycleGAN: Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
  Cycle-Consistent Adversarial Networks", ICCV 2017 (Appendix 7.2: reflection padding, instance
  normalisation, residual blocks, 6 blocks for 128 px and 9 for 256 px images, 3x3 stride-2
  resampling); StarGAN: Choi et al., CVPR 2018 (Table 4: 4x4 stride-2 down- and up-sampling);
* SRGAN: Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative
  Adversarial Network", CVPR 2017 (Fig. 4: residual blocks with an identity skip, PReLU, a long
  skip around the trunk; the discriminator's k3n64s1, k3n64s2, ..., k3n512s2 convolutions);
* VAE: Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (samples decode z drawn
  from the prior N(0, I); a Bernoulli decoder's mean is the sigmoid of its logits);
* the azimuthally averaged power spectrum of Durall, Keuper & Keuper, "Watch your
  Up-Convolution: CNN Based Generative Deep Neural Networks are Failing to Reproduce Spectral
  Distributions", CVPR 2020, on the ITU-R BT.601 luma;
* the CNNDetection test layout of Wang, Wang, Zhang, Owens & Efros, "CNN-generated images are
  surprisingly easy to spot... for now", CVPR 2020 (``0_real`` holds reals, ``1_fake`` fakes).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganbench.generators import DataSpec, create_generator
from ganbench.generators.translation_blocks import ResidualBlock, SRResidualBlock, UNetGenerator
from ganbench.image_sets import read_image
from ganbench.errors import UserError
from ganbench.data import resize_images
from ganbench.outside_data import (Framing, Images, cnndetection_sets, common_channels, decode, list_images,
                                   parse_source, stacked)
from ganbench.spectra import azimuthal_average, ring_index


def save_png(path: Path, pixels: np.ndarray) -> None:
    """Write a uint8 ``H,W`` (grey) or ``H,W,3`` (RGB) array as a PNG, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def zero_affine(norm: nn.Module) -> None:
    """Set a normalisation layer's scale and shift to zero, so that it outputs zeros."""
    with torch.no_grad():
        norm.weight.zero_()
        norm.bias.zero_()


def receptive_field(net: nn.Module, channels: int, side: int) -> tuple[int, int]:
    """Height and width of the input region that the centre unit of ``net``'s output map depends on."""
    net.eval()
    x = torch.randn(1, channels, side, side, requires_grad=True)
    out = net(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    support = x.grad[0].abs().sum(0) > 0
    rows = support.any(1).nonzero().view(-1)
    cols = support.any(0).nonzero().view(-1)
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


# ----------------------------------------------------------------------------- pix2pix


def test_pix2pix_patchgan_sees_70_by_70_patches() -> None:
    """Each output of pix2pix's discriminator depends on a 70x70 patch of the input pair (the paper's PatchGAN)."""
    torch.manual_seed(0)
    model = create_generator("pix2pix", DataSpec("image", 1, 64, 10), preset_width=4)
    assert receptive_field(model.D, 2, 128) == (70, 70)


def test_pix2pix_networks_start_from_the_papers_gaussian_weights() -> None:
    """Both networks start with convolution weights ~ N(0, 0.02), zero biases and BatchNorm scales
    ~ N(1, 0.02) with zero shifts (Isola et al., Section 3.3), not PyTorch's default initialisation."""
    torch.manual_seed(0)
    model = create_generator("pix2pix", DataSpec("image", 1, 32, 10), preset_width=8)
    for network in (model.G, model.D):
        convs = [m for m in network.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        norms = [m for m in network.modules() if isinstance(m, nn.BatchNorm2d)]
        assert convs and norms
        weights = torch.cat([m.weight.detach().reshape(-1) for m in convs])
        assert abs(float(weights.mean())) < 1e-3 and float(weights.std()) == pytest.approx(0.02, rel=0.05)
        assert all(float(m.bias.detach().abs().max()) == 0.0 for m in convs + norms if m.bias is not None)
        scales = torch.cat([m.weight.detach() for m in norms])
        assert float((scales - 1).abs().max()) < 0.1 and float(scales.std()) > 0.01


def test_unet_dropout_is_on_the_three_innermost_decoder_levels_only() -> None:
    """At 64 px the decoder's levels up to 8x8 drop units and the three outer ones do not."""
    g = UNetGenerator(1, 1, 64, width=2)
    sides: list[int] = []
    for block in g.up:
        block.register_forward_hook(lambda m, inp, out: sides.append(out.shape[-1]))
    g.eval()
    g(torch.randn(1, 1, 64, 64))
    assert sides == [2, 4, 8, 16, 32, 64]
    dropping = [any(isinstance(m, nn.Dropout) for m in block.modules()) for block in g.up]
    assert dropping == [True, True, True, False, False, False]


def test_unet_first_encoder_layer_has_no_batchnorm() -> None:
    """The encoder's first C64 layer is a bare convolution; the next ones are normalised."""
    g = UNetGenerator(1, 1, 32, width=2)
    has_norm = [any(isinstance(m, nn.BatchNorm2d) for m in block.modules()) for block in g.down]
    assert has_norm[0] is False and all(has_norm[1:-1])


def test_unet_encoder_is_leaky_with_slope_point_two_and_decoder_is_plain_relu() -> None:
    """Every encoder activation is a leaky ReLU of slope 0.2; every decoder one a plain ReLU."""
    g = UNetGenerator(1, 1, 32, width=2)
    encoder = [m for block in g.down for m in block.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    decoder = [m for block in g.up for m in block.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    assert len(encoder) == len(g.down) - 1 and all(isinstance(m, nn.LeakyReLU) for m in encoder)
    probe = torch.tensor([-1.0, 2.0])
    assert all(torch.equal(m(probe), torch.tensor([-0.2, 2.0])) for m in encoder)
    assert len(decoder) == len(g.up) and all(torch.equal(m(probe), torch.tensor([0.0, 2.0])) for m in decoder)


# ----------------------------------------------------------------------------- CycleGAN


@pytest.mark.parametrize("block", [ResidualBlock(4), SRResidualBlock(4)], ids=["cyclegan", "srresnet"])
def test_residual_block_with_a_silent_branch_is_the_identity(block: nn.Module) -> None:
    """CycleGAN's and SRResNet's residual blocks add their branch to an identity skip: with the branch's
    last norm zeroed, x comes out unchanged."""
    zero_affine(block.eval().body[-1])
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(block(x), x)


def test_cyclegan_generator_normalises_each_image_on_its_own() -> None:
    """Instance norm: in training mode an image's translation does not depend on the other images in its batch."""
    torch.manual_seed(0)
    model = create_generator("cyclegan", DataSpec("image", 1, 16, 1), preset_width=4, n_blocks=2)
    model.train()
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        together = model.G_AB(x)
        alone = torch.cat([model.G_AB(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_cyclegan_generator_pads_by_reflection() -> None:
    """The stem, the residual blocks and the output layer pad by mirroring the image, never with zeros."""
    model = create_generator("cyclegan", DataSpec("image", 1, 16, 1), preset_width=4, n_blocks=2)
    pads = [m for m in model.G_AB.modules() if isinstance(m, (nn.ReflectionPad2d, nn.ZeroPad2d))]
    assert len(pads) == 2 + 2 * 2 and all(isinstance(m, nn.ReflectionPad2d) for m in pads)
    ramp = torch.tensor([[[[1.0, 2.0, 3.0, 4.0]]]]).expand(1, 1, 4, 4)
    one = next(m for m in pads if m.padding[0] == 1)
    assert one(ramp)[0, 0, 1].tolist() == [2.0, 1.0, 2.0, 3.0, 4.0, 3.0]


@pytest.mark.parametrize("resolution,blocks", [(256, 9), (128, 6)])
def test_cyclegan_uses_nine_residual_blocks_at_256_px_and_six_at_128(resolution: int, blocks: int) -> None:
    """The paper's generator has 9 residual blocks for 256 px images and 6 for 128 px ones."""
    model = create_generator("cyclegan", DataSpec("image", 3, resolution, 1), preset_width=2)
    assert sum(isinstance(m, ResidualBlock) for m in model.G_AB.modules()) == blocks


@pytest.mark.parametrize("name,kernel", [("cyclegan", 3), ("stargan", 4)])
def test_resampling_convolutions_have_the_papers_kernels(name: str, kernel: int) -> None:
    """CycleGAN halves and doubles with 3x3 stride-2 convolutions (d128, u128), StarGAN with 4x4 ones
    (its Table 4), each keeping the sizes exact."""
    model = create_generator(name, DataSpec("image", 1, 16, 2), preset_width=4, n_blocks=1)
    generator = model.G_AB if name == "cyclegan" else model.G
    strided = [m for m in generator.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.stride == (2, 2)]
    assert len(strided) == 4 and all(m.kernel_size == (kernel, kernel) for m in strided)
    x = torch.zeros(2, 1, 16, 16)
    out = generator(x) if name == "cyclegan" else generator(x, torch.tensor([0, 1]))
    assert out.shape == x.shape


# ----------------------------------------------------------------------------- SRGAN


def test_srresnet_long_skip_carries_the_first_features_past_the_trunk() -> None:
    """With the residual trunk silenced, the output still follows the input through the long skip."""
    torch.manual_seed(0)
    model = create_generator("srgan", DataSpec("image", 1, 16, 10), preset_width=4, n_blocks=2)
    g = model.G.eval()
    zero_affine(g.body[-1])
    with torch.no_grad():
        a, b = g(torch.randn(1, 1, 8, 8)), g(torch.randn(1, 1, 8, 8))
    assert float((a - b).abs().max()) > 1e-3


def test_srresnet_activations_are_prelus_with_a_slope_per_channel() -> None:
    """Every activation of the generator is a PReLU (head, each residual block, each x2 stage)."""
    model = create_generator("srgan", DataSpec("image", 1, 32, 10), preset_width=4, n_blocks=3)
    assert not any(isinstance(m, (nn.ReLU, nn.LeakyReLU)) for m in model.G.modules())
    prelus = [m for m in model.G.modules() if isinstance(m, nn.PReLU)]
    assert len(prelus) == 1 + 3 + 2 and all(m.num_parameters == 4 for m in prelus)


def test_srgan_discriminator_alternates_stride_one_and_stride_two_convolutions() -> None:
    """k3n64s1, k3n64s2, k3n128s1, k3n128s2, ..., k3n512s2 (width 64 scaled to 4 here)."""
    model = create_generator("srgan", DataSpec("image", 1, 32, 10), preset_width=4, n_blocks=1)
    shapes: list[tuple[int, int]] = []
    for m in model.D.features:
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(lambda mod, inp, out: shapes.append((out.shape[1], out.shape[-1])))
    model.D.eval()
    model.D(torch.randn(1, 1, 32, 32))
    assert shapes == [(4, 32), (4, 16), (8, 16), (8, 8), (16, 8), (16, 4), (32, 4), (32, 2)]


# ----------------------------------------------------------------------------- VAE


def test_vae_samples_decode_latents_drawn_from_the_standard_normal_prior(monkeypatch: pytest.MonkeyPatch) -> None:
    """The latents of fresh samples have mean 0, variance 1 and are negative half the time."""
    model = create_generator("vae", DataSpec("image", 1, 16, 10), preset_width=4)
    seen: list[torch.Tensor] = []

    def record(z: torch.Tensor) -> torch.Tensor:
        seen.append(z)
        return torch.zeros(len(z), 1, 16, 16)

    monkeypatch.setattr(model, "decode_mean", record)
    model.generate(2000, None, torch.Generator().manual_seed(0))
    z = seen[0]
    assert z.shape == (2000, model.config.z_dim)
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02
    assert abs(float((z < 0).double().mean()) - 0.5) < 0.02


def test_bernoulli_decoder_mean_is_the_sigmoid_of_its_logits_on_minus_one_to_one() -> None:
    """Logits log 3, 0, -log 3 mean pixel probabilities 3/4, 1/2, 1/4, that is -1 + 2p = 0.5, 0, -0.5."""
    model = create_generator("vae", DataSpec("image", 1, 16, 10), preset_width=4)
    model.G = nn.Identity()
    logits = torch.tensor([[math.log(3.0), 0.0, -math.log(3.0)]])
    torch.testing.assert_close(model.decode_mean(logits), torch.tensor([[0.5, 0.0, -0.5]]))


# ----------------------------------------------------------------------------- spectra


def test_rings_of_a_four_by_four_spectrum_hold_the_hand_counted_pixels() -> None:
    """Around the centre (2, 2) of a 4x4 grid, radii rounded to integers give rings of 1, 8, 6 and 1 pixels."""
    radius, counts = ring_index(4, 4)
    assert counts.tolist() == [1.0, 8.0, 6.0, 1.0]
    assert int(radius[2 * 4 + 2]) == 0 and int(radius[0]) == 3 and int(radius[1 * 4 + 3]) == 1


def test_spectrum_of_a_cosine_is_the_mean_log_power_of_its_rings() -> None:
    """100 + 50 cos(2 pi 3 x / 16): ring 0 is log(1 + (100 S^2)^2), ring 3 holds two peaks of power
    (25 S^2)^2 among its 16 pixels, every other ring is empty."""
    side = 16
    x = torch.arange(side, dtype=torch.float64)
    image = (100 + 50 * torch.cos(2 * math.pi * 3 * x / side)).expand(side, side).reshape(1, 1, side, side)
    profile = azimuthal_average(image)[0]
    expected = np.zeros_like(profile)
    expected[0] = math.log1p((100 * side**2) ** 2)
    expected[3] = 2 * math.log1p((25 * side**2) ** 2) / 16
    np.testing.assert_allclose(profile, expected, atol=1e-6)


def test_spectrum_of_a_colour_image_is_taken_on_its_bt601_luma() -> None:
    """A flat (200, 100, 50) image has luma 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 124.2 at every pixel."""
    side = 8
    image = torch.tensor([200.0, 100.0, 50.0]).view(1, 3, 1, 1).expand(1, 3, side, side)
    profile = azimuthal_average(image)[0]
    assert profile[0] == pytest.approx(math.log1p((124.2 * side**2) ** 2), rel=1e-9)
    assert np.abs(profile[1:]).max() < 1e-9


# ----------------------------------------------------------------------------- outside images


def test_cnndetection_reals_come_from_0_real_and_fakes_from_1_fake(tmp_path: Path) -> None:
    """Each generator folder is one test set whose reals are the ``0_real`` images and fakes the ``1_fake`` ones."""
    grey = np.zeros((8, 8), dtype=np.uint8)
    for name in ("a", "b"):
        save_png(tmp_path / "gan" / "0_real" / f"{name}.png", grey)
    for name in ("c", "d", "e"):
        save_png(tmp_path / "gan" / "1_fake" / f"{name}.png", grey)
    (test,) = cnndetection_sets(tmp_path)
    assert test.generator == "gan"
    assert [f.name for f in test.real.files] == ["a.png", "b.png"]
    assert [f.name for f in test.fake.files] == ["c.png", "d.png", "e.png"]
    assert all(f.parent.name == "0_real" for f in test.real.files)


def test_cnndetection_class_folders_of_one_generator_are_pooled(tmp_path: Path) -> None:
    """``<generator>/<class>/0_real``: the reals and fakes of every class form the generator's one test set."""
    grey = np.zeros((8, 8), dtype=np.uint8)
    for cls in ("cat", "horse", "car"):
        save_png(tmp_path / "progan" / cls / "0_real" / "r.png", grey)
        save_png(tmp_path / "progan" / cls / "1_fake" / "f.png", grey)
    (test,) = cnndetection_sets(tmp_path)
    assert sorted(f.parent.parent.name for f in test.real.files) == ["car", "cat", "horse"]
    assert sorted(f.parent.parent.name for f in test.fake.files) == ["car", "cat", "horse"]



def test_a_root_holding_0_real_and_1_fake_is_one_generator(tmp_path: Path) -> None:
    """A root with ``0_real`` and ``1_fake`` directly inside is one generator's test set, named after the root."""
    grey = np.zeros((8, 8), dtype=np.uint8)
    save_png(tmp_path / "stylegan" / "0_real" / "a.png", grey)
    save_png(tmp_path / "stylegan" / "1_fake" / "b.png", grey)
    (test,) = cnndetection_sets(tmp_path / "stylegan")
    assert test.generator == "stylegan" and [f.name for f in test.real.files + test.fake.files] == ["a.png", "b.png"]


def test_a_framing_is_a_positive_side_and_a_known_mode() -> None:
    with pytest.raises(UserError, match="--size must be positive"):
        Framing(0)
    with pytest.raises(UserError, match="--resize 'stretch': expected center-crop or resize"):
        Framing(8, "stretch")


def test_resize_framing_is_the_data_sets_resize() -> None:
    """``resize`` frames an outside image exactly as the data sets' loader resizes real images."""
    image = torch.randint(0, 256, (3, 12, 9), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    assert torch.equal(Framing(6, "resize").apply(image, "x"), resize_images(image[None], 6)[0])


def test_npz_images_are_framed_like_folder_images(tmp_path: Path) -> None:
    """The images of an ``.npz`` source go through the same framing as a folder's, each with its ``FILE#index``."""
    np.savez(tmp_path / "fakes.npz", x=np.random.default_rng(0).integers(0, 256, (3, 10, 10), dtype=np.uint8))
    save_png(tmp_path / "reals" / "a.png", np.zeros((10, 10), dtype=np.uint8))
    framing = Framing(4, "center-crop")
    fakes = decode(parse_source(f"npz:{tmp_path / 'fakes.npz'}", "--fakes"), framing)
    reals = decode(parse_source(f"folder:{tmp_path / 'reals'}", "--reals"), framing)
    assert [i.shape for i in fakes.images + reals.images] == [(1, 4, 4)] * 4
    assert fakes.paths == [f"{tmp_path / 'fakes.npz'}#{i}" for i in range(3)]
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 10, 10), dtype=np.uint8))
    with pytest.raises(UserError, match="holds no images"):
        parse_source(f"npz:{tmp_path / 'empty.npz'}", "--fakes")


def test_image_files_are_listed_whatever_their_suffix_case_and_each_header_is_read(tmp_path: Path) -> None:
    grey = np.zeros((8, 8), dtype=np.uint8)
    save_png(tmp_path / "images" / "a.png", grey)
    save_png(tmp_path / "images" / "B.PNG", grey)
    assert [f.name for f in list_images(tmp_path / "images")] == ["B.PNG", "a.png"]
    (tmp_path / "images" / "c.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="corrupt or unreadable image .*c.png"):
        list_images(tmp_path / "images")

def test_centre_crop_takes_the_middle_window() -> None:
    """An 8x10 image cropped to 4: rows 2..5 and columns 3..6."""
    image = torch.arange(80, dtype=torch.int64).view(1, 8, 10)
    crop = Framing(4, "center-crop").apply(image, "x")
    assert crop[0, 0].tolist() == [23, 24, 25, 26] and crop[0, -1].tolist() == [53, 54, 55, 56]


def test_centre_crop_refuses_an_image_narrower_or_shorter_than_its_side() -> None:
    """A crop never pads: an image below the side in either dimension is refused."""
    for h, w in ((8, 3), (3, 8)):
        with pytest.raises(UserError, match="smaller than --size 4"):
            Framing(4, "center-crop").apply(torch.zeros(1, h, w, dtype=torch.uint8), "x")


def test_grey_images_are_repeated_to_three_channels_only_beside_colour_ones() -> None:
    """Grey reals beside colour fakes get their one channel three times; all-grey sets stay grey."""
    grey = torch.arange(4, dtype=torch.uint8).view(1, 2, 2)
    colour = torch.arange(12, dtype=torch.uint8).view(3, 2, 2)
    reals, fakes = common_channels(Images([grey], ["g"]), Images([colour], ["c"]))
    assert torch.equal(reals.images[0], grey.expand(3, -1, -1)) and torch.equal(fakes.images[0], colour)
    assert reals.paths == ["g"]
    alone, other = common_channels(Images([grey], ["g"]), Images([grey.clone()], ["h"]))
    assert alone.images[0].shape == other.images[0].shape == (1, 2, 2)


def test_images_of_several_sizes_are_not_stacked() -> None:
    """Two sizes in one set end with one line asking for --size, not a stacking error."""
    images = Images([torch.zeros(1, 4, 4, dtype=torch.uint8), torch.zeros(1, 5, 5, dtype=torch.uint8)], ["a", "b"])
    with pytest.raises(UserError, match="fakes come in 2 sizes"):
        stacked(images, "fakes")
    assert stacked(Images([torch.zeros(1, 4, 4, dtype=torch.uint8)] * 2, ["a", "b"]), "fakes").shape == (2, 1, 4, 4)


def test_hidden_folders_hold_no_images_and_no_generators(tmp_path: Path) -> None:
    """Images under a hidden folder (``.thumbnails``) are not listed, and a hidden folder of the root
    (``.cache``) is no generator."""
    grey = np.zeros((8, 8), dtype=np.uint8)
    save_png(tmp_path / "gan" / "0_real" / "a.png", grey)
    save_png(tmp_path / "gan" / "0_real" / ".thumbnails" / "a.png", grey)
    save_png(tmp_path / "gan" / "1_fake" / "b.png", grey)
    (tmp_path / ".cache" / "stuff").mkdir(parents=True)
    assert [f.name for f in list_images(tmp_path / "gan" / "0_real")] == ["a.png"]
    (test,) = cnndetection_sets(tmp_path)
    assert test.generator == "gan" and [f.parent.name for f in test.real.files] == ["0_real"]


def test_grey_files_are_read_as_one_channel_and_colour_files_as_three(tmp_path: Path) -> None:
    """A grey PNG keeps its single channel and values; an RGB PNG gives its three channels."""
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    colour = np.stack([grey, grey // 2, grey // 5], axis=-1)
    save_png(tmp_path / "grey.png", grey)
    save_png(tmp_path / "colour.png", colour)
    assert torch.equal(read_image(tmp_path / "grey.png"), torch.from_numpy(grey)[None])
    assert torch.equal(read_image(tmp_path / "colour.png"), torch.from_numpy(colour).permute(2, 0, 1))
