"""Presets and suites: the budgets README's tables state, the checks on preset fields, and what each suite runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ganbench.errors import UserError
from ganbench.generators import GENERATORS
from ganbench.presets import MAX_RESOLUTION, MIN_RESOLUTION, MIN_SET_SIZE, PRESETS, default_preset, get_preset, \
    preset_field_problem
from ganbench.suites import SUITES, resolve_suite

README = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())


def test_the_presets_budgets_are_those_readme_states() -> None:
    steps = ", ".join(f"{name} {preset.steps:,}" for name, preset in PRESETS)
    assert f"Training budgets are generator steps, the same for every variant ({steps};" in README
    quick = get_preset("quick")
    assert (f"{quick.steps} generator steps for every variant, width {quick.width}, batch {quick.batch_size}; "
            f"{quick.n_eval:,} samples") in README
    assert f"{quick.steps} generator steps of batch {quick.batch_size} for every variant ({quick.training_images:,} images" \
        in README


def test_the_default_preset_follows_the_device() -> None:
    assert default_preset("cpu") == "quick" and default_preset("cuda") == "standard"
    assert re.search(r"`quick`\s*\(minutes on a 2-core CPU\), `standard` and `full` \(GPU-scale\)", README)


def test_the_cpu_presets_plan_compact_detection_and_the_gpu_presets_the_matrix() -> None:
    assert {name: preset.detection_plan for name, preset in PRESETS} == {
        "smoke": "compact", "quick": "compact", "standard": "matrix", "full": "matrix"}
    assert "`matrix` (`standard`, `full`) trains one per generator" in README
    assert "`compact` (`smoke`, `quick`) trains one on the first generator" in README


def test_every_preset_keeps_images_of_at_most_32_px() -> None:
    assert {(preset.max_resolution, preset.resolution) for _, preset in PRESETS} == {(32, None)}
    assert "at most 32 px in every preset" in README


def test_training_images_are_steps_times_the_batch() -> None:
    for _, preset in PRESETS:
        assert preset.training_images == preset.steps * preset.batch_size
    assert get_preset("smoke").with_overrides(steps=3, batch_size=5).training_images == 15


@pytest.mark.parametrize("field, value, problem", [
    ("n_eval", MIN_SET_SIZE - 1, f"at least {MIN_SET_SIZE} images"),
    ("n_detector_test", 3, f"at least {MIN_SET_SIZE} images"),
    ("n_detector_train", MIN_SET_SIZE, None),
    ("resolution", MIN_RESOLUTION - 1, "pixels"),
    ("resolution", MIN_RESOLUTION, None),
    ("max_resolution", MAX_RESOLUTION, None),
    ("max_resolution", MAX_RESOLUTION + 1, "pixels"),
    ("resolution", None, None),
    ("detection_plan", "everything", "one of matrix, compact"),
    ("steps", 0, "positive"),
    ("steps", 1, None),
])
def test_preset_fields_are_checked_against_their_ranges(field: str, value: object, problem: str | None) -> None:
    found = preset_field_problem(field, value)
    assert found is None if problem is None else problem in found


def family(name: str) -> tuple[str, str, bool]:
    cls = GENERATORS.get(name)
    return cls.family, cls.task, cls.conditional


def test_each_suite_selects_its_stated_family() -> None:
    assert resolve_suite("smoke") == (["dcgan"], ["spectrum"])
    assert resolve_suite("dcgan") == (["dcgan"], ["spectrum"])
    assert resolve_suite("dcgan,npr") == (["dcgan"], ["npr"])
    unconditional = SUITES.get("unconditional").generators()
    conditional = SUITES.get("conditional").generators()
    assert {"gan", "dcgan", "wgan-gp", "stylegan2"} <= set(unconditional)
    assert {"cgan", "acgan", "biggan"} <= set(conditional)
    assert all(family(n) == ("gan", "noise", False) for n in unconditional)
    assert all(family(n)[1:] == ("noise", True) for n in conditional)
    gans = SUITES.get("gans").generators()
    assert set(gans) == {n for n in GENERATORS.names() if family(n)[0] == "gan"} and not {"vae", "ddpm"} & set(gans)
    assert resolve_suite("all")[0] == GENERATORS.names()
    with pytest.raises(UserError, match="unknown generator or detector 'spectrun'.*did you mean 'spectrum'"):
        resolve_suite("dcgan,spectrun")
