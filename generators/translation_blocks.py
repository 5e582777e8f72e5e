"""Building blocks of the image-to-image GANs, and their common sampling interface.

* :class:`UNetGenerator` and :class:`PatchDiscriminator`: Isola, Zhu, Zhou & Efros,
  "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017.
* :class:`ResnetGenerator` and :class:`HistoryPool`: Zhu, Park, Isola & Efros, "Unpaired
  Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017 (the
  generator follows Johnson et al., ECCV 2016; the pool Shrivastava et al., CVPR 2017).
* :class:`SRResNet` and :class:`VGGDiscriminator`: Ledig et al., "Photo-Realistic Single Image
  Super-Resolution Using a Generative Adversarial Network", CVPR 2017.
* :class:`TranslationModel`: a generator that maps an input image (and a target domain) to an
  output image; fakes come from :meth:`TranslationModel.translate`, never from noise alone.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import ClassVar

import torch
from torch import nn

from ganbench.pixels import to_float, to_uint8
from ganbench.errors import UserError
from ganbench.generators.architecture import Schedule, from_path
from ganbench.generators.base import GenerativeModel

Norm = Callable[[int], nn.Module]


def batch_norm(channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels)


def instance_norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True)


def padding(size: int, mode: str) -> nn.Module:
    """``reflect`` (CycleGAN) or ``zeros`` (StarGAN, whose one-hot label maps are constant: after
    reflection padding, instance norm would remove them entirely)."""
    if mode == "reflect":
        return nn.ReflectionPad2d(size)
    if mode == "zeros":
        return nn.ZeroPad2d(size)
    raise ValueError(f"unknown padding {mode!r}")


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """Convolutions ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0, as in pix2pix and CycleGAN."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Stop gradients into ``modules`` (a discriminator during a generator update)."""
    flags = [[p.requires_grad for p in m.parameters()] for m in modules]
    for m in modules:
        m.requires_grad_(False)
    try:
        yield
    finally:
        for m, saved in zip(modules, flags):
            for p, flag in zip(m.parameters(), saved):
                p.requires_grad_(flag)


def _log2(resolution: int, minimum: int) -> int:
    levels = int(math.log2(resolution))
    if resolution < minimum or 2**levels != resolution:
        raise UserError(f"image-to-image networks need a power-of-two resolution >= {minimum}, got {resolution}")
    return levels


# ----------------------------------------------------------------------------- pix2pix


def unet_channels(width: int, resolution: int) -> list[int]:
    """Encoder channels of :class:`UNetGenerator`, one level per halving down to 1x1: C64-C128-C256-C512-C512-..."""
    return [min(width * 2**i, width * 8) for i in range(_log2(resolution, 4))]


def unet_schedule(in_channels: int, out_channels: int, resolution: int, width: int) -> Schedule:
    """:class:`UNetGenerator`'s path: the image, ``log2(N)`` halvings to 1x1, as many doublings back."""
    chans = unet_channels(width, resolution)
    down = [(resolution >> (i + 1), ch) for i, ch in enumerate(chans)]
    up = [(resolution >> i, chans[i - 1]) for i in range(len(chans) - 1, 0, -1)]
    return from_path([(resolution, in_channels), *down, *up, (resolution, out_channels)])


class UNetGenerator(nn.Module):
    """Encoder C64-C128-C256-C512-... down to 1x1 and a mirrored decoder; decoder level ``i``
    receives the encoder's activation of the same size concatenated to its input (the skips).

    Encoder: Conv 4x4 stride 2, BatchNorm (not on the first and innermost layers), LeakyReLU 0.2.
    Decoder: ReLU, transposed Conv 4x4 stride 2, BatchNorm, Dropout 0.5 on the three innermost
    levels (the generator's only noise), Tanh at the output.
    """

    def __init__(self, in_channels: int, out_channels: int, resolution: int, width: int = 64,
                 dropout: float = 0.5) -> None:
        super().__init__()
        chans = unet_channels(width, resolution)
        levels = len(chans)
        self.down = nn.ModuleList()
        for i, ch in enumerate(chans):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(in_channels if i == 0 else chans[i - 1], ch, 4, 2, 1, bias=i in (0, levels - 1)))
            if 0 < i < levels - 1:
                layers.append(nn.BatchNorm2d(ch))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            cin = chans[i] if i == levels - 1 else 2 * chans[i]
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(cin, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(), nn.ConvTranspose2d(cin, chans[i - 1], 4, 2, 1, bias=False),
                      nn.BatchNorm2d(chans[i - 1])]
            if levels - 1 - i < 3:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.up[0](skips.pop())
        for block in self.up[1:]:
            x = block(torch.cat([x, skips.pop()], 1))
        return x


def patch_layers(resolution: int) -> int:
    """PatchGAN's strided layers after the first: the paper's 3 (the 70x70 PatchGAN) from 64 px,
    fewer below so that the map of a 32 px image stays at least 6x6."""
    return max(1, min(3, _log2(resolution, 16) - 3))


def patch_schedule(in_channels: int, resolution: int, width: int, n_layers: int | None = None) -> Schedule:
    """:class:`PatchDiscriminator`'s path, down to its map of patch logits."""
    n_layers = n_layers if n_layers is not None else patch_layers(resolution)
    side = resolution // 2
    path = [(resolution, in_channels), (side, width)]
    for i in range(1, n_layers + 1):
        side = (side - 2) // (2 if i < n_layers else 1) + 1
        path.append((side, width * min(2**i, 8)))
    return from_path([*path, (side - 1, 1)])


class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional D whose output is a map of logits, one per image patch.

    C64-C128-C256 stride-2 layers (``n_layers`` of them after the first, fewer for small images so
    the map stays at least 6x6 for 32 px images), one stride-1 C512 layer and a 1-channel conv.
    """

    def __init__(self, in_channels: int, resolution: int, width: int = 64, norm: Norm = batch_norm,
                 n_layers: int | None = None) -> None:
        super().__init__()
        n_layers = n_layers if n_layers is not None else patch_layers(resolution)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for i in range(1, n_layers + 1):
            nxt = width * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(ch, nxt, 4, stride, 1, bias=False), norm(nxt), nn.LeakyReLU(0.2)]
            ch = nxt
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ----------------------------------------------------------------------------- CycleGAN


class ResidualBlock(nn.Module):
    """Two padded 3x3 convolutions with instance norm, added to the input."""

    def __init__(self, channels: int, norm: Norm = instance_norm, pad: str = "reflect") -> None:
        super().__init__()
        self.body = nn.Sequential(padding(1, pad), nn.Conv2d(channels, channels, 3), norm(channels),
                                  nn.ReLU(True), padding(1, pad), nn.Conv2d(channels, channels, 3),
                                  norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_schedule(in_channels: int, out_channels: int, resolution: int, width: int, n_blocks: int,
                    n_down: int = 2) -> Schedule:
    """:class:`ResnetGenerator`'s path: c7s1 at full size, ``n_down`` halvings, the residual blocks,
    ``n_down`` doublings, c7s1 to the output."""
    down = [(resolution >> i, width * 2**i) for i in range(n_down + 1)]
    return from_path([(resolution, in_channels), *down, *down[-2::-1], (resolution, out_channels)],
                     residual_blocks=n_blocks)


class ResnetGenerator(nn.Module):
    """c7s1-64, d128, d256, ``n_blocks`` x R256, u128, u64, c7s1-C with Tanh (instance norm);
    ``pad`` is the padding of the stride-1 convolutions, ``resample_kernel`` the kernel of the
    stride-2 down- and up-sampling convolutions (3 in CycleGAN, 4 in StarGAN; padding 1 either way)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, n_blocks: int = 6,
                 n_down: int = 2, pad: str = "reflect", resample_kernel: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [padding(3, pad), nn.Conv2d(in_channels, width, 7), instance_norm(width),
                                   nn.ReLU(True)]
        k = resample_kernel
        ch = width
        for _ in range(n_down):
            layers += [nn.Conv2d(ch, ch * 2, k, 2, 1), instance_norm(ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResidualBlock(ch, pad=pad) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(ch, ch // 2, k, 2, 1, output_padding=4 - k), instance_norm(ch // 2),
                       nn.ReLU(True)]
            ch //= 2
        layers += [padding(3, pad), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class HistoryPool(nn.Module):
    """The last ``size`` generated images: once full, each new image is, with probability 0.5,
    swapped for a random stored one (which is returned instead), so D also sees older fakes.

    The stored images are buffers of the model, so a checkpoint carries the pool and a resumed
    run continues with the fakes it had collected.
    """

    def __init__(self, size: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self.host_filled: int | None = None

    def _load_from_state_dict(self, *args: object, **kwargs: object) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self.host_filled = None

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """The images D sees for this batch. The choices are drawn on the host and the fill count
        kept there too (read from the buffer once), so a query never waits for the GPU."""
        if self.size == 0:
            return images
        if self.host_filled is None:
            self.host_filled = int(self.filled)
        out = []
        for image in images.detach():
            if self.host_filled < self.size:
                self.images[self.host_filled] = image
                self.host_filled += 1
                out.append(image)
            elif torch.rand(()) < 0.5:
                i = int(torch.randint(0, self.size, ()))
                out.append(self.images[i].to(image.dtype, copy=True))
                self.images[i] = image
            else:
                out.append(image)
        self.filled.fill_(self.host_filled)
        return torch.stack(out)


# ----------------------------------------------------------------------------- SRGAN


class SRResidualBlock(nn.Module):
    """Conv3-BN-PReLU-Conv3-BN with an identity skip."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels), nn.PReLU(channels),
                                  nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PixelShuffleUpsample(nn.Sequential):
    """x2 up-sampling by a sub-pixel convolution (Shi et al., CVPR 2016): Conv3 to 4C, PixelShuffle(2), PReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__(nn.Conv2d(channels, channels * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(channels))


def srresnet_schedule(channels: int, resolution: int, scale: int, width: int, n_blocks: int) -> Schedule:
    """:class:`SRResNet`'s path from the ``resolution / scale`` input: the residual trunk, then per x2
    stage a convolution to ``4 width`` channels and a pixel shuffle."""
    side = resolution // scale
    path = [(side, channels), (side, width)]
    while side < resolution:
        path += [(side, 4 * width), (2 * side, width)]
        side *= 2
    return from_path([*path, (resolution, channels)], residual_blocks=n_blocks)


class SRResNet(nn.Module):
    """Conv9-PReLU, ``n_blocks`` residual blocks, Conv3-BN plus a long skip, log2(scale) pixel-shuffle
    x2 stages, Conv9 to C with Tanh."""

    def __init__(self, channels: int, scale: int, width: int = 64, n_blocks: int = 16) -> None:
        super().__init__()
        stages = int(math.log2(scale))
        if 2**stages != scale:
            raise UserError(f"SRResNet needs a power-of-two scale, got {scale}")
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.body = nn.Sequential(*[SRResidualBlock(width) for _ in range(n_blocks)],
                                  nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))
        self.upsample = nn.Sequential(*[PixelShuffleUpsample(width) for _ in range(stages)])
        self.tail = nn.Sequential(nn.Conv2d(width, channels, 9, 1, 4), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return self.tail(self.upsample(h + self.body(h)))


VGG_CONVOLUTIONS = 8


def vgg_schedule(channels: int, resolution: int, width: int) -> Schedule:
    """:class:`VGGDiscriminator`'s path: eight 3x3 convolutions, every second of stride 2, then two dense layers."""
    path = [(resolution, channels)]
    for i in range(VGG_CONVOLUTIONS):
        path.append((resolution >> ((i + 1) // 2), width * 2 ** (i // 2)))
    return from_path(path, dense=(width * 16, 1))


class VGGDiscriminator(nn.Module):
    """Eight 3x3 convolutions, 64 to 512 channels, every second one of stride 2 (BatchNorm after
    the first, LeakyReLU 0.2), then Dense(1024), LeakyReLU and Dense(1) to one logit."""

    def __init__(self, channels: int, resolution: int, width: int = 64) -> None:
        super().__init__()
        _log2(resolution, 16)
        layers: list[nn.Module] = []
        cin = channels
        for i in range(VGG_CONVOLUTIONS):
            cout = width * 2 ** (i // 2)
            layers.append(nn.Conv2d(cin, cout, 3, 1 + i % 2, 1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2))
            cin = cout
        self.features = nn.Sequential(*layers)
        side = resolution // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * side * side, width * 16), nn.LeakyReLU(0.2),
                                  nn.Linear(width * 16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1)


# ----------------------------------------------------------------------------- sampling interface


class TranslationModel(GenerativeModel):
    """A generator of images from images. ``task`` is ``paired``, ``unpaired`` or ``multi-domain``;
    ``task_view`` names the :mod:`ganbench.tasks` view it trains on; ``needs_reference`` marks
    variants whose loss uses the frozen reference classifier (``set_content_network``)."""

    task_view: ClassVar[str]
    stochastic: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = False

    def translate_float(self, source: torch.Tensor, target_labels: torch.Tensor | None) -> torch.Tensor:
        """Outputs in [-1, 1] for float inputs in [-1, 1] on the model's device."""
        raise NotImplementedError

    @torch.inference_mode()
    def translate(self, source: torch.Tensor, target_labels: torch.Tensor | None = None, seed: int = 0,
                  batch_size: int = 256) -> torch.Tensor:
        """uint8 ``source`` images -> uint8 outputs on the CPU, quantized like every fake.

        Sources lie on the networks' canvas (task views of ``Geometry.to_model`` images, as in
        training); each output is cropped back to the measured image size (``ganbench.geometry``).

        ``target_labels`` picks each output's domain (unpaired and multi-domain variants). Networks
        run in eval mode, except dropout where the variant uses it as noise (``stochastic``);
        ``seed`` fixes that noise.
        """
        devices = [self.device] if self.device.type == "cuda" else []
        was_training = self.training
        self.eval()
        if self.stochastic:
            for m in self.modules():
                if isinstance(m, nn.Dropout):
                    m.train()
        chunks = []
        geometry = self.spec.geometry
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                for start in range(0, len(source), batch_size):
                    chunk = slice(start, start + batch_size)
                    x = to_float(source[chunk]).to(self.device)
                    labels = None if target_labels is None else target_labels[chunk].to(self.device)
                    chunks.append(geometry.to_image(to_uint8(self.translate_float(x, labels))).cpu())
        finally:
            self.train(was_training)
        return torch.cat(chunks) if chunks else torch.empty(0, dtype=torch.uint8)

    def generate(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
        raise UserError(f"{self.name} translates images and cannot sample from noise; "
                        f"`ganbench run` makes its fakes from test-split inputs")
