"""Data-parallel training across processes started by ``torchrun``.

Synchronous data parallelism as in Goyal et al., "Accurate, Large Minibatch SGD: Training
ImageNet in 1 Hour", arXiv:1706.02677, 2017, and Li et al., "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training", VLDB 2020: every process holds the same model, draws its own
batches, and the gradients are averaged across processes before each optimizer step, so the
replicas stay identical.

Variants call ``opt.step()`` themselves, any number of times per training step, on any subset of
their networks. Instead of wrapping networks in ``DistributedDataParallel`` (which would need each
variant to route its forward passes through the wrapper), a step pre-hook on every optimizer
averages the gradients of that optimizer's parameters just before it updates them. BatchNorm
running statistics stay local during training and are taken from rank 0 at the end, like the
checkpoints, which only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ganbench.runtime import derive_seed

# what rank 0 shares with the other ranks (``World.share``): a training starts, or the job is done
TRAIN_SIGNAL, DONE_SIGNAL = "train", "done"

@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def seed(self, seed: int) -> int:
        """The seed of this rank's batches and noise: the run seed on rank 0, a derived one elsewhere."""
        return seed if self.rank == 0 else derive_seed(seed, "rank", self.rank)

    # -- collectives (no-ops in a single process)
    def broadcast(self, model: nn.Module) -> None:
        """Rank 0's parameters and buffers on every rank."""
        if not self.active:
            return
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def average_gradients(self, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        """Make every optimizer average its parameters' gradients over the ranks before it steps."""
        if not self.active:
            return
        for optimizer in optimizers.values():
            optimizer.register_step_pre_hook(_average_gradients)

    def share(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, ordered by rank."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when ``flag`` is true on some rank, so all ranks leave a loop together."""
        if not self.active:
            return flag
        value = torch.tensor([float(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def sync_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers (BatchNorm statistics) on every rank."""
        if not self.active:
            return
        with torch.no_grad():
            for buffer in model.buffers():
                dist.broadcast(buffer.data, src=0)


def _average_gradients(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    """Replace each gradient of ``optimizer``'s parameters by its mean over the ranks (one flat all-reduce)."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def launched() -> bool:
    """Whether this process was started by ``torchrun`` with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device_type: str, timeout_minutes: float = 30.0) -> tuple[World, torch.device | None]:
    """Join the process group described by torchrun's environment (NCCL on CUDA, gloo on CPU).

    Returns the world and, on CUDA, this process's device ``cuda:LOCAL_RANK``.
    """
    if not launched():
        return World(), None
    device = None
    if device_type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo",
                                timeout=timedelta(minutes=timeout_minutes))
    return World(dist.get_rank(), dist.get_world_size()), device


def current() -> World:
    """The world of an initialised process group, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def leaving_together() -> Iterator[None]:
    """Leave the process group at the end of the block: after a barrier when the block completed, so
    that every rank has finished its last collective before any closes its connections (a gloo rank
    whose peer closed first can abort); at once when it raised, so that the other ranks' collectives
    fail instead of waiting for this one."""
    try:
        yield
    except BaseException:
        shutdown()
        raise
    try:
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
    finally:
        shutdown()
