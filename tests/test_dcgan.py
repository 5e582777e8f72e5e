"""DCGAN (Radford et al. 2015): the components that define it, and that training improves FID."""

from __future__ import annotations

import torch
from torch import nn

from ganbench.features import ClassifierExtractor
from ganbench.metrics import fid_from_features
from ganbench.generators import DataSpec, create_generator
from ganbench.generators.trainer import TrainConfig, train


def test_dcgan_architecture_follows_the_paper(image_spec):
    model = create_generator("dcgan", image_spec, preset_width=16)
    g_layers, d_layers = list(model.G.modules()), list(model.D.modules())
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in g_layers + d_layers)
    convs_t = [m for m in g_layers if isinstance(m, nn.ConvTranspose2d)]
    assert [c.stride for c in convs_t[1:]] == [(2, 2)] * (len(convs_t) - 1)
    assert all(c.stride == (2, 2) for c in model.D.features if isinstance(c, nn.Conv2d))
    g_seq, d_seq = list(model.G.net), list(model.D.features)
    assert isinstance(g_seq[-1], nn.Tanh) and isinstance(g_seq[-2], nn.ConvTranspose2d)
    assert isinstance(d_seq[0], nn.Conv2d) and not isinstance(d_seq[1], nn.BatchNorm2d)
    assert any(isinstance(m, nn.BatchNorm2d) for m in g_layers) and any(isinstance(m, nn.BatchNorm2d) for m in d_layers)
    assert all(m.negative_slope == 0.2 for m in d_layers if isinstance(m, nn.LeakyReLU))
    assert any(isinstance(m, nn.ReLU) for m in g_layers)
    weights = torch.cat([m.weight.detach().flatten() for m in g_layers + d_layers if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(float(weights.std()) - 0.02) < 0.003 and abs(float(weights.mean())) < 0.002
    optimizers = model.configure_optimizers()
    for opt in optimizers.values():
        assert opt.defaults["lr"] == 2e-4 and opt.defaults["betas"] == (0.5, 0.999)


def test_dcgan_sample_is_quantized_and_seeded(image_spec):
    model = create_generator("dcgan", image_spec, preset_width=8)
    a, b = model.sample(6, seed=1), model.sample(6, seed=1)
    assert a.dtype == torch.uint8 and a.shape == (6, 1, 32, 32) and torch.equal(a, b)
    assert not torch.equal(a, model.sample(6, seed=2))


def test_dcgan_training_lowers_fid(digits16, tmp_path):
    spec = DataSpec("image", 1, 16, 10)
    extractor = ClassifierExtractor(digits16, tmp_path, epochs=2)
    real = extractor.extract(digits16.x_test).features
    model = create_generator("dcgan", spec, preset_width=16)

    def fid() -> float:
        return fid_from_features(real, extractor.extract(model.sample(400, seed=5)).features)

    before = fid()
    outcome = train(model, digits16.x_train, digits16.y_train, TrainConfig(steps=200, batch_size=64))
    after = fid()
    assert outcome.status == "ok" and outcome.steps == 200
    assert after < 0.5 * before, (before, after)


def layer_kinds(layers: nn.Sequential) -> list[type]:
    """The classes of a sequence's layers, in order."""
    return [type(m) for m in layers]


def test_dcgan_layers_follow_the_paper_in_order(image_spec: DataSpec) -> None:
    """Radford et al. Fig. 1 and Sec. 3: G projects z to 4x4 by a 4x4 transposed convolution, then
    doubles by 4x4 stride-2 ones, each but the last followed by BatchNorm and ReLU, the last by
    Tanh; D halves by 4x4 stride-2 convolutions, each followed by LeakyReLU(0.2) and each but the
    first preceded by BatchNorm, and ends in a 4x4 convolution to one logit."""
    model = create_generator("dcgan", image_spec, preset_width=8)
    width = model.config.width
    g, d = model.G.net, model.D.features
    assert layer_kinds(g) == [nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU] * 3 + [nn.ConvTranspose2d, nn.Tanh]
    assert layer_kinds(d) == [nn.Conv2d, nn.LeakyReLU] + [nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU] * 2
    assert all(m.negative_slope == 0.2 for m in d if isinstance(m, nn.LeakyReLU))
    g_convs = [m for m in g if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in g_convs] == [
        (model.config.z_dim, 4 * width), (4 * width, 2 * width), (2 * width, width), (width, 1)]
    assert (g_convs[0].kernel_size, g_convs[0].stride, g_convs[0].padding) == ((4, 4), (1, 1), (0, 0))
    assert all((c.kernel_size, c.stride, c.padding) == ((4, 4), (2, 2), (1, 1)) for c in g_convs[1:])
    d_convs = [m for m in d if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in d_convs] == [
        (1, width), (width, 2 * width), (2 * width, 4 * width)]
    head = model.D.head
    assert (head.in_channels, head.out_channels, head.kernel_size, head.stride) == (4 * width, 1, (4, 4), (1, 1))


def test_dcgan_discriminator_returns_raw_logits(image_spec: DataSpec) -> None:
    """D's output is the head's linear value (the loss applies the sigmoid), not a probability."""
    torch.manual_seed(0)
    model = create_generator("dcgan", image_spec, preset_width=8)
    with torch.no_grad():
        model.D.head.bias.fill_(3.0)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        out = model.D(x)
        expected = model.D.head(model.D.features(x)).view(-1)
    torch.testing.assert_close(out, expected)
    assert float(out.min()) > 2.0


def test_dcgan_networks_each_start_from_normal_002(image_spec: DataSpec) -> None:
    """Each network's convolution weights are drawn from N(0, 0.02) with zero biases, and its
    BatchNorm gains from N(1, 0.02)."""
    torch.manual_seed(0)
    model = create_generator("dcgan", image_spec, preset_width=8)
    for network in (model.G, model.D):
        convs = [m for m in network.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        weights = torch.cat([m.weight.detach().flatten() for m in convs])
        assert abs(float(weights.std()) - 0.02) < 0.002 and abs(float(weights.mean())) < 0.002
        assert all(m.bias is None or not m.bias.any() for m in convs)
        norms = [m for m in network.modules() if isinstance(m, nn.BatchNorm2d)]
        gains = torch.cat([m.weight.detach() for m in norms])
        assert float((gains - 1).abs().max()) < 0.1 and abs(float(gains.std()) - 0.02) < 0.01
        assert not any(m.bias.any() for m in norms)
