"""The documented flow of imports holds, module by module (README, Architecture).

``cli/api -> runner, parallel, human_eval -> generation, detection -> context -> units ->
{generators, detectors} -> core``; ``leaderboards`` reads records only, and for the spectra figure
the real test split (``data``) and the spectrum function (``spectra``). Every import of every
module is checked, including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"ganbench": ROOT / "ganbench", "ganbench.generators": ROOT / "generators",
           "ganbench.detectors": ROOT / "detectors", "ganbench.leaderboards": ROOT / "leaderboards"}

CORE = {"errors", "registry", "runtime", "data", "imageio", "inception", "metrics", "prdc", "features", "quality",
        "store", "presets", "tasks", "translation_metrics", "records", "locks", "geometry", "image_sets", "fid_stats",
        "folders", "data_health", "spectra", "data_cache", "streaming", "source_digest", "score_intervals",
        "inception_resizes", "pixels", "pretrained_weights"}
LAYERS = [
    CORE,
    {"generators", "detectors"},
    {"suites", "units", "overrides"},
    {"context"},
    {"generation", "curves", "detection", "task_measures", "planning", "ranks", "forensics", "forensics_output",
     "outside_data", "folder_metrics", "detector_choice"},
    {"runner", "parallel", "human_eval"},
    {"cli", "api", "__main__"},
]

LEADERBOARD_IMPORTS = ("ganbench.leaderboards", "ganbench.errors", "ganbench.store", "ganbench.data",
                       "ganbench.spectra")


def layer(module: str) -> int | None:
    """The layer of ``ganbench.<name>...``; None for leaderboards and the package itself."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] == "leaderboards":
        return None
    return next(i for i, names in enumerate(LAYERS) if parts[1] in names)


def modules() -> list[tuple[str, Path]]:
    found = []
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            found.append((".".join([package, *parts]), path))
    return found


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n == "ganbench" or n.startswith("ganbench.")}


def test_every_module_has_a_layer() -> None:
    for module, _ in modules():
        if module != "ganbench" and not module.startswith("ganbench.leaderboards"):
            assert layer(module) is not None, module


@pytest.mark.parametrize("module,path", modules(), ids=[m for m, _ in modules()])
def test_imports_follow_the_documented_flow(module: str, path: Path) -> None:
    own = layer(module)
    for name in imports(path):
        if name == "ganbench":
            continue
        if module.startswith("ganbench.leaderboards"):
            assert name.startswith(LEADERBOARD_IMPORTS), \
                f"{module} imports {name}: leaderboards read records only"
            continue
        assert not name.startswith("ganbench.leaderboards") or own == layer("ganbench.cli"), \
            f"{module} imports {name}"
        if name.startswith("ganbench.leaderboards"):
            continue
        theirs = layer(name)
        assert theirs is not None and theirs <= own, f"{module} (layer {own}) imports {name} (layer {theirs})"
        if own == 1:
            mine, other = module.split(".")[1], name.split(".")[1]
            assert other == mine or theirs == 0, f"{module} imports {name}: generators and detectors meet only through images"
