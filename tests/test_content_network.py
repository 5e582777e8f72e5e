"""SRGAN's content loss (Ledig et al., CVPR 2017) uses a frozen network that no evaluation
extractor shares, so SRGAN is never scored by the features it was trained to match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch import nn

from ganbench.context import RunConfig, RunContext
from ganbench.data import Dataset
from ganbench.features import EXTRACTORS, ContentClassifier, state_hash
from ganbench.generation import GenerationUnits
from ganbench.generators.srgan import SRGAN
from ganbench.presets import get_preset
from ganbench.records import TrainRecord
from ganbench.units import UnitEngine


@pytest.fixture(scope="module")
def context(digits16: Dataset, tmp_path_factory: pytest.TempPathFactory) -> RunContext:
    """A smoke run of two steps (the second one adversarial, with the content loss) on 300 train
    and 100 test digits, so that both classifiers train in seconds."""
    folder = tmp_path_factory.mktemp("run")
    np.savez(folder / "digits.npz", x_train=digits16.x_train[:300, 0].numpy(), y_train=digits16.y_train[:300].numpy(),
             x_test=digits16.x_test[:100, 0].numpy(), y_test=digits16.y_test[:100].numpy())
    preset = get_preset("smoke").with_overrides(steps=2)
    config = RunConfig(suite="srgan", preset=preset, dataset=f"npz:{folder / 'digits.npz'}", out=folder / "out",
                       quiet=True, detectors=("spectrum",))
    return RunContext(config)


def test_the_content_network_is_no_evaluation_extractor(context: RunContext) -> None:
    content, extractor = context.content_network(), context.extractor()
    assert content is context.content_network()
    assert content.weights_hash != extractor.weights_hash
    assert content.recipe != extractor.recipe and content.seed != context.config.seed
    assert content.name not in dict(EXTRACTORS)
    protocol = content.protocol()
    assert protocol["recipe"] == ContentClassifier.recipe and protocol["seed"] == content.seed
    assert protocol["weights"] == state_hash(content.model)
    cached = {p.name for p in context.store.cache_dir.glob(f"classifier-*{context.data.fingerprint}*")}
    assert any(ContentClassifier.recipe in name for name in cached)
    assert any(extractor.recipe in name for name in cached)


def test_srgan_trains_against_the_content_network(context: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    attached: list[str] = []
    original = SRGAN.set_content_network

    def spy(self: SRGAN, network: nn.Module) -> None:
        attached.append(state_hash(network))
        original(self, network)

    monkeypatch.setattr(SRGAN, "set_content_network", spy)
    units = GenerationUnits(context, UnitEngine(context.store, context.scope, context.console))
    trained = units.train_generator("srgan")
    content, extractor = context.content_network(), context.extractor()

    assert isinstance(trained, TrainRecord) and trained.ok and "content" in trained.info["losses"]
    assert attached == [content.weights_hash]
    used = trained.info["content_network"]
    assert used["extractor"] == "content-classifier" and used["weights"] == content.weights_hash
    assert used["recipe"] == ContentClassifier.recipe and used["seed"] == content.seed
    assert used["extractor"] not in dict(EXTRACTORS) and used["weights"] != extractor.weights_hash
    assert Path(context.store.root / trained.checkpoint).exists()


def test_both_classifiers_are_trained_with_the_run_seed_and_the_presets_epochs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference classifier and the content network each get the run's seed (from which the content
    network derives its own) and the preset's classifier epochs, so each seed of a run has its own."""
    import ganbench.context

    built: dict[str, dict] = {}

    class Recording:
        damaged_cache = None

        def __init__(self, dataset: Dataset, cache_dir: Path, **settings: object) -> None:
            built[self.kind] = settings

    monkeypatch.setattr(ganbench.context, "ClassifierExtractor", type("Extractor", (Recording,), {"kind": "extractor"}))
    monkeypatch.setattr(ganbench.context, "ContentClassifier", type("Content", (Recording,), {"kind": "content"}))
    preset = get_preset("smoke").with_overrides(classifier_epochs=3)
    context = RunContext(RunConfig(suite="srgan", preset=preset, out=tmp_path, quiet=True, seed=5))
    context.extractor()
    context.content_network()
    for kind in ("extractor", "content"):
        assert built[kind]["seed"] == 5 and built[kind]["epochs"] == 3
