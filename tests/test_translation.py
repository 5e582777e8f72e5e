"""Pix2Pix, CycleGAN, SRGAN and StarGAN: the components that define each variant, and that
short training improves the task measure."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data import Dataset
from ganbench.errors import UserError
from ganbench.features import ClassifierExtractor, ReferenceClassifier
from ganbench.tasks import FakeInputs, TaskView, fake_inputs, task_view
from ganbench.translation_metrics import domain_accuracy, l1_error, psnr
from ganbench.generators import GENERATORS, Batch, DataSpec, create_generator
from ganbench.generators.losses import gradient_penalty
from ganbench.generators.trainer import TrainConfig, train
from ganbench.generators.translation_blocks import (HistoryPool, PatchDiscriminator, ResidualBlock, ResnetGenerator,
                                           TranslationModel)

SPEC = DataSpec("image", 1, 16, 10)


def images(n: int = 4, size: int = 16) -> torch.Tensor:
    return torch.rand(n, 1, size, size) * 2 - 1


def zero_(module: nn.Module) -> None:
    """Make a discriminator's output constant, so it passes no gradient to the generator."""
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()


def grads(module: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in module.parameters()]


def test_translation_variants_are_registered_with_their_task():
    tasks = {name: cls.task for name, cls in GENERATORS if name in {"pix2pix", "cyclegan", "srgan", "stargan"}}
    assert tasks == {"pix2pix": "paired", "srgan": "paired", "cyclegan": "unpaired", "stargan": "multi-domain"}
    with pytest.raises(UserError):
        create_generator("pix2pix", SPEC, preset_width=4).sample(2)


# ----------------------------------------------------------------------------- pix2pix


def test_pix2pix_unet_skips_connect_encoder_to_decoder():
    model = create_generator("pix2pix", SPEC, preset_width=4)
    g = model.G
    encoded, decoder_inputs = {}, {}
    for i, block in enumerate(g.down):
        block.register_forward_hook(lambda m, inp, out, i=i: encoded.__setitem__(i, out))
    for j, block in enumerate(g.up):
        block.register_forward_pre_hook(lambda m, inp, j=j: decoder_inputs.__setitem__(j, inp[0]))
    model.eval()
    g(images(2))
    levels = len(g.down)
    assert levels == 4
    for j in range(1, levels):
        skip = encoded[levels - 1 - j]
        assert torch.equal(decoder_inputs[j][:, -skip.shape[1]:], skip)
    assert torch.equal(decoder_inputs[0], encoded[levels - 1])


def test_pix2pix_patchgan_judges_the_input_output_pair():
    model = create_generator("pix2pix", SPEC, preset_width=4)
    assert model.D.net[0].in_channels == 2
    source, output = images(2), images(2)
    patches = model.pair(source, output)
    assert patches.shape[:2] == (2, 1) and patches.shape[-1] > 1 and patches.shape[-2] > 1
    assert not torch.allclose(patches, model.pair(images(2), output))


def test_pix2pix_generator_objective_weights_l1_by_100():
    model = create_generator("pix2pix", SPEC, preset_width=4)
    assert model.config.l1_weight == 100 and model.config.loss == "nonsaturating"
    model.configure_optimizers()
    zero_(model.D)
    batch = Batch(images(), torch.zeros(4, dtype=torch.long), 0, source=images())
    torch.manual_seed(7)
    l1 = F.l1_loss(model.G(batch.source), batch.real)
    expected = torch.autograd.grad(100 * l1, list(model.G.parameters()))
    torch.manual_seed(7)
    model.generator_step(batch)
    for got, want in zip(grads(model.G), expected):
        torch.testing.assert_close(got, want)


def test_pix2pix_dropout_is_the_noise_at_sampling():
    model = create_generator("pix2pix", SPEC, preset_width=4)
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in model.G.modules()) == 3
    source = torch.randint(0, 256, (3, 1, 16, 16), dtype=torch.uint8)
    a, b = model.translate(source, seed=1), model.translate(source, seed=1)
    assert a.dtype == torch.uint8 and a.shape == source.shape and torch.equal(a, b)
    assert not torch.equal(a, model.translate(source, seed=2))
    assert model.training


@pytest.mark.parametrize(("name", "overrides", "source_side"), [("pix2pix", {}, 16), ("srgan", {"n_blocks": 1}, 8)])
def test_discriminator_update_sends_no_gradient_into_the_generator(name: str, overrides: dict, source_side: int):
    """D's update trains on a detached output: G's weights get no gradient from it, and G's
    update that reuses the same output still back-propagates through G."""
    torch.manual_seed(0)
    model = create_generator(name, SPEC, preset_width=4, **overrides)
    model.configure_optimizers()
    source = images(4, source_side)
    batch = Batch(images(), torch.zeros(4, dtype=torch.long), 0, source=source, progress=0.75)
    assert "loss_d" in model.discriminator_step(batch)
    assert all(p.grad is None for p in model.G.parameters())
    model.generator_step(batch)
    assert all(p.grad is not None for p in model.G.parameters())


# ----------------------------------------------------------------------------- CycleGAN


def test_cyclegan_has_two_resnet_generators_and_two_patch_discriminators():
    model = create_generator("cyclegan", SPEC, preset_width=4)
    assert isinstance(model.G_AB, ResnetGenerator) and isinstance(model.G_BA, ResnetGenerator)
    assert model.G_AB is not model.G_BA and any(isinstance(m, ResidualBlock) for m in model.G_AB.modules())
    assert isinstance(model.D_A, PatchDiscriminator) and isinstance(model.D_B, PatchDiscriminator)
    assert model.D_A(images(2)).shape[-1] > 1
    assert any(isinstance(m, nn.InstanceNorm2d) for m in model.G_AB.modules())


def test_cyclegan_objective_is_least_squares_plus_cycle_and_identity():
    model = create_generator("cyclegan", SPEC, preset_width=4, n_blocks=1)
    c = model.config
    assert (c.cycle_weight, c.identity_weight, c.pool_size) == (10, 0.5, 50)
    model.configure_optimizers()
    a, b = images(), images()
    terms = model.generator_losses(a, b)
    cycle = F.l1_loss(model.G_BA(model.G_AB(a)), a) + F.l1_loss(model.G_AB(model.G_BA(b)), b)
    identity = F.l1_loss(model.G_AB(b), b) + F.l1_loss(model.G_BA(a), a)
    torch.testing.assert_close(terms["cycle"], cycle)
    torch.testing.assert_close(terms["identity"], identity)
    zero_(model.D_A)
    zero_(model.D_B)
    assert float(model.generator_losses(a, b)["adversarial"].detach()) == pytest.approx(2.0)
    params = [*model.G_AB.parameters(), *model.G_BA.parameters()]
    expected = torch.autograd.grad(10 * cycle + 5 * identity, params)
    model.generator_step(Batch(b, torch.ones(4, dtype=torch.long), 0, source=a))
    for got, want in zip([p.grad for p in params], expected):
        torch.testing.assert_close(got, want)


def test_history_pool_returns_past_fakes_half_the_time_and_holds_fifty():
    pool = HistoryPool(50, (1,))
    first = torch.arange(50.0).view(50, 1)
    assert torch.equal(pool.query(first), first)
    fresh = torch.arange(1000.0, 3000.0).view(2000, 1)
    out = torch.cat([pool.query(chunk) for chunk in fresh.split(10)])
    assert len(pool.images) == 50 and int(pool.filled) == 50
    from_past = (out < 1000) | (out.view(-1) < fresh.view(-1)).view(-1, 1)
    share = float(from_past.double().mean())
    assert 0.45 < share < 0.55
    assert set(out[out < 1000].tolist()) <= set(first.view(-1).tolist())


def test_cyclegan_checkpoint_carries_the_history_pool():
    model = create_generator("cyclegan", DataSpec("image", 1, 16, 10), preset_width=8, n_blocks=1)
    model.pool_a.query(torch.randn(30, 1, 16, 16))
    restored = create_generator("cyclegan", DataSpec("image", 1, 16, 10), preset_width=8, n_blocks=1)
    restored.load_state_dict(model.state_dict())
    assert int(restored.pool_a.filled) == 30 and int(restored.pool_b.filled) == 0
    assert torch.equal(restored.pool_a.images, model.pool_a.images)
    torch.manual_seed(0)
    expected = model.pool_a.query(torch.randn(40, 1, 16, 16))
    torch.manual_seed(0)
    assert torch.equal(restored.pool_a.query(torch.randn(40, 1, 16, 16)), expected)


# ----------------------------------------------------------------------------- SRGAN


def test_srgan_upsamples_by_pixel_shuffle():
    for resolution, factor in ((16, 2), (32, 4)):
        model = create_generator("srgan", DataSpec("image", 1, resolution, 10), preset_width=4, n_blocks=2)
        shuffles = [m for m in model.G.modules() if isinstance(m, nn.PixelShuffle)]
        assert len(shuffles) == factor // 2 and all(s.upscale_factor == 2 for s in shuffles)
        assert model.G(images(2, resolution // factor)).shape == (2, 1, resolution, resolution)
    assert model.D(images(2, 32)).shape == (2,)


def test_srgan_content_loss_uses_a_frozen_network_and_adversarial_weight_1e3():
    model = create_generator("srgan", SPEC, preset_width=4, n_blocks=2)
    assert model.config.adversarial_weight == 1e-3
    classifier = ReferenceClassifier(1, 10)
    model.set_content_network(classifier)
    frozen_state = {k: v.clone() for k, v in classifier.state_dict().items()}
    assert not any(k.startswith("content") for k in model.state_dict())
    model.configure_optimizers()
    batch = Batch(images(), torch.zeros(4, dtype=torch.long), 0, source=images(4, 8), progress=0.75)
    fake = model.G(batch.source)
    features = model.content_network
    content = F.mse_loss(features(fake), features(batch.real))
    torch.testing.assert_close(model.content_loss(fake, batch.real), content)
    expected = torch.autograd.grad(content + 1e-3 * F.softplus(-model.D(fake)).mean(), list(model.G.parameters()))
    model.generator_step(batch)
    for got, want in zip(grads(model.G), expected):
        torch.testing.assert_close(got, want)
    assert all(torch.equal(v, classifier.state_dict()[k]) for k, v in frozen_state.items())
    assert all(p.grad is None and not p.requires_grad for p in classifier.parameters())


def test_srgan_content_features_of_a_reference_classifier_are_its_last_blocks_maps():
    """An attached reference classifier gives its last convolutional block's feature maps, before
    its pooling (as the paper's phi_5,4 is VGG19's last block before its dense layers); the content
    loss is the MSE between them."""
    torch.manual_seed(0)
    model = create_generator("srgan", SPEC, preset_width=4, n_blocks=1)
    classifier = ReferenceClassifier(1, 10)
    model.set_content_network(classifier)
    trunk = list(classifier.trunk.children())
    assert isinstance(trunk[5], nn.AdaptiveAvgPool2d) and isinstance(trunk[6], nn.Flatten)
    fake, real = images(2), images(2)

    def last_block_maps(x: torch.Tensor) -> torch.Tensor:
        for layer in trunk[:5]:
            x = layer(x)
        return x

    with torch.no_grad():
        expected_fake, expected_real = last_block_maps(fake), last_block_maps(real)
        assert expected_fake.shape == (2, 128, 4, 4)
        torch.testing.assert_close(model.content_network(fake), expected_fake)
        torch.testing.assert_close(model.content_loss(fake, real), F.mse_loss(expected_fake, expected_real))


def test_srgan_first_trains_an_srresnet_on_the_pixel_mse_while_d_rests():
    model = create_generator("srgan", SPEC, preset_width=4, n_blocks=2)
    assert model.config.pretrain_fraction == 0.5
    model.configure_optimizers()
    batch = Batch(images(), torch.zeros(4, dtype=torch.long), 0, source=images(4, 8), progress=0.25)
    d_before = {k: v.clone() for k, v in model.D.state_dict().items()}
    assert model.discriminator_step(batch) == {}
    expected = torch.autograd.grad(F.mse_loss(model.G(batch.source), batch.real), list(model.G.parameters()))
    logs = model.generator_step(batch)
    assert set(logs) == {"mse"}
    for got, want in zip(grads(model.G), expected):
        torch.testing.assert_close(got, want)
    assert all(torch.equal(v, model.D.state_dict()[k]) for k, v in d_before.items())
    later = Batch(batch.real, batch.labels, 1, source=batch.source, progress=0.5)
    assert "loss_d" in model.discriminator_step(later) and "content" in model.generator_step(later)
    assert any(not torch.equal(v, model.D.state_dict()[k]) for k, v in d_before.items())


# ----------------------------------------------------------------------------- StarGAN


def test_stargan_generator_depends_on_the_target_domain_and_d_has_two_heads():
    model = create_generator("stargan", SPEC, preset_width=4, n_blocks=1)
    assert model.num_domains == 5 and model.n_critic == 5
    x = images(3)
    with torch.no_grad():
        difference = model.G(x, torch.tensor([0, 0, 0])) - model.G(x, torch.tensor([3, 3, 3]))
    assert float(difference.abs().max()) > 0.1, "the label maps must survive the generator's instance norm"
    src, cls = model.D(x)
    assert src.shape[:2] == (3, 1) and cls.shape == (3, 5)


def test_stargan_losses_include_reconstruction_and_gradient_penalty():
    model = create_generator("stargan", SPEC, preset_width=4, n_blocks=1)
    c = model.config
    assert (c.rec_weight, c.cls_weight, c.gp_weight) == (10, 1, 10)
    x, domains = images(4), torch.tensor([0, 1, 2, 3])
    torch.manual_seed(3)
    terms = model.generator_losses(x, domains)
    torch.manual_seed(3)
    targets = model.random_targets(domains)
    fake = model.G(x, targets)
    torch.testing.assert_close(terms["rec"], F.l1_loss(model.G(fake, domains), x))
    torch.testing.assert_close(terms["cls"], F.cross_entropy(model.D(fake)[1], targets))
    torch.manual_seed(4)
    d_terms = model.discriminator_losses(x, domains)
    torch.manual_seed(4)
    fake = model.G(x, model.random_targets(domains)).detach()
    gp = gradient_penalty(lambda t: model.D(t)[0], x, fake)
    torch.testing.assert_close(d_terms["gp"], gp)
    assert float(gp.detach()) > 0
    torch.testing.assert_close(d_terms["cls"], F.cross_entropy(model.D(x)[1], domains))


# ----------------------------------------------------------------------------- training improves the task


def test_pix2pix_training_raises_psnr_and_lowers_l1(digits16):
    view = task_view("edges", digits16.x_train, digits16.y_train, 10)
    inputs = fake_inputs("edges", digits16.x_test, digits16.y_test, 10, len(digits16.x_test), seed=0)
    model = create_generator("pix2pix", SPEC, preset_width=8)

    def measure() -> tuple[float, float]:
        outputs = model.translate(inputs.source, seed=0)
        return psnr(outputs, inputs.truth), l1_error(outputs, inputs.truth)

    psnr_before, l1_before = measure()
    outcome = train(model, view.target, view.target_labels, TrainConfig(steps=80, batch_size=16),
                    source=view.source, source_labels=view.source_labels)
    psnr_after, l1_after = measure()
    assert outcome.status == "ok" and psnr_after > psnr_before + 1, (psnr_before, psnr_after)
    assert l1_after < 0.9 * l1_before, (l1_before, l1_after)


def test_srgan_training_raises_psnr(digits16):
    view = task_view("super-resolution", digits16.x_train, digits16.y_train, 10)
    inputs = fake_inputs("super-resolution", digits16.x_test, digits16.y_test, 10, 200, seed=0)
    torch.manual_seed(0)
    model = create_generator("srgan", SPEC, preset_width=8, n_blocks=2)

    def measure() -> float:
        return psnr(model.translate(inputs.source, seed=0), inputs.truth)

    before = measure()
    outcome = train(model, view.target, view.target_labels, TrainConfig(steps=100, batch_size=16),
                    source=view.source, source_labels=view.source_labels)
    after = measure()
    print(f"srgan: PSNR {before:.1f} -> {after:.1f} dB")
    assert outcome.status == "ok" and after > before + 3, (before, after)


def domain_accuracy_before_after(model: TranslationModel, view: TaskView, inputs: FakeInputs,
                                 classifier: ClassifierExtractor, steps: int) -> tuple[float, float]:
    """Domain accuracy of ``model``'s translations of ``inputs`` before and after ``steps`` steps."""

    def accuracy() -> float:
        outputs = model.translate(inputs.source, inputs.target_labels)
        return domain_accuracy(lambda x: classifier.extract(x).probs.argmax(1), outputs, inputs.target_labels)

    before = accuracy()
    train(model, view.target, view.target_labels, TrainConfig(steps=steps, batch_size=16),
          source=view.source, source_labels=view.source_labels)
    after = accuracy()
    print(f"{model.name}: domain accuracy {before:.2f} -> {after:.2f}")
    return before, after


def test_cyclegan_training_raises_domain_accuracy(digits16, tmp_path):
    """Single-class data: domain B is colour-inverted; translations go both ways."""
    single = torch.zeros_like(digits16.y_train)
    view = task_view("two-domain", digits16.x_train, single, 1)
    test = task_view("two-domain", digits16.x_test, torch.zeros_like(digits16.y_test), 1)
    domains = Dataset("styles", torch.cat([view.source, view.target]),
                      torch.cat([view.source_labels, view.target_labels]), torch.cat([test.source, test.target]),
                      torch.cat([test.source_labels, test.target_labels]), 2)
    classifier = ClassifierExtractor(domains, tmp_path, epochs=1)
    assert classifier.test_accuracy > 0.95
    inputs = fake_inputs("two-domain", digits16.x_test, torch.zeros_like(digits16.y_test), 1, 200, seed=0)
    assert 0.3 < float(inputs.target_labels.double().mean()) < 0.7
    model = create_generator("cyclegan", DataSpec("image", 1, 16, 1), preset_width=4, n_blocks=1)
    before, after = domain_accuracy_before_after(model, view, inputs, classifier, steps=40)
    assert after > before + 0.25 and after > 0.85, (before, after)


def test_stargan_training_raises_domain_accuracy(digits16, tmp_path):
    """Single-class data in four style domains (original, inverted, mirrored, rotated)."""
    single = torch.zeros_like(digits16.y_train)
    view = task_view("multi-domain", digits16.x_train, single, 1)
    test = task_view("multi-domain", digits16.x_test, torch.zeros_like(digits16.y_test), 1)
    styles = Dataset("styles", view.source, view.source_labels, test.source, test.source_labels, 4)
    classifier = ClassifierExtractor(styles, tmp_path, epochs=1)
    assert classifier.test_accuracy > 0.8
    inputs = fake_inputs("multi-domain", digits16.x_test, torch.zeros_like(digits16.y_test), 1, 200, seed=0)
    torch.manual_seed(0)
    model = create_generator("stargan", DataSpec("image", 1, 16, 1), preset_width=8, n_blocks=1, lr=5e-4, n_critic=2)
    before, after = domain_accuracy_before_after(model, view, inputs, classifier, steps=120)
    assert after > before + 0.25 and after > 0.6, (before, after)
