"""The uncertainty step of export (:mod:`pair_student.models.uncertainty`): statistics of the
last-layer features from a dataset's training split, the calibration into eV/A from its
validation split. The test split is never read. What was fitted goes into the provenance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from ..data.dataset import read_dataset
from ..models import LocalStudent
from ..models.uncertainty import fit_uncertainty


def with_uncertainty(model: torch.nn.Module, meta: Dict[str, Any],
                     uncertainty_from: Optional[str | os.PathLike] = None) -> torch.nn.Module:
    """``model`` (float64, as export hands it over) with its uncertainty fitted on
    ``uncertainty_from``, else on the checkpoint's own dataset where it still exists. A file
    that carries an uncertainty keeps it unless ``uncertainty_from`` asks to refit; without any
    dataset the student has none (``provenance.uncertainty`` is None)."""
    provenance = meta.get("provenance") or {}
    if not isinstance(model, LocalStudent):
        if uncertainty_from is not None:
            raise ValueError("the uncertainty applies to local students only; drop --uncertainty-from")
        return model
    if uncertainty_from is None and model.has_uncertainty():
        return model
    source = uncertainty_from or provenance.get("dataset")
    if uncertainty_from is None and not (source and Path(source).is_file()):
        meta["provenance"] = {**provenance, "uncertainty": None}
        return model
    train = list(read_dataset(source, split="train"))
    validation = list(read_dataset(source, split="val"))
    if uncertainty_from is None and not (train and validation):
        meta["provenance"] = {**provenance, "uncertainty": None}  # a dataset without a validation split
        return model
    report = fit_uncertainty(model, train, validation)
    meta["provenance"] = {**provenance, "uncertainty": {**report, "dataset": str(source)}}
    return model
