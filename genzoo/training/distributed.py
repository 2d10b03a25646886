"""Data-parallel support: rank/world from torchrun's environment, gradient all-reduce, broadcast.

Gradients are averaged with explicit all-reduces after each backward rather than through
DistributedDataParallel, because GAN steps run several forward passes per network, gradient
penalties need double backward and some parameters are frozen half the step: cases where DDP's
hooks need special care. The result is the same synchronous data parallelism.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def from_env() -> DistInfo:
    return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                    int(os.environ.get("LOCAL_RANK", 0)))


def init(info: DistInfo, device: torch.device) -> None:
    """Join the process group torchrun set up (gloo on CPU, nccl on CUDA)."""
    if not info.enabled or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)


def shutdown() -> None:
    """Leave the process group, if this process joined one. Left to interpreter exit, gloo's threads were
    torn down under a live group, and a rank sometimes aborted after training had finished ('terminate
    called without an active exception', exit -6)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        gc.collect()  # the group's C++ threads end now, not during interpreter shutdown


def all_reduce_grads(params) -> None:
    """Average the gradients of `params` across processes, in one flat buffer per dtype."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    world = dist.get_world_size()
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    for group in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat.div_(world)
        offset = 0
        for g in group:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n


def broadcast_module(module: torch.nn.Module) -> None:
    """Make every process start from rank 0's parameters and buffers."""
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def gather_objects(obj):
    """Every rank's `obj` as a list (rank order); a one-element list when not distributed."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
