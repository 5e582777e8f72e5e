"""Image-to-image task views (ganbench.tasks): transforms, domains and the inputs of fake sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.errors import UserError
from ganbench.tasks import (DETECTION_REALS, STYLES, TASKS, downsample, fake_inputs, shift_images, sobel_edges,
                            split_for_fakes, sr_factor, super_resolution_view, task_view, upsample_bicubic)
from ganbench.units import FAKE_SETS


def test_sobel_edges_of_a_constant_image_are_zero_and_a_step_is_white():
    constant = torch.full((2, 3, 16, 16), 91, dtype=torch.uint8)
    assert sobel_edges(constant).eq(0).all()
    step = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    step[..., 8:] = 255
    edges = sobel_edges(step)
    assert edges.dtype == torch.uint8 and edges.shape == step.shape
    assert edges[0, 0, :, 7:9].eq(255).all() and edges[0, 0, :, :6].eq(0).all() and edges[0, 0, :, 10:].eq(0).all()


def test_downsampling_shapes_and_box_means():
    images = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8)
    assert sr_factor(32) == 4 and sr_factor(16) == 2
    assert downsample(images, 4).shape == (3, 1, 8, 8)
    box = downsample(images, 2, "box")
    expected = images.float().view(3, 1, 16, 2, 16, 2).mean((3, 5)).round()
    assert torch.equal(box.float(), expected)
    assert upsample_bicubic(downsample(images, 4), 32).shape == images.shape
    with pytest.raises(UserError):
        downsample(torch.zeros(1, 1, 30, 30, dtype=torch.uint8), 4)


def test_paired_views_align_inputs_with_their_images(digits16):
    edges = task_view("edges", digits16.x_train, digits16.y_train, 10)
    assert edges.kind == "paired" and torch.equal(edges.target, digits16.x_train)
    assert torch.equal(edges.source, sobel_edges(digits16.x_train))
    sr = task_view("super-resolution", digits16.x_train, digits16.y_train, 10)
    assert sr.source.shape[-1] == 8 and torch.equal(sr.source, downsample(digits16.x_train, 2))


def test_two_domain_view_splits_classes_and_falls_back_to_inversion(digits16):
    x, y = digits16.x_train, digits16.y_train
    view = task_view("two-domain", x, y, 10)
    assert view.kind == "unpaired" and len(view.source) == len(view.target)
    assert view.source_labels.eq(0).all() and view.target_labels.eq(1).all()
    assert torch.equal(view.class_to_domain, torch.tensor([0] * 5 + [1] * 5))
    originals = {bytes(img.numpy()) for img in x}
    assert all(bytes(img.numpy()) in originals for img in view.target[:50])
    styled = task_view("two-domain", x, torch.zeros_like(y), 1)
    assert styled.class_to_domain is None
    inverted = {bytes((255 - img).numpy()) for img in x}
    assert all(bytes(img.numpy()) in inverted for img in styled.target[:50])
    again = task_view("two-domain", x, torch.zeros_like(y), 1)
    assert torch.equal(again.target, styled.target) and torch.equal(again.source, styled.source)


def test_multi_domain_view_groups_classes(digits16):
    view = task_view("multi-domain", digits16.x_train, digits16.y_train, 10)
    assert view.num_domains == 5 and view.kind == "multi-domain"
    assert torch.equal(view.source_labels, digits16.y_train // 2)
    styled = task_view("multi-domain", digits16.x_train, torch.zeros_like(digits16.y_train), 1)
    assert styled.num_domains == 4 and torch.bincount(styled.source_labels).min() > 0


def test_fake_inputs_use_the_split_once_then_shifted_copies(digits16):
    x, y = digits16.x_test, digits16.y_test
    paired = fake_inputs("edges", x, y, 10, len(x) + 30, seed=3)
    assert torch.equal(paired.truth[: len(x)], x) and len(paired.source) == len(x) + 30
    assert not torch.equal(paired.truth[len(x):], x[:30])
    assert torch.equal(paired.source, sobel_edges(paired.truth))
    assert torch.equal(fake_inputs("edges", x, y, 10, len(x) + 30, seed=3).truth, paired.truth)
    multi = fake_inputs("multi-domain", x, y, 10, 200, seed=1)
    assert (multi.target_labels != multi.source_labels).all() and multi.target_labels.max() == 4
    unpaired = fake_inputs("two-domain", x, y, 10, 200, seed=1)
    assert torch.equal(unpaired.target_labels, 1 - unpaired.source_labels)


def test_fake_sets_and_detection_reals_come_from_disjoint_test_inputs():
    index = split_for_fakes(100, ("eval", "detector_train", "fresh"), seed=0)
    assert torch.equal(index["eval"], torch.arange(100))
    train, fresh = set(index["detector_train"].tolist()), set(index["fresh"].tolist())
    reals = set(index[DETECTION_REALS].tolist())
    assert not train & fresh and not reals & (train | fresh) and len(reals | train | fresh) == 100
    assert len(reals) == 50


def test_unknown_task_is_a_user_error(digits16):
    assert set(TASKS.names()) == {"edges", "super-resolution", "two-domain", "multi-domain"}
    with pytest.raises(UserError):
        task_view("colourise", digits16.x_train, digits16.y_train, 10)


@pytest.mark.parametrize("which", FAKE_SETS)
def test_a_runs_translated_fakes_come_from_their_own_slice_of_the_test_split(which: str) -> None:
    """Each fake set of an image-to-image variant translates the test-split images of its own slice
    (the whole split for ``eval``): never a training image, and never a real image the detectors are
    tested on."""
    from types import SimpleNamespace

    from ganbench.generation import GenerationUnits

    n_test, n = 40, 30
    x_test = torch.arange(n_test, dtype=torch.uint8).view(n_test, 1, 1, 1).expand(-1, 1, 4, 4).contiguous()
    data = SimpleNamespace(x_test=x_test, y_test=torch.arange(n_test) % 10, num_classes=10,
                           x_train=x_test + 100, y_train=torch.arange(n_test) % 10)
    units = GenerationUnits.__new__(GenerationUnits)
    units.context = SimpleNamespace(data=data, config=SimpleNamespace(seed=3))
    unchanged = SimpleNamespace(to_model=lambda x: x)
    model = SimpleNamespace(task_view="multi-domain", spec=SimpleNamespace(geometry=unchanged),
                            translate=lambda source, labels, seed: source)
    fakes = units.translated_fakes(model, which, n, seed=7)
    split = split_for_fakes(n_test, FAKE_SETS, 3)
    sources = {int(v) for v in fakes[:, 0, 0, 0]}
    allowed = set(split[which].tolist())
    assert sources <= allowed and len(sources) == min(n, len(allowed))
    if which != "eval":
        assert not sources & set(split[DETECTION_REALS].tolist())


def test_sobel_edges_are_a_quarter_of_the_gradient_magnitude_of_the_channel_mean():
    """A ramp rising ``s`` per pixel has Sobel responses of 8s; the edge image holds a quarter of the
    magnitude, 2s, along either axis and from whichever channel the ramp is in."""
    ramp = torch.arange(16, dtype=torch.uint8) * 10
    along_x = ramp.expand(1, 1, 16, 16).contiguous()
    along_y = along_x.transpose(-2, -1).contiguous()
    for image in (along_x, along_y):
        assert sobel_edges(image)[0, 0, 1:-1, 1:-1].eq(20).all()
    green = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    green[:, 1] = torch.arange(16, dtype=torch.uint8) * 15
    assert sobel_edges(green)[:, :, 1:-1, 1:-1].eq(10).all()


def test_super_resolution_inputs_are_shrunk_with_an_antialiased_bicubic_kernel_as_pil_does():
    """The x4 input of a 32-px image equals PIL's bicubic reduction (which widens its kernel by the
    factor) to one grey level, where a plain bicubic sample aliases the stripes."""
    from PIL import Image

    stripes = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    stripes[..., ::2] = 255
    stripes[..., ::3, :] //= 2
    pil = Image.fromarray(stripes[0, 0].numpy()).resize((8, 8), Image.Resampling.BICUBIC)
    low = super_resolution_view(stripes, torch.zeros(1, dtype=torch.long), 1).source
    assert (low[0, 0].int() - torch.from_numpy(np.array(pil)).int()).abs().max() <= 1


def test_the_super_resolution_baseline_is_bicubic():
    """Enlarging a step, a cubic kernel overshoots on both sides of it (clamped at the ends of the
    range), where a linear one stays between the two levels."""
    step = torch.full((1, 1, 8, 8), 60, dtype=torch.uint8)
    step[..., 4:] = 180
    big = upsample_bicubic(step, 32)[0, 0, 0]
    assert big.min() < 60 and big.max() > 180
    assert big[0] == 60 and big[-1] == 180


def test_shifted_copies_move_each_image_up_to_two_pixels_either_way():
    """A dot at the centre of each copy lands at every offset in [-2, 2] on both axes."""
    dots = torch.zeros(400, 1, 9, 9, dtype=torch.uint8)
    dots[:, :, 4, 4] = 255
    moved = shift_images(dots, torch.Generator().manual_seed(0))
    rows, columns = (moved[:, 0] == 255).nonzero()[:, 1:].T
    offsets = set(zip((rows - 4).tolist(), (columns - 4).tolist()))
    assert offsets == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_a_set_of_few_classes_has_as_many_domains_as_classes():
    labels = torch.arange(30) % 3
    view = task_view("multi-domain", torch.zeros(30, 1, 8, 8, dtype=torch.uint8), labels, 3)
    assert view.num_domains == 3 and torch.equal(view.source_labels, labels)


def test_repeated_fake_inputs_keep_the_domain_of_their_image():
    """Past the end of the split, each shifted copy keeps its own image's domain."""
    labels = torch.arange(20) % 10
    images = (labels * 20).to(torch.uint8).view(20, 1, 1, 1).expand(-1, 1, 8, 8).contiguous()
    inputs = fake_inputs("multi-domain", images, labels, 10, 50, seed=2)
    classes = inputs.source[:, 0, 0, 0].long() // 20
    assert torch.equal(inputs.source_labels, classes // 2)


def test_detection_reals_and_each_fake_slice_mix_the_classes_of_a_class_sorted_split():
    """A test split stored class by class: the detectors' reals and every slice translated into fakes
    hold every class, so no detector can tell reals from fakes by their class."""
    classes = torch.arange(200) // 20
    index = split_for_fakes(200, FAKE_SETS, seed=0)
    for name in (DETECTION_REALS, *FAKE_SETS):
        assert set(classes[index[name]].tolist()) == set(range(10)), name
    assert not torch.equal(index[DETECTION_REALS], split_for_fakes(200, FAKE_SETS, seed=1)[DETECTION_REALS])


def test_super_resolution_shrinks_by_four_from_32_pixels_and_by_two_below() -> None:
    assert (sr_factor(64), sr_factor(32), sr_factor(31), sr_factor(16)) == (4, 4, 2, 2)
    images = torch.randint(0, 256, (2, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    assert super_resolution_view(images, torch.zeros(2, dtype=torch.long), 1).source.shape == (2, 3, 8, 8)


def test_single_class_styles_are_inversion_left_right_mirror_and_a_quarter_turn() -> None:
    image = torch.arange(6, dtype=torch.uint8).view(1, 1, 2, 3)
    assert torch.equal(STYLES["inverted"](image), 255 - image)
    assert STYLES["mirrored"](image).flatten().tolist() == [2, 1, 0, 5, 4, 3]
    assert STYLES["rotated"](image).flatten().tolist() == [2, 5, 1, 4, 0, 3]


def test_views_refuse_images_that_are_not_uint8_nchw() -> None:
    labels = torch.zeros(2, dtype=torch.long)
    with pytest.raises(UserError, match="needs uint8 N,C,H,W images"):
        task_view("edges", torch.zeros(2, 1, 8, 8), labels, 1)
    with pytest.raises(UserError, match="needs uint8 N,C,H,W images"):
        task_view("edges", torch.zeros(2, 8, 8, dtype=torch.uint8), labels, 1)


def test_downsampling_refuses_sides_the_factor_does_not_divide() -> None:
    for h, w in ((8, 6), (6, 8)):
        with pytest.raises(UserError, match=f"images of {h}x{w} px cannot be down-sampled by 4"):
            downsample(torch.zeros(1, 1, h, w, dtype=torch.uint8), 4)


def test_two_domains_need_images_of_both(digits16):
    """Digits 0-4 only leave domain B (5-9) empty: one line, not a division by zero."""
    x, y = digits16.x_train, digits16.y_train
    for keep in (y < 5, y >= 5):
        with pytest.raises(UserError, match="needs images of both domains"):
            task_view("two-domain", x[keep], y[keep], 10)
