"""Phonon band structure of one model with phonopy (finite displacements).

Force constants come from ``PHONON_DISPLACEMENT`` displacements of the symmetry-inequivalent
atoms of the primitive cell in a supercell: the given cell repeated until every perpendicular
width is at least ``PHONON_MIN_WIDTH`` (the demo cells already are: Si 2x2x2 conventional = 64
atoms, the usual phonopy setup, one displacement; 3x3x2 wurtzite GaN, four). Interactions beyond
half that width are cut the same way for teacher and student, so the comparison is like for
like. The forces of the undisplaced supercell are subtracted, so a cell that is not exactly at
the model's minimum does not leak a residual force into the constants; translational invariance
is imposed afterwards (acoustic modes at Gamma are zero).

Frequencies are evaluated along ASE's standard band path (Setyawan-Curtarolo) of the primitive
cell phonopy finds, given to every model as the same reduced q-points.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
from ase import Atoms

from . import ValidationError

PHONON_DISPLACEMENT = 0.01  # A, phonopy's default
PHONON_MIN_WIDTH = 8.0  # A
PHONON_PATH_POINTS = 120
SYMPREC = 1e-5
PHONOPY_MISSING = "the phonon check (validate --full) needs phonopy: pip install phonopy"


def require_phonopy() -> None:
    """One clear line with the fix instead of an ImportError deep inside a long run."""
    try:
        import phonopy  # noqa: F401
    except ImportError as exc:
        raise ValidationError(f"{PHONOPY_MISSING} ({exc})") from None


def _phonopy_atoms(atoms: Atoms):
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions(wrap=True))


def _ase(cell) -> Atoms:
    return Atoms(list(cell.symbols), cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)


def supercell_matrix(atoms: Atoms, min_width: float = PHONON_MIN_WIDTH) -> np.ndarray:
    """Diagonal repetition making every perpendicular width of the cell at least ``min_width``."""
    cell = atoms.cell.array
    widths = [atoms.get_volume() / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)]
    return np.diag([max(1, int(np.ceil(min_width / w - 1e-9))) for w in widths])


def primitive_cell(atoms: Atoms) -> Atoms:
    """The primitive cell of a crystal, in the same Cartesian frame as ``atoms`` (phonopy keeps
    the orientation, so elastic constants of the two are the same matrix)."""
    require_phonopy()
    from phonopy.structure.cells import get_primitive, guess_primitive_matrix

    # spglib's dataset and an atom mapping: Phonopy(unitcell=the 64-atom cell) would also build
    # the permutation table of all its 48 x 32 operations in Python, seconds for nothing
    cell = _phonopy_atoms(atoms)
    return _ase(get_primitive(cell, guess_primitive_matrix(cell, symprec=SYMPREC), symprec=SYMPREC))


def point_group(atoms: Atoms) -> List[np.ndarray]:
    """The crystal's point-group operations as Cartesian 3x3 matrices (give it the primitive
    cell: phonopy's symmetry search is slow on supercells)."""
    require_phonopy()
    from phonopy.structure.symmetry import Symmetry

    a = atoms.cell.array.T  # columns are lattice vectors: x = a f
    inv = np.linalg.inv(a)
    return [a @ r @ inv for r in Symmetry(_phonopy_atoms(atoms), symprec=SYMPREC).pointgroup_operations]


def _phonopy(atoms: Atoms, min_width: Optional[float]):
    """Phonopy on the primitive cell of ``atoms`` with the supercell ``atoms`` itself, repeated
    to ``min_width``."""
    from phonopy import Phonopy

    prim = primitive_cell(atoms)
    # rows are lattice vectors: cell = M @ prim.cell, an integer M for a supercell of the primitive
    m = atoms.cell.array @ np.linalg.inv(prim.cell.array)
    if not np.allclose(m, np.round(m), atol=1e-6):
        raise ValueError("the cell is not a supercell of its primitive cell")
    big = supercell_matrix(atoms, PHONON_MIN_WIDTH if min_width is None else min_width) @ np.round(m).astype(int)
    # phonopy's supercell matrix acts on column vectors: (a_s b_s c_s) = (a b c) S
    return Phonopy(_phonopy_atoms(prim), supercell_matrix=big.T, primitive_matrix="P", symprec=SYMPREC)


def band_path(atoms: Atoms, npoints: int = PHONON_PATH_POINTS):
    """ASE's standard band path of the primitive cell of ``atoms``."""
    return primitive_cell(atoms).cell.bandpath(npoints=npoints)


def _forces(calc, atoms: Atoms) -> np.ndarray:
    atoms = atoms.copy()
    atoms.calc = calc
    return np.asarray(atoms.get_forces())


def phonon_bands(calc, atoms: Atoms, qpoints, *, distance: float = PHONON_DISPLACEMENT,
                 min_width: Optional[float] = None) -> dict:
    """Frequencies (THz; imaginary ones negative) of ``atoms`` at ``qpoints`` (reduced coordinates
    of its primitive cell), each row sorted ascending; the supercell is ``atoms`` repeated to
    ``min_width`` (default ``PHONON_MIN_WIDTH``)."""
    require_phonopy()
    phonon = _phonopy(atoms, min_width)
    phonon.generate_displacements(distance=distance)
    f0 = _forces(calc, _ase(phonon.supercell))
    phonon.forces = np.array([_forces(calc, _ase(sc)) - f0 for sc in phonon.supercells_with_displacements])
    phonon.produce_force_constants(show_drift=False)
    phonon.symmetrize_force_constants()
    phonon.run_qpoints(np.asarray(qpoints, float))
    freqs = np.sort(np.asarray(phonon.qpoints.frequencies), axis=1)
    return {"frequencies_THz": freqs.tolist(), "natoms_supercell": len(phonon.supercell),
            "displacements": len(phonon.forces), "supercell_matrix": phonon.supercell_matrix.tolist(),
            "natoms_primitive": len(phonon.primitive), "residual_force_max": float(np.abs(f0).max())}


def band_rmse(teacher: dict, student: dict) -> Optional[float]:
    """RMSE of the student's frequencies against the teacher's, branch by branch (both sorted)."""
    t, s = np.asarray(teacher["frequencies_THz"]), np.asarray(student["frequencies_THz"])
    if t.shape != s.shape or not np.all(np.isfinite(s)):
        return None
    return float(np.sqrt(np.mean((s - t) ** 2)))


__all__ = ["PHONON_DISPLACEMENT", "PHONON_MIN_WIDTH", "require_phonopy", "supercell_matrix", "primitive_cell",
           "point_group", "band_path", "phonon_bands", "band_rmse"]
