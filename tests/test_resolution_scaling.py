"""Every image variant builds its stated architecture at 64 and 128 px, and trains a step there.

The built networks are read back independently of the schedules: forward hooks follow the
feature maps of one real forward pass (the first call of each network during a training step)
and record the side and channels of every convolution, normalisation, pixel shuffle, reshape and
attention output (the outermost of nested ones), plus the network's own input and output;
residual blocks and dense layers are counted from the modules. Parameter counts are computed from
the schedules' numbers with the layers' formulas.
"""

from __future__ import annotations

import json
import math
from operator import attrgetter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.presets import get_preset
from ganbench.generators import DataSpec, GENERATORS, create_generator, generator_config
from ganbench.generators.architecture import Schedule, capped_doubling, doublings, from_path
from ganbench.generators.base import Batch, GenerativeModel
from ganbench.generators.biggan import GBlock
from ganbench.generators.blocks import Maxout
from ganbench.generators.dcgan import DCGAN
from ganbench.generators.layers import EqualizedConv2d, ModulatedConv2d, ResBlockDown
from ganbench.generators.layers import SelfAttention as NonLocal
from ganbench.generators.sagan import ResBlockUp
from ganbench.generators.stylegan2 import DiscriminatorBlock
from ganbench.generators.stylegan3 import AliasFreeLayer, FourierFeatures
from ganbench.generators.translation_blocks import ResidualBlock, SRResidualBlock, TranslationModel
from ganbench.generators.unet import ResidualBlock as UNetBlock
from ganbench.generators.unet import SelfAttention as UNetAttention

CHANNELS, CLASSES, BATCH = 3, 10, 4
#: Tiny widths; the variants whose channels halve from ``2 width`` at 4x4 need more to stay above
#: the floor of 4 channels at 128 px.
WIDTHS = {"sagan": 32, "biggan": 32, "progan": 32, "stylegan2": 32, "stylegan3": 32, "ddpm": 8, "gan": 2,
          "cgan": 2}
FAST = {"biggan": {"standing_batches": 1, "standing_batch_size": 2}, "ddpm": {"sampling_steps": 2}}
#: BigGAN's attention at 64x64 (128 px images) costs 4096^2 per image: two images per batch.
BATCHES = {"biggan": 2}
VARIANTS = [name for name, cls in GENERATORS if cls.supports_images]

TRACED = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm, nn.PixelShuffle,
          nn.Unflatten, EqualizedConv2d, ModulatedConv2d, NonLocal, UNetAttention, FourierFeatures, AliasFreeLayer)
ATTENTION = (NonLocal, UNetAttention)
RESIDUAL = (ResBlockDown, ResBlockUp, GBlock, DiscriminatorBlock, ResidualBlock, SRResidualBlock, UNetBlock)


class Trace:
    """(side, channels) of the 4-D maps of a network's first forward pass, and its attention sides."""

    def __init__(self, network: nn.Module) -> None:
        self.maps: list[tuple[int, int]] = []
        self.attention: list[int] = []
        self.calls, self.depth = 0, 0
        network.register_forward_pre_hook(self.enter_network)
        network.register_forward_hook(self.leave_network)
        for module in network.modules():
            if isinstance(module, TRACED) and module is not network:
                module.register_forward_pre_hook(self.enter)
                module.register_forward_hook(self.leave)

    @property
    def active(self) -> bool:
        return self.calls == 1

    def record(self, x: object) -> None:
        if isinstance(x, torch.Tensor) and x.dim() == 4:
            self.maps.append((x.shape[-1], x.shape[1]))

    def enter_network(self, module: nn.Module, args: tuple) -> None:
        self.calls += 1
        if self.active and args:
            self.record(args[0])

    def leave_network(self, module: nn.Module, args: tuple, output: object) -> None:
        if self.active:
            self.record(output)
        self.calls += 1 if self.calls == 1 else 0

    def enter(self, module: nn.Module, args: tuple) -> None:
        self.depth += 1

    def leave(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.depth -= 1
        if self.active and self.depth == 0:
            self.record(output)
            if isinstance(module, ATTENTION):
                self.attention.append(output.shape[-1])

    def path(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Sides and widest channels of each stretch of consecutive maps of one side."""
        sides: list[int] = []
        channels: list[int] = []
        for side, width in self.maps:
            if sides and sides[-1] == side:
                channels[-1] = max(channels[-1], width)
            else:
                sides.append(side)
                channels.append(width)
        return tuple(sides), tuple(channels)


def dense_widths(network: nn.Module) -> tuple[int, ...]:
    """Widths of the fully connected layers in order; a maxout layer counts its units once."""
    widths, inside_maxout = [], set()
    for module in network.modules():
        if isinstance(module, Maxout):
            widths.append(module.linear.out_features // module.pieces)
            inside_maxout.add(id(module.linear))
        elif isinstance(module, nn.Linear) and id(module) not in inside_maxout:
            widths.append(module.out_features)
    return tuple(widths)


def build(name: str, resolution: int) -> tuple[GenerativeModel, DataSpec]:
    spec = DataSpec("image", CHANNELS, resolution, CLASSES)
    torch.manual_seed(0)
    return create_generator(name, spec, preset_width=WIDTHS.get(name, 4), **FAST.get(name, {})), spec


def batch_for(model: GenerativeModel, spec: DataSpec) -> Batch:
    size, n = spec.resolution, BATCHES.get(model.name, BATCH)
    images = torch.rand(n, CHANNELS, size, size) * 2 - 1
    labels = torch.arange(n) % CLASSES
    if not isinstance(model, TranslationModel):
        return Batch(images, labels, 0, progress=1.0)
    scale = getattr(model, "scale", 1)
    source = torch.rand(n, CHANNELS, size // scale, size // scale) * 2 - 1
    domains = torch.arange(n) % getattr(model, "num_domains", 2)
    return Batch(images, labels, 0, source=source, source_labels=domains, progress=1.0)


def train_step(model: GenerativeModel, spec: DataSpec) -> dict[str, torch.Tensor]:
    """One discriminator (where the variant has one) and one generator update, as the trainer runs them."""
    model.configure_optimizers()
    batch = batch_for(model, spec)
    logs = model.discriminator_step(batch) if model.n_critic else {}
    return {**logs, **model.generator_step(batch)}


def parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("resolution", [64, 128])
@pytest.mark.parametrize("name", VARIANTS)
def test_built_networks_follow_their_stated_schedule_and_train(name: str, resolution: int) -> None:
    model, spec = build(name, resolution)
    schedules = type(model).architecture(spec, model.config)
    networks = {key: attrgetter(key)(model) for key in schedules}
    traces = {key: Trace(network) for key, network in networks.items()}
    logs = train_step(model, spec)
    assert logs and all(torch.isfinite(v).all() for v in logs.values()), logs
    for key, schedule in schedules.items():
        assert traces[key].path() == (schedule.sides, schedule.channels), key
        assert tuple(traces[key].attention) == schedule.attention, key
        assert sum(isinstance(m, RESIDUAL) for m in networks[key].modules()) == schedule.residual_blocks, key
        if schedule.dense:
            assert dense_widths(networks[key]) == schedule.dense, key
    if isinstance(model, TranslationModel):
        batch = batch_for(model, spec)
        targets = batch.source_labels if model.task != "paired" else None
        out = model.translate(((batch.source + 1) * 127.5).round().to(torch.uint8), targets)
    else:
        labels = torch.arange(2) % CLASSES if model.conditional else None
        out = model.sample(2, labels=labels)
    assert out.shape == (len(out), CHANNELS, resolution, resolution) and out.dtype == torch.uint8


def test_stated_schedules_follow_the_papers() -> None:
    def arch(name: str, resolution: int, **config: object) -> dict[str, Schedule]:
        spec = DataSpec("image", 3, resolution, CLASSES)
        return GENERATORS.get(name).architecture(spec, generator_config(name, **config))

    dcgan = arch("dcgan", 64, width=128)["G"]  # Radford et al., Fig. 1
    assert dcgan.sides == (4, 8, 16, 32, 64) and dcgan.channels == (1024, 512, 256, 128, 3)
    assert arch("dcgan", 256, width=128)["G"].channels[:3] == (1024, 1024, 1024)
    sngan = arch("sngan", 32, width=64)  # Miyato et al., Table 3
    assert sngan["G"].channels[:3] == (512, 256, 128) and sngan["D.trunk"].channels[1:] == (128, 256, 512)
    unet = arch("pix2pix", 256, width=64)["G"]  # Isola et al., Appendix 6.1.1
    assert unet.downsampling == unet.upsampling == 8 and unet.channels[1:9] == (64, 128, 256, 512, 512, 512, 512, 512)
    assert arch("pix2pix", 256)["D"].channels[1:5] == (64, 128, 256, 512)
    for size, blocks in ((128, 6), (256, 9)):  # Zhu et al., Appendix 7.2
        resnet = arch("cyclegan", size)["G_AB"]
        assert (resnet.residual_blocks, resnet.downsampling, resnet.upsampling) == (blocks, 2, 2)
        assert resnet.channels[1:4] == (128, 256, 128)
    for size in (64, 128, 256):  # Ledig et al., Fig. 4: 16 blocks, x4 by two pixel shuffles
        sr = arch("srgan", size)
        assert (sr["G"].residual_blocks, sr["G"].upsampling, sr["G"].sides[0]) == (16, 2, size // 4)
        assert sr["D"].channels[-1] == 512 and sr["D"].sides[-1] == size // 16
    star = arch("stargan", 128)  # Choi et al., Table 4
    assert (star["G"].downsampling, star["G"].residual_blocks, star["G"].upsampling) == (2, 6, 2)
    assert star["D"].channels[1:7] == (64, 128, 256, 512, 1024, 2048) and star["D"].sides[6] == 2
    assert arch("sagan", 128)["G"].attention == (32,)  # Zhang et al., feat32 of 128 px images
    assert arch("biggan", 128)["G"].attention == (64,) and arch("biggan", 32)["G"].attention == ()  # Brock et al.
    for name in ("progan", "stylegan2"):  # Karras et al.: levels 4x4 ... N
        for size in (32, 64, 128, 256):
            synthesis = arch(name, size)["G"]
            assert synthesis.sides == tuple(4 * 2**i for i in range(int(math.log2(size)) - 1))
            assert synthesis.upsampling == int(math.log2(size)) - 2
    assert arch("progan", 256, width=64)["G"].channels[:4] == (128,) * 4
    ddpm = arch("ddpm", 128)["G"]  # Ho et al.: one halving per level; four levels for (1, 2, 2, 2)
    assert ddpm.downsampling == ddpm.upsampling == 3 and min(ddpm.sides) == 4
    sg3 = {size: GENERATORS.get("stylegan3")(DataSpec("image", 3, size, 0), generator_config("stylegan3", preset_width=8))
           for size in (32, 64)}
    assert [m.G.synthesis.num_ws - 2 for m in sg3.values()] == [4, 5]
    assert sg3[64].G.synthesis.schedule[-2].cutoff == 32


@pytest.mark.parametrize("name", ["dcgan", "wgan-gp"])
def test_dcgan_parameter_count_is_what_its_schedule_gives(name: str) -> None:
    for resolution in (64, 128):
        model, spec = build(name, resolution)
        schedules = type(model).architecture(spec, model.config)
        g = schedules["G"].channels
        z = model.config.z_dim
        expected_g = z * g[0] * 16 + 2 * g[0] + sum(a * b * 16 + 2 * b for a, b in zip(g[:-2], g[1:-1]))
        expected_g += g[-2] * CHANNELS * 16 + CHANNELS
        assert parameters(model.G) == expected_g
        trunk = schedules["D"].channels[:-1] if name == "dcgan" else schedules["D.trunk"].channels
        per_channel = 2 if name == "dcgan" else 1  # BatchNorm's scale and shift, or WGAN-GP's biases
        expected_d = CHANNELS * trunk[1] * 16 + trunk[1] + trunk[-1] * 16 + 1
        expected_d += sum(a * b * 16 + per_channel * b for a, b in zip(trunk[1:], trunk[2:]))
        assert parameters(model.D) == expected_d


def conv(cin: int, cout: int, kernel: int, bias: bool = True) -> int:
    return cin * cout * kernel * kernel + (cout if bias else 0)


def added_level(name: str, width: int) -> int:
    """Parameters that going from 64 to 128 px adds, from the schedules' new level (``2 width``
    channels for the capped pyramids) and the layers' formulas."""
    c, w_dim, top = 2 * width, 128, 8 * width
    if name == "progan":  # G: upsample + 2 conv3x3 + to_rgb; D: 2 conv3x3 + from_rgb
        return 2 * (2 * conv(c, c, 3) + conv(c, CHANNELS, 1)) - conv(c, CHANNELS, 1) + conv(CHANNELS, c, 1)
    if name == "stylegan2":  # G: two modulated conv layers and a to_rgb; D: one residual block
        layer = conv(c, c, 3, bias=False) + (w_dim * c + c) + 1 + c
        return 2 * layer + (CHANNELS * c + w_dim * c + c + CHANNELS) + conv(c, c, 3) * 2 + conv(c, c, 1, bias=False)
    if name == "sagan":  # ResBlockUp(2w, 2w) in G, ResBlockDown(2w, 2w) in D
        return (2 * c + conv(c, c, 3) + 2 * c + conv(c, c, 3) + conv(c, c, 1)) + (2 * conv(c, c, 3) + conv(c, c, 1))
    if name in ("dcgan", "lsgan", "wgan", "acgan"):  # one 8w -> 8w stage with BatchNorm in G and D
        return 2 * (conv(top, top, 4, bias=False) + 2 * top)
    if name == "infogan":  # one 2w -> 2w stage with BatchNorm in G and in D
        return 2 * (conv(c, c, 4, bias=False) + 2 * c)
    if name == "vae":  # one 8w -> 8w stage in the encoder and in the decoder
        return 2 * conv(top, top, 4)
    if name == "cyclegan":  # 3 more residual blocks of 4w channels in each generator
        block = 2 * (conv(4 * width, 4 * width, 3) + 2 * 4 * width)
        return 2 * 3 * block
    if name == "srgan":  # D's first dense layer reads an 8x8 map of 8w instead of 4x4
        return top * (8 * 8 - 4 * 4) * 16 * width
    if name == "stargan":  # D: one more stride-2 convolution; src (3x3) and cls (2x2, 5 domains) read twice the channels
        last = width * 2 ** (int(math.log2(64)) - 2)
        return conv(last, 2 * last, 4) + (9 + 5 * 4) * (2 * last - last)
    raise KeyError(name)


@pytest.mark.parametrize("name", ["progan", "stylegan2", "sagan", "dcgan", "lsgan", "wgan", "acgan", "infogan", "vae",
                                  "cyclegan", "srgan", "stargan"])
def test_doubling_the_image_adds_exactly_the_new_levels_parameters(name: str) -> None:
    counts = [build(name, resolution)[0].parameter_count() for resolution in (64, 128)]
    assert counts[1] - counts[0] == added_level(name, WIDTHS.get(name, 4))


def test_cli_trains_and_samples_at_64_px(tmp_path: Path) -> None:
    """``ganbench train dcgan --preset smoke --resolution 64`` on a small 64 px data set."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (72, 64, 64, 1), dtype=np.uint8)
    labels = np.arange(72) % 2
    np.savez(tmp_path / "faces.npz", x_train=images[:48], y_train=labels[:48], x_test=images[48:], y_test=labels[48:])
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "dcgan", "--preset", "smoke", "--resolution", "64", "--dataset",
                                      f"npz:{tmp_path / 'faces.npz'}", "--allow-small", "--out", str(out), "--quiet",
                                      "--set", "preset.steps=2", "--set", "preset.n_eval=24",
                                      "--set", "preset.classifier_epochs=1"])
    assert result.exit_code == 0, result.output
    fakes = np.load(next((out / "fakes").glob("dcgan-*.npz")))["eval"]
    assert fakes.shape[1:] == (1, 64, 64)
    record = json.loads(next((out / "records").glob("train-dcgan-*.json")).read_text())
    assert record["status"] == "ok" and record["metrics"]["params"] == DCGAN(
        DataSpec("image", 1, 64, 2), generator_config("dcgan", preset_width=get_preset("smoke").width)).parameter_count()


def test_schedule_helpers_double_sides_and_cap_channels() -> None:
    """``doublings`` lists the sides of a doubling network and refuses an end that is not reached."""
    assert doublings(4, 32) == (4, 8, 16, 32) and doublings(8, 8) == (8,)
    for start, end in [(4, 48), (4, 2)]:
        with pytest.raises(ValueError, match="power of two"):
            doublings(start, end)
    assert capped_doubling(64, 4, 256) == [64, 128, 256, 256]
    with pytest.raises(ValueError, match="2 sides but 1 channel counts"):
        Schedule((4, 8), (16,))
    schedule = Schedule((4, 8, 16, 8), (64, 32, 16, 32))
    assert schedule.upsampling == 2 and schedule.downsampling == 1
    assert from_path([(8, 3), (8, 16), (4, 32), (4, 16), (8, 16), (8, 3)]) == Schedule((8, 4, 8), (16, 32, 16))
