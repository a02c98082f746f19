"""The tabulation step of export: a local student's radial network becomes cubic Hermite
tables (:mod:`pair_student.models.tabulated`), in TorchScript (where ``pair_style student``
runs them in its native CPU kernel) and in ONNX alike, so both files of one checkpoint are
the same function. The tabulation error is measured on the verification frames and
recorded in the provenance."""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import torch

from ..contract import EDGE_VECTORS
from ..models import LocalStudent
from ..models.tabulated import DEFAULT_POINTS, TabulatedStudent, tabulate
from .verify import ExportVerificationError, differences

TABULATION_TOLERANCE = 1e-3
"""Largest accepted relative force difference between a tabulated student and its network."""


def tabulated(model: torch.nn.Module, points: Optional[int], graphs: List[Dict[str, Any]],
              meta: Dict[str, Any]) -> torch.nn.Module:
    """``model``, or its tabulated copy on ``points`` intervals (``None``: the default 256;
    ``0``: keep the network); only local students have a radial network to tabulate.
    ``meta["provenance"]`` gains ``tabulated: {points, force_difference}``."""
    if isinstance(model, TabulatedStudent):
        if points is not None and points != model.table_points:
            raise ValueError(f"the student is already tabulated on {model.table_points} intervals and its file "
                             "holds no radial network left to tabulate again; give its training checkpoint")
        return model
    if not isinstance(model, LocalStudent):
        if points:
            raise ValueError("table_points applies to local students only")
        return model
    if points == 0:
        return model
    model = copy.deepcopy(model).to(torch.float64).eval()  # the caller's model keeps its dtype
    table = tabulate(model, points or DEFAULT_POINTS)
    graphs64 = [{**g, EDGE_VECTORS: g[EDGE_VECTORS].to(torch.float64)} for g in graphs]
    error = differences(table, model, graphs64)["forces"]
    if not error <= TABULATION_TOLERANCE:
        raise ExportVerificationError(
            f"the radial tables on {table.table_points} intervals change the forces by {error:.3g} "
            f"(relative, > {TABULATION_TOLERANCE}); use more table points")
    meta["provenance"] = {**(meta.get("provenance") or {}),
                          "tabulated": {"points": table.table_points, "force_difference": error}}
    return table
