"""VAE (Kingma & Welling 2014): the ELBO's terms, the reparameterization trick, and learning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal

from ganbench.data import Dataset
from ganbench.pixels import to_float
from ganbench.features import ClassifierExtractor
from ganbench.store import RunStore
from ganbench.suites import SUITES
from ganbench.generators import GENERATORS, DataSpec
from ganbench.generators.trainer import TrainConfig, train
from ganbench.generators.vae import VAE, VAEConfig, gaussian_kl, reconstruction_nll, reparameterize
from reference_quality import build, digits_extractor, fid, train_steps


@pytest.fixture(scope="module")
def extractor16(digits16: Dataset, tmp_path_factory: pytest.TempPathFactory) -> ClassifierExtractor:
    return digits_extractor(digits16, tmp_path_factory.getbasetemp() / "reference-classifier")


def test_kl_closed_form_matches_monte_carlo_estimate() -> None:
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=gen)
    logvar = torch.randn(4, 3, generator=gen) * 0.5
    z = reparameterize(mu.expand(50_000, 4, 3), logvar.expand(50_000, 4, 3), gen)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(()), torch.ones(()))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    closed = gaussian_kl(mu, logvar)
    assert torch.allclose(closed, monte_carlo, rtol=0.03, atol=0.03)


def test_kl_is_zero_exactly_when_the_posterior_is_the_prior() -> None:
    zeros = torch.zeros(5, 8)
    assert torch.equal(gaussian_kl(zeros, zeros), torch.zeros(5))
    assert (gaussian_kl(zeros + 0.1, zeros) > 0).all()
    assert (gaussian_kl(zeros, zeros - 0.1) > 0).all()


def test_reparameterized_samples_have_the_posterior_moments_and_carry_gradients() -> None:
    mu = torch.tensor([[1.5, -2.0]], requires_grad=True)
    logvar = torch.tensor([[math.log(0.25), math.log(4.0)]], requires_grad=True)
    z = reparameterize(mu.expand(40_000, 2), logvar.expand(40_000, 2), torch.Generator().manual_seed(1))
    assert torch.allclose(z.mean(0), mu.detach()[0], atol=0.03)
    assert torch.allclose(z.std(0), torch.tensor([0.5, 2.0]), rtol=0.02)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.full((1, 2), 40_000.0))
    assert logvar.grad.abs().min() > 0


def test_reconstruction_terms_are_negative_log_likelihoods() -> None:
    """Bernoulli: the cross-entropy of the intensities (x + 1) / 2, grey levels included; Gaussian:
    the normal density with its normalising constant."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randint(0, 2, (3, 1, 4, 4), generator=gen).float() * 2 - 1
    logits = torch.randn(3, 1, 4, 4, generator=gen)
    bernoulli = -Bernoulli(logits=logits).log_prob((x + 1) / 2).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll("bernoulli", logits, x, 0.1), bernoulli, atol=1e-5)
    grey = torch.rand(3, 1, 4, 4, generator=gen) * 2 - 1
    intensity = (grey + 1) / 2
    cross_entropy = -(intensity * F.logsigmoid(logits) + (1 - intensity) * F.logsigmoid(-logits)).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll("bernoulli", logits, grey, 0.1), cross_entropy, atol=1e-5)
    mean = torch.tanh(logits)
    gaussian = -Normal(mean, 0.3).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll("gaussian", mean, x, 0.3), gaussian, atol=1e-4)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_elbo_terms_follow_encoder_reparameterization_and_decoder(digits16: Dataset, likelihood: str) -> None:
    model = VAE(DataSpec("image", 1, 16, 10), VAEConfig(z_dim=6, width=8, likelihood=likelihood, decoder_std=0.3))
    x = to_float(digits16.x_train[:5])
    terms = model.elbo_terms(x, torch.Generator().manual_seed(3))
    mu, logvar = model.E(x)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    expected = reconstruction_nll(likelihood, model.G(z), x, 0.3)
    assert terms.reconstruction.shape == terms.kl.shape == (5,)
    assert torch.allclose(terms.reconstruction, expected, atol=1e-4)
    assert torch.allclose(terms.kl, gaussian_kl(mu, logvar))
    assert torch.allclose(terms.elbo, -(expected + gaussian_kl(mu, logvar)), atol=1e-4)

def test_the_gaussian_decoders_mean_is_its_output_clipped_to_the_pixel_range() -> None:
    """With a Gaussian likelihood the decoder outputs the mean in [-1, 1] units: samples show it as is, clipped."""
    torch.manual_seed(0)
    model = VAE(DataSpec("image", 1, 16, 10), VAEConfig(z_dim=4, width=8, likelihood="gaussian"))
    z = 40 * torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        output = model.G(z)
        assert (output > 1).any() and (output < -1).any() and (output.abs() < 1).any()
        torch.testing.assert_close(model.decode_mean(z), output.clamp(-1, 1))


def test_unknown_likelihoods_are_refused() -> None:
    """A likelihood other than Bernoulli or Gaussian is refused when the model is built and by the term itself."""
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        VAE(DataSpec("image", 1, 16, 10), VAEConfig(width=8, likelihood="poisson"))
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        reconstruction_nll("poisson", torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4), 0.1)



def test_vae_is_a_non_adversarial_reference_generator() -> None:
    assert GENERATORS.get("vae") is VAE and VAE.family == "vae" and VAE.n_critic == 0
    assert "vae" in SUITES.get("reference").generators()
    assert "vae" in SUITES.get("all").generators() and "vae" not in SUITES.get("gans").generators()
    model = VAE(DataSpec("image", 1, 16, 10), VAEConfig(width=8))
    assert model.sampling_network is model.G
    images = model.sample(6, seed=4)
    assert images.dtype == torch.uint8 and images.shape == (6, 1, 16, 16)
    assert torch.equal(images, model.sample(6, seed=4)) and not torch.equal(images, model.sample(6, seed=5))
    cold = model.generate(200, None, torch.Generator().manual_seed(6), truncation=0.0)
    assert torch.allclose(cold, cold[:1].expand_as(cold))


def test_resume_continues_the_same_training(digits16: Dataset, tmp_path: Path) -> None:
    def fresh() -> VAE:
        torch.manual_seed(0)
        return VAE(DataSpec("image", 1, 16, 10), VAEConfig(z_dim=4, width=8))

    store = RunStore(tmp_path)
    save, load = store.save_checkpoint, RunStore.load_checkpoint
    straight = fresh()
    train(straight, digits16.x_train, digits16.y_train, TrainConfig(steps=8, batch_size=16))
    resumed, checkpoint = fresh(), tmp_path / "vae.pt"
    train(resumed, digits16.x_train, digits16.y_train, TrainConfig(steps=4, batch_size=16), checkpoint, save=save)
    resumed = fresh()
    outcome = train(resumed, digits16.x_train, digits16.y_train, TrainConfig(steps=8, batch_size=16), checkpoint,
                    save=save, load=load)
    assert outcome.steps == 8
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_short_training_raises_the_elbo_and_lowers_fid(digits16: Dataset, extractor16: ClassifierExtractor) -> None:
    torch.manual_seed(0)
    model = build("vae", digits16, width=16)
    x = to_float(digits16.x_test[:200])
    with torch.no_grad():
        before_elbo = model.elbo_terms(x, torch.Generator().manual_seed(0)).elbo.mean()
    before_fid = fid(model, digits16, extractor16)
    losses = train_steps(model, digits16, 300)
    with torch.no_grad():
        terms = model.elbo_terms(x, torch.Generator().manual_seed(0))
    after_fid = fid(model, digits16, extractor16)
    assert terms.elbo.mean() > before_elbo + 50
    assert terms.kl.mean() > 1.0 and losses["kl"] > 1.0
    assert after_fid < 0.5 * before_fid
