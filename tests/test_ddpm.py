"""DDPM (Ho et al. 2020) and DDIM sampling (Song et al. 2021): the schedule, the forward
process, the samplers against an exact denoiser, EMA and resume, and learning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data import Dataset
from ganbench.features import ClassifierExtractor
from ganbench.store import RunStore
from ganbench.suites import SUITES
from ganbench.generators import GENERATORS, DataSpec
from ganbench.generators.ddpm import DDPM, DDPMConfig, NoiseSchedule, cosine_betas, ddim_timesteps, linear_betas
from ganbench.generators.trainer import TrainConfig, train
from ganbench.generators.unet import (Downsample, ResidualBlock, SelfAttention, TimeEmbedding, UNet, Upsample,
                                      group_count, sinusoidal_embedding)
from reference_quality import build, digits_extractor, fid, train_steps

TINY = dict(width=8, channel_mults=(1, 2), attention_resolutions=(4,), patch_size=1)


@pytest.fixture(scope="module")
def extractor16(digits16: Dataset, tmp_path_factory: pytest.TempPathFactory) -> ClassifierExtractor:
    return digits_extractor(digits16, tmp_path_factory.getbasetemp() / "reference-classifier")


def tiny(resolution: int = 8, **overrides: object) -> DDPM:
    return DDPM(DataSpec("image", 1, resolution, 10), DDPMConfig(**{**TINY, **overrides}))


@pytest.mark.parametrize("betas", [linear_betas(1000), cosine_betas(1000)], ids=["linear", "cosine"])
def test_schedules_increase_betas_and_decrease_alpha_bar(betas: torch.Tensor) -> None:
    assert len(betas) == 1000 and (betas > 0).all() and (betas < 1).all()
    assert (betas[1:] >= betas[:-1]).all() and betas[-1] > 10 * betas[0]
    alpha_bar = NoiseSchedule(betas).alpha_bar
    assert (alpha_bar[1:] < alpha_bar[:-1]).all()
    assert alpha_bar[0] > 0.999 and alpha_bar[-1] < 1e-4


def test_linear_schedule_spans_ho_et_al_range_and_cosine_follows_its_closed_form() -> None:
    linear = linear_betas(1000)
    assert linear[0].item() == pytest.approx(1e-4) and linear[-1].item() == pytest.approx(0.02)
    alpha_bar = NoiseSchedule(cosine_betas(1000)).alpha_bar.double()
    t = torch.tensor([100, 500, 900])

    def f(u: torch.Tensor) -> torch.Tensor:
        return torch.cos((u / 1000 + 0.008) / 1.008 * torch.pi / 2) ** 2

    assert torch.allclose(alpha_bar[t], f(t.double() + 1) / f(torch.zeros((), dtype=torch.float64)), rtol=1e-4)


def test_forward_noising_matches_the_closed_form_of_q_xt_given_x0() -> None:
    """Step-by-step noising x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps and the one-shot
    q_sample both have mean sqrt(alpha_bar_t) x0 and variance 1 - alpha_bar_t."""
    schedule = NoiseSchedule(linear_betas(1000))
    gen = torch.Generator().manual_seed(0)
    x0 = torch.tensor([-0.8, 0.1, 0.9]).expand(20_000, 3)
    x = x0.clone()
    for step in range(400):
        x = (1 - schedule.betas[step]).sqrt() * x + schedule.betas[step].sqrt() * torch.randn(x.shape, generator=gen)
        if step in (49, 399):
            t = torch.full((len(x0),), step)
            one_shot = schedule.q_sample(x0, t, torch.randn(x0.shape, generator=gen))
            ab = schedule.alpha_bar[step]
            for sample in (x, one_shot):
                assert torch.allclose(sample.mean(0), ab.sqrt() * x0[0], atol=0.02)
                assert torch.allclose(sample.var(0), (1 - ab).expand(3), rtol=0.05)


class GaussianDenoiser(nn.Module):
    """The exact E[eps | x_t] when every pixel of the data is N(mean, std^2)."""

    def __init__(self, alpha_bar: torch.Tensor, mean: float, std: float) -> None:
        super().__init__()
        self.alpha_bar, self.mean, self.std = alpha_bar, mean, std

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self.alpha_bar[t].view(-1, 1, 1, 1)
        return (1 - ab).sqrt() * (x - ab.sqrt() * self.mean) / (ab * self.std**2 + 1 - ab)


@pytest.mark.parametrize("sampler,steps,eta", [("ancestral", 1000, 0.0), ("ddim", 1000, 0.0), ("ddim", 1000, 1.0)])
def test_samplers_with_the_exact_denoiser_recover_the_data_distribution(sampler: str, steps: int, eta: float) -> None:
    model = tiny(sampler=sampler, sampling_steps=steps, eta=eta, clip_denoised=False)
    model.G_ema = GaussianDenoiser(model.schedule.alpha_bar, mean=0.3, std=0.2)
    gen = torch.Generator().manual_seed(0)
    x = model.denoise_from(torch.randn(400, 1, 8, 8, generator=gen), gen)
    assert x.mean().item() == pytest.approx(0.3, abs=0.01)
    assert x.std().item() == pytest.approx(0.2, rel=0.03)


def test_ddim_sigma_at_eta_one_is_the_ddpm_posterior_std_and_zero_at_eta_zero() -> None:
    schedule = NoiseSchedule(linear_betas(1000))
    t = torch.arange(1, 1000)
    ab, ab_prev = schedule.alpha_bar[t], schedule.alpha_bar[t - 1]
    posterior_std = ((1 - ab_prev) / (1 - ab) * schedule.betas[t]).sqrt()
    assert torch.allclose(schedule.ddim_sigma(t, t - 1, 1.0), posterior_std, rtol=1e-3)
    assert torch.equal(schedule.ddim_sigma(t, t - 1, 0.0), torch.zeros(999))
    seq = ddim_timesteps(1000, 50)
    assert len(seq.unique()) == 50 and seq[0] == 0 and seq[-1] == 999

class FixedNoise(nn.Module):
    """A noise predictor that answers ``eps`` whatever x_t and t."""

    def __init__(self, eps: torch.Tensor) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.eps


def test_clipped_x0_prediction_keeps_x_t_on_the_line_through_x0_and_eps() -> None:
    """x_0 = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t), clipped to [-1, 1] (Ho et al.'s code); eps is then
    recomputed so that x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps still holds. Without clipping both
    are the network's."""
    gen = torch.Generator().manual_seed(0)
    x, eps = torch.randn(2, 1, 8, 8, generator=gen), torch.randn(2, 1, 8, 8, generator=gen)
    t = 600
    for clip in (True, False):
        model = tiny(clip_denoised=clip)
        ab = model.schedule.alpha_bar[t]
        raw = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        assert (raw > 1).any() and (raw < -1).any() and (raw.abs() < 1).any()
        x0, eps_used = model._denoise(FixedNoise(eps), x, t)
        torch.testing.assert_close(x0, raw.clamp(-1, 1) if clip else raw)
        torch.testing.assert_close(ab.sqrt() * x0 + (1 - ab).sqrt() * eps_used, x)
        if not clip:
            assert torch.equal(eps_used, eps)


def test_ancestral_sampling_ends_on_the_predicted_x0_with_no_noise_at_the_last_step() -> None:
    """Algorithm 2 draws z = 0 at t = 1, and the posterior mean there is x_0 itself (its x_0
    coefficient is 1, its x_1 coefficient 0): a denoiser that knows x_0 returns it exactly."""
    model = tiny(timesteps=3, sampler="ancestral", clip_denoised=False)
    model.schedule = NoiseSchedule(torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))
    ab = model.schedule.alpha_bar

    class KnownImage(nn.Module):
        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            a = ab[t].view(-1, 1, 1, 1)
            return (x - a.sqrt() * 0.4) / (1 - a).sqrt()

    model.G_ema = KnownImage()
    gen = torch.Generator().manual_seed(0)
    x = model.denoise_from(torch.randn(16, 1, 8, 8, generator=gen), gen)
    torch.testing.assert_close(x, torch.full_like(x, 0.4))


def test_unknown_samplers_and_schedules_and_ddim_step_counts_outside_one_to_t_are_refused() -> None:
    """A configuration the sampler cannot run is refused when the model is built, not when it samples."""
    for overrides, message in (({"sampler": "euler"}, "unknown sampler"),
                               ({"schedule": "quadratic"}, "unknown beta schedule"),
                               ({"sampling_steps": 0}, "sampling steps must lie in 1..1000"),
                               ({"sampling_steps": 1001}, "sampling steps must lie in 1..1000")):
        with pytest.raises(ValueError, match=message):
            tiny(**overrides)
    assert ddim_timesteps(10, 10).tolist() == list(range(10)) and ddim_timesteps(10, 1).tolist() == [0]



def test_ddim_with_eta_zero_is_a_deterministic_map_of_the_initial_noise() -> None:
    torch.manual_seed(0)
    model = tiny(sampling_steps=10)
    for p in model.G_ema.parameters():
        nn.init.normal_(p, std=0.2)
    x_t = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    first = model.ddim_sample(x_t, 10, 0.0, torch.Generator().manual_seed(2))
    second = model.ddim_sample(x_t, 10, 0.0, torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    stochastic = model.ddim_sample(x_t, 10, 1.0, torch.Generator().manual_seed(2))
    assert not torch.allclose(first, stochastic, atol=1e-3)
    other = model.ddim_sample(x_t + 0.5, 10, 0.0, torch.Generator().manual_seed(2))
    assert not torch.allclose(first, other, atol=1e-3)
    images = model.sample(5, seed=7)
    assert images.dtype == torch.uint8 and images.shape == (5, 1, 8, 8)
    assert torch.equal(images, model.sample(5, seed=7)) and not torch.equal(images, model.sample(5, seed=8))


def test_time_embedding_distinguishes_timesteps() -> None:
    emb = sinusoidal_embedding(torch.tensor([0, 1, 500, 999]), 16)
    assert emb.shape == (4, 16)
    assert torch.allclose(emb[0], torch.cat([torch.zeros(8), torch.ones(8)]))
    assert torch.cdist(emb, emb).masked_fill(torch.eye(4, dtype=torch.bool), 1.0).min() > 0.1


def test_time_embedding_frequencies_fall_geometrically_from_one_to_one_over_max_period() -> None:
    """Vaswani et al.'s embedding: sin(t w_i) then cos(t w_i) with w_i = 10000^(-i / half), i < half."""
    t = torch.tensor([1, 7, 300])
    frequencies = 10000.0 ** (-torch.arange(8, dtype=torch.float64) / 8)
    angles = t.double()[:, None] * frequencies
    expected = torch.cat([angles.sin(), angles.cos()], dim=1).float()
    torch.testing.assert_close(sinusoidal_embedding(t, 16), expected, rtol=1e-4, atol=1e-4)


def randomised(module: nn.Module) -> nn.Module:
    """``module`` with every parameter redrawn from N(0, 0.2^2), so no branch starts at zero."""
    torch.manual_seed(0)
    for p in module.parameters():
        nn.init.normal_(p, std=0.2)
    return module


def test_unet_blocks_start_as_the_identity_and_the_untrained_unet_predicts_zero_noise() -> None:
    """The residual blocks' last convolution and the attention's output start at zero, so each
    block passes its input through (projected by 1x1 where the width changes), as does the net."""
    torch.manual_seed(0)
    x, temb = torch.randn(2, 8, 4, 4), torch.randn(2, 16)
    torch.testing.assert_close(ResidualBlock(8, 8, 16, 0.0)(x, temb), x, rtol=0, atol=0)
    widening = ResidualBlock(8, 16, 16, 0.0)
    torch.testing.assert_close(widening(x, temb), widening.skip(x), rtol=0, atol=0)
    torch.testing.assert_close(SelfAttention(8)(x), x, rtol=0, atol=0)
    unet = UNet(1, 8, 8, (1, 2), 1, (4,), 0.0)
    assert torch.equal(unet(torch.randn(2, 1, 8, 8), torch.tensor([3, 700])), torch.zeros(2, 1, 8, 8))


def test_unet_attends_at_the_attention_resolutions_on_both_paths_and_in_the_middle() -> None:
    """Ho et al., Appendix B: self-attention on the down and the up path at the chosen resolutions
    (16x16 there, 4x4 here), and in the middle, between its two residual blocks."""
    unet = UNet(1, 8, 8, (1, 2), 1, (4,), 0.0)
    sides: dict[str, list[int]] = {"down": [], "middle": [], "up": []}
    for part, seen in sides.items():
        for module in getattr(unet, part).modules():
            if isinstance(module, SelfAttention):
                module.register_forward_hook(lambda m, args, out, seen=seen: seen.append(out.shape[-1]))
    unet(torch.randn(2, 1, 8, 8), torch.tensor([1, 2]))
    assert sides == {"down": [4], "middle": [4], "up": [4, 4]}
    assert isinstance(unet.middle[0].attention, SelfAttention) and isinstance(unet.middle[1].attention, nn.Identity)


def test_unet_attention_is_single_head_softmax_attention_over_spatial_positions() -> None:
    """o_i = x_i + W_out sum_j softmax_j(q_i . k_j / sqrt(C)) v_j over the H*W positions of the map."""
    layer = randomised(SelfAttention(8))
    x = torch.randn(2, 8, 3, 5)
    q, k, v = layer.qkv(layer.norm(x)).flatten(2).chunk(3, dim=1)
    weights = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(8), dim=-1)
    attended = (v @ weights.transpose(1, 2)).view(2, 8, 3, 5)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), x + layer.out(attended), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("width", [8, 16, 32, 64])
def test_unet_residual_blocks_add_the_timestep_and_drop_out_before_their_last_convolution(width: int) -> None:
    """Each block adds the projected time embedding, so eps_theta depends on t at every width a preset
    or test uses (GroupNorm groups of at least four channels keep most of a per-channel shift; groups
    of one would remove it); with dropout, training passes differ from one another while evaluation
    is deterministic."""
    assert all(channels % group_count(channels) == 0 and channels // group_count(channels) >= 4
               for channels in (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512))
    assert [group_count(c) for c in (8, 32, 64, 128, 512)] == [2, 8, 16, 32, 32]
    unet = randomised(UNet(1, 4, width, (1,), 1, (), 0.0)).eval()
    x = torch.randn(2, 1, 4, 4)
    with torch.no_grad():
        early, late = unet(x, torch.tensor([10, 10])), unet(x, torch.tensor([900, 900]))
    assert (early - late).abs().mean() > 1e-2 * early.abs().mean()
    block = randomised(ResidualBlock(8, 8, 16, 0.5))
    h, temb = torch.randn(2, 8, 4, 4), torch.randn(2, 16)
    with torch.no_grad():
        assert not torch.allclose(block(h, temb), block(h, temb))
        block.eval()
        assert torch.equal(block(h, temb), block(h, temb))


def test_unet_residual_block_is_norm_silu_conv_plus_time_then_norm_silu_conv_plus_skip() -> None:
    """Ho et al.'s block, written out: h = conv1(SiLU(GN(x))) + W_t SiLU(temb), then
    skip(x) + conv2(dropout(SiLU(GN(h)))), the skip a 1x1 convolution where the width changes."""
    block = randomised(ResidualBlock(8, 16, 12, 0.0)).eval()
    x, temb = torch.randn(2, 8, 4, 4), torch.randn(2, 12)
    with torch.no_grad():
        h = block.conv1(F.silu(block.norm1(x))) + block.time(F.silu(temb))[:, :, None, None]
        expected = block.skip(x) + block.conv2(F.silu(block.norm2(h)))
        torch.testing.assert_close(block(x, temb), expected)


def test_time_embedding_is_the_sinusoids_through_dense_silu_dense_to_four_times_the_width() -> None:
    """The timestep's sinusoidal features (zero-padded to an odd width) feed Linear(w, 4w), SiLU, Linear(4w, 4w)."""
    assert sinusoidal_embedding(torch.tensor([3, 9]), 7)[:, -1].eq(0).all()
    assert sinusoidal_embedding(torch.tensor([3, 9]), 7).shape == (2, 7)
    embedding = randomised(TimeEmbedding(8))
    first, act, second = embedding.mlp
    assert isinstance(act, nn.SiLU) and (first.in_features, first.out_features, second.out_features) == (8, 32, 32)
    t = torch.tensor([0, 40, 999])
    with torch.no_grad():
        expected = second(F.silu(first(sinusoidal_embedding(t, 8))))
        torch.testing.assert_close(embedding(t), expected)


def test_unet_resamples_by_strided_3x3_convolutions_and_nearest_upsampling() -> None:
    """Down: a 3x3 convolution of stride 2; up: nearest-neighbour doubling, then a 3x3 convolution;
    a resolution the levels cannot halve is refused."""
    down = Downsample(4).conv
    assert (down.kernel_size, down.stride, down.padding) == ((3, 3), (2, 2), (1, 1))
    up = randomised(Upsample(4))
    x = torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(up(x), up.conv(x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)))
    with pytest.raises(ValueError, match="not divisible"):
        UNet(1, 6, 8, (1, 2, 2), 1, (), 0.0)


def test_ddpm_is_a_diffusion_reference_generator_sampling_from_its_ema() -> None:
    assert GENERATORS.get("ddpm") is DDPM and DDPM.family == "diffusion" and DDPM.n_critic == 0
    assert "ddpm" in SUITES.get("reference").generators() and "ddpm" not in SUITES.get("gans").generators()
    model = tiny()
    assert model.sampling_network is model.G_ema
    assert DDPMConfig().timesteps == 1000 and DDPMConfig().sampler == "ddim" and DDPMConfig().sampling_steps == 50


def test_ema_and_resume_continue_the_same_training(digits16: Dataset, tmp_path: Path) -> None:
    def fresh() -> DDPM:
        torch.manual_seed(0)
        return tiny(16, patch_size=2)

    store = RunStore(tmp_path)
    save, load = store.save_checkpoint, RunStore.load_checkpoint
    straight = fresh()
    train(straight, digits16.x_train, digits16.y_train, TrainConfig(steps=6, batch_size=16))
    assert int(straight.ema_updates) == 6 and straight.ema_decay == pytest.approx(7 / 16)
    ema, raw = straight.G_ema.state_dict(), straight.G.state_dict()
    assert any(not torch.equal(ema[k], raw[k]) for k in raw)
    checkpoint = tmp_path / "ddpm.pt"
    train(fresh(), digits16.x_train, digits16.y_train, TrainConfig(steps=3, batch_size=16), checkpoint, save=save)
    resumed = fresh()
    train(resumed, digits16.x_train, digits16.y_train, TrainConfig(steps=6, batch_size=16), checkpoint,
          save=save, load=load)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_short_training_lowers_the_noise_error_and_fid(digits16: Dataset, extractor16: ClassifierExtractor) -> None:
    torch.manual_seed(0)
    model = build("ddpm", digits16, width=16, lr=2e-3, sampling_steps=20)
    x0 = digits16.x_test[:256].float() / 127.5 - 1
    with torch.no_grad():
        before_loss = model.loss(x0, torch.Generator().manual_seed(0))
    before_fid = fid(model, digits16, extractor16)
    train_steps(model, digits16, 300)
    with torch.no_grad():
        after_loss = model.loss(x0, torch.Generator().manual_seed(0))
    after_fid = fid(model, digits16, extractor16)
    assert after_loss < 0.5 * before_loss
    assert after_fid < 0.9 * before_fid
