"""Mutation testing of the components that define each variant, metric and detector measure.

Each mutant is one small, exact text substitution in one source file (a flipped loss sign, a
regularizer taken at the wrong points or with a zero weight, a plain copy instead of an EMA
update, a metric formula off by a term) and names the tests that must catch it. The harness
snapshots the working tree (tracked and untracked, not ignored, files) once into a scratch
folder; for each mutant it copies the snapshot, applies the substitution to the copy (the
original snippet must occur exactly once, or the harness stops), runs the mutant's tests with
``python -m pytest -q -x`` there, and reports the mutant *killed* (a test failed, or a test
module could not be imported) or *survived* (they all passed). The working tree itself is never
modified, and edits made to it during a run do not reach the mutants.

The copy's code is what the tests import: ``PYTHONPATH`` names the copy, and a ``sitecustomize``
written into it removes the editable install's finder (which would map ``ganbench.generators``
and friends back to this checkout), so ``ganbench``'s own checkout finder resolves the
subpackages to the copy's folders. Before any mutant runs, the harness imports the packages in an
unmutated copy, refuses to go on if any resolves outside it, and runs every selected test there
once (a test that fails without a mutant would kill every mutant and prove nothing).

    python benchmarks/mutants.py                    # every mutant, one at a time
    python benchmarks/mutants.py --jobs 2           # two mutants at a time
    python benchmarks/mutants.py --only gp-on-reals ema-plain-copy
    python benchmarks/mutants.py --list             # the mutants and their tests, nothing run

Exit status: 0 when every mutant was killed, 1 when one survived or could not be tested, 2 when
the unmutated copy fails its tests or imports the wrong code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOSSES = "tests/test_losses.py"
COMPONENTS = "tests/test_components.py"
FORMULAS = "tests/test_metric_formulas.py"
FAMILY_A = "tests/test_gan_family_a.py"
FAMILY_B = "tests/test_gan_family_b.py"
TRANSLATION = "tests/test_translation.py"
METRICS = "tests/test_metrics.py"
DETECTION = "tests/test_detectors_evaluate.py"
PERTURBATIONS = "tests/test_perturbations.py"
STYLEGAN3 = "tests/test_stylegan3.py"
PRECISION = "tests/test_mixed_precision.py"
GENERATOR_BOARD = "tests/test_generator_board.py"
COMPILE = "tests/test_compile_modes.py"
LEADERBOARDS = "tests/test_leaderboards.py"
PRDC_TESTS = "tests/test_prdc.py"
CLI = "tests/test_cli.py"
FORENSICS = "tests/test_forensics.py"
SOURCE_DIGEST = "tests/test_source_digest.py"
FEATURES = "tests/test_features.py"
INTERVALS = "tests/test_score_intervals.py"
SEED_BATCH = "tests/test_seed_batch.py"

SITECUSTOMIZE = '''"""Written by benchmarks/mutants.py: drop the editable install's finder, so that imports of
ganbench and its subpackages resolve to this copy."""
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
'''

IMPORT_CHECK = ("import ganbench, ganbench.generators, ganbench.generators.losses, ganbench.detectors, "
                "ganbench.leaderboards, ganbench.metrics\n"
                "for m in (ganbench, ganbench.generators, ganbench.generators.losses, ganbench.detectors, "
                "ganbench.leaderboards, ganbench.metrics):\n"
                "    print(m.__name__, m.__file__)\n")


@dataclass(frozen=True)
class Mutant:
    """One substitution of ``original`` (found exactly once in ``file``) by ``replacement``."""

    name: str
    file: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]


def node_ids(file: str, *functions: str) -> tuple[str, ...]:
    """Pytest node ids of test functions in one file (all their parameters)."""
    return tuple(f"{file}::{function}" for function in functions)


def m(name: str, file: str, original: str, replacement: str, description: str, *tests: tuple[str, ...]) -> Mutant:
    """A mutant whose tests are the given groups of node ids, in order."""
    return Mutant(name, file, original, replacement, description, tuple(t for group in tests for t in group))


NOISE_STEPS = node_ids(COMPONENTS, "test_noise_gan_steps_minimise_their_papers_losses")
D_FORMULAS = node_ids(LOSSES, "test_discriminator_losses_follow_their_papers")
G_FORMULAS = node_ids(LOSSES, "test_generator_losses_follow_their_papers",
                     "test_generator_losses_push_the_discriminator_output_towards_real")
GP_STEPS = node_ids(COMPONENTS, "test_wgan_gp_critic_loss_penalises_gradients_at_interpolates",
                   "test_progan_critic_loss_is_wasserstein_plus_penalty_at_interpolates_plus_drift",
                   "test_stargan_critic_loss_is_wasserstein_plus_domain_classification_plus_penalty")
STYLEGAN2_D = node_ids(COMPONENTS, "test_stylegan2_discriminator_adds_r1_every_sixteen_steps_scaled_by_the_interval")
SG3_FILTERS = node_ids(STYLEGAN3, "test_lowpass_filters_are_kaisers_and_meet_their_stop_band_attenuation")
SG3_SCHEDULE = node_ids(STYLEGAN3, "test_layer_schedule_is_the_papers")
SG3_FOURIER = node_ids(STYLEGAN3, "test_fourier_features_are_band_limited_sinusoids_moved_by_the_input_transform")
SG3_EQUIVARIANCE = node_ids(STYLEGAN3, "test_translation_equivariance_is_far_above_stylegan2s")
EMA = node_ids(COMPONENTS, "test_ema_update_moves_the_average_a_share_one_minus_decay_towards_the_weights",
              "test_ddpm_ema_decay_is_min_of_decay_and_one_plus_n_over_ten_plus_n")
CYCLEGAN_D = node_ids(COMPONENTS, "test_cyclegan_discriminators_are_least_squares_on_fakes_from_the_pool")
CYCLEGAN_G = node_ids(COMPONENTS, "test_cyclegan_generator_objective_is_adversarial_plus_10_cycle_plus_5_identity")
PIX2PIX = node_ids(COMPONENTS, "test_pix2pix_d_objective_is_halved_and_g_adds_100_l1_to_the_conditional_gan_loss")
STARGAN_D = node_ids(COMPONENTS, "test_stargan_critic_loss_is_wasserstein_plus_domain_classification_plus_penalty")
STARGAN_G = node_ids(COMPONENTS,
                    "test_stargan_generator_loss_is_adversarial_plus_target_classification_plus_10_reconstruction")
SRGAN = node_ids(COMPONENTS, "test_srgan_content_loss_compares_the_frozen_networks_feature_maps",
                "test_srgan_adversarial_stage_minimises_content_plus_1e3_adversarial")
INFOGAN = node_ids(COMPONENTS, "test_infogan_both_players_add_the_mutual_information_term")
VAE_STEP = node_ids(COMPONENTS, "test_vae_step_minimises_bernoulli_reconstruction_plus_closed_form_kl")
PRDC = node_ids(METRICS, "test_prdc_matches_the_prdc_package")

MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------ adversarial losses
    m("ns-generator-target", "generators/losses.py",
      "return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))",
      "return F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))",
      "non-saturating G loss aims at the fake label", G_FORMULAS, NOISE_STEPS),
    m("minimax-generator-sign", "generators/losses.py",
      "return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))",
      "return F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))",
      "minimax G loss log(1 - D(G(z))) with its sign flipped", G_FORMULAS),
    m("bce-discriminator-fake-target", "generators/losses.py",
      "+ F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))",
      "+ F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake)))",
      "BCE D loss labels fakes as real", D_FORMULAS, NOISE_STEPS),
    m("label-smoothing-ignored", "generators/losses.py",
      "torch.full_like(real, real_target)", "torch.ones_like(real)",
      "BCE D loss ignores the smoothed real target",
      node_ids(LOSSES, "test_label_smoothing_moves_only_the_real_target"),
      node_ids("tests/test_tricks.py", "test_label_smoothing_is_one_sided")),
    m("lsgan-fake-target", "generators/losses.py",
      "fake.pow(2).mean())", "(fake + 1).pow(2).mean())",
      "least-squares D target for fakes -1 instead of a = 0", D_FORMULAS, NOISE_STEPS),
    m("lsgan-generator-target", "generators/losses.py",
      "return 0.5 * (fake - 1).pow(2).mean()", "return 0.5 * fake.pow(2).mean()",
      "least-squares G target 0 instead of c = 1", G_FORMULAS, NOISE_STEPS),
    m("wasserstein-critic-sign", "generators/losses.py",
      "return fake.mean() - real.mean()", "return real.mean() - fake.mean()",
      "Wasserstein critic loss with its sign flipped", D_FORMULAS, NOISE_STEPS),
    m("hinge-margin-dropped", "generators/losses.py",
      "F.relu(1 - real).mean() + F.relu(1 + fake).mean()", "F.relu(-real).mean() + F.relu(fake).mean()",
      "hinge D loss without its margin of 1", D_FORMULAS, NOISE_STEPS),
    m("critic-generator-sign", "generators/losses.py",
      "return -fake.mean()", "return fake.mean()",
      "hinge/Wasserstein G loss with its sign flipped (SNGAN, SAGAN, WGAN, WGAN-GP, ProGAN, StarGAN)",
      G_FORMULAS, NOISE_STEPS),
    # ------------------------------------------------------------------ regularizers
    m("gp-on-reals", "generators/losses.py",
      "(alpha * real.detach().float() + (1 - alpha) * fake.detach().float())",
      "(real.detach().float().clone())",
      "gradient penalty taken at the real images instead of random interpolates",
      node_ids(LOSSES, "test_gradient_penalty_is_taken_at_random_interpolates"), GP_STEPS),
    m("gp-one-sided-target", "generators/losses.py",
      "(grad.flatten(1).norm(2, dim=1) - target).pow(2).mean()",
      "grad.flatten(1).norm(2, dim=1).pow(2).mean()",
      "gradient penalty pulls the gradient norm to 0 instead of 1",
      node_ids(LOSSES, "test_gradient_penalty_is_taken_at_random_interpolates"), GP_STEPS),
    m("gp-detached-from-critic", "generators/losses.py",
      "grad = torch.func.grad(lambda x: critic(x).sum())(mixed)",
      "grad = torch.func.grad(lambda x: critic(x).sum())(mixed).detach()",
      "gradient penalty passes no gradient to the critic's weights",
      node_ids(LOSSES, "test_gradient_penalty_is_taken_at_random_interpolates")),
    m("r1-not-squared", "generators/losses.py",
      "return grad.flatten(1).pow(2).sum(1).mean()", "return grad.flatten(1).norm(dim=1).mean()",
      "R1 penalises the gradient norm, not its square",
      node_ids(LOSSES, "test_r1_penalty_is_the_squared_gradient_norm_on_real_data"), STYLEGAN2_D),
    m("drift-absolute", "generators/losses.py",
      "return real_out.float().pow(2).mean()", "return real_out.float().abs().mean()",
      "ProGAN drift term |D(x)| instead of D(x)^2",
      node_ids(LOSSES, "test_drift_penalty_is_the_mean_squared_critic_output")),
    m("ortho-includes-diagonal", "generators/losses.py",
      "off_diagonal = gram * (1 - torch.eye(len(gram), device=w.device, dtype=w.dtype))",
      "off_diagonal = gram",
      "orthogonal regularization also penalises the Gram matrix's diagonal",
      node_ids(LOSSES, "test_orthogonal_regularization_sums_squared_off_diagonal_gram_entries")),
    m("clip-range", "generators/losses.py",
      "param.clamp_(-limit, limit)", "param.clamp_(-10 * limit, 10 * limit)",
      "WGAN weight clipping to [-0.1, 0.1] instead of [-0.01, 0.01]",
      node_ids(LOSSES, "test_weight_clipping_clamps_every_parameter_to_the_limit"),
      node_ids(COMPONENTS, "test_wgan_clips_every_critic_parameter_to_plus_minus_001")),
    m("mi-categorical-dropped", "generators/losses.py",
      "loss = loss + F.cross_entropy(code_logits.float(), codes)",
      "loss = loss + 0 * F.cross_entropy(code_logits.float(), codes)",
      "InfoGAN's mutual-information term without the categorical code",
      node_ids(LOSSES, "test_mutual_information_term_is_cross_entropy_plus_weighted_gaussian_nll"), INFOGAN),
    m("mi-continuous-unweighted", "generators/losses.py",
      "continuous_weight * 0.5 * (continuous_mean.float() - continuous)",
      "0.5 * (continuous_mean.float() - continuous)",
      "InfoGAN's continuous codes weighted 1 instead of 0.1",
      node_ids(LOSSES, "test_mutual_information_term_is_cross_entropy_plus_weighted_gaussian_nll"), INFOGAN),
    # ------------------------------------------------------------------ tricks, spectral norm
    m("label-smoothing-off", "generators/tricks.py",
      "real_target=1.0 - self.tricks.label_smoothing", "real_target=1.0",
      "the label-smoothing trick never reaches the D loss",
      node_ids("tests/test_tricks.py", "test_label_smoothing_is_one_sided")),
    m("spectral-norm-removed", "generators/blocks.py",
      "        if spectral:\n            spectral_norm_all(self)", "        if spectral:\n            pass",
      "SNGAN's discriminator without spectral normalisation",
      node_ids(FAMILY_A, "test_sngan_normalises_every_discriminator_layer")),
    m("sagan-generator-without-spectral-norm", "generators/sagan.py",
      "self.start_channels = chans[0]\n        apply_spectral_norm(self)", "self.start_channels = chans[0]",
      "SAGAN's generator without spectral normalisation",
      node_ids(FAMILY_B, "test_sagan_spectral_norm_on_both_networks_hinge_and_ttur")),
    m("sngan-wasserstein-loss", "generators/sngan.py",
      'TrickHooks(c.tricks, "hinge", spec, self.G, self.D)',
      'TrickHooks(c.tricks, "wasserstein", spec, self.G, self.D)',
      "SNGAN trained with the Wasserstein loss instead of the hinge loss", NOISE_STEPS),
    # ------------------------------------------------------------------ WGAN, WGAN-GP, InfoGAN
    m("wgan-one-critic-step", "generators/wgan.py",
      "n_critic: int = 5", "n_critic: int = 1",
      "WGAN with one critic update per generator update instead of 5",
      node_ids(FAMILY_A, "test_wgan_critic_is_clipped_and_has_no_sigmoid")),
    m("wgan-gp-penalty-on-reals", "generators/wgan_gp.py",
      "gradient_penalty(self.D, real_view, fake_view,", "gradient_penalty(self.D, real_view, real_view,",
      "WGAN-GP's penalty taken at real images",
      node_ids(COMPONENTS, "test_wgan_gp_critic_loss_penalises_gradients_at_interpolates")),
    m("wgan-gp-weight", "generators/wgan_gp.py",
      "gp_weight: float = 10.0", "gp_weight: float = 1.0",
      "WGAN-GP's penalty weight 1 instead of lambda = 10",
      node_ids(COMPONENTS, "test_wgan_gp_critic_loss_penalises_gradients_at_interpolates")),
    m("infogan-generator-ignores-mi", "generators/infogan.py",
      "loss = adversarial + self.information_loss(features, codes, cont)", "loss = adversarial",
      "InfoGAN's generator does not maximise the mutual information", INFOGAN),
    m("infogan-continuous-code-range", "generators/infogan.py",
      "generator=generator) * 2 - 1", "generator=generator)",
      "InfoGAN's continuous codes uniform on [0, 1] instead of [-1, 1]",
      node_ids(COMPONENTS, "test_infogan_latent_is_noise_a_one_hot_code_and_uniform_continuous_codes")),
    # ------------------------------------------------------------------ ProGAN
    m("progan-drift-dropped", "generators/progan.py",
      " + self.config.drift_weight * drift", "",
      "ProGAN's critic loss without the drift term",
      node_ids(COMPONENTS, "test_progan_critic_loss_is_wasserstein_plus_penalty_at_interpolates_plus_drift"),
      node_ids(FAMILY_B, "test_progan_discriminator_loss_has_gradient_penalty_and_drift")),
    m("progan-penalty-on-reals", "generators/progan.py",
      "gradient_penalty(lambda x: self.D(x, level, alpha), real, fake)",
      "gradient_penalty(lambda x: self.D(x, level, alpha), real, real)",
      "ProGAN's gradient penalty taken at real images",
      node_ids(COMPONENTS, "test_progan_critic_loss_is_wasserstein_plus_penalty_at_interpolates_plus_drift")),
    m("minibatch-stddev-zeroed", "generators/layers.py",
      "return torch.cat([x, y], dim=1)", "return torch.cat([x, torch.zeros_like(y)], dim=1)",
      "minibatch standard deviation feature map always 0",
      node_ids(FAMILY_B, "test_minibatch_stddev_appends_the_group_spread")),
    m("equalized-lr-off", "generators/layers.py",
      "self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)", "self.scale = 1.0",
      "equalized learning rate: no run-time He scaling of convolutions",
      node_ids(FAMILY_B, "test_progan_equalized_learning_rate_scales_weights_at_run_time")),
    # ------------------------------------------------------------------ StyleGAN2
    m("r1-weight-zero", "generators/stylegan2.py",
      "loss = loss + c.r1_gamma / 2 * c.r1_interval * r1", "loss = loss + 0 * r1",
      "StyleGAN2's R1 weight set to 0", STYLEGAN2_D),
    m("r1-not-lazily-scaled", "generators/stylegan2.py",
      "loss = loss + c.r1_gamma / 2 * c.r1_interval * r1", "loss = loss + c.r1_gamma / 2 * r1",
      "lazy R1 not scaled by its interval of 16", STYLEGAN2_D),
    m("demodulation-off", "generators/layers.py",
      "            x = x * demod[:, :, None, None]", "            x = x",
      "StyleGAN2's modulated convolution without demodulation",
      node_ids(COMPONENTS, "test_modulated_convolution_is_a_per_sample_convolution_with_demodulated_weights")),
    m("truncation-towards-zero", "generators/stylegan2.py",
      "ws = w_avg + truncation * (ws - w_avg)", "ws = truncation * ws",
      "StyleGAN2's truncation shrinks w towards 0 instead of the average w",
      node_ids(FAMILY_B, "test_stylegan2_truncation_zero_gives_the_mean_w_image")),
    # ------------------------------------------------------------------ StyleGAN3
    m("stylegan3-up-filter-removed", "generators/stylegan3.py",
      "up_taps = TAPS_PER_SAMPLE * self.up if self.up > 1 else 1", "up_taps = 1",
      "StyleGAN3 upsamples by zero insertion without the low-pass interpolation filter",
      SG3_EQUIVARIANCE, SG3_FILTERS),
    m("stylegan3-down-filter-removed", "generators/stylegan3.py",
      "down_taps = TAPS_PER_SAMPLE * self.down if self.down > 1 else 1", "down_taps = 1",
      "StyleGAN3 subsamples without the low-pass anti-aliasing filter", SG3_EQUIVARIANCE, SG3_FILTERS),
    m("stylegan3-activation-not-upsampled", "generators/stylegan3.py",
      "ACTIVATION_UPSAMPLING = 2", "ACTIVATION_UPSAMPLING = 1",
      "StyleGAN3's leaky ReLU applied at the layer's own rate instead of twice it", SG3_EQUIVARIANCE, SG3_FILTERS),
    m("stylegan3-rectangular-window", "generators/stylegan3.py",
      "return 0.1102 * (attenuation - 8.7)", "return 0.0",
      "StyleGAN3's high-attenuation filters windowed by a rectangle instead of Kaiser's window", SG3_FILTERS),
    m("stylegan3-kaiser-estimate-halved", "generators/stylegan3.py",
      "2.285 * (taps - 1) * 2 * math.pi * width / rate + 7.95", "2.285 * (taps - 1) * math.pi * width / rate + 7.95",
      "Kaiser's attenuation estimate (and so the window's shape) computed with half the transition band",
      SG3_FILTERS),
    m("stylegan3-resampling-gain-dropped", "generators/stylegan3.py",
      "taps[tap.clamp(0, len(taps) - 1)] * up", "taps[tap.clamp(0, len(taps) - 1)]",
      "zero-insertion upsampling without the gain that keeps the signal's DC level",
      node_ids(STYLEGAN3, "test_resampling_matrix_is_zero_insertion_padding_filtering_and_subsampling")),
    m("stylegan3-fourier-zero-frequency", "generators/stylegan3.py",
      "freqs = freqs / (radii * radii.square().exp().pow(0.25)) * spec.cutoff", "freqs = freqs * 0",
      "StyleGAN3's Fourier features frozen at zero frequency (a constant input)", SG3_FOURIER),
    m("stylegan3-input-transform-ignored", "generators/stylegan3.py",
      "return rotation @ translation @ user", "return rotation @ translation",
      "the user transform of StyleGAN3's input grid ignored", SG3_FOURIER, SG3_EQUIVARIANCE),
    m("stylegan3-no-margin", "generators/stylegan3.py",
      "else rate + 2 * margin", "else rate",
      "StyleGAN3's layers without the 10-sample margin around the image", SG3_SCHEDULE, SG3_EQUIVARIANCE),
    m("stylegan3-not-critically-sampled", "generators/stylegan3.py",
      "share = min(index / (num_layers - num_critical), 1.0)", "share = index / num_layers",
      "StyleGAN3's cutoff reaches half the output rate only at the last layer", SG3_SCHEDULE),
    m("stylegan3-input-not-normalised", "generators/stylegan3.py",
      "x = x * self.magnitude.rsqrt().to(x.dtype)", "x = x",
      "StyleGAN3's layers ignore the tracked magnitude of their input",
      node_ids(STYLEGAN3, "test_each_layer_divides_its_input_by_its_tracked_rms")),
    m("stylegan3-deep-mapping", "generators/stylegan3.py",
      "mapping_layers: int = 2", "mapping_layers: int = 8",
      "StyleGAN3 with StyleGAN2's eight mapping layers instead of config T's two",
      node_ids(STYLEGAN3, "test_config_t_trains_like_stylegan2_without_mixing_noise_or_deep_mapping")),
    m("eq-t-unmasked", "generators/equivariance.py",
      "mse = float(((moved - rendered.double() * scale).square() * mask).sum() / mask.sum())",
      "mse = float((moved - rendered.double() * scale).square().mean())",
      "EQ-T averaged over pixels the translated reference does not cover",
      node_ids(STYLEGAN3, "test_eq_t_is_the_psnr_of_the_moved_reference_on_the_pixels_it_covers")),
    # ------------------------------------------------------------------ EMA
    m("ema-plain-copy", "generators/base.py",
      "ema_p.lerp_(p.detach(), 1.0 - self.ema_decay)", "ema_p.copy_(p.detach())",
      "generator EMA replaced by a plain copy of the weights", EMA),
    m("ema-decay-inverted", "generators/base.py",
      "ema_p.lerp_(p.detach(), 1.0 - self.ema_decay)", "ema_p.lerp_(p.detach(), self.ema_decay)",
      "EMA moves a share `decay` instead of `1 - decay` towards the weights", EMA),
    m("ema-warmup-never-ends", "generators/ema.py",
      "min(math.log(0.5) / math.log(decay), rampup * step)", "max(math.log(0.5) / math.log(decay), rampup * step)",
      "EMA half-life grows past the paper's decay",
      node_ids(COMPONENTS, "test_ema_decay_warms_up_to_the_papers_decay")),
    m("ddpm-ema-without-warmup", "generators/ddpm.py",
      "self.ema_decay = min(self.config.ema_decay, (1 + n) / (10 + n))", "self.ema_decay = self.config.ema_decay",
      "DDPM's EMA decay not warmed up", EMA),
    # ------------------------------------------------------------------ image-to-image
    m("cyclegan-pool-bypassed", "generators/cyclegan.py",
      "self.D_A(self.pool_a.query(fake_a))", "self.D_A(fake_a.detach())",
      "CycleGAN's D_A judges fresh fakes only, bypassing the image pool", CYCLEGAN_D),
    m("history-pool-never-swaps", "generators/translation_blocks.py",
      "elif torch.rand(()) < 0.5:", "elif torch.rand(()) < 0.0:",
      "the full image pool never returns a stored fake",
      node_ids(COMPONENTS, "test_history_pool_swaps_each_new_image_for_a_stored_one_with_probability_half"),
      CYCLEGAN_D),
    m("cycle-weight-one", "generators/cyclegan.py",
      'loss = terms["adversarial"] + c.cycle_weight * terms["cycle"]', 'loss = terms["adversarial"] + terms["cycle"]',
      "cycle-consistency weight 1 instead of lambda = 10", CYCLEGAN_G),
    m("identity-weight-unscaled", "generators/cyclegan.py",
      'c.identity_weight * c.cycle_weight * terms["identity"]', 'c.identity_weight * terms["identity"]',
      "identity loss weighted 0.5 instead of 0.5 lambda", CYCLEGAN_G),
    m("pix2pix-no-adversarial", "generators/pix2pix.py",
      "loss = adversarial + self.config.l1_weight * l1", "loss = self.config.l1_weight * l1",
      "Pix2Pix's generator without its adversarial term", PIX2PIX),
    m("pix2pix-l2-instead-of-l1", "generators/pix2pix.py",
      "l1 = F.l1_loss(fake, batch.real)", "l1 = F.mse_loss(fake, batch.real)",
      "Pix2Pix's reconstruction term L2 instead of L1", PIX2PIX),
    m("pix2pix-d-not-halved", "generators/pix2pix.py",
      "loss = 0.5 * discriminator_loss(", "loss = discriminator_loss(",
      "Pix2Pix's discriminator objective not halved", PIX2PIX),
    m("stargan-d-without-gp", "generators/stargan.py",
      'loss = terms["adversarial"] + c.cls_weight * terms["cls"] + c.gp_weight * terms["gp"]',
      'loss = terms["adversarial"] + c.cls_weight * terms["cls"]',
      "StarGAN's D loss without the gradient penalty", STARGAN_D),
    m("stargan-d-without-classification", "generators/stargan.py",
      'loss = terms["adversarial"] + c.cls_weight * terms["cls"] + c.gp_weight * terms["gp"]',
      'loss = terms["adversarial"] + c.gp_weight * terms["gp"]',
      "StarGAN's D loss without the domain classification term", STARGAN_D),
    m("stargan-g-classifies-source-domain", "generators/stargan.py",
      '"cls": F.cross_entropy(cls_fake.float(), targets)', '"cls": F.cross_entropy(cls_fake.float(), domains)',
      "StarGAN's generator classified against the source domain, not the target", STARGAN_G),
    m("srgan-pixel-content-loss", "generators/srgan.py",
      "return F.mse_loss(net(fake), net(real))", "return F.mse_loss(fake, real)",
      "SRGAN's content loss on pixels instead of the frozen network's features", SRGAN),
    m("srgan-adversarial-unweighted", "generators/srgan.py",
      "loss = content + self.config.adversarial_weight * adversarial", "loss = content + adversarial",
      "SRGAN's adversarial term weighted 1 instead of 1e-3", SRGAN),
    # ------------------------------------------------------------------ DDPM, VAE
    m("ddpm-predicts-the-image", "generators/ddpm.py",
      "return F.mse_loss(predicted.float(), noise.float())", "return F.mse_loss(predicted.float(), x0.float())",
      "DDPM's network regressed on the clean image instead of the noise",
      node_ids(COMPONENTS, "test_ddpm_loss_is_the_error_of_the_predicted_noise")),
    m("ddpm-forward-process-std", "generators/ddpm.py",
      "return ab.sqrt() * x0 + (1 - ab).sqrt() * noise", "return ab.sqrt() * x0 + (1 - ab) * noise",
      "forward process noise scaled by 1 - alpha_bar instead of its square root",
      node_ids(COMPONENTS, "test_ddpm_loss_is_the_error_of_the_predicted_noise")),
    m("vae-kl-dropped", "generators/vae.py",
      "return -(self.reconstruction + self.kl)", "return -self.reconstruction",
      "the VAE's ELBO without its KL term", VAE_STEP),
    m("vae-kl-variance-term", "generators/vae.py",
      "0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)", "0.5 * (mu.pow(2) + logvar.exp() - 1.0)",
      "KL term without -log sigma^2", VAE_STEP),
    m("vae-reparameterization-std", "generators/vae.py",
      "return mu + (0.5 * logvar).exp() * eps", "return mu + logvar.exp() * eps",
      "reparameterization scales the noise by the variance, not the std", VAE_STEP),
    # ------------------------------------------------------------------ quality metrics
    m("fid-trace-term", "ganbench/metrics.py",
      "- 2 * trace_sqrt_product(sigma1, sigma2))", "- trace_sqrt_product(sigma1, sigma2))",
      "FID's cross term -2 tr sqrt(S1 S2) halved",
      node_ids(METRICS, "test_frechet_distance_closed_forms", "test_fid_matches_pytorch_fid_on_the_same_statistics")),
    m("fid-biased-covariance", "ganbench/metrics.py",
      "return mean, cov / (n - 1)", "return mean, cov / n",
      "FID statistics with the biased covariance",
      node_ids(METRICS, "test_statistics_match_numpy_and_accept_float32_tensors")),
    m("kid-kernel-unscaled", "ganbench/metrics.py",
      "    k /= x.shape[1]\n", "",
      "KID's polynomial kernel without the 1/d scaling",
      node_ids(METRICS, "test_kid_matches_a_direct_quadratic_implementation")),
    m("kid-biased-within-terms", "ganbench/metrics.py",
      "k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)", "k_xx.sum() + k_yy.sum()",
      "KID's MMD estimator keeps the diagonal (biased)",
      node_ids(METRICS, "test_kid_matches_a_direct_quadratic_implementation")),
    m("is-global-marginal", "ganbench/metrics.py",
      "_kl_rows(part, part.mean(axis=0))", "_kl_rows(part, p.mean(axis=0))",
      "IS splits measured against the marginal of all samples, not their own",
      node_ids(FORMULAS, "test_inception_score_uses_each_splits_own_marginal")),
    m("is-splits-in-input-order", "ganbench/metrics.py",
      "p = p[np.random.RandomState(shuffle_seed).permutation(n)]", "p = p[np.arange(n)]",
      "IS splits taken in the order the samples came (one class per split when grouped by class)",
      node_ids(FORMULAS, "test_inception_score_does_not_depend_on_the_order_of_the_samples")),
    m("is-uneven-splits-front-loaded", "ganbench/metrics.py",
      "bounds = [i * n // splits for i in range(splits + 1)]",
      "bounds = [0, *np.cumsum([len(a) for a in np.array_split(p, splits)])]",
      "IS splits of uneven size put the extra rows in the first splits instead of torch-fidelity's",
      node_ids(FORMULAS, "test_inception_score_splits_as_torch_fidelity")),
    m("knn-radius-off-by-one", "ganbench/prdc.py",
      "self.screened = self.values[:, k].double()", "self.screened = self.values[:, k - 1].double()",
      "k-NN radii of precision/recall count the sample itself as a neighbour", PRDC),
    m("exact-radius-off-by-one", "ganbench/prdc.py",
      "radii = kept.view(len(rows), count).kthvalue(self.k + 1, dim=1).values",
      "radii = kept.view(len(rows), count).kthvalue(self.k, dim=1).values",
      "the exact radii that settle the screen's open pairs count the sample itself as a neighbour",
      node_ids(PRDC_TESTS, "test_decisions_are_float64_whatever_the_screen_gets_wrong")),
    m("density-not-divided-by-k", "ganbench/prdc.py",
      '"density": int(hits.sum()) / (self.k * len(hits))', '"density": int(hits.sum()) / len(hits)',
      "density not normalised by k", PRDC),
    m("coverage-radius-doubled", "ganbench/prdc.py",
      "covered[rows] |= inside.any(1)", "covered[rows] |= (d2 < 4 * real_radii.screened[rows, None]).any(1)",
      "coverage with twice the real k-NN radius", PRDC),
    m("recall-uses-real-radii", "ganbench/prdc.py",
      "recalled[rows] |= inside.any(1)", "recalled[rows] |= (d2 < real_radii.screened[rows, None]).any(1)",
      "recall measured with the real manifold instead of the fake one", PRDC),
    m("prdc-ball-band-left-to-the-screen", "ganbench/prdc.py",
      "if int(torch.count_nonzero(maybe)) > hits:", "if False:",
      "pairs within the screen's error bound of a real radius decided by the float32 screen alone",
      node_ids(PRDC_TESTS, "test_decisions_are_float64_whatever_the_screen_gets_wrong")),
    m("prdc-recall-band-left-to-the-screen", "ganbench/prdc.py",
      "if len(open_rows):", "if False:",
      "reals within the screen's error bound of a fake radius decided by the float32 screen alone",
      node_ids(PRDC_TESTS, "test_decisions_are_float64_whatever_the_screen_gets_wrong")),
    m("prdc-margin-inverted", "ganbench/prdc.py",
      "return _outward(self.screened[balls] - margin, self.screened[balls] + margin)",
      "return _outward(self.screened[balls] + margin, self.screened[balls] - margin)",
      "the screen settles as inside the balls the pairs it should leave to exact distances",
      node_ids(PRDC_TESTS, "test_decisions_are_float64_whatever_the_screen_gets_wrong")),
    m("prdc-radii-trust-the-spare-neighbours", "ganbench/prdc.py",
      "for at in (radii > nearest_left_out).nonzero().flatten().tolist():",
      "for at in (radii < 0).nonzero().flatten().tolist():",
      "a radius taken from the screen's nearest rows even where a row left out may be nearer",
      node_ids(PRDC_TESTS, "test_radii_over_every_row_where_the_spare_neighbours_run_out")),
    m("coverage-ceiling-counts-swapped", "leaderboards/protocols.py",
      "kept *= max(n_real - i, 0) / (n_fake + n_real - i)", "kept *= max(n_fake - i, 0) / (n_fake + n_real - i)",
      "the coverage a table states for fakes from the reals' own distribution, with reals and fakes swapped",
      node_ids(METRICS, "test_coverage_of_one_distribution_has_naeem_et_al_expected_value")),
    # ------------------------------------------------------------------ detection metrics, perturbations
    m("auc-orientation", "detectors/evaluate.py",
      '"auc": float(roc_auc_score(labels, scores))', '"auc": float(roc_auc_score(1 - labels, scores))',
      "AUC computed with real as the positive class",
      node_ids(FORMULAS, "test_auc_is_the_probability_that_a_fake_outscores_a_real_image"),
      node_ids(DETECTION, "test_metrics_agree_with_scikit_learn", "test_known_cases")),
    m("eer-not-interpolated", "detectors/evaluate.py",
      "return float(fpr[last] + step * (fpr[last + 1] - fpr[last]))", "return float(fpr[last])",
      "EER read at the ROC vertex before FPR and FNR cross instead of interpolated",
      node_ids(FORMULAS, "test_equal_error_rate_averages_fpr_and_fnr_where_they_meet"),
      node_ids(DETECTION, "test_equal_error_rate_is_interpolated_on_the_roc")),
    m("threshold-maximises-tpr", "detectors/evaluate.py",
      "best = int(np.argmax(tpr - fpr))", "best = int(np.argmax(tpr))",
      "validation threshold maximises TPR instead of TPR - FPR",
      node_ids(FORMULAS, "test_validation_threshold_maximises_tpr_minus_fpr"), node_ids(DETECTION, "test_known_cases")),
    m("blur-kernel-width", "detectors/perturbations.py",
      "kernel = torch.exp(-(x**2) / (2 * sigma**2))", "kernel = torch.exp(-(x**2) / sigma**2)",
      "Gaussian blur narrower than its sigma",
      node_ids(PERTURBATIONS, "test_blur_matches_a_reference_gaussian_filter")),
    m("jpeg-quality-ignored", "detectors/perturbations.py",
      'format="JPEG", quality=int(quality))', 'format="JPEG", quality=95)',
      "JPEG perturbation ignores its quality",
      node_ids(PERTURBATIONS, "test_lower_jpeg_quality_gives_smaller_files_and_larger_error")),
    m("noise-sigma-ignored", "detectors/perturbations.py",
      "return _quantize(images.double() + sigma * n)", "return _quantize(images.double() + n)",
      "Gaussian-noise perturbation ignores its sigma",
      node_ids(PERTURBATIONS, "test_noise_has_the_stated_std_and_follows_the_seed")),
    m("amp-ignored", "generators/trainer.py",
      "with autocast(device, config.amp):", "with autocast(device, False):",
      "training runs in float32 whatever --amp says",
      node_ids(PRECISION, "test_every_generator_trains_under_bf16_autocast_and_channels_last")),
    m("amp-not-in-training-key", "ganbench/units.py",
      "    if scope.amp:\n", "    if False:\n",
      "a training under bf16 autocast shares its key with the float32 one",
      node_ids(PRECISION, "test_bf16_is_opt_in_and_enters_the_training_key_and_record")),
    m("compile-mode-not-in-training-key", "ganbench/units.py",
      "    if scope.compiled is not None:\n", "    if False:\n",
      "a compiled training shares its key with the eager one",
      node_ids(COMPILE, "test_the_compile_mode_enters_the_training_key_and_record")),
    m("by-generator-not-turned", "leaderboards/tables.py",
      'cell = cells[cells.train_generator == train].set_index("generator")',
      'cell = cells[cells.generator == train].set_index("train_generator")',
      "the by-generator table shows each matrix's columns as rows (train and test generator swapped)",
      node_ids(LEADERBOARDS, "test_by_generator_turns_the_cross_matrices_and_sets_them_side_by_side")),
    m("training-sizes-split-detector-tables", "leaderboards/tables.py",
      "return det.assign(sig_clean=_cells_sig(det))", "return det.assign(sig_clean=_sig(det))",
      "a train-on-all cell, whose training set is smaller by rounding, gets a detector table of its own",
      node_ids(LEADERBOARDS, "test_training_cells_of_other_sizes_share_the_detector_and_cross_tables")),
    m("translations-ranked-with-noise", "leaderboards/tables.py",
      'return NOISE_TASK if task == NOISE_TASK else IMAGE_TO_IMAGE', "return NOISE_TASK",
      "image-to-image rows, which translate real test images, ranked by FID with generators from noise",
      node_ids(GENERATOR_BOARD, "test_image_to_image_rows_without_a_task_in_their_quality_protocol_still_leave_the_"
                                "noise_table")),
    m("validation-slice-in-input-order", "detectors/evaluate.py",
      "order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))", "order = torch.arange(n)",
      "a detector's validation slice is the first images as they came, whole classes of a sorted folder",
      node_ids(FORENSICS, "test_a_runs_validation_slice_ignores_the_order_of_the_training_images")),
    m("keys-ignore-threads", "ganbench/units.py",
      '"device": self.device, "threads": self.threads}', '"device": self.device}',
      "unit keys leave out the CPU thread count, so a folder resumed with another --jobs mixes roundings",
      node_ids(CLI, "test_the_device_kind_and_the_thread_count_are_in_every_key")),
    m("digest-ignores-base-classes", "ganbench/source_digest.py",
      "bases = [sys.modules[c.__module__] for c in cls.__mro__[1:] if c.__module__ in sys.modules]", "bases = []",
      "a variant with tricks is keyed without its base variant's code",
      node_ids(SOURCE_DIGEST, "test_a_variant_with_tricks_depends_on_its_base_variants_code_and_says_its_tricks")),
    m("extractor-keyed-by-path", "ganbench/features.py",
      'return f"sha256:{file_digest(weights)}" if weights is not None else f"hub:{model}"',
      'return f"path:{weights}" if weights is not None else f"hub:{model}"',
      "a pretrained extractor is keyed by its weights file's path, so swapped weights reuse old scores",
      node_ids(FEATURES, "test_a_pretrained_extractors_key_follows_the_weights_content_not_the_path")),
    # ------------------------------------------------------------------ detector definitions
    m("spectrum-scores-real-probability", "detectors/spectrum.py",
      "return self.model.predict_proba(azimuthal_average(images))[:, 1]",
      "return self.model.predict_proba(azimuthal_average(images))[:, 0]",
      "the spectrum detector scores the probability of real instead of fake",
      node_ids("tests/test_detectors.py", "test_frequency_detectors_catch_a_periodic_artifact")),
    m("dct-dc-row-not-rescaled", "detectors/dct.py", "    d[0] /= 2**0.5\n", "",
      "the DCT-II matrix's first row lacks the 1/sqrt(2) that makes it orthonormal",
      node_ids("tests/test_detectors.py", "test_dct_features_are_log_magnitude_orthonormal_dct")),
    m("dct-columns-not-transposed", "detectors/dct.py",
      "return dct_matrix(h) @ x @ dct_matrix(w).T", "return dct_matrix(h) @ x @ dct_matrix(w)",
      "the 2-D DCT multiplies the rows by D instead of D transposed, so the columns are not transformed",
      node_ids("tests/test_detectors.py", "test_dct_features_are_log_magnitude_orthonormal_dct")),
    m("dct-magnitude-without-log", "detectors/dct.py",
      "torch.log(coefficients.abs() + eps)", "(coefficients.abs() + eps)",
      "DCT features are the raw magnitudes instead of their logarithm",
      node_ids("tests/test_detectors.py", "test_dct_features_are_log_magnitude_orthonormal_dct")),
    m("npr-area-downsampling", "detectors/npr.py",
      'down = F.interpolate(x, scale_factor=1 / factor, mode="nearest")', "down = F.avg_pool2d(x, factor)",
      "NPR down-samples by averaging each 2x2 block instead of nearest (top-left) sampling",
      node_ids("tests/test_detector_definitions.py",
               "test_npr_residual_subtracts_the_top_left_pixel_of_each_two_by_two_block",
               "test_npr_residual_of_random_images_is_zero_on_even_pixels_and_a_difference_elsewhere")),
    m("npr-residual-sign", "detectors/npr.py",
      'return x - F.interpolate(down, scale_factor=factor, mode="nearest")',
      'return F.interpolate(down, scale_factor=factor, mode="nearest") - x',
      "the NPR residual is up(down(x)) - x instead of x - up(down(x))",
      node_ids("tests/test_detector_definitions.py",
               "test_npr_residual_subtracts_the_top_left_pixel_of_each_two_by_two_block")),
    m("augment-quality-100-never-drawn", "detectors/augment.py",
      "c.jpeg_quality[1] + 1", "c.jpeg_quality[1]",
      "the augmentation's JPEG quality is drawn from 30..99, the upper end excluded",
      node_ids("tests/test_detector_definitions.py",
               "test_augmentation_draws_every_jpeg_quality_from_30_to_100_inclusive")),
    m("augment-jpeg-before-blur", "detectors/augment.py",
      "            if d.sigma is not None:\n                out[i : i + 1] = blur(out[i : i + 1], d.sigma)\n"
      "            if d.quality is not None:\n                out[i : i + 1] = jpeg(out[i : i + 1], d.quality)\n",
      "            if d.quality is not None:\n                out[i : i + 1] = jpeg(out[i : i + 1], d.quality)\n"
      "            if d.sigma is not None:\n                out[i : i + 1] = blur(out[i : i + 1], d.sigma)\n",
      "Blur+JPEG applied as JPEG first, then blur (the blur smooths away the compression artifacts)",
      node_ids("tests/test_detector_definitions.py",
               "test_augmentation_blurs_first_and_then_compresses_the_blurred_image")),
    m("trainer-labels-swapped", "detectors/training.py",
      "labels = torch.cat([torch.zeros(len(real)), torch.ones(len(fake))])",
      "labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])",
      "the CNN detectors are trained with real as 1 and fake as 0, so their scores rank reals as fake",
      node_ids("tests/test_detectors.py", "test_cnn_detectors_share_one_trainer_and_small_cnn_learns")),
    m("trainer-keeps-last-epoch", "detectors/training.py",
      "if history.best_epoch is None or history.val_losses[-1] < history.val_losses[history.best_epoch]:",
      "if True:",
      "with a validation pair, the last epoch's weights are kept instead of the lowest-validation-loss epoch's",
      node_ids("tests/test_detector_definitions.py",
               "test_the_kept_weights_are_those_of_the_epoch_with_the_lowest_validation_loss")),
    m("trainer-best-state-aliased", "detectors/training.py",
      "best_state = copy.deepcopy(network.state_dict())", "best_state = network.state_dict()",
      "the best epoch's weights are kept by reference, so later optimizer steps overwrite them",
      node_ids("tests/test_detector_definitions.py",
               "test_the_kept_weights_are_those_of_the_epoch_with_the_lowest_validation_loss")),
    m("timm-pretrained-inputs-half-normalized", "detectors/cnn.py",
      'mean, std = model.pretrained_cfg["mean"], model.pretrained_cfg["std"]', "mean, std = (0.5,) * 3, (0.5,) * 3",
      "a timm detector with ImageNet weights is fed [-1, 1] inputs instead of ImageNet-normalized ones",
      node_ids("tests/test_detector_definitions.py",
               "test_a_pretrained_timm_detector_normalizes_inputs_with_its_imagenet_statistics")),
    m("one-class-share-of-singular-values", "detectors/one_class.py",
      "variance = singular**2", "variance = singular",
      "the one-class subspace keeps 95% of the sum of singular values instead of 95% of the variance",
      node_ids("tests/test_detector_definitions.py",
               "test_one_class_keeps_as_many_components_as_pca_needs_for_95_percent_of_the_variance")),
    m("univfd-imagenet-normalization", "detectors/published.py",
      "return normalized(images, CLIP_MEAN, CLIP_STD)", "return normalized(images, IMAGENET_MEAN, IMAGENET_STD)",
      "UnivFD's CLIP backbone is fed ImageNet-normalized inputs instead of CLIP-normalized ones",
      node_ids("tests/test_published_detectors.py", "test_univfd_scores_are_the_head_over_clip_features")),
    m("null-check-test-halves-identical", "ganbench/detection.py",
      "return images[order[:half]], images[order[half : 2 * half]]", "return images[order[:half]], images[order[:half]]",
      "the null check's two real 'classes' are the same images, so its AUC is 0.5 by construction",
      node_ids("tests/test_detector_definitions.py",
               "test_null_check_fits_and_tests_on_disjoint_halves_of_the_real_splits")),
    m("train-on-all-share-not-divided", "ganbench/detection.py",
      "share = self.context.config.preset.n_detector_train // len(generators)",
      "share = self.context.config.preset.n_detector_train",
      "train-on-all takes n fakes of every generator (G times as many fakes as reals) instead of n // G",
      node_ids("tests/test_detector_definitions.py",
               "test_train_on_all_takes_an_equal_share_of_each_generators_training_fakes")),
    m("detection-tests-on-training-fakes", "ganbench/detection.py",
      'return self.context.fakes(record)["fresh"][:n]', 'return self.context.fakes(record)["detector_train"][:n]',
      "detectors are tested on the same detector_train fakes they were fitted on instead of fresh ones",
      node_ids("tests/test_detector_definitions.py",
               "test_cross_generator_units_fit_on_train_fakes_and_test_on_each_generators_fresh_fakes")),
    m("detection-labels-swapped", "ganbench/detection.py",
      "labels = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])",
      "labels = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])",
      "detection records score real as the positive class, so every AUC is 1 - AUC",
      node_ids("tests/test_detector_definitions.py",
               "test_fakes_are_the_positive_class_of_every_detection_record")),
    m("baseline-threshold-sees-fakes", "detectors/evaluate.py",
      "    if not sees_fakes:\n        return reals_only_threshold(real_scores)\n", "",
      "a baseline that never sees a fake is thresholded with the validation fakes, like a learned detector",
      node_ids("tests/test_detector_definitions.py", "test_a_baselines_threshold_ignores_the_validation_fakes",
               "test_ganbench_detect_thresholds_the_one_class_baseline_on_its_validation_reals")),
    m("reals-only-threshold-counts-strictly-above", "detectors/evaluate.py",
      'np.searchsorted(np.sort(real_scores), values, side="left")',
      'np.searchsorted(np.sort(real_scores), values, side="right")',
      "the reals-only threshold counts the reals strictly above it, though a score equal to it is called fake",
      node_ids("tests/test_detector_definitions.py",
               "test_reals_only_threshold_calls_at_most_five_percent_of_the_reals_fake")),
    # ------------------------------------------------------------------ intervals, ranks, task measures
    m("seed-interval-normal-quantile", "leaderboards/uncertainty.py",
      "half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)",
      "half = stats.norm.ppf(0.5 + confidence / 2) * std / math.sqrt(n)",
      "the interval over a few seeds uses the normal quantile 1.96 instead of Student's t with n - 1 dof",
      node_ids("tests/test_leaderboard_ranks.py", "test_intervals_equal_the_hand_computed_t_interval")),
    m("welch-pooled-dof", "leaderboards/uncertainty.py",
      "dof = spread ** 2 / (var_a ** 2 / (n_a - 1) + var_b ** 2 / (n_b - 1))", "dof = n_a + n_b - 2",
      "Welch's test with the pooled-variance degrees of freedom instead of Welch-Satterthwaite's",
      node_ids("tests/test_leaderboard_ranks.py", "test_welch_p_value_equals_scipy")),
    m("bootstrap-z-full-width", "leaderboards/uncertainty.py",
      "spread = math.hypot((high_a - low_a) / (2 * z), (high_b - low_b) / (2 * z))",
      "spread = math.hypot((high_a - low_a) / z, (high_b - low_b) / z)",
      "the z-test reads each standard error from the whole bootstrap interval instead of its half width",
      node_ids("tests/test_leaderboard_ranks.py", "test_bootstrap_z_test_reads_standard_errors_from_the_intervals")),
    m("ties-against-group-head", "leaderboards/uncertainty.py",
      "p_values[index] = neighbour_p(rows[index - 1], row)", "p_values[index] = neighbour_p(rows[groups[-1][0]], row)",
      "a row is tested against the first row of its tie group instead of the row above, so ties stop chaining",
      node_ids("tests/test_statistics_definitions.py",
               "test_tie_groups_chain_through_neighbours_even_when_the_ends_differ"),
      node_ids("tests/test_leaderboard_ranks.py", "test_ties_chain_and_ranks_skip_shared_places")),
    m("holm-is-bonferroni", "leaderboards/uncertainty.py",
      "min(1.0, (len(p_values) - step) * p_values[index])", "min(1.0, len(p_values) * p_values[index])",
      "null checks corrected with Bonferroni's m p instead of Holm's step-down (m - j + 1) p",
      node_ids("tests/test_leaderboard_ranks.py", "test_holm_adjusted_p_values_by_hand")),
    m("row-interval-prefers-bootstrap", "leaderboards/uncertainty.py",
      "for low, high, kind in ((LOW, HIGH, SEEDS), (BOOT_LOW, BOOT_HIGH, BOOTSTRAP), (SAMPLE_LOW, SAMPLE_HIGH, SAMPLING)):",
      "for low, high, kind in ((BOOT_LOW, BOOT_HIGH, BOOTSTRAP), (LOW, HIGH, SEEDS), (SAMPLE_LOW, SAMPLE_HIGH, SAMPLING)):",
      "a row with several seeds shows the mean of its bootstrap bounds instead of its t-interval over seeds",
      node_ids("tests/test_leaderboards.py", "test_one_seed_detection_cells_show_their_bootstrap_interval")),
    m("ece-unweighted-bins", "detectors/evaluate.py",
      "count / total * abs(mean - fraction)",
      "abs(mean - fraction) / len(reliability_bins(labels, probabilities, bins))",
      "ECE averages the bins' gaps equally instead of weighting each by its share of images",
      node_ids("tests/test_statistics_definitions.py", 
               "test_calibration_error_weights_each_bin_by_its_share_of_images")),
    m("ece-fifteen-bins", "detectors/evaluate.py", "CALIBRATION_BINS = 10", "CALIBRATION_BINS = 15",
      "ECE over fifteen bins instead of the ten equal-width bins the records state",
      node_ids("tests/test_statistics_definitions.py", "test_calibration_error_uses_ten_equal_width_bins")),
    m("bootstrap-resamples-200", "detectors/evaluate.py", "RESAMPLES = 1000", "RESAMPLES = 200",
      "percentile intervals from 200 bootstrap resamples while the protocol states 1000",
      node_ids("tests/test_statistics_definitions.py", "test_the_bootstrap_draws_a_thousand_resamples_by_default")),
    m("bootstrap-reals-not-resampled", "detectors/evaluate.py",
      "rng.integers(0, len(real), (size, len(real)))", "np.tile(np.arange(len(real)), (size, 1))",
      "the bootstrap resamples only the fakes and keeps every real image once in each resample",
      node_ids("tests/test_detectors_evaluate.py", "test_bootstrap_draws_real_and_fake_separately_from_the_seed")),
    m("threshold-strict-inequality", "detectors/evaluate.py",
      "predicted = scores >= threshold", "predicted = scores > threshold",
      "a score equal to the validation threshold is called real, missing the Youden point the threshold was chosen at",
      node_ids("tests/test_statistics_definitions.py",
               "test_balanced_accuracy_at_the_validation_threshold_reaches_the_youden_optimum")),
    m("balanced-acc-is-plain-accuracy", "detectors/evaluate.py",
      '"balanced_acc": (real_acc + fake_acc) / 2,', '"balanced_acc": float(np.mean(predicted == labels.astype(bool))),',
      "balanced accuracy replaced by plain accuracy, which leans toward the larger class",
      node_ids("tests/test_detectors_evaluate.py", "test_metrics_agree_with_scikit_learn")),
    m("psnr-of-pooled-mse", "ganbench/translation_metrics.py",
      "mse = (images.double() - reference.double()).pow(2).flatten(1).mean(1).clamp_min(1e-10)",
      "mse = (images.double() - reference.double()).pow(2).mean().clamp_min(1e-10)",
      "PSNR of the MSE pooled over images instead of the mean of each image's PSNR",
      node_ids("tests/test_statistics_definitions.py", 
               "test_psnr_is_averaged_over_images_not_taken_of_the_pooled_error")),
    m("ssim-k1-for-both-constants", "ganbench/translation_metrics.py",
      "c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2",
      "c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K1 * DATA_RANGE) ** 2",
      "SSIM's contrast-structure constant C2 built from K1 = 0.01 instead of K2 = 0.03",
      node_ids("tests/test_statistics_definitions.py", 
               "test_ssim_matches_the_gaussian_window_definition_of_wang_et_al")),
    m("ssim-uniform-window", "ganbench/translation_metrics.py",
      "g = torch.exp(-x.pow(2) / (2 * sigma**2))", "g = torch.ones_like(x)",
      "SSIM's local statistics under a flat 11x11 window instead of the Gaussian of sigma 1.5",
      node_ids("tests/test_statistics_definitions.py", 
               "test_ssim_matches_the_gaussian_window_definition_of_wang_et_al")),
    m("cycle-returns-to-the-target", "ganbench/translation_metrics.py",
      "back = translate(there, domains)", "back = translate(there, target_domains)",
      "the cycle's second leg translates to the target domain again instead of back to the source domain",
      node_ids("tests/test_statistics_definitions.py", "test_cycle_error_returns_each_image_to_its_own_domain")),
    m("modes-covered-need-two-samples", "ganbench/metrics.py",
      '"modes_covered": int((counts > 0).sum())', '"modes_covered": int((counts > 1).sum())',
      "a toy-2D mode reached by a single high-quality sample is not counted as covered",
      node_ids("tests/test_statistics_definitions.py", "test_a_mode_reached_by_one_high_quality_sample_is_covered")),
    m("high-quality-two-std", "ganbench/metrics.py", "<= 3 * std", "<= 2 * std",
      "high-quality samples within two standard deviations of their mode instead of three",
      node_ids("tests/test_metrics.py", "test_mode_coverage_counts_modes_quality_and_reverse_kl")),
    m("classes-covered-need-two-samples", "ganbench/metrics.py",
      '"classes_covered": int((counts > 0).sum())', '"classes_covered": int((counts > 1).sum())',
      "a class predicted for a single sample is not counted as covered",
      node_ids("tests/test_statistics_definitions.py", "test_a_class_predicted_for_one_sample_is_covered")),
    m("detect-auc-worst-is-best", "leaderboards/tables.py",
      'detect_auc_worst="min"', 'detect_auc_worst="max"',
      "a generator's worst-case detector AUC is the highest AUC instead of the lowest",
      node_ids("tests/test_leaderboards.py", "test_generator_table_means_and_stds_over_seeds")),
    m("worst-generator-highest", "leaderboards/tables.py",
      'worst = per_gen.loc[per_gen.groupby(by, sort=False)["auc"].idxmin()]',
      'worst = per_gen.loc[per_gen.groupby(by, sort=False)["auc"].idxmax()]',
      "a detector's worst generator is the one it detects best",
      node_ids("tests/test_leaderboards.py", "test_detector_table")),
    m("seed-std-biased", "leaderboards/tables.py", "grouped.std(ddof=1)", "grouped.std(ddof=0)",
      "the std over seeds (and so every t-interval) uses the biased n divisor instead of n - 1",
      node_ids("tests/test_leaderboards.py", "test_generator_table_means_and_stds_over_seeds")),
    m("cross-includes-train-on-all", "leaderboards/tables.py",
      '(train != det.generator) & (train != "all") &', '(train != det.generator) &',
      "a detector's cross-generator AUC also averages the train-on-all cells",
      node_ids("tests/test_statistics_definitions.py", "test_cross_generator_auc_leaves_out_the_train_on_all_cells")),
    m("arms-race-cells-transposed", "leaderboards/arms_race.py",
      "match = group[(group.train_generator == train) & (group.generator == test)]",
      "match = group[(group.train_generator == test) & (group.generator == train)]",
      "the arms-race table puts the B -> A AUC under A -> B and the other way round",
      node_ids("tests/test_spectra.py", "test_the_arms_race_table_puts_each_auc_in_its_column")),
    m("curve-checks-one-too-many", "ganbench/curves.py",
      "self.check_every = max(1, budget // config.checks) if config.checks > 0 else 0",
      "self.check_every = max(1, budget // (config.checks + 1)) if config.checks > 0 else 0",
      "the cheap quality check falls every budget // (checks + 1) steps instead of budget // checks",
      node_ids("tests/test_statistics_definitions.py",
               "test_cheap_checks_fall_on_multiples_of_the_budget_over_the_check_count")),
    m("curve-loss-mean-over-window", "ganbench/curves.py",
      "means = {name: self._sums[name] / self._counts[name] for name in self._sums}",
      "means = {name: self._sums[name] / self._window for name in self._sums}",
      "a loss logged at only some steps of a window is divided by the whole window",
      node_ids("tests/test_curves.py", "test_loss_lines_hold_the_mean_over_their_window")),
    # ------------------------------------------------------------------ generator architectures, data path
    m("dcgan-batchnorm-on-d-input", "generators/dcgan.py",
      "layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]",
      "layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 4, 2, 1), nn.BatchNorm2d(chans[0]), "
      "nn.LeakyReLU(0.2, True)]",
      "DCGAN's discriminator normalises its input layer with BatchNorm",
      node_ids("tests/test_dcgan.py", "test_dcgan_architecture_follows_the_paper")),
    m("dcgan-batchnorm-on-g-output", "generators/dcgan.py",
      "layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1), nn.Tanh()]",
      "layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1), nn.BatchNorm2d(channels), nn.Tanh()]",
      "DCGAN's generator normalises its output layer with BatchNorm",
      node_ids("tests/test_dcgan.py", "test_dcgan_architecture_follows_the_paper")),
    m("dcgan-d-leaky-slope", "generators/dcgan.py",
      "layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]",
      "layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.01, True)]",
      "DCGAN's discriminator with leaky ReLU slope 0.01 instead of 0.2",
      node_ids("tests/test_dcgan.py", "test_dcgan_architecture_follows_the_paper")),
    m("conv-trunk-batchnorm-on-input", "generators/blocks.py",
      "layers: list[nn.Module] = [nn.Conv2d(in_channels, channels[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]",
      "layers: list[nn.Module] = [nn.Conv2d(in_channels, channels[0], 4, 2, 1), nn.BatchNorm2d(channels[0]), "
      "nn.LeakyReLU(0.2, True)]",
      "the shared DCGAN-style trunk (AC-GAN, WGAN, LSGAN) normalises its input layer with BatchNorm",
      node_ids("tests/test_architecture_definitions.py",
               "test_shared_convolutional_trunk_has_no_batchnorm_on_its_input_layer")),
    m("progan-latent-not-normalised", "generators/progan.py",
      "self.input = nn.Sequential(PixelNorm(), EqualizedLinear(",
      "self.input = nn.Sequential(nn.Identity(), EqualizedLinear(",
      "ProGAN's latent enters G without pixelwise normalisation",
      node_ids("tests/test_architecture_definitions.py",
               "test_progan_generator_normalises_the_latent_to_the_hypersphere")),
    m("progan-no-pixel-norm-after-convs", "generators/progan.py",
      "return layers + [PixelNorm()] if pixel_norm else layers", "return layers",
      "ProGAN's generator convolutions without pixelwise feature normalisation",
      node_ids("tests/test_architecture_definitions.py",
               "test_progan_generator_feature_vectors_have_unit_length_after_every_block")),
    m("progan-reals-not-faded", "generators/progan.py",
      "x = fade(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2), x, alpha)", "x = x",
      "ProGAN's real images not blended with the level below during a fade-in",
      node_ids("tests/test_architecture_definitions.py",
               "test_progan_reals_are_blended_with_their_lower_resolution_during_a_fade_in")),
    m("attention-weights-not-transposed", "generators/layers.py",
      "o = torch.bmm(v, attention.transpose(1, 2))", "o = torch.bmm(v, attention)",
      "self-attention sums each position's values with the weights of the other query (softmax axis swapped)",
      node_ids("tests/test_architecture_definitions.py",
               "test_self_attention_output_at_each_position_is_the_softmax_weighted_sum_over_all_positions")),
    m("attention-gate-starts-at-one", "generators/layers.py",
      "self.gamma = nn.Parameter(torch.zeros(()))", "self.gamma = nn.Parameter(torch.ones(()))",
      "SAGAN's attention gate gamma starts at 1 instead of 0",
      node_ids("tests/test_architecture_definitions.py", "test_self_attention_starts_as_the_identity"),
      node_ids(FAMILY_B, "test_sagan_attention_gate_starts_at_zero_and_is_learned")),
    m("cbn-gain-not-centred-at-one", "generators/layers.py",
      "return 1 + self.gain(y), self.bias(y)", "return self.gain(y), self.bias(y)",
      "conditional BatchNorm's gain W_g y instead of 1 + W_g y",
      node_ids("tests/test_architecture_definitions.py",
               "test_conditional_batchnorm_gain_is_one_plus_a_projection_of_the_condition")),
    m("biggan-shared-embedding-dropped", "generators/layers.py",
      "return first, [torch.cat([embedding, chunk], dim=1) for chunk in rest]",
      "return first, [torch.cat([torch.zeros_like(embedding), chunk], dim=1) for chunk in rest]",
      "BigGAN's conditional BatchNorm never sees the shared class embedding",
      node_ids(FAMILY_B, "test_biggan_class_conditional_batchnorm_gains_depend_on_class")),
    m("biggan-reals-with-random-labels", "generators/biggan.py",
      "self.D(batch.real, batch.labels)", "self.D(batch.real, labels)",
      "BigGAN's projection discriminator judges real images with random labels instead of their own",
      node_ids("tests/test_architecture_definitions.py",
               "test_biggan_discriminator_judges_real_images_with_their_own_labels")),
    m("equalized-bias-lr-mul-ignored", "generators/layers.py",
      "bias = None if self.bias is None else self.bias * self.lr_mul", "bias = self.bias",
      "the mapping network's biases learn at the full rate (lr_mul not applied to them)",
      node_ids("tests/test_architecture_definitions.py",
               "test_mapping_layers_apply_he_scaled_weights_and_learn_a_hundred_times_slower")),
    m("equalized-weight-init-ignores-lr-mul", "generators/layers.py",
      "self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)",
      "self.weight = nn.Parameter(torch.randn(out_features, in_features))",
      "the mapping network's weights start 100x too small (N(0, 1) not divided by lr_mul)",
      node_ids("tests/test_architecture_definitions.py",
               "test_mapping_layers_apply_he_scaled_weights_and_learn_a_hundred_times_slower")),
    m("stylegan2-mapping-full-lr", "generators/stylegan2.py",
      "mapping_lr_mul: float = 0.01", "mapping_lr_mul: float = 1.0",
      "StyleGAN2's mapping network at the full learning rate instead of 0.01 times it",
      node_ids(FAMILY_B, "test_stylegan2_uses_mapping_modulation_and_noise_everywhere")),
    m("stylegan2-w-avg-decay-inverted", "generators/stylegan2.py",
      "self.w_avg.lerp_(w.detach().float().mean(0), 1 - decay)", "self.w_avg.lerp_(w.detach().float().mean(0), decay)",
      "the running average of w moves a share 0.995 instead of 0.005 towards each batch",
      node_ids("tests/test_architecture_definitions.py",
               "test_running_average_of_w_moves_a_share_of_0005_towards_each_batch_mean")),
    m("stylegan2-mixing-probability-inverted", "generators/stylegan2.py",
      "if float(draws[0]) < mixing:", "if float(draws[0]) > mixing:",
      "style mixing with probability 1 - 0.9 instead of 0.9",
      node_ids(FAMILY_B, "test_stylegan2_style_mixing_switches_between_two_latents")),
    m("ddpm-betas-scaled-linear", "generators/ddpm.py",
      "return torch.linspace(start, end, timesteps, dtype=torch.float64)",
      "return torch.linspace(start**0.5, end**0.5, timesteps, dtype=torch.float64) ** 2",
      "DDPM's betas linear in their square root (the latent-diffusion schedule) instead of linear",
      node_ids("tests/test_architecture_definitions.py", "test_linear_betas_rise_by_equal_steps_from_1e4_to_002"),
      node_ids("tests/test_ddpm.py", "test_schedules_increase_betas_and_decrease_alpha_bar")),
    m("ddpm-ancestral-noise-variance", "generators/ddpm.py",
      "x = x + s.betas[t].sqrt() * torch.randn(", "x = x + s.betas[t] * torch.randn(",
      "the ancestral sampler adds noise of variance beta_t^2 instead of sigma_t^2 = beta_t",
      node_ids("tests/test_architecture_definitions.py",
               "test_one_ancestral_step_draws_from_the_posterior_of_x0_and_xt_with_variance_beta_t"),
      node_ids("tests/test_ddpm.py", "test_samplers_with_the_exact_denoiser_recover_the_data_distribution")),
    m("ddpm-posterior-x0-coefficient", "generators/ddpm.py",
      '"posterior_x0": betas * alpha_bar_prev.sqrt() / (1 - alpha_bar)',
      '"posterior_x0": betas * alpha_bar_prev / (1 - alpha_bar)',
      "the posterior mean weighs x_0 by alpha_bar_{t-1} instead of its square root",
      node_ids("tests/test_architecture_definitions.py",
               "test_one_ancestral_step_draws_from_the_posterior_of_x0_and_xt_with_variance_beta_t"),
      node_ids("tests/test_ddpm.py", "test_samplers_with_the_exact_denoiser_recover_the_data_distribution")),
    m("diffaugment-brightness-not-centred", "generators/diffaugment.py",
      "x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)",
      "x = x + torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype)",
      "DiffAugment's brightness shift drawn from [0, 1] instead of [-0.5, 0.5]",
      node_ids("tests/test_architecture_definitions.py",
               "test_diffaugment_brightness_shift_is_uniform_on_minus_half_to_half")),
    m("diffaugment-saturation-range", "generators/diffaugment.py",
      "(2 * torch.rand(n, 1, 1, 1", "(torch.rand(n, 1, 1, 1",
      "DiffAugment's saturation factor drawn from [0, 1] instead of [0, 2]",
      node_ids("tests/test_architecture_definitions.py",
               "test_diffaugment_saturation_scales_colour_deviations_by_up_to_two")),
    m("diffaugment-contrast-range", "generators/diffaugment.py",
      "(torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5)",
      "(2 * torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype))",
      "DiffAugment's contrast factor drawn from [0, 2] instead of [0.5, 1.5]",
      node_ids("tests/test_architecture_definitions.py",
               "test_diffaugment_contrast_scales_spatial_deviations_by_half_to_one_and_a_half")),
    m("diffaugment-translation-ratio", "generators/diffaugment.py",
      "ratio: float = 0.125", "ratio: float = 0.25",
      "DiffAugment translates by up to a quarter of the side instead of an eighth",
      node_ids("tests/test_architecture_definitions.py",
               "test_diffaugment_translation_shifts_by_at_most_an_eighth_of_the_side")),
    m("diffaugment-cutout-ratio", "generators/diffaugment.py",
      "ratio: float = 0.5", "ratio: float = 0.25",
      "DiffAugment's cutout square a quarter of the side instead of half",
      node_ids("tests/test_tricks.py", "test_diffaugment_is_differentiable_and_shape_preserving")),
    m("cgan-d-fakes-not-augmented", "generators/cgan.py",
      "fake_out = self.D(self.condition(self.tricks.view(fake, batch.step), batch.labels))",
      "fake_out = self.D(self.condition(fake, batch.labels))",
      "DiffAugment on the reals but not on the fakes of D's update",
      node_ids("tests/test_architecture_definitions.py",
               "test_diffaugment_transforms_reals_and_fakes_in_both_players_updates")),
    m("cgan-g-fakes-not-augmented", "generators/cgan.py",
      "features = self.D.features(self.condition(self.tricks.view(fake, batch.step), batch.labels))",
      "features = self.D.features(self.condition(fake, batch.labels))",
      "DiffAugment left out of G's update, so G's gradient does not pass through the augmentation",
      node_ids("tests/test_architecture_definitions.py",
               "test_diffaugment_transforms_reals_and_fakes_in_both_players_updates")),
    m("cgan-label-not-concatenated", "generators/blocks.py",
      "return torch.cat([x.flatten(1), F.one_hot(labels, self.num_classes).to(x.dtype)], dim=1)",
      "return torch.cat([x.flatten(1), torch.zeros_like(F.one_hot(labels, self.num_classes)).to(x.dtype)], dim=1)",
      "CGAN's one-hot label never reaches G or D",
      node_ids(FAMILY_A, "test_cgan_feeds_the_label_to_both_players")),
    m("acgan-d-no-class-loss-on-fakes", "generators/acgan.py",
      "+ class_loss(self.D.class_logits(fake_features), labels))",
      "+ 0 * class_loss(self.D.class_logits(fake_features), labels))",
      "AC-GAN's D classifies only real images, not the fakes with their sampled classes",
      node_ids("tests/test_acgan.py", "test_steps_minimise_the_papers_source_and_class_losses")),
    m("acgan-g-no-class-loss", "generators/acgan.py",
      "self.optimize(self.opt_g, source + class_loss(self.D.class_logits(features), labels))",
      "self.optimize(self.opt_g, source)",
      "AC-GAN's G does not maximise the log-likelihood of its fakes' classes",
      node_ids("tests/test_acgan.py", "test_steps_minimise_the_papers_source_and_class_losses")),
    m("packing-default-two", "generators/tricks.py",
      '"packing": {"packing": 4}', '"packing": {"packing": 2}',
      "the packing trick packs 2 samples instead of 4",
      node_ids("tests/test_tricks.py", "test_a_packed_batch_is_batch_size_packs")),
    m("canvas-border-reflected", "ganbench/geometry.py",
      'mode="replicate")', 'mode="reflect")',
      "the model canvas mirrors the image into its border instead of repeating the edge pixels",
      node_ids("tests/test_geometry.py", "test_canvas_repeats_edges_and_the_crop_gives_the_image_back")),
    m("to-float-range-zero-one", "ganbench/data.py",
      "return x.float().div_(127.5).sub_(1.0)", "return x.float().div_(255.0)",
      "real images scaled to [0, 1] instead of the generators' [-1, 1]",
      node_ids("tests/test_data.py", "test_quantization_round_trip")),
    m("extractor-resize-align-corners", "ganbench/features.py",
      "x = F.interpolate(x, size=size, mode=mode, align_corners=False,",
      "x = F.interpolate(x, size=size, mode=mode, align_corners=True,",
      "images resized into the extractor with align_corners=True, unlike pytorch-fid",
      node_ids(FEATURES, "test_resize_is_bilinear_to_the_network_size_and_grey_becomes_rgb")),
    m("fakes-not-put-on-levels", "ganbench/context.py",
      "return images if self.scope.levels is None else snap_to_levels(images, self.scope.levels)", "return images",
      "the fakes of a quantized real set keep the generator's own values: a detector can count off-level pixels",
      node_ids("tests/test_data.py", "test_fakes_of_a_quantized_real_set_are_put_on_its_levels"),
      node_ids(CLI, "test_sample_puts_digits_samples_on_the_reals_grey_levels_unless_raw_values")),
    m("snap-to-farthest-level", "ganbench/data.py",
      "nearest = (torch.arange(256).view(-1, 1) - values.view(1, -1)).abs().argmin(1)",
      "nearest = (torch.arange(256).view(-1, 1) - values.view(1, -1)).abs().argmax(1)",
      "a fake value moved to the farthest of the reals' levels",
      node_ids("tests/test_data.py", "test_fakes_of_a_quantized_real_set_are_put_on_its_levels")),
    m("quantized-cutoff-sixteen", "ganbench/data.py",
      "QUANTIZED_LEVELS = 64", "QUANTIZED_LEVELS = 16",
      "a real set on 17 levels (the digits) not taken as quantized, so its fakes keep 256 values",
      node_ids("tests/test_data.py", "test_fakes_of_a_quantized_real_set_are_put_on_its_levels")),
    m("levels-not-in-sample-key", "ganbench/units.py",
      'config["levels"] = list(scope.levels)', "pass",
      "fakes put on other intensity values reuse the sample unit of the raw ones",
      node_ids("tests/test_data.py", "test_the_reals_levels_key_the_sample_unit_and_not_the_training")),
    # ------------------------------------------------------------------ paper hyper-parameters, training loop
    m("noise-gan-betas-not-passed", "generators/noise_gan.py",
      "self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=c.betas)\n"
      "        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=c.betas)",
      "self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr)\n"
      "        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr)",
      "DCGAN-style Adam (GAN, DCGAN, cGAN, AC-GAN, LSGAN, SNGAN) at torch's beta1 0.9 instead of the paper's 0.5",
      node_ids("tests/test_dcgan.py", "test_dcgan_architecture_follows_the_paper"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("wgan-critic-adam", "generators/wgan.py",
      "self.opt_d = torch.optim.RMSprop(self.D.parameters(), lr=c.lr)",
      "self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=(0.5, 0.999))",
      "WGAN's critic trained with momentum-based Adam instead of RMSprop",
      node_ids(FAMILY_A, "test_wgan_critic_is_clipped_and_has_no_sigmoid"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("wgan-gp-one-critic-step", "generators/wgan_gp.py",
      "n_critic: int = 5", "n_critic: int = 1",
      "WGAN-GP with one critic update per generator update instead of 5",
      node_ids(FAMILY_A, "test_wgan_gp_penalty_enters_the_critic_loss"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("wgan-gp-dcgan-betas", "generators/wgan_gp.py",
      "betas: tuple[float, float] = (0.0, 0.9)", "betas: tuple[float, float] = (0.5, 0.999)",
      "WGAN-GP's Adam at DCGAN's betas (0.5, 0.999) instead of (0, 0.9)",
      node_ids(FAMILY_A, "test_wgan_gp_penalty_enters_the_critic_loss"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("sagan-g-at-d-rate", "generators/sagan.py",
      "self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=c.betas)",
      "self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_d, betas=c.betas)",
      "SAGAN's generator at D's rate 4e-4: no two time-scale update rule",
      node_ids(FAMILY_B, "test_sagan_spectral_norm_on_both_networks_hinge_and_ttur"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("biggan-d-steps-ignored", "generators/biggan.py",
      "self.n_critic = c.d_steps", "self.n_critic = 1",
      "BigGAN's d_steps never reaches the trainer (always one D step per G step)",
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas",
               "test_biggan_takes_the_papers_d_steps_per_g_step_in_the_trainer")),
    m("biggan-g-at-d-rate", "generators/biggan.py",
      "self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g,",
      "self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_d,",
      "BigGAN's generator optimised at D's learning rate (lr_g ignored)",
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("biggan-beta2-sagans", "generators/biggan.py",
      "betas: tuple[float, float] = (0.0, 0.999)", "betas: tuple[float, float] = (0.0, 0.9)",
      "BigGAN's Adam at SAGAN's beta2 0.9 instead of 0.999",
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("progan-beta2", "generators/progan.py",
      "betas: tuple[float, float] = (0.0, 0.99)", "betas: tuple[float, float] = (0.0, 0.999)",
      "ProGAN's Adam at beta2 0.999 instead of 0.99",
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("stylegan2-r1-every-eight", "generators/stylegan2.py",
      "r1_interval: int = 16", "r1_interval: int = 8",
      "StyleGAN2's lazy R1 every 8 minibatches instead of 16",
      node_ids(FAMILY_B, "test_stylegan2_r1_is_applied_lazily"), STYLEGAN2_D,
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("stylegan2-d-betas-not-lazy", "generators/stylegan2.py",
      "betas=(c.betas[0] ** lazy, c.betas[1] ** lazy)", "betas=c.betas",
      "StyleGAN2's D Adam betas not raised to the lazy-regularization power 16/17",
      node_ids(FAMILY_B, "test_stylegan2_r1_is_applied_lazily"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("stylegan2-lr-tenfold-lower", "generators/stylegan2.py",
      "lr: float = 2e-3", "lr: float = 2e-4",
      "StyleGAN2 trained at 2e-4 instead of the paper's 2e-3",
      node_ids(STYLEGAN3, "test_config_t_trains_like_stylegan2_without_mixing_noise_or_deep_mapping"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("stylegan3-g-at-d-rate", "generators/stylegan3.py",
      "set_learning_rate(self.config.g_lr, self.opt_g)", "set_learning_rate(self.config.lr, self.opt_g)",
      "StyleGAN3's generator at D's 2e-3 instead of config T's 2.5e-3",
      node_ids(STYLEGAN3, "test_config_t_trains_like_stylegan2_without_mixing_noise_or_deep_mapping"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("infogan-g-at-d-rate", "generators/infogan.py",
      "self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=c.betas)",
      "self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_d, betas=c.betas)",
      "InfoGAN's generator at D's 2e-4 instead of 1e-3",
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("srgan-beta1-dcgans", "generators/srgan.py",
      "betas: tuple[float, float] = (0.9, 0.999)", "betas: tuple[float, float] = (0.5, 0.999)",
      "SRGAN's Adam at beta1 0.5 instead of the paper's 0.9",
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("stargan-one-critic-step", "generators/stargan.py",
      "n_critic: int = 5", "n_critic: int = 1",
      "StarGAN with one D update per G update instead of 5",
      node_ids(TRANSLATION, "test_stargan_generator_depends_on_the_target_domain_and_d_has_two_heads"),
      node_ids("tests/test_paper_settings.py", "test_optimizers_use_the_papers_algorithm_learning_rates_and_betas")),
    m("ddpm-gradient-not-clipped", "generators/ddpm.py",
      "        torch.nn.utils.clip_grad_norm_(self.G.parameters(), self.config.grad_clip)\n", "",
      "DDPM's update without clipping the gradient norm",
      node_ids("tests/test_paper_settings.py", "test_ddpm_clips_the_gradient_to_its_norm_limit_before_each_update")),
    m("cyclegan-lr-never-decays", "generators/cyclegan.py",
      "return lr * min(1.0, 2.0 * (1.0 - progress))", "return lr",
      "CycleGAN's learning rate constant to the end instead of decaying linearly over the second half",
      node_ids("tests/test_paper_settings.py",
               "test_cyclegan_keeps_its_rate_for_half_the_budget_then_decays_it_linearly_to_zero")),
    m("cyclegan-lr-decays-from-the-start", "generators/cyclegan.py",
      "return lr * min(1.0, 2.0 * (1.0 - progress))", "return lr * (1.0 - progress)",
      "CycleGAN's learning rate decays over the whole budget instead of its second half",
      node_ids("tests/test_paper_settings.py",
               "test_cyclegan_keeps_its_rate_for_half_the_budget_then_decays_it_linearly_to_zero")),
    m("cyclegan-d-rate-not-decayed", "generators/cyclegan.py",
      "set_learning_rate(decayed_lr(self.config.lr, batch.progress), self.opt_g, self.opt_d)",
      "set_learning_rate(decayed_lr(self.config.lr, batch.progress), self.opt_g)",
      "CycleGAN's learning-rate decay applied to the generators only",
      node_ids("tests/test_paper_settings.py",
               "test_cyclegan_keeps_its_rate_for_half_the_budget_then_decays_it_linearly_to_zero")),
    m("label-smoothing-target-08", "generators/tricks.py",
      '"label-smoothing": {"label_smoothing": 0.1}', '"label-smoothing": {"label_smoothing": 0.2}',
      "one-sided label smoothing to 0.8 instead of Salimans et al.'s 0.9",
      node_ids("tests/test_tricks.py", "test_names_switch_tricks_on")),
    m("instance-noise-not-annealed", "generators/tricks.py",
      "return t.instance_noise * max(0.0, 1.0 - step / max(t.instance_noise_steps, 1))",
      "return t.instance_noise",
      "instance noise kept at full strength instead of annealed to 0",
      node_ids("tests/test_tricks.py", "test_instance_noise_anneals_to_zero")),
    m("trainer-critic-steps-share-a-batch", "generators/trainer.py",
      "                if i:\n                    batch = batches.next(model.spec.kind, step, progress)\n", "",
      "the n_critic critic updates of a step all see the same real batch instead of a fresh one each",
      node_ids("tests/test_paper_settings.py", "test_each_critic_update_draws_a_fresh_batch_of_real_data")),
    m("trainer-progress-after-the-step", "generators/trainer.py",
      "progress = step / config.steps", "progress = (step + 1) / config.steps",
      "a step's progress counts the step itself as done (schedules run one step ahead, the first not at 0)",
      node_ids("tests/test_paper_settings.py",
               "test_trainer_steps_count_from_zero_and_progress_is_the_share_of_the_budget_done_before")),
    m("trainer-ema-not-updated", "generators/trainer.py",
      "        model.update_ema()\n        step += 1", "        step += 1",
      "the trainer never updates the generator EMA, so samples come from the initial weights",
      node_ids("tests/test_paper_settings.py",
               "test_trainer_steps_count_from_zero_and_progress_is_the_share_of_the_budget_done_before")),
    m("divergence-recorded-at-the-read", "generators/trainer.py",
      "diverged_at=diverged.step,", "diverged_at=step,",
      "a divergence recorded at the step whose read found it instead of its first non-finite step",
      node_ids("tests/test_trainer_sync.py", "test_divergence_is_caught_at_the_next_read_and_recorded_at_its_step")),
    m("losses-finite-when-any-is", "generators/step_losses.py",
      "return all(math.isfinite(v) for v in self.values_read().values())",
      "return any(math.isfinite(v) for v in self.values_read().values())",
      "a step counts as finite while one of its losses is, so a NaN generator loss is not a divergence",
      node_ids("tests/test_trainer_sync.py", "test_divergence_is_caught_at_the_next_read_and_recorded_at_its_step")),
    m("optimize-gradients-accumulate", "generators/base.py",
      "        optimizer.zero_grad(set_to_none=True)\n        loss.backward()\n        optimizer.step()",
      "        loss.backward()\n        optimizer.step()",
      "an update keeps the gradients of earlier updates (no zero_grad)",
      node_ids("tests/test_paper_settings.py", "test_an_update_sees_only_the_gradient_of_its_own_loss")),
    m("ema-buffers-not-copied", "generators/base.py",
      "ema_b.copy_(b)", "ema_b.mul_(1)",
      "the EMA generator keeps its initial BatchNorm statistics instead of the generator's",
      node_ids(COMPONENTS, "test_ema_update_moves_the_average_a_share_one_minus_decay_towards_the_weights")),
    m("infogan-q-head-not-trained", "generators/infogan.py",
      "[*self.D.parameters(), *self.Q.parameters()]", "[*self.D.parameters()]",
      "InfoGAN's Q head left out of D's optimizer, so the mutual-information estimate never learns",
      node_ids("tests/test_paper_settings.py", "test_every_network_parameter_is_updated_by_exactly_one_optimizer")),
    m("srgan-lr-never-lowered", "generators/srgan.py",
      "return lr * LATE_LR_FACTOR if progress >= late else lr", "return lr",
      "SRGAN's second 10^5 iterations at 1e-4 instead of 1e-5",
      node_ids("tests/test_paper_settings.py",
               "test_srgan_runs_the_second_half_of_its_adversarial_stage_at_a_tenth_of_the_rate")),
    # ------------------------------------------------------------------ image-to-image, outside data, raters, spectra
    m("stargan-resampling-three-by-three", "generators/stargan.py",
      'pad="zeros", resample_kernel=4)', 'pad="zeros", resample_kernel=3)',
      "StarGAN's generator halves and doubles with CycleGAN's 3x3 convolutions instead of its Table 4's 4x4",
      node_ids("tests/test_translation_definitions.py", "test_resampling_convolutions_have_the_papers_kernels")),
    m("unet-skip-zeroed", "generators/translation_blocks.py",
      "x = block(torch.cat([x, skips.pop()], 1))", "x = block(torch.cat([x, torch.zeros_like(skips.pop())], 1))",
      "pix2pix's U-Net decoder receives zeros instead of the mirrored encoder activations",
      node_ids(TRANSLATION, "test_pix2pix_unet_skips_connect_encoder_to_decoder")),
    m("unet-dropout-on-four-levels", "generators/translation_blocks.py",
      "if levels - 1 - i < 3:", "if levels - 1 - i <= 3:",
      "pix2pix's decoder drops units on its four innermost levels instead of three",
      node_ids("tests/test_translation_definitions.py",
               "test_unet_dropout_is_on_the_three_innermost_decoder_levels_only")),
    m("unet-batchnorm-on-first-encoder-layer", "generators/translation_blocks.py",
      "if 0 < i < levels - 1:", "if i < levels - 1:",
      "pix2pix's encoder normalises its first C64 layer with BatchNorm",
      node_ids("tests/test_translation_definitions.py", "test_unet_first_encoder_layer_has_no_batchnorm")),
    m("unet-encoder-relu-not-leaky", "generators/translation_blocks.py",
      "layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]",
      "layers: list[nn.Module] = [] if i == 0 else [nn.ReLU()]",
      "pix2pix's encoder uses plain ReLUs instead of leaky ones of slope 0.2",
      node_ids("tests/test_translation_definitions.py",
               "test_unet_encoder_is_leaky_with_slope_point_two_and_decoder_is_plain_relu")),
    m("patchgan-every-layer-strided", "generators/translation_blocks.py",
      "stride = 2 if i < n_layers else 1", "stride = 2",
      "the PatchGAN's C512 layer strided too: 94x94 patches instead of 70x70",
      node_ids("tests/test_translation_definitions.py", "test_pix2pix_patchgan_sees_70_by_70_patches")),
    m("patchgan-last-kernel-three", "generators/translation_blocks.py",
      "layers.append(nn.Conv2d(ch, 1, 4, 1, 1))", "layers.append(nn.Conv2d(ch, 1, 3, 1, 1))",
      "the PatchGAN's output convolution 3x3 instead of 4x4: 62x62 patches instead of 70x70",
      node_ids("tests/test_translation_definitions.py", "test_pix2pix_patchgan_sees_70_by_70_patches")),
    m("patchgan-two-layers-from-64-px", "generators/translation_blocks.py",
      "return max(1, min(3, _log2(resolution, 16) - 3))", "return max(1, min(2, _log2(resolution, 16) - 3))",
      "the PatchGAN keeps two strided layers from 64 px: the 34x34 PatchGAN instead of the paper's 70x70",
      node_ids("tests/test_translation_definitions.py", "test_pix2pix_patchgan_sees_70_by_70_patches")),
    m("pix2pix-d-sees-the-output-only", "generators/pix2pix.py",
      "return self.D(torch.cat([source, output], 1))", "return self.D(torch.cat([output, output], 1))",
      "pix2pix's discriminator is not conditioned on the input image",
      node_ids(TRANSLATION, "test_pix2pix_patchgan_judges_the_input_output_pair")),
    m("resnet-block-skip-dropped", "generators/translation_blocks.py",
      "                                  norm(channels))\n\n"
      "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n        return x + self.body(x)",
      "                                  norm(channels))\n\n"
      "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n        return self.body(x)",
      "CycleGAN's and StarGAN's residual blocks without their identity skip",
      node_ids("tests/test_translation_definitions.py", "test_residual_block_with_a_silent_branch_is_the_identity")),
    m("resnet-block-batchnorm", "generators/translation_blocks.py",
      "def __init__(self, channels: int, norm: Norm = instance_norm, pad: str = \"reflect\") -> None:",
      "def __init__(self, channels: int, norm: Norm = batch_norm, pad: str = \"reflect\") -> None:",
      "CycleGAN's residual blocks normalised over the batch instead of per image",
      node_ids("tests/test_translation_definitions.py",
               "test_cyclegan_generator_normalises_each_image_on_its_own")),
    m("resnet-generator-zero-padding", "generators/translation_blocks.py",
      'n_down: int = 2, pad: str = "reflect", resample_kernel: int = 3)',
      'n_down: int = 2, pad: str = "zeros", resample_kernel: int = 3)',
      "CycleGAN's generator pads with zeros instead of reflecting the image",
      node_ids("tests/test_translation_definitions.py", "test_cyclegan_generator_pads_by_reflection")),
    m("cyclegan-six-blocks-at-256", "generators/cyclegan.py",
      "return 9 if resolution >= 256 else 6", "return 9 if resolution > 256 else 6",
      "CycleGAN's generator has 6 residual blocks at 256 px instead of 9",
      node_ids("tests/test_translation_definitions.py",
               "test_cyclegan_uses_nine_residual_blocks_at_256_px_and_six_at_128")),
    m("cyclegan-not-least-squares", "generators/cyclegan.py",
      'LOSS = "lsgan"', 'LOSS = "nonsaturating"',
      "CycleGAN trained with the cross-entropy GAN loss instead of least squares", CYCLEGAN_D),
    m("srresnet-long-skip-dropped", "generators/translation_blocks.py",
      "return self.tail(self.upsample(h + self.body(h)))", "return self.tail(self.upsample(self.body(h)))",
      "SRResNet without the long skip around its residual trunk",
      node_ids("tests/test_translation_definitions.py",
               "test_srresnet_long_skip_carries_the_first_features_past_the_trunk")),
    m("sr-residual-block-skip-dropped", "generators/translation_blocks.py",
      "nn.BatchNorm2d(channels))\n\n"
      "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n        return x + self.body(x)",
      "nn.BatchNorm2d(channels))\n\n"
      "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n        return self.body(x)",
      "SRResNet's residual blocks without their identity skip",
      node_ids("tests/test_translation_definitions.py", "test_residual_block_with_a_silent_branch_is_the_identity")),
    m("sr-residual-block-relu", "generators/translation_blocks.py",
      "nn.BatchNorm2d(channels), nn.PReLU(channels),", "nn.BatchNorm2d(channels), nn.ReLU(),",
      "SRResNet's residual blocks activated by ReLU instead of PReLU",
      node_ids("tests/test_translation_definitions.py",
               "test_srresnet_activations_are_prelus_with_a_slope_per_channel")),
    m("sr-upsampling-by-interpolation", "generators/translation_blocks.py",
      "super().__init__(nn.Conv2d(channels, channels * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(channels))",
      "super().__init__(nn.Upsample(scale_factor=2), nn.Conv2d(channels, channels, 3, 1, 1), nn.PReLU(channels))",
      "SRResNet up-samples by nearest interpolation and a convolution instead of a sub-pixel convolution",
      node_ids(TRANSLATION, "test_srgan_upsamples_by_pixel_shuffle")),
    m("srgan-content-network-trainable", "generators/srgan.py",
      "network.requires_grad_(False)", "network.requires_grad_(True)",
      "SRGAN's content network not frozen: the generator's loss sends gradients into it",
      node_ids(TRANSLATION, "test_srgan_content_loss_uses_a_frozen_network_and_adversarial_weight_1e3")),
    m("srgan-d-first-conv-strided", "generators/translation_blocks.py",
      "layers.append(nn.Conv2d(cin, cout, 3, 1 + i % 2, 1, bias=i == 0))",
      "layers.append(nn.Conv2d(cin, cout, 3, 2 - i % 2, 1, bias=i == 0))",
      "SRGAN's discriminator strides its first, third, ... convolutions instead of the second, fourth, ...",
      node_ids("tests/test_translation_definitions.py",
               "test_srgan_discriminator_alternates_stride_one_and_stride_two_convolutions")),
    m("stargan-label-ignored", "generators/stargan.py",
      "onehot = F.one_hot(domains, self.num_domains).to(x.dtype)",
      "onehot = F.one_hot(torch.zeros_like(domains), self.num_domains).to(x.dtype)",
      "StarGAN's generator is given the same label maps whatever the target domain",
      node_ids(TRANSLATION, "test_stargan_generator_depends_on_the_target_domain_and_d_has_two_heads")),
    m("stargan-reflection-padding", "generators/stargan.py",
      'n_blocks, pad="zeros", resample_kernel=4)', 'n_blocks, pad="reflect", resample_kernel=4)',
      "StarGAN's generator reflects instead of zero-padding, so instance norm erases the constant label maps",
      node_ids(TRANSLATION, "test_stargan_generator_depends_on_the_target_domain_and_d_has_two_heads")),
    m("vae-uniform-prior", "generators/vae.py",
      "z = torch.randn(n, self.config.z_dim, device=self.device, generator=generator)",
      "z = torch.rand(n, self.config.z_dim, device=self.device, generator=generator)",
      "VAE samples decode latents from U(0, 1) instead of the N(0, I) prior",
      node_ids("tests/test_translation_definitions.py",
               "test_vae_samples_decode_latents_drawn_from_the_standard_normal_prior")),
    m("vae-bernoulli-mean-tanh", "generators/vae.py",
      "torch.sigmoid(output) * 2.0 - 1.0", "torch.tanh(output)",
      "the Bernoulli decoder's mean taken as tanh of the logits instead of 2 sigmoid - 1",
      node_ids("tests/test_translation_definitions.py",
               "test_bernoulli_decoder_mean_is_the_sigmoid_of_its_logits_on_minus_one_to_one")),
    m("spectrum-not-centred", "ganbench/spectra.py",
      "power = torch.fft.fftshift(torch.fft.fft2(gray).abs().pow(2), dim=(-2, -1))",
      "power = torch.fft.fft2(gray).abs().pow(2)",
      "the spectrum's rings drawn around the array centre of an unshifted FFT instead of the zero frequency",
      node_ids("tests/test_translation_definitions.py", "test_spectrum_of_a_cosine_is_the_mean_log_power_of_its_rings"),
      node_ids("tests/test_spectra.py", "test_a_cosine_peaks_at_its_frequency")),
    m("spectrum-magnitude-not-power", "ganbench/spectra.py",
      "torch.fft.fft2(gray).abs().pow(2)", "torch.fft.fft2(gray).abs()",
      "the spectrum averages log(1 + |F|) instead of log(1 + |F|^2)",
      node_ids("tests/test_translation_definitions.py", "test_spectrum_of_a_cosine_is_the_mean_log_power_of_its_rings")),
    m("spectrum-rings-summed", "ganbench/spectra.py",
      "return (sums / counts).numpy()", "return sums.numpy()",
      "the spectrum sums each ring's log power instead of averaging it",
      node_ids("tests/test_translation_definitions.py", "test_spectrum_of_a_cosine_is_the_mean_log_power_of_its_rings")),
    m("spectrum-radius-floored", "ganbench/spectra.py",
      "radius = torch.sqrt(yy.double() ** 2 + xx.double() ** 2).round().long().view(-1)",
      "radius = torch.sqrt(yy.double() ** 2 + xx.double() ** 2).floor().long().view(-1)",
      "spectrum rings bin the radius by truncation instead of rounding to the nearest integer",
      node_ids("tests/test_translation_definitions.py",
               "test_rings_of_a_four_by_four_spectrum_hold_the_hand_counted_pixels",
               "test_spectrum_of_a_cosine_is_the_mean_log_power_of_its_rings")),
    m("spectrum-luma-bt709", "ganbench/spectra.py",
      "BT601 = (0.299, 0.587, 0.114)", "BT601 = (0.2126, 0.7152, 0.0722)",
      "the spectrum's grey image weighted with BT.709 instead of BT.601 luma",
      node_ids("tests/test_translation_definitions.py", "test_spectrum_of_a_colour_image_is_taken_on_its_bt601_luma")),
    m("ring-frequencies-over-nyquist", "ganbench/spectra.py",
      "return np.arange(side // 2 + 1) / side", "return np.arange(side // 2 + 1) / (side // 2)",
      "ring frequencies as a share of the Nyquist frequency instead of cycles per pixel",
      node_ids("tests/test_spectra.py", "test_a_cosine_peaks_at_its_frequency")),
    m("cnndetection-real-and-fake-folders-swapped", "ganbench/outside_data.py",
      'REAL_FOLDER, FAKE_FOLDER = "0_real", "1_fake"', 'FAKE_FOLDER, REAL_FOLDER = "0_real", "1_fake"',
      "CNNDetection's 0_real images taken as the fakes and 1_fake as the reals",
      node_ids("tests/test_translation_definitions.py", "test_cnndetection_reals_come_from_0_real_and_fakes_from_1_fake")),
    m("cnndetection-first-class-only", "ganbench/outside_data.py",
      "else _visible_folders(folder)", "else _visible_folders(folder)[:1]",
      "a generator's class folders (ProGAN's LSUN classes) reduced to the first one",
      node_ids("tests/test_translation_definitions.py", "test_cnndetection_class_folders_of_one_generator_are_pooled")),
    m("centre-crop-from-the-corner", "ganbench/outside_data.py",
      "top, left = (h - self.size) // 2, (w - self.size) // 2", "top, left = 0, 0",
      "the centre crop of outside images takes the top-left window",
      node_ids("tests/test_translation_definitions.py", "test_centre_crop_takes_the_middle_window")),
    m("grey-files-read-as-rgb", "ganbench/image_sets.py",
      'array = np.array(img.convert("L" if mode in GREY_MODES else "RGB"))',
      'array = np.array(img.convert("RGB"))',
      "grey image files read as three identical channels",
      node_ids("tests/test_translation_definitions.py",
               "test_grey_files_are_read_as_one_channel_and_colour_files_as_three")),
    m("fooled-rate-counts-caught-fakes", "ganbench/human_eval/scoring.py",
      'fooled = sum(v["vote"] == REAL for v in fake)', 'fooled = sum(v["vote"] == FAKE for v in fake)',
      "the fooled rate counts the fakes voted fake instead of those voted real",
      node_ids("tests/test_human_eval.py", "test_vote_metrics_on_a_known_vote_set")),
    m("wilson-centre-not-shifted", "ganbench/human_eval/scoring.py",
      "centre = (p + z * z / (2 * trials)) / shrink", "centre = p / shrink",
      "the Wilson interval centred at p / (1 + z^2/n) without the z^2 / 2n shift",
      node_ids("tests/test_human_eval.py", "test_wilson_interval_matches_scipy", "test_wilson_interval_known_values")),
    m("generator-rows-without-real-votes", "ganbench/human_eval/scoring.py",
      "record.metrics = vote_metrics(real + fake)", "record.metrics = vote_metrics(fake)",
      "a rater's per-generator row scored on that generator's fakes alone, without the rater's real votes",
      node_ids("tests/test_human_eval.py", "test_human_records_shape_and_numbers")),
    # ------------------------------------------------------------------ unit keys and records
    m("preset-keyed-by-name", "ganbench/units.py",
      '"preset": preset, "seed": self.seed,', '"preset": self.preset.name, "seed": self.seed,',
      "units keyed by the preset's name, so `--set preset.steps=...` reuses the plain preset's results",
      node_ids("tests/test_key_definitions.py", "test_a_changed_preset_budget_gives_every_unit_a_new_key")),
    m("checkpoint-interval-in-keys", "ganbench/units.py",
      "if k not in NO_RESULT_FIELDS}", "}",
      "the checkpoint interval and detection plan, which change no result, enter every key (needless recomputes)",
      node_ids("tests/test_key_definitions.py", "test_the_checkpoint_interval_and_detection_plan_leave_keys_alone")),
    m("seed-not-in-keys", "ganbench/units.py",
      '"preset": preset, "seed": self.seed,', '"preset": preset,',
      "a run with another seed reuses every unit of the first seed",
      node_ids("tests/test_key_definitions.py", "test_another_seed_gives_every_unit_a_new_key")),
    m("data-fingerprint-not-in-keys", "ganbench/units.py",
      '"data": self.data_fingerprint, ', "",
      "a data set whose content changed under the same name reuses the old results",
      node_ids("tests/test_key_definitions.py", "test_other_data_content_gives_every_unit_a_new_key")),
    m("device-not-in-keys", "ganbench/units.py",
      '"device": self.device, "threads": self.threads}', '"threads": self.threads}',
      "a GPU run reuses the units a CPU run computed (other kernels, other random streams)",
      node_ids(CLI, "test_the_device_kind_and_the_thread_count_are_in_every_key")),
    m("overrides-not-in-training-key", "ganbench/units.py",
      "**scope.overrides.for_generator(generator)))", "))",
      "a generator trained with `--set dcgan.lr=...` reuses the default-hyper-parameter training",
      node_ids("tests/test_overrides.py", "test_a_generator_override_changes_only_its_own_training_key")),
    m("sample-key-ignores-training", "ganbench/units.py",
      '"generator": generator, "train": train_key, "counts"', '"generator": generator, "counts"',
      "a retrained generator's fakes are read back from the previous training's sample unit",
      node_ids("tests/test_key_definitions.py", "test_the_sample_key_follows_the_trained_generator")),
    m("fresh-set-sized-as-detector-train", "ganbench/units.py",
      '"fresh": preset.n_detector_test}', '"fresh": preset.n_detector_train}',
      "the fresh fakes detectors are tested on are as many as their training fakes, not the preset's test count",
      node_ids("tests/test_key_definitions.py", "test_fake_counts_are_the_presets_counts_per_set")),
    m("generation-key-ignores-fakes", "ganbench/units.py",
      '"fakes": sample_key, ', "",
      "quality metrics of resampled fakes are read back from the old fakes' scores",
      node_ids("tests/test_key_definitions.py",
               "test_the_generation_key_follows_the_fakes_the_extractor_and_its_weights")),
    m("generation-key-ignores-extractor", "ganbench/units.py",
      '"extractor": "none" if points else extractor}', '"extractor": "none"}',
      "scores with another feature extractor reuse those of the first extractor",
      node_ids("tests/test_key_definitions.py",
               "test_the_generation_key_follows_the_fakes_the_extractor_and_its_weights")),
    m("metric-settings-not-in-key", "ganbench/units.py",
      'config["metric_settings"] = QualityConfig().settings()', "pass",
      "changed KID subsets, IS splits or PRDC k reuse scores computed with the old settings",
      node_ids("tests/test_key_definitions.py", "test_every_metric_setting_enters_the_generation_key"),
      node_ids(CLI, "test_a_changed_metric_setting_rescores_instead_of_reusing")),
    m("extractor-weights-not-in-key", "ganbench/units.py",
      "if extractor_weights and not points:", "if False:",
      "scores with other pretrained extractor weights reuse those of the first weights",
      node_ids("tests/test_key_definitions.py",
               "test_the_generation_key_follows_the_fakes_the_extractor_and_its_weights")),
    m("detection-key-names-the-test-generator", "ganbench/units.py",
      '"test": test_key,', '"test": test,',
      "a detection keyed by the test generator's name reuses its scores on that generator's old fakes",
      node_ids("tests/test_key_definitions.py",
               "test_the_detection_key_follows_the_test_fakes_the_perturbation_and_every_training_set")),
    m("perturbation-not-in-detection-key", "ganbench/units.py",
      '"test": test_key,\n              "perturbation": perturbation}', '"test": test_key}',
      "detection units under different perturbations share a key",
      node_ids("tests/test_key_definitions.py",
               "test_the_detection_key_follows_the_test_fakes_the_perturbation_and_every_training_set")),
    m("train-on-all-keyed-by-first-generator", "ganbench/units.py",
      '"train": train_keys[0] if len(train_keys) == 1 else train_keys', '"train": train_keys[0]',
      "a detector fitted on several generators is keyed by the first one's fakes only",
      node_ids("tests/test_key_definitions.py",
               "test_the_detection_key_follows_the_test_fakes_the_perturbation_and_every_training_set")),
    m("detection-keyed-by-detector-name", "ganbench/units.py",
      'config = {**detector, "train"', 'config = {"detector": detector["detector"], "train"',
      "a detector with other arguments, weights or code reuses the detection units of the old one",
      node_ids("tests/test_key_definitions.py",
               "test_detection_and_null_check_keys_follow_the_whole_detector_identity")),
    m("null-check-keyed-by-detector-name", "ganbench/units.py",
      '{**detector, "null": "real-vs-real"}', '{"detector": detector["detector"], "null": "real-vs-real"}',
      "a detector with other arguments, weights or code reuses the null check of the old one",
      node_ids("tests/test_key_definitions.py",
               "test_detection_and_null_check_keys_follow_the_whole_detector_identity")),
    m("record-threads-of-the-process", "ganbench/units.py",
      'record.info["threads"] = self.scope.threads', 'record.info["threads"] = torch.get_num_threads()',
      "a record states the process's current thread count instead of the one its run was keyed with",
      node_ids("tests/test_key_definitions.py", "test_a_record_says_the_thread_count_of_its_run")),
    m("detector-arguments-not-in-identity", "detectors/identity.py",
      '"arguments": {k: str(v) for k, v in spec.arguments}', '"arguments": {}',
      "a detector fitted with other `--detector-arg` values shares its identity with the default one",
      node_ids("tests/test_key_definitions.py", "test_a_detectors_identity_says_its_arguments")),
    m("detector-weights-not-in-identity", "detectors/identity.py",
      '"weights": weights_identity(spec)}', '"weights": {}}',
      "a detector whose checkpoint was swapped keeps its identity",
      node_ids("tests/test_key_definitions.py", "test_rewritten_weights_under_the_same_path_change_the_identity")),
    m("detector-weights-keyed-by-path", "detectors/identity.py",
      "{path.name: file_digest(path) for path", "{path.name: str(path) for path",
      "a detector's weights identified by their path, so a checkpoint rewritten in place reuses old results",
      node_ids("tests/test_key_definitions.py", "test_rewritten_weights_under_the_same_path_change_the_identity")),
    m("detector-code-keyed-by-module-name", "detectors/identity.py",
      '"code": code_identity(spec.cls)', '"code": {"module": spec.cls.__module__}',
      "an edited detector keeps its identity (module name only, no source digest)",
      node_ids("tests/test_key_definitions.py", "test_editing_a_detectors_module_changes_its_identity")),
    m("default-weights-file-ignored", "detectors/identity.py",
      "return {**defaults, **dict(spec.arguments)}", "return dict(spec.arguments)",
      "a weights file named by a constructor default is not identified",
      node_ids("tests/test_key_definitions.py",
               "test_a_weights_file_named_by_a_default_or_by_the_user_is_the_one_identified")),
    m("defaults-hide-user-arguments", "detectors/identity.py",
      "return {**defaults, **dict(spec.arguments)}", "return {**dict(spec.arguments), **defaults}",
      "the default checkpoint is identified where the user chose another",
      node_ids("tests/test_key_definitions.py",
               "test_a_weights_file_named_by_a_default_or_by_the_user_is_the_one_identified")),
    m("declared-weights-files-ignored", "detectors/identity.py",
      "files = [Path(p) for p in declared(arguments)] if callable(declared) else []", "files = []",
      "weights files a detector declares with `weights_files` are not identified",
      node_ids("tests/test_key_definitions.py", "test_weights_files_a_detector_declares_are_identified")),
    m("evaluation-code-not-in-detector-key", "ganbench/detection.py",
      '{**detector_identity(spec), "evaluation_code": modules_digest(EVALUATION_MODULES)}',
      "{**detector_identity(spec)}",
      "edited evaluation code (thresholds, metrics, perturbations) reuses old detection results",
      node_ids(SOURCE_DIGEST, "test_detection_keys_carry_the_evaluation_codes_digest")),
    m("outside-fakes-keyed-by-name", "ganbench/detection.py",
      "ExternalFakesRecord.KIND, fakes.fingerprint,", "ExternalFakesRecord.KIND, name,",
      "other images under the same `--fakes` name reuse the detections of the old ones",
      node_ids("tests/test_key_definitions.py", "test_outside_fakes_are_keyed_by_their_content")),
    m("outside-fingerprint-ignores-pixels", "detectors/external.py",
      "        digest.update(self.images.contiguous().numpy().tobytes())\n", "",
      "outside fakes fingerprinted by their shape only",
      node_ids("tests/test_key_definitions.py", "test_outside_fakes_are_keyed_by_their_content")),
    m("data-fingerprint-ignores-labels", "ganbench/data.py",
      "content_fingerprint(self.x_train, self.y_train, self.x_test, self.y_test)",
      "content_fingerprint(self.x_train, self.x_test)",
      "relabelled data keep their fingerprint, so conditional runs reuse results of the old labels",
      node_ids("tests/test_key_definitions.py", "test_the_data_fingerprint_follows_the_labels")),
    m("records-found-by-label-only", "ganbench/store.py",
      'return self.root / "records" / f"{kind}-{_safe(label)}-{key}.json"',
      'return self.root / "records" / f"{kind}-{_safe(label)}.json"',
      "a unit whose key changed finds and reuses the record of its old key",
      node_ids("tests/test_key_definitions.py", "test_a_changed_key_recomputes_and_the_same_key_reuses")),
    m("file-digest-memo-by-path-and-size", "ganbench/store.py",
      "memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)",
      "memo = (str(path.resolve()), stat.st_size)",
      "a file swapped for another of the same size under the same path keeps its old digest",
      node_ids("tests/test_key_definitions.py", "test_a_file_replaced_by_one_of_the_same_size_gets_a_new_digest")),
    m("file-digest-kept-while-young", "ganbench/store.py",
      "if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > RACY_WINDOW_NS:", "if True:",
      "a file rewritten with the same size within one timestamp tick keeps the digest of its old bytes",
      node_ids("tests/test_key_definitions.py", "test_a_file_rewritten_within_its_timestamps_resolution_is_read_again")),
    # ------------------------------------------------------------------ bootstrap intervals of ganbench metrics
    m("fid-resample-mean-unweighted", "ganbench/score_intervals.py",
      "mean = (w @ self.x[rows]) / n", "mean = self.x[rows].mean(0)",
      "a resample's mean counts each drawn row once, however often it was drawn",
      node_ids(INTERVALS, "test_a_resample_scores_the_rows_it_repeats")),
    m("fid-resample-trace-unweighted", "ganbench/score_intervals.py",
      "trace = (w @ centred.pow(2).sum(1)) / (n - 1)", "trace = centred.pow(2).sum() / (n - 1)",
      "a resample's covariance trace counts each drawn row once",
      node_ids(INTERVALS, "test_a_resample_scores_the_rows_it_repeats")),
    m("fid-resample-middle-unweighted", "ganbench/score_intervals.py",
      "middle = (projected * w[:, None]).T @ projected / (n - 1)", "middle = projected.T @ projected / (n - 1)",
      "a resample's trace-sqrt term counts each drawn row once",
      node_ids(INTERVALS, "test_a_resample_scores_the_rows_it_repeats")),
    m("fid-resample-middle-not-centred", "ganbench/score_intervals.py",
      "projected = self.projected[rows] - mean @ self.factor", "projected = self.projected[rows]",
      "a resample's trace-sqrt term from uncentred features (second moment, not covariance)",
      node_ids(INTERVALS, "test_a_resample_scores_the_rows_it_repeats")),
    m("fid-resample-factor-transposed", "ganbench/score_intervals.py",
      "self.projected = self.x @ self.factor", "self.projected = self.x @ self.factor.T",
      "features projected on the transposed factor of the reference covariance",
      node_ids(INTERVALS, "test_a_resample_scores_the_rows_it_repeats")),
    m("fid-standard-error-of-the-mean", "ganbench/score_intervals.py",
      "return float(np.std(values, ddof=1))", "return float(np.std(values, ddof=1) / np.sqrt(resamples))",
      "the resamples' standard error of their own mean instead of their spread",
      node_ids(INTERVALS, "test_fid_standard_error_matches_the_spread_over_fresh_draws")),
    m("fid-resamples-without-replacement", "ganbench/score_intervals.py",
      "counts = torch.from_numpy(rng.multinomial(n, np.full(n, 1.0 / n)))",
      "counts = torch.ones(n, dtype=torch.int64)",
      "every resample is the whole set once, so the standard error is 0",
      node_ids(INTERVALS, "test_fid_standard_error_matches_the_spread_over_fresh_draws")),
    m("interval-one-sided-quantile", "ganbench/score_intervals.py",
      "return NormalDist().inv_cdf(0.5 + self.level / 2)", "return NormalDist().inv_cdf(self.level)",
      "a two-sided interval at the one-sided quantile (1.645 for 95%)",
      node_ids(INTERVALS, "test_normal_interval_is_symmetric_at_the_two_sided_quantile_and_cut_at_zero")),
    m("interval-not-cut-at-zero", "ganbench/score_intervals.py",
      "return max(floor, value - z * standard_error), value + z * standard_error",
      "return value - z * standard_error, value + z * standard_error",
      "FID's interval reaching below 0, which no FID can",
      node_ids(INTERVALS, "test_normal_interval_is_symmetric_at_the_two_sided_quantile_and_cut_at_zero")),
    m("percentile-tails-not-halved", "ganbench/score_intervals.py",
      "tail = (1 - level) / 2", "tail = 1 - level",
      "a 90% percentile interval called 95%",
      node_ids(INTERVALS, "test_percentile_interval_of_a_proportion_has_the_binomial_width")),
    m("percentile-resample-size-halved", "ganbench/score_intervals.py",
      "draws = rng.integers(0, n, size=(min(at_once, resamples - start), n))",
      "draws = rng.integers(0, n, size=(min(at_once, resamples - start), n // 2))",
      "resamples of half the samples, so the interval is too wide by sqrt(2)",
      node_ids(INTERVALS, "test_percentile_interval_of_a_proportion_has_the_binomial_width")),
    m("fake-hits-count-one-ball-per-block", "ganbench/prdc.py",
      "fake_hits[cols] += inside.sum(0)", "fake_hits[cols] += inside.any(0)",
      "a fake inside several real balls of one block counted once: density undercounted",
      PRDC),
    m("fake-hits-band-pairs-not-counted", "ganbench/prdc.py",
      "fake_hits.index_add_(0, band_cols[within], torch.ones_like(band_cols[within]))",
      "fake_hits[band_cols[within]] = fake_hits[band_cols[within]].clamp(min=1)",
      "pairs the exact distances put inside a real ball count for precision but not for density",
      node_ids(PRDC_TESTS, "test_decisions_are_float64_whatever_the_screen_gets_wrong")),
    m("per-fake-density-not-over-k", "ganbench/prdc.py",
      '"density": hits / self.k}', '"density": hits.astype(np.float64)}',
      "each fake's density share counts balls without dividing by k",
      node_ids(INTERVALS, "test_each_sample_share_averages_to_its_score_and_density_counts_balls")),
    m("per-real-recall-is-coverage", "ganbench/prdc.py",
      '{"recall": self.recalled.cpu().numpy().astype(np.float64),',
      '{"recall": self.covered.cpu().numpy().astype(np.float64),',
      "recall's interval resamples the coverage indicators",
      node_ids(INTERVALS, "test_each_sample_share_averages_to_its_score_and_density_counts_balls")),
    m("prdc-intervals-over-the-wrong-samples", "ganbench/score_intervals.py",
      "for name, values in {**hits.per_fake, **hits.per_real}.items():",
      "for name, values in {**hits.per_fake, **{k: hits.per_fake['precision'] for k in hits.per_real}}.items():",
      "recall and coverage resampled over the fakes instead of the reals they average over",
      node_ids(INTERVALS, "test_prdc_measures_are_resampled_over_the_samples_they_average")),
    m("fid-interval-of-the-reference", "ganbench/folder_metrics.py",
      "metrics.update(fid_interval(metrics[\"fid\"], scorer.extract(inputs[0]).features, second.mu, second.sigma,",
      "metrics.update(fid_interval(metrics[\"fid\"], scorer.extract(inputs[1]).features, first.mu, first.sigma,",
      "FID's standard error from resamples of the reference instead of the scored samples",
      node_ids(INTERVALS, "test_metrics_command_gives_intervals_over_the_scored_input")),
    m("run-fid-interval-of-the-reals", "ganbench/quality.py",
      "metrics.update(fid_interval(metrics[\"fid\"], fake_x.features, mu_real, sigma_real, config.intervals,",
      "metrics.update(fid_interval(metrics[\"fid\"], real_x.features, mu_fake, sigma_fake, config.intervals,",
      "a run's FID interval from resamples of the real test images instead of its fakes",
      node_ids(INTERVALS, "test_a_run_records_intervals_over_its_fakes")),
    m("bootstrap-settings-out-of-the-key", "ganbench/quality.py",
      'return {k: v for k, v in asdict(self).items() if k != "seed"}',
      'return {k: v for k, v in asdict(self).items() if k not in ("seed", "intervals")}',
      "records scored without intervals (or with other resamples) reused after the settings change",
      node_ids("tests/test_key_definitions.py", "test_the_bootstrap_settings_enter_the_generation_key")),
    m("sampling-interval-ranks-generators", "leaderboards/tables.py",
      "table = _bootstrap_bounds(over_seeds(_per_seed(gen, by, columns), by, columns), SAMPLING_BOUNDS)",
      "table = _bootstrap_bounds(over_seeds(_per_seed(gen, by, columns), by, columns))",
      "one-seed generators ranked by a z-test on the interval over their fakes, which leaves out training's variation",
      node_ids(LEADERBOARDS, "test_one_seed_generators_show_their_sampling_interval_and_rank_on_none")),
    m("interval-column-only-over-seeds", "leaderboards/formatting.py",
      "if not ranking.with_interval and interval_kinds(board.data, [ranking.name]):",
      "if not ranking.with_interval and any(n >= 2 for n in seed_counts(board.data, ranking.name)):",
      "one-seed generator tables drop the FID interval their records carry",
      node_ids(LEADERBOARDS, "test_one_seed_generators_show_their_sampling_interval_and_rank_on_none")),
    m("sampling-interval-before-seeds", "leaderboards/uncertainty.py",
      "(LOW, HIGH, SEEDS), (BOOT_LOW, BOOT_HIGH, BOOTSTRAP), (SAMPLE_LOW, SAMPLE_HIGH, SAMPLING)):",
      "(SAMPLE_LOW, SAMPLE_HIGH, SAMPLING), (LOW, HIGH, SEEDS), (BOOT_LOW, BOOT_HIGH, BOOTSTRAP)):",
      "rows over several seeds show the mean of their sampling intervals instead of the t-interval over seeds",
      node_ids(LEADERBOARDS, "test_generators_with_seeds_show_the_interval_over_seeds")),
    # ------------------------------------------------------------------ a seed batch's step recorded and replayed
    m("replay-inputs-not-refilled", "generators/step_replay.py",
      "buffer.copy_(value)", "buffer.copy_(buffer)",
      "a replayed step reads the inputs of the step it was recorded at, not the current step's",
      node_ids(SEED_BATCH, "test_a_replayed_step_trains_exactly_as_the_eager_step")),
    m("replay-outputs-not-rewritten", "generators/step_replay.py",
      "self.outputs[name].copy_(value)", "self.outputs[name].copy_(self.outputs[name])",
      "a replay leaves the recorded outputs as they were instead of this step's values",
      node_ids(SEED_BATCH, "test_a_replayed_step_trains_exactly_as_the_eager_step")),
    m("replay-outputs-shared", "generators/step_replay.py",
      "return {name: value.clone() for name, value in outputs.items()}", "return outputs",
      "every replayed step hands back the same tensors, which the next replay overwrites",
      node_ids(SEED_BATCH, "test_a_replayed_step_hands_back_each_steps_own_losses")),
    m("seed-batch-critic-reuses-draws", "generators/seed_batch.py",
      'logs.update(self.update("discriminator", inputs, f"batch{i}", f"d{i}", step, progress))',
      'logs.update(self.update("discriminator", inputs, f"batch{i}", "d0", step, progress))',
      "every critic update of a step takes the first update's latents and interpolation weights",
      node_ids(SEED_BATCH, "test_batched_seeds_equal_separate_runs_in_float64")),
]


class MutantError(RuntimeError):
    """A mutant whose snippet is not found exactly once, or a harness that cannot run."""


@dataclass
class Result:
    """How one mutant fared: ``killed``, ``survived``, ``timeout`` (counted as killed) or an error."""

    mutant: Mutant
    status: str
    seconds: float
    output: str = ""

    @property
    def killed(self) -> bool:
        return self.status in ("killed", "timeout")


def snippet_problems(mutants: list[Mutant], root: Path = ROOT) -> list[str]:
    """Why each mutant could not be applied to ``root`` (its snippet not found exactly once), if any."""
    problems = []
    for mutant in mutants:
        path = root / mutant.file
        count = path.read_text().count(mutant.original) if path.is_file() else -1
        if count != 1:
            where = "missing file" if count < 0 else f"snippet found {count} times"
            problems.append(f"{mutant.name}: {mutant.file}: {where}")
    return problems


def source_files(root: Path = ROOT) -> list[str]:
    """The working tree's tracked and untracked, not ignored, files that exist."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, text=True, check=True).stdout
    return [name for name in listing.split("\0") if name and (root / name).is_file()]


def snapshot(destination: Path, files: list[str]) -> None:
    """Copy ``files`` of the working tree to ``destination`` once; every mutant starts from this copy."""
    for name in files:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(ROOT / name, target)
        except FileNotFoundError:
            continue


def make_copy(tree: Path, destination: Path, mutant: Mutant | None = None) -> None:
    """Copy the snapshot ``tree`` to ``destination``, add the sitecustomize, apply ``mutant``."""
    shutil.copytree(tree, destination, symlinks=True)
    (destination / "sitecustomize.py").write_text(SITECUSTOMIZE)
    if mutant is not None:
        path = destination / mutant.file
        text = path.read_text()
        if text.count(mutant.original) != 1:
            raise MutantError(f"{mutant.name}: snippet found {text.count(mutant.original)} times in {mutant.file}")
        path.write_text(text.replace(mutant.original, mutant.replacement))


def environment(copy: Path, jobs: int) -> dict[str, str]:
    """The parent's environment with only the copy on PYTHONPATH (and threads shared between jobs)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if jobs > 1:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    return env


def check_imports(copy: Path, jobs: int) -> list[str]:
    """The modules' files as imported in ``copy``; raises when one resolves outside it."""
    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=copy, env=environment(copy, jobs),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise MutantError(f"importing ganbench in the scratch copy failed:\n{done.stderr}")
    lines = done.stdout.split("\n")
    outside = [line for line in lines if line and not Path(line.split(" ", 1)[1]).resolve().is_relative_to(copy)]
    if outside:
        raise MutantError("the scratch copy imports code from elsewhere:\n" + "\n".join(outside))
    return [line for line in lines if line]


def run_tests(copy: Path, tests: tuple[str, ...], jobs: int, timeout: float) -> tuple[int | None, str]:
    """pytest's exit status (None on timeout) and its output tail."""
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(command, cwd=copy, env=environment(copy, jobs), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, (done.stdout + done.stderr)[-3000:]


def run_mutant(mutant: Mutant, scratch: Path, jobs: int, timeout: float) -> Result:
    """Copy the snapshot, mutate, test and clean up one mutant."""
    copy = scratch / mutant.name
    started = time.perf_counter()
    try:
        make_copy(scratch / "tree", copy, mutant)
        code, output = run_tests(copy, mutant.tests, jobs, timeout)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    # pytest: 0 all passed, 1 a test failed, 2 interrupted (e.g. an import error), 4 usage, 5 nothing collected
    status = {None: "timeout", 0: "survived", 1: "killed", 2: "killed"}.get(code, f"error (pytest exit {code})")
    return Result(mutant, status, time.perf_counter() - started, output)


def markdown_table(results: list[Result]) -> str:
    """One row per mutant: name, file, status, seconds and what it breaks."""
    rows = ["| # | mutant | file | status | seconds | what it breaks |", "|---|---|---|---|---|---|"]
    for i, r in enumerate(results, 1):
        rows.append(f"| {i} | `{r.mutant.name}` | `{r.mutant.file}` | {r.status} | {r.seconds:.1f} | "
                    f"{r.mutant.description} |")
    return "\n".join(rows)


def list_mutants(mutants: list[Mutant]) -> None:
    """Print each mutant with its description and the tests that must kill it."""
    for mutant in mutants:
        print(f"{mutant.name}  ({mutant.file}): {mutant.description}")
        for test in mutant.tests:
            print(f"    {test}")
    print(f"{len(mutants)} mutants")


def select(names: list[str] | None) -> list[Mutant]:
    """The named mutants in the given order (all of them without names)."""
    if not names:
        return list(MUTANTS)
    known = {mutant.name: mutant for mutant in MUTANTS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown mutants: {', '.join(unknown)} (see --list)")
    return [known[name] for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutants")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at the same time (default 1)")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant before it counts as killed")
    args = parser.parse_args(argv)
    try:
        mutants = select(args.only)
    except ValueError as error:
        parser.error(str(error))
    if args.list:
        list_mutants(mutants)
        return 0
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="ganbench-mutants-"))
    try:
        shared = ROOT.parent / "shared"
        if shared.is_dir():
            (scratch / "shared").symlink_to(shared)
        snapshot(scratch / "tree", source_files())
        problems = snippet_problems(mutants, scratch / "tree")
        if problems:
            print("mutants that no longer apply:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 2
        baseline = scratch / "baseline"
        make_copy(scratch / "tree", baseline)
        for line in check_imports(baseline, args.jobs):
            print(f"scratch import: {line}")
        tests = tuple(dict.fromkeys(t for mutant in mutants for t in mutant.tests))
        code, output = run_tests(baseline, tests, args.jobs, args.timeout)
        if code != 0:
            print(f"the unmutated copy fails its tests (pytest exit {code}):\n{output}", file=sys.stderr)
            return 2
        shutil.rmtree(baseline)
        print(f"baseline: {len(tests)} test ids pass unmutated ({time.perf_counter() - started:.0f} s)", flush=True)

        def one(mutant: Mutant) -> Result:
            result = run_mutant(mutant, scratch, args.jobs, args.timeout)
            print(f"{result.mutant.name}: {result.status} ({result.seconds:.1f} s)", flush=True)
            if not result.killed:
                print(result.output, flush=True)
            return result

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            results = list(pool.map(one, mutants))
    except MutantError as error:
        print(error, file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.perf_counter() - started
    killed = sum(r.killed for r in results)
    print()
    print(markdown_table(results))
    print()
    print(f"{len(results)} mutants, {killed} killed, {len(results) - killed} not killed; "
          f"kill rate {100 * killed / len(results):.1f}%; wall time {wall:.0f} s with --jobs {args.jobs}")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
