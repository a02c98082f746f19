"""The core repulsion step of export (:mod:`pair_student.models.repulsion`): a local student's
windows start at the shortest training distance of each element pair (set by the trainer, or
here from a dataset's training split for a student that has none) and move down, where needed,
until every isolated dimer repels from 0.2 A up to its window. What was chosen goes into the
provenance, so a user can read where a file's learned part hands over to ZBL."""

from __future__ import annotations

import copy
import itertools
import os
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import torch
from ase import Atoms

from ..data.dataset import read_dataset
from ..graph import atoms_to_graph
from ..models import LocalStudent
from ..models.repulsion import core_windows, fit_windows, shortest_distances


PROBES = 2
"""Training frames in which each pair is pushed together while its window is fitted."""


def with_core_repulsion(model: torch.nn.Module, meta: Dict[str, Any],
                        core_from: Optional[str | os.PathLike] = None, frames: Sequence[Atoms] = ()) -> torch.nn.Module:
    """``model`` (a float64 copy when changed) with fitted windows; ``meta["provenance"]`` gains
    ``core_repulsion``: per pair its shortest training distance, window and steepest slope left.
    ``core_from``: a labelled dataset whose training split gives the shortest distances. The
    pairs are pushed together in the first training frames of ``core_from`` or of the
    checkpoint's own dataset where it still exists, else in ``frames``. A student file that
    already records fitted windows keeps them (unless ``core_from`` asks to start again)."""
    if not isinstance(model, LocalStudent):
        if core_from is not None:
            raise ValueError("core repulsion applies to local students only; drop --core-from")
        return model
    if core_from is None and not model.has_core_repulsion():
        meta["provenance"] = {**(meta.get("provenance") or {}), "core_repulsion": None}
        return model
    if core_from is None and (meta.get("provenance") or {}).get("core_repulsion"):
        return model  # a re-exported file keeps the windows fitted from its training distances
    model = copy.deepcopy(model).to(torch.float64).eval()
    elements = list(model.elements)
    if core_from is not None:
        train = list(read_dataset(core_from, split="train"))
        if not train:
            raise ValueError(f"{core_from} has no training frames to take the shortest distances from; "
                             "give the dataset the student was trained on")
        graphs = [atoms_to_graph(a, model.cutoff, elements, dtype=torch.float64) for a in train]
        model.set_core_repulsion(*core_windows(elements, shortest_distances(graphs, elements)))
        frames = train[:PROBES]
    else:
        own = (meta.get("provenance") or {}).get("dataset")
        if own and Path(own).is_file():
            frames = list(itertools.islice(read_dataset(own, split="train"), PROBES))
    report = fit_windows(model, list(frames))
    meta["provenance"] = {**(meta.get("provenance") or {}), "core_repulsion": report}
    return model
