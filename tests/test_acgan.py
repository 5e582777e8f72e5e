"""AC-GAN (Odena et al. 2017): the label reaches G, D's auxiliary classifier shares its trunk,
both players minimise the paper's objectives, and a short training run generates the classes
asked for."""

from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.pixels import to_float
from ganbench.errors import UserError
from ganbench.generators import GENERATORS, Batch, DataSpec, GenerativeModel, create_generator
from ganbench.generators.tricks import Tricks
from ganbench.suites import resolve_suite
from quality_check import conditional_accuracy_before_after, digits

SPEC16 = DataSpec("image", 1, 16, 10)
Z_DIM = 100




def build(width: int = 8, **overrides: object) -> GenerativeModel:
    torch.manual_seed(0)
    model = create_generator("acgan", SPEC16, preset_width=width, **overrides)
    model.configure_optimizers()
    return model


def digit_batch(n: int = 16) -> Batch:
    data = digits(16)
    return Batch(to_float(data.x_train[:n]), data.y_train[:n], 0)


class Calls:
    """The positional inputs and the outputs of every forward pass of a module, in order."""

    def __init__(self, module: nn.Module) -> None:
        self.inputs: list[tuple] = []
        self.outputs: list[torch.Tensor] = []
        module.register_forward_hook(self.record)

    def record(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.inputs.append(args)
        self.outputs.append(output)


def bce_real(logits: torch.Tensor) -> torch.Tensor:
    """-E[log P(S = real | X)] with P(S = real | X) = sigmoid(logit)."""
    return -torch.log(torch.sigmoid(logits.reshape(-1))).mean()


def bce_fake(logits: torch.Tensor) -> torch.Tensor:
    """-E[log P(S = fake | X)]."""
    return -torch.log(1 - torch.sigmoid(logits.reshape(-1))).mean()


def class_nll(logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """-E[log P(C = c | X)] with P(C | X) = softmax(logits)."""
    probs = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
    return -torch.log(probs[torch.arange(len(classes)), classes]).mean()


def test_acgan_is_a_conditional_variant_listed_after_cgan() -> None:
    cls = GENERATORS.get("acgan")
    assert cls.conditional and cls.year == 2017 and "Auxiliary Classifier" in cls.paper
    for suite in ("conditional", "gans", "all"):
        generators, _ = resolve_suite(suite)
        assert generators.index("acgan") == generators.index("cgan") + 1
    model = build()
    assert (model.config.lr, model.config.betas) == (2e-4, (0.5, 0.999))
    labels, codes = model.evaluation_conditions(20)
    assert codes is None and torch.equal(labels, torch.arange(20) % 10)
    with pytest.raises(UserError, match="packing"):
        create_generator("acgan+packing", SPEC16, preset_width=8)


def test_generator_receives_the_label() -> None:
    model = build().eval()

    def images(labels: list[int]) -> torch.Tensor:
        return model.generate(len(labels), torch.tensor(labels), torch.Generator().manual_seed(1)).flatten(1)

    first, second = images([0, 1, 2, 3]), images([5, 6, 7, 8])
    assert ((first - second).norm(dim=1) > 0.05 * first.norm(dim=1)).all()
    torch.testing.assert_close(first, images([0, 1, 2, 3]), rtol=0, atol=0)
    balanced = model.generate(10, None, torch.Generator().manual_seed(1)).flatten(1)
    torch.testing.assert_close(images(list(range(10))), balanced)


def test_auxiliary_class_loss_reaches_the_shared_trunk() -> None:
    model = build()
    model.discriminator_step(digit_batch())
    model.zero_grad(set_to_none=True)
    _, classes = model.discriminator_losses(digit_batch())
    classes.backward()
    trunk = [p for p in model.D.trunk.parameters() if p.dim() > 1]
    assert trunk and all(p.grad is not None and p.grad.abs().sum() > 0 for p in trunk)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.D.classifier.parameters())
    assert all(p.grad is None for p in model.D.head.parameters())
    assert all(p.grad is None for p in model.G.parameters())
    optimised = {id(p) for group in model.opt_d.param_groups for p in group["params"]}
    assert {id(p) for p in model.D.classifier.parameters()} <= optimised


def test_steps_minimise_the_papers_source_and_class_losses() -> None:
    model = build()
    generator, source, classes = Calls(model.G), Calls(model.D.head), Calls(model.D.classifier)
    losses: list[torch.Tensor] = []
    model.optimize = lambda optimizer, loss: losses.append(loss)  # type: ignore[method-assign]
    batch = digit_batch()
    logs = model.discriminator_step(batch)
    model.generator_step(batch)
    sampled = []
    for (latent,) in generator.inputs:
        sampled.append(latent.flatten(1)[:, Z_DIM:].argmax(1))
        torch.testing.assert_close(latent.flatten(1)[:, Z_DIM:], F.one_hot(sampled[-1], 10).float())
    real_s, fake_s, fake_s_g = (logits.detach() for logits in source.outputs)
    real_c, fake_c, fake_c_g = (logits.detach() for logits in classes.outputs)
    source_d = bce_real(real_s) + bce_fake(fake_s)
    class_d = class_nll(real_c, batch.labels) + class_nll(fake_c, sampled[0])
    torch.testing.assert_close(losses[0], source_d + class_d)
    torch.testing.assert_close(logs["loss_d"], source_d)
    torch.testing.assert_close(logs["loss_class"], class_d)
    torch.testing.assert_close(losses[1], bce_real(fake_s_g) + class_nll(fake_c_g, sampled[1]))


def test_short_training_generates_the_class_asked_for() -> None:
    before, after = conditional_accuracy_before_after(build(width=16), steps=300)
    print(f"acgan conditional accuracy {before:.2f} -> {after:.2f} (chance 0.10)")
    assert before < 0.2 and after >= 0.4


def test_discriminator_source_loss_takes_reals_as_real_and_fakes_as_fake() -> None:
    """D's ``-L_S`` is the BCE of the real batch against "real" plus that of the fakes against "fake"."""
    model = build()
    batch = digit_batch()
    fixed = torch.rand(len(batch.real), 1, 16, 16) * 2 - 1
    model.fake = lambda labels, generator=None: fixed  # type: ignore[method-assign]
    source, _ = model.discriminator_losses(batch)
    with torch.no_grad():
        real_logits, fake_logits = model.D(batch.real), model.D(fixed)
    torch.testing.assert_close(source.detach(), bce_real(real_logits) + bce_fake(fake_logits))
    assert not torch.isclose(source.detach(), bce_real(fake_logits) + bce_fake(real_logits))


def test_training_classes_are_drawn_uniformly_from_all_k() -> None:
    """``c ~ p_c`` covers every class, each about equally often."""
    torch.manual_seed(3)
    counts = torch.bincount(build().sample_labels(5000), minlength=10)
    assert len(counts) == 10 and counts.min() > 400 and counts.max() < 600


def test_any_packing_above_one_is_refused() -> None:
    """The auxiliary classifier classifies single samples, so packs of two are refused like packs of four."""
    with pytest.raises(UserError, match="packing"):
        create_generator("acgan", SPEC16, preset_width=8, tricks=Tricks(packing=2))
