"""Reading labelled datasets written by :func:`pair_student.data.label.label`."""

from __future__ import annotations

import gzip
import io
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import ase.io
import numpy as np
from ase import Atoms
from ase.stress import full_3x3_to_voigt_6_stress

from .splits import SPLITS, frame_kind


def frame_labels(atoms: Atoms) -> Optional[Dict[str, Any]]:
    """The teacher labels a frame carries, as :meth:`Teacher.compute <pair_student.teachers.base.Teacher.compute>`
    returns them, or None when it lacks energy or forces.

    Labels are read from the calculator results (what reading an extxyz dataset attaches) or
    else from ``info["energy"]``, ``arrays["forces"]`` and ``info["stress"]`` (frames built in
    memory). ``stress`` is Voigt (6,) eV/A^3 in ASE's sign, and None unless the frame is
    periodic in all directions: the stress of a cluster is not defined.
    """
    results = getattr(atoms.calc, "results", None) or {}
    if "energy" in results and "forces" in results:
        energy, forces, stress = results["energy"], results["forces"], results.get("stress")
    elif "energy" in atoms.info and "forces" in atoms.arrays:
        energy, forces, stress = atoms.info["energy"], atoms.arrays["forces"], atoms.info.get("stress")
    else:
        return None
    if stress is not None and atoms.pbc.all():
        stress = np.asarray(stress, dtype=np.float64)
        if stress.size == 9:  # a full 3x3 tensor, stored flat or not
            stress = full_3x3_to_voigt_6_stress(stress.reshape(3, 3))
        stress = stress.reshape(6)
    else:
        stress = None
    return {"energy": float(energy), "forces": np.asarray(forces, dtype=np.float64), "stress": stress}


def has_labels(atoms: Atoms) -> bool:
    """Whether a frame carries teacher energy and forces (see :func:`frame_labels`)."""
    return frame_labels(atoms) is not None


def dataset_file(path) -> Path:
    """``path`` as a Path; a clear error when no such file exists."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset {str(path)!r} does not exist")
    return path


def uncompressed(path: Path):
    """``path``, or for a ``.gz`` file its text in memory: ASE's extxyz reader seeks back over
    every frame, and a seek in a gzip stream decompresses from the start (the 1,250-frame Si set
    took 144 s to read that way, under 1 s from memory)."""
    if path.suffix != ".gz":
        return path
    with gzip.open(path, "rt") as f:
        return io.StringIO(f.read())


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
    for atoms in ase.io.iread(uncompressed(dataset_file(path)), index=":", format="extxyz"):
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


def kind_table(path) -> Dict[str, Dict[str, int]]:
    """Frames per kind (:func:`~pair_student.data.splits.frame_kind` of the provenance) and
    split: ``{"md nvt T=300K": {"train": 40, "val": 5, "test": 6}, ...}``, kinds sorted."""
    table: Dict[str, Counter] = {}
    for atoms in read_dataset(path):
        kind = frame_kind(atoms.info.get("provenance"))
        table.setdefault(kind, Counter())[atoms.info.get("split")] += 1
    return {k: {s: table[k].get(s, 0) for s in SPLITS} for k in sorted(table)}


def shortest_distances(frames) -> Dict[str, float]:
    """Shortest interatomic distance (A) of each element pair (``"Ga-N"``, symbols sorted) over
    ``frames`` (minimum image for periodic cells): how close the data reaches."""
    best: Dict[str, float] = {}
    for atoms in frames:
        d = atoms.get_all_distances(mic=bool(atoms.pbc.all()))
        np.fill_diagonal(d, np.inf)
        sym = np.array(atoms.get_chemical_symbols())
        for a in sorted(set(sym)):
            for b in sorted(set(sym)):
                if a > b:
                    continue
                block = d[np.ix_(sym == a, sym == b)]
                if block.size and np.isfinite(block).any():
                    key = f"{a}-{b}"
                    best[key] = min(best.get(key, np.inf), float(block.min()))
    return dict(sorted(best.items()))
