"""Task measures of image-to-image generators (``ganbench.task_measures``), scored for translators
whose right answers are known: a paired translator that returns each input's ground truth, a
domain translator that moves each image to the same class position in its target domain, and
one that copies its input."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from ganbench.data import Dataset
from ganbench.geometry import Geometry
from ganbench.task_measures import task_measures
from ganbench.tasks import task_view

CLASSES, SIDE, LEVEL = 10, 8, 20
GEOMETRY = Geometry.for_images(SIDE)


def class_of(images: torch.Tensor) -> torch.Tensor:
    """The class of the constant class images below: its intensity over LEVEL."""
    return (images.double().flatten(1).mean(1) / LEVEL).round().long()


def class_images(classes: torch.Tensor) -> torch.Tensor:
    return (classes * LEVEL).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, SIDE, SIDE).contiguous()


def context_of(x_test: torch.Tensor, y_test: torch.Tensor) -> SimpleNamespace:
    """A run's context as the measures read it: the data, the seed and a reference classifier that is always right."""
    data = Dataset("classes", x_test, y_test, x_test, y_test, CLASSES)
    classifier = SimpleNamespace(extract=lambda images: SimpleNamespace(
        probs=F.one_hot(class_of(images), CLASSES).float()))
    return SimpleNamespace(data=data, config=SimpleNamespace(seed=0), extractor=lambda: classifier)


def model_of(task: str, translate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> SimpleNamespace:
    return SimpleNamespace(name=f"stand-in {task}", task_view=task, spec=SimpleNamespace(geometry=GEOMETRY),
                           translate=lambda images, labels, seed: translate(images, labels))


def same_position_in(domains: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Class c of domain c // per goes to class c + per * (target - c // per): a perfect, invertible translator."""
    per = CLASSES // domains

    def translate(canvas: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        classes = class_of(GEOMETRY.to_image(canvas))
        return class_images(classes + per * (targets - classes // per))

    return translate


def copy_input(canvas: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return GEOMETRY.to_image(canvas)


@pytest.mark.parametrize("task, domains", [("two-domain", 2), ("multi-domain", 5)])
def test_domain_tasks_score_translations_against_their_targets(task: str, domains: int) -> None:
    y = torch.arange(CLASSES).repeat(4)
    context = context_of(class_images(y), y)
    perfect = task_measures(context, model_of(task, same_position_in(domains)))
    assert perfect == {"domain_acc": 1.0, "cycle_l1": 0.0}
    copied = task_measures(context, model_of(task, copy_input))
    assert copied == {"domain_acc": 0.0, "cycle_l1": 0.0}


@pytest.mark.parametrize("task", ["edges", "super-resolution"])
def test_paired_tasks_score_outputs_against_the_ground_truth(task: str) -> None:
    x = torch.randint(0, 256, (30, 1, SIDE, SIDE), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(30) % CLASSES
    view = task_view(task, GEOMETRY.to_model(x), y, CLASSES)
    truth = {source.numpy().tobytes(): GEOMETRY.to_image(target[None])[0] for source, target in zip(view.source, view.target)}
    assert len(truth) == len(x)

    def ground_truth(sources: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.stack([truth[source.numpy().tobytes()] for source in sources])

    measures = task_measures(context_of(x, y), model_of(task, ground_truth))
    assert measures["l1"] == 0.0 and measures["ssim"] == pytest.approx(1.0) and measures["psnr"] > 100
    if task == "super-resolution":
        assert set(measures) == {"psnr", "ssim", "l1", "psnr_bicubic", "ssim_bicubic"}
        assert measures["psnr_bicubic"] < 40 and measures["ssim_bicubic"] < 1
    else:
        assert set(measures) == {"psnr", "ssim", "l1"}
