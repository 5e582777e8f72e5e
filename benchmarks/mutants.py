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
      '"density": hits.density_hits / (k * len(f))', '"density": hits.density_hits / len(f)',
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
