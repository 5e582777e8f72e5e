"""ganbench: train the GAN family, measure generation quality, benchmark deepfake detectors.

An installed ganbench maps the top-level folders ``generators/``, ``detectors/`` and
``leaderboards/`` to the subpackages ``ganbench.generators``, ``ganbench.detectors`` and
``ganbench.leaderboards`` (``package-dir`` in ``pyproject.toml``). Run from a source checkout
without installing (``python -m ganbench``), :class:`_CheckoutSubpackages` resolves the same
names to those folders.

The Python API (:mod:`ganbench.api`: ``compute_metrics``, ``compute_statistics``,
``train_generator``, ``sample_generator``, ``evaluate_detector``) is importable from here; it
loads on first use, so importing ganbench stays cheap.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

__version__ = "0.1.0"

SUBPACKAGES = ("generators", "detectors", "leaderboards")
API = ("compute_metrics", "compute_statistics", "train_generator", "sample_generator", "evaluate_detector")


class _CheckoutSubpackages(importlib.machinery.PathFinder):
    """Finds ``ganbench.<sub>`` in the checkout's top-level folder ``<sub>/`` (last resort)."""

    root = Path(__file__).resolve().parent.parent

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):  # type: ignore[override]
        package, _, sub = fullname.partition(".")
        folder = cls.root / sub
        if package != __name__ or sub not in SUBPACKAGES or not (folder / "__init__.py").is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])


if not any(finder is _CheckoutSubpackages for finder in sys.meta_path):
    sys.meta_path.append(_CheckoutSubpackages)


def __getattr__(name: str) -> object:
    """The Python API's functions, imported when first asked for."""
    if name in API:
        from ganbench import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
