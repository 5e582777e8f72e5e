"""The one place that decides seeds: derived seeds, seeding every generator, the preserved global stream."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from ganbench.errors import UserError
from ganbench.runtime import (accelerated, autocast, configure_backends, derive_seed, preserved_rng, resolve_device,
                              seed_everything, torch_generator)


def test_derived_seeds_follow_the_run_seed_and_every_part_of_the_purpose() -> None:
    """Seeds of a run are independent replicates: each derived draw changes with the run seed, the
    purpose and its order, and nothing else (the same call gives the same seed in any process)."""
    base = derive_seed(0, "dcgan", "fresh")
    assert derive_seed(0, "dcgan", "fresh") == base == 2839065261
    others = {derive_seed(1, "dcgan", "fresh"), derive_seed(0, "dcgan", "train"), derive_seed(0, "gan", "fresh"),
              derive_seed(0, "fresh", "dcgan"), derive_seed(0, "dcgan")}
    assert base not in others and len(others) == 5
    assert all(0 <= s < 2**32 for s in others)


def test_seed_everything_repeats_python_numpy_and_torch_draws() -> None:
    def draws() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    seed_everything(7)
    first = draws()
    seed_everything(7)
    assert draws() == first
    seed_everything(8)
    assert all(a != b for a, b in zip(draws(), first))


def test_a_preserved_block_leaves_the_global_stream_as_it_was_even_after_an_error() -> None:
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    with pytest.raises(RuntimeError):
        with preserved_rng():
            torch.rand(100)
            raise RuntimeError("inside")
    assert torch.equal(torch.rand(4), expected)


def test_devices_are_auto_cpu_or_cuda() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu")


def test_the_processor_names_the_chip_and_the_cpus_kernel_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganbench.runtime import processor

    processor.cache_clear()
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *device: "NVIDIA H100 80GB HBM3")
    try:
        cpu = processor("cpu")
        assert cpu.endswith(f" ({torch.backends.cpu.get_cpu_capability()})") and cpu[0] != " "
        assert processor("cuda") == "NVIDIA H100 80GB HBM3"
    finally:
        processor.cache_clear()


def test_auto_takes_cuda_when_present_and_cuda_without_a_gpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(UserError, match="no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(UserError, match="no CUDA device"):
        resolve_device("cuda:0")


def test_speed_options_default_to_cuda_only() -> None:
    assert accelerated(torch.device("cuda"), None) and not accelerated(torch.device("cpu"), None)
    assert accelerated(torch.device("cpu"), True) and not accelerated(torch.device("cuda"), False)


def test_autocast_is_bf16_when_enabled_and_casts_again_without_its_cache() -> None:
    weight = torch.ones(2, 2)
    with autocast(torch.device("cpu"), True):
        assert (weight @ weight).dtype == torch.bfloat16
        assert torch.is_autocast_cache_enabled()
    with autocast(torch.device("cpu"), True, cache=False):
        assert not torch.is_autocast_cache_enabled()
    with autocast(torch.device("cpu"), False):
        assert (weight @ weight).dtype == torch.float32


def test_cuda_turns_on_tf32_and_cudnn_autotuning() -> None:
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark
    try:
        matmul.allow_tf32 = cudnn.allow_tf32 = cudnn.benchmark = False
        configure_backends(torch.device("cpu"))
        assert not (matmul.allow_tf32 or cudnn.allow_tf32 or cudnn.benchmark)
        configure_backends(torch.device("cuda"))
        assert matmul.allow_tf32 and cudnn.allow_tf32 and cudnn.benchmark
    finally:
        matmul.allow_tf32, cudnn.allow_tf32, cudnn.benchmark = saved


def test_a_dedicated_generator_repeats_its_seed_and_leaves_the_global_stream_alone() -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    first = torch.rand(4, generator=torch_generator(11))
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(torch.rand(4, generator=torch_generator(11)), first)
    assert not torch.equal(torch.rand(4, generator=torch_generator(12)), first)


def test_a_seed_beyond_32_bits_seeds_numpy_with_its_low_32_bits() -> None:
    seed_everything(7)
    expected = np.random.rand(3)
    seed_everything(2**32 + 7)
    assert np.array_equal(np.random.rand(3), expected)
