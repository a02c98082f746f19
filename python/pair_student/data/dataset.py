"""Reading labelled datasets written by :func:`pair_student.data.label.label`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, Optional

import ase.io
from ase import Atoms

from .label import SPLITS


def read_dataset(path, *, split: Optional[str] = None) -> Iterator[Atoms]:
    """Stream the frames of a dataset (``ase.io.iread``), optionally only one split.

    Args:
        path: the extxyz dataset.
        split: ``"train"``, ``"val"``, ``"test"`` or None for all frames.

    Each frame has ``get_potential_energy()``, ``get_forces()``, ``get_stress()`` (periodic
    frames) and ``info`` keys ``split``, ``teacher``, ``teacher_version``, ``provenance``,
    ``frame_id``.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, not {split!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset {str(path)!r} does not exist")
    for atoms in ase.io.iread(path, index=":", format="extxyz"):
        if split is None or atoms.info.get("split") == split:
            yield atoms


def dataset_stats(path) -> Dict[str, object]:
    """Frame counts per split, atoms, species and teacher of a dataset (one streaming pass)."""
    splits: Counter = Counter()
    n_atoms = 0
    species = set()
    teachers = set()
    for atoms in read_dataset(path):
        splits[atoms.info.get("split")] += 1
        n_atoms += len(atoms)
        species.update(atoms.get_chemical_symbols())
        teachers.add((atoms.info.get("teacher"), atoms.info.get("teacher_version")))
    return {"frames": sum(splits.values()), "atoms": n_atoms, "splits": dict(splits),
            "species": sorted(species), "teachers": sorted(map(str, teachers))}
