"""The one place that decides device, dtype and seeds."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import platform
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ganbench.errors import UserError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda`` without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA device is available")
    if name not in {"cpu", "cuda"} and not name.startswith("cuda:"):
        raise UserError(f"unknown device {name!r} (use auto, cpu or cuda)")
    return torch.device(name)


@functools.cache
def processor(device_type: str) -> str:
    """The chip a record was computed on: the GPU's name, or the CPU's model with the vector
    instructions torch's kernels use on it. Kernels round differently on other chips (AVX2 against
    AVX-512, one vendor's against another's), and training amplifies that, so records are repeatable
    on one kind of chip at one thread count, and every record names its chip."""
    if device_type == "cuda":
        return torch.cuda.get_device_name()
    name = platform.processor() or platform.machine() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.partition(":")[2].strip() or name
                break
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a run on CPU is repeatable."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def torch_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A dedicated generator, so sampling with a seed never disturbs the global stream."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def derive_seed(seed: int, *parts: object) -> int:
    """A stable seed for a named purpose (``derive_seed(0, 'fresh_fakes')``), independent of order of use."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def accelerated(device: torch.device, choice: bool | None) -> bool:
    """Whether a speed option (channels_last) applies: ``None`` means on CUDA only."""
    return device.type == "cuda" if choice is None else choice


def autocast(device: torch.device, enabled: bool, cache: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``enabled``, a no-op otherwise; ``cache=False`` casts the
    weights again at every use (a recorded CUDA graph must not keep casts made outside it)."""
    if enabled:
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)
    return contextlib.nullcontext()


def configure_backends(device: torch.device) -> None:
    """TF32 and cuDNN autotuning on CUDA; nothing to do on CPU."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block without changing the global torch RNG state seen afterwards."""
    state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        torch.set_rng_state(state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
