"""Image-to-image tasks derived from any image data set, deterministically.

Every task turns uint8 ``N,C,H,W`` images and their class labels into a :class:`TaskView`:
``source`` images (the generator's input), ``target`` images (what it should produce, or real
images of the other domains) and the domain labels of both.

* ``edges`` (paired, Isola et al., "Image-to-Image Translation with Conditional Adversarial
  Networks", CVPR 2017): source = the Sobel gradient magnitude of the grey image (replicate
  padding, so a constant image has no edges), scaled so a full black-to-white step reaches 255
  and repeated over the channels; target = the image.
* ``super-resolution`` (paired, Ledig et al., "Photo-Realistic Single Image Super-Resolution
  Using a Generative Adversarial Network", CVPR 2017): source = the image down-sampled x4 with an
  antialiased bicubic kernel (x2 when the images are smaller than 32 px, so the input keeps at
  least 8 px); target = the image.
* ``two-domain`` (unpaired, Zhu et al., "Unpaired Image-to-Image Translation using
  Cycle-Consistent Adversarial Networks", ICCV 2017): classes ``c`` with ``2c < K`` form domain A,
  the others domain B (digits 0-4 vs 5-9). With a single class, the images are split into two
  seeded halves and domain B is the colour-inverted second half. Source = domain A, target =
  domain B, each drawn with a seeded permutation (repeating the smaller domain) so both have the
  same length; no pairing is implied.
* ``multi-domain`` (Choi et al., "StarGAN: Unified Generative Adversarial Networks for
  Multi-Domain Image-to-Image Translation", CVPR 2018): ``min(K, 5)`` domains of consecutive
  classes, domain ``c * D // K`` (digits {0,1}, {2,3}, ..., {8,9}). With a single class, four
  seeded quarters of the images become original, colour-inverted, mirrored and 90-degree rotated.
  Source = target = the images, labelled with their domain.

Class-based domains keep every translated image in the data set's own image distribution, so its
fakes are comparable with the real test split in the detection benchmark.

:func:`fake_inputs` draws the test-split inputs from which the benchmark's fake sets are made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganbench.errors import UserError
from ganbench.registry import Registry
from ganbench.runtime import derive_seed

MAX_DOMAINS = 5
DETECTION_REALS = "detector_real"
SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
# A black-to-white step gives a Sobel response of 4 * 255; that maps to 255.
SOBEL_SCALE = 0.25


@dataclass
class TaskView:
    """Inputs and targets of an image-to-image task on one split.

    ``class_to_domain`` maps a class label to its domain where domains are class groups (a
    classifier of classes then also predicts domains); it is ``None`` for style domains.
    """

    task: str
    kind: str
    source: torch.Tensor
    target: torch.Tensor
    source_labels: torch.Tensor
    target_labels: torch.Tensor
    num_domains: int
    class_to_domain: torch.Tensor | None = None


# ----------------------------------------------------------------------------- transforms


def sobel_edges(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``N,C,H,W`` -> uint8 Sobel gradient magnitude of the channel mean, repeated over C."""
    grey = images.float().mean(1, keepdim=True)
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    kernels = torch.stack([SOBEL_X, SOBEL_X.t()])[:, None]
    grad = F.conv2d(padded, kernels)
    magnitude = grad.pow(2).sum(1, keepdim=True).sqrt() * SOBEL_SCALE
    return magnitude.round().clamp(0, 255).to(torch.uint8).expand(-1, images.shape[1], -1, -1).contiguous()


def sr_factor(resolution: int) -> int:
    """x4 as in SRGAN, x2 for images smaller than 32 px."""
    return 4 if resolution >= 32 else 2


def downsample(images: torch.Tensor, factor: int, mode: str = "bicubic") -> torch.Tensor:
    """uint8 images shrunk by ``factor``: ``bicubic`` (antialiased) or ``box`` (mean of each block)."""
    h, w = images.shape[-2:]
    if h % factor or w % factor:
        raise UserError(f"images of {h}x{w} px cannot be down-sampled by {factor}")
    x = images.float()
    if mode == "box":
        y = F.avg_pool2d(x, factor)
    elif mode == "bicubic":
        y = F.interpolate(x, size=(h // factor, w // factor), mode="bicubic", align_corners=False, antialias=True)
    else:
        raise UserError(f"unknown down-sampling {mode!r} (bicubic or box)")
    return y.round().clamp(0, 255).to(torch.uint8)


def upsample_bicubic(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 images enlarged to ``size`` px with bicubic interpolation (the SR baseline)."""
    y = F.interpolate(images.float(), size=(size, size), mode="bicubic", align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8)


STYLES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "original": lambda x: x,
    "inverted": lambda x: 255 - x,
    "mirrored": lambda x: x.flip(-1),
    "rotated": lambda x: x.rot90(1, (-2, -1)),
}


def shift_images(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Each image translated by a random integer offset in [-max_shift, max_shift], edges replicated."""
    n, _, h, w = images.shape
    padded = F.pad(images.float(), (max_shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    out = torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])
    return out.to(torch.uint8)


# ----------------------------------------------------------------------------- task views


def _seeded_parts(n: int, parts: int, purpose: str) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(0, "task", purpose)))
    return [chunk.sort().values for chunk in order.tensor_split(parts)]


def _equal_length(a: torch.Tensor, b: torch.Tensor, purpose: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Index arrays of equal length over two sets, each a seeded permutation repeated as needed."""
    n = max(len(a), len(b))
    gen = torch.Generator().manual_seed(derive_seed(0, "pairing", purpose))

    def draw(index: torch.Tensor) -> torch.Tensor:
        reps = -(-n // len(index))
        return torch.cat([index[torch.randperm(len(index), generator=gen)] for _ in range(reps)])[:n]

    return draw(a), draw(b)


def edges_view(images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> TaskView:
    zeros = torch.zeros(len(images), dtype=torch.long)
    return TaskView("edges", "paired", sobel_edges(images), images, zeros, zeros, 1)


def super_resolution_view(images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> TaskView:
    zeros = torch.zeros(len(images), dtype=torch.long)
    low = downsample(images, sr_factor(images.shape[-1]))
    return TaskView("super-resolution", "paired", low, images, zeros, zeros, 1)


@dataclass(frozen=True)
class Domains:
    """Images with their domain labels: class groups, or style transforms for single-class data."""

    images: torch.Tensor
    labels: torch.Tensor
    count: int
    class_to_domain: torch.Tensor | None


def class_domains(num_classes: int, count: int) -> torch.Tensor | None:
    """The domain of each class, ``c * count // K``; None for single-class data (style domains)."""
    return torch.arange(num_classes) * count // num_classes if num_classes >= 2 else None


def assign_domains(images: torch.Tensor, labels: torch.Tensor, num_classes: int, count: int, purpose: str) -> Domains:
    """``count`` domains of consecutive classes (domain ``c * count // K``), or, with one class,
    the first ``count`` styles of :data:`STYLES` applied to seeded disjoint parts of the images."""
    class_to_domain = class_domains(num_classes, count)
    if class_to_domain is not None:
        return Domains(images, class_to_domain[labels], count, class_to_domain)
    styled = images.clone()
    domains = torch.zeros(len(images), dtype=torch.long)
    for d, (style, part) in enumerate(zip(list(STYLES.values())[:count], _seeded_parts(len(images), count, purpose))):
        styled[part] = style(images[part])
        domains[part] = d
    return Domains(styled, domains, count, None)


def two_domain_view(images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> TaskView:
    d = assign_domains(images, labels, num_classes, 2, "two-domain")
    in_a, in_b = torch.nonzero(d.labels == 0).view(-1), torch.nonzero(d.labels == 1).view(-1)
    if len(in_a) == 0 or len(in_b) == 0:
        raise UserError("the two-domain task needs images of both domains")
    a, b = _equal_length(in_a, in_b, "two-domain")
    return TaskView("two-domain", "unpaired", d.images[a], d.images[b], d.labels[a], d.labels[b], 2, d.class_to_domain)


def domain_count(kind: str, num_classes: int) -> int:
    """2 for unpaired tasks; ``min(K, 5)`` class groups, or the four styles, for multi-domain ones."""
    if kind == "unpaired":
        return 2
    return min(num_classes, MAX_DOMAINS) if num_classes >= 2 else len(STYLES)


def multi_domain_view(images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> TaskView:
    count = domain_count("multi-domain", num_classes)
    d = assign_domains(images, labels, num_classes, count, "multi-domain")
    return TaskView("multi-domain", "multi-domain", d.images, d.images, d.labels, d.labels, count, d.class_to_domain)


TASKS: Registry[Callable[[torch.Tensor, torch.Tensor, int], TaskView]] = Registry("image-to-image task")
TASKS.register(edges_view, "edges")
TASKS.register(super_resolution_view, "super-resolution")
TASKS.register(two_domain_view, "two-domain")
TASKS.register(multi_domain_view, "multi-domain")
TASK_KINDS = {"edges": "paired", "super-resolution": "paired", "two-domain": "unpaired",
              "multi-domain": "multi-domain"}


def task_view(task: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> TaskView:
    """The view of ``task`` over uint8 images and their class labels."""
    if images.dim() != 4 or images.dtype != torch.uint8:
        raise UserError(f"task {task!r} needs uint8 N,C,H,W images, got {images.dtype} {tuple(images.shape)}")
    return TASKS.get(task)(images, labels, num_classes)


# ----------------------------------------------------------------------------- fake-set inputs


@dataclass
class FakeInputs:
    """Inputs for one set of fakes: ``source`` images with their domains, the domain to translate
    each to, and the ground truth (paired tasks) it should become."""

    source: torch.Tensor
    source_labels: torch.Tensor
    target_labels: torch.Tensor
    truth: torch.Tensor | None


def split_for_fakes(n: int, names: tuple[str, ...], seed: int) -> dict[str, torch.Tensor]:
    """Test-split indices for each fake set, and for the detectors' real test images.

    The first set (``eval``) uses the whole test split. A seeded permutation of the split keeps its
    first half as :data:`DETECTION_REALS`, the real images detectors are tested on, which are never
    translated into fakes; the other half is cut into disjoint slices, one per further set, so
    detectors are trained and tested on fakes of different inputs and no real test image is the
    source of a fake it is compared with.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, "fake-inputs")))
    reals, sources = order[: n // 2], order[n // 2 :]
    slices = sources.tensor_split(len(names) - 1) if len(names) > 1 else ()
    return {names[0]: torch.arange(n), DETECTION_REALS: reals.sort().values,
            **{name: part.sort().values for name, part in zip(names[1:], slices)}}


def fake_inputs(task: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int, n: int,
                seed: int) -> FakeInputs:
    """``n`` inputs made from (test-split) ``images``, for one set of fakes.

    The images are used once in order; when ``n`` exceeds their number, each further pass
    translates every image by a seeded random offset of up to 2 px (edges replicated) before the
    task's transform, so repeated inputs are new images. Unpaired and multi-domain inputs are
    translated to a domain other than their own, drawn uniformly with the same seed.
    """
    TASKS.get(task)
    if len(images) == 0:
        raise UserError(f"task {task!r} has no test images to translate")
    gen = torch.Generator().manual_seed(seed)
    passes = [images] + [shift_images(images, gen) for _ in range(-(-n // len(images)) - 1)]
    real = torch.cat(passes)[:n]
    real_labels = labels.repeat(len(passes))[:n]
    kind = TASK_KINDS[task]
    if kind == "paired":
        view = TASKS.get(task)(real, real_labels, num_classes)
        return FakeInputs(view.source, view.source_labels, view.target_labels, view.target)
    d = assign_domains(real, real_labels, num_classes, domain_count(kind, num_classes), task)
    offset = torch.randint(1, d.count, (n,), generator=gen)
    return FakeInputs(d.images, d.labels, (d.labels + offset) % d.count, None)
