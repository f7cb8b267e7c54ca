"""Training across processes: the small part of ``torch.distributed`` the loops use.

``torchrun --standalone --nproc_per_node N -m autoreg.train seq|pixel ...`` starts N
copies of the training command; each finds its rank in the environment that torchrun
sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and joins one process group: gloo on the
CPU, NCCL on CUDA. Without those variables every call here is a no-op, so a plain
``python -m autoreg.train ...`` runs as one process.

The loops keep one global batch and give each rank a slice of it, so N processes take
the same optimiser steps as one process would with the same batch:

    global batch (B rows)      rank 0: rows 0 .. B/N-1      each rank: loss on its rows,
    ---------------------  ->  rank 1: rows B/N .. 2B/N-1   DistributedDataParallel
                               ...                          averages the gradients

The mean of the ranks' mean losses is the global mean when every rank holds the same
number of rows, and ``shard`` insists on that. Every rank holds the same weights after
every step; only rank 0 prints and writes checkpoints (``World.main``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the training processes.

    Args:
        rank: this process's index, 0 .. size - 1.
        size: how many processes train together (1 = no process group).
        local_rank: index on this machine (picks the GPU).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 prints, evaluates for the card and writes checkpoints."""
        return self.rank == 0

    def shard(self, rows: int) -> slice:
        """This rank's rows of a global batch of ``rows`` (an equal share each)."""
        if rows % self.size:
            raise ValueError(
                f"A global batch of {rows} cannot be shared equally by {self.size} "
                f"processes: make it a multiple of {self.size}."
            )
        share = rows // self.size
        return slice(self.rank * share, (self.rank + 1) * share)

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over every rank (one all-reduce)."""
        if self.size == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=_device(self))
        dist.all_reduce(t)
        return t.tolist()

    def gather_rows(self, t: torch.Tensor, dim: int) -> torch.Tensor:
        """Every rank's ``t`` concatenated along ``dim`` in rank order (the inverse of
        ``shard``): rebuilds, say, the recurrent state of the whole global batch."""
        if self.size == 1:
            return t
        parts = [torch.empty_like(t) for _ in range(self.size)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=dim)

    def barrier(self) -> None:
        """Wait until every rank is here: at the end of a run, so that no rank tears the
        process group down while rank 0 is still scoring and saving."""
        if self.size > 1:
            dist.barrier()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to call in training: ``DistributedDataParallel`` across ranks, the
        model itself in one process. Checkpoints always save the bare model."""
        if self.size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if next(model.parameters()).is_cuda else None
        return DistributedDataParallel(model, device_ids=ids)


SINGLE = World()


def _device(world: World) -> torch.device:
    backend = dist.get_backend()
    return torch.device("cuda", world.local_rank) if backend == "nccl" else torch.device("cpu")


def pick_device(device: str) -> str:
    """``auto`` -> cuda when torch sees a GPU, else cpu; cuda without a GPU is an error."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: torch sees no CUDA GPU here; use --device cpu.")
    return device


def launched() -> bool:
    """True when torchrun (or another launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str = "cpu") -> World:
    """Join the process group when started by torchrun; ``SINGLE`` otherwise.

    ``device`` is where the model trains: ``cuda`` uses NCCL and this rank's GPU
    (``LOCAL_RANK``), anything else gloo.
    """
    if not launched():
        return SINGLE
    rank = int(os.environ["RANK"])
    size = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return World(rank=rank, size=size, local_rank=local)


def teardown(world: World) -> None:
    """Leave the process group (every rank, at the end of a run)."""
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()
