"""Image-to-image task views (ganbench.tasks): transforms, domains and the inputs of fake sets."""

from __future__ import annotations

import pytest
import torch

from ganbench.errors import UserError
from ganbench.tasks import (DETECTION_REALS, TASKS, downsample, fake_inputs, sobel_edges, split_for_fakes, sr_factor, task_view,
                            upsample_bicubic)


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
