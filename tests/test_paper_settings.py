"""Each variant's optimizers carry the settings its paper states, and the one training loop runs them as stated.

The expected values are read from the papers, not from the configurations:

* GAN: Goodfellow et al., NeurIPS 2014, trained as its module states with DCGAN's Adam (2e-4,
  beta1 0.5) in place of the paper's SGD with momentum, one D update per G update (k = 1).
* DCGAN: Radford, Metz & Chintala, ICLR 2016 (Adam, learning rate 2e-4, beta1 0.5).
* LSGAN: Mao et al., ICCV 2017 (Adam, learning rate 2e-4, beta1 0.5).
* WGAN: Arjovsky, Chintala & Bottou, ICML 2017, Algorithm 1 (RMSprop, alpha = 5e-5,
  n_critic = 5; a fresh minibatch of real data at every critic iteration).
* WGAN-GP: Gulrajani et al., NeurIPS 2017, Algorithm 1 (Adam alpha = 1e-4, beta1 = 0,
  beta2 = 0.9, n_critic = 5).
* SNGAN: Miyato et al., ICLR 2018, Table 1's setting C (Adam alpha = 2e-4, beta1 = 0.5,
  beta2 = 0.999, n_dis = 1).
* AC-GAN: Odena, Olah & Shlens, ICML 2017 (CIFAR-10: Adam 2e-4, beta1 0.5, beta2 0.999).
* SAGAN: Zhang et al., ICML 2019 (Adam beta1 = 0, beta2 = 0.9; D at 4e-4, G at 1e-4).
* BigGAN: Brock, Donahue & Simonyan, ICLR 2019 (Adam beta1 = 0, beta2 = 0.999; on ImageNet
  G at 5e-5, D at 2e-4, two D steps per G step).
* ProGAN: Karras et al., ICLR 2018 (Adam alpha = 1e-3, beta1 = 0, beta2 = 0.99).
* StyleGAN2: Karras et al., CVPR 2020 (Adam lr 2e-3, beta1 = 0, beta2 = 0.99; lazy
  regularization every k = 16 minibatches, with the regularized player's lr and betas raised to
  the power c = k / (k + 1)); StyleGAN3: Karras et al., NeurIPS 2021 (config T: G 2.5e-3, D 2e-3).
* InfoGAN: Chen et al., NeurIPS 2016 (Adam, D at 2e-4, G at 1e-3).
* Pix2Pix: Isola et al., CVPR 2017 (Adam 2e-4, beta1 0.5, beta2 0.999).
* CycleGAN: Zhu et al., ICCV 2017 (Adam 2e-4, beta1 0.5; the same rate for the first 100
  epochs, then a linear decay to zero over the next 100).
* SRGAN: Ledig et al., CVPR 2017 (Adam beta1 = 0.9, learning rate 1e-4; SRGAN itself trains
  10^5 iterations at 1e-4, then 10^5 at 1e-5).
* StarGAN: Choi et al., CVPR 2018 (Adam 1e-4, beta1 0.5, beta2 0.999, n_critic = 5).
* DDPM: Ho, Jain & Abbeel, NeurIPS 2020 (Adam 2e-4; the authors' released code clips the
  gradient norm at 1).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from ganbench.generators import Batch, DataSpec, GenerativeModel, create_generator
from ganbench.generators.trainer import TrainConfig, train

SPEC = DataSpec("image", 1, 16, 10)
LAZY = 16 / 17  # StyleGAN2's c = k / (k + 1) for R1 every k = 16 minibatches

# name -> (overrides, {optimizer: (class, lr, betas)}, D updates per G update)
PAPER_SETTINGS: dict[str, tuple[dict[str, Any], dict[str, tuple[type, float, tuple[float, float] | None]], int]] = {
    "gan": ({}, {"g": (torch.optim.Adam, 2e-4, (0.5, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.5, 0.999))}, 1),
    "dcgan": ({}, {"g": (torch.optim.Adam, 2e-4, (0.5, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.5, 0.999))}, 1),
    "lsgan": ({}, {"g": (torch.optim.Adam, 2e-4, (0.5, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.5, 0.999))}, 1),
    "wgan": ({}, {"g": (torch.optim.RMSprop, 5e-5, None), "d": (torch.optim.RMSprop, 5e-5, None)}, 5),
    "wgan-gp": ({}, {"g": (torch.optim.Adam, 1e-4, (0.0, 0.9)), "d": (torch.optim.Adam, 1e-4, (0.0, 0.9))}, 5),
    "sngan": ({}, {"g": (torch.optim.Adam, 2e-4, (0.5, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.5, 0.999))}, 1),
    "acgan": ({}, {"g": (torch.optim.Adam, 2e-4, (0.5, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.5, 0.999))}, 1),
    "sagan": ({}, {"g": (torch.optim.Adam, 1e-4, (0.0, 0.9)), "d": (torch.optim.Adam, 4e-4, (0.0, 0.9))}, 1),
    "biggan": ({"lr_g": 5e-5, "lr_d": 2e-4, "d_steps": 2},
               {"g": (torch.optim.Adam, 5e-5, (0.0, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.0, 0.999))}, 2),
    "progan": ({"d_lr": 1e-3},
               {"g": (torch.optim.Adam, 1e-3, (0.0, 0.99)), "d": (torch.optim.Adam, 1e-3, (0.0, 0.99))}, 1),
    "stylegan2": ({}, {"g": (torch.optim.Adam, 2e-3, (0.0, 0.99)),
                       "d": (torch.optim.Adam, 2e-3 * LAZY, (0.0, 0.99**LAZY))}, 1),
    "stylegan3": ({}, {"g": (torch.optim.Adam, 2.5e-3, (0.0, 0.99)),
                       "d": (torch.optim.Adam, 2e-3 * LAZY, (0.0, 0.99**LAZY))}, 1),
    "infogan": ({}, {"g": (torch.optim.Adam, 1e-3, (0.5, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.5, 0.999))}, 1),
    "pix2pix": ({}, {"g": (torch.optim.Adam, 2e-4, (0.5, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.5, 0.999))}, 1),
    "cyclegan": ({"n_blocks": 1},
                 {"g": (torch.optim.Adam, 2e-4, (0.5, 0.999)), "d": (torch.optim.Adam, 2e-4, (0.5, 0.999))}, 1),
    "srgan": ({"n_blocks": 1},
              {"g": (torch.optim.Adam, 1e-4, (0.9, 0.999)), "d": (torch.optim.Adam, 1e-4, (0.9, 0.999))}, 1),
    "stargan": ({"n_blocks": 1},
                {"g": (torch.optim.Adam, 1e-4, (0.5, 0.999)), "d": (torch.optim.Adam, 1e-4, (0.5, 0.999))}, 5),
    "ddpm": ({}, {"g": (torch.optim.Adam, 2e-4, (0.9, 0.999))}, 0),
}


def build(name: str, **overrides: Any) -> GenerativeModel:
    torch.manual_seed(0)
    return create_generator(name, SPEC, preset_width=4, **overrides)


def images(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("name", list(PAPER_SETTINGS))
def test_optimizers_use_the_papers_algorithm_learning_rates_and_betas(name: str) -> None:
    """Each player is updated by its paper's optimizer at its paper's learning rate and betas, and
    D takes its paper's number of updates per G update."""
    overrides, expected, d_updates = PAPER_SETTINGS[name]
    model = build(name, **overrides)
    optimizers = model.configure_optimizers()
    assert set(optimizers) == set(expected)
    for player, (kind, lr, betas) in expected.items():
        optimizer = optimizers[player]
        assert type(optimizer) is kind, (player, type(optimizer))
        assert len(optimizer.param_groups) == 1
        group = optimizer.param_groups[0]
        assert group["lr"] == pytest.approx(lr, rel=1e-12), (player, group["lr"])
        if betas is not None:
            assert group["betas"] == pytest.approx(betas, rel=1e-12), (player, group["betas"])
    assert model.n_critic == d_updates


def test_every_network_parameter_is_updated_by_exactly_one_optimizer() -> None:
    """Each trainable weight belongs to one optimizer: G's to G's, every other network's (D, and
    InfoGAN's Q head, which the paper trains with D) to D's, so no player is left untrained or
    updated at the other's settings."""
    for name in ("sagan", "biggan", "infogan", "stylegan2"):
        model = build(name)
        optimizers = model.configure_optimizers()
        owners: dict[int, str] = {}
        for player, optimizer in optimizers.items():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    assert id(p) not in owners, (name, player)
                    owners[id(p)] = player
        for network, module in model.named_children():
            if network == "G_ema":
                continue
            player = "g" if network == "G" else "d"
            trainable = [p for p in module.parameters() if p.requires_grad]
            assert all(owners.get(id(p)) == player for p in trainable), (name, network)


class Recorder(GenerativeModel):
    """A stand-in variant that records what the trainer hands its steps."""

    name = "recorder"
    paper = "none"
    year = 0
    supports_points = True

    def __init__(self, n_critic: int) -> None:
        super().__init__(DataSpec("points", 2, 2, 1))
        self.G = nn.Linear(2, 2)
        self.n_critic = n_critic
        self.calls: list[tuple[str, int, float, list[int]]] = []
        self.ema_updates = 0

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g": torch.optim.SGD(self.G.parameters(), lr=0.0)}

    def record(self, player: str, batch: Batch) -> dict[str, torch.Tensor]:
        self.calls.append((player, batch.step, batch.progress, [int(v) for v in batch.real[:, 0]]))
        return {f"loss_{player}": torch.zeros(())}

    def discriminator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.record("d", batch)

    def generator_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.record("g", batch)

    def update_ema(self) -> None:
        self.ema_updates += 1


def run_recorder(n_critic: int, steps: int, rows: int = 64, batch_size: int = 4) -> Recorder:
    model = Recorder(n_critic)
    x = torch.stack([torch.arange(rows, dtype=torch.float32), torch.zeros(rows)], dim=1)
    train(model, x, torch.zeros(rows, dtype=torch.long),
          TrainConfig(steps=steps, batch_size=batch_size, checkpoint_every=10**9))
    return model


def test_each_critic_update_draws_a_fresh_batch_of_real_data() -> None:
    """WGAN's critic loop samples a new minibatch of real data at each of its n_critic
    iterations: within a generator step no real sample is seen twice (64 rows, 3 x 4 drawn)."""
    model = run_recorder(n_critic=3, steps=4)
    assert [call[0] for call in model.calls] == (["d"] * 3 + ["g"]) * 4
    for step in range(4):
        d_calls = model.calls[4 * step : 4 * step + 3]
        rows = [row for call in d_calls for row in call[3]]
        assert len(rows) == 12 and len(set(rows)) == 12, (step, rows)


def test_trainer_steps_count_from_zero_and_progress_is_the_share_of_the_budget_done_before() -> None:
    """Step k of a budget of n steps hands its updates ``step = k`` and ``progress = k / n``
    (0 at the first step, below 1 at the last), and updates the EMA once per step."""
    model = run_recorder(n_critic=2, steps=5)
    steps = [(call[0], call[1], call[2]) for call in model.calls]
    assert steps == [(player, k, k / 5) for k in range(5) for player in ("d", "d", "g")]
    assert model.ema_updates == 5


def test_biggan_takes_the_papers_d_steps_per_g_step_in_the_trainer() -> None:
    """With ``d_steps=2`` (BigGAN's ImageNet schedule) the trainer runs two D updates per G update."""
    model = build("biggan", d_steps=2)
    calls: list[str] = []
    model.discriminator_step = lambda batch: calls.append("d") or {}  # type: ignore[method-assign]
    model.generator_step = lambda batch: calls.append("g") or {}  # type: ignore[method-assign]
    x = torch.randint(0, 256, (32, 1, 16, 16), dtype=torch.uint8)
    train(model, x, torch.arange(32) % 10, TrainConfig(steps=3, batch_size=4, checkpoint_every=10**9))
    assert calls == ["d", "d", "g"] * 3


def test_an_update_sees_only_the_gradient_of_its_own_loss() -> None:
    """One player's update clears the gradients left by earlier updates: two updates of loss 3 w
    with SGD at rate 1 move w by 3 each, not by 3 and then 6."""
    w = nn.Parameter(torch.zeros(()))
    optimizer = torch.optim.SGD([w], lr=1.0)
    GenerativeModel.optimize(optimizer, 3 * w)
    assert float(w.detach()) == -3.0
    GenerativeModel.optimize(optimizer, 3 * w)
    assert float(w.detach()) == -6.0


def cyclegan_rates(progress: float) -> set[float]:
    model = build("cyclegan", n_blocks=1)
    model.configure_optimizers()
    batch = Batch(images(2, seed=1), torch.zeros(2, dtype=torch.long), 0, source=images(2, seed=2), progress=progress)
    model.discriminator_step(batch)
    model.generator_step(batch)
    return {group["lr"] for opt in (model.opt_g, model.opt_d) for group in opt.param_groups}


def test_cyclegan_keeps_its_rate_for_half_the_budget_then_decays_it_linearly_to_zero() -> None:
    """CycleGAN trains at 2e-4 for the first half (the paper's first 100 of 200 epochs), then the
    rate falls on the straight line that reaches 0 at the end of the budget, for both players."""
    for progress, share in ((0.0, 1.0), (0.3, 1.0), (0.5, 1.0), (0.75, 0.5), (0.9, 0.2)):
        rates = cyclegan_rates(progress)
        assert len(rates) == 1 and rates.pop() == pytest.approx(2e-4 * share, rel=1e-9), progress


def test_srgan_runs_the_second_half_of_its_adversarial_stage_at_a_tenth_of_the_rate() -> None:
    """SRGAN: 1e-4 through the SRResNet stage and the first half of the adversarial one (the paper's
    first 10^5 iterations), then 1e-5 (the next 10^5), for both players."""
    for progress, rate in ((0.0, 1e-4), (0.4, 1e-4), (0.6, 1e-4), (0.74, 1e-4), (0.75, 1e-5), (0.95, 1e-5)):
        model = build("srgan", n_blocks=1)
        model.configure_optimizers()
        source = images(2, size=8, seed=2)
        model.discriminator_step(Batch(images(2, seed=1), torch.zeros(2, dtype=torch.long), 0, source=source,
                                       progress=progress))
        rates = {group["lr"] for opt in (model.opt_g, model.opt_d) for group in opt.param_groups}
        assert len(rates) == 1 and rates.pop() == pytest.approx(rate, rel=1e-9), progress


def test_ddpm_clips_the_gradient_to_its_norm_limit_before_each_update() -> None:
    """DDPM clips the global gradient norm at ``grad_clip`` (1 by default, as in Ho et al.'s
    code) before Adam's step."""
    assert build("ddpm", width=8).config.grad_clip == 1.0
    limit = 1e-3
    model = build("ddpm", width=8, grad_clip=limit)
    model.configure_optimizers()
    norms: list[float] = []
    step = model.opt.step

    def recorded_step(*args: Any, **kwargs: Any) -> Any:
        grads = [p.grad.flatten() for p in model.G.parameters() if p.grad is not None]
        norms.append(float(torch.cat(grads).norm()))
        return step(*args, **kwargs)

    model.opt.step = recorded_step  # type: ignore[method-assign]
    model.generator_step(Batch(images(4), torch.zeros(4, dtype=torch.long), 0))
    assert len(norms) == 1 and 0 < norms[0] <= limit * (1 + 1e-4)
