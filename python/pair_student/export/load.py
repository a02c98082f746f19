"""What export starts from: a training checkpoint, or a student file (``.pt``) rebuilt as the
eager model it was scripted from (:mod:`pair_student.models.student_file`), so that any file
a user holds can be re-exported (e.g. a shipped, tabulated student as ONNX)."""

from __future__ import annotations

import os
from typing import Any, Dict, Tuple

import torch

from ..contract import evaluate
from ..models.checkpoint import load_checkpoint_model
from ..models.student_file import is_student_file, model_from_student_file
from .frames import sample_frames, verification_graphs
from .verify import TOLERANCE, ExportVerificationError, differences

Metadata = Dict[str, Any]
# what a new file inherits from the file it is made from; dtype and units are the new file's
_KEPT = ("elements", "cutoff", "num_layers", "provenance")


def load_source(path: str | os.PathLike) -> Tuple[torch.nn.Module, Metadata]:
    """``(model, metadata)`` of a training checkpoint or of a student ``.pt``
    (:func:`student_file_source`), whichever ``path`` is."""
    if is_student_file(path):
        return student_file_source(path)
    return load_checkpoint_model(path)


def student_file_source(path: str | os.PathLike) -> Tuple[torch.nn.Module, Metadata]:
    """The eager float64 model of a student ``.pt``
    (:func:`~pair_student.models.student_file.model_from_student_file`) with the metadata a
    new file inherits from it.

    The rebuilt model must reproduce the file on the verification frames to
    ``TOLERANCE["float64"]`` (:class:`ExportVerificationError` otherwise), so an export from
    it is checked against the file itself, not only against the rebuild.
    """
    model, meta = model_from_student_file(path)
    _check_rebuild(model, meta, path)
    return model, {k: meta[k] for k in _KEPT}


def _check_rebuild(model: torch.nn.Module, meta: Metadata, path: str | os.PathLike) -> None:
    """The rebuilt model against the file, both in float64, on the verification frames."""
    graphs = verification_graphs(sample_frames(meta["elements"]), meta["elements"], meta["cutoff"], torch.float64)
    source = torch.jit.load(str(path), map_location="cpu").to(torch.float64)
    worst = differences(lambda *args: evaluate(source, *args), model, graphs)
    if not max(worst.values()) <= TOLERANCE["float64"]:
        raise ExportVerificationError(
            f"the model rebuilt from {path} does not reproduce the file: relative differences "
            + ", ".join(f"{k}={v:.3g}" for k, v in worst.items()))


def model_metadata(model: torch.nn.Module, extra: Metadata | None = None) -> Metadata:
    """Contract metadata from the model's attributes, overridden by ``extra`` (checkpoint)."""
    meta: Metadata = {}
    for key in ("elements", "cutoff", "num_layers"):
        if hasattr(model, key):
            meta[key] = getattr(model, key)
    meta.update(extra or {})
    if "elements" not in meta or "cutoff" not in meta:
        raise ValueError("model has no elements/cutoff attributes and the checkpoint metadata gives none")
    return meta
