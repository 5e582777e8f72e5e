"""Pretrained timm weights: a local file first, and a one-line refusal, before any work, where the
weights' host cannot be reached."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import timm
import torch

import ganbench.features as features
import ganbench.pretrained_weights as pretrained_weights
from ganbench.errors import UserError
from ganbench.features import TimmExtractor, check_extractor
from ganbench.pretrained_weights import reachable, require_download, weights_host


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in pretrained_weights.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch, no_proxy: None) -> list[str]:
    """Every host is unreachable; the hosts asked about are listed."""
    asked: list[str] = []

    def refuse(host: str, port: int = 443, timeout: float = 0.0) -> bool:
        asked.append(host)
        return False

    monkeypatch.setattr(pretrained_weights, "reachable", refuse)
    return asked


def saved_test_resnet(folder: Path) -> Path:
    path = folder / "test_resnet.pth"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(timm.create_model("test_resnet", pretrained=False).state_dict(), path)
    return path


def test_a_listening_port_is_reachable_and_a_closed_one_is_not() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert reachable("127.0.0.1", port, timeout=1.0)
    assert not reachable("127.0.0.1", port, timeout=1.0)


def test_a_hub_model_downloads_from_the_hugging_face_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    assert weights_host("test_resnet") == "huggingface.co"
    assert weights_host("resnet18") == "huggingface.co", "timm prefers the hub to the model's older release URL"
    monkeypatch.setattr(constants, "ENDPOINT", "https://mirror.example.org")
    assert weights_host("test_resnet") == "mirror.example.org"


def test_an_unreachable_host_is_one_line_naming_it_and_the_remedy(unreachable: list[str]) -> None:
    with pytest.raises(UserError) as info:
        require_download("test_resnet", "pass --extractor-weights PATH")
    message = str(info.value)
    assert unreachable == ["huggingface.co"] and "\n" not in message
    assert message == ("timm model 'test_resnet': no pretrained weights in $GANBENCH_WEIGHTS or the hub caches, and "
                       "huggingface.co cannot be reached to download them; pass --extractor-weights PATH")


def test_a_reachable_host_or_a_proxy_lets_the_download_go_ahead(monkeypatch: pytest.MonkeyPatch,
                                                                unreachable: list[str]) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.org:3128")
    require_download("test_resnet", "")
    assert unreachable == [], "a proxy reaches the host: no direct connection is tried"
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setattr(pretrained_weights, "reachable", lambda host, port=443, timeout=0.0: True)
    require_download("test_resnet", "")


def test_the_extractor_refuses_before_timm_is_asked_to_download(monkeypatch: pytest.MonkeyPatch,
                                                                unreachable: list[str]) -> None:
    def download(*args: object, **kwargs: object) -> None:
        raise AssertionError("timm asked to download from an unreachable host")

    monkeypatch.setattr(features, "local_weights", lambda name: None)
    monkeypatch.setattr(timm, "create_model", download)
    with pytest.raises(UserError, match="huggingface.co cannot be reached.*--extractor-weights PATH"):
        TimmExtractor("test_resnet")
    with pytest.raises(UserError, match="huggingface.co cannot be reached"):
        check_extractor("timm:test_resnet", None)


def test_a_local_weights_file_is_used_without_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          unreachable: list[str]) -> None:
    """$GANBENCH_WEIGHTS/<model>.pth is loaded as if passed by --extractor-weights, and no host is asked."""
    path = saved_test_resnet(tmp_path)
    monkeypatch.setenv("GANBENCH_WEIGHTS", str(tmp_path))
    check_extractor("timm:test_resnet", None)
    found = TimmExtractor("test_resnet")
    assert unreachable == []
    assert found.weights_hash == TimmExtractor("test_resnet", path).weights_hash
    assert found.weights_hash != TimmExtractor("test_resnet", pretrained=False).weights_hash


def test_a_detector_asked_for_hub_weights_refuses_before_timm_downloads(monkeypatch: pytest.MonkeyPatch,
                                                                         unreachable: list[str]) -> None:
    from ganbench.detectors.cnn import create_timm

    def download(*args: object, **kwargs: object) -> None:
        raise AssertionError("timm asked to download from an unreachable host")

    monkeypatch.setattr(timm, "create_model", download)
    with pytest.raises(UserError, match="cannot be reached to download them; use weights='auto'"):
        create_timm("test_resnet", 1, "hub")
