"""Writing a student as TorchScript: the file ``pair_style student`` loads (CPU and CUDA) and
:class:`pair_student.calculator.StudentCalculator` reads, with the contract metadata as
TorchScript extra files (:func:`pair_student.contract.save_student`)."""

from __future__ import annotations

import os
from typing import Any, Dict

import torch

from ..contract import save_student

SUFFIX = "_traced.pt"


def write_torchscript(model: torch.nn.Module, path: str | os.PathLike, metadata: Dict[str, Any]) -> None:
    """Script ``model`` and write it to ``path`` with ``metadata``."""
    save_student(model, path, metadata)
