"""Where this process sits in a ``torchrun`` job, for the stages that shard work over ranks
(labelling and training).

Two views of the rank: :func:`env_rank` reads torchrun's environment and works without a
process group (labelling shards chunks by it and can run as plain processes with ``RANK`` and
``WORLD_SIZE`` set); :func:`group_rank` asks the initialised process group (training, whose
gradients are all-reduced through it).
"""

from __future__ import annotations

import os
from typing import Tuple

import torch.distributed as dist


def env_rank() -> Tuple[int, int]:
    """``(RANK, WORLD_SIZE)`` from the environment; ``(0, 1)`` outside torchrun."""
    text = {name: os.environ.get(name, default) for name, default in (("RANK", "0"), ("WORLD_SIZE", "1"))}
    try:
        rank, world = int(text["RANK"]), int(text["WORLD_SIZE"])
    except ValueError:
        raise ValueError(f"RANK={text['RANK']!r} and WORLD_SIZE={text['WORLD_SIZE']!r} must be whole "
                         "numbers (torchrun sets both; unset them to run as one process)") from None
    if not 0 <= rank < world:
        # a shard that no process labels would leave the dataset silently incomplete
        raise ValueError(f"RANK={rank} is not a rank of a job of WORLD_SIZE={world} processes: "
                         "0 <= RANK < WORLD_SIZE (torchrun sets both; unset them to run as one process)")
    return rank, world


def process_group():
    """``torch.distributed`` when a process group is initialised (torchrun + init), else None."""
    return dist if dist.is_available() and dist.is_initialized() else None


def group_rank() -> Tuple[int, int]:
    """``(rank, world size)`` of the initialised process group; ``(0, 1)`` without one."""
    group = process_group()
    if group is None:
        return 0, 1
    return group.get_rank(), group.get_world_size()


def init_process_group(device: str) -> bool:
    """Join the ``torchrun`` process group (gloo on CPU, nccl on GPU) when WORLD_SIZE > 1;
    True when this call joined it."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return True


__all__ = ["env_rank", "group_rank", "init_process_group", "process_group"]
