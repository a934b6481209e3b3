"""Single-process or torchrun (DistributedDataParallel) training, one interface for both.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; with them the process group is
NCCL on GPUs and gloo on CPUs (which is how the tests run two processes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import distributed as dist
from torch import nn

__all__ = ["Distributed", "choose_device", "trains_in_bf16"]

CPU = torch.device("cpu")


def choose_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but PyTorch sees no CUDA device")
    if requested == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(requested)


def trains_in_bf16(requested: str, device: torch.device) -> bool:
    """Whether training runs in bf16 autocast: always on CUDA; on a CPU where oneDNN runs bf16
    (AVX-512 and newer: 1.8x a ResNet50 step's fp32 speed on an AVX-512 BF16 host), unless
    fp32 is asked for. On AVX2 alone it would be emulated, and slower."""
    if device.type == "cuda":
        return True
    if requested == "auto":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return requested == "bf16"


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: torch.device = CPU

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_environment(cls, device: torch.device) -> Distributed:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls(0, 1, device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), device)

    def wrap(self, model: nn.Module) -> nn.Module:
        if not self.enabled:
            return model
        if self.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return nn.parallel.DistributedDataParallel(model, device_ids=[self.device])
        return nn.parallel.DistributedDataParallel(model)

    def sync_buffers(self, model: nn.Module) -> None:
        """Copies the first process's buffers (BatchNorm running statistics) to all.

        Each process updates its running statistics on its own share of the
        last batch; without this they would validate slightly different models
        and could disagree on early stopping, leaving one of them waiting.
        """
        if self.enabled:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()
