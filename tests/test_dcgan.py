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
