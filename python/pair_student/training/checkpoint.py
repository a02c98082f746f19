"""Writing training checkpoints (atomically, every epoch) and the RNG state a resumed run
continues from; reading them is :mod:`pair_student.models.checkpoint`."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch

from ..atomic import atomic_path
from ..models.checkpoint import load_state, read_checkpoint

__all__ = ["save_checkpoint", "load_state", "read_checkpoint", "rng_state", "set_rng_state"]


def save_checkpoint(state: Dict[str, Any], path) -> Path:
    """``torch.save`` to a temp file in the same folder, then ``os.replace``: never half-written."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
