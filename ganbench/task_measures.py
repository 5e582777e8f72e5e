"""Task measures of image-to-image generators on a run's test split.

Inputs are made on the networks' canvas as in training, and every output is measured in the
image geometry (``ganbench.geometry``). Paired tasks (edges -> image, super-resolution) are
scored against their ground truth with PSNR, SSIM and L1 (super-resolution also reports the
bicubic baseline); unpaired and multi-domain ones
(CycleGAN, StarGAN) by the domain accuracy of their translations and the cycle reconstruction
error. Domains that are class groups are read by the run's reference classifier; style domains
by a reference classifier trained on the styled train split (cached like the first).
"""

from __future__ import annotations

from collections.abc import Callable
import torch

from ganbench.context import RunContext
from ganbench.data import Dataset
from ganbench.features import ClassifierExtractor
from ganbench.generators.translation_blocks import TranslationModel
from ganbench.runtime import derive_seed, preserved_rng
from ganbench.tasks import TASK_KINDS, assign_domains, class_domains, domain_count, fake_inputs
from ganbench.translation_metrics import bicubic_baseline, cycle_error, domain_accuracy, paired_measures


def task_measures(context: RunContext, model: TranslationModel) -> dict[str, float]:
    """The task's measures on one pass over the test split."""
    data, geometry = context.data, model.spec.geometry
    seed = derive_seed(context.config.seed, model.name, "task-measures")
    inputs = fake_inputs(model.task_view, geometry.to_model(data.x_test), data.y_test, data.num_classes,
                         len(data.x_test), seed)
    with preserved_rng():
        outputs = model.translate(inputs.source, inputs.target_labels, seed=seed)
        if inputs.truth is not None:
            measures = paired_measures(outputs, geometry.to_image(inputs.truth))
            if model.task_view == "super-resolution":
                measures.update(bicubic_baseline(inputs.source, inputs.truth, crop=geometry.to_image))
            return measures
        predict = domain_predictor(context, model.task_view)

        def translate(images: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
            return model.translate(geometry.to_model(images), domains, seed=seed)

        return {"domain_acc": domain_accuracy(predict, outputs, inputs.target_labels),
                "cycle_l1": cycle_error(translate, geometry.to_image(inputs.source), inputs.source_labels,
                                        inputs.target_labels)}


def domain_predictor(context: RunContext, task: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Domain of uint8 images: the reference classifier's class mapped to its class group, or,
    for style domains, a reference classifier trained on the styled train split."""
    d = context.data
    count = domain_count(TASK_KINDS[task], d.num_classes)
    mapping = class_domains(d.num_classes, count)
    if mapping is not None:
        extractor = context.extractor()
        return lambda images: mapping[extractor.extract(images).probs.argmax(1)]
    train = assign_domains(d.x_train, d.y_train, d.num_classes, count, task)
    test = assign_domains(d.x_test, d.y_test, d.num_classes, count, task)
    domains = Dataset(f"{d.name}-{task}", train.images, train.labels, test.images, test.labels, count)
    with preserved_rng():
        classifier = ClassifierExtractor(domains, context.store.cache_dir, seed=context.config.seed,
                                         epochs=context.config.preset.classifier_epochs, device=context.config.device)
    return lambda images: classifier.extract(images).probs.argmax(1)
