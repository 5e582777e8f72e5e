"""Registries: entries register where they are defined, in a fixed order, with clear errors."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import ganbench.generators
from ganbench.cli import app
from ganbench.data import DATASETS
from ganbench.detectors import DETECTORS
from ganbench.errors import UserError
from ganbench.features import EXTRACTORS
from ganbench.metrics import METRICS
from ganbench.generators import GENERATORS, GenerativeModel
from ganbench.presets import PRESETS
from ganbench.registry import Registry
from ganbench.suites import SUITES

EXPECTED_ORDER = {
    "generators": (GENERATORS, ["gan", "dcgan", "cgan", "acgan", "infogan", "wgan", "wgan-gp", "lsgan", "sngan",
                                "sagan", "biggan", "progan", "stylegan2", "stylegan3", "pix2pix", "cyclegan", "srgan",
                                "stargan", "vae", "ddpm"]),
    "detectors": (DETECTORS, ["spectrum", "dct", "cnn-resnet50", "xception", "efficientnet", "npr", "probe",
                              "small-cnn", "one-class"]),
    "presets": (PRESETS, ["smoke", "quick", "standard", "full"]),
    "suites": (SUITES, ["smoke", "all", "gans", "unconditional", "conditional", "translation", "reference",
                        "tricks"]),
    "datasets": (DATASETS, ["digits", "toy2d", "toy2d-ring", "toy2d-grid", "npz", "folder", "mnist", "fashion-mnist",
                            "cifar10"]),
    "extractors": (EXTRACTORS, ["classifier", "inception", "timm"]),
    "metrics": (METRICS, ["fid", "kid", "is", "precision-recall", "density-coverage", "mode-coverage",
                          "class-coverage", "conditional-accuracy", "code-accuracy", "psnr", "ssim", "l1",
                          "domain-accuracy", "cycle-l1"]),
}


def test_every_generator_module_registers_its_variant():
    registered = dict(GENERATORS)
    variants = []
    for info in pkgutil.iter_modules(ganbench.generators.__path__):
        module = importlib.import_module(f"ganbench.generators.{info.name}")
        for cls in vars(module).values():
            if (inspect.isclass(cls) and issubclass(cls, GenerativeModel) and cls.__module__ == module.__name__
                    and "name" in vars(cls)):
                variants.append(cls)
                assert registered.get(cls.name) is cls, f"{module.__name__}.{cls.__name__} is not registered"
    assert len(variants) == len(GENERATORS)


@pytest.mark.parametrize("kind", list(EXPECTED_ORDER))
def test_registry_order(kind):
    registry, expected = EXPECTED_ORDER[kind]
    assert registry.names() == expected


def test_order_does_not_depend_on_which_module_is_imported_first():
    code = ("import ganbench.generators.wgan_gp, ganbench.detectors.probe\n"
            "from ganbench.generators import GENERATORS\n"
            "from ganbench.detectors import DETECTORS\n"
            "print(','.join(GENERATORS.names() + DETECTORS.names()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().split(",") == EXPECTED_ORDER["generators"][1] + EXPECTED_ORDER["detectors"][1]


def test_decorator_registers_and_returns_the_class():
    registry: Registry[type] = Registry("widget")

    @registry.register
    class Widget:
        name = "widget"

    @registry.add("other")
    class Other:
        pass

    assert registry.get("widget") is Widget and registry.get("other") is Other
    assert registry.names() == ["widget", "other"] and len(registry) == 2 and "widget" in registry


def test_duplicate_name_raises():
    duplicate = type("Duplicate", (), {"name": "dcgan"})
    with pytest.raises(ValueError, match="'dcgan' is registered twice"):
        GENERATORS.register(duplicate)
    assert GENERATORS.get("dcgan") is not duplicate and len(GENERATORS) == len(EXPECTED_ORDER["generators"][1])


@pytest.mark.parametrize("registry,typo,hint", [
    (GENERATORS, "dcgna", "dcgan"), (DETECTORS, "spectrun", "spectrum"), (PRESETS, "quik", "quick"),
    (SUITES, "smok", "smoke"), (DATASETS, "digit", "digits"), (EXTRACTORS, "inceptoin", "inception"),
    (METRICS, "fids", "fid"),
])
def test_unknown_name_is_a_user_error_with_a_hint(registry, typo, hint):
    with pytest.raises(UserError, match=f"unknown {registry.kind} '{typo}'; did you mean '{hint}'"):
        registry.get(typo)


def test_an_unknown_name_lists_every_known_one_and_hints_only_a_close_one() -> None:
    registry: Registry[int] = Registry("widget")
    for number, name in enumerate(["gamma", "alpha", "beta"]):
        registry.register(number, name)
    with pytest.raises(UserError) as unlike:
        registry.get("zzzz")
    assert str(unlike.value) == "unknown widget 'zzzz' (known: alpha, beta, gamma)"
    with pytest.raises(UserError) as close:
        registry.get("alpah")
    assert str(close.value) == "unknown widget 'alpah'; did you mean 'alpha'? (known: alpha, beta, gamma)"


def test_an_explicit_name_wins_over_the_name_attribute() -> None:
    registry: Registry[type] = Registry("widget")

    @registry.add("alias")
    class Named:
        name = "widget"

    assert registry.names() == ["alias"] and registry.get("alias") is Named and "widget" not in registry


def test_list_metrics_lists_quality_metrics_not_extractors():
    rows = json.loads(CliRunner().invoke(app, ["list", "metrics", "--json"]).stdout)
    names = [row["name"] for row in rows]
    assert names == EXPECTED_ORDER["metrics"][1]
    assert not {"classifier", "inception", "timm"} & set(names)
    fid = rows[0]
    assert fid["fields"] == "fid, fid_se, fid_ci_low, fid_ci_high" and fid["year"] == 2017 and "Heusel" in fid["paper"]
    assert all(row["paper"] and row["year"] for row in rows)
    extractors = json.loads(CliRunner().invoke(app, ["list", "extractors", "--json"]).stdout)
    assert [row["name"] for row in extractors] == EXPECTED_ORDER["extractors"][1]
