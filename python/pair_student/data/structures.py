"""Built-in demo structures and a forgiving reader for user structure files.

The demo systems are small on purpose: students are trained on a 2-core CPU, so cells stay
between 32 and 96 atoms while still containing every local environment the student must see.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import ase.io
import numpy as np
from ase import Atoms
from ase.build import bulk, molecule
from ase.data import atomic_numbers

from ..registry import DEMO_NAMES

# Lattice constants (A) of the demo crystals; the benchmarks build their cells from these too,
# so that students are timed on the lattice they were trained on.
SI_A = 5.431
GAN_A, GAN_C = 3.189, 5.185


def _si() -> Atoms:
    # 2x2x2 conventional diamond cells = 64 atoms: big enough that a 5 A cutoff sees no self-image.
    return bulk("Si", "diamond", a=SI_A, cubic=True).repeat((2, 2, 2))


def _gan() -> Atoms:
    # 3x3x2 wurtzite = 72 atoms; c is doubled so the short axis is ~10.4 A, longer than the cutoffs.
    return bulk("GaN", "wurtzite", a=GAN_A, c=GAN_C).repeat((3, 3, 2))


def _ethanol() -> Atoms:
    atoms = molecule("CH3CH2OH")
    atoms.center(vacuum=6.0)
    atoms.pbc = False
    return atoms


# one per registry.DEMO_NAMES (tests/test_registry.py holds them to the registry's elements)
_BUILDERS = {"si": _si, "gan": _gan, "ethanol": _ethanol}


def demo_structure(name: str) -> Atoms:
    """Return a fresh copy of a built-in demo system.

    Args:
        name: one of ``registry.DEMO_NAMES``: ``"si"`` (diamond Si, periodic, 64 atoms), ``"gan"``
            (wurtzite GaN, periodic, 72 atoms), ``"ethanol"`` (C2H5OH in vacuum, ``pbc=False``).
    """
    key = name.lower().strip()
    if key not in _BUILDERS:
        raise ValueError(f"unknown demo system {name!r}; known: {', '.join(DEMO_NAMES)}")
    atoms = _BUILDERS[key]()
    atoms.info["system"] = key
    return atoms


def read_structures(
    path: str | Path,
    *,
    format: Optional[str] = None,
    index: str = ":",
    style: str = "atomic",
    Z_of_type: Optional[Dict[int, int]] = None,
    species: Optional[Sequence[str]] = None,
) -> List[Atoms]:
    """Read every structure from a file in any format ASE understands.

    Args:
        path: file to read (extxyz, CIF, POSCAR/CONTCAR, LAMMPS data, ASE trajectory, ...), or
            one of the demo names ``si``/``gan``/``ethanol``.
        format: ASE format name when the file name does not reveal it (e.g. ``"vasp"``,
            ``"lammps-data"``). Files ending in ``.data``/``.lmp`` or named ``data.*`` are
            read as LAMMPS data.
        index: which frames to read (ASE slice syntax); all by default.
        style: LAMMPS data atom style (``atomic``, ``charge``, ``full``, ...).
        Z_of_type: LAMMPS data only: atomic number of each LAMMPS type, e.g. ``{1: 31, 2: 7}``.
            LAMMPS data files carry no elements, so this (or ``species``) is needed unless the
            file has a Masses section from which ASE can guess them.
        species: LAMMPS data only: element symbol of each type in order, e.g. ``["Ga", "N"]``.
    """
    if str(path).lower() in _BUILDERS and not Path(path).exists():
        return [demo_structure(str(path))]
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"structure file {str(path)!r} does not exist; expected a file ASE can read "
            f"(extxyz, CIF, POSCAR, LAMMPS data, ...) or a demo name ({', '.join(DEMO_NAMES)})"
        )
    name = path.name.lower()
    is_lammps = format in ("lammps-data", "lammps") or (
        format is None and (name.endswith((".data", ".lmp", ".lammps")) or name.startswith("data."))
    )
    kwargs = {}
    if is_lammps:
        format = "lammps-data"
        if species is not None:
            Z_of_type = {i + 1: atomic_numbers[s] for i, s in enumerate(species)}
        kwargs = {"style": style, "units": "metal"}
        if Z_of_type is not None:
            kwargs["Z_of_type"] = dict(Z_of_type)
    try:
        frames = ase.io.read(path, index=index, format=format, **kwargs)
    except Exception as exc:  # ASE raises many unrelated types for a bad file; report them alike
        hint = (
            " For LAMMPS data pass style= (atomic, charge, full, ...) and the elements of the "
            "types via Z_of_type={1: 14} or species=['Si']."
            if is_lammps
            else " Pass format= if the file extension does not name the format."
        )
        raise ValueError(
            f"could not read structures from {str(path)!r} (format "
            f"{format or 'guessed from the name'}): {type(exc).__name__}: {exc}. Expected a "
            f"structure file ASE reads: extxyz, CIF, POSCAR, LAMMPS data, ASE trajectory.{hint}"
        ) from exc
    if isinstance(frames, Atoms):
        frames = [frames]
    if not frames:
        raise ValueError(f"{str(path)!r} contains no structures")
    for atoms in frames:
        if len(atoms) == 0:
            raise ValueError(f"{str(path)!r} contains a structure with no atoms")
        if np.any(atoms.pbc) and abs(atoms.cell.volume) < 1e-8:
            raise ValueError(f"{str(path)!r}: a periodic structure has a zero-volume cell")
    return list(frames)
