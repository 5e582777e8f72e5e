"""Valid values of the variants' hyper-parameters, checked before any unit runs.

A field name means the same thing in every variant (``lr`` is a learning rate, ``ema_decay`` an
exponential-moving-average decay), so the rule is kept here by name, and every field of every
registered configuration must have one (``tests/test_overrides.py`` checks that). A value outside
its rule would fail inside training, or worse, train nothing (``lr=0``) and still be scored.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ganbench.errors import UserError
from ganbench.generators.ddpm import SAMPLERS, SCHEDULES
from ganbench.generators.losses import LOSS_KINDS
from ganbench.generators.vae import LIKELIHOODS

#: Greater than zero: learning rates, sizes, counts of layers, blocks, steps and intervals.
POSITIVE = frozenset({
    "lr", "lr_d", "lr_g", "d_lr", "g_lr", "adam_eps", "mapping_lr_mul", "decoder_std", "clip", "grad_clip",
    "z_dim", "w_dim", "width", "shared_dim", "categories", "maxout_pieces", "mapping_layers", "num_layers",
    "n_blocks", "num_res_blocks", "patch_size", "attention_resolution", "timesteps", "sampling_steps",
    "n_critic", "d_steps", "r1_interval", "mbstd_group", "standing_batches", "standing_batch_size",
})
#: Zero or more: loss weights and penalties, optional sizes, seeds.
NON_NEGATIVE = frozenset({
    "adversarial_weight", "cls_weight", "continuous_weight", "cycle_weight", "drift_weight", "gp_weight",
    "identity_weight", "info_weight", "l1_weight", "ortho_weight", "rec_weight", "r1_gamma",
    "continuous", "margin", "num_critical", "pool_size", "standing_seed",
})
#: Shares and probabilities, from 0 to 1.
FRACTIONS = frozenset({"eta", "growth_fraction", "pretrain_fraction", "style_mixing"})
#: From 0 up to but excluding 1: decays, Adam's betas, dropout (1 would freeze or zero everything).
BELOW_ONE = frozenset({"betas", "dropout", "ema_decay", "w_avg_decay"})
#: One of the named choices.
CHOICES: dict[str, tuple[str, ...]] = {"loss": LOSS_KINDS, "likelihood": LIKELIHOODS, "sampler": SAMPLERS,
                                       "schedule": SCHEDULES}
#: Fields with no range: switches, and settings only code can set (tuples of any length, tricks).
FREE = frozenset({"clip_denoised", "channel_mults", "attention_resolutions", "tricks"})


def value_problem(field: str, value: Any) -> str | None:
    """Why ``value`` is not valid for a field named ``field``, or None when it is."""
    if value is None or field in FREE:
        return None
    if field in CHOICES:
        return None if value in CHOICES[field] else f"must be one of {', '.join(CHOICES[field])}"
    values = value if isinstance(value, tuple) else (value,)
    if field in POSITIVE and not all(v > 0 for v in values):
        return "must be positive"
    if field in NON_NEGATIVE and not all(v >= 0 for v in values):
        return "must be zero or more"
    if field in FRACTIONS and not all(0 <= v <= 1 for v in values):
        return "must be from 0 to 1"
    if field in BELOW_ONE and not all(0 <= v < 1 for v in values):
        return "must be at least 0 and below 1"
    return None


def has_rule(field: str) -> bool:
    return any(field in group for group in (POSITIVE, NON_NEGATIVE, FRACTIONS, BELOW_ONE, CHOICES, FREE))


def check_config(name: str, config: object) -> None:
    """Refuse a configuration of variant ``name`` with a value outside its field's rule."""
    for each in fields(config):
        value = getattr(config, each.name)
        problem = value_problem(each.name, value)
        if problem:
            raise UserError(f"{name}.{each.name} {problem} (got {value!r})")
