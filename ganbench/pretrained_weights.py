"""Where a timm model's pretrained weights come from: a local file first, the network only when it
answers.

``local_weights`` finds a weights file under ``$GANBENCH_WEIGHTS`` or in the Hugging Face and
torch hub caches. ``require_download`` is asked before timm downloads: where the weights' host
cannot be reached (no network, no proxy configured), it refuses at once with one line, instead
of the hub's retries and their warnings.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import torch

from ganbench.errors import UserError

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
REACH_TIMEOUT = 3.0  # seconds to wait for the weights' host to accept a connection
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def local_weights(model_name: str) -> Path | None:
    """A weights file for ``model_name`` under ``$GANBENCH_WEIGHTS`` or in the hub caches, if any."""
    import timm

    folder = os.environ.get("GANBENCH_WEIGHTS")
    if folder:
        for suffix in WEIGHT_SUFFIXES:
            path = Path(folder).expanduser() / f"{model_name}{suffix}"
            if path.is_file():
                return path
    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(found, str):
                return Path(found)
    if cfg.url:
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url)
        if path.is_file():
            return path
    return None


def weights_host(model_name: str) -> str | None:
    """The host timm downloads ``model_name``'s weights from: the Hugging Face endpoint for a hub
    model, else its URL's host (None where timm names no source)."""
    import timm

    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import constants

        return urlparse(constants.ENDPOINT).hostname
    return urlparse(cfg.url).hostname if cfg.url else None


def reachable(host: str, port: int = 443, timeout: float = REACH_TIMEOUT) -> bool:
    """Whether ``host`` accepts a TCP connection on ``port`` within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_download(model_name: str, remedy: str) -> None:
    """Refuse, in one line ending with ``remedy``, a download whose host cannot be reached; a
    configured proxy is trusted to reach it."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return
    host = weights_host(model_name)
    if host is not None and not reachable(host):
        raise UserError(f"timm model {model_name!r}: no pretrained weights in $GANBENCH_WEIGHTS or the hub "
                        f"caches, and {host} cannot be reached to download them; {remedy}")
