"""The built wheel installs everything under ``ganbench`` and nothing generic at the top level."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="building the wheel needs setuptools")
def test_wheel_holds_only_the_ganbench_package(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "runs",
                                                                "__pycache__", "site"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    str(source), "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("ganbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"ganbench", wheel.name.split("-py")[0] + ".dist-info"}
    for sub in ("generators/dcgan.py", "detectors/spectrum.py", "leaderboards/tables.py"):
        assert f"ganbench/{sub}" in names
    assert any(n.startswith("ganbench/leaderboards/templates/") for n in names)
    assert not any("examples" in n or n.startswith("tests/") for n in names)


def test_checkout_runs_without_installing(tmp_path: Path) -> None:
    """``python -m ganbench`` from a checkout resolves the subpackages to the top-level folders."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '')]; "
            "import ganbench.generators as g, ganbench.detectors as d, ganbench.leaderboards as l; "
            "print(g.__file__, d.__file__, l.__file__)")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], check=True, capture_output=True, text=True,
                         cwd=tmp_path).stdout.split()
    assert [Path(p).parent for p in out] == [ROOT / "generators", ROOT / "detectors", ROOT / "leaderboards"]
